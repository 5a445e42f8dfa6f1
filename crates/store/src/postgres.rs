//! The PostgreSQL backend, for registries shared by many server replicas.

use crate::error::{Result, StoreError};
use crate::sql::{Dialect, SqlRegistry};
use sqlx::any::AnyPoolOptions;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) registry: SqlRegistry,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect_in_schema(url, None).await
    }

    /// Connects with every table in `schema` (created if missing): one database can
    /// then hold several registries, as the tests do, one per run.
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<PostgresStore> {
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
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
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
        let store = PostgresStore {
            registry: SqlRegistry {
                pool,
                dialect: Dialect::Postgres,
            },
        };
        crate::migrate::run(&store.registry, &crate::migrate::POSTGRES).await?;
        Ok(store)
    }

    pub async fn close(&self) {
        self.registry.pool.close().await;
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

crate::store_via_sql!(PostgresStore, "postgres");

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
