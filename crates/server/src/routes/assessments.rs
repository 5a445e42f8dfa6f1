//! What is recorded about a version beyond its eval runs: red-team reports
//! (`promptops redteam --publish`) and compatibility results per model
//! (`promptops eval --matrix --publish`). The store checks what is sent — a report's
//! summary against its cases, each verdict against its counts and thresholds — and
//! refuses a disagreement with 422; these handlers only parse and answer.

use super::VersionPath;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, parse_version};
use crate::problem::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{
    CompatibilityMatrix, CompatibilityRecord, PublishCompatibility, RedteamReport, RedteamRun,
};
use promptops_store::Store;
use serde::Deserialize;
use serde_json::Value as JsonValue;

/// Attaches a red-team report to the version it attacked.
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/redteam", tag = "assessments", params(VersionPath), request_body = RedteamReport,
    responses((status = 201, body = RedteamRun), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "the report does not check (format, risk ids, duplicate cases, a summary that is not its cases' tally), or names another version or content", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 413, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn attach_redteam<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<VersionPath>,
    ApiJson(report): ApiJson<RedteamReport>,
) -> ApiResult<(StatusCode, Json<RedteamRun>)> {
    let version = parse_version(&p.version)?.to_string();
    let run = state
        .store
        .attach_redteam(&p.project, &p.id, &version, &report, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// The red-team reports attached to a version, oldest first (summaries; the whole
/// report is at `/v1/projects/{project}/redteam/{run}/report`).
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/redteam", tag = "assessments", operation_id = "list_redteam_runs", params(VersionPath),
    responses((status = 200, body = Vec<RedteamRun>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn list_redteam<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<Vec<RedteamRun>>> {
    let version = parse_version(&p.version)?.to_string();
    Ok(Json(
        state
            .store
            .redteam_runs(&p.project, &p.id, &version)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RedteamRunPath {
    pub project: String,
    /// Red-team run id.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub run: u64,
}

/// The whole red-team report of a run, as it was attached (every case with its input
/// and the model's answer).
#[utoipa::path(get, path = "/v1/projects/{project}/redteam/{run}/report", tag = "assessments", params(RedteamRunPath),
    responses((status = 200, body = RedteamReport), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn redteam_report<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<RedteamRunPath>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(state.store.redteam_report(&p.project, p.run).await?))
}

/// Records a version's results on several models (one row per model).
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/compatibility", tag = "assessments", params(VersionPath), request_body = PublishCompatibility,
    responses((status = 201, body = Vec<CompatibilityRecord>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "thresholds out of range, no results, a model twice or not `provider:model`, or a verdict the counts and thresholds do not give", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn record_compatibility<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<VersionPath>,
    ApiJson(body): ApiJson<PublishCompatibility>,
) -> ApiResult<(StatusCode, Json<Vec<CompatibilityRecord>>)> {
    let version = parse_version(&p.version)?.to_string();
    let records = state
        .store
        .record_compatibility(&p.project, &p.id, &version, &body, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(records)))
}

/// A version's compatibility matrix: the newest recorded result per model beside the
/// verdict its prompt file declares (`model.compatibility`), by model.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/compatibility", tag = "assessments", operation_id = "compatibility_matrix", params(VersionPath),
    responses((status = 200, body = CompatibilityMatrix), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn compatibility<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<CompatibilityMatrix>> {
    let version = parse_version(&p.version)?.to_string();
    Ok(Json(
        state
            .store
            .compatibility(&p.project, &p.id, &version)
            .await?,
    ))
}
