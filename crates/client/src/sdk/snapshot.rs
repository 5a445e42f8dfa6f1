//! The disk snapshot: the last good answer for each prompt read, one file each
//! (`<dir>/<environment>/<id>.json`, names escaped), written whole to a temporary file
//! and renamed into place, so a crash never leaves half a file.

use promptops_api::Resolved;
use std::path::PathBuf;

pub(super) struct Snapshot {
    dir: PathBuf,
}

impl Snapshot {
    pub(super) fn new(dir: PathBuf) -> Snapshot {
        Snapshot { dir }
    }

    fn path(&self, env: &str, id: &str) -> PathBuf {
        self.dir
            .join(crate::seg(env))
            .join(format!("{}.json", crate::seg(id)))
    }

    /// Keeps `resolved`; a failure to write costs the snapshot, never the caller.
    pub(super) fn save(&self, resolved: &Resolved) {
        let path = self.path(&resolved.environment, &resolved.id);
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(&self.dir);
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(
                ".{}.{}.tmp",
                crate::seg(&resolved.id),
                std::process::id()
            ));
            std::fs::write(&tmp, serde_json::to_vec(resolved)?)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::warn!(
                "promptops: cannot write the snapshot {}: {e}",
                path.display()
            );
        }
    }

    /// The last good answer kept for `id`, if any (a damaged file is no answer).
    pub(super) fn load(&self, env: &str, id: &str) -> Option<Resolved> {
        let bytes = std::fs::read(self.path(env, id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
