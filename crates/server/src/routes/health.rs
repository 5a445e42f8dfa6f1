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
