//! Policies, promotion requests, approvals and the gated promotion itself. A promotion
//! is judged and carried out in one write transaction, so the gates are judged on the
//! state the move lands on: no approval, eval or label can change in between.

mod judge;
mod promote;
mod requests;

use crate::engine::{IdTable, SqlStore, append_audit, get, next_id, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::Governance;
use crate::labels::GovernedMove;
use crate::labels::PlannedMove;
use crate::model::*;
use promptops_api::*;
use promptops_core::canonical::sha256_hex;
use promptops_core::clock::now_rfc3339;
use promptops_core::policy::{Completion, Policy};
use promptops_core::prompt::id::comparable;
use promptops_core::role::Role;
use requests::REQUEST_COLUMNS;
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

fn policy_from_row(row: &AnyRow) -> Result<PolicyRevision> {
    Ok(PolicyRevision {
        project: get(row, "project")?,
        environment: get(row, "environment")?,
        revision: to_u64(get(row, "revision")?, "policy revision")?,
        source: get(row, "source")?,
        source_hash: get(row, "source_hash")?,
        author: get(row, "author")?,
        created_at: get(row, "created_at")?,
    })
}

const POLICY_COLUMNS: &str =
    "project, environment, revision, source, source_hash, author, created_at";

impl SqlStore {
    pub(crate) async fn policy_in(
        conn: &mut AnyConnection,
        project: &str,
        env: &str,
    ) -> Result<Option<PolicyRevision>> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE project = $1 AND environment = $2 ORDER BY revision DESC LIMIT 1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(env)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| policy_from_row(&r))
            .transpose()
    }
}

impl Governance for SqlStore {
    /// Stores a new revision of an environment's policy (the same text again changes
    /// nothing and returns the current revision).
    async fn put_policy(
        &self,
        project: &str,
        env: &str,
        source: &str,
        parsed: &Policy,
        actor: &Actor,
    ) -> Result<PolicyRevision> {
        if let Some(named) = &parsed.environment
            && named != env
        {
            return Err(StoreError::invalid(format!(
                "the policy says `environment: {named}` but is stored for `{env}`; fix one of them"
            )));
        }
        let mut tx = self.write_tx().await?;
        // Like a first push, a first policy creates the project with the default environments.
        let proj = Self::ensure_project(&mut tx, project, actor).await?;
        if !proj.environments.iter().any(|e| e == env) {
            return Err(StoreError::invalid(format!(
                "unknown environment `{env}`; project `{project}` has {}",
                proj.environments.join(", ")
            )));
        }
        let hash = sha256_hex(source);
        let current = Self::policy_in(&mut tx, project, env).await?;
        if let Some(current) = &current
            && current.source_hash == hash
        {
            return Ok(current.clone());
        }
        let revision = current.as_ref().map_or(1, |c| c.revision + 1);
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO policies (project, environment, revision, source, source_hash, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(project)
        .bind(env)
        .bind(revision as i64)
        .bind(source)
        .bind(&hash)
        .bind(actor.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "policy.updated",
            &format!("policy:{project}/{env}"),
            json!({"project": project, "environment": env, "revision": revision, "source_hash": hash, "previous": current.map(|c| c.revision)}),
        )
        .await?;
        tx.commit().await?;
        Ok(PolicyRevision {
            project: project.to_owned(),
            environment: env.to_owned(),
            revision,
            source: source.to_owned(),
            source_hash: hash,
            author: actor.name.clone(),
            created_at: now,
        })
    }

    async fn policy(&self, project: &str, env: &str) -> Result<Option<PolicyRevision>> {
        let mut conn = self.pool.acquire().await?;
        Self::policy_in(&mut conn, project, env).await
    }

    /// Every revision of every environment's policy, oldest first.
    async fn policy_history(&self, project: &str) -> Result<Vec<PolicyRevision>> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE project = $1 ORDER BY environment, revision"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(policy_from_row)
            .collect()
    }

