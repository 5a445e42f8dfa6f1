//! Each environment's policy: YAML, versioned, judged on every promotion there.

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::routes::projects::ProjectPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_api::{PolicyRevision, PutPolicy};
use promptops_core::policy;
use promptops_store::Store;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PolicyPath {
    pub project: String,
    /// Environment name.
    pub env: String,
}

/// Every revision of every environment's policy, oldest first.
#[utoipa::path(get, path = "/v1/projects/{project}/policies", tag = "policies", params(ProjectPath),
    responses((status = 200, body = Vec<PolicyRevision>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<Vec<PolicyRevision>>> {
    state.store.project(&p.project).await?;
    Ok(Json(state.store.policy_history(&p.project).await?))
}

/// The environment's current policy.
#[utoipa::path(get, path = "/v1/projects/{project}/policies/{env}", tag = "policies", params(PolicyPath),
    responses((status = 200, body = PolicyRevision)))]
pub async fn get<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PolicyPath>,
) -> ApiResult<Json<PolicyRevision>> {
    state
        .store
        .policy(&p.project, &p.env)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "environment `{}` of `{}` has no policy: promotions there need only the editor role",
                p.env, p.project
            ))
        })
}

/// Stores a new revision of the environment's policy (the same text again is a no-op).
/// A policy that does not parse is refused with every finding and its line and column.
#[utoipa::path(put, path = "/v1/projects/{project}/policies/{env}", tag = "policies", params(PolicyPath), request_body = PutPolicy,
    responses((status = 200, body = PolicyRevision), (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn put<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<PolicyPath>,
    ApiJson(body): ApiJson<PutPolicy>,
) -> ApiResult<Json<PolicyRevision>> {
    // Parsed once, here: the findings go back to the caller; the store keeps the text.
    let path = format!("policies/{}.yaml", p.env);
    let parsed = match policy::parse(&path, &body.source) {
        Ok((parsed, _warnings)) => parsed,
        Err(findings) => return Err(ApiError::invalid_policy(findings)),
    };
    Ok(Json(
        state
            .store
            .put_policy(&p.project, &p.env, &body.source, &parsed, &caller.actor())
            .await?,
    ))
}
