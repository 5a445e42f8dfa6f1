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
    let (pool_size, pool_idle) = state.store.pool_connections();
    let ingest = state.telemetry.started().map(|p| {
        use std::sync::atomic::Ordering::Relaxed;
        crate::exposition::IngestTotals {
            queued: p.queued() as u64,
            accepted: p.stats.accepted.load(Relaxed),
            stored: p.stats.stored.load(Relaxed),
            duplicates: p.stats.duplicates.load(Relaxed),
            dropped: p.stats.dropped.load(Relaxed),
            refused: p.stats.refused.load(Relaxed),
        }
    });
    let page = state.metrics.render(crate::exposition::Snapshot {
        database_up: state.delivery.db_up(),
        redis_up: state.delivery.redis().map(|_| state.delivery.redis_up()),
        pool_size,
        pool_idle,
        feed_applied: state.delivery.applied(),
        ingest,
        webhook_attempts: {
            use std::sync::atomic::Ordering::Relaxed;
            let a = &state.hooks.attempts;
            [
                a.delivered.load(Relaxed),
                a.retried.load(Relaxed),
                a.failed.load(Relaxed),
            ]
        },
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        page,
    )
        .into_response()
}
