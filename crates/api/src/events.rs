//! Execution events (what a running application reports about each prompt call) and the
//! metrics read back from them.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// One prompt call, as an application reports it (`POST /v1/projects/{project}/events`
/// takes a JSON array or NDJSON of these; the PromptLog and agent-trace shapes are read
/// too). Only `prompt_id` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutionEvent {
    /// The event's id: sending it again is a no-op. Without one, the server derives it
    /// from the event's content, so an identical event sent twice is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub prompt_id: String,
    /// The version that ran (semver). Or give `content_hash` and the server finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Computed from the price table (model and tokens) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `ok` (the default, unless `error` is given) or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<EventOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// RFC 3339; the time the server took it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Kept as the prompt's `compliance.content_capture` says (`none`, `hashed` — the
    /// default — or `full`, with secrets and personal data redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub input: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub output: Option<Json>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    Ok,
    Error,
}

/// What an ingest request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IngestReceipt {
    /// Events taken (queued for storage; duplicates of stored ones are dropped there).
    pub accepted: u64,
    /// Events refused, each with where and why; the others were still taken.
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectedEvent {
    /// Position in the array or line of the NDJSON body (from 0).
    pub index: u64,
    /// `line:column` of the body where the event starts or its error is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub error: String,
}

/// A prompt's metrics over time, per version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptMetrics {
    pub prompt_id: String,
    /// `None`: every environment.
    pub environment: Option<String>,
    pub from: String,
    pub to: String,
    /// `minute`, `hour` or `day`.
    pub step: String,
    pub series: Vec<VersionSeries>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VersionSeries {
    /// `None`: calls whose version is unknown.
    pub version: Option<String>,
    pub totals: MetricsPoint,
    pub points: Vec<MetricsPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricsPoint {
    /// The step's start (RFC 3339, UTC); absent on totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub latency_ms: Percentiles,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub cost_per_call_usd: f64,
}

/// Latency percentiles in ms (each at most 5% above the true value); `None` without
/// calls that reported a latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Percentiles {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

/// A stored execution, as `GET /v1/projects/{project}/events` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordedEvent {
    pub id: String,
    pub prompt_id: String,
    pub version: Option<String>,
    pub content_hash: Option<String>,
    pub environment: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
    pub outcome: EventOutcome,
    pub error: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub request_id: Option<String>,
    /// When the call happened (RFC 3339).
    pub timestamp: String,
    /// When the server took it (RFC 3339).
    pub received_at: String,
    /// As captured: absent, `sha256:<hex>`, or redacted text.
    pub input: Option<String>,
    pub output: Option<String>,
}

/// A page of events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<RecordedEvent>,
    /// Pass as `after` for the events that follow (also when this page is empty).
    pub next: String,
}

/// How long a project's execution events are kept (`GET`/`PUT
/// /v1/projects/{project}/events/retention`). Metrics outlive them: the minute rollups
/// are kept 400 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRetention {
    /// 1 to 3650; 30 unless set.
    #[schema(minimum = 1, maximum = 3650)]
    pub days: u32,
}
