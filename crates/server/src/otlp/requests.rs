//! A routed request as a server span and a point of `http.server.request.duration`,
//! with the HTTP semantic conventions' attributes. The span continues the caller's
//! trace when the request carries a W3C `traceparent`.
//!
//! Resolves answered from memory by the hot path ([`crate::hot_path`]) are not traced:
//! they come by the ten thousand a second and cost microseconds, so a span each would
//! cost more than the answer. They are counted (`promptops.delivery.reads`, source
//! `memory`); a resolve that misses goes through the router and is traced.

use axum::http::HeaderMap;
use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;
use std::time::SystemTime;

/// The tracer and the duration histogram requests are recorded with.
#[derive(Debug)]
pub struct Requests {
    tracer: SdkTracer,
    duration: Histogram<f64>,
    propagator: TraceContextPropagator,
}

/// What is known of a request once it is answered.
#[derive(Debug)]
pub struct Answered<'a> {
    pub method: &'a str,
    /// The route as declared (`/v1/projects/{project}/events`).
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// `Promptops-Source` of a resolve.
    pub source: Option<&'a str>,
}

impl Requests {
    pub fn new(tracer: SdkTracer, meter: &Meter) -> Requests {
        Requests {
            tracer,
            // The conventions' advised boundaries for HTTP durations.
            duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Duration of HTTP server requests")
                .with_boundaries(vec![
                    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                ])
                .build(),
            propagator: TraceContextPropagator::new(),
        }
    }

    /// The caller's trace context from the request's headers (none: a new trace).
    pub fn parent(&self, headers: &HeaderMap) -> Context {
        self.propagator.extract(&Headers(headers))
    }

    /// Ends the request's span (a child of `parent`) and records its duration.
    pub fn record(&self, parent: &Context, request: &Answered<'_>) {
        let mut common = vec![
            KeyValue::new("http.request.method", request.method.to_owned()),
            KeyValue::new("http.route", request.route.to_owned()),
            KeyValue::new("http.response.status_code", i64::from(request.status)),
        ];
        if request.status >= 500 {
            common.push(KeyValue::new("error.type", request.status.to_string()));
        }
        let seconds = request
            .ended
            .duration_since(request.started)
            .unwrap_or_default()
            .as_secs_f64();
        self.duration.record(seconds, &common);

        let mut attributes = common;
        attributes.push(KeyValue::new("url.path", request.path.to_owned()));
        if let Some(source) = request.source {
            attributes.push(KeyValue::new(
                "promptops.delivery.source",
                source.to_owned(),
            ));
        }
        let builder = self
            .tracer
            .span_builder(format!("{} {}", request.method, request.route))
            .with_kind(SpanKind::Server)
            .with_start_time(request.started)
            .with_attributes(attributes);
        let mut span = builder.start_with_context(&self.tracer, parent);
        // Server spans are errors for 5xx only: a 4xx is the caller's mistake.
        if request.status >= 500 {
            span.set_status(Status::error(""));
        }
        span.end_with_timestamp(request.ended);
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
