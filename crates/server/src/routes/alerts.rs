//! A project's alerts: the list, the settings the rules read, and an evaluation on
//! demand (what the background task does every `alert_interval_secs`).

use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::routes::projects::ProjectPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_api::{Alert, AlertEvaluation, AlertSettings, AlertState};
use promptops_store::Store;
use promptops_store::alerts::AlertFilter;
use serde::Deserialize;
use std::time::Duration;

/// Alerts listed by default, and at most.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;
/// How long an evaluation waits for events already accepted to be stored.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// `firing`, `resolved` or `all` (the default).
    pub state: Option<String>,
    /// Only this prompt's alerts.
    pub prompt: Option<String>,
    /// Only this environment's.
    pub env: Option<String>,
    /// At most this many, newest first (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// The project's alerts, newest first: each kind, prompt, environment and version, the
/// figures that made it fire, its test and p-value, and a sentence saying what happened.
#[utoipa::path(get, path = "/v1/projects/{project}/alerts", tag = "alerts", operation_id = "list_alerts",
    params(ProjectPath, AlertsQuery),
    responses((status = 200, body = Vec<Alert>),
              (status = 400, description = "an unknown state or a limit out of range", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> ApiResult<Json<Vec<Alert>>> {
    state.store.project(&p.project).await?;
    let alert_state = match q.state.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(AlertState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "state `{}`: use `firing`, `resolved` or `all`",
                crate::problem::shown(s)
            ))
        })?),
    };
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit {n}: ask for 1 to {MAX_LIMIT} alerts"
            )));
        }
    };
    let filter = AlertFilter {
        state: alert_state,
        prompt_id: q.prompt.filter(|s| !s.is_empty()),
        environment: q.env.filter(|s| !s.is_empty()),
        limit,
    };
    Ok(Json(state.store.alerts(&p.project, &filter).await?))
}

/// What the project's alert rules use: minimum sample, significance level, minimum
/// effects and windows (the defaults until an admin sets them).
#[utoipa::path(get, path = "/v1/projects/{project}/alerts/settings", tag = "alerts", operation_id = "get_alert_settings",
    params(ProjectPath),
    responses((status = 200, body = AlertSettings), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn settings<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<AlertSettings>> {
    state.store.project(&p.project).await?;
    Ok(Json(state.store.alert_settings(&p.project).await?))
}

/// Replaces the project's alert settings (fields left out take their defaults).
/// Audited as `alerts.settings_changed`.
#[utoipa::path(put, path = "/v1/projects/{project}/alerts/settings", tag = "alerts", operation_id = "set_alert_settings",
    params(ProjectPath), request_body = AlertSettings,
    responses((status = 200, body = AlertSettings),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "a value out of its range (the detail names the field and the range)", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn set_settings<S: Store>(
    State(state): State<AppState<S>>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<AlertSettings>,
) -> ApiResult<Json<AlertSettings>> {
    state.store.project(&p.project).await?;
    Ok(Json(
        state
            .store
            .set_alert_settings(&p.project, &body, &caller.actor())
            .await?,
    ))
}

/// Evaluates the project's alert rules now, over every event accepted before the call,
/// and answers what fired, what resolved, and every alert firing after it.
#[utoipa::path(post, path = "/v1/projects/{project}/alerts/evaluate", tag = "alerts", operation_id = "evaluate_alerts",
    params(ProjectPath),
    responses((status = 200, body = AlertEvaluation),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn evaluate<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<AlertEvaluation>> {
    state.store.project(&p.project).await?;
    let pipeline = state.telemetry.pipeline(&*state.store).await?;
    if !pipeline.flush(FLUSH_LIMIT).await {
        tracing::warn!(project = %p.project, "alerts: events accepted before the evaluation were not all stored within {FLUSH_LIMIT:?}; evaluating what is stored");
    }
    let now = promptops_core::clock::now_millis();
    Ok(Json(
        crate::alerts::evaluate(&*state.store, &state.telemetry, &p.project, now).await?,
    ))
}
