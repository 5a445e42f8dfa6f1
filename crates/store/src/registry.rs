//! Changes to prompts: projects and their environments, versions, plain label moves,
//! eval runs. Every change is one write transaction with its audit event.

use crate::engine::{IdTable, SqlStore, WriteTx, append_audit, check_name, get, next_id, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::RegistryWrites;
use crate::model::*;
use crate::rows::{VERSION_COLUMNS, version_from_row};
use promptops_api::*;
use promptops_core::canonical::value_json;
use promptops_core::clock::now_rfc3339;
use promptops_core::prompt::id::comparable;
use serde_json::json;
use sqlx::AnyConnection;

fn module_of(id: &str) -> &str {
    id.rsplit_once('.').map_or("", |(m, _)| m)
}

fn check_environments(environments: &[String]) -> Result<()> {
    if environments.is_empty() {
        return Err(StoreError::invalid(
            "a project needs at least one environment",
        ));
    }
    for (i, env) in environments.iter().enumerate() {
        check_name("environment", env)?;
        if environments[..i].contains(env) {
            return Err(StoreError::invalid(format!(
                "environment `{env}` is listed twice"
            )));
        }
    }
    Ok(())
}

impl SqlStore {
    pub(crate) async fn project_in(
        conn: &mut AnyConnection,
        name: &str,
    ) -> Result<Option<Project>> {
        let Some(row) = sqlx::query("SELECT name, created_at FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let environments =
            sqlx::query("SELECT name FROM environments WHERE project = $1 ORDER BY position")
                .bind(name)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| get::<String>(r, "name"))
                .collect::<Result<Vec<_>>>()?;
        Ok(Some(Project {
            name: get(&row, "name")?,
            environments,
            created_at: get(&row, "created_at")?,
        }))
    }

    pub(crate) async fn insert_project(
        tx: &mut WriteTx,
        name: &str,
        environments: &[String],
        actor: &Actor,
    ) -> Result<Project> {
        check_name("project", name)?;
        check_environments(environments)?;
        let now = now_rfc3339();
        sqlx::query("INSERT INTO projects (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(&now)
            .execute(&mut **tx)
            .await?;
        Self::insert_environments(tx, name, environments).await?;
        append_audit(
            tx,
            actor,
            "project.created",
            &format!("project:{name}"),
            json!({"project": name, "environments": environments}),
        )
        .await?;
        Ok(Project {
            name: name.to_owned(),
            environments: environments.to_vec(),
            created_at: now,
        })
    }

    pub(crate) async fn insert_environments(
        tx: &mut WriteTx,
        project: &str,
        environments: &[String],
    ) -> Result<()> {
        for (position, env) in environments.iter().enumerate() {
            sqlx::query("INSERT INTO environments (project, name, position) VALUES ($1, $2, $3)")
                .bind(project)
                .bind(env)
                .bind(position as i64)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The project, created with the default environments if it does not exist yet.
    pub(crate) async fn ensure_project(
        tx: &mut WriteTx,
        name: &str,
        actor: &Actor,
    ) -> Result<Project> {
        match Self::project_in(tx, name).await? {
            Some(p) => Ok(p),
            None => {
                let defaults: Vec<String> = DEFAULT_ENVIRONMENTS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                Self::insert_project(tx, name, &defaults, actor).await
            }
        }
    }

    pub(crate) async fn prompt_id_in(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM prompts WHERE project = $1 AND prompt_key = $2")
            .bind(project)
            .bind(comparable(id))
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|r| get(&r, "id")).transpose()
    }

    /// The prompt's id as first published, or NotFound (checking the project first so
    /// the message names what is missing).
    pub(crate) async fn require_prompt(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
    ) -> Result<String> {
        if let Some(found) = Self::prompt_id_in(conn, project, id).await? {
            return Ok(found);
        }
        if Self::project_in(conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        Err(StoreError::not_found("prompt", id))
    }

    pub(crate) async fn version_in(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<Option<Version>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN prompts p ON p.project = v.project AND p.prompt_key = v.prompt_key \
             WHERE v.project = $1 AND v.prompt_key = $2 AND v.version = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(id))
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
        row.as_ref().map(version_from_row).transpose()
    }
}

impl RegistryWrites for SqlStore {
    async fn create_project(
        &self,
        name: &str,
        environments: Option<&[String]>,
        actor: &Actor,
    ) -> Result<Project> {
        let mut tx = self.write_tx().await?;
        if let Some(existing) = Self::project_in(&mut tx, name).await? {
            return Err(StoreError::conflict(
                format!("project `{name}` already exists"),
                serde_json::to_value(existing).ok(),
            ));
        }
        let defaults: Vec<String> = DEFAULT_ENVIRONMENTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let project =
            Self::insert_project(&mut tx, name, environments.unwrap_or(&defaults), actor).await?;
        tx.commit().await?;
        Ok(project)
    }

    /// Replaces the project's environments (their order is the promotion order). An
    /// environment that a label points into cannot be removed.
    async fn set_environments(
        &self,
        project: &str,
        environments: &[String],
        actor: &Actor,
    ) -> Result<Project> {
        check_environments(environments)?;
        let mut tx = self.write_tx().await?;
        let before = Self::project_in(&mut tx, project)
            .await?
            .ok_or_else(|| StoreError::not_found("project", project))?;
        for removed in before
            .environments
            .iter()
            .filter(|e| !environments.contains(e))
        {
            let used = sqlx::query(
                "SELECT prompt_key FROM labels WHERE project = $1 AND environment = $2 LIMIT 1",
            )
            .bind(project)
            .bind(removed)
            .fetch_optional(&mut *tx)
            .await?;
            if used.is_some() {
                return Err(StoreError::conflict(
                    format!("environment `{removed}` still serves prompts; it cannot be removed"),
                    serde_json::to_value(&before).ok(),
                ));
            }
        }
        if before.environments == environments {
            return Ok(before);
        }
        sqlx::query("DELETE FROM environments WHERE project = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?;
        Self::insert_environments(&mut tx, project, environments).await?;
        append_audit(
            &mut tx,
            actor,
            "project.environments_changed",
            &format!("project:{project}"),
            json!({"from": before.environments, "to": environments}),
        )
        .await?;
        tx.commit().await?;
        Ok(Project {
            environments: environments.to_vec(),
            ..before
        })
    }

    async fn publish(&self, project: &str, new: &NewVersion, actor: &Actor) -> Result<Published> {
        if let Some(problem) = promptops_core::prompt::id::syntax_problem(&new.prompt_id) {
            return Err(StoreError::invalid(format!(
                "invalid prompt id `{}`: {problem}",
                new.prompt_id
            )));
        }
        let key = comparable(&new.prompt_id);
        let version = new.version.to_string();
        let mut tx = self.write_tx().await?;
        Self::ensure_project(&mut tx, project, actor).await?;
        let id = match Self::prompt_id_in(&mut tx, project, &new.prompt_id).await? {
            Some(id) => id,
            None => {
                sqlx::query("INSERT INTO prompts (project, prompt_key, id, module, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(project)
                    .bind(&key)
                    .bind(&new.prompt_id)
                    .bind(module_of(&new.prompt_id))
                    .bind(now_rfc3339())
                    .execute(&mut *tx)
                    .await?;
                new.prompt_id.clone()
            }
        };
        let same_content = sqlx::query("SELECT version FROM versions WHERE project = $1 AND prompt_key = $2 AND content_hash = $3")
            .bind(project)
            .bind(&key)
            .bind(&new.content_hash)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = same_content {
            let existing: String = get(&row, "version")?;
            let version = Self::version_in(&mut tx, project, &id, &existing)
                .await?
                .ok_or_else(|| StoreError::corrupt("a version vanished while publishing"))?;
            tx.rollback().await?;
            return Ok(Published {
                created: false,
                version,
            });
        }
        if let Some(taken) = Self::version_in(&mut tx, project, &id, &version).await? {
            return Err(StoreError::conflict(
                format!(
                    "{id}@{version} already exists with other content (hash {}); versions are immutable: bump the version in the file",
                    taken.content_hash
                ),
                Some(json!({"version": taken.version, "content_hash": taken.content_hash})),
            ));
        }
        let latest = sqlx::query("SELECT version, ordinal FROM versions WHERE project = $1 AND prompt_key = $2 ORDER BY ordinal DESC LIMIT 1")
            .bind(project)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
        let (latest_version, ordinal) = match &latest {
            Some(row) => (
                Some(get::<String>(row, "version")?),
                get::<i64>(row, "ordinal")?,
            ),
            None => (None, 0),
        };
        if let Some(latest) = &latest_version {
            let latest_semver = semver::Version::parse(latest)
                .map_err(|e| StoreError::corrupt(format!("stored version `{latest}`: {e}")))?;
            if new.version <= latest_semver {
                return Err(StoreError::conflict(
                    format!(
                        "{id}@{version} is not newer than the latest published version {latest}; versions must increase"
                    ),
                    Some(json!({"latest_version": latest})),
                ));
            }
        }
        let parent = new
            .parent
            .as_ref()
            .map(ToString::to_string)
            .or(latest_version);
        let changelog = new.changelog.as_ref().map(value_json);
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO versions (project, prompt_key, version, ordinal, content_hash, content, source, parent, author, changelog, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(project)
        .bind(&key)
        .bind(&version)
        .bind(ordinal + 1)
        .bind(&new.content_hash)
        .bind(&new.content)
        .bind(&new.source)
        .bind(&parent)
        .bind(actor.as_str())
        .bind(&changelog)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "version.published",
            &format!("prompt:{project}/{id}@{version}"),
            json!({"id": id, "version": version, "content_hash": new.content_hash, "parent": parent}),
        )
        .await?;
        let created = Self::version_in(&mut tx, project, &id, &version)
            .await?
            .ok_or_else(|| StoreError::corrupt("the new version could not be read back"))?;
        tx.commit().await?;
        Ok(Published {
            created: true,
            version: created,
        })
    }

    async fn move_label(
        &self,
        project: &str,
        req: &LabelMoveRequest,
        actor: &Actor,
    ) -> Result<LabelMove> {
        let mut tx = self.write_tx().await?;
        let planned = Self::plan_move(&mut tx, project, req).await?;
        let moved = Self::insert_move(
            &mut tx,
            project,
            &planned,
            actor,
            req.reason.as_deref(),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn attach_eval(&self, project: &str, run: &NewEvalRun, actor: &Actor) -> Result<EvalRun> {
        let version = run.version.to_string();
        // Refused rather than clamped: the stored row, the reply and the audit event must agree.
        let to_i64 = |n: u64, what: &str| {
            i64::try_from(n).map_err(|_| {
                StoreError::invalid(format!(
                    "{what} = {n} is larger than the store can keep ({})",
                    i64::MAX
                ))
            })
        };
        let (passed, failed, errors) = (
            to_i64(run.passed, "passed")?,
            to_i64(run.failed, "failed")?,
            to_i64(run.errors, "errors")?,
        );
        let mut tx = self.write_tx().await?;
        let id = Self::require_prompt(&mut tx, project, &run.prompt_id).await?;
        if Self::version_in(&mut tx, project, &id, &version)
            .await?
            .is_none()
        {
            return Err(StoreError::not_found(
                "version",
                format!("{id}@{version} (push it before publishing its eval)"),
            ));
        }
        let run_id: i64 = next_id(&mut tx, IdTable::EvalRuns).await?;
        let now = now_rfc3339();
        let summary = value_json(&run.summary);
        let measured = serde_json::to_string(&run.measured)
            .map_err(|e| StoreError::invalid(format!("eval run figures: {e}")))?;
        sqlx::query(
            "INSERT INTO eval_runs (id, project, prompt_key, version, passed, failed, errors, summary, report, actor, created_at, via_key, ci_key, measured) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(run_id)
        .bind(project)
        .bind(comparable(&id))
        .bind(&version)
        .bind(passed)
        .bind(failed)
        .bind(errors)
        .bind(&summary)
        .bind(run.report.as_ref().map(|r| r.to_string()))
        .bind(actor.as_str())
        .bind(&now)
        .bind(&actor.via_key)
        .bind(i64::from(run.ci_key))
        .bind(&measured)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "eval.attached",
            &format!("prompt:{project}/{id}@{version}"),
            json!({"id": id, "version": version, "run": run_id, "passed": run.passed, "failed": run.failed, "errors": run.errors,
                   "measured": run.measured, "via_key": actor.via_key, "ci_key": run.ci_key}),
        )
        .await?;
        tx.commit().await?;
        Ok(EvalRun {
            id: to_u64(run_id, "eval run id")?,
            prompt_id: id,
            version,
            passed: run.passed,
            failed: run.failed,
            errors: run.errors,
            summary: run.summary.clone(),
            measured: Some(run.measured.clone()),
            actor: actor.name.clone(),
            via_key: actor.via_key.clone(),
            ci_key: run.ci_key,
            created_at: now,
        })
    }
}
