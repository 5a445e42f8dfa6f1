//! Reads of prompts: projects, versions, labels, history, what an environment serves,
//! eval runs. No write lock: readers never wait for writers (SQLite WAL, PostgreSQL MVCC).

use crate::engine::{SqlStore, get, parse_json, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::DeliveryReads;
use crate::rows::{EVAL_COLUMNS, VERSION_COLUMNS, eval_from_row, move_from_row, version_from_row};
use promptops_api::*;
use promptops_core::prompt::id::comparable;
use serde_json::Value as Json;

impl DeliveryReads for SqlStore {
    async fn project(&self, name: &str) -> Result<Project> {
        let mut conn = self.pool.acquire().await?;
        Self::project_in(&mut conn, name)
            .await?
            .ok_or_else(|| StoreError::not_found("project", name))
    }

    async fn projects(&self) -> Result<Vec<Project>> {
        let mut conn = self.pool.acquire().await?;
        let names = sqlx::query("SELECT name FROM projects ORDER BY name")
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(names.len());
        for row in &names {
            let name: String = get(row, "name")?;
            if let Some(p) = Self::project_in(&mut conn, &name).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    async fn prompts(&self, project: &str) -> Result<Vec<PromptSummary>> {
        let mut conn = self.pool.acquire().await?;
        if Self::project_in(&mut conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        // One aggregate over the project's versions joined back for the newest: no
        // per-prompt subquery (a thousand prompts list in milliseconds).
        let rows = sqlx::query(
            "SELECT p.id, p.module, p.created_at, COALESCE(t.n, 0) AS versions, v.version AS latest \
             FROM prompts p \
             LEFT JOIN (SELECT prompt_key, COUNT(*) AS n, MAX(ordinal) AS top FROM versions \
                        WHERE project = $1 GROUP BY prompt_key) t ON t.prompt_key = p.prompt_key \
             LEFT JOIN versions v ON v.project = p.project AND v.prompt_key = p.prompt_key AND v.ordinal = t.top \
             WHERE p.project = $1 ORDER BY p.prompt_key",
        )
        .bind(project)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PromptSummary {
                    id: get(r, "id")?,
                    module: get(r, "module")?,
                    latest_version: get(r, "latest")?,
                    versions: to_u64(get(r, "versions")?, "version count")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    async fn versions(&self, project: &str, id: &str) -> Result<Vec<Version>> {
        let mut conn = self.pool.acquire().await?;
        Self::require_prompt(&mut conn, project, id).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN prompts p ON p.project = v.project AND p.prompt_key = v.prompt_key \
             WHERE v.project = $1 AND v.prompt_key = $2 ORDER BY v.ordinal"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(id))
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn version(&self, project: &str, id: &str, version: &str) -> Result<Version> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_prompt(&mut conn, project, id).await?;
        let mut found = Self::version_in(&mut conn, project, &id, version)
            .await?
            .ok_or_else(|| StoreError::not_found("version", format!("{id}@{version}")))?;
        found.overrides = sqlx::query(
            "SELECT id, environment, actor, override_reason, moved_at FROM label_moves \
             WHERE project = $1 AND prompt_key = $2 AND to_version = $3 AND override_reason IS NOT NULL ORDER BY id",
        )
        .bind(project)
        .bind(comparable(&id))
        .bind(version)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(OverrideNote {
                environment: get(r, "environment")?,
                actor: get(r, "actor")?,
                reason: get(r, "override_reason")?,
                moved_at: get(r, "moved_at")?,
                move_id: to_u64(get(r, "id")?, "label move id")?,
            })
        })
        .collect::<Result<_>>()?;
        Ok(found)
    }

    async fn version_at(&self, project: &str, id: &str, revision: Option<u64>) -> Result<Version> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_prompt(&mut conn, project, id).await?;
        // Ordinals are gapless from 1 (taken as the latest + 1 under the write lock).
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN prompts p ON p.project = v.project AND p.prompt_key = v.prompt_key \
             WHERE v.project = $1 AND v.prompt_key = $2 AND ($3 = 0 OR v.ordinal = $3) ORDER BY v.ordinal DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(&id))
            .bind(revision.map_or(0, |r| i64::try_from(r).unwrap_or(i64::MAX)))
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => version_from_row(&row),
            None => Err(StoreError::not_found(
                "version",
                match revision {
                    Some(r) => format!("{id} revision {r}"),
                    None => format!("{id} (no version published)"),
                },
            )),
        }
    }

    async fn labels(&self, project: &str, id: &str) -> Result<Vec<Label>> {
        let mut conn = self.pool.acquire().await?;
        Self::require_prompt(&mut conn, project, id).await?;
        let rows = sqlx::query(
            "SELECT l.environment, l.version, m.moved_at, m.actor, m.override_reason FROM labels l \
             JOIN label_moves m ON m.id = l.move_id \
             JOIN environments e ON e.project = l.project AND e.name = l.environment \
             WHERE l.project = $1 AND l.prompt_key = $2 ORDER BY e.position",
        )
        .bind(project)
        .bind(comparable(id))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Label {
                    environment: get(r, "environment")?,
                    version: get(r, "version")?,
                    moved_at: get(r, "moved_at")?,
                    moved_by: get(r, "actor")?,
                    override_reason: get(r, "override_reason")?,
                })
            })
            .collect()
    }

    async fn label_history(
        &self,
        project: &str,
        id: &str,
        env: Option<&str>,
    ) -> Result<Vec<LabelMove>> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_prompt(&mut conn, project, id).await?;
        let rows = sqlx::query(
            "SELECT id, environment, from_version, to_version, kind, actor, reason, moved_at, override_reason, overridden_gates, request_id FROM label_moves \
             WHERE project = $1 AND prompt_key = $2 AND ($3 = '' OR environment = $3) ORDER BY id",
        )
        .bind(project)
        .bind(comparable(&id))
        .bind(env.unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(|r| move_from_row(&id, r)).collect()
    }

    /// What `env` serves now: the label and the version it points at.
    async fn resolve(&self, project: &str, id: &str, env: &str) -> Result<Version> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM labels l \
             JOIN versions v ON v.project = l.project AND v.prompt_key = l.prompt_key AND v.version = l.version \
             JOIN prompts p ON p.project = l.project AND p.prompt_key = l.prompt_key \
             WHERE l.project = $1 AND l.prompt_key = $2 AND l.environment = $3"
        );
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(id))
            .bind(env)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => version_from_row(&row),
            None => {
                let id = Self::require_prompt(&mut conn, project, id).await?;
                let project = Self::project_in(&mut conn, project)
                    .await?
                    .ok_or_else(|| StoreError::not_found("project", project))?;
                if project.environments.iter().any(|e| e == env) {
                    Err(StoreError::not_found(
                        "label",
                        format!("{id} in {env} (nothing promoted there yet)"),
                    ))
                } else {
                    Err(StoreError::not_found("environment", env))
                }
            }
        }
    }

    async fn served(&self, project: &str, env: &str) -> Result<Vec<Version>> {
        let mut conn = self.pool.acquire().await?;
        let proj = Self::project_in(&mut conn, project)
            .await?
            .ok_or_else(|| StoreError::not_found("project", project))?;
        if !proj.environments.iter().any(|e| e == env) {
            return Err(StoreError::not_found("environment", env));
        }
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM labels l \
             JOIN versions v ON v.project = l.project AND v.prompt_key = l.prompt_key AND v.version = l.version \
             JOIN prompts p ON p.project = l.project AND p.prompt_key = l.prompt_key \
             WHERE l.project = $1 AND l.environment = $2 ORDER BY l.prompt_key"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(env)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(version_from_row)
            .collect()
    }

    async fn eval_runs(&self, project: &str, id: &str, version: &str) -> Result<Vec<EvalRun>> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_prompt(&mut conn, project, id).await?;
        let sql = format!(
            "SELECT {EVAL_COLUMNS} FROM eval_runs WHERE project = $1 AND prompt_key = $2 AND version = $3 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(&id))
            .bind(version)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(|r| eval_from_row(&id, r)).collect()
    }

    /// The full JSON report of an eval run, as it was published.
    async fn eval_report(&self, project: &str, run: u64) -> Result<Json> {
        let row = sqlx::query("SELECT report FROM eval_runs WHERE project = $1 AND id = $2")
            .bind(project)
            .bind(i64::try_from(run).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("eval run", run.to_string()))?;
        match get::<Option<String>>(&row, "report")? {
            Some(text) => parse_json(&text, "eval report"),
            None => Err(StoreError::not_found(
                "eval report",
                format!("{run} (published without one)"),
            )),
        }
    }
}
