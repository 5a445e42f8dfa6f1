//! OpenTelemetry over OTLP/HTTP (`serve --otlp-endpoint URL`): the server's own traces
//! (one server span per routed request, continuing the caller's `traceparent`) and
//! metrics, and every execution event ingested, re-emitted as a GenAI client span (and
//! counted in the GenAI client metrics) in the application's own trace.
//!
//! - [`executions`] maps a stored event to its span and metric points;
//! - [`requests`] records a routed request as a server span and a duration;
//! - [`instruments`] declares the server's metrics, read from the same places as
//!   `/metrics` ([`crate::exposition`]).
//!
//! Export runs on the SDK's own threads (a batching span processor and a periodic metric
//! reader, protobuf over HTTP): a request or the ingest writer only hands a finished span
//! to a bounded queue, and a collector that is slow or away costs dropped spans, never a
//! slower request. The standard `OTEL_*` variables apply (`OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_TRACES_SAMPLER`).

pub mod executions;
pub mod instruments;
pub mod requests;

use crate::exposition::Snapshot;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use std::sync::Arc;

/// Spans queued for export before new ones are dropped, unless `OTEL_BSP_MAX_QUEUE_SIZE`
/// says otherwise: a few seconds of ingest at 10,000 events a second (the SDK's default,
/// 2,048, would drop most of a burst).
const SPAN_QUEUE: usize = 65_536;
/// Spans per export request, unless `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` says otherwise.
const SPAN_BATCH: usize = 2_048;

/// Why the exporters could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error(
        "otlp_endpoint `{given}`: {why}; give the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (the server adds /v1/traces and /v1/metrics)"
    )]
    Endpoint { given: String, why: String },
    #[error("the OTLP {signal} exporter cannot be built: {reason}")]
    Exporter {
        signal: &'static str,
        reason: String,
    },
}

/// What the server reads for its gauges when the SDK collects them.
pub type ReadSnapshot = Arc<dyn Fn() -> Snapshot + Send + Sync>;

/// The exporters and the instruments the server records with.
#[derive(Debug)]
pub struct Otlp {
    traces: SdkTracerProvider,
    meters: SdkMeterProvider,
    requests: requests::Requests,
    executions: Arc<executions::Executions>,
}

impl Otlp {
    /// Exporters to the collector at `endpoint` (its base URL); `read` gives the values
    /// the server's gauges show.
    pub fn start(endpoint: &str, read: ReadSnapshot) -> Result<Otlp, OtlpError> {
        let base = base_url(endpoint)?;
        let resource = resource();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/traces"))
            .build()
            .map_err(|e| OtlpError::Exporter {
                signal: "trace",
                reason: e.to_string(),
            })?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/metrics"))
            .build()
            .map_err(|e| OtlpError::Exporter {
                signal: "metric",
                reason: e.to_string(),
            })?;
        let traces = SdkTracerProvider::builder()
            .with_span_processor(
                BatchSpanProcessor::builder(spans)
                    .with_batch_config(batch_config())
                    .build(),
            )
            .with_resource(resource.clone())
            .build();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics).build())
            .with_resource(resource)
            .build();
        let server_meter = opentelemetry::metrics::MeterProvider::meter_with_scope(
            &meters,
            scope("promptops.server"),
        );
        instruments::observe(&server_meter, read);
        let execution_meter = opentelemetry::metrics::MeterProvider::meter_with_scope(
            &meters,
            scope("promptops.executions"),
        );
        Ok(Otlp {
            requests: requests::Requests::new(tracer(&traces, "promptops.server"), &server_meter),
            executions: Arc::new(executions::Executions::new(
                tracer(&traces, "promptops.executions"),
                &execution_meter,
            )),
            traces,
            meters,
        })
    }

    pub fn requests(&self) -> &requests::Requests {
        &self.requests
    }

    /// The execution recorder (shared with the ingest writer, which holds no more of
    /// the exporters than it needs).
    pub fn executions(&self) -> Arc<executions::Executions> {
        self.executions.clone()
    }

    /// Sends what is queued (the server calls it when it stops).
    pub fn flush(&self) {
        if let Err(e) = self.traces.force_flush() {
            tracing::warn!(error = %e, "flushing spans to the OTLP collector failed");
        }
        if let Err(e) = self.meters.force_flush() {
            tracing::warn!(error = %e, "flushing metrics to the OTLP collector failed");
        }
    }
}

impl Drop for Otlp {
    fn drop(&mut self) {
        // Shutting down stops the SDK's threads after a last export.
        let _ = self.traces.shutdown();
        let _ = self.meters.shutdown();
    }
}

/// Whether `endpoint` can be the collector's base URL (checked when settings are read,
/// so a typo stops `serve` instead of silencing export).
pub fn check_endpoint(endpoint: &str) -> Result<(), OtlpError> {
    base_url(endpoint).map(drop)
}

/// The collector's base URL without a trailing `/`: http or https, with a host.
fn base_url(given: &str) -> Result<String, OtlpError> {
    let bad = |why: &str| OtlpError::Endpoint {
        given: given.to_owned(),
        why: why.to_owned(),
    };
    let url = url::Url::parse(given).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("OTLP/HTTP needs an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `service.name` is `promptops` unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`)
/// names it; `service.version` is this build's.
fn resource() -> Resource {
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if named {
        builder.build()
    } else {
        builder.with_service_name("promptops").build()
    }
}

/// The SDK's batch settings (and `OTEL_BSP_*`), with a queue and batches sized for
/// ingest unless the variables size them.
fn batch_config() -> opentelemetry_sdk::trace::BatchConfig {
    let mut config = BatchConfigBuilder::default();
    if std::env::var_os("OTEL_BSP_MAX_QUEUE_SIZE").is_none() {
        config = config.with_max_queue_size(SPAN_QUEUE);
    }
    if std::env::var_os("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").is_none() {
        config = config.with_max_export_batch_size(SPAN_BATCH);
    }
    config.build()
}

fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn tracer(provider: &SdkTracerProvider, name: &'static str) -> SdkTracer {
    provider.tracer_with_scope(scope(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_a_base_url() {
        assert_eq!(
            base_url("http://127.0.0.1:4318/").unwrap(),
            "http://127.0.0.1:4318"
        );
        assert_eq!(
            base_url("https://otel.example.com/otlp").unwrap(),
            "https://otel.example.com/otlp"
        );
        for bad in [
            "127.0.0.1:4318",
            "grpc://collector:4317",
            "http://",
            "http://c:4318/?x=1",
            "",
        ] {
            let e = base_url(bad).unwrap_err().to_string();
            assert!(e.contains("http://127.0.0.1:4318"), "{bad}: {e}");
        }
    }
}
