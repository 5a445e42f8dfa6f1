//! Execution events in, metrics out, and the JSON Schemas of the shapes ingest reads.

use super::PromptPath;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::telemetry::{body, normalize, shapes};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_api::{
    EventOutcome, EventRetention, EventsPage, IngestReceipt, PromptMetrics, RecordedEvent,
    RejectedEvent,
};
use promptops_core::clock::{epoch_millis, now_millis as now_ms, rfc3339_at};
use promptops_store::Store;
use promptops_store::events::Step;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// Project name.
    pub project: String,
}

/// Reports prompt executions: a JSON array or NDJSON (one event per line) of
/// `ExecutionEvent`s, PromptLog records or agent traces, at most 10,000 per request.
/// Idempotent by event `id`. Events that cannot be read are listed in `rejected` and the
/// others are still taken; when none can be read, the answer is a 400 listing them. A full queue answers 429 with `Retry-After`: send the same
/// body again then.
#[utoipa::path(post, path = "/v1/projects/{project}/events", tag = "telemetry", params(ProjectPath),
    request_body(content = Vec<promptops_api::ExecutionEvent>, description = "a JSON array, or NDJSON (`application/x-ndjson`) with one event per line"),
    responses((status = 202, body = IngestReceipt),
              (status = 400, description = "the body is not a JSON array or NDJSON of events, or none of its events can be read", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 413, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 429, description = "the ingest queue is full; retry after `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn ingest<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
    bytes: Bytes,
) -> ApiResult<Response> {
    // An unknown project is a 404, not events stored for nobody.
    state.store.project(&p.project).await?;
    let items = body::items(&bytes).map_err(ApiError::bad_request)?;
    let telemetry = &state.telemetry;
    let received_ms = now_ms();
    let mut rejected = Vec::new();
    let mut stored = Vec::with_capacity(items.len());
    let mut known: std::collections::HashMap<_, normalize::Facts> =
        std::collections::HashMap::new();
    for item in items {
        let refuse = |error: String| RejectedEvent {
            index: item.index,
            at: item.at.clone(),
            error,
        };
        let read = match item.value.clone().and_then(shapes::read) {
            Ok(read) => read,
            Err(e) => {
                rejected.push(refuse(e));
                continue;
            }
        };
        // Events of one request mostly name the same few versions: ask once each.
        let key = (
            read.event.prompt_id.clone(),
            read.event.version.clone(),
            read.event.content_hash.clone(),
        );
        let facts = match known.get(&key) {
            Some(f) => f,
            None => {
                let f = telemetry
                    .facts(
                        &*state.store,
                        &p.project,
                        &key.0,
                        (key.1.as_deref(), key.2.as_deref()),
                    )
                    .await;
                known.entry(key).or_insert(f)
            }
        };
        match normalize::stored(&p.project, read, facts, telemetry.prices(), received_ms) {
            Ok(event) => stored.push(event),
            Err(e) => rejected.push(refuse(e)),
        }
    }
    let accepted = stored.len() as u64;
    if accepted == 0
        && let Some(first) = rejected.first()
    {
        // Nothing in the body is an event: the request as a whole is wrong.
        let mut e = ApiError::bad_request(format!(
            "no event in the body could be read ({} refused); the first, #{}{}: {}",
            rejected.len(),
            first.index,
            first
                .at
                .as_deref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default(),
            first.error
        ));
        e.0.errors = rejected
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        return Err(e);
    }
    let pipeline = telemetry.pipeline(&*state.store).await?;
    if pipeline.offer(stored).is_err() {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "the event queue is full; nothing from this request was taken; send it again after `Retry-After` seconds",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(IngestReceipt { accepted, rejected }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// One environment (`prod`); all of them when absent.
    pub env: Option<String>,
    /// RFC 3339 start (inclusive); default: `to` minus a day.
    pub from: Option<String>,
    /// RFC 3339 end (exclusive); default: now.
    pub to: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    pub step: Option<String>,
}

/// Most points one answer holds (a year of days, a month of hours, a day of minutes).
const MAX_POINTS: i64 = 1_500;

/// A prompt's calls per version over time: calls, errors, latency p50/p95/p99, tokens
/// and cost, per step and in total.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/metrics", tag = "telemetry", params(PromptPath, MetricsQuery),
    responses((status = 200, body = PromptMetrics),
              (status = 400, description = "a bad time, step or range", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn metrics<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PromptPath>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> ApiResult<Json<PromptMetrics>> {
    state.store.project(&p.project).await?;
    let step = match q.step.as_deref() {
        None => Step::Hour,
        Some(s) => Step::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("step `{s}`: use `minute`, `hour` or `day`"))
        })?,
    };
    let time = |name: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .as_deref()
            .map(|t| {
                epoch_millis(t).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`{name}` `{t}` is not an RFC 3339 time (e.g. `2026-12-03T14:00:00Z`)"
                    ))
                })
            })
            .transpose()
    };
    let to = time("to", &q.to)?.unwrap_or_else(now_ms);
    let from = time("from", &q.from)?.unwrap_or(to - Step::Day.millis());
    if from >= to {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    if (to - from) / step.millis() > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "that range has more than {MAX_POINTS} {}s; ask for a shorter range or a longer step",
            q.step.as_deref().unwrap_or("hour")
        )));
    }
    let pipeline = state.telemetry.pipeline(&*state.store).await?;
    let rollups = pipeline
        .store()
        .rollups(&p.project, &p.id, q.env.as_deref(), (from, to))
        .await?;
    Ok(Json(PromptMetrics {
        prompt_id: p.id,
        environment: q.env,
        from: rfc3339_at(from.div_euclid(1000), from.rem_euclid(1000) as u32),
        to: rfc3339_at(to.div_euclid(1000), to.rem_euclid(1000) as u32),
        step: match step {
            Step::Minute => "minute",
            Step::Hour => "hour",
            Step::Day => "day",
        }
        .into(),
        series: crate::telemetry::metrics::series(&rollups, step),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this prompt's events.
    pub prompt_id: Option<String>,
    /// Only this environment's.
    pub env: Option<String>,
    /// The `next` of the previous page; `latest` starts after the newest event (to
    /// follow from now on); absent: from the oldest kept.
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A project's execution events as received, oldest first, a page at a time: what
/// `promptops log tail` follows.
#[utoipa::path(get, path = "/v1/projects/{project}/events", tag = "telemetry", operation_id = "list_events", params(ProjectPath, EventsQuery),
    responses((status = 200, body = EventsPage),
              (status = 400, description = "a bad cursor or limit", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    state.store.project(&p.project).await?;
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit {n}: ask for 1 to 1000 events"
            )));
        }
    };
    let events = state.telemetry.pipeline(&*state.store).await?.store();
    let after: Option<(i64, String)> = match q.after.as_deref() {
        None | Some("") => None,
        Some("latest") => Some(
            events
                .newest(&p.project)
                .await?
                .unwrap_or((now_ms(), String::new())),
        ),
        Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| {
            ApiError::bad_request(format!(
                "after `{cursor}`: pass the `next` of a previous page, or `latest`"
            ))
        })?),
    };
    let page = events
        .recent(
            &p.project,
            (q.prompt_id.as_deref(), q.env.as_deref()),
            after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            limit,
        )
        .await?;
    let next = match (page.last(), &after) {
        (Some(e), _) => format!("{}:{}", e.received_ms, e.id),
        (None, Some((ms, id))) => format!("{ms}:{id}"),
        (None, None) => String::new(),
    };
    Ok(Json(EventsPage {
        events: page.into_iter().map(recorded).collect(),
        next,
    }))
}

