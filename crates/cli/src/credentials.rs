//! Saved sessions, one per registry URL, in `credentials.json` in the user's config
//! folder (`$PROMPTOPS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/promptops`, else
//! `~/.config/promptops`; `%APPDATA%\promptops` on Windows), readable by the user only.

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Serialize, Deserialize)]
pub struct Saved {
    pub user: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds since 1970 when the access token stops working.
    pub access_expires_at: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    registries: BTreeMap<String, Saved>,
}

pub fn dir() -> Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("PROMPTOPS_CONFIG_DIR") {
        return Ok(d);
    }
    if let Some(d) = var("XDG_CONFIG_HOME") {
        return Ok(d.join("promptops"));
    }
    if cfg!(windows)
        && let Some(d) = var("APPDATA")
    {
        return Ok(d.join("promptops"));
    }
    var("HOME")
        .map(|h| h.join(".config").join("promptops"))
        .ok_or_else(|| anyhow!("no config folder: set PROMPTOPS_CONFIG_DIR or HOME"))
}

fn path() -> Result<PathBuf> {
    Ok(dir()?.join("credentials.json"))
}

fn read() -> Result<File> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: unreadable saved sessions; delete it and log in again",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

fn write(file: &File) -> Result<PathBuf> {
    let path = path()?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = serde_json::to_string_pretty(file)?;
    // Written to a private temporary file, then renamed: never readable by others, never half-written.
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

pub fn load(registry: &str) -> Result<Option<Saved>> {
    Ok(read()?.registries.get(registry).cloned())
}

/// Saves the session for `registry`; returns the file's path.
pub fn save(registry: &str, saved: Saved) -> Result<PathBuf> {
    let mut file = read()?;
    file.registries.insert(registry.to_owned(), saved);
    write(&file)
}

/// Forgets the session for `registry`; whether there was one.
pub fn forget(registry: &str) -> Result<bool> {
    let mut file = read()?;
    let had = file.registries.remove(registry).is_some();
    if had {
        write(&file)?;
    }
    Ok(had)
}
