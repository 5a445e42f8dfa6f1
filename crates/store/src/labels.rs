//! Label moves: where a move goes (checked against the stored state) and recording it.
//! Used by plain moves (rollbacks) and by promotions through a policy.

use crate::engine::{IdTable, SqlStore, WriteTx, append_audit, get, next_id, to_u64};
use crate::error::{Result, StoreError};
use crate::lineage::{self, PastMove};
use crate::model::*;
use promptops_api::*;
use promptops_core::canonical::value_json;
use promptops_core::clock::now_rfc3339;
use promptops_core::prompt::id::comparable;
use serde_json::{Value as Json, json};
use sqlx::AnyConnection;

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

impl SqlStore {
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

    /// Checks a move against the stored state (the environment exists, the label has not
    /// moved since the caller read it, the target exists and differs from what is served)
    /// and works out where it goes.
    pub(crate) async fn plan_move(
        tx: &mut WriteTx,
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
        tx: &mut WriteTx,
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
}
