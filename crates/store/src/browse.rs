//! Reads made for people browsing the registry (the web UI): a project's catalogue of
//! prompts with what each environment serves, and the audit log newest first with
//! filters. The API's reads answer one question each; these answer a page's.

use crate::audit::{StoredEvent, verify_from};
use crate::engine::{SqlStore, get, parse_json, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::Browse;
use crate::rows::{EVAL_COLUMNS, eval_from_row, stored_event};
use promptops_api::*;
use promptops_core::prompt::id::comparable;
use std::collections::BTreeMap;

/// One prompt of a project's catalogue: its newest version's metadata, and where each
/// environment's label points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CatalogEntry {
    pub id: String,
    pub module: String,
    pub versions: u64,
    pub latest_version: Option<String>,
    pub latest_author: Option<String>,
    /// The newest version's `owner`, `description`, `tags` and `compliance.risk_tier`.
    pub owner: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub risk_tier: Option<String>,
    /// When the prompt last changed: its newest version or label move.
    pub changed_at: String,
    /// Environment → version, for the environments that serve it.
    pub labels: BTreeMap<String, String>,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events before this sequence number (the next page).
    pub before: Option<u64>,
    pub actor: Option<String>,
    /// Events whose action starts with this (`promotion.`, `version.published`).
    pub action_prefix: Option<String>,
    /// Events whose target starts with this (`prompt:shop/`, `label:shop/support.answer/`).
    pub target_prefix: Option<String>,
    /// Events whose target is one of these exactly.
    pub targets: Vec<String>,
    pub limit: u64,
}

