//! The embedded backend: one SQLite file (`./.promptops/registry.db` by default),
//! in WAL mode so readers never wait for the writer.

use crate::error::{Result, StoreError};
use crate::private_files;
use crate::sql::{Dialect, SqlRegistry};
use sqlx::any::AnyPoolOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) registry: SqlRegistry,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) and migrates the database at `path`.
    /// The folder is made owner-only when created here; the database and its WAL are
    /// always owner-only (tightened if an older promptops left them readable).
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let cannot = |what: &Path, e: std::io::Error| StoreError::Migration {
            detail: format!("cannot create {}: {e}", what.display()),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_files::create_private_dir(dir).map_err(|e| cannot(dir, e))?;
        }
        private_files::touch_private(path).map_err(|e| cannot(path, e))?;
        for file in Self::files_of(path) {
            private_files::restrict(&file).map_err(|e| cannot(&file, e))?;
        }
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // busy_timeout: a writer waits for the lock instead of failing;
                    // secure_delete: what is deleted (a secret moved out) is zeroed.
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000; \
                         PRAGMA secure_delete = ON;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| StoreError::Migration {
                detail: format!("cannot open {}: {e}", path.display()),
            })?;
        let store = SqliteStore {
            registry: SqlRegistry {
                pool,
                dialect: Dialect::Sqlite,
            },
            path: path.to_path_buf(),
        };
        crate::migrate::run(&store.registry, &crate::migrate::SQLITE).await?;
        // The WAL and shared-memory files exist now; SQLite gave them the database's mode.
        for file in Self::files_of(path) {
            private_files::restrict(&file).map_err(|e| cannot(&file, e))?;
        }
        Ok(store)
    }

    /// The database file and the files SQLite keeps beside it.
    fn files_of(path: &Path) -> [PathBuf; 3] {
        let beside = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        [path.to_path_buf(), beside("-wal"), beside("-shm")]
    }

    /// Opens `sqlite://PATH` or `sqlite:PATH`.
    pub async fn open_url(url: &str) -> Result<SqliteStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::invalid(format!("`{url}` is not a sqlite: URL")))?;
        let path = path.split('?').next().unwrap_or(path);
        SqliteStore::open(Path::new(path)).await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn close(&self) {
        self.registry.pool.close().await;
    }
}

crate::store_via_sql!(SqliteStore, "sqlite");