/// `<received ms>:<id>` (the id may hold colons).
fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (ms, id) = cursor.split_once(':')?;
    Some((ms.parse().ok()?, id.to_owned()))
}

fn recorded(e: promptops_store::events::StoredEvent) -> RecordedEvent {
    let at = |ms: i64| rfc3339_at(ms.div_euclid(1000), ms.rem_euclid(1000) as u32);
    RecordedEvent {
        id: e.id,
        prompt_id: e.prompt_id,
        version: e.version,
        content_hash: e.content_hash,
        environment: e.environment,
        model: e.model,
        provider: e.provider,
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cost_usd: e.cost_nanos.map(|n| n as f64 / 1e9),
        latency_ms: e.latency_ms,
        outcome: if e.ok {
            EventOutcome::Ok
        } else {
            EventOutcome::Error
        },
        error: e.error,
        trace_id: e.trace_id,
        span_id: e.span_id,
        request_id: e.request_id,
        timestamp: at(e.timestamp_ms),
        received_at: at(e.received_ms),
        input: e.input,
        output: e.output,
    }
}

/// How long the project's events are kept.
#[utoipa::path(get, path = "/v1/projects/{project}/events/retention", tag = "telemetry", operation_id = "get_event_retention", params(ProjectPath),
    responses((status = 200, body = EventRetention), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn retention<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<EventRetention>> {
    state.store.project(&p.project).await?;
    let events = state.telemetry.pipeline(&*state.store).await?.store();
    Ok(Json(EventRetention {
        days: events.retention(&p.project).await?,
    }))
}

/// Sets how long the project's events are kept (older ones are deleted within the hour;
/// the metrics' rollups are kept 400 days regardless).
#[utoipa::path(put, path = "/v1/projects/{project}/events/retention", tag = "telemetry", operation_id = "set_event_retention", params(ProjectPath), request_body = EventRetention,
    responses((status = 200, body = EventRetention),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "days outside 1 to 3650", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn set_retention<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
    crate::extract::ApiJson(body): crate::extract::ApiJson<EventRetention>,
) -> ApiResult<Json<EventRetention>> {
    state.store.project(&p.project).await?;
    let events = state.telemetry.pipeline(&*state.store).await?.store();
    events.set_retention(&p.project, body.days).await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SchemaPath {
    /// `execution-event.json`, `prompt-log.json` or `agent-trace.json`.
    pub name: String,
}

/// The JSON Schemas of the event shapes ingest reads.
const SCHEMAS: &[(&str, &str)] = &[
    (
        "execution-event.json",
        include_str!("../../schemas/execution-event.json"),
    ),
    (
        "prompt-log.json",
        include_str!("../../schemas/prompt-log.json"),
    ),
    (
        "agent-trace.json",
        include_str!("../../schemas/agent-trace.json"),
    ),
];

/// A JSON Schema of an event shape `POST /v1/projects/{project}/events` reads.
#[utoipa::path(get, path = "/schemas/{name}", tag = "telemetry", params(SchemaPath), security(()),
    responses((status = 200, description = "the JSON Schema", content_type = "application/schema+json", body = Object),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn schema(ApiPath(p): ApiPath<SchemaPath>) -> ApiResult<Response> {
    let Some((_, text)) = SCHEMAS.iter().find(|(name, _)| *name == p.name) else {
        let names: Vec<&str> = SCHEMAS.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::not_found(format!(
            "no schema `{}`; there are {}",
            p.name,
            names.join(", ")
        )));
    };
    Ok(([(header::CONTENT_TYPE, "application/schema+json")], *text).into_response())
}
