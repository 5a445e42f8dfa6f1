//! Reporting executions: [`Client::report`] queues an event and returns at once; a
//! background task sends the queue in batches (NDJSON to `POST
//! /v1/projects/{project}/events`). The queue is bounded: when it is full the event is
//! dropped and counted ([`ReportStats::dropped`]), so a registry that is slow or down
//! never blocks a caller or grows its memory. A batch the registry could not take now
//! (unreachable, 429, 5xx) is kept and sent again with backoff; one it refuses (400,
//! 401, 403, 404) is counted as failed. [`Client::flush`] sends what is queued, for
//! processes about to exit (a serverless handler's end).

use super::{Client, Prompt, Remote};
use promptops_api::{EventOutcome, ExecutionEvent};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// What reporting has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportStats {
    /// Waiting to be sent.
    pub queued: u64,
    /// Taken by the registry.
    pub sent: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
    /// Refused by the registry (bad events, a key that may not report).
    pub failed: u64,
}

/// How reporting is set up ([`super::ClientBuilder::report_queue`] and friends).
#[derive(Debug, Clone, Copy)]
pub(super) struct ReportSettings {
    pub capacity: usize,
    pub batch: usize,
    pub every: Duration,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            capacity: 10_000,
            batch: 500,
            every: Duration::from_secs(1),
        }
    }
}

