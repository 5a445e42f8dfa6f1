//! The one store: SQL that SQLite and PostgreSQL read alike, through sqlx's `Any` driver
//! (`$n` placeholders, `ON CONFLICT ... DO UPDATE`, only TEXT/BIGINT/DOUBLE PRECISION
//! columns). What differs by backend — connecting, the write lock, the append-only
//! triggers — is a [`Backend`] value, not a type.
//!
//! Every write runs in one [`WriteTx`]: it takes the backend's write lock first, so
//! checks and the audit append see a state no other writer can change under them; and
//! when it commits, the audit sequence number it appended is announced to the change
//! feed. That is the only way a change is announced, so none can be forgotten.

use crate::audit::{self, GENESIS};
use crate::error::{Result, StoreError};
use crate::model::Actor;
use promptops_core::canonical::value_json;
use promptops_core::clock::now_rfc3339;
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Row, Transaction};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// Which database a [`SqlStore`] speaks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// One file (the embedded default).
    Sqlite { path: PathBuf },
    /// A server shared by replicas; `schema` when the registry lives in one of its own.
    Postgres { schema: Option<String> },
}

/// The registry's storage on SQLite or PostgreSQL: see the traits in
/// [`crate::interface`] for what it does, grouped by concern.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The newest audit sequence number committed through this store: the change
    /// feed's wake-up call (the changes themselves are read back by sequence number).
    pub(crate) committed: Arc<watch::Sender<u64>>,
}

/// A write transaction holding the backend's write lock. It dereferences to the
/// connection, so statements run on it like on any connection; [`WriteTx::commit`]
/// announces what it appended to the audit log.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    appended: Option<u64>,
    committed: Arc<watch::Sender<u64>>,
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl WriteTx {
    /// Commits, then tells the change feed's subscribers how far the log now goes.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        if let Some(seq) = self.appended {
            self.committed.send_if_modified(|newest| {
                let newer = seq > *newest;
                if newer {
                    *newest = seq;
                }
                newer
            });
        }
        Ok(())
    }

    /// The audit sequence number this transaction appended, if any.
    pub(crate) fn appended(&self) -> Option<u64> {
        self.appended
    }

    /// Ends the transaction without changing anything.
    pub(crate) async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl SqlStore {
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> SqlStore {
        SqlStore {
            pool,
            backend,
            committed: Arc::new(watch::channel(0).0),
        }
    }

    /// Starts the change feed of a store just opened at the log's head: what was
    /// committed before this process opened it is history, not news (the process's
    /// caches start empty, so there is nothing for it to invalidate or announce).
    pub(crate) async fn start_feed_at_head(&self) -> Result<()> {
        use crate::interface::AuditLog;
        if let Some(head) = self.audit_head().await? {
            self.committed.send_replace(head.seq);
        }
        Ok(())
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// A transaction holding the backend's write lock.
    pub(crate) async fn write_tx(&self) -> Result<WriteTx> {
        let tx = match self.backend {
            // IMMEDIATE takes SQLite's one write lock at BEGIN, so a transaction never
            // has to upgrade from reading (where two would deadlock into SQLITE_BUSY).
            Backend::Sqlite { .. } => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres { .. } => {
                let mut tx = self.pool.begin().await?;
                // One lock per schema: writers of one registry queue here; readers and
                // other registries (test schemas) do not.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        Ok(WriteTx {
            tx,
            appended: None,
            committed: self.committed.clone(),
        })
    }
}

// ----- reading rows --------------------------------------------------------------------

pub(crate) fn get<'r, T: sqlx::Decode<'r, Any> + sqlx::Type<Any>>(
    row: &'r AnyRow,
    col: &str,
) -> Result<T> {
    row.try_get(col).map_err(StoreError::from)
}

pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::corrupt(format!("{what} is negative ({v})")))
}

pub(crate) fn parse_json(text: &str, what: &str) -> Result<Json> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

/// A JSON column read into `T`.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

// ----- names -----------------------------------------------------------------------------

/// The longest project, environment, user, team or key name.
pub const MAX_NAME_CHARS: usize = 64;

/// Project and environment names: what fits in a URL path segment unescaped.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    check_chars(
        what,
        name,
        |c| matches!(c, '-' | '_' | '.'),
        "`-`, `_` or `.`",
    )
}

/// User, team and key names: project names' characters and `@` (emails work).
pub(crate) fn check_user_name(what: &str, name: &str) -> Result<()> {
    check_chars(
        what,
        name,
        |c| matches!(c, '-' | '_' | '.' | '@'),
        "`-`, `_`, `.` or `@`",
    )
}

fn check_chars(what: &str, name: &str, extra: fn(char) -> bool, listed: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || extra(c))
        // `.` and `..` would be path segments, not names.
        && name.chars().any(|c| c != '.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "invalid {what} name `{}`: use 1 to {MAX_NAME_CHARS} letters, digits, {listed}, not dots alone",
            shown(name)
        )))
    }
}

/// A name as quoted in an error (core's one helper).
pub(crate) use promptops_core::diagnostic::shown;

// ----- ids and the audit chain -----------------------------------------------------------

/// The tables whose row ids the store hands out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdTable {
    LabelMoves,
    EvalRuns,
    PromotionRequests,
    Approvals,
    RedteamRuns,
    CompatibilityResults,
}

/// The next row id of `table`: `MAX + 1`, taken under the write lock the caller's
/// transaction holds, so ids are gapless and two writers never take the same one.
pub(crate) async fn next_id(tx: &mut WriteTx, table: IdTable) -> Result<i64> {
    let sql = match table {
        IdTable::LabelMoves => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM label_moves",
        IdTable::EvalRuns => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM eval_runs",
        IdTable::PromotionRequests => {
            "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM promotion_requests"
        }
        IdTable::Approvals => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM approvals",
        IdTable::RedteamRuns => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM redteam_runs",
        IdTable::CompatibilityResults => {
            "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM compatibility_results"
        }
    };
    get(&sqlx::query(sql).fetch_one(&mut **tx).await?, "next")
}

/// Appends an event to the chain, inside the caller's write transaction; its sequence
/// number reaches the change feed when the transaction commits.
pub(crate) async fn append_audit(
    tx: &mut WriteTx,
    actor: &Actor,
    action: &str,
    target: &str,
    details: Json,
) -> Result<()> {
    let last = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (prev_seq, prev_hash) = match &last {
        Some(row) => (
            to_u64(get(row, "seq")?, "audit seq")?,
            get::<String>(row, "hash")?,
        ),
        None => (0, GENESIS.to_owned()),
    };
    let seq = prev_seq + 1;
    let at = now_rfc3339();
    // The row's actor is the person; the key they acted through is part of what happened.
    let mut details = details;
    if let (Some(key), Json::Object(map)) = (&actor.via_key, &mut details) {
        map.insert("via_key".into(), Json::String(key.clone()));
    }
    let hash = audit::event_hash(
        &prev_hash,
        seq,
        &at,
        actor.as_str(),
        action,
        target,
        &details,
    );
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, target, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(i64::try_from(seq).unwrap_or(i64::MAX))
    .bind(&at)
    .bind(actor.as_str())
    .bind(action)
    .bind(target)
    .bind(value_json(&details))
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    tx.appended = Some(seq);
    Ok(())
}
