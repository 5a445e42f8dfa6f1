//! Where the project is: its `promptops.toml` (if any), its configuration, and the
//! default prompts folder, as seen from the current directory.

use anyhow::{Context, Result, bail};
use promptops_core::config::{self, Config};
use promptops_core::glob::Glob;
use std::path::{Path, PathBuf};

pub struct Project {
    pub config: Config,
    /// The promptops.toml the configuration came from.
    pub config_path: Option<PathBuf>,
    /// The folder holding promptops.toml (or the current folder), relative to the
    /// current folder when it is above it.
    pub dir: PathBuf,
}

impl Project {
    /// Loads the configuration: `explicit` if given, else the nearest promptops.toml above
    /// the current folder, else above `hint` (the first path on the command line).
    pub fn load(explicit: Option<&Path>, hint: Option<&Path>) -> Result<Project> {
        let found = match explicit {
            Some(path) => {
                if !path.is_file() {
                    bail!("{}: no such configuration file", path.display());
                }
                Some(path.to_path_buf())
            }
            None => find_upwards(Path::new(".")).or_else(|| {
                hint.and_then(|h| {
                    find_upwards(if h.is_dir() {
                        h
                    } else {
                        h.parent().unwrap_or(h)
                    })
                })
            }),
        };
        let mut config = match &found {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                Config::parse(&text, &path.display().to_string())?
            }
            None => Config::default(),
        };
        config
            .apply_env(|k| std::env::var(k).ok())
            .map_err(anyhow::Error::msg)?;
        let dir = found
            .as_ref()
            .and_then(|p| p.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Project {
            config,
            config_path: found,
            dir,
        })
    }

    /// The project's prompts folder.
    pub fn prompts_dir(&self) -> PathBuf {
        let dir = self.dir.join(&self.config.project.prompts_dir);
        dir.strip_prefix("./").map(Path::to_path_buf).unwrap_or(dir)
    }

    /// The folder ids are computed from: `--root` if given; else the configured prompts
    /// folder when it is not named `prompts` (files find a `prompts/` folder themselves).
    pub fn id_root(&self, given: Option<&Path>) -> Option<PathBuf> {
        if let Some(root) = given {
            return Some(root.to_path_buf());
        }
        let dir = self.prompts_dir();
        let named_prompts = dir
            .file_name()
            .is_some_and(|n| n == promptops_core::prompt::id::PROMPTS_DIR);
        (!named_prompts && dir.is_dir()).then_some(dir)
    }

    /// The paths to work on: those given, else the prompts folder (which must exist).
    pub fn paths_or_default(&self, given: &[PathBuf]) -> Result<Vec<PathBuf>> {
        if !given.is_empty() {
            return Ok(given.to_vec());
        }
        let dir = self.prompts_dir();
        if !dir.is_dir() {
            bail!(
                "no prompts folder at {}: pass files or folders, or run `promptops init` to start a project",
                dir.display()
            );
        }
        Ok(vec![dir])
    }

    pub fn exclude_globs(&self) -> Result<Vec<Glob>> {
        self.config
            .validate
            .exclude
            .iter()
            .map(|p| Glob::new(p).map_err(anyhow::Error::msg))
            .collect()
    }
}

/// The nearest promptops.toml in `start` or a folder above it, as a path relative to
/// `start` when `start` is relative.
fn find_upwards(start: &Path) -> Option<PathBuf> {
    let absolute = std::fs::canonicalize(start).ok()?;
    let mut prefix = start.to_path_buf();
    for dir in absolute.ancestors() {
        let candidate = dir.join(config::FILE_NAME);
        if candidate.is_file() {
            let relative = prefix.join(config::FILE_NAME);
            let clean: PathBuf = relative
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            return Some(if clean.as_os_str().is_empty() {
                relative
            } else {
                clean
            });
        }
        prefix = prefix.join("..");
    }
    None
}
