//! Reading a prompt given as a file or as `REV:path` in a git revision.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// A prompt's bytes and the name to show for it.
pub struct Source {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads `spec`: an existing file, else `REV:path` through `git show`.
pub fn read(spec: &str) -> Result<Source> {
    let path = Path::new(spec);
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("{spec}: cannot read"))?;
        return Ok(Source {
            name: spec.to_owned(),
            bytes,
        });
    }
    let Some((rev, file)) = spec
        .split_once(':')
        .filter(|(rev, file)| !rev.is_empty() && !file.is_empty())
    else {
        bail!(
            "{spec}: no such file (to read a file from git, write REV:path, e.g. HEAD~1:prompts/a/b.yaml)"
        );
    };
    // `./` makes git resolve the path from the current folder, not the repository root.
    let object = if file.starts_with("./") || file.starts_with('/') {
        format!("{rev}:{file}")
    } else {
        format!("{rev}:./{file}")
    };
    let out = Command::new("git")
        .args(["show", &object])
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("{spec}: git could not read it: {}", stderr.trim());
    }
    Ok(Source {
        name: spec.to_owned(),
        bytes: out.stdout,
    })
}
