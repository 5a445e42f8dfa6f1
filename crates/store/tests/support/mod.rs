//! Opening a fresh store of each backend for one test, and prompt versions to put in it.
#![allow(dead_code)]

use promptops_core::canonical::{canonical_json, content_hash};
use promptops_core::validate::{Rules, check_source};
use promptops_store::{Actor, NewVersion, SqlStore};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn pg_url() -> String {
    std::env::var("PROMPTOPS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A SQLite store in a new temporary folder (kept alive by the returned guard).
pub async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::sqlite(&dir.path().join(".promptops/registry.db"))
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
    match SqlStore::postgres_in(&pg_url(), Some(&schema), 4).await {
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

/// A store in a schema of its own, dropped when the guard is — also when the test
/// panics, so a failed run leaves nothing behind in the shared database.
pub struct PgGuard {
    pub store: SqlStore,
    pub schema: String,
}

impl PgGuard {
    /// Drops the schema now (the guard would at the end anyway).
    pub async fn drop_schema(self) {
        self.store.close().await;
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // Drop may run inside the test's runtime: clean up on a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(SqlStore::drop_schema(&pg_url(), &schema)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(Ok(())))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.schema);
        }
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

/// Runs `$scenario(store)` on a fresh SQLite store and a fresh PostgreSQL store.
#[allow(unused_macros)] // tamper.rs does not use it
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let (store, _dir) = crate::support::sqlite().await;
                    super::$scenario(Arc::new(store)).await;
                }
            )*
            use std::sync::Arc;
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(guard) = crate::support::postgres(stringify!($scenario)).await else { return };
                    super::$scenario(Arc::new(guard.store.clone())).await;
                    guard.drop_schema().await;
                }
            )*
            use std::sync::Arc;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;
