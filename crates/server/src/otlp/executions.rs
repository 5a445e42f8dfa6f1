//! Ingested execution events as OpenTelemetry GenAI client spans and metrics, following
//! the GenAI semantic conventions (checked against the conventions' registry as of
//! December 2026; the `gen_ai.*` names are still marked development there):
//!
//! - span `"{gen_ai.operation.name} {gen_ai.request.model}"`, kind client, from
//!   `timestamp − latency_ms` to `timestamp` (the SDKs report a call when it ends),
//!   error status with `error.type` when the call failed;
//! - `gen_ai.operation.name` (`chat`), `gen_ai.provider.name` (the conventions' names:
//!   `openai`, `anthropic`, `aws.bedrock`, `azure.ai.openai`, `gcp.gemini`, …),
//!   `gen_ai.request.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//!   `gen_ai.prompt.name` (the prompt id);
//! - the conventions have no prompt version: `promptops.prompt.version`, with
//!   `promptops.prompt.content_hash`, `promptops.project`, `promptops.environment`,
//!   `promptops.event.id`, `promptops.request.id` and `promptops.cost_usd`;
//! - metrics `gen_ai.client.operation.duration` (s) and `gen_ai.client.token.usage`
//!   (by `gen_ai.token.type`), and `promptops.execution.cost` (USD).
//!
//! The span joins the application's trace: its parent is the event's `span_id` in the
//! event's `trace_id` (W3C hex, or a UUID). A trace id in another form is hashed into
//! a W3C one, the same for every event that carries it, and kept as
//! `promptops.trace_id`. Inputs and outputs are not exported: they stay in the event
//! store under the prompt's `content_capture`.

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use promptops_core::canonical::sha256_hex;
use promptops_store::events::StoredEvent;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The operation every execution is reported as: prompts are sent to chat and
/// completion endpoints alike, and the event does not say which.
pub const OPERATION: &str = "chat";

/// The tracer and instruments executions are recorded with.
#[derive(Debug)]
pub struct Executions {
    tracer: SdkTracer,
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    cost: Counter<f64>,
}

impl Executions {
    pub fn new(tracer: SdkTracer, meter: &Meter) -> Executions {
        Executions {
            tracer,
            duration: meter
                .f64_histogram("gen_ai.client.operation.duration")
                .with_unit("s")
                .with_description("GenAI operation duration, as the applications reported it")
                .with_boundaries(vec![
                    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92,
                ])
                .build(),
            tokens: meter
                .u64_histogram("gen_ai.client.token.usage")
                .with_unit("{token}")
                .with_description("Tokens used per call, by gen_ai.token.type")
                .with_boundaries(vec![
                    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0,
                    1048576.0, 4194304.0, 16777216.0, 67108864.0,
                ])
                .build(),
            cost: meter
                .f64_counter("promptops.execution.cost")
                .with_unit("USD")
                .with_description("What the calls cost (reported, else priced by the server)")
                .build(),
        }
    }

    /// Records each event as a span and in the metrics.
    pub fn record<'a>(&self, events: impl IntoIterator<Item = &'a StoredEvent>) {
        for event in events {
            let parts = span_parts(event);
            let builder = self
                .tracer
                .span_builder(parts.name)
                .with_kind(SpanKind::Client)
                .with_start_time(parts.start)
                .with_attributes(parts.attributes);
            // No parent is a root, not an invalid parent: a parent-based sampler drops
            // the children of an unsampled (and so of an invalid) parent.
            let parent = if parts.parent.is_valid() {
                Context::new().with_remote_span_context(parts.parent)
            } else {
                Context::new()
            };
            let mut span = builder.start_with_context(&self.tracer, &parent);
            if let Some(status) = parts.status {
                span.set_status(status);
            }
            span.end_with_timestamp(parts.end);
            self.measure(event);
        }
    }

    fn measure(&self, event: &StoredEvent) {
        let mut common = vec![KeyValue::new("gen_ai.operation.name", OPERATION)];
        if let Some(p) = &event.provider {
            common.push(KeyValue::new("gen_ai.provider.name", provider_name(p)));
        }
        if let Some(m) = &event.model {
            common.push(KeyValue::new("gen_ai.request.model", m.clone()));
        }
        common.push(KeyValue::new("gen_ai.prompt.name", event.prompt_id.clone()));
        if let Some(v) = &event.version {
            common.push(KeyValue::new("promptops.prompt.version", v.clone()));
        }
        if let Some(e) = &event.environment {
            common.push(KeyValue::new("promptops.environment", e.clone()));
        }
        let mut timed = common.clone();
        if !event.ok {
            timed.push(KeyValue::new(
                "error.type",
                error_type(event.error.as_deref()),
            ));
        }
        if let Some(ms) = event.latency_ms {
            self.duration.record(ms as f64 / 1000.0, &timed);
        }
        for (kind, n) in [
            ("input", event.input_tokens),
            ("output", event.output_tokens),
        ] {
            if let Some(n) = n {
                let mut attributes = common.clone();
                attributes.push(KeyValue::new("gen_ai.token.type", kind));
                self.tokens.record(n, &attributes);
            }
        }
        if let Some(nanos) = event.cost_nanos {
            self.cost.add(nanos as f64 / 1e9, &common);
        }
    }
}

