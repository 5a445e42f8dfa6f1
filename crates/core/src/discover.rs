//! Finding prompt files: every `.yaml`/`.yml` under the given folders, sorted, hidden
//! folders skipped; files named explicitly are always taken.

use crate::glob::Glob;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{path}: no such file or folder")]
    NotFound { path: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The prompt files under `paths`, in a stable order, minus those matching `exclude`.
pub fn prompt_files(paths: &[PathBuf], exclude: &[Glob]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DiscoverError::NotFound {
                path: path.display().to_string(),
            },
            _ => DiscoverError::Io {
                path: path.display().to_string(),
                source: e,
            },
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            out.extend(found.into_iter().filter(|p| !excluded(p, exclude)));
        } else {
            out.push(path.clone());
        }
    }
    // The same file named twice (`prompts` and `prompts/a.yaml`, or `./prompts`) is
    // checked once, or it would clash with itself as a duplicate id.
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

fn excluded(path: &Path, exclude: &[Glob]) -> bool {
    let text = path.to_string_lossy().replace('\\', "/");
    exclude.iter().any(|g| g.matches(&text))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let io = |source| DiscoverError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_dir() {
            if !name.starts_with('.') {
                walk(&path, out)?;
            }
        } else if is_yaml_name(&name) {
            out.push(path);
        }
    }
    Ok(())
}

pub fn is_yaml_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}
