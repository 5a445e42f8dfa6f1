//! Policies, promotion requests, approvals and the gated promotion itself. A promotion
//! is judged and carried out in one write transaction, so the gates are judged on the
//! state the move lands on: no approval, eval or label can change in between.

use crate::error::{Result, StoreError};
use crate::model::*;
use crate::sql::{
    EVAL_COLUMNS, GovernedMove, IdTable, PlannedMove, SqlRegistry, Tx, append_audit, eval_from_row,
    get, next_id, parse_json, to_u64,
};
use promptops_core::clock::now_rfc3339;
use promptops_core::config::ComplianceConfig;
use promptops_core::policy::{
    self, ApprovalFacts, Completion, EvalFacts, Facts, GateOutcome, Gates, Policy,
};
use promptops_core::prompt::id::comparable;
use promptops_core::role::Role;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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
const REQUEST_COLUMNS: &str = "r.id, p.id AS prompt_id, r.project, r.environment, r.version, r.requested_by, r.requested_at, r.reason, r.status, r.closed_by, r.closed_at, r.closing_comment, r.move_id";

/// Parses a stored policy; one the server accepted must parse again.
fn parsed(revision: &PolicyRevision) -> Result<Policy> {
    let path = format!(
        "policy {}/{} revision {}",
        revision.project, revision.environment, revision.revision
    );
    policy::parse(&path, &revision.source)
        .map(|(p, _)| p)
        .map_err(|findings| {
            let first = findings
                .iter()
                .find(|d| d.is_error())
                .map_or_else(String::new, |d| d.message.clone());
            StoreError::corrupt(format!("{path} no longer parses: {first}"))
        })
}

/// Checks a policy before it is stored: it parses, and names no other environment.
pub(crate) fn check_policy(environment: &str, source: &str) -> Result<Policy> {
    let path = format!("policies/{environment}.yaml");
    let policy = match policy::parse(&path, source) {
        Ok((policy, _warnings)) => policy,
        Err(findings) => {
            let errors: Vec<String> = findings
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("{}:{}:{}: {}", d.path, d.line, d.column, d.message))
                .collect();
            return Err(StoreError::invalid(format!(
                "the policy does not parse: {}",
                errors.join("; ")
            )));
        }
    };
    if let Some(named) = &policy.environment
        && named != environment
    {
        return Err(StoreError::invalid(format!(
            "the policy says `environment: {named}` but is stored for `{environment}`; fix one of them"
        )));
    }
    Ok(policy)
}

/// Everything the gates of one promotion are judged on, read inside the transaction.
struct Judged {
    revision: Option<u64>,
    gates: Vec<GateOutcome>,
    needs_approval: bool,
    completion: Completion,
    checklist: Vec<String>,
}

impl Judged {
    fn all_passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    fn unmet_json(&self) -> Json {
        json!(self.gates.iter().filter(|g| !g.passed).collect::<Vec<_>>())
    }
}

impl SqlRegistry {
    // ----- policies -----------------------------------------------------------------

    async fn policy_in(
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

    /// Stores a new revision of an environment's policy (the same text again changes
    /// nothing and returns the current revision).
    pub async fn put_policy(
        &self,
        project: &str,
        env: &str,
        source: &str,
        actor: &Actor,
    ) -> Result<PolicyRevision> {
        check_policy(env, source)?;
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

    pub async fn policy(&self, project: &str, env: &str) -> Result<Option<PolicyRevision>> {
        let mut conn = self.pool.acquire().await?;
        Self::policy_in(&mut conn, project, env).await
    }

    /// Every revision of every environment's policy, oldest first.
    pub async fn policy_history(&self, project: &str) -> Result<Vec<PolicyRevision>> {
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

    // ----- requests -----------------------------------------------------------------

    async fn decisions_in(conn: &mut AnyConnection, request: i64) -> Result<Vec<Decision>> {
        sqlx::query(
            "SELECT actor, role, teams, decision, comment, checklist, at FROM approvals WHERE request_id = $1 ORDER BY id",
        )
        .bind(request)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let role: String = get(r, "role")?;
            let verdict: String = get(r, "decision")?;
            Ok(Decision {
                actor: get(r, "actor")?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::corrupt(format!("unknown role `{role}`")))?,
                teams: serde_json::from_value(parse_json(&get::<String>(r, "teams")?, "teams")?)
                    .map_err(|e| StoreError::corrupt(format!("approval teams: {e}")))?,
                verdict: match verdict.as_str() {
                    "approve" => Verdict::Approve,
                    "reject" => Verdict::Reject,
                    other => {
                        return Err(StoreError::corrupt(format!("unknown decision `{other}`")));
                    }
                },
                comment: get(r, "comment")?,
                checklist: serde_json::from_value(parse_json(
                    &get::<String>(r, "checklist")?,
                    "checklist",
                )?)
                .map_err(|e| StoreError::corrupt(format!("approval checklist: {e}")))?,
                at: get(r, "at")?,
            })
        })
        .collect()
    }

