//! The server as one service: the resolve hot path in front of the router.
//!
//! Running applications ask "what does prod serve for prompt X?" by the ten thousand a
//! second, almost always with an API key already verified and an answer already in
//! memory. For exactly that case — `GET` of the resolve path with no escapes in it, a
//! key in the key cache whose secret matches, the route's own permission held, a
//! fresh answer in memory — [`App`] answers before routing: no route matching, no
//! per-route middleware, no extractor, no allocation beyond the response. The checks
//! are the router's own functions ([`crate::auth::check_cached_key`],
//! [`crate::auth::authorize`] with [`RESOLVE_PERMISSION`], the same response builder);
//! anything else — a session token, an unknown key, a refusal, a miss — goes through
//! the router unchanged, which answers it (and words any refusal) as always.

use crate::access_log::AccessLog;
use crate::auth::{self, Permission};
use crate::routes::delivery::respond;
use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::Response;
use futures_util::future::BoxFuture;
use promptops_store::Store;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Service, ServiceExt};

/// The resolve route's permission (the route table declares the same; a test holds
/// the two together).
pub const RESOLVE_PERMISSION: Permission = Permission::Read;

/// The registry's HTTP service: the hot path, then the router.
pub struct App<S> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    state: AppState<S>,
    router: Router,
    log: AccessLog,
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Store> App<S> {
    pub(crate) fn new(state: AppState<S>, router: Router, log: AccessLog) -> App<S> {
        App {
            inner: Arc::new(Inner { state, router, log }),
        }
    }

    /// OTLP export, when on (to flush it when the server stops).
    pub fn otlp(&self) -> Option<Arc<crate::otlp::Otlp>> {
        self.inner.state.otlp.clone()
    }
}

impl<S: Store> Service<Request> for App<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready (axum's routers are).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            if is_resolve(&request) {
                let started = std::time::Instant::now();
                // Every change committed so far applies before the caches are read.
                inner.state.delivery.sync().await;
                if let Some(response) = inner.answer(&request, started) {
                    return Ok(response);
                }
            }
            inner.router.clone().oneshot(request).await
        })
    }
}

fn is_resolve(request: &Request) -> bool {
    request.method() == Method::GET && resolve_path(request.uri().path()).is_some()
}

impl<S: Store> Inner<S> {
    /// The answer to a resolve with a known key and a fresh answer in memory; `None`
    /// for anything else (the router answers it). No I/O.
    fn answer(&self, request: &Request, started: std::time::Instant) -> Option<Response> {
        let (project, env, id) = resolve_path(request.uri().path())?;
        let presented = bearer(request.headers().get(header::AUTHORIZATION)?)?;
        let principal = auth::check_cached_key(&self.state, presented)?.ok()?;
        auth::authorize(&principal, RESOLVE_PERMISSION.need(), Some(project)).ok()?;
        let served = self.state.delivery.from_memory(project, env, id)?;
        let not_modified = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|h| served.answer.matches(h));
        let response = respond(&served, not_modified);
        self.state.metrics.hot_read(not_modified);
        self.log
            .delivery_read(request.method(), request.uri(), response.status(), started);
        Some(response)
    }
}

/// `(project, env, id)` of `/v1/projects/{project}/environments/{env}/prompts/{id}`,
/// when no segment is empty or escaped (an escaped one is the router's to decode).
fn resolve_path(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/v1/projects/")?;
    let mut parts = rest.split('/');
    let project = parts.next()?;
    (parts.next()? == "environments").then_some(())?;
    let env = parts.next()?;
    (parts.next()? == "prompts").then_some(())?;
    let id = parts.next()?;
    if parts.next().is_some()
        || [project, env, id]
            .iter()
            .any(|s| s.is_empty() || s.contains('%'))
    {
        return None;
    }
    Some((project, env, id))
}

/// The credential of `Authorization: Bearer …`.
fn bearer(value: &axum::http::HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    text.strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plain_resolve_path_is_taken() {
        assert_eq!(
            resolve_path("/v1/projects/demo/environments/prod/prompts/support.answer"),
            Some(("demo", "prod", "support.answer"))
        );
        for other in [
            "/v1/projects/demo/environments/prod/prompts",
            "/v1/projects/demo/environments/prod/prompts/",
            "/v1/projects/demo/environments/prod/prompts/a/b",
            "/v1/projects/demo/environments/prod/watch",
            "/v1/projects//environments/prod/prompts/x",
            "/v1/projects/demo/environments/prod/prompts/a%2Fb",
            "/v1/projects/demo/labels/prod/prompts/x",
            "/v2/projects/demo/environments/prod/prompts/x",
        ] {
            assert_eq!(resolve_path(other), None, "{other}");
        }
    }
}
