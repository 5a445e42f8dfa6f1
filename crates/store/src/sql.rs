//! The registry's logic in SQL, shared by both backends through sqlx's `Any` driver.
//! Every statement here is plain SQL that SQLite and PostgreSQL read alike (`$n`
//! placeholders, `ON CONFLICT ... DO UPDATE`); what differs — connecting, the write
//! lock, the append-only triggers — lives in `sqlite.rs` and `postgres.rs`.
//!
//! Every write runs in one transaction that first takes the backend's write lock, so
//! checks and the audit append see a state no other writer can change under them: two
//! racing writers are serialised, and the second is judged against the first's result.

use crate::audit::{self, GENESIS, StoredEvent, Verification};
use crate::error::{Result, StoreError};
use crate::lineage::{self, PastMove};
use crate::model::*;
use promptops_core::canonical::value_json;
use promptops_core::clock::now_rfc3339;
use promptops_core::prompt::id::comparable;
use serde_json::{Value as Json, json};
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) struct SqlRegistry {
    pub pool: AnyPool,
    pub dialect: Dialect,
}

pub(crate) type Tx = Transaction<'static, Any>;

/// Project and environment names: what fits in a URL path segment unescaped.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        // `.` and `..` would be path segments, not names.
        && name.chars().any(|c| c != '.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "invalid {what} name `{}`: use 1 to {MAX_NAME_CHARS} letters, digits, `-`, `_` or `.`, not dots alone",
            shown(name)
        )))
    }
}

/// The longest project, environment, user, team or key name.
pub const MAX_NAME_CHARS: usize = 64;

/// A name as quoted in an error: whole if short, else its start (an attacker's
/// megabyte-long name must not come back in full).
pub(crate) fn shown(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((at, _)) => format!("{}… ({} bytes)", &name[..at], name.len()),
        None => name.to_owned(),
    }
}

fn module_of(id: &str) -> &str {
    id.rsplit_once('.').map_or("", |(m, _)| m)
}

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

const VERSION_COLUMNS: &str = "p.id, v.version, v.content_hash, v.content, v.source, v.parent, v.author, v.changelog, v.created_at";

fn version_from_row(row: &AnyRow) -> Result<Version> {
    let changelog: Option<String> = get(row, "changelog")?;
    Ok(Version {
        id: get(row, "id")?,
        version: get(row, "version")?,
        content_hash: get(row, "content_hash")?,
        content: parse_json(&get::<String>(row, "content")?, "version content")?,
        source: get(row, "source")?,
        parent: get(row, "parent")?,
        author: get(row, "author")?,
        changelog: changelog
            .map(|c| parse_json(&c, "version changelog"))
            .transpose()?,
        created_at: get(row, "created_at")?,
        overrides: Vec::new(),
    })
}

fn move_from_row(id: &str, row: &AnyRow) -> Result<LabelMove> {
    let kind: String = get(row, "kind")?;
    Ok(LabelMove {
        id: to_u64(get(row, "id")?, "label move id")?,
        prompt_id: id.to_owned(),
        environment: get(row, "environment")?,
        from_version: get(row, "from_version")?,
        to_version: get(row, "to_version")?,
        kind: MoveKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt(format!("unknown label move kind `{kind}`")))?,
        actor: get(row, "actor")?,
        reason: get(row, "reason")?,
        moved_at: get(row, "moved_at")?,
        override_reason: get(row, "override_reason")?,
        overridden_gates: get::<Option<String>>(row, "overridden_gates")?
            .map(|g| parse_json(&g, "overridden gates"))
            .transpose()?,
        request: get::<Option<i64>>(row, "request_id")?
            .map(|r| to_u64(r, "request id"))
            .transpose()?,
    })
}

/// A move checked against the stored state, ready to record.
#[derive(Debug, Clone)]
pub(crate) struct PlannedMove {
    pub id: String,
    pub key: String,
    pub environment: String,
    pub current: Option<String>,
    pub kind: MoveKind,
    pub target: String,
}

