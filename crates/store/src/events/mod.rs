//! Execution events: what running applications report about each prompt call, and the
//! per-minute rollups the metrics are read from.
//!
//! Events are kept apart from the registry so ingest never waits behind the registry's
//! write lock or the audit chain: on SQLite they live in a file of their own beside the
//! registry's (`<registry>.events`, its own WAL and writer); on PostgreSQL in tables of
//! their own, written without the registry's advisory lock. One writer per process
//! inserts batches ([`EventStore::insert`]): new events (idempotent by `(project, id)`)
//! and their rollups in one transaction, so a retried batch is never counted twice.
//!
//! Rollup rows are keyed by the writer too (a random id per process), so replicas never
//! read-modify-write each other's latency histograms; readers add the writers up.

mod histogram;
mod rollup;
mod schema;

pub use histogram::Histogram;
pub use rollup::{MINUTE_MS, Step, points};

use crate::engine::{Backend, SqlStore, get, to_u64};
use crate::error::{Result, StoreError};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One execution as stored (already validated, priced, captured and redacted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub project: String,
    pub id: String,
    pub prompt_id: String,
    /// The version it ran (semver), when known (given, or resolved from its content hash).
    pub version: Option<String>,
    pub content_hash: Option<String>,
    pub environment: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// Nano-dollars.
    pub cost_nanos: Option<i64>,
    pub latency_ms: Option<u64>,
    /// `ok` or `error`.
    pub ok: bool,
    pub error: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub request_id: Option<String>,
    /// When the call happened (unix ms).
    pub timestamp_ms: i64,
    /// When the server took it (unix ms).
    pub received_ms: i64,
    pub input: Option<String>,
    pub output: Option<String>,
    /// The rest of the event as sent (agent steps, eval results, …), JSON.
    pub extra: Option<String>,
}

/// The key of a rollup series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    project: String,
    prompt_id: String,
    /// `""` for events whose version is unknown.
    version: String,
    environment: String,
    bucket_ms: i64,
}

/// The store of execution events.
#[derive(Debug)]
pub struct EventStore {
    pool: AnyPool,
    /// This process's rollup rows are keyed by it.
    writer: String,
    /// Histograms of this writer's recent rollup rows, so a batch adds to them without
    /// reading them back; a miss (an old bucket) reads the row.
    recent: Mutex<HashMap<SeriesKey, Distributions>>,
}

/// What one rollup row read back holds (summed over writers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollup {
    /// `None`: events whose version is unknown.
    pub version: Option<String>,
    pub bucket_ms: i64,
    pub calls: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_nanos: i64,
    pub latency: Histogram,
    /// Output tokens per call (events that reported them).
    pub output_lengths: Histogram,
}

/// The histograms of one rollup row.
#[derive(Debug, Clone, Default)]
struct Distributions {
    latency: Histogram,
    output_lengths: Histogram,
}

impl SqlStore {
    /// The event store that goes with this registry (created and migrated if needed).
    pub async fn events(&self) -> Result<EventStore> {
        let pool = match &self.backend {
            Backend::Postgres { .. } => self.pool.clone(),
            Backend::Sqlite { path } => {
                let mut name = path.as_os_str().to_owned();
                name.push(".events");
                let path = std::path::PathBuf::from(name);
                crate::private_files::touch_private(&path).map_err(|e| StoreError::Migration {
                    detail: format!("cannot create {}: {e}", path.display()),
                })?;
                AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::raw_sql(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 30000;",
                            )
                            .execute(conn)
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&format!("sqlite://{}?mode=rwc", path.display()))
                    .await
                    .map_err(|e| StoreError::Migration {
                        detail: format!("cannot open {}: {e}", path.display()),
                    })?
            }
        };
        schema::migrate(&pool).await?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| StoreError::Migration {
            detail: format!("no randomness for the event writer's id: {e}"),
        })?;
        Ok(EventStore {
            pool,
            writer: id.iter().map(|b| format!("{b:02x}")).collect(),
            recent: Mutex::new(HashMap::new()),
        })
    }
}

