//! `promptops serve`: the registry's JSON API under `/v1` over any [`Store`], documented
//! as OpenAPI 3.1 at `/openapi.json`, errors as `application/problem+json`, health at
//! `/healthz`. Handlers are thin: they parse, authorize (see [`auth`]), call the store
//! and map its typed errors to statuses ([`problem`]).

pub mod auth;
pub mod bootstrap;
mod extract;
pub mod measure;
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
    /// The HS256 secret: `PROMPTOPS_JWT_SECRET`, else the key file (see
    /// [`bootstrap::auth_config`]); never in the database.
    pub jwt_secret: Vec<u8>,
    /// A secret being rotated out: still verifies tokens, never signs.
    pub previous_jwt_secret: Option<Vec<u8>>,
}

impl AuthConfig {
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> AuthConfig {
        AuthConfig {
            jwt_secret: jwt_secret.into(),
            previous_jwt_secret: None,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthConfig { jwt_secret: <redacted> }")
    }
}

/// What the server allows and trusts, besides authentication.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most content one version may hold (bytes, YAML aliases expanded).
    pub max_version_bytes: usize,
    /// Take the client's address from the last `X-Forwarded-For` entry (only behind a
    /// proxy that sets it; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_version_bytes: promptops_core::validate::DEFAULT_MAX_VERSION_BYTES,
            trust_forwarded_for: false,
        }
    }
}

/// The API's routes over `store`, with default [`Options`].
pub fn router<S: Store>(store: Arc<S>, config: AuthConfig) -> Router {
    router_with(store, config, Options::default())
}

/// The API's routes over `store`. Every route is in [`auth::ROUTES`] with the
/// permission [`auth::enforce`] checks before the handler runs.
pub fn router_with<S: Store>(store: Arc<S>, config: AuthConfig, options: Options) -> Router {
    let state = AppState {
        store,
        auth: Arc::new(AuthState {
            signer: auth::token::Signer::new(&config.jwt_secret)
                .with_previous(config.previous_jwt_secret.as_deref()),
            login_limiter: auth::limit::LoginLimiter::default(),
            hash_pool: auth::limit::HashPool::default(),
        }),
        options: Arc::new(options),
    };
    let prompt = auth::PROMPT_PATH;
    let project = "/v1/projects/{project}";
    Router::new()
        .route("/healthz", get(health::healthz::<S>))
        .route("/openapi.json", get(openapi_json))
        .route("/v1/auth/login", post(session::login::<S>))
        .route("/v1/auth/refresh", post(session::refresh::<S>))
        .route("/v1/auth/whoami", get(session::whoami))
        .route("/v1/auth/logout", post(session::logout::<S>))
        .route("/v1/users", get(users::list::<S>).post(users::create::<S>))
        .route("/v1/users/{user}", get(users::get::<S>))
        .route("/v1/users/{user}/disable", post(users::disable::<S>))
        .route("/v1/users/{user}/enable", post(users::enable::<S>))
        .route(
            "/v1/users/{user}/sessions/end",
            post(users::end_sessions::<S>),
        )
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

/// Serves the API on `listener` until `shutdown` completes. Each request knows its
/// peer's address (login limits count failures per address).
pub async fn serve<S: Store>(
    store: S,
    config: AuthConfig,
    options: Options,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router_with(Arc::new(store), config, options);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
