//! The audit log as the API reads it, and the change feed read from it.

use crate::audit;
use crate::changes::Change;
use crate::engine::{SqlStore, get, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::AuditLog;
use crate::rows::stored_event;
use promptops_api::*;
use tokio::sync::watch;

impl AuditLog for SqlStore {
    fn pool_connections(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    fn backend(&self) -> &'static str {
        self.backend_name()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn audit_events(&self, after: u64, limit: u64) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let stored = stored_event(r)?;
                stored.to_event().ok_or_else(|| {
                    StoreError::corrupt(format!("audit event {} is unreadable", stored.seq))
                })
            })
            .collect()
    }

    async fn audit_verify(&self, kept_head: Option<&AuditHead>) -> Result<Verification> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        let events = rows.iter().map(stored_event).collect::<Result<Vec<_>>>()?;
        Ok(audit::verify(&events, kept_head))
    }

    async fn audit_head(&self) -> Result<Option<AuditHead>> {
        let row = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(AuditHead {
                seq: to_u64(get(&r, "seq")?, "audit seq")?,
                hash: get(&r, "hash")?,
            })
        })
        .transpose()
    }

    async fn changes_after(&self, after: u64, limit: u64) -> Result<Vec<Change>> {
        Ok(self
            .audit_events(after, limit)
            .await?
            .iter()
            .map(Change::from_event)
            .collect())
    }

    fn committed(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }
}