impl crate::interface::EventsHome for SqlStore {
    async fn open_events(&self) -> Result<EventStore> {
        self.events().await
    }
}

/// Columns of `execution_events`, in insert order.
const EVENT_COLUMNS: &str = "project, id, prompt_id, version, content_hash, environment, model, \
    provider, input_tokens, output_tokens, cost_nanos, latency_ms, outcome, error, trace_id, \
    span_id, request_id, ts_ms, received_ms, input, output, extra";
const EVENT_BINDS: usize = 22;
/// Rows per INSERT. Small on purpose: sqlx's SQLite driver looks each parameter up by
/// name among all of the statement's, so binding costs grow with the square of the
/// parameters (500 rows of 22 spent 92% of the writer's time there; 32 rows cost
/// little more per row than one).
const CHUNK: usize = 32;
/// Recent rollup histograms kept per writer before the oldest are dropped.
const RECENT_LIMIT: usize = 20_000;

impl EventStore {
    /// Stores the events that are new (by `(project, id)`) and adds them to the rollups,
    /// in one transaction. Returns the positions in `events` of those that were new.
    pub async fn insert(&self, events: &[StoredEvent]) -> Result<Vec<usize>> {
        let mut tx = self.pool.begin().await?;
        let mut fresh: Vec<usize> = Vec::with_capacity(events.len());
        for (c, chunk) in events.chunks(CHUNK).enumerate() {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let cols: Vec<String> = (1..=EVENT_BINDS)
                        .map(|c| format!("${}", r * EVENT_BINDS + c))
                        .collect();
                    format!("({})", cols.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO execution_events ({EVENT_COLUMNS}) VALUES {} \
                 ON CONFLICT (project, id) DO NOTHING RETURNING id",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                query = query
                    .bind(e.project.clone())
                    .bind(e.id.clone())
                    .bind(e.prompt_id.clone())
                    .bind(e.version.clone())
                    .bind(e.content_hash.clone())
                    .bind(e.environment.clone())
                    .bind(e.model.clone())
                    .bind(e.provider.clone())
                    .bind(e.input_tokens.map(|v| v as i64))
                    .bind(e.output_tokens.map(|v| v as i64))
                    .bind(e.cost_nanos)
                    .bind(e.latency_ms.map(|v| v as i64))
                    .bind(if e.ok { "ok" } else { "error" })
                    .bind(e.error.clone())
                    .bind(e.trace_id.clone())
                    .bind(e.span_id.clone())
                    .bind(e.request_id.clone())
                    .bind(e.timestamp_ms)
                    .bind(e.received_ms)
                    .bind(e.input.clone())
                    .bind(e.output.clone())
                    .bind(e.extra.clone());
            }
            let rows = query.fetch_all(&mut *tx).await?;
            let inserted: std::collections::HashSet<String> = rows
                .iter()
                .map(|r| get::<String>(r, "id"))
                .collect::<Result<_>>()?;
            // Duplicates inside one chunk: the first one is the stored one.
            let mut seen = std::collections::HashSet::new();
            fresh.extend(
                chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| inserted.contains(&e.id) && seen.insert(e.id.as_str()))
                    .map(|(i, _)| c * CHUNK + i),
            );
        }
        let stored: Vec<&StoredEvent> = fresh.iter().map(|&i| &events[i]).collect();
        self.add_to_rollups(&mut tx, &stored).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    async fn add_to_rollups(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        events: &[&StoredEvent],
    ) -> Result<()> {
        let mut batch: HashMap<SeriesKey, Rollup> = HashMap::new();
        for e in events {
            let key = SeriesKey {
                project: e.project.clone(),
                prompt_id: e.prompt_id.clone(),
                version: e.version.clone().unwrap_or_default(),
                environment: e.environment.clone().unwrap_or_default(),
                bucket_ms: e.timestamp_ms.div_euclid(MINUTE_MS) * MINUTE_MS,
            };
            let r = batch.entry(key).or_default();
            r.calls += 1;
            r.errors += u64::from(!e.ok);
            r.input_tokens += e.input_tokens.unwrap_or(0);
            r.output_tokens += e.output_tokens.unwrap_or(0);
            r.cost_nanos += e.cost_nanos.unwrap_or(0);
            if let Some(ms) = e.latency_ms {
                r.latency.record(ms);
            }
            if let Some(tokens) = e.output_tokens {
                r.output_lengths.record(tokens);
            }
        }
        for (key, add) in batch {
            let known = self
                .recent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .cloned();
            let mut held = match known {
                Some(h) => h,
                None => self.stored_histograms(tx, &key).await?,
            };
            held.latency.merge(&add.latency);
            held.output_lengths.merge(&add.output_lengths);
            sqlx::query(
                "INSERT INTO event_rollups (project, prompt_id, version, environment, bucket_ms, \
                 writer, calls, errors, input_tokens, output_tokens, cost_nanos, latency, \
                 output_lengths) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (project, prompt_id, version, environment, bucket_ms, writer) DO UPDATE SET \
                 calls = event_rollups.calls + excluded.calls, \
                 errors = event_rollups.errors + excluded.errors, \
                 input_tokens = event_rollups.input_tokens + excluded.input_tokens, \
                 output_tokens = event_rollups.output_tokens + excluded.output_tokens, \
                 cost_nanos = event_rollups.cost_nanos + excluded.cost_nanos, \
                 latency = excluded.latency, output_lengths = excluded.output_lengths",
            )
            .bind(key.project.clone())
            .bind(key.prompt_id.clone())
            .bind(key.version.clone())
            .bind(key.environment.clone())
            .bind(key.bucket_ms)
            .bind(self.writer.clone())
            .bind(add.calls as i64)
            .bind(add.errors as i64)
            .bind(add.input_tokens as i64)
            .bind(add.output_tokens as i64)
            .bind(add.cost_nanos)
            .bind(held.latency.encode())
            .bind(held.output_lengths.encode())
            .execute(&mut **tx)
            .await?;
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() >= RECENT_LIMIT {
                // Keep the newest buckets: late events to older ones read their row back.
                let mut buckets: Vec<i64> = recent.keys().map(|k| k.bucket_ms).collect();
                buckets.sort_unstable();
                let cut = buckets[buckets.len() / 2];
                recent.retain(|k, _| k.bucket_ms > cut);
            }
            recent.insert(key, held);
        }
        Ok(())
    }

