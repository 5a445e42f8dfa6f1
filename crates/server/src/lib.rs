//! `promptops serve`: the registry's JSON API under `/v1` over any [`Store`], documented
//! as OpenAPI 3.1 at `/openapi.json`, errors as `application/problem+json`, health at
//! `/healthz`. Handlers are thin: they parse, authorize (see [`auth`]), call the store
//! and map its typed errors to statuses ([`problem`]).

pub mod auth;
mod extract;
pub mod openapi;
pub mod problem;
pub mod routes;
mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use problem::ApiError;
use promptops_store::Store;
use routes::*;
use state::AppState;
use std::future::Future;
use std::sync::{Arc, OnceLock};

/// Request bodies larger than this are refused with 413 (a prompt file is far smaller).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Eval runs carry their full JSON report.
pub const EVAL_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The API's routes over `store`.
pub fn router<S: Store>(store: Arc<S>) -> Router {
    let state = AppState { store };
    let prompt = "/v1/projects/{project}/prompts/{id}";
    Router::new()
        .route("/healthz", get(health::healthz::<S>))
        .route("/openapi.json", get(openapi_json))
        .route(
            "/v1/projects",
            get(projects::list::<S>).post(projects::create::<S>),
        )
        .route("/v1/projects/{project}", get(projects::get::<S>))
        .route(
            "/v1/projects/{project}/environments",
            put(projects::set_environments::<S>),
        )
        .route(
            "/v1/projects/{project}/prompts",
            get(projects::prompts::<S>),
        )
        .route(
            &format!("{prompt}/versions"),
            get(prompts::versions::<S>).post(prompts::publish::<S>),
        )
        .route(
            &format!("{prompt}/versions/{{version}}"),
            get(prompts::version::<S>),
        )
        .route(&format!("{prompt}/diff"), get(prompts::diff::<S>))
        .route(&format!("{prompt}/labels"), get(labels::labels::<S>))
        .route(&format!("{prompt}/history"), get(labels::history::<S>))
        .route(&format!("{prompt}/promote"), post(labels::promote::<S>))
        .route(&format!("{prompt}/rollback"), post(labels::rollback::<S>))
        .route(
            &format!("{prompt}/versions/{{version}}/evals"),
            get(evals::list::<S>)
                .post(evals::attach::<S>)
                .layer(DefaultBodyLimit::max(EVAL_BODY_LIMIT)),
        )
        .route(
            "/v1/projects/{project}/evals/{run}/report",
            get(evals::report::<S>),
        )
        .route(
            "/v1/projects/{project}/environments/{env}/prompts/{id}",
            get(labels::resolve::<S>),
        )
        .route("/v1/audit", get(audit::list::<S>))
        .route("/v1/audit/verify", get(audit::verify::<S>))
        .route("/v1/audit/head", get(audit::head::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn openapi_json() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOC.get_or_init(openapi::json).clone(),
    )
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {}; the API is described at /openapi.json",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; see /openapi.json",
            uri.path()
        ),
    )
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve<S: Store>(
    store: S,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(store)))
        .with_graceful_shutdown(shutdown)
        .await
}