/// What a move made through the policy carries besides the move itself.
pub(crate) struct GovernedMove<'a> {
    pub override_reason: Option<&'a str>,
    pub overridden_gates: Option<&'a Json>,
    pub request: Option<u64>,
}

pub(crate) fn eval_from_row(id: &str, row: &AnyRow) -> Result<EvalRun> {
    Ok(EvalRun {
        id: to_u64(get(row, "id")?, "eval run id")?,
        prompt_id: id.to_owned(),
        version: get(row, "version")?,
        passed: to_u64(get(row, "passed")?, "passed")?,
        failed: to_u64(get(row, "failed")?, "failed")?,
        errors: to_u64(get(row, "errors")?, "errors")?,
        summary: parse_json(&get::<String>(row, "summary")?, "eval summary")?,
        measured: get::<Option<String>>(row, "measured")?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt(format!("eval run figures: {e}")))
            })
            .transpose()?,
        actor: get(row, "actor")?,
        via_key: get(row, "via_key")?,
        ci_key: get::<i64>(row, "ci_key")? != 0,
        created_at: get(row, "created_at")?,
    })
}

/// The columns [`eval_from_row`] reads.
pub(crate) const EVAL_COLUMNS: &str =
    "id, version, passed, failed, errors, summary, measured, actor, via_key, ci_key, created_at";

