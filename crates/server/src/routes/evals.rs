use super::VersionPath;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, parse_version};
use crate::measure::{Counts, measure};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{EvalRun, PublishEval};
use promptops_store::{NewEvalRun, Store};
use serde::Deserialize;
use serde_json::Value as JsonValue;

/// Attaches an eval run to the version it tested.
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/evals", tag = "evals", params(VersionPath), request_body = PublishEval,
    responses((status = 201, body = EvalRun), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "the counts disagree with the report's rows, or the report is not a results document", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 413, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn attach<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<VersionPath>,
    ApiJson(body): ApiJson<PublishEval>,
) -> ApiResult<(StatusCode, Json<EvalRun>)> {
    let counts = Counts {
        passed: body.passed,
        failed: body.failed,
        errors: body.errors,
    };
    let measured = measure(counts, body.report.as_ref())
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let run = NewEvalRun {
        prompt_id: p.id,
        version: parse_version(&p.version)?,
        passed: body.passed,
        failed: body.failed,
        errors: body.errors,
        summary: body.summary,
        report: body.report,
        measured,
        ci_key: caller.key.as_ref().is_some_and(|k| k.ci),
    };
    let attached = state
        .store
        .attach_eval(&p.project, &run, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(attached)))
}

/// The eval runs attached to a version, oldest first (summaries; the full report is at
/// `/v1/projects/{project}/evals/{run}/report`).
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions/{version}/evals", tag = "evals", operation_id = "list_eval_runs", params(VersionPath),
    responses((status = 200, body = Vec<EvalRun>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<Vec<EvalRun>>> {
    let v = parse_version(&p.version)?;
    Ok(Json(
        state
            .store
            .eval_runs(&p.project, &p.id, &v.to_string())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunPath {
    pub project: String,
    /// Eval run id.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub run: u64,
}

/// The full JSON report of an eval run.
#[utoipa::path(get, path = "/v1/projects/{project}/evals/{run}/report", tag = "evals", params(RunPath),
    responses((status = 200, body = Object), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn report<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<RunPath>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(state.store.eval_report(&p.project, p.run).await?))
}
