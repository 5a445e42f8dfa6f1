//! Judging a promotion: the environment's policy (its current revision) against the
//! facts read in the caller's transaction — labels, the latest eval run as the server
//! measured it, the newest red-team run and compatibility results, approvals — so the
//! gates are judged on the state a move lands on.

use crate::engine::{SqlStore, get};
use crate::error::{Result, StoreError};
use crate::labels::PlannedMove;
use crate::rows::{EVAL_COLUMNS, eval_from_row};
use promptops_api::*;
use promptops_core::config::ComplianceConfig;
use promptops_core::policy::{self, ApprovalFacts, Completion, EvalFacts, Facts, Gates, Policy};
use serde_json::{Value as Json, json};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

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

/// Everything the gates of one promotion are judged on, read inside the transaction.
pub(crate) struct Judged {
    pub revision: Option<u64>,
    pub gates: Vec<GateOutcome>,
    pub needs_approval: bool,
    pub completion: Completion,
    pub checklist: Vec<String>,
}

impl Judged {
    pub(crate) fn all_passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    pub(crate) fn unmet_json(&self) -> Json {
        json!(self.gates.iter().filter(|g| !g.passed).collect::<Vec<_>>())
    }
}

impl SqlStore {
    pub(crate) async fn judge(
        conn: &mut AnyConnection,
        project: &str,
        planned: &PlannedMove,
        requester: &str,
        request: Option<&PromotionRequest>,
    ) -> Result<Judged> {
        let env = planned.environment.as_str();
        let Some(revision) = Self::policy_in(conn, project, env).await? else {
            return Ok(Judged {
                revision: None,
                gates: Vec::new(),
                needs_approval: false,
                completion: Completion::Auto,
                checklist: Vec::new(),
            });
        };
        let policy = parsed(&revision)?;
        let version = Self::version_in(conn, project, &planned.id, &planned.target)
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
                        gate: "policy".to_owned(),
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
        .fetch_all(&mut *conn)
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
        .fetch_optional(&mut *conn)
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
        let redteam = Self::newest_redteam_in(conn, project, &version.id, &planned.target).await?;
        let compatibility =
            Self::newest_compatibility_in(conn, project, &version.id, &planned.target).await?;
        let assessments = crate::assessments::policy_facts(redteam.as_ref(), &compatibility);
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
            assessments: &assessments,
        };
        Ok(Judged {
            revision: Some(revision.revision),
            gates: policy::evaluate(&gates, &facts),
            needs_approval: gates.needs_approval(),
            completion: policy.completion,
            checklist: gates.checklist.clone(),
        })
    }
}
