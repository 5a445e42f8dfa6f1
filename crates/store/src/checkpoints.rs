//! Signed audit checkpoints: stored as the server signed them, read back in order.

use crate::engine::{SqlStore, get, to_u64};
use crate::error::Result;
use crate::interface::Checkpoints;
use promptops_api::Checkpoint;

impl Checkpoints for SqlStore {
    async fn audit_hashes(&self, after: u64, limit: u64) -> Result<Vec<(u64, String)>> {
        let rows =
            sqlx::query("SELECT seq, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(i64::try_from(after).unwrap_or(i64::MAX))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((to_u64(get(r, "seq")?, "audit seq")?, get(r, "hash")?)))
            .collect()
    }

    async fn add_checkpoint(&self, c: &Checkpoint) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "INSERT INTO audit_checkpoints (size, head, root, signed_at, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (size) DO NOTHING",
        )
        .bind(i64::try_from(c.size).unwrap_or(i64::MAX))
        .bind(&c.head)
        .bind(&c.root)
        .bind(&c.signed_at)
        .bind(&c.public_key)
        .bind(&c.signature)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows = sqlx::query(
            "SELECT size, head, root, signed_at, public_key, signature FROM audit_checkpoints ORDER BY size",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    size: to_u64(get(r, "size")?, "checkpoint size")?,
                    head: get(r, "head")?,
                    root: get(r, "root")?,
                    signed_at: get(r, "signed_at")?,
                    public_key: get(r, "public_key")?,
                    signature: get(r, "signature")?,
                })
            })
            .collect()
    }
}