    async fn stored_histograms(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        key: &SeriesKey,
    ) -> Result<Distributions> {
        let row = sqlx::query(
            "SELECT latency, output_lengths FROM event_rollups WHERE project = $1 \
             AND prompt_id = $2 AND version = $3 AND environment = $4 AND bucket_ms = $5 \
             AND writer = $6",
        )
        .bind(key.project.clone())
        .bind(key.prompt_id.clone())
        .bind(key.version.clone())
        .bind(key.environment.clone())
        .bind(key.bucket_ms)
        .bind(self.writer.clone())
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            None => Ok(Distributions::default()),
            Some(row) => Ok(Distributions {
                latency: histogram_column(&row, "latency")?,
                output_lengths: histogram_column(&row, "output_lengths")?,
            }),
        }
    }

    /// The minute rollups of one prompt in `[from_ms, to_ms)`, in one environment
    /// (`None`: all of them), summed over writers and environments.
    pub async fn rollups(
        &self,
        project: &str,
        prompt_id: &str,
        environment: Option<&str>,
        (from_ms, to_ms): (i64, i64),
    ) -> Result<Vec<Rollup>> {
        let rows = sqlx::query(
            "SELECT version, bucket_ms, calls, errors, input_tokens, output_tokens, cost_nanos, \
             latency, output_lengths FROM event_rollups WHERE project = $1 AND prompt_id = $2 \
             AND ($3 = '' OR environment = $3) AND bucket_ms >= $4 AND bucket_ms < $5 \
             ORDER BY version, bucket_ms",
        )
        .bind(project.to_owned())
        .bind(prompt_id.to_owned())
        .bind(environment.unwrap_or("").to_owned())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Rollup> = Vec::new();
        for row in rows {
            let version: String = get(&row, "version")?;
            let bucket_ms: i64 = get(&row, "bucket_ms")?;
            let r = Rollup {
                version: (!version.is_empty()).then_some(version),
                bucket_ms,
                calls: to_u64(get(&row, "calls")?, "calls")?,
                errors: to_u64(get(&row, "errors")?, "errors")?,
                input_tokens: to_u64(get(&row, "input_tokens")?, "input tokens")?,
                output_tokens: to_u64(get(&row, "output_tokens")?, "output tokens")?,
                cost_nanos: get(&row, "cost_nanos")?,
                latency: histogram_column(&row, "latency")?,
                output_lengths: histogram_column(&row, "output_lengths")?,
            };
            match out.last_mut() {
                Some(last) if last.version == r.version && last.bucket_ms == r.bucket_ms => {
                    last.add(&r);
                }
                _ => out.push(r),
            }
        }
        Ok(out)
    }

    /// The prompts of `project` with calls in `[from_ms, to_ms)` (in one environment,
    /// when given), the busiest first, at most `limit`.
    pub async fn active_prompts(
        &self,
        project: &str,
        environment: Option<&str>,
        (from_ms, to_ms): (i64, i64),
        limit: u64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT prompt_id, SUM(calls) AS calls FROM event_rollups WHERE project = $1 \
             AND ($2 = '' OR environment = $2) AND bucket_ms >= $3 AND bucket_ms < $4 \
             GROUP BY prompt_id ORDER BY calls DESC, prompt_id LIMIT $5",
        )
        .bind(project.to_owned())
        .bind(environment.unwrap_or("").to_owned())
        .bind(from_ms)
        .bind(to_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| get(r, "prompt_id")).collect()
    }

    /// A project's events received after `after` (a `(received ms, id)` cursor; `None`:
    /// from the start), oldest first, at most `limit`, optionally of one prompt and
    /// environment: what `log tail` follows. Events received in the same millisecond
    /// are ordered by id, so a page never cuts a batch short.
    pub async fn recent(
        &self,
        project: &str,
        filter: (Option<&str>, Option<&str>),
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let (after_ms, after_id) = after.unwrap_or((i64::MIN, ""));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM execution_events WHERE project = $1 \
             AND ($2 = '' OR prompt_id = $2) AND ($3 = '' OR environment = $3) \
             AND (received_ms > $4 OR (received_ms = $4 AND id > $5)) \
             ORDER BY received_ms, id LIMIT $6"
        )))
        .bind(project.to_owned())
        .bind(filter.0.unwrap_or("").to_owned())
        .bind(filter.1.unwrap_or("").to_owned())
        .bind(after_ms)
        .bind(after_id.to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_of).collect()
    }

    /// The cursor of a project's newest event (to follow from now on).
    pub async fn newest(&self, project: &str) -> Result<Option<(i64, String)>> {
        let row = sqlx::query(
            "SELECT received_ms, id FROM execution_events WHERE project = $1 \
             ORDER BY received_ms DESC, id DESC LIMIT 1",
        )
        .bind(project.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((get(&r, "received_ms")?, get(&r, "id")?)))
            .transpose()
    }

    /// Deletes a project's events (not its rollups) that happened before `before_ms`;
    /// returns how many went.
    pub async fn prune(&self, project: &str, before_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM execution_events WHERE project = $1 AND ts_ms < $2")
            .bind(project.to_owned())
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// How long a project's events are kept when it sets nothing.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// How long the minute rollups (what metrics read) are kept, whatever the events' retention.
pub const ROLLUP_RETENTION_DAYS: u32 = 400;
const DAY_MS: i64 = 86_400_000;

impl EventStore {
    /// How many days a project's events are kept.
    pub async fn retention(&self, project: &str) -> Result<u32> {
        let days: Option<i64> =
            sqlx::query_scalar("SELECT days FROM event_retention WHERE project = $1")
                .bind(project.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(days.map_or(DEFAULT_RETENTION_DAYS, |d| d.clamp(1, 36_500) as u32))
    }

    /// Keeps a project's events `days` days (1 to 3650).
    pub async fn set_retention(&self, project: &str, days: u32) -> Result<()> {
        if !(1..=3650).contains(&days) {
            return Err(StoreError::invalid(format!(
                "retention {days} days: keep events 1 to 3650 days"
            )));
        }
        sqlx::query(
            "INSERT INTO event_retention (project, days) VALUES ($1, $2) \
             ON CONFLICT (project) DO UPDATE SET days = excluded.days",
        )
        .bind(project.to_owned())
        .bind(i64::from(days))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes, in every project, the events older than its retention and the rollups
    /// older than [`ROLLUP_RETENTION_DAYS`]; returns how many events went.
    pub async fn apply_retention(&self, now_ms: i64) -> Result<u64> {
        let projects: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT project FROM execution_events")
                .fetch_all(&self.pool)
                .await?;
        let mut deleted = 0;
        for project in projects {
            let days = self.retention(&project).await?;
            deleted += self
                .prune(&project, now_ms - i64::from(days) * DAY_MS)
                .await?;
        }
        sqlx::query("DELETE FROM event_rollups WHERE bucket_ms < $1")
            .bind(now_ms - i64::from(ROLLUP_RETENTION_DAYS) * DAY_MS)
            .execute(&self.pool)
            .await?;
        Ok(deleted)
    }
}

impl Rollup {
    pub fn add(&mut self, other: &Rollup) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_nanos += other.cost_nanos;
        self.latency.merge(&other.latency);
        self.output_lengths.merge(&other.output_lengths);
    }
}

fn histogram_column(row: &sqlx::any::AnyRow, column: &str) -> Result<Histogram> {
    let text: String = get(row, column)?;
    Histogram::decode(&text)
        .ok_or_else(|| StoreError::corrupt(format!("{column} histogram `{text}`")))
}

fn event_of(row: &sqlx::any::AnyRow) -> Result<StoredEvent> {
    let opt_u64 = |col: &str| -> Result<Option<u64>> {
        row.try_get::<Option<i64>, _>(col)?
            .map(|v| to_u64(v, col))
            .transpose()
    };
    let outcome: String = get(row, "outcome")?;
    Ok(StoredEvent {
        project: get(row, "project")?,
        id: get(row, "id")?,
        prompt_id: get(row, "prompt_id")?,
        version: get(row, "version")?,
        content_hash: get(row, "content_hash")?,
        environment: get(row, "environment")?,
        model: get(row, "model")?,
        provider: get(row, "provider")?,
        input_tokens: opt_u64("input_tokens")?,
        output_tokens: opt_u64("output_tokens")?,
        cost_nanos: get(row, "cost_nanos")?,
        latency_ms: opt_u64("latency_ms")?,
        ok: outcome == "ok",
        error: get(row, "error")?,
        trace_id: get(row, "trace_id")?,
        span_id: get(row, "span_id")?,
        request_id: get(row, "request_id")?,
        timestamp_ms: get(row, "ts_ms")?,
        received_ms: get(row, "received_ms")?,
        input: get(row, "input")?,
        output: get(row, "output")?,
        extra: get(row, "extra")?,
    })
}
