//! Opening a [`SqlStore`]: one SQLite file (in WAL mode, so readers never wait for the
//! writer; owner-only files), or a PostgreSQL server (optionally in a schema of its
//! own). Both run the same embedded migrations; pool sizes come from [`PoolSizes`].

use crate::engine::{Backend, SqlStore};
use crate::error::{Result, StoreError};
use crate::private_files;
use sqlx::any::AnyPoolOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a request waits for a PostgreSQL connection before it is answered 503: a
/// database that is down fails writes in seconds (delivery reads are served from the
/// caches meanwhile) instead of holding every caller for half a minute.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections each backend keeps (`[server] sqlite_pool_size` and
/// `postgres_pool_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizes {
    pub sqlite: u32,
    pub postgres: u32,
}

impl Default for PoolSizes {
    fn default() -> Self {
        PoolSizes {
            sqlite: 8,
            postgres: 16,
        }
    }
}

impl SqlStore {
    /// Opens (creating it and its folder if needed) and migrates the database at `path`.
    /// The folder is made owner-only when created here; the database and its WAL are
    /// always owner-only (tightened if an older promptops left them readable).
    pub async fn sqlite(path: &Path) -> Result<SqlStore> {
        SqlStore::sqlite_with(path, PoolSizes::default().sqlite).await
    }

    /// [`SqlStore::sqlite`] with `pool_size` connections.
    pub async fn sqlite_with(path: &Path, pool_size: u32) -> Result<SqlStore> {
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
            .max_connections(pool_size.max(1))
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
        let store = SqlStore::new(
            pool,
            Backend::Sqlite {
                path: path.to_path_buf(),
            },
        );
        crate::migrate::run(&store, &crate::migrate::SQLITE).await?;
        store.start_feed_at_head().await?;
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
    pub async fn sqlite_url(url: &str, pool_size: u32) -> Result<SqlStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::invalid(format!("`{url}` is not a sqlite: URL")))?;
        let path = path.split('?').next().unwrap_or(path);
        SqlStore::sqlite_with(Path::new(path), pool_size).await
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite { path } => Some(path),
            Backend::Postgres { .. } => None,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Connects to `url` (`postgres://user@host:port/db`) and migrates.
    pub async fn postgres(url: &str) -> Result<SqlStore> {
        SqlStore::postgres_in(url, None, PoolSizes::default().postgres).await
    }

    /// Connects with every table in `schema` (created if missing): one database can
    /// then hold several registries, as the tests do, one per run.
    pub async fn postgres_in(url: &str, schema: Option<&str>, pool_size: u32) -> Result<SqlStore> {
        if let Some(s) = schema
            && !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::invalid(format!(
                "schema name `{s}`: use letters, digits and `_`"
            )));
        }
        sqlx::any::install_default_drivers();
        let schema_owned = schema.map(str::to_owned);
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                let schema = schema_owned.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        let sql = format!(
                            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET search_path TO \"{schema}\""
                        );
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| StoreError::Migration {
                detail: format!("cannot connect to PostgreSQL at {}: {e}", redact(url)),
            })?;
        let store = SqlStore::new(
            pool,
            Backend::Postgres {
                schema: schema.map(str::to_owned),
            },
        );
        crate::migrate::run(&store, &crate::migrate::POSTGRES).await?;
        store.start_feed_at_head().await?;
        Ok(store)
    }

    /// Drops `schema` and everything in it: how tests that gave each run a schema of
    /// its own clean up (see [`PostgresStore::connect_in_schema`]).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::invalid(format!(
                "schema name `{schema}`: use letters, digits and `_`"
            )));
        }
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/reg"),
            "postgres://app@db:5432/reg"
        );
        assert_eq!(super::redact("postgres://db/reg"), "postgres://db/reg");
    }
}
