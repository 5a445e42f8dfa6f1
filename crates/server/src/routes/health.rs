use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::Health;
use promptops_store::Store;

/// Liveness and the database's reachability.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, body = Health), (status = 503, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn healthz<S: Store>(State(state): State<AppState<S>>) -> ApiResult<Json<Health>> {
    state.store.ping().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        )
    })?;
    Ok(Json(Health {
        status: "ok".into(),
        backend: state.store.backend().into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// The server's own metrics in the Prometheus (OpenMetrics) text format: requests and
/// latency per route, delivery reads by source, the database pool, database and Redis
/// reachability, the change feed and event ingest. Route templates only: no project,
/// prompt or user name appears.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)))]
pub async fn metrics<S: Store>(State(state): State<AppState<S>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let page = state.metrics.render(state.gauges().read());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        page,
    )
        .into_response()
}
