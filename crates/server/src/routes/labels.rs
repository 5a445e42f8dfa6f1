use super::PromptPath;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_version};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_api::{
    Label, LabelMove, PromoteRequest, Promotion, PromotionOutcome, Resolved, RollbackRequest,
};
use promptops_core::role::Role;
use promptops_store::{LabelMoveRequest, MoveTarget, Promote, PromoteMode, Store};
use serde::Deserialize;
use serde_json::Value as JsonValue;

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
fn blocked(promotion: &Promotion) -> ApiError {
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResolvePath {
    pub project: String,
    /// Environment name.
    pub env: String,
    pub id: String,
}

/// Fetches what an environment serves now, with `ETag` = the content hash; answers
/// `304 Not Modified` when `If-None-Match` already names it.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/prompts/{id}", tag = "delivery", params(ResolvePath),
    responses((status = 200, body = Resolved, headers(("ETag" = String, description = "the content hash, quoted"))),
              (status = 304, description = "the caller's copy is current"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn resolve<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ResolvePath>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let v = state.store.resolve(&p.project, &p.id, &p.env).await?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", v.content_hash)).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stored content hash is not a header value",
        )
    })?;
    if headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|h| if_none_match_hits(h, &v.content_hash))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let content = v.content;
    let model = content.get("model").cloned().unwrap_or(JsonValue::Null);
    let variables = content
        .get("variables")
        .cloned()
        .unwrap_or_else(|| JsonValue::Object(Default::default()));
    let body = Resolved {
        id: v.id,
        environment: p.env,
        version: v.version,
        content_hash: v.content_hash,
        model,
        variables,
        content,
    };
    Ok(([(header::ETAG, etag)], Json(body)).into_response())
}

/// Whether an `If-None-Match` header value names `hash` (weak comparison, `*` matches).
fn if_none_match_hits(header: &HeaderValue, hash: &str) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    text.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(if_none_match_hits(&h("\"abc\""), "abc"));
        assert!(if_none_match_hits(&h("\"x\", W/\"abc\""), "abc"));
        assert!(if_none_match_hits(&h("*"), "abc"));
        assert!(!if_none_match_hits(&h("\"abd\""), "abc"));
    }
}