impl SqlRegistry {
    /// A transaction holding the backend's write lock.
    pub(crate) async fn write_tx(&self) -> Result<Tx> {
        match self.dialect {
            // IMMEDIATE takes SQLite's one write lock at BEGIN, so a transaction never
            // has to upgrade from reading (where two would deadlock into SQLITE_BUSY).
            Dialect::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await?;
                // One lock per schema: writers of one registry queue here; readers and
                // other registries (test schemas) do not.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    // ----- projects -------------------------------------------------------------

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

    async fn insert_project(
        tx: &mut Tx,
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

    async fn insert_environments(
        tx: &mut Tx,
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
    pub(crate) async fn ensure_project(tx: &mut Tx, name: &str, actor: &Actor) -> Result<Project> {
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

    pub async fn create_project(
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

    pub async fn project(&self, name: &str) -> Result<Project> {
        let mut conn = self.pool.acquire().await?;
        Self::project_in(&mut conn, name)
            .await?
            .ok_or_else(|| StoreError::not_found("project", name))
    }

    pub async fn projects(&self) -> Result<Vec<Project>> {
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

    /// Replaces the project's environments (their order is the promotion order). An
    /// environment that a label points into cannot be removed.
    pub async fn set_environments(
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

    // ----- prompts and versions -------------------------------------------------

    async fn prompt_id_in(
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

    pub async fn publish(
        &self,
        project: &str,
        new: &NewVersion,
        actor: &Actor,
    ) -> Result<Published> {
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

    pub async fn prompts(&self, project: &str) -> Result<Vec<PromptSummary>> {
        let mut conn = self.pool.acquire().await?;
        if Self::project_in(&mut conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        let rows = sqlx::query(
            "SELECT p.id, p.module, p.created_at, COUNT(v.version) AS versions, \
                    (SELECT v2.version FROM versions v2 WHERE v2.project = p.project AND v2.prompt_key = p.prompt_key ORDER BY v2.ordinal DESC LIMIT 1) AS latest \
             FROM prompts p LEFT JOIN versions v ON v.project = p.project AND v.prompt_key = p.prompt_key \
             WHERE p.project = $1 GROUP BY p.project, p.prompt_key, p.id, p.module, p.created_at ORDER BY p.prompt_key",
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

    pub async fn versions(&self, project: &str, id: &str) -> Result<Vec<Version>> {
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

    pub async fn version(&self, project: &str, id: &str, version: &str) -> Result<Version> {
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

    // ----- labels ---------------------------------------------------------------

    pub(crate) async fn current_label(
        conn: &mut AnyConnection,
        project: &str,
        key: &str,
        env: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query("SELECT version FROM labels WHERE project = $1 AND prompt_key = $2 AND environment = $3")
            .bind(project)
            .bind(key)
            .bind(env)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|r| get(&r, "version")).transpose()
    }

    pub async fn move_label(
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

    /// Checks a move against the stored state (the environment exists, the label has not
    /// moved since the caller read it, the target exists and differs from what is served)
    /// and works out where it goes.
    pub(crate) async fn plan_move(
        tx: &mut Tx,
        project: &str,
        req: &LabelMoveRequest,
    ) -> Result<PlannedMove> {
        let key = comparable(&req.prompt_id);
        let env = req.environment.as_str();
        let proj = Self::project_in(tx, project)
            .await?
            .ok_or_else(|| StoreError::not_found("project", project))?;
        if !proj.environments.iter().any(|e| e == env) {
            return Err(StoreError::invalid(format!(
                "unknown environment `{env}`; project `{project}` has {}",
                proj.environments.join(", ")
            )));
        }
        let id = Self::require_prompt(tx, project, &req.prompt_id).await?;
        let current = Self::current_label(tx, project, &key, env).await?;
        let state = || json!({"environment": env, "version": current});
        if let Some(expected) = &req.expected_from
            && *expected != current
        {
            return Err(StoreError::conflict(
                format!(
                    "the {env} label of {id} moved since it was read: it points at {} now",
                    current.as_deref().unwrap_or("nothing")
                ),
                Some(state()),
            ));
        }
        let history = sqlx::query("SELECT kind, to_version FROM label_moves WHERE project = $1 AND prompt_key = $2 AND environment = $3 ORDER BY id")
            .bind(project)
            .bind(&key)
            .bind(env)
            .fetch_all(&mut **tx)
            .await?;
        let past: Vec<(MoveKind, String)> = history
            .iter()
            .map(|r| {
                let kind: String = get(r, "kind")?;
                let kind = MoveKind::parse(&kind).ok_or_else(|| {
                    StoreError::corrupt(format!("unknown label move kind `{kind}`"))
                })?;
                Ok((kind, get::<String>(r, "to_version")?))
            })
            .collect::<Result<_>>()?;
        let past_moves: Vec<PastMove> = past
            .iter()
            .map(|(kind, to)| PastMove { kind: *kind, to })
            .collect();
        let (kind, target) = match &req.target {
            MoveTarget::Promote(v) => (MoveKind::Promote, v.to_string()),
            MoveTarget::RollbackPrevious => match lineage::previous(&past_moves) {
                Some(v) => (MoveKind::Rollback, v.to_owned()),
                None => {
                    return Err(StoreError::invalid(format!(
                        "nothing to roll back to: {env} of {id} has not served another version before {}",
                        current.as_deref().unwrap_or("(nothing yet)")
                    )));
                }
            },
            MoveTarget::RollbackTo(v) => {
                let v = v.to_string();
                if !lineage::was_live(&past_moves, &v) {
                    return Err(StoreError::invalid(format!(
                        "{id}@{v} was never live in {env}; roll back only to a version that was (see `promptops history {id}`)"
                    )));
                }
                (MoveKind::Rollback, v)
            }
        };
        if Self::version_in(tx, project, &id, &target).await?.is_none() {
            return Err(StoreError::not_found("version", format!("{id}@{target}")));
        }
        if current.as_deref() == Some(target.as_str()) {
            return Err(StoreError::conflict(
                format!("{env} already serves {id}@{target}"),
                Some(state()),
            ));
        }
        Ok(PlannedMove {
            id,
            key,
            environment: env.to_owned(),
            current,
            kind,
            target,
        })
    }

    /// Records a planned move: the move row, the label, the audit event.
    pub(crate) async fn insert_move(
        tx: &mut Tx,
        project: &str,
        planned: &PlannedMove,
        actor: &Actor,
        reason: Option<&str>,
        governed: Option<&GovernedMove<'_>>,
    ) -> Result<LabelMove> {
        let PlannedMove {
            id,
            key,
            environment: env,
            current,
            kind,
            target,
        } = planned;
        let move_id: i64 = next_id(tx, IdTable::LabelMoves).await?;
        let now = now_rfc3339();
        let override_reason = governed.and_then(|g| g.override_reason);
        let overridden = governed.and_then(|g| g.overridden_gates.cloned());
        let request = governed.and_then(|g| g.request);
        sqlx::query(
            "INSERT INTO label_moves (id, project, prompt_key, environment, from_version, to_version, kind, actor, reason, moved_at, override_reason, overridden_gates, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(move_id)
        .bind(project)
        .bind(key)
        .bind(env)
        .bind(current)
        .bind(target)
        .bind(kind.as_str())
        .bind(actor.as_str())
        .bind(reason)
        .bind(&now)
        .bind(override_reason)
        .bind(overridden.as_ref().map(value_json))
        .bind(request.map(|r| r as i64))
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO labels (project, prompt_key, environment, version, move_id) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (project, prompt_key, environment) DO UPDATE SET version = excluded.version, move_id = excluded.move_id",
        )
        .bind(project)
        .bind(key)
        .bind(env)
        .bind(target)
        .bind(move_id)
        .execute(&mut **tx)
        .await?;
        let mut details = json!({"id": id, "environment": env, "from": current, "to": target, "kind": kind.as_str(), "reason": reason, "move": move_id});
        let action = if let Some(why) = override_reason {
            details["override_reason"] = json!(why);
            details["overridden_gates"] = overridden.clone().unwrap_or(Json::Null);
            "label.overridden"
        } else {
            "label.moved"
        };
        if let Some(request) = request {
            details["request"] = json!(request);
        }
        append_audit(
            tx,
            actor,
            action,
            &format!("label:{project}/{id}/{env}"),
            details,
        )
        .await?;
        Ok(LabelMove {
            id: to_u64(move_id, "label move id")?,
            prompt_id: id.clone(),
            environment: env.clone(),
            from_version: current.clone(),
            to_version: target.clone(),
            kind: *kind,
            actor: actor.name.clone(),
            reason: reason.map(str::to_owned),
            moved_at: now,
            override_reason: override_reason.map(str::to_owned),
            overridden_gates: overridden,
            request,
        })
    }

    pub async fn labels(&self, project: &str, id: &str) -> Result<Vec<Label>> {
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

    pub async fn label_history(
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
    pub async fn resolve(&self, project: &str, id: &str, env: &str) -> Result<Version> {
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

    // ----- eval runs ------------------------------------------------------------

    pub async fn attach_eval(
        &self,
        project: &str,
        run: &NewEvalRun,
        actor: &Actor,
    ) -> Result<EvalRun> {
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

    pub async fn eval_runs(&self, project: &str, id: &str, version: &str) -> Result<Vec<EvalRun>> {
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
    pub async fn eval_report(&self, project: &str, run: u64) -> Result<Json> {
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

    // ----- audit ----------------------------------------------------------------

    pub async fn audit_events(&self, after: u64, limit: u64) -> Result<Vec<AuditEvent>> {
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

    pub async fn audit_verify(&self, kept_head: Option<&AuditHead>) -> Result<Verification> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        let events = rows.iter().map(stored_event).collect::<Result<Vec<_>>>()?;
        Ok(audit::verify(&events, kept_head))
    }

    pub async fn audit_head(&self) -> Result<Option<AuditHead>> {
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

fn stored_event(row: &AnyRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq: get(row, "seq")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        details: get(row, "details")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

/// The tables whose row ids the store hands out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdTable {
    LabelMoves,
    EvalRuns,
    PromotionRequests,
    Approvals,
}

/// The next row id of `table`: `MAX + 1`, taken under the write lock the caller's
/// transaction holds, so ids are gapless and two writers never take the same one.
pub(crate) async fn next_id(tx: &mut Tx, table: IdTable) -> Result<i64> {
    let sql = match table {
        IdTable::LabelMoves => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM label_moves",
        IdTable::EvalRuns => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM eval_runs",
        IdTable::PromotionRequests => {
            "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM promotion_requests"
        }
        IdTable::Approvals => "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM approvals",
    };
    get(&sqlx::query(sql).fetch_one(&mut **tx).await?, "next")
}

/// Appends an event to the chain, inside the caller's write transaction.
pub(crate) async fn append_audit(
    tx: &mut Tx,
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
    Ok(())
}
