//! OTLP/HTTP export against a local receiver that decodes what it is sent with the
//! protocol's own protobuf messages: the server's request spans continue the caller's
//! `traceparent`; ingested executions come back as GenAI client spans in the
//! application's trace, once each (a retried send is not re-emitted); the server's and
//! the executions' metrics arrive.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use common::Api;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::{
    Span, span::SpanKind, status::StatusCode as SpanStatus,
};
use promptops_server::Settings;
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROMPT: &str = "support.greet";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const APP_SPAN: &str = "00f067aa0ba902b7";
const CALLER_SPAN: &str = "b7ad6b7169203331";

#[derive(Default)]
struct Got {
    spans: Vec<(Vec<KeyValue>, Span)>,
    metrics: Vec<Metric>,
    paths: Vec<String>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Got>>);

impl Collector {
    /// Listens on a free port; its base URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let traces = self.clone();
        let metrics = self.clone();
        let app = axum::Router::new()
            .route(
                "/v1/traces",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
                    let me = traces.clone();
                    async move {
                        assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
                        let request = ExportTraceServiceRequest::decode(body).unwrap();
                        let mut got = me.0.lock().unwrap();
                        got.paths.push("/v1/traces".into());
                        for rs in request.resource_spans {
                            let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
                            for ss in rs.scope_spans {
                                for span in ss.spans {
                                    got.spans.push((resource.clone(), span));
                                }
                            }
                        }
                        StatusCode::OK
                    }
                }),
            )
            .route(
                "/v1/metrics",
                axum::routing::post(move |body: Bytes| {
                    let me = metrics.clone();
                    async move {
                        let request = ExportMetricsServiceRequest::decode(body).unwrap();
                        let mut got = me.0.lock().unwrap();
                        got.paths.push("/v1/metrics".into());
                        for rm in request.resource_metrics {
                            for sm in rm.scope_metrics {
                                got.metrics.extend(sm.metrics);
                            }
                        }
                        StatusCode::OK
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn spans_named(&self, name: &str) -> Vec<(Vec<KeyValue>, Span)> {
        let got = self.0.lock().unwrap();
        got.spans
            .iter()
            .filter(|(_, s)| s.name == name)
            .cloned()
            .collect()
    }

    fn metric(&self, name: &str) -> Option<Metric> {
        let got = self.0.lock().unwrap();
        got.metrics.iter().rev().find(|m| m.name == name).cloned()
    }
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attributes, key) {
        Some(any_value::Value::IntValue(n)) => Some(*n),
        _ => None,
    }
}

fn source(version: &str) -> String {
    format!(
        "id: {PROMPT}\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"Hello {{{{ name }}}}\"\nvariables:\n  name: string\n\
         compliance:\n  risk_tier: low\n"
    )
}

/// Flushes the exporters (the SDK waits for its threads) until `done` holds.
async fn flushed_until(
    api: &Api,
    collector: &Collector,
    what: &str,
    done: impl Fn(&Collector) -> bool,
) {
    for _ in 0..100 {
        let otlp = api.otlp.clone().expect("OTLP export is on");
        tokio::task::spawn_blocking(move || otlp.flush())
            .await
            .unwrap();
        if done(collector) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = collector.0.lock().unwrap();
    let names: Vec<&str> = got.spans.iter().map(|(_, s)| s.name.as_str()).collect();
    panic!(
        "the collector never received {what}; it got {:?} with spans {names:?}",
        got.paths
    );
}

async fn post_events(api: &Api, events: serde_json::Value) -> StatusCode {
    let reply = api
        .send(
            Request::post("/v1/projects/acme/events")
                .header(header::CONTENT_TYPE, "application/json")
                .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
                .body(Body::from(events.to_string()))
                .unwrap(),
        )
        .await;
    assert!(
        reply.body["rejected"].as_array().is_none_or(Vec::is_empty),
        "{}",
        reply.text
    );
    reply.status
}

#[tokio::test]
async fn requests_and_executions_reach_the_collector_as_spans_and_metrics() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let api = Api::with_options(Settings {
        otlp_endpoint: Some(format!("{endpoint}/")),
        ..Settings::default()
    })
    .await;
    let published = api
        .post(
            &format!("/v1/projects/acme/prompts/{PROMPT}/versions"),
            json!({"source": source("1.0.0")}),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let hash = published.body["version"]["content_hash"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = json!([
        {"id": "e1", "prompt_id": PROMPT, "content_hash": hash, "environment": "prod",
         "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 100,
         "latency_ms": 120, "timestamp": "2026-12-01T10:15:00.500Z",
         "trace_id": TRACE, "span_id": APP_SPAN, "request_id": "req-1"},
        {"id": "e2", "prompt_id": PROMPT, "version": "1.0.0", "environment": "prod",
         "provider": "bedrock", "model": "anthropic.claude-3-haiku", "latency_ms": 900,
         "outcome": "error", "error": "ThrottlingException", "timestamp": "2026-12-01T10:16:00Z"},
    ]);
    assert_eq!(
        post_events(&api, events.clone()).await,
        StatusCode::ACCEPTED
    );

    flushed_until(&api, &collector, "both execution spans", |c| {
        c.spans_named("chat gpt-4o-mini").len() == 1
            && c.spans_named("chat anthropic.claude-3-haiku").len() == 1
    })
    .await;

    // The execution, in the application's trace under the application's span.
    let (resource, span) = collector.spans_named("chat gpt-4o-mini").remove(0);
    assert_eq!(text(&resource, "service.name"), Some("promptops"));
    assert_eq!(hex(&span.trace_id), TRACE);
    assert_eq!(hex(&span.parent_span_id), APP_SPAN);
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(
        span.end_time_unix_nano - span.start_time_unix_nano,
        120_000_000
    );
    assert_eq!(span.end_time_unix_nano, 1_796_120_100_500_000_000);
    let a = &span.attributes;
    assert_eq!(text(a, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(text(a, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(text(a, "gen_ai.request.model"), Some("gpt-4o-mini"));
    assert_eq!(text(a, "gen_ai.prompt.name"), Some(PROMPT));
    assert_eq!(int(a, "gen_ai.usage.input_tokens"), Some(1000));
    assert_eq!(int(a, "gen_ai.usage.output_tokens"), Some(100));
    // Resolved from the content hash by the server.
    assert_eq!(text(a, "promptops.prompt.version"), Some("1.0.0"));
    assert_eq!(text(a, "promptops.environment"), Some("prod"));
    assert_eq!(text(a, "promptops.project"), Some("acme"));
    assert_eq!(text(a, "promptops.request.id"), Some("req-1"));
    match attr(a, "promptops.cost_usd") {
        Some(any_value::Value::DoubleValue(c)) => assert!(*c > 0.0, "priced: {c}"),
        other => panic!("promptops.cost_usd: {other:?}"),
    }

    // The failed call: an error, in a trace of its own.
    let (_, failed) = collector
        .spans_named("chat anthropic.claude-3-haiku")
        .remove(0);
    assert_eq!(
        failed.status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );
    assert_eq!(
        text(&failed.attributes, "error.type"),
        Some("ThrottlingException")
    );
    assert_eq!(
        text(&failed.attributes, "gen_ai.provider.name"),
        Some("aws.bedrock")
    );
    assert!(failed.parent_span_id.is_empty());
    assert_ne!(hex(&failed.trace_id), TRACE);

    // The ingest request, as a server span continuing the caller's traceparent.
    let posts = collector.spans_named("POST /v1/projects/{project}/events");
    let (_, post) = posts.first().expect("the ingest request was traced");
    assert_eq!(hex(&post.trace_id), TRACE);
    assert_eq!(hex(&post.parent_span_id), CALLER_SPAN);
    assert_eq!(post.kind, SpanKind::Server as i32);
    assert_eq!(
        text(&post.attributes, "http.route"),
        Some("/v1/projects/{project}/events")
    );
    assert_eq!(
        text(&post.attributes, "url.path"),
        Some("/v1/projects/acme/events")
    );
    assert_eq!(
        int(&post.attributes, "http.response.status_code"),
        Some(202)
    );

    // A retried send stores nothing new and re-emits nothing.
    assert_eq!(post_events(&api, events).await, StatusCode::ACCEPTED);
    flushed_until(&api, &collector, "the second ingest request", |c| {
        c.spans_named("POST /v1/projects/{project}/events").len() == 2
    })
    .await;
    flushed_until(&api, &collector, "the duplicates counted", |c| {
        ingest(c, "duplicate") == Some(2)
    })
    .await;
    assert_eq!(collector.spans_named("chat gpt-4o-mini").len(), 1);

    // Metrics: the server's and the executions'.
    assert_eq!(ingest(&collector, "stored"), Some(2));
    let duration = collector.metric("http.server.request.duration").unwrap();
    let Some(metric::Data::Histogram(h)) = duration.data else {
        panic!("http.server.request.duration is a histogram");
    };
    assert!(h.data_points.iter().any(|p| {
        text(&p.attributes, "http.route") == Some("/v1/projects/{project}/events")
            && text(&p.attributes, "http.request.method") == Some("POST")
            && p.count == 2
    }));
    let tokens = collector.metric("gen_ai.client.token.usage").unwrap();
    let Some(metric::Data::Histogram(h)) = tokens.data else {
        panic!("gen_ai.client.token.usage is a histogram");
    };
    let input = h
        .data_points
        .iter()
        .find(|p| text(&p.attributes, "gen_ai.token.type") == Some("input"))
        .unwrap();
    assert_eq!(input.sum, Some(1000.0));
    assert_eq!(text(&input.attributes, "gen_ai.prompt.name"), Some(PROMPT));
    let calls = collector
        .metric("gen_ai.client.operation.duration")
        .unwrap();
    let Some(metric::Data::Histogram(h)) = calls.data else {
        panic!("gen_ai.client.operation.duration is a histogram");
    };
    assert_eq!(h.data_points.iter().map(|p| p.count).sum::<u64>(), 2);
    for name in [
        "db.client.connection.count",
        "promptops.service.up",
        "promptops.ingest.queued",
        "promptops.execution.cost",
    ] {
        assert!(collector.metric(name).is_some(), "{name} was not exported");
    }
}

/// The last exported total of `promptops.ingest.events` with this outcome.
fn ingest(c: &Collector, outcome: &str) -> Option<i64> {
    let m = c.metric("promptops.ingest.events")?;
    let Some(metric::Data::Sum(sum)) = m.data else {
        return None;
    };
    sum.data_points.iter().find_map(|p| {
        let n = match p.value {
            Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(n)) => n,
            _ => -1,
        };
        (text(&p.attributes, "promptops.outcome") == Some(outcome)).then_some(n)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported() {
    let api = Api::new().await;
    assert!(api.otlp.is_none());
}
