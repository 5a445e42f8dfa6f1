//! The way from an ingest request to the event store: requests hand their events to a
//! bounded queue and are answered at once; one writer task per process drains the queue
//! in batches into [`EventStore::insert`]. The queue's bound is in events: a request
//! that does not fit is refused (429, `Retry-After`) rather than held, so back-pressure
//! reaches the senders and the server's memory stays bounded. With OTLP export on, the
//! writer hands the events it stored (the new ones, not retried sends) to the exporter.

use crate::otlp::executions::Executions;
use promptops_store::events::{EventStore, StoredEvent};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// Events written in one transaction at most.
const BATCH: usize = 5_000;
/// Attempts to store a batch before its events are counted as dropped.
const ATTEMPTS: u32 = 4;

/// Counters the `/metrics` page and the tests read.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events taken into the queue.
    pub accepted: AtomicU64,
    /// Events stored (new ones).
    pub stored: AtomicU64,
    /// Events the store already had (retried sends).
    pub duplicates: AtomicU64,
    /// Events lost after the store refused their batch [`ATTEMPTS`] times.
    pub dropped: AtomicU64,
    /// Events refused because the queue was full.
    pub refused: AtomicU64,
}

/// A request's events, numbered in the order they were queued.
type Queued = (u64, Vec<StoredEvent>);

/// The queue and its writer.
#[derive(Debug)]
pub struct Pipeline {
    events: Arc<EventStore>,
    queue: mpsc::UnboundedSender<Queued>,
    /// The number of the last request queued. Numbering and sending happen under this
    /// lock, so the queue holds requests in number order.
    queued_upto: Mutex<u64>,
    /// The number of the last request the writer is done with (stored, or dropped):
    /// every request up to it is.
    written_upto: watch::Receiver<u64>,
    /// One permit per event the queue may still take.
    room: Arc<Semaphore>,
    capacity: usize,
    pub stats: Arc<Stats>,
}

/// The queue has no room for a request's events now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl Pipeline {
    /// Starts the writer over `events`; the queue holds at most `capacity` events.
    /// Stored events are re-emitted through `export` when given.
    pub fn start(events: EventStore, capacity: usize, export: Option<Arc<Executions>>) -> Pipeline {
        let events = Arc::new(events);
        let (queue, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(capacity));
        let stats = Arc::new(Stats::default());
        let (written, written_upto) = watch::channel(0);
        tokio::spawn(write(
            events.clone(),
            rx,
            (room.clone(), written),
            stats.clone(),
            export,
        ));
        tokio::spawn(keep_retention(events.clone()));
        Pipeline {
            events,
            queue,
            queued_upto: Mutex::new(0),
            written_upto,
            room,
            capacity,
            stats,
        }
    }

    /// Queues a request's events, or refuses them all when they do not fit.
    pub fn offer(&self, batch: Vec<StoredEvent>) -> Result<(), Full> {
        let n = batch.len();
        if n == 0 {
            return Ok(());
        }
        let Ok(permits) = u32::try_from(n)
            .map_err(drop)
            .and_then(|n| self.room.try_acquire_many(n).map_err(drop))
        else {
            self.stats.refused.fetch_add(n as u64, Ordering::Relaxed);
            return Err(Full);
        };
        // The writer gives the room back once the events are stored.
        permits.forget();
        {
            let mut upto = self.queued_upto.lock().unwrap_or_else(|p| p.into_inner());
            if self.queue.send((*upto + 1, batch)).is_err() {
                // The writer is gone (the runtime is shutting down).
                self.room.add_permits(n);
                return Err(Full);
            }
            *upto += 1;
        }
        self.stats.accepted.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Waits (at most `limit`) until every event queued before the call is stored (or
    /// dropped); whether they all were. Ingest never waits on this: it is for readers
    /// that must see what was reported before them (`POST …/alerts/evaluate`).
    pub async fn flush(&self, limit: Duration) -> bool {
        let target = *self.queued_upto.lock().unwrap_or_else(|p| p.into_inner());
        let mut written = self.written_upto.clone();
        matches!(
            tokio::time::timeout(limit, written.wait_for(|w| *w >= target)).await,
            Ok(Ok(_))
        )
    }

    /// Events queued and not yet written: the ingest lag.
    pub fn queued(&self) -> usize {
        self.capacity - self.room.available_permits()
    }

    pub fn store(&self) -> &EventStore {
        &self.events
    }
}

/// How often old events are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Deletes events past their project's retention now and every hour after.
async fn keep_retention(events: Arc<EventStore>) {
    loop {
        match events
            .apply_retention(promptops_core::clock::now_millis())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "deleted events past their retention"),
            Err(e) => {
                tracing::warn!(error = %e, "applying event retention failed; trying again in an hour")
            }
        }
        tokio::time::sleep(RETENTION_EVERY).await;
    }
}

async fn write(
    events: Arc<EventStore>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    (room, written): (Arc<Semaphore>, watch::Sender<u64>),
    stats: Arc<Stats>,
    export: Option<Arc<Executions>>,
) {
    while let Some((mut last, mut batch)) = rx.recv().await {
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok((number, more)) => {
                    last = number;
                    batch.extend(more);
                }
                Err(_) => break,
            }
        }
        let n = batch.len();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match events.insert(&batch).await {
                Ok(fresh) => {
                    stats
                        .stored
                        .fetch_add(fresh.len() as u64, Ordering::Relaxed);
                    stats
                        .duplicates
                        .fetch_add((n - fresh.len()) as u64, Ordering::Relaxed);
                    if let Some(export) = &export {
                        export.record(fresh.iter().map(|&i| &batch[i]));
                    }
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    let wait = Duration::from_millis(100 * 4u64.pow(attempt - 1));
                    tracing::warn!(error = %e, events = n, attempt, "storing events failed; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    stats.dropped.fetch_add(n as u64, Ordering::Relaxed);
                    tracing::error!(error = %e, events = n, "storing events failed {ATTEMPTS} times; they are dropped");
                    break;
                }
            }
        }
        room.add_permits(n);
        written.send_replace(last);
    }
}
