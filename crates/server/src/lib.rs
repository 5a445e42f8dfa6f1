//! `promptops serve`: the registry's JSON API under `/v1` over any [`Store`], documented
//! as OpenAPI 3.1 at `/openapi.json`, errors as `application/problem+json`, health at
//! `/healthz`. Handlers are thin: they parse, authorize (see [`auth`]), call the store
//! and map its typed errors to statuses ([`problem`]).

pub mod auth;
pub mod bootstrap;
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
use state::{AppState, AuthState};
use std::future::Future;
use std::sync::{Arc, OnceLock};

/// Request bodies larger than this are refused with 413 (a prompt file is far smaller).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Eval runs carry their full JSON report.
pub const EVAL_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How the server signs session tokens.
#[derive(Clone)]
pub struct AuthConfig {
    /// The HS256 secret: `PROMPTOPS_JWT_SECRET`, else one made on first start and kept
    /// in the store (so every replica shares it).
    pub jwt_secret: Vec<u8>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthConfig { jwt_secret: <redacted> }")
    }
}

/// The API's routes over `store`. Every route is in [`auth::ROUTES`] with the
/// permission [`auth::enforce`] checks before the handler runs.
pub fn router<S: Store>(store: Arc<S>, config: AuthConfig) -> Router {
    let state = AppState {
        store,
        auth: Arc::new(AuthState {
            signer: auth::token::Signer::new(&config.jwt_secret),
            login_limiter: auth::limit::LoginLimiter::default(),
        }),
    };
    let prompt = auth::PROMPT_PATH;
    let project = "/v1/projects/{project}";
    Router::new()
        .route("/healthz", get(health::healthz::<S>))
        .route("/openapi.json", get(openapi_json))
        .route("/v1/auth/login", post(session::login::<S>))
        .route("/v1/auth/refresh", post(session::refresh::<S>))
        .route("/v1/auth/whoami", get(session::whoami))
        .route("/v1/users", get(users::list::<S>).post(users::create::<S>))
        .route("/v1/users/{user}", get(users::get::<S>))
        .route("/v1/users/{user}/disable", post(users::disable::<S>))
        .route("/v1/users/{user}/enable", post(users::enable::<S>))
        .route("/v1/keys", get(keys::list::<S>).post(keys::create::<S>))
        .route("/v1/keys/{prefix}/revoke", post(keys::revoke::<S>))
        .route(
            "/v1/projects",
            get(projects::list::<S>).post(projects::create::<S>),
        )
        .route(project, get(projects::get::<S>))
        .route(
            &format!("{project}/environments"),
            put(projects::set_environments::<S>),
        )
        .route(&format!("{project}/members"), get(users::members::<S>))
        .route(
            &format!("{project}/members/{{user}}"),
            put(users::set_role::<S>),
        )
        .route(&format!("{project}/prompts"), get(projects::prompts::<S>))
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
            &format!("{project}/evals/{{run}}/report"),
            get(evals::report::<S>),
        )
        .route(
            &format!("{project}/environments/{{env}}/prompts/{{id}}"),
            get(labels::resolve::<S>),
        )
        .route(&format!("{project}/policies"), get(policies::list::<S>))
        .route(
            &format!("{project}/policies/{{env}}"),
            get(policies::get::<S>).put(policies::put::<S>),
        )
        .route(&format!("{project}/requests"), get(requests::list::<S>))
        .route(
            &format!("{project}/requests/{{request}}"),
            get(requests::get::<S>),
        )
        .route(
            &format!("{project}/requests/{{request}}/approve"),
            post(requests::approve::<S>),
        )
        .route(
            &format!("{project}/requests/{{request}}/reject"),
            post(requests::reject::<S>),
        )
        .route(
            &format!("{project}/requests/{{request}}/withdraw"),
            post(requests::withdraw::<S>),
        )
        .route("/v1/audit", get(audit::list::<S>))
        .route("/v1/audit/verify", get(audit::verify::<S>))
        .route("/v1/audit/head", get(audit::head::<S>))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::enforce::<S>,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(access_log))
        .with_state(state)
}

/// One line per request: method, path, status, time. Never headers or bodies, where
/// the secrets are.
async fn access_log(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "promptops::access",
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
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
    config: AuthConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(store), config))
        .with_graceful_shutdown(shutdown)
        .await
}