    /// Promotes a version through the environment's policy: moves the label when every
    /// gate holds; otherwise reports the unmet gates (opening a request for approvals
    /// when the policy asks for them); moves it anyway for an admin's override.
    async fn promote(
        &self,
        project: &str,
        req: &Promote,
        actor: &Actor,
        role: Role,
    ) -> Result<Promotion> {
        let mut tx = self.write_tx().await?;
        let planned = Self::plan_move(
            &mut tx,
            project,
            &LabelMoveRequest {
                prompt_id: req.prompt_id.clone(),
                environment: req.environment.clone(),
                target: MoveTarget::Promote(req.version.clone()),
                expected_from: req.expected_from.clone(),
                reason: req.reason.clone(),
            },
        )
        .await?;
        let open = Self::open_request_in(
            &mut tx,
            project,
            &planned.key,
            &planned.environment,
            &planned.target,
        )
        .await?;
        let requester = open
            .as_ref()
            .map_or(actor.name.clone(), |r| r.requested_by.clone());
        let judged = Self::judge(&mut tx, project, &planned, &requester, open.as_ref()).await?;
        let answer = |outcome, label_move, request| Promotion {
            outcome,
            prompt_id: planned.id.clone(),
            environment: planned.environment.clone(),
            version: planned.target.clone(),
            policy_revision: judged.revision,
            gates: judged.gates.clone(),
            label_move,
            request,
        };
        match &req.mode {
            PromoteMode::DryRun => Ok(answer(PromotionOutcome::DryRun, None, open)),
            PromoteMode::Override { reason } if !judged.all_passed() => {
                if role != Role::Admin {
                    return Err(StoreError::forbidden(format!(
                        "only an admin of `{project}` may override the {} gates",
                        planned.environment
                    )));
                }
                if reason.trim().is_empty() {
                    return Err(StoreError::invalid(
                        "an override needs a reason: say why the gates are being bypassed",
                    ));
                }
                let unmet = judged.unmet_json();
                let moved = Self::insert_move(
                    &mut tx,
                    project,
                    &planned,
                    actor,
                    req.reason.as_deref(),
                    Some(&GovernedMove {
                        override_reason: Some(reason),
                        overridden_gates: Some(&unmet),
                        request: open.as_ref().map(|r| r.id),
                    }),
                )
                .await?;
                let request = match &open {
                    Some(r) => {
                        Self::close_request(
                            &mut tx,
                            r,
                            RequestStatus::Overridden,
                            actor,
                            Some(reason),
                            Some(moved.id),
                        )
                        .await?;
                        Some(Self::request_in(&mut tx, project, r.id).await?)
                    }
                    None => None,
                };
                tx.commit().await?;
                Ok(answer(PromotionOutcome::Overridden, Some(moved), request))
            }
            PromoteMode::Apply | PromoteMode::Override { .. } if judged.all_passed() => {
                let moved = Self::complete(
                    &mut tx,
                    project,
                    &planned,
                    actor,
                    open.as_ref(),
                    req.reason.as_deref(),
                )
                .await?;
                let request = match &open {
                    Some(r) => Some(Self::request_in(&mut tx, project, r.id).await?),
                    None => None,
                };
                tx.commit().await?;
                Ok(answer(PromotionOutcome::Moved, Some(moved), request))
            }
            PromoteMode::Apply | PromoteMode::Override { .. } => {
                if !judged.needs_approval || open.is_some() {
                    // Nothing to record: the caller hears which gates are unmet.
                    return Ok(answer(PromotionOutcome::Blocked, None, open));
                }
                let request =
                    Self::open_request(&mut tx, project, &planned, actor, req.reason.as_deref())
                        .await?;
                let request = Self::request_in(&mut tx, project, request).await?;
                tx.commit().await?;
                Ok(answer(PromotionOutcome::Blocked, None, Some(request)))
            }
        }
    }

