//! The event tables, created by the event store itself: on SQLite they live in a file of
//! their own, which the registry's migrations never see. Each step is idempotent and
//! recorded in `event_schema`, so a newer promptops adds steps and never edits one.

use crate::error::Result;
use sqlx::AnyPool;

/// The steps, in order; a released step never changes.
const STEPS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS execution_events (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        prompt_id TEXT NOT NULL,
        version TEXT,
        content_hash TEXT,
        environment TEXT,
        model TEXT,
        provider TEXT,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cost_nanos BIGINT,
        latency_ms BIGINT,
        outcome TEXT NOT NULL,
        error TEXT,
        trace_id TEXT,
        span_id TEXT,
        request_id TEXT,
        ts_ms BIGINT NOT NULL,
        received_ms BIGINT NOT NULL,
        input TEXT,
        output TEXT,
        extra TEXT,
        PRIMARY KEY (project, id)
    );
    CREATE INDEX IF NOT EXISTS execution_events_by_prompt
        ON execution_events (project, prompt_id, ts_ms);
    CREATE INDEX IF NOT EXISTS execution_events_by_arrival
        ON execution_events (project, received_ms);
    CREATE TABLE IF NOT EXISTS event_rollups (
        project TEXT NOT NULL,
        prompt_id TEXT NOT NULL,
        version TEXT NOT NULL,
        environment TEXT NOT NULL,
        bucket_ms BIGINT NOT NULL,
        writer TEXT NOT NULL,
        calls BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_nanos BIGINT NOT NULL,
        latency TEXT NOT NULL,
        PRIMARY KEY (project, prompt_id, version, environment, bucket_ms, writer)
    );",
    "CREATE TABLE IF NOT EXISTS event_retention (
        project TEXT PRIMARY KEY,
        days BIGINT NOT NULL
    );",
    // Output lengths (output tokens) per rollup, log-bucketed like latency: what output
    // drift alerts compare. Rows written before this step hold none (`''`).
    "ALTER TABLE event_rollups ADD COLUMN output_lengths TEXT NOT NULL DEFAULT '';",
];

pub(super) async fn migrate(pool: &AnyPool) -> Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS event_schema (step BIGINT PRIMARY KEY)")
        .execute(pool)
        .await?;
    for (i, step) in STEPS.iter().enumerate() {
        let n = i as i64 + 1;
        let done: Option<i64> = sqlx::query_scalar("SELECT step FROM event_schema WHERE step = $1")
            .bind(n)
            .fetch_optional(pool)
            .await?;
        if done.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*step))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO event_schema (step) VALUES ($1) ON CONFLICT (step) DO NOTHING")
            .bind(n)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
