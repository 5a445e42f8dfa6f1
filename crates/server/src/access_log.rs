//! One line per request — method, path, status, time; never headers or bodies, where
//! the secrets are — written off the request's path: requests hand lines to a bounded
//! queue and a task writes them (a full queue drops lines and counts them, it never
//! slows a request). Successful delivery reads, which come by the ten thousand a
//! second, are sampled: one in `access_log_sample` is written, marked as such; every
//! other request and every error is.

use crate::routes::delivery::DeliveryRead;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Lines waiting to be written before new ones are dropped.
const QUEUE: usize = 16_384;

struct Line {
    method: Method,
    uri: Uri,
    status: u16,
    millis: f64,
    /// Set for a sampled delivery read: one line stands for this many.
    one_in: Option<u64>,
}

/// The access log's queue and counters (cheap to clone into every request).
#[derive(Clone)]
pub struct AccessLog {
    queue: mpsc::Sender<Line>,
    sample: u64,
    delivery_reads: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Starts the writer; one in `sample` successful delivery reads is logged.
    pub fn start(sample: u64) -> AccessLog {
        let (queue, lines) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write(lines, dropped.clone()));
        AccessLog {
            queue,
            sample: sample.max(1),
            delivery_reads: Arc::new(AtomicU64::new(0)),
            dropped,
        }
    }
}

async fn write(mut lines: mpsc::Receiver<Line>, dropped: Arc<AtomicU64>) {
    while let Some(line) = lines.recv().await {
        let lost = dropped.swap(0, Ordering::AcqRel);
        if lost > 0 {
            tracing::warn!(target: "promptops::access", "{lost} access log lines dropped: the log could not keep up");
        }
        let note = line
            .one_in
            .map(|n| format!(" (1 of {n} delivery reads)"))
            .unwrap_or_default();
        tracing::info!(
            target: "promptops::access",
            "{} {} {} {:.1}ms{note}",
            line.method,
            line.uri.path(),
            line.status,
            line.millis
        );
    }
}

impl AccessLog {
    /// Notes a delivery read answered outside the router (the hot path): sampled like
    /// those the router answers.
    pub fn delivery_read(
        &self,
        method: &Method,
        uri: &Uri,
        status: StatusCode,
        started: std::time::Instant,
    ) {
        if !tracing::enabled!(target: "promptops::access", tracing::Level::INFO) {
            return;
        }
        let Some(one_in) = self.sampled(status) else {
            return;
        };
        self.queue_line(Line {
            method: method.clone(),
            uri: uri.clone(),
            status: status.as_u16(),
            millis: started.elapsed().as_secs_f64() * 1000.0,
            one_in,
        });
    }

    /// Whether a successful delivery read is the one in `sample` to write: `Some` with
    /// what its line stands for, `None` to skip it. Failures are always written.
    fn sampled(&self, status: StatusCode) -> Option<Option<u64>> {
        if status.is_client_error() || status.is_server_error() {
            return Some(None);
        }
        let n = self.delivery_reads.fetch_add(1, Ordering::Relaxed);
        n.is_multiple_of(self.sample)
            .then_some(Some(self.sample).filter(|s| *s > 1))
    }

    fn queue_line(&self, line: Line) {
        if self.queue.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The middleware: times the request, then queues its line (or counts it, sampled).
pub async fn record(State(log): State<AccessLog>, request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: "promptops::access", tracing::Level::INFO) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    // A `Uri` clone shares its bytes: nothing is copied unless the line is written.
    let uri = request.uri().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let one_in = if response.extensions().get::<DeliveryRead>().is_some() {
        match log.sampled(status) {
            Some(one_in) => one_in,
            None => return response,
        }
    } else {
        None
    };
    log.queue_line(Line {
        method,
        uri,
        status: status.as_u16(),
        millis: started.elapsed().as_secs_f64() * 1000.0,
        one_in,
    });
    response
}
