//! `promptops serve`: the registry's JSON API under `/v1` over any [`Store`], documented
//! as OpenAPI 3.1 at `/openapi.json`, errors as `application/problem+json`, health at
//! `/healthz`. Every route is declared once, with its permission, in
//! [`routes::declared`]; the router, the checks [`auth::enforce`] runs before each
//! handler and the OpenAPI document are built from that table. Handlers are thin: they
//! parse, call the store and map its typed errors to statuses ([`problem`]); they speak
//! the API's types ([`promptops_api`]) and the store's traits, never a backend's.

mod access_log;
pub mod alerts;
pub mod auth;
pub mod bootstrap;
pub mod checkpoints;
pub mod delivery;
pub mod exposition;
mod extract;
pub mod hot_path;
pub mod measure;
pub mod openapi;
pub mod otlp;
pub mod problem;
pub mod route;
pub mod routes;
mod state;
pub mod telemetry;
pub mod ui;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use problem::ApiError;
use promptops_store::Store;
use state::{AppState, AuthState};
use std::future::Future;
use std::sync::Arc;

pub use promptops_core::config::ServerConfig as Settings;

/// How the server signs session tokens.
#[derive(Clone)]
pub struct AuthConfig {
    /// The HS256 secret: `PROMPTOPS_JWT_SECRET`, else the key file (see
    /// [`bootstrap::auth_config`]); never in the database.
    pub jwt_secret: Vec<u8>,
    /// A secret being rotated out: still verifies tokens, never signs.
    pub previous_jwt_secret: Option<Vec<u8>>,
    /// The Ed25519 seed audit checkpoints are signed with (`PROMPTOPS_CHECKPOINT_KEY`
    /// or the checkpoint key file); `None` derives one from `jwt_secret`.
    pub checkpoint_seed: Option<[u8; 32]>,
}

