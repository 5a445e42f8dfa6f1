//! Opening a fresh store of each backend for one test, and prompt versions to put in it.
#![allow(dead_code)]

use promptops_core::canonical::{canonical_json, content_hash};
use promptops_core::validate::{Rules, check_source};
use promptops_store::{Actor, NewVersion, PostgresStore, SqliteStore};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn pg_url() -> String {
    std::env::var("PROMPTOPS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A SQLite store in a new temporary folder (kept alive by the returned guard).
pub async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".promptops/registry.db"))
        .await
        .unwrap();
    (store, dir)
}

/// A PostgreSQL store in a schema of its own; `None` (after one clear line) when no
/// server is reachable and `PROMPTOPS_REQUIRE_SERVICES` is unset.
pub async fn postgres(test: &str) -> Option<PgGuard> {
    static N: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>()
    );
    match PostgresStore::connect_in_schema(&pg_url(), Some(&schema)).await {
        Ok(store) => Some(PgGuard { store, schema }),
        Err(e) if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none() => {
            eprintln!(
                "skipped {test}: PostgreSQL not reachable at {} ({e}); set PROMPTOPS_TEST_PG_URL",
                pg_url()
            );
            None
        }
        Err(e) => panic!("PostgreSQL required (PROMPTOPS_REQUIRE_SERVICES is set): {e}"),
    }
}

pub struct PgGuard {
    pub store: PostgresStore,
    pub schema: String,
}

impl PgGuard {
    /// Drops the test's schema (call at the end of the test).
    pub async fn drop_schema(self) {
        self.store.close().await;
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&pg_url())
            .await
            .unwrap();
        let sql = format!("DROP SCHEMA \"{}\" CASCADE", self.schema);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

pub fn actor(name: &str) -> Actor {
    Actor::new(name)
}

/// The prompt file text of `id` at `version` with `template`.
pub fn prompt_source(id: &str, version: &str, template: &str) -> String {
    format!(
        "id: {id}\nversion: {version}\nowner: team-a\ndescription: A test prompt.\nmodel: openai:gpt-4o-mini\n\
         template: \"{template}\"\nvariables:\n  name: string\n"
    )
}

/// A version as the server would publish it: validated, canonicalised, hashed.
pub fn version(id: &str, version: &str, template: &str) -> NewVersion {
    let source = prompt_source(id, version, template);
    let report = check_source("prompt.yaml", None, source.as_bytes(), &Rules::default());
    let prompt = report
        .valid_prompt()
        .unwrap_or_else(|| panic!("test prompt invalid: {:?}", report.diagnostics));
    NewVersion {
        prompt_id: prompt.id.clone(),
        version: prompt.version.clone(),
        content_hash: content_hash(prompt).to_string(),
        content: canonical_json(prompt),
        source,
        parent: prompt.parent.clone(),
        changelog: None,
    }
}