    /// Records an approval or a rejection. Nobody decides on their own change: the
    /// version's author and the requester are refused whatever their role. When the
    /// last approval arrives, every gate holds and the policy completes automatically,
    /// the label moves in the same transaction.
    async fn decide(
        &self,
        project: &str,
        request_id: u64,
        decision: &NewDecision,
        decider: &Decider,
    ) -> Result<Promotion> {
        let actor = &decider.actor;
        let mut tx = self.write_tx().await?;
        let request = Self::open_request_by_id(&mut tx, project, request_id).await?;
        if decider.role < Role::Approver {
            return Err(StoreError::forbidden(format!(
                "deciding on a promotion needs the approver or admin role in `{project}`; {} is {}",
                actor.name, decider.role
            )));
        }
        let version = Self::version_in(&mut tx, project, &request.prompt_id, &request.version)
            .await?
            .ok_or_else(|| {
                StoreError::corrupt(format!(
                    "request {request_id} names {}@{}, which is missing",
                    request.prompt_id, request.version
                ))
            })?;
        if actor.name == version.author || actor.name == request.requested_by {
            let why = if actor.name == version.author {
                "published"
            } else {
                "requested"
            };
            return Err(StoreError::forbidden(format!(
                "separation of duties: {} {why} {}@{} and cannot decide on its promotion; another approver must",
                actor.name, request.prompt_id, request.version
            )));
        }
        if request
            .decisions
            .iter()
            .any(|d| d.actor == actor.name && d.verdict == Verdict::Approve)
            && decision.verdict == Verdict::Approve
        {
            return Err(StoreError::conflict(
                format!("{} has approved request {request_id} already", actor.name),
                serde_json::to_value(&request).ok(),
            ));
        }
        let comment = decision
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if decision.verdict == Verdict::Reject && comment.is_none() {
            return Err(StoreError::invalid(
                "a rejection needs a comment that says why",
            ));
        }
        let planned = Self::plan_move(
            &mut tx,
            project,
            &LabelMoveRequest {
                prompt_id: request.prompt_id.clone(),
                environment: request.environment.clone(),
                target: MoveTarget::Promote(semver::Version::parse(&request.version).map_err(
                    |e| StoreError::corrupt(format!("request {request_id} version: {e}")),
                )?),
                expected_from: None,
                reason: request.reason.clone(),
            },
        )
        .await?;
        if decision.verdict == Verdict::Approve {
            let before = Self::judge(
                &mut tx,
                project,
                &planned,
                &request.requested_by,
                Some(&request),
            )
            .await?;
            let ticked: Vec<String> = decision
                .checklist
                .iter()
                .map(|c| c.trim().to_lowercase())
                .collect();
            let missing: Vec<&String> = before
                .checklist
                .iter()
                .filter(|item| !ticked.contains(&item.trim().to_lowercase()))
                .collect();
            if !missing.is_empty() {
                return Err(StoreError::invalid(format!(
                    "the {} policy's checklist is not complete: tick {} (e.g. --check \"{}\")",
                    request.environment,
                    missing
                        .iter()
                        .map(|m| format!("\"{m}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    missing[0]
                )));
            }
        }
        let decision_id: i64 = next_id(&mut tx, IdTable::Approvals).await?;
        sqlx::query(
            "INSERT INTO approvals (id, request_id, actor, role, teams, decision, comment, checklist, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(decision_id)
        .bind(request_id as i64)
        .bind(actor.as_str())
        .bind(decider.role.as_str())
        .bind(json!(decider.teams).to_string())
        .bind(decision.verdict.as_str())
        .bind(comment)
        .bind(json!(decision.checklist).to_string())
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        let action = match decision.verdict {
            Verdict::Approve => "promotion.approved",
            Verdict::Reject => "promotion.rejected",
        };
        append_audit(
            &mut tx,
            actor,
            action,
            &format!("request:{project}/{request_id}"),
            json!({"request": request_id, "id": request.prompt_id, "environment": request.environment, "version": request.version, "role": decider.role, "teams": decider.teams, "comment": comment, "checklist": decision.checklist}),
        )
        .await?;
        if decision.verdict == Verdict::Reject {
            sqlx::query(
                "UPDATE promotion_requests SET status = 'rejected', closed_by = $1, closed_at = $2, closing_comment = $3 WHERE id = $4",
            )
            .bind(actor.as_str())
            .bind(now_rfc3339())
            .bind(comment)
            .bind(request_id as i64)
            .execute(&mut *tx)
            .await?;
        }
        let request = Self::request_in(&mut tx, project, request_id).await?;
        let judged = Self::judge(
            &mut tx,
            project,
            &planned,
            &request.requested_by,
            Some(&request),
        )
        .await?;
        let mut outcome = PromotionOutcome::Blocked;
        let mut label_move = None;
        if decision.verdict == Verdict::Approve
            && judged.all_passed()
            && judged.completion == Completion::Requester
        {
            outcome = PromotionOutcome::Ready;
        }
        if decision.verdict == Verdict::Approve
            && judged.all_passed()
            && judged.completion == Completion::Auto
        {
            let moved = Self::complete(
                &mut tx,
                project,
                &planned,
                actor,
                Some(&request),
                request.reason.as_deref(),
            )
            .await?;
            outcome = PromotionOutcome::Moved;
            label_move = Some(moved);
        }
        let request = Self::request_in(&mut tx, project, request_id).await?;
        tx.commit().await?;
        Ok(Promotion {
            outcome,
            prompt_id: planned.id,
            environment: planned.environment,
            version: planned.target,
            policy_revision: judged.revision,
            gates: judged.gates,
            label_move,
            request: Some(request),
        })
    }

    /// The requester (or an admin) takes an open request back.
    async fn withdraw(
        &self,
        project: &str,
        request_id: u64,
        actor: &Actor,
        role: Role,
        comment: Option<&str>,
    ) -> Result<PromotionRequest> {
        let mut tx = self.write_tx().await?;
        let request = Self::open_request_by_id(&mut tx, project, request_id).await?;
        if request.requested_by != actor.name && role != Role::Admin {
            return Err(StoreError::forbidden(format!(
                "only {} (who asked) or an admin may withdraw request {request_id}",
                request.requested_by
            )));
        }
        Self::close_request(
            &mut tx,
            &request,
            RequestStatus::Withdrawn,
            actor,
            comment,
            None,
        )
        .await?;
        let request = Self::request_in(&mut tx, project, request_id).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Requests of a project (with one status, when given), newest first.
    async fn requests(
        &self,
        project: &str,
        status: Option<RequestStatus>,
    ) -> Result<Vec<PromotionRequest>> {
        let mut conn = self.pool.acquire().await?;
        if Self::project_in(&mut conn, project).await?.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM promotion_requests r JOIN prompts p ON p.project = r.project AND p.prompt_key = r.prompt_key \
             WHERE r.project = $1 AND ($2 = '' OR r.status = $2) ORDER BY r.id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(status.map_or("", RequestStatus::as_str))
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(Self::request_from_row(&mut conn, row).await?);
        }
        Ok(out)
    }

    async fn request(&self, project: &str, id: u64) -> Result<PromotionRequest> {
        let mut conn = self.pool.acquire().await?;
        Self::request_in(&mut conn, project, id).await
    }

    /// The gates of a request as they stand now.
    async fn request_gates(&self, project: &str, request_id: u64) -> Result<Vec<GateOutcome>> {
        let mut tx = self.pool.begin().await?;
        let request = Self::request_in(&mut tx, project, request_id).await?;
        let planned = PlannedMove {
            id: request.prompt_id.clone(),
            key: comparable(&request.prompt_id),
            environment: request.environment.clone(),
            current: None,
            kind: MoveKind::Promote,
            target: request.version.clone(),
        };
        let judged = Self::judge(
            &mut tx,
            project,
            &planned,
            &request.requested_by,
            Some(&request),
        )
        .await?;
        tx.rollback().await?;
        Ok(judged.gates)
    }
}