impl AuthConfig {
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> AuthConfig {
        AuthConfig {
            jwt_secret: jwt_secret.into(),
            previous_jwt_secret: None,
            checkpoint_seed: None,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthConfig { jwt_secret: <redacted> }")
    }
}

pub use hot_path::App;

/// The server over `store`, with default [`Settings`].
pub fn app<S: Store>(store: Arc<S>, config: AuthConfig) -> App<S> {
    app_with(store, config, Settings::default())
}

/// The server over `store` without Redis.
pub fn app_with<S: Store>(store: Arc<S>, config: AuthConfig, settings: Settings) -> App<S> {
    app_over(store, config, settings, None)
}

/// The server over `store` (and `redis` for delivery, when given): the resolve hot
/// path ([`hot_path`]) in front of the router, where each declared route has its
/// permission checked before its handler, with the body limits, the fallbacks and the
/// access log. Starts delivery's background tasks, the webhooks' dispatcher and the
/// alert evaluator.
pub fn app_over<S: Store>(
    store: Arc<S>,
    config: AuthConfig,
    settings: Settings,
    redis: Option<delivery::redis::RedisLayer>,
) -> App<S> {
    let delivery = Arc::new(delivery::Delivery::new(
        store.clone(),
        redis,
        settings.watch_buffer,
    ));
    delivery::follow::start(
        &delivery,
        std::time::Duration::from_millis(settings.feed_poll_ms.max(10)),
    );
    let hooks = Arc::new(webhooks::Hooks::new(store.clone(), &config, &settings));
    webhooks::start(&hooks);
    let mut state = AppState {
        store,
        hooks,
        delivery,
        auth: Arc::new(AuthState {
            signer: auth::token::Signer::new(&config.jwt_secret)
                .with_previous(config.previous_jwt_secret.as_deref()),
            login_limiter: auth::limit::LoginLimiter::default(),
            hash_pool: auth::limit::HashPool::default(),
            csrf_secret: state::Secret(config.jwt_secret.clone()),
        }),
        settings: Arc::new(settings),
        telemetry: Arc::default(),
        metrics: Arc::default(),
        otlp: None,
        ui: Arc::default(),
        checkpoints: Arc::new(checkpoints::Checkpointer::new(
            &config
                .checkpoint_seed
                .unwrap_or_else(|| checkpoints::Checkpointer::derived_seed(&config.jwt_secret)),
        )),
    };
    if let Some(endpoint) = state.settings.otlp_endpoint.as_deref() {
        state.otlp = start_otlp(endpoint, state.gauges(), &state.telemetry);
    }
    if state.settings.alert_interval_secs > 0 {
        alerts::start(
            &state,
            std::time::Duration::from_secs(state.settings.alert_interval_secs),
        );
    }
    ui::start(&state);
    if state.settings.checkpoint_interval_secs > 0 {
        checkpoints::start(
            &state,
            std::time::Duration::from_secs(state.settings.checkpoint_interval_secs),
        );
    }
    let log = access_log::AccessLog::start(state.settings.access_log_sample);
    let router = router(&state, log.clone());
    App::new(state, router, log)
}

/// OTLP export to `endpoint`, ingested executions included; `None` (logged) when the
/// exporters cannot be built.
fn start_otlp<S: Store>(
    endpoint: &str,
    gauges: exposition::Gauges<S>,
    telemetry: &telemetry::Telemetry,
) -> Option<Arc<otlp::Otlp>> {
    match otlp::Otlp::start(endpoint, Arc::new(move || gauges.read())) {
        Ok(otlp) => {
            telemetry.export_to(otlp.executions());
            tracing::info!(
                endpoint = %promptops_core::config::redact_url(endpoint),
                "exporting traces and metrics over OTLP/HTTP"
            );
            Some(Arc::new(otlp))
        }
        Err(e) => {
            tracing::error!(error = %e, "OTLP export is off");
            None
        }
    }
}

/// Every declared route with its permission checked before its handler.
fn router<S: Store>(state: &AppState<S>, log: access_log::AccessLog) -> Router {
    let mut router = Router::new();
    for route in routes::declared::<S>() {
        let guard = auth::RouteGuard {
            state: state.clone(),
            permission: route.permission,
            langfuse: route.langfuse,
        };
        let mut handler = route
            .handler
            .route_layer(axum::middleware::from_fn_with_state(
                guard,
                auth::enforce::<S>,
            ));
        if route.langfuse {
            // Outside the permission check, so its refusals take Langfuse's shape too.
            handler = handler.layer(axum::middleware::map_response(
                routes::langfuse::errors_as_langfuse,
            ));
        }
        if route.large_body {
            handler = handler.layer(DefaultBodyLimit::max(state.settings.eval_body_limit_bytes));
        }
        // Counted under the route as declared (refusals by the permission check too).
        handler = handler.layer(axum::middleware::from_fn_with_state(
            Observed {
                metrics: state.metrics.clone(),
                otlp: state.otlp.clone(),
                route: Arc::from(route.path.as_str()),
            },
            observe,
        ));
        router = router.route(&route.path, handler);
    }
    for (path, handler) in ui::routes(state) {
        let handler = handler.layer(axum::middleware::from_fn_with_state(
            Observed {
                metrics: state.metrics.clone(),
                otlp: state.otlp.clone(),
                route: Arc::from(path),
            },
            observe,
        ));
        router = router.route(path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            log,
            access_log::record,
        ))
        .with_state(state.clone())
}

/// Where a routed request is counted: `/metrics`, and OTLP when it is on.
#[derive(Clone)]
struct Observed {
    metrics: Arc<exposition::ServerMetrics>,
    otlp: Option<Arc<otlp::Otlp>>,
    /// The route as declared.
    route: Arc<str>,
}

/// Counts and times a routed request for `/metrics`, and traces it over OTLP.
async fn observe(
    axum::extract::State(observed): axum::extract::State<Observed>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let traced = observed.otlp.as_ref().map(|o| {
        (
            o.requests().parent(request.headers()),
            request.uri().path().to_owned(),
            std::time::SystemTime::now(),
        )
    });
    let response = next.run(request).await;
    let source = response
        .headers()
        .get("promptops-source")
        .and_then(|v| v.to_str().ok());
    let status = response.status().as_u16();
    observed.metrics.routed(
        &observed.route,
        method.as_str(),
        status,
        started.elapsed().as_secs_f64(),
        source,
    );
    if let (Some(otlp), Some((parent, path, at))) = (&observed.otlp, traced) {
        otlp.requests().record(
            &parent,
            &otlp::requests::Answered {
                method: method.as_str(),
                route: &observed.route,
                path: &path,
                status,
                started: at,
                ended: at + started.elapsed(),
                source,
            },
        );
    }
    response
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let e = ApiError::not_found(format!(
        "no route {}; the API is described at /openapi.json",
        uri.path()
    ));
    in_shape_of(&uri, e).await
}

async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    let e = ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; see /openapi.json",
            uri.path()
        ),
    );
    in_shape_of(&uri, e).await
}

/// A refusal of the router itself, in the shape the path's API answers errors in: the
/// Langfuse SDKs calling what is not served (deletion, datasets) read Langfuse's.
async fn in_shape_of(uri: &axum::http::Uri, e: ApiError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let response = e.into_response();
    if uri.path().starts_with(routes::langfuse::PREFIX) {
        routes::langfuse::errors_as_langfuse(response).await
    } else {
        response
    }
}

/// Redis could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("redis_url: {0}")]
    Redis(#[from] delivery::redis::RedisError),
    #[error("the registry's id cannot be read: {0}")]
    Store(#[from] promptops_store::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The Redis layer `settings` ask for, namespaced by the registry's id (shared by every
/// replica of one database).
pub async fn redis_layer<S: Store>(
    store: &S,
    settings: &Settings,
) -> Result<Option<delivery::redis::RedisLayer>, ServeError> {
    let Some(url) = &settings.redis_url else {
        return Ok(None);
    };
    let fresh = auth::secrets::random_token(8).unwrap_or_else(|_| "registry".into());
    let id = store.setting_or_init("registry_id", &fresh).await?;
    Ok(Some(delivery::redis::RedisLayer::new(url, &id)?))
}

/// Serves the API on `listener` until `shutdown` completes. Each request knows its
/// peer's address (login limits count failures per address).
pub async fn serve<S: Store>(
    store: S,
    config: AuthConfig,
    settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let redis = redis_layer(&store, &settings).await?;
    let app = app_over(Arc::new(store), config, settings, redis);
    let otlp = app.otlp();
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    if let Some(otlp) = otlp {
        // The SDK's flush waits for its export threads.
        let _ = tokio::task::spawn_blocking(move || otlp.flush()).await;
    }
    Ok(())
}