/// A span as [`Executions::record`] starts it.
#[derive(Debug)]
pub struct SpanParts {
    pub name: String,
    pub parent: SpanContext,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    pub status: Option<Status>,
}

/// The span an event becomes.
pub fn span_parts(event: &StoredEvent) -> SpanParts {
    let end = UNIX_EPOCH + Duration::from_millis(event.timestamp_ms.max(0) as u64);
    let start = end
        .checked_sub(Duration::from_millis(event.latency_ms.unwrap_or(0)))
        .unwrap_or(end);
    let name = match &event.model {
        Some(model) => format!("{OPERATION} {model}"),
        None => OPERATION.to_owned(),
    };
    let mut attributes = vec![
        KeyValue::new("gen_ai.operation.name", OPERATION),
        KeyValue::new("gen_ai.prompt.name", event.prompt_id.clone()),
        KeyValue::new("promptops.project", event.project.clone()),
        KeyValue::new("promptops.event.id", event.id.clone()),
    ];
    let mut text = |key: &'static str, value: &Option<String>| {
        if let Some(v) = value {
            attributes.push(KeyValue::new(key, v.clone()));
        }
    };
    text("gen_ai.request.model", &event.model);
    text("promptops.prompt.version", &event.version);
    text("promptops.prompt.content_hash", &event.content_hash);
    text("promptops.environment", &event.environment);
    text("promptops.request.id", &event.request_id);
    if let Some(p) = &event.provider {
        attributes.push(KeyValue::new("gen_ai.provider.name", provider_name(p)));
    }
    for (key, n) in [
        ("gen_ai.usage.input_tokens", event.input_tokens),
        ("gen_ai.usage.output_tokens", event.output_tokens),
    ] {
        if let Some(n) = n {
            attributes.push(KeyValue::new(key, i64::try_from(n).unwrap_or(i64::MAX)));
        }
    }
    if let Some(nanos) = event.cost_nanos {
        attributes.push(KeyValue::new("promptops.cost_usd", nanos as f64 / 1e9));
    }
    let status = (!event.ok).then(|| {
        attributes.push(KeyValue::new(
            "error.type",
            error_type(event.error.as_deref()),
        ));
        Status::error(
            event
                .error
                .as_deref()
                .map(|e| truncate(e, 256))
                .unwrap_or_default(),
        )
    });
    let trace_id = event.trace_id.as_deref().map(|given| {
        let (id, exact) = trace_id_of(&event.project, given);
        if !exact {
            attributes.push(KeyValue::new("promptops.trace_id", given.to_owned()));
        }
        id
    });
    SpanParts {
        name,
        parent: parent_of(&event.project, trace_id, event.span_id.as_deref()),
        start,
        end,
        attributes,
        status,
    }
}

/// The application's span the execution hangs under: the event's span in its trace. An
/// event with a trace id and no span id hangs under a span id derived from the trace
/// id (the trace stays one; its root shows as missing). Without a trace id: none.
fn parent_of(project: &str, trace_id: Option<TraceId>, span_id: Option<&str>) -> SpanContext {
    let Some(trace_id) = trace_id.filter(|t| *t != TraceId::INVALID) else {
        return SpanContext::empty_context();
    };
    let span_id = span_id
        .and_then(|s| SpanId::from_hex(s.trim()).ok())
        .filter(|s| *s != SpanId::INVALID)
        .unwrap_or_else(|| {
            let digest = sha256_hex(format!("{project}\n{trace_id}\nspan"));
            SpanId::from_hex(&digest[..16]).unwrap_or(SpanId::INVALID)
        });
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    )
}

/// A W3C trace id for `given`, and whether it is `given` itself (32 hex digits, or a
/// UUID's) rather than derived from it.
pub fn trace_id_of(project: &str, given: &str) -> (TraceId, bool) {
    let bare: String = given.trim().chars().filter(|c| *c != '-').collect();
    if bare.len() == 32
        && let Ok(id) = TraceId::from_hex(&bare)
        && id != TraceId::INVALID
    {
        return (id, true);
    }
    let digest = sha256_hex(format!("{project}\n{given}"));
    (
        TraceId::from_hex(&digest[..32]).unwrap_or(TraceId::INVALID),
        false,
    )
}

/// The conventions' `gen_ai.provider.name` for a provider as events name it
/// (`openai`, `openai:chat:gpt-4o`, `bedrock`, …); one they do not list stays as given.
pub fn provider_name(provider: &str) -> String {
    let head = provider
        .split(':')
        .next()
        .unwrap_or(provider)
        .trim()
        .to_ascii_lowercase();
    let known = match head.as_str() {
        "azure" | "azureopenai" | "azure-openai" | "azure_openai" => "azure.ai.openai",
        "bedrock" | "aws" | "aws-bedrock" | "aws.bedrock" => "aws.bedrock",
        "google" | "gemini" | "gcp.gemini" => "gcp.gemini",
        "vertex" | "vertexai" | "gcp.vertex_ai" => "gcp.vertex_ai",
        "mistral" | "mistral_ai" | "mistralai" => "mistral_ai",
        "xai" | "x_ai" | "grok" => "x_ai",
        "watsonx" | "ibm.watsonx.ai" => "ibm.watsonx.ai",
        _ => return head,
    };
    known.to_owned()
}