/// The queue and its counters, shared by a client's clones and its sender task.
#[derive(Debug, Default)]
pub(super) struct Reporter {
    queue: Mutex<VecDeque<ExecutionEvent>>,
    settings: ReportSettings,
    /// Wakes the sender early (a full batch, a flush).
    wake: Notify,
    /// Told when a send round ends.
    idle: Notify,
    in_flight: AtomicBool,
    started: AtomicBool,
    /// The wait before the next round after the registry could not take a batch.
    backoff: Mutex<Duration>,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

impl Reporter {
    pub(super) fn new(settings: ReportSettings) -> Reporter {
        Reporter {
            settings,
            ..Reporter::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<ExecutionEvent>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Client {
    /// Queues one execution for the registry and returns at once: `false` when it was
    /// dropped (the queue is full, or this client has no registry). Start from
    /// [`Prompt::execution`], which fills in the prompt, version, environment, time and
    /// an id.
    pub fn report(&self, event: ExecutionEvent) -> bool {
        let shared = &self.shared;
        let reporter = &shared.reporter;
        if shared.remote.is_none() {
            reporter.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let full_batch = {
            let mut queue = reporter.lock();
            if queue.len() >= reporter.settings.capacity {
                drop(queue);
                reporter.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            queue.push_back(event);
            queue.len() >= reporter.settings.batch
        };
        self.start_sender();
        if full_batch {
            reporter.wake.notify_one();
        }
        true
    }

    /// What reporting has done so far.
    pub fn report_stats(&self) -> ReportStats {
        let r = &self.shared.reporter;
        ReportStats {
            queued: r.lock().len() as u64,
            sent: r.sent.load(Ordering::Relaxed),
            dropped: r.dropped.load(Ordering::Relaxed),
            failed: r.failed.load(Ordering::Relaxed),
        }
    }

    /// Sends what is queued, waiting at most `within`; returns the stats then (what is
    /// still `queued` could not be sent in time).
    pub async fn flush(&self, within: Duration) -> ReportStats {
        let reporter = &self.shared.reporter;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let empty = reporter.lock().is_empty();
            if empty && !reporter.in_flight.load(Ordering::Acquire) {
                break;
            }
            let idle = reporter.idle.notified();
            reporter.wake.notify_one();
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                break;
            }
        }
        self.report_stats()
    }

    /// Starts the sender task on the first report (there must be a Tokio runtime, as
    /// for [`PromptRequest::get`](super::PromptRequest::get)).
    fn start_sender(&self) {
        let reporter = &self.shared.reporter;
        if reporter.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            reporter.started.store(false, Ordering::Release);
            tracing::warn!("promptops: execution reports need a Tokio runtime; they stay queued");
            return;
        };
        let weak = std::sync::Arc::downgrade(&self.shared);
        let reporter = self.shared.reporter.clone();
        runtime.spawn(async move {
            let mut backoff = Duration::ZERO;
            loop {
                let every = reporter.settings.every.max(backoff);
                let _ = tokio::time::timeout(every, reporter.wake.notified()).await;
                // The client is gone: nothing is left to send for.
                let Some(shared) = weak.upgrade() else { return };
                let Some(remote) = &shared.remote else { return };
                backoff = send_round(remote, &reporter).await;
                reporter.idle.notify_waiters();
            }
        });
    }
}

/// Sends batches until the queue is empty or the registry cannot take more now;
/// returns how long to wait before the next round (zero when all went).
async fn send_round(remote: &Remote, reporter: &Reporter) -> Duration {
    let backoff = || {
        reporter
            .backoff
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    loop {
        let batch: Vec<ExecutionEvent> = {
            let mut queue = reporter.lock();
            let n = queue.len().min(reporter.settings.batch);
            queue.drain(..n).collect()
        };
        if batch.is_empty() {
            return Duration::ZERO;
        }
        reporter.in_flight.store(true, Ordering::Release);
        let outcome = remote.send_events(&batch).await;
        reporter.in_flight.store(false, Ordering::Release);
        match outcome {
            Sent::Taken { accepted, rejected } => {
                reporter.sent.fetch_add(accepted, Ordering::Relaxed);
                reporter.failed.fetch_add(rejected, Ordering::Relaxed);
                *backoff() = Duration::ZERO;
            }
            Sent::Refused(why) => {
                reporter
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::warn!(
                    "promptops: the registry refused {} execution reports: {why}",
                    batch.len()
                );
            }
            Sent::Later(why) => {
                // Back to the front, as far as there is room; the rest is dropped.
                let mut queue = reporter.lock();
                let room = reporter.settings.capacity.saturating_sub(queue.len());
                let kept = batch.len().min(room);
                reporter
                    .dropped
                    .fetch_add((batch.len() - kept) as u64, Ordering::Relaxed);
                for event in batch.into_iter().take(kept).rev() {
                    queue.push_front(event);
                }
                drop(queue);
                let mut wait = backoff();
                *wait = (*wait * 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
                tracing::debug!(
                    "promptops: execution reports not sent ({why}); retrying in {:?}",
                    *wait
                );
                return *wait;
            }
        }
    }
}

/// How sending one batch ended.
enum Sent {
    Taken {
        accepted: u64,
        rejected: u64,
    },
    /// Refused for good (bad request, credentials, unknown project).
    Refused(String),
    /// Not now (unreachable, 429, 5xx): send again later.
    Later(String),
}

impl Remote {
    async fn send_events(&self, batch: &[ExecutionEvent]) -> Sent {
        let project = match self.project().await {
            Ok(p) => p,
            Err(super::Fetch::Failed(why)) => return Sent::Later(why),
            Err(super::Fetch::Refused(why) | super::Fetch::NotFound(why)) => {
                return Sent::Refused(why);
            }
            Err(super::Fetch::Invalid(e)) => return Sent::Refused(e.to_string()),
        };
        let mut body = Vec::with_capacity(batch.len() * 256);
        for event in batch {
            if serde_json::to_writer(&mut body, event).is_ok() {
                body.push(b'\n');
            }
        }
        let mut req = self
            .http
            .post(format!(
                "{}/v1/projects/{}/events",
                self.url,
                crate::seg(&project)
            ))
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .timeout(Duration::from_secs(10))
            .body(body);
        if let Some(key) = self.report_key.as_ref().or(self.api_key.as_ref()) {
            req = req.bearer_auth(key);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Sent::Later(e.to_string()),
        };
        let status = resp.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Sent::Later(format!("the registry answered {status}"));
        }
        if !status.is_success() {
            return Sent::Refused(super::problem_detail(resp).await);
        }
        match resp.json::<promptops_api::IngestReceipt>().await {
            Ok(receipt) => Sent::Taken {
                accepted: receipt.accepted,
                rejected: receipt.rejected.len() as u64,
            },
            Err(e) => Sent::Later(format!("unreadable answer: {e}")),
        }
    }
}

impl Prompt {
    /// An execution of this prompt to fill in and [`Client::report`]: its id, version,
    /// content hash, environment and the time now are set, with a random event id (so
    /// a report sent twice is stored once) and outcome `ok`.
    pub fn execution(&self) -> ExecutionEvent {
        let mut id = [0u8; 16];
        let id = match getrandom::fill(&mut id) {
            Ok(()) => id.iter().map(|b| format!("{b:02x}")).collect(),
            Err(_) => format!(
                "{}-{}",
                self.content_hash(),
                promptops_core::clock::now_rfc3339()
            ),
        };
        ExecutionEvent {
            id: Some(id),
            prompt_id: self.id().to_owned(),
            version: Some(self.version().to_owned()),
            content_hash: Some(self.content_hash().to_owned()),
            environment: Some(self.environment().to_owned()),
            outcome: Some(EventOutcome::Ok),
            timestamp: Some(promptops_core::clock::now_rfc3339()),
            ..ExecutionEvent::default()
        }
    }
}
