//! Embedded, append-only migrations. A migration once released is never edited: its
//! checksum is recorded when applied, and a database whose record differs (or that has
//! migrations this build does not know) is refused rather than guessed at.

use crate::error::{Result, StoreError};
use sqlx::{AssertSqlSafe, Row};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const SHARED: Migration = Migration {
    version: 1,
    name: "registry",
    sql: include_str!("../migrations/0001_registry.sql"),
};

const GOVERNANCE: Migration = Migration {
    version: 3,
    name: "governance",
    sql: include_str!("../migrations/0003_governance.sql"),
};

const HARDENING: Migration = Migration {
    version: 5,
    name: "hardening",
    sql: include_str!("../migrations/0005_hardening.sql"),
};

/// Numbered 7 (6 was set aside for execution events, which ended up in a store of
/// their own): the runner applies whatever a database lacks, in this order, so the
/// numbers need not be contiguous.
const WEBHOOKS: Migration = Migration {
    version: 7,
    name: "webhooks",
    sql: include_str!("../migrations/0007_webhooks.sql"),
};

const ALERTS: Migration = Migration {
    version: 8,
    name: "alerts",
    sql: include_str!("../migrations/0008_alerts.sql"),
};

const BROWSE: Migration = Migration {
    version: 9,
    name: "browse",
    sql: include_str!("../migrations/0009_browse.sql"),
};

const ASSESSMENTS: Migration = Migration {
    version: 10,
    name: "assessments",
    sql: include_str!("../migrations/0010_assessments.sql"),
};

const CHECKPOINTS: Migration = Migration {
    version: 12,
    name: "checkpoints",
    sql: include_str!("../migrations/0012_checkpoints.sql"),
};

pub(crate) const SQLITE: [Migration; 12] = [
    SHARED,
    Migration {
        version: 2,
        name: "append_only",
        sql: include_str!("../migrations/0002_append_only.sqlite.sql"),
    },
    GOVERNANCE,
    Migration {
        version: 4,
        name: "governance_append_only",
        sql: include_str!("../migrations/0004_governance_append_only.sqlite.sql"),
    },
    HARDENING,
    WEBHOOKS,
    ALERTS,
    BROWSE,
    ASSESSMENTS,
    Migration {
        version: 11,
        name: "assessments_append_only",
        sql: include_str!("../migrations/0011_assessments_append_only.sqlite.sql"),
    },
    CHECKPOINTS,
    Migration {
        version: 13,
        name: "checkpoints_append_only",
        sql: include_str!("../migrations/0013_checkpoints_append_only.sqlite.sql"),
    },
];

pub(crate) const POSTGRES: [Migration; 12] = [
    SHARED,
    Migration {
        version: 2,
        name: "append_only",
        sql: include_str!("../migrations/0002_append_only.postgres.sql"),
    },
    GOVERNANCE,
    Migration {
        version: 4,
        name: "governance_append_only",
        sql: include_str!("../migrations/0004_governance_append_only.postgres.sql"),
    },
    HARDENING,
    WEBHOOKS,
    ALERTS,
    BROWSE,
    ASSESSMENTS,
    Migration {
        version: 11,
        name: "assessments_append_only",
        sql: include_str!("../migrations/0011_assessments_append_only.postgres.sql"),
    },
    CHECKPOINTS,
    Migration {
        version: 13,
        name: "checkpoints_append_only",
        sql: include_str!("../migrations/0013_checkpoints_append_only.postgres.sql"),
    },
];

fn checksum(sql: &str) -> String {
    promptops_core::canonical::sha256_hex(sql)
}

/// Applies what `migrations` has that the database lacks, each in its own transaction
/// begun with `begin` (which takes the backend's write lock).
pub(crate) async fn run(
    registry: &crate::engine::SqlStore,
    migrations: &[Migration],
) -> Result<()> {
    let mut tx = registry.write_tx().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS promptops_migrations (\
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied =
        sqlx::query("SELECT version, name, checksum FROM promptops_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
    for row in &applied {
        let version: i64 = row.try_get("version")?;
        let recorded: String = row.try_get("checksum")?;
        let Some(known) = migrations.iter().find(|m| m.version == version) else {
            return Err(StoreError::Migration {
                detail: format!(
                    "the database has migration {version}, which this promptops does not know: it was written by a newer promptops; upgrade promptops"
                ),
            });
        };
        if checksum(known.sql) != recorded {
            return Err(StoreError::Migration {
                detail: format!(
                    "migration {version} ({}) differs from the one applied to this database; migrations are append-only, so restore the released file",
                    known.name
                ),
            });
        }
    }
    for m in migrations.iter().filter(|m| {
        !applied
            .iter()
            .any(|r| r.try_get::<i64, _>("version").is_ok_and(|v| v == m.version))
    }) {
        sqlx::raw_sql(AssertSqlSafe(m.sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Migration {
                detail: format!("applying migration {} ({}): {e}", m.version, m.name),
            })?;
        sqlx::query(
            "INSERT INTO promptops_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .bind(promptops_core::clock::now_rfc3339())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
