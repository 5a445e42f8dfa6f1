//! What running applications ask: what an environment serves for a prompt (answered
//! from memory), everything it serves (for bundles), and the stream of its label moves.

use crate::delivery::{LabelEvent, Served, Unavailable};
use crate::extract::ApiPath;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use promptops_api::{Resolved, WatchEvent};
use promptops_store::{ChangeKind, Store};
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Which source answered: `memory`, `redis` or `database`.
pub const SOURCE_HEADER: HeaderName = HeaderName::from_static("promptops-source");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const STALE: HeaderValue = HeaderValue::from_static("110 - \"Response is Stale\"");

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResolvePath {
    pub project: String,
    /// Environment name.
    pub env: String,
    pub id: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EnvPath {
    pub project: String,
    /// Environment name.
    pub env: String,
}

fn unavailable(e: Unavailable) -> ApiError {
    match e {
        Unavailable::Store(e) => e.into(),
        Unavailable::NoSource => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no source can answer: the database and Redis are unreachable and this server holds no copy of this prompt; retry shortly",
        ),
    }
}

/// Marks a response as a delivery read (the access log samples those).
#[derive(Debug, Clone, Copy)]
pub struct DeliveryRead;

/// Fetches what an environment serves now, answered from memory when it can be
/// (`Promptops-Source` says which source answered), with `ETag` = the content hash and
/// `304 Not Modified` when `If-None-Match` already names it. When no source can confirm
/// the copy is current (the database and Redis are both unreachable), the last good copy
/// is served with `Warning: 110 - "Response is Stale"`.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/prompts/{id}", tag = "delivery", params(ResolvePath),
    responses((status = 200, body = Resolved, headers(("ETag" = String, description = "the content hash, quoted"))),
              (status = 304, description = "the caller's copy is current"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn resolve<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ResolvePath>,
    request: Request,
) -> ApiResult<Response> {
    let served = state
        .delivery
        .resolve(&p.project, &p.env, &p.id)
        .await
        .map_err(unavailable)?;
    let not_modified = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|h| served.answer.matches(h));
    Ok(respond(&served, not_modified))
}

/// The response for a served answer: bytes made once, headers from constants.
pub(crate) fn respond(served: &Served, not_modified: bool) -> Response {
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(served.answer.body.clone()));
        r.headers_mut().insert(header::CONTENT_TYPE, JSON);
        r
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, served.answer.etag.clone());
    headers.insert(
        SOURCE_HEADER,
        HeaderValue::from_static(served.source.as_str()),
    );
    if served.stale {
        headers.insert(header::WARNING, STALE);
    }
    response.extensions_mut().insert(DeliveryRead);
    response
}

/// Everything an environment serves now, by prompt id (what `promptops bundle` packs).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/prompts", tag = "delivery", operation_id = "list_served", params(EnvPath),
    responses((status = 200, body = Vec<Resolved>),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn served<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<EnvPath>,
) -> ApiResult<Response> {
    let versions = state.store.served(&p.project, &p.env).await?;
    let mut out = Vec::with_capacity(versions.len());
    for version in versions {
        let answer = crate::delivery::Answer::of(version, &p.env, 0).ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a stored version cannot be answered",
            )
        })?;
        out.push(answer.body);
    }
    // The answers are JSON already: joined, not parsed again.
    let mut body = Vec::with_capacity(out.iter().map(|b| b.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, b) in out.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b);
    }
    body.push(b']');
    Ok(([(header::CONTENT_TYPE, JSON)], body).into_response())
}

/// One label move in the environment, as a server-sent event.
fn event(e: &LabelEvent) -> Event {
    let data = WatchEvent {
        id: e.prompt.clone(),
        version: e.version.clone(),
        content_hash: e.content_hash.clone(),
        environment: e.environment.clone(),
        seq: e.seq,
    };
    Event::default()
        .id(e.seq.to_string())
        .event("label")
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

/// What a watcher still has to be sent: the replay from the feed, then live moves.
struct Watcher {
    project: String,
    environment: String,
    replay: VecDeque<LabelEvent>,
    live: broadcast::Receiver<Arc<LabelEvent>>,
    last: u64,
}

impl Watcher {
    fn wants(&self, e: &LabelEvent) -> bool {
        e.seq > self.last && e.project == self.project && e.environment == self.environment
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Watcher)> {
        while let Some(e) = self.replay.pop_front() {
            if self.wants(&e) {
                self.last = e.seq;
                return Some((Ok(event(&e)), self));
            }
        }
        loop {
            match self.live.recv().await {
                Ok(e) if self.wants(&e) => {
                    self.last = e.seq;
                    return Some((Ok(event(&e)), self));
                }
                Ok(_) => {}
                // Too slow to keep up: dropped; it resumes with Last-Event-ID.
                Err(broadcast::error::RecvError::Lagged(_)) => return None,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The moves of `project`'s `env` labels after feed position `after`, from the store.
async fn replay<S: Store>(
    state: &AppState<S>,
    project: &str,
    env: &str,
    after: u64,
) -> Result<VecDeque<LabelEvent>, ApiError> {
    let mut out = VecDeque::new();
    let mut from = after;
    loop {
        let changes = state.store.changes_after(from, 512).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            break;
        };
        for change in changes {
            if let ChangeKind::LabelMoved {
                project: p,
                prompt,
                environment,
                to,
                ..
            } = &change.kind
                && p == project
                && environment == env
            {
                let version = state.store.version(project, prompt, to).await?;
                out.push_back(LabelEvent {
                    seq: change.seq,
                    project: p.clone(),
                    environment: environment.clone(),
                    prompt: prompt.clone(),
                    version: to.clone(),
                    content_hash: version.content_hash,
                });
            }
        }
        from = last;
    }
    Ok(out)
}

/// Server-Sent Events: one `label` event per label move in the environment (`id:` the
/// change's feed position; `data:` the prompt id, version and content hash). Send
/// `Last-Event-ID` to resume without a gap; a comment every `watch_heartbeat_secs` keeps
/// the connection alive. A watcher too slow to keep up is disconnected (it resumes with
/// `Last-Event-ID`) and never slows the others. Same permission as reading a prompt.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/watch", tag = "delivery", params(EnvPath,
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event")),
    responses((status = 200, description = "an event stream of label moves", content_type = "text/event-stream"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn watch<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<EnvPath>,
    request: Request,
) -> ApiResult<Response> {
    let project = state.store.project(&p.project).await?;
    if !project.environments.contains(&p.env) {
        return Err(ApiError::not_found(format!(
            "environment `{}` not found in `{}` ({})",
            p.env,
            p.project,
            project.environments.join(", ")
        )));
    }
    let last_id = match request.headers().get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be the id of an event (a number)")
                })?,
        ),
    };
    // Subscribed before the replay is read, so nothing falls between the two.
    let live = state.delivery.subscribe();
    let (replayed, last) = match last_id {
        Some(after) => (replay(&state, &p.project, &p.env, after).await?, after),
        None => (VecDeque::new(), state.delivery.applied()),
    };
    let watcher = Watcher {
        project: p.project,
        environment: p.env,
        replay: replayed,
        live,
        last,
    };
    let stream = futures_util::stream::unfold(watcher, Watcher::next);
    let heartbeat = Duration::from_secs(state.settings.watch_heartbeat_secs.max(1));
    Ok(sse(stream, heartbeat).into_response())
}

fn sse(
    stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    heartbeat: Duration,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static> {
    Sse::new(stream).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
}