/// `text` with LIKE's wildcards escaped (`\` is the escape character).
fn like_prefix(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// ` AND {table}.prompt_key IN ($2, $3, …)` for `only` (nothing for `None`).
fn only_these(table: &str, only: Option<&[String]>) -> String {
    match only {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => {
            let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
            format!(" AND {table}.prompt_key IN ({})", marks.join(", "))
        }
    }
}

impl Browse for SqlStore {
    async fn catalog(&self, project: &str, only: Option<&[String]>) -> Result<Vec<CatalogEntry>> {
        let mut conn = self.pool.acquire().await?;
        if Self::project_in(&mut conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        // Two plain queries, not correlated subqueries: a thousand prompts with twenty
        // versions each read in a few milliseconds.
        // Only the fields a list shows are read out of each newest version's content,
        // by the database's own JSON functions (the content itself stays there).
        let fields = if self.backend_name() == "sqlite" {
            "json_extract(v.content, '$.owner') AS owner, \
             json_extract(v.content, '$.description') AS description, \
             json_extract(v.content, '$.compliance.risk_tier') AS risk_tier, \
             json_extract(v.content, '$.tags') AS tags"
        } else {
            "(v.content::jsonb)->>'owner' AS owner, \
             (v.content::jsonb)->>'description' AS description, \
             (v.content::jsonb)#>>'{compliance,risk_tier}' AS risk_tier, \
             (v.content::jsonb)->>'tags' AS tags"
        };
        let sql = format!(
            "SELECT p.prompt_key, p.id, p.module, p.created_at, t.n AS versions, \
                    v.version, v.author, v.created_at AS version_at, {fields} \
             FROM prompts p \
             LEFT JOIN (SELECT prompt_key, COUNT(*) AS n, MAX(ordinal) AS top FROM versions \
                        WHERE project = $1 GROUP BY prompt_key) t ON t.prompt_key = p.prompt_key \
             LEFT JOIN versions v ON v.project = p.project AND v.prompt_key = p.prompt_key AND v.ordinal = t.top \
             WHERE p.project = $1{} ORDER BY p.prompt_key",
            only_these("p", only)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project);
        for id in only.unwrap_or_default() {
            query = query.bind(comparable(id));
        }
        let rows = query.fetch_all(&mut *conn).await?;
        // Every label move rewrites its label's row, so a prompt's latest move is one of
        // its labels' current moves.
        let sql = format!(
            "SELECT l.prompt_key, l.environment, l.version, m.moved_at FROM labels l \
             JOIN label_moves m ON m.id = l.move_id WHERE l.project = $1{}",
            only_these("l", only)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project);
        for id in only.unwrap_or_default() {
            query = query.bind(comparable(id));
        }
        let label_rows = query.fetch_all(&mut *conn).await?;
        let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut moved: BTreeMap<String, String> = BTreeMap::new();
        for r in &label_rows {
            let key: String = get(r, "prompt_key")?;
            let at: String = get(r, "moved_at")?;
            let latest = moved.entry(key.clone()).or_default();
            if at > *latest {
                *latest = at;
            }
            labels
                .entry(key)
                .or_default()
                .insert(get(r, "environment")?, get(r, "version")?);
        }
        rows.iter()
            .map(|r| {
                let key: String = get(r, "prompt_key")?;
                let tags: Option<String> = get(r, "tags")?;
                let created: String = get(r, "created_at")?;
                let version_at: Option<String> = get(r, "version_at")?;
                let moved_at = moved.remove(&key);
                // RFC 3339 in UTC throughout: the text order is the time order.
                let changed_at = [Some(created), version_at, moved_at]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or_default();
                Ok(CatalogEntry {
                    id: get(r, "id")?,
                    module: get(r, "module")?,
                    versions: get::<Option<i64>>(r, "versions")?
                        .map_or(Ok(0), |n| to_u64(n, "version count"))?,
                    latest_version: get(r, "version")?,
                    latest_author: get(r, "author")?,
                    owner: get(r, "owner")?,
                    description: get(r, "description")?,
                    risk_tier: get(r, "risk_tier")?,
                    tags: tags
                        .map(|t| parse_json(&t, "version tags"))
                        .transpose()?
                        .and_then(|t| serde_json::from_value(t).ok())
                        .unwrap_or_default(),
                    changed_at,
                    labels: labels.remove(&key).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let mut sql = String::from(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events WHERE seq < $1",
        );
        let mut binds: Vec<String> = Vec::new();
        let mut next = 2;
        let mut clause = |sql: &mut String, text: String, value: String| {
            sql.push_str(&text.replace("$n", &format!("${next}")));
            binds.push(value);
            next += 1;
        };
        if let Some(actor) = &query.actor {
            clause(&mut sql, " AND actor = $n".into(), actor.clone());
        }
        let sqlite = self.backend_name() == "sqlite";
        for (column, prefix) in [
            ("action", &query.action_prefix),
            ("target", &query.target_prefix),
        ] {
            let Some(prefix) = prefix else { continue };
            if sqlite {
                // SQLite compares text byte by byte (BINARY): a range on the column's
                // index finds a prefix, where LIKE (case-insensitive) would scan.
                clause(&mut sql, format!(" AND {column} >= $n"), prefix.clone());
                clause(
                    &mut sql,
                    format!(" AND {column} < $n"),
                    format!("{prefix}\u{10FFFF}"),
                );
            } else {
                clause(
                    &mut sql,
                    format!(" AND {column} LIKE $n ESCAPE '\\'"),
                    like_prefix(prefix),
                );
            }
        }
        if !query.targets.is_empty() {
            sql.push_str(" AND target IN (");
            for (i, target) in query.targets.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                clause(&mut sql, "$n".into(), target.clone());
            }
            sql.push(')');
        }
        sql.push_str(&format!(
            " ORDER BY seq DESC LIMIT {}",
            query.limit.min(1000)
        ));
        let before = query
            .before
            .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before);
        for value in binds {
            q = q.bind(value);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let stored = stored_event(r)?;
                stored.to_event().ok_or_else(|| {
                    StoreError::corrupt(format!("audit event {} is unreadable", stored.seq))
                })
            })
            .collect()
    }

    async fn recent_eval_runs(
        &self,
        project: &str,
        prompt_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<EvalRun>> {
        let mut conn = self.pool.acquire().await?;
        let ids: BTreeMap<String, String> =
            sqlx::query("SELECT prompt_key, id FROM prompts WHERE project = $1")
                .bind(project)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok((get(r, "prompt_key")?, get(r, "id")?)))
                .collect::<Result<_>>()?;
        let key = prompt_id.map(comparable).unwrap_or_default();
        let sql = format!(
            "SELECT prompt_key, {EVAL_COLUMNS} FROM eval_runs WHERE project = $1 AND ($2 = '' OR prompt_key = $2) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(key)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|r| {
                let key: String = get(r, "prompt_key")?;
                let id = ids.get(&key).cloned().unwrap_or(key);
                eval_from_row(&id, r)
            })
            .collect()
    }

    async fn audit_verify_after(
        &self,
        start: Option<&AuditHead>,
        kept_head: Option<&AuditHead>,
    ) -> Result<Verification> {
        let after = start.map_or(0, |h| i64::try_from(h.seq).unwrap_or(i64::MAX));
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(stored_event)
            .collect::<Result<Vec<StoredEvent>>>()?;
        // The start must still be as it was verified: a rewrite behind it shows here.
        if let Some(start) = start {
            let row = sqlx::query("SELECT hash FROM audit_events WHERE seq = $1")
                .bind(after)
                .fetch_optional(&self.pool)
                .await?;
            let stored: Option<String> = row.map(|r| get(&r, "hash")).transpose()?;
            if stored.as_deref() != Some(start.hash.as_str()) {
                return Ok(Verification {
                    ok: false,
                    events: 0,
                    head: None,
                    first_bad: Some(BrokenLink {
                        seq: start.seq,
                        problem: "this event is no longer the one verified before: the log was rewritten or truncated".into(),
                    }),
                });
            }
        }
        Ok(verify_from(start, &events, kept_head))
    }
}
