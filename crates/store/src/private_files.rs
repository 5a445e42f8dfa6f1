//! Files only their owner may read: the SQLite database (with its WAL and shared-memory
//! files) and the token signing secret. Anyone who can read either can read every
//! prompt or mint an admin token, so neither is left to the process's umask.

use std::io::Write;
use std::path::Path;

/// Creates `dir` and its missing parents as owner-only (0700). Folders that exist
/// already are left as they are: they may be the user's own.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes `path` owner-only (0600) if it exists and others may read or write it;
/// `true` when it had to.
pub fn restrict(path: &Path) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}

/// Creates `path` (which must not exist) as owner-only with `contents`.
pub fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates `path` empty and owner-only if it does not exist (so SQLite, which gives
/// its WAL the database file's mode, never creates either world-readable).
pub fn touch_private(path: &Path) -> std::io::Result<()> {
    match write_new_private(path, b"") {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_and_folders_are_owner_only_and_loose_ones_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("secret");
        write_new_private(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(write_new_private(&file, b"y").is_err(), "never overwritten");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(restrict(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert!(!restrict(&file).unwrap());
        assert!(!restrict(&dir.join("missing")).unwrap());
    }
}