/// A low-cardinality `error.type`: the error itself when it reads as an identifier (an
/// HTTP status, `rate_limit_exceeded`, `TimeoutError`), else `_OTHER`.
fn error_type(error: Option<&str>) -> String {
    match error.map(str::trim) {
        Some(e)
            if !e.is_empty()
                && e.len() <= 64
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c)) =>
        {
            e.to_owned()
        }
        _ => "_OTHER".to_owned(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> StoredEvent {
        StoredEvent {
            project: "shop".into(),
            id: "e1".into(),
            prompt_id: "support.answer".into(),
            version: Some("1.2.0".into()),
            content_hash: Some("sha256:ab".into()),
            environment: Some("prod".into()),
            model: Some("gpt-4o-mini".into()),
            provider: Some("openai".into()),
            input_tokens: Some(120),
            output_tokens: Some(30),
            cost_nanos: Some(1_500),
            latency_ms: Some(250),
            ok: true,
            error: None,
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            span_id: Some("00f067aa0ba902b7".into()),
            request_id: Some("req-9".into()),
            timestamp_ms: 1_700_000_000_250,
            received_ms: 1_700_000_000_300,
            input: None,
            output: None,
            extra: None,
        }
    }

    fn attribute<'a>(parts: &'a SpanParts, key: &str) -> Option<&'a opentelemetry::Value> {
        parts
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn an_event_becomes_a_genai_client_span_in_its_trace() {
        let parts = span_parts(&event());
        assert_eq!(parts.name, "chat gpt-4o-mini");
        assert_eq!(
            parts.parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parts.parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parts.parent.is_remote());
        assert_eq!(
            parts.end.duration_since(parts.start).unwrap(),
            Duration::from_millis(250)
        );
        for (key, value) in [
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "gpt-4o-mini"),
            ("gen_ai.prompt.name", "support.answer"),
            ("promptops.prompt.version", "1.2.0"),
            ("promptops.environment", "prod"),
            ("promptops.project", "shop"),
        ] {
            assert_eq!(
                attribute(&parts, key).map(ToString::to_string).as_deref(),
                Some(value),
                "{key}"
            );
        }
        assert_eq!(
            attribute(&parts, "gen_ai.usage.input_tokens"),
            Some(&opentelemetry::Value::I64(120))
        );
        assert_eq!(
            attribute(&parts, "promptops.cost_usd"),
            Some(&opentelemetry::Value::F64(1.5e-6))
        );
        assert!(parts.status.is_none());
        assert!(attribute(&parts, "error.type").is_none());
    }

    #[test]
    fn a_failed_call_has_an_error_status_and_type() {
        let mut e = event();
        e.ok = false;
        e.error = Some("rate_limit_exceeded".into());
        let parts = span_parts(&e);
        assert_eq!(
            parts.status,
            Some(Status::error("rate_limit_exceeded".to_owned()))
        );
        assert_eq!(
            attribute(&parts, "error.type").map(ToString::to_string),
            Some("rate_limit_exceeded".into())
        );
        e.error = Some("the model timed out after 30 s".into());
        let parts = span_parts(&e);
        assert_eq!(
            attribute(&parts, "error.type").map(ToString::to_string),
            Some("_OTHER".into())
        );
    }

    #[test]
    fn trace_ids_in_other_forms_are_kept_and_hashed_the_same_way() {
        let (uuid, exact) = trace_id_of("p", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
        assert!(exact);
        assert_eq!(uuid.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let (a, exact) = trace_id_of("p", "run-2025-11-03/17");
        assert!(!exact);
        assert_eq!(a, trace_id_of("p", "run-2025-11-03/17").0);
        assert_ne!(a, trace_id_of("q", "run-2025-11-03/17").0);
        assert_ne!(a, TraceId::INVALID);

        let mut e = event();
        e.trace_id = Some("run-2025-11-03/17".into());
        e.span_id = None;
        let parts = span_parts(&e);
        assert_eq!(
            parts.parent.trace_id(),
            trace_id_of("shop", "run-2025-11-03/17").0
        );
        assert!(parts.parent.is_valid());
        assert_eq!(
            attribute(&parts, "promptops.trace_id").map(ToString::to_string),
            Some("run-2025-11-03/17".into())
        );
        e.trace_id = None;
        assert!(!span_parts(&e).parent.is_valid());
    }

    #[test]
    fn providers_get_the_conventions_names() {
        for (given, name) in [
            ("openai", "openai"),
            ("openai:chat:gpt-4o", "openai"),
            ("Anthropic", "anthropic"),
            ("bedrock", "aws.bedrock"),
            ("azure", "azure.ai.openai"),
            ("gemini", "gcp.gemini"),
            ("mistral", "mistral_ai"),
            ("ollama", "ollama"),
        ] {
            assert_eq!(provider_name(given), name, "{given}");
        }
    }
}
