use super::PromptPath;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_version};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{
    Label, LabelMove, PromoteRequest, Promotion, PromotionOutcome, RollbackRequest,
};
use promptops_core::role::Role;
use promptops_store::{LabelMoveRequest, MoveTarget, Promote, PromoteMode, Store};
use serde::Deserialize;

/// Where each environment's label points.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/labels", tag = "labels", params(PromptPath),
    responses((status = 200, body = Vec<Label>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn labels<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PromptPath>,
) -> ApiResult<Json<Vec<Label>>> {
    Ok(Json(state.store.labels(&p.project, &p.id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only this environment's moves.
    pub env: Option<String>,
}

/// Every move of the prompt's labels: who, when, from, to, why.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/history", tag = "labels", params(PromptPath, HistoryQuery),
    responses((status = 200, body = Vec<LabelMove>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn history<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PromptPath>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<LabelMove>>> {
    Ok(Json(
        state
            .store
            .label_history(&p.project, &p.id, q.env.as_deref())
            .await?,
    ))
}

fn normalise_expected(expected: Option<Option<String>>) -> ApiResult<Option<Option<String>>> {
    expected
        .map(|e| {
            e.map(|v| parse_version(&v).map(|v| v.to_string()))
                .transpose()
        })
        .transpose()
}

/// Promotes a version through the environment's policy. Every gate holds: the label
/// moves (200, `outcome: moved`). A gate is unmet: 409 with every gate in `gates` and,
/// when the policy asks for approvals, the request that waits for them in `request`.
/// `dry_run` only judges; `override_reason` (admins) moves anyway and is recorded.
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/promote", tag = "labels", params(PromptPath), request_body = PromoteRequest,
    responses((status = 200, body = Promotion),
              (status = 403, description = "an override by someone who is not an admin", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "a gate is unmet (see `gates` and `request`), the label moved since it was read, or it already points there", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn promote<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<PromptPath>,
    ApiJson(body): ApiJson<PromoteRequest>,
) -> ApiResult<Json<Promotion>> {
    let mode = match (body.dry_run, body.override_reason) {
        (true, Some(_)) => {
            return Err(ApiError::unprocessable(
                "dry_run and override_reason exclude each other",
            ));
        }
        (true, None) => PromoteMode::DryRun,
        (false, Some(reason)) => PromoteMode::Override { reason },
        (false, None) => PromoteMode::Apply,
    };
    let request = Promote {
        prompt_id: p.id,
        environment: body.environment,
        version: parse_version(&body.version)?,
        expected_from: normalise_expected(body.expected_from)?,
        reason: body.reason,
        mode,
    };
    let role = caller.role_in(&p.project).unwrap_or(Role::Viewer);
    let promotion = state
        .store
        .promote(&p.project, &request, &caller.actor(), role)
        .await?;
    if promotion.outcome == PromotionOutcome::Blocked {
        return Err(blocked(&promotion));
    }
    Ok(Json(promotion))
}

/// The 409 of a promotion a gate blocks: every unmet gate in words, and all of them
/// machine-readable.
pub(crate) fn blocked(promotion: &Promotion) -> ApiError {
    let unmet: Vec<String> = promotion
        .unmet()
        .map(|g| format!("{}: {}", g.gate, g.message))
        .collect();
    let waiting = promotion.request.as_ref().map_or(String::new(), |r| {
        format!(
            "; request {} waits for approval (`promptops approve {}`)",
            r.id, r.id
        )
    });
    let mut e = ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "{}@{} cannot go to {}: {} gate{} unmet — {}{waiting}",
            promotion.prompt_id,
            promotion.version,
            promotion.environment,
            unmet.len(),
            if unmet.len() == 1 { "" } else { "s" },
            unmet.join("; "),
        ),
    );
    e.0.kind = "https://promptops.dev/problems/gates-unmet".into();
    e.0.gates = serde_json::to_value(&promotion.gates).ok();
    e.0.request = promotion
        .request
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok());
    e
}

/// Moves an environment back to the version it served before (or to `to`).
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/rollback", tag = "labels", params(PromptPath), request_body = RollbackRequest,
    responses((status = 200, body = LabelMove), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "nothing to roll back to, or `to` was never live there", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn rollback<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<PromptPath>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> ApiResult<Json<LabelMove>> {
    let target = match &body.to {
        Some(v) => MoveTarget::RollbackTo(parse_version(v)?),
        None => MoveTarget::RollbackPrevious,
    };
    let request = LabelMoveRequest {
        prompt_id: p.id,
        environment: body.environment,
        target,
        expected_from: normalise_expected(body.expected_from)?,
        reason: body.reason,
    };
    Ok(Json(
        state
            .store
            .move_label(&p.project, &request, &caller.actor())
            .await?,
    ))
}
