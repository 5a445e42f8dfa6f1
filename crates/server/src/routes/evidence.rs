//! `GET …/versions/{version}/evidence`: a version's evidence pack (see
//! [`promptops_api::evidence`]), with a checkpoint signed for it.

use super::VersionPath;
use crate::extract::{ApiPath, parse_version};
use crate::problem::ApiResult;
use crate::routes::prompts::version_diff;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_api::{AuditEvent, AuditEvidence, Completeness, EVIDENCE_FORMAT, EvidencePack};
use promptops_store::Store;
use promptops_store::browse::AuditQuery;

/// Audit events read per kind of target; a version has a handful.
const EVENTS_PER_QUERY: u64 = 1000;

/// Everything about one version in one document that verifies offline: content and
/// hash, the diff from its parent, compliance completeness, eval runs, red-team
/// reports, the compatibility matrix, requests with decisions, label history, and its
/// audit events with inclusion proofs against a checkpoint signed now.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/evidence", tag = "audit", params(VersionPath),
    responses((status = 200, body = EvidencePack),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "the audit log does not extend its last checkpoint", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn pack<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<EvidencePack>> {
    let project = p.project;
    let version = parse_version(&p.version)?.to_string();
    let v = state.store.version(&project, &p.id, &version).await?;
    let id = v.id.clone();
    let diff_from_parent = match &v.parent {
        Some(parent) => {
            let old = state.store.version(&project, &id, parent).await?;
            Some(version_diff(&old, &v)?)
        }
        None => None,
    };
    let eval_runs = state.store.eval_runs(&project, &id, &version).await?;
    let redteam = state.store.redteam_runs(&project, &id, &version).await?;
    let compatibility = state.store.compatibility(&project, &id, &version).await?;
    let requests: Vec<_> = state
        .store
        .requests(&project, None)
        .await?
        .into_iter()
        .filter(|r| r.prompt_id == id && r.version == version)
        .collect();
    let label_history: Vec<_> = state
        .store
        .label_history(&project, &id, None)
        .await?
        .into_iter()
        .filter(|m| m.to_version == version || m.from_version.as_deref() == Some(&version))
        .collect();

    let mut targets = vec![format!("prompt:{project}/{id}@{version}")];
    targets.extend(
        requests
            .iter()
            .map(|r| format!("request:{project}/{}", r.id)),
    );
    let mut events = state
        .store
        .audit_page(&AuditQuery {
            targets,
            limit: EVENTS_PER_QUERY,
            ..AuditQuery::default()
        })
        .await?;
    let label_events = state
        .store
        .audit_page(&AuditQuery {
            target_prefix: Some(format!("label:{project}/{id}/")),
            limit: EVENTS_PER_QUERY,
            ..AuditQuery::default()
        })
        .await?;
    events.extend(
        label_events
            .into_iter()
            .filter(|e| about_version(e, &version)),
    );
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);

    // Signed now, so it covers every event above.
    let (checkpoint, tree) = state.checkpoints.sign_with_tree(&*state.store).await?;
    let earlier: Vec<_> = state
        .store
        .checkpoints()
        .await?
        .into_iter()
        .filter(|c| c.size < checkpoint.size)
        .collect();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let older: Vec<u64> = earlier.iter().map(|c| c.size).collect();
    // Against the tree just signed: the log is read once per pack.
    let (proofs, consistency) = crate::checkpoints::prove(&tree, &seqs, &older)?;

    Ok(Json(EvidencePack {
        format: EVIDENCE_FORMAT.to_owned(),
        generated_at: promptops_core::clock::now_rfc3339(),
        project,
        completeness: completeness(&v.content),
        version: v,
        diff_from_parent,
        eval_runs,
        redteam,
        compatibility: Some(compatibility),
        requests,
        label_history,
        audit: AuditEvidence {
            events,
            proofs,
            checkpoint,
            earlier,
            consistency,
        },
    }))
}

/// Whether a label event moved a label to or from `version`.
fn about_version(event: &AuditEvent, version: &str) -> bool {
    ["to", "from", "version"]
        .iter()
        .any(|k| event.details.get(k).and_then(|v| v.as_str()) == Some(version))
}

fn completeness(content: &serde_json::Value) -> Completeness {
    match crate::ui::pages::version::completeness(content) {
        Some((tier, fields)) => Completeness {
            risk_tier: Some(tier),
            required: fields.iter().map(|(f, _)| f.clone()).collect(),
            missing: fields
                .iter()
                .filter(|(_, set)| !set)
                .map(|(f, _)| f.clone())
                .collect(),
        },
        None => Completeness {
            risk_tier: None,
            required: Vec::new(),
            missing: Vec::new(),
        },
    }
}