    async fn request_from_row(conn: &mut AnyConnection, row: &AnyRow) -> Result<PromotionRequest> {
        let id: i64 = get(row, "id")?;
        let status: String = get(row, "status")?;
        Ok(PromotionRequest {
            id: to_u64(id, "request id")?,
            project: get(row, "project")?,
            prompt_id: get(row, "prompt_id")?,
            environment: get(row, "environment")?,
            version: get(row, "version")?,
            requested_by: get(row, "requested_by")?,
            requested_at: get(row, "requested_at")?,
            reason: get(row, "reason")?,
            status: RequestStatus::parse(&status)
                .ok_or_else(|| StoreError::corrupt(format!("unknown request status `{status}`")))?,
            closed_by: get(row, "closed_by")?,
            closed_at: get(row, "closed_at")?,
            closing_comment: get(row, "closing_comment")?,
            move_id: get::<Option<i64>>(row, "move_id")?
                .map(|m| to_u64(m, "move id"))
                .transpose()?,
            decisions: Self::decisions_in(conn, id).await?,
        })
    }

    async fn request_in(
        conn: &mut AnyConnection,
        project: &str,
        id: u64,
    ) -> Result<PromotionRequest> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM promotion_requests r JOIN prompts p ON p.project = r.project AND p.prompt_key = r.prompt_key \
             WHERE r.project = $1 AND r.id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(i64::try_from(id).unwrap_or(i64::MAX))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found("promotion request", id.to_string()))?;
        Self::request_from_row(conn, &row).await
    }

    /// The request, which must still be open (409 with its state otherwise).
    async fn open_request_by_id(
        conn: &mut AnyConnection,
        project: &str,
        id: u64,
    ) -> Result<PromotionRequest> {
        let request = Self::request_in(conn, project, id).await?;
        if request.status != RequestStatus::Open {
            return Err(StoreError::conflict(
                format!(
                    "request {id} is {} already; nothing more can be done with it",
                    request.status.as_str()
                ),
                serde_json::to_value(&request).ok(),
            ));
        }
        Ok(request)
    }

    async fn open_request_in(
        conn: &mut AnyConnection,
        project: &str,
        key: &str,
        env: &str,
        version: &str,
    ) -> Result<Option<PromotionRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM promotion_requests r JOIN prompts p ON p.project = r.project AND p.prompt_key = r.prompt_key \
             WHERE r.project = $1 AND r.prompt_key = $2 AND r.environment = $3 AND r.version = $4 AND r.status = 'open'"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(key)
            .bind(env)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => Ok(Some(Self::request_from_row(conn, &row).await?)),
            None => Ok(None),
        }
    }

    /// Requests of a project (with one status, when given), newest first.
    pub async fn requests(
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

    pub async fn request(&self, project: &str, id: u64) -> Result<PromotionRequest> {
        let mut conn = self.pool.acquire().await?;
        Self::request_in(&mut conn, project, id).await
    }

    async fn close_request(
        tx: &mut Tx,
        request: &PromotionRequest,
        status: RequestStatus,
        actor: &Actor,
        comment: Option<&str>,
        move_id: Option<u64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE promotion_requests SET status = $1, closed_by = $2, closed_at = $3, closing_comment = $4, move_id = $5 WHERE id = $6 AND status = 'open'",
        )
        .bind(status.as_str())
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .bind(comment)
        .bind(move_id.map(|m| m as i64))
        .bind(request.id as i64)
        .execute(&mut **tx)
        .await?;
        append_audit(
            tx,
            actor,
            &format!("promotion.{}", status.as_str()),
            &format!(
                "request:{}/{}",
                request.project, request.id
            ),
            json!({"request": request.id, "id": request.prompt_id, "environment": request.environment, "version": request.version, "comment": comment, "move": move_id}),
        )
        .await
    }

    // ----- judging ------------------------------------------------------------------

    async fn judge(
        tx: &mut Tx,
        project: &str,
        planned: &PlannedMove,
        requester: &str,
        request: Option<&PromotionRequest>,
    ) -> Result<Judged> {
        let env = planned.environment.as_str();
        let Some(revision) = Self::policy_in(tx, project, env).await? else {
            return Ok(Judged {
                revision: None,
                gates: Vec::new(),
                needs_approval: false,
                completion: Completion::Auto,
                checklist: Vec::new(),
            });
        };
        let policy = parsed(&revision)?;
        let version = Self::version_in(tx, project, &planned.id, &planned.target)
            .await?
            .ok_or_else(|| {
                StoreError::not_found("version", format!("{}@{}", planned.id, planned.target))
            })?;
        let gates: Gates = match policy.effective(&version.content) {
            Ok(gates) => gates,
            Err(e) => {
                // A condition that cannot be judged blocks: a policy never passes by accident.
                return Ok(Judged {
                    revision: Some(revision.revision),
                    gates: vec![GateOutcome {
                        gate: "policy",
                        passed: false,
                        message: format!(
                            "the {env} policy (revision {}) cannot be judged for this prompt: {e}",
                            revision.revision
                        ),
                        detail: json!({"revision": revision.revision}),
                    }],
                    needs_approval: false,
                    completion: policy.completion,
                    checklist: Vec::new(),
                });
            }
        };
        let labels: BTreeMap<String, String> = sqlx::query(
            "SELECT environment, version FROM labels WHERE project = $1 AND prompt_key = $2",
        )
        .bind(project)
        .bind(&planned.key)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((get(r, "environment")?, get(r, "version")?)))
        .collect::<Result<_>>()?;
        let latest_eval = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVAL_COLUMNS} FROM eval_runs WHERE project = $1 AND prompt_key = $2 AND version = $3 ORDER BY id DESC LIMIT 1"
        )))
        .bind(project)
        .bind(&planned.key)
        .bind(&planned.target)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| -> Result<EvalFacts> {
            let run = eval_from_row(&planned.key, &r)?;
            // Only what the server measured counts; a run stored before it measured
            // has its counts and nothing else.
            let measured = run.measured.unwrap_or_default();
            Ok(EvalFacts {
                run: run.id,
                passed: run.passed,
                failed: run.failed,
                errors: run.errors,
                cost_per_call_usd: measured.cost_per_call_usd,
                p95_latency_ms: measured.p95_latency_ms,
                attached_by: run.actor,
                via_key: run.via_key,
                ci_key: run.ci_key,
            })
        })
        .transpose()?;
        let approvals: Vec<ApprovalFacts> = request
            .map(|r| {
                r.decisions
                    .iter()
                    .filter(|d| d.verdict == Verdict::Approve)
                    .map(|d| ApprovalFacts {
                        user: d.actor.clone(),
                        role: d.role,
                        teams: d.teams.clone(),
                        checklist: d.checklist.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let compliance_defaults = ComplianceConfig::default().required_fields;
        let facts = Facts {
            prompt: &version.content,
            version: &planned.target,
            author: &version.author,
            requester,
            labels: &labels,
            latest_eval: latest_eval.as_ref(),
            approvals: &approvals,
            compliance_defaults: &compliance_defaults,
        };
        Ok(Judged {
            revision: Some(revision.revision),
            gates: policy::evaluate(&gates, &facts),
            needs_approval: gates.needs_approval(),
            completion: policy.completion,
            checklist: gates.checklist.clone(),
        })
    }

    // ----- promotion ----------------------------------------------------------------

    /// Promotes a version through the environment's policy: moves the label when every
    /// gate holds; otherwise reports the unmet gates (opening a request for approvals
    /// when the policy asks for them); moves it anyway for an admin's override.
    pub async fn promote(
        &self,
        project: &str,
        req: &PromoteRequest,
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

    async fn complete(
        tx: &mut Tx,
        project: &str,
        planned: &PlannedMove,
        actor: &Actor,
        request: Option<&PromotionRequest>,
        reason: Option<&str>,
    ) -> Result<LabelMove> {
        let moved = Self::insert_move(
            tx,
            project,
            planned,
            actor,
            reason,
            Some(&GovernedMove {
                override_reason: None,
                overridden_gates: None,
                request: request.map(|r| r.id),
            }),
        )
        .await?;
        if let Some(r) = request {
            Self::close_request(tx, r, RequestStatus::Completed, actor, None, Some(moved.id))
                .await?;
        }
        Ok(moved)
    }

    async fn open_request(
        tx: &mut Tx,
        project: &str,
        planned: &PlannedMove,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<u64> {
        let id: i64 = next_id(tx, IdTable::PromotionRequests).await?;
        sqlx::query(
            "INSERT INTO promotion_requests (id, project, prompt_key, environment, version, requested_by, requested_at, reason, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')",
        )
        .bind(id)
        .bind(project)
        .bind(&planned.key)
        .bind(&planned.environment)
        .bind(&planned.target)
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .bind(reason)
        .execute(&mut **tx)
        .await?;
        append_audit(
            tx,
            actor,
            "promotion.requested",
            &format!("request:{project}/{id}"),
            json!({"request": id, "id": planned.id, "environment": planned.environment, "version": planned.target, "from": planned.current, "reason": reason}),
        )
        .await?;
        to_u64(id, "request id")
    }

    /// Records an approval or a rejection. Nobody decides on their own change: the
    /// version's author and the requester are refused whatever their role. When the
    /// last approval arrives, every gate holds and the policy completes automatically,
    /// the label moves in the same transaction.
    pub async fn decide(
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
    pub async fn withdraw(
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

    /// The gates of a request as they stand now.
    pub async fn request_gates(&self, project: &str, request_id: u64) -> Result<Vec<GateOutcome>> {
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
