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
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One prompt of a project's catalogue: its newest version's metadata, and where each
/// environment's label points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CatalogEntry {
    pub id: String,
    pub module: String,
    pub versions: u64,
    pub latest_version: Option<String>,
    /// The newest version's canonical content (owner, tags, compliance, description).
    pub latest_content: Option<Json>,
    pub latest_author: Option<String>,
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

impl Browse for SqlStore {
    async fn catalog(&self, project: &str) -> Result<Vec<CatalogEntry>> {
        let mut conn = self.pool.acquire().await?;
        if Self::project_in(&mut conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        let rows = sqlx::query(
            "SELECT p.prompt_key, p.id, p.module, p.created_at, \
                    (SELECT COUNT(*) FROM versions c WHERE c.project = p.project AND c.prompt_key = p.prompt_key) AS versions, \
                    v.version, v.content, v.author, v.created_at AS version_at, \
                    (SELECT MAX(m.moved_at) FROM label_moves m WHERE m.project = p.project AND m.prompt_key = p.prompt_key) AS moved_at \
             FROM prompts p LEFT JOIN versions v ON v.project = p.project AND v.prompt_key = p.prompt_key \
               AND v.ordinal = (SELECT MAX(o.ordinal) FROM versions o WHERE o.project = p.project AND o.prompt_key = p.prompt_key) \
             WHERE p.project = $1 ORDER BY p.prompt_key",
        )
        .bind(project)
        .fetch_all(&mut *conn)
        .await?;
        let label_rows =
            sqlx::query("SELECT prompt_key, environment, version FROM labels WHERE project = $1")
                .bind(project)
                .fetch_all(&mut *conn)
                .await?;
        let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for r in &label_rows {
            labels
                .entry(get(r, "prompt_key")?)
                .or_default()
                .insert(get(r, "environment")?, get(r, "version")?);
        }
        rows.iter()
            .map(|r| {
                let key: String = get(r, "prompt_key")?;
                let content: Option<String> = get(r, "content")?;
                let created: String = get(r, "created_at")?;
                let version_at: Option<String> = get(r, "version_at")?;
                let moved_at: Option<String> = get(r, "moved_at")?;
                // RFC 3339 in UTC throughout: the text order is the time order.
                let changed_at = [Some(created), version_at, moved_at]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or_default();
                Ok(CatalogEntry {
                    id: get(r, "id")?,
                    module: get(r, "module")?,
                    versions: to_u64(get(r, "versions")?, "version count")?,
                    latest_version: get(r, "version")?,
                    latest_content: content
                        .map(|c| parse_json(&c, "version content"))
                        .transpose()?,
                    latest_author: get(r, "author")?,
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
        if let Some(action) = &query.action_prefix {
            clause(
                &mut sql,
                " AND action LIKE $n ESCAPE '\\'".into(),
                like_prefix(action),
            );
        }
        if let Some(target) = &query.target_prefix {
            clause(
                &mut sql,
                " AND target LIKE $n ESCAPE '\\'".into(),
                like_prefix(target),
            );
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
