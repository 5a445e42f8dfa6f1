//! Promotion requests: approvals and rejections (never by the version's author or the
//! requester), withdrawals, and the gates as they stand.

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::routes::projects::ProjectPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_api::{
    Approve, Promotion, PromotionRequest, Reject, RequestStatus, RequestView, Verdict, Withdraw,
};
use promptops_store::{Decider, NewDecision, Store};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RequestPath {
    pub project: String,
    /// The request's number.
    #[param(minimum = 1)]
    pub request: u64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `open`, `completed`, `rejected`, `withdrawn` or `overridden` (default: all).
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/v1/projects/{project}/requests", tag = "requests", params(ProjectPath, RequestsQuery),
    responses((status = 200, body = Vec<PromotionRequest>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<Vec<PromotionRequest>>> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            RequestStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown status `{s}`; use open, completed, rejected, withdrawn or overridden"
                ))
            })
        })
        .transpose()?;
    Ok(Json(state.store.requests(&p.project, status).await?))
}

#[utoipa::path(get, path = "/v1/projects/{project}/requests/{request}", tag = "requests", params(RequestPath),
    responses((status = 200, body = RequestView)))]
pub async fn get<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<RequestPath>,
) -> ApiResult<Json<RequestView>> {
    let request = state.store.request(&p.project, p.request).await?;
    let gates = state.store.request_gates(&p.project, p.request).await?;
    Ok(Json(RequestView { request, gates }))
}

/// Records `decision` on the request as the caller.
async fn decide<S: Store>(
    state: &AppState<S>,
    caller: &crate::auth::Principal,
    p: &RequestPath,
    decision: NewDecision,
) -> ApiResult<Json<Promotion>> {
    let decider = Decider {
        actor: caller.actor(),
        role: caller
            .role_in(&p.project)
            .unwrap_or(promptops_core::role::Role::Viewer),
        teams: caller.user.teams.clone(),
    };
    Ok(Json(
        state
            .store
            .decide(&p.project, p.request, &decision, &decider)
            .await?,
    ))
}

/// Approves a request. When it is the last approval needed and every other gate holds,
/// the label moves (`outcome: moved`) unless the policy says the requester completes it.
#[utoipa::path(post, path = "/v1/projects/{project}/requests/{request}/approve", tag = "requests", params(RequestPath), request_body = Approve,
    responses((status = 200, body = Promotion),
              (status = 403, description = "separation of duties: the author or requester cannot approve", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "the request is closed, or this approver approved already", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn approve<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<RequestPath>,
    ApiJson(body): ApiJson<Approve>,
) -> ApiResult<Json<Promotion>> {
    let decision = NewDecision {
        verdict: Verdict::Approve,
        comment: body.comment,
        checklist: body.checklist,
    };
    decide(&state, &caller, &p, decision).await
}

/// Rejects a request (a comment is required); it is closed and kept.
#[utoipa::path(post, path = "/v1/projects/{project}/requests/{request}/reject", tag = "requests", params(RequestPath), request_body = Reject,
    responses((status = 200, body = Promotion), (status = 403, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn reject<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<RequestPath>,
    ApiJson(body): ApiJson<Reject>,
) -> ApiResult<Json<Promotion>> {
    let decision = NewDecision {
        verdict: Verdict::Reject,
        comment: Some(body.comment),
        checklist: Vec::new(),
    };
    decide(&state, &caller, &p, decision).await
}

/// The requester (or an admin) withdraws a request; it is closed and kept.
#[utoipa::path(post, path = "/v1/projects/{project}/requests/{request}/withdraw", tag = "requests", params(RequestPath), request_body = Withdraw,
    responses((status = 200, body = PromotionRequest), (status = 403, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn withdraw<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<RequestPath>,
    ApiJson(body): ApiJson<Withdraw>,
) -> ApiResult<Json<PromotionRequest>> {
    let role = caller
        .role_in(&p.project)
        .unwrap_or(promptops_core::role::Role::Viewer);
    Ok(Json(
        state
            .store
            .withdraw(
                &p.project,
                p.request,
                &caller.actor(),
                role,
                body.comment.as_deref(),
            )
            .await?,
    ))
}
