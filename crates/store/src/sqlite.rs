//! The embedded backend: one SQLite file (`./.promptops/registry.db` by default),
//! in WAL mode so readers never wait for the writer.

use crate::error::{Result, StoreError};
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
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Migration {
                detail: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // busy_timeout: a writer waits for the lock instead of failing.
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
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
        Ok(store)
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
