//! The server's own metrics in the Prometheus (OpenMetrics) text format at `/metrics`:
//! requests and latency per route, delivery reads by source (memory hits, Redis and
//! database misses), the database pool, whether the database and Redis answer, the
//! change feed's position and event ingest (queue depth, events by outcome).
//!
//! Counting costs a request two atomic adds on the resolve hot path (its counters are
//! created once, up front) and a map lookup plus a histogram update on routed requests.
//! Values that live elsewhere (pool, queue, ingest counters) are read when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The resolve route as the route table names it (the hot path answers it unrouted).
pub const RESOLVE_ROUTE: &str = "/v1/projects/{project}/environments/{env}/prompts/{id}";

/// What `/metrics` shows, and the handles requests count with.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    delivery: Family<SourceLabels, Counter>,
    /// The hot path's counters, made once: a memory hit costs one atomic add each.
    hot_ok: Counter,
    hot_not_modified: Counter,
    hot_memory: Counter,
    up: Family<ServiceLabels, Gauge>,
    pool: Family<StateLabels, Gauge>,
    feed_applied: Gauge,
    ingest_queued: Gauge,
    ingest: Family<OutcomeLabels, Counter>,
    /// Ingest totals already added to `ingest` (the pipeline keeps its own counters).
    ingest_seen: Mutex<[u64; 5]>,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    /// Webhook attempt totals already added to `webhook_attempts`.
    webhooks_seen: Mutex<[u64; 3]>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("promptops");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route (as declared), method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.1 ms to about 13 s.
            Histogram::new(exponential_buckets(0.0001, 2.5, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a routed request (resolves answered from memory are counted, not timed)",
            latency.clone(),
        );
        let delivery = Family::<SourceLabels, Counter>::default();
        registry.register(
            "delivery_reads",
            "Resolves by where the answer came from: memory (a cache hit), redis or database (misses), stale (the last good copy)",
            delivery.clone(),
        );
        let up = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "up",
            "1 when the service answers (database; redis when configured)",
            up.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "database_pool_connections",
            "Database connections by state",
            pool.clone(),
        );
        let feed_applied = Gauge::default();
        registry.register(
            "change_feed_applied_sequence",
            "The audit sequence number this replica's caches have applied",
            feed_applied.clone(),
        );
        let ingest_queued = Gauge::default();
        registry.register(
            "ingest_queued_events",
            "Execution events taken and not yet stored (the ingest lag)",
            ingest_queued.clone(),
        );
        let ingest = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ingest_events",
            "Execution events by outcome: accepted, stored, duplicate, dropped (the store kept failing), refused (queue full)",
            ingest.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome: delivered (a 2xx), retried (another attempt is due), failed (the last attempt)",
            webhook_attempts.clone(),
        );
        let label = |route: &str, status: u16| RequestLabels {
            route: route.to_owned(),
            method: "GET".to_owned(),
            status,
        };
        let hot_ok = requests.get_or_create(&label(RESOLVE_ROUTE, 200)).clone();
        let hot_not_modified = requests.get_or_create(&label(RESOLVE_ROUTE, 304)).clone();
        let hot_memory = delivery
            .get_or_create(&SourceLabels { source: "memory" })
            .clone();
        ServerMetrics {
            hot_ok,
            hot_not_modified,
            hot_memory,
            registry,
            requests,
            latency,
            delivery,
            up,
            pool,
            feed_applied,
            ingest_queued,
            ingest,
            ingest_seen: Mutex::new([0; 5]),
            webhook_attempts,
            webhooks_seen: Mutex::new([0; 3]),
        }
    }
}

/// What is read from elsewhere when the page is made.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub database_up: bool,
    /// `None` without Redis.
    pub redis_up: Option<bool>,
    pub pool_size: u32,
    pub pool_idle: u32,
    pub feed_applied: u64,
    /// `None` until the first event arrives.
    pub ingest: Option<IngestTotals>,
    /// Webhook attempts: delivered, retried, failed.
    pub webhook_attempts: [u64; 3],
    /// Resolves by source so far (read from this page's own counters; for OTLP).
    pub delivery_reads: Vec<(&'static str, u64)>,
}

/// Where a [`Snapshot`]'s values live.
pub struct Gauges<S> {
    pub store: std::sync::Arc<S>,
    pub delivery: std::sync::Arc<crate::delivery::Delivery<S>>,
    pub telemetry: std::sync::Arc<crate::telemetry::Telemetry>,
    pub hooks: std::sync::Arc<crate::webhooks::Hooks<S>>,
    pub metrics: std::sync::Arc<ServerMetrics>,
}

impl<S: promptops_store::Store> Gauges<S> {
    /// The values now (atomics and flags: no I/O).
    pub fn read(&self) -> Snapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let (pool_size, pool_idle) = self.store.pool_connections();
        let ingest = self.telemetry.started().map(|p| IngestTotals {
            queued: p.queued() as u64,
            accepted: p.stats.accepted.load(Relaxed),
            stored: p.stats.stored.load(Relaxed),
            duplicates: p.stats.duplicates.load(Relaxed),
            dropped: p.stats.dropped.load(Relaxed),
            refused: p.stats.refused.load(Relaxed),
        });
        let a = &self.hooks.attempts;
        Snapshot {
            database_up: self.delivery.db_up(),
            redis_up: self.delivery.redis().map(|_| self.delivery.redis_up()),
            pool_size,
            pool_idle,
            feed_applied: self.delivery.applied(),
            ingest,
            webhook_attempts: [
                a.delivered.load(Relaxed),
                a.retried.load(Relaxed),
                a.failed.load(Relaxed),
            ],
            delivery_reads: self.metrics.delivery_reads(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IngestTotals {
    pub queued: u64,
    pub accepted: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub dropped: u64,
    pub refused: u64,
}

impl ServerMetrics {
    /// A resolve answered from memory by the hot path.
    pub fn hot_read(&self, not_modified: bool) {
        if not_modified {
            self.hot_not_modified.inc();
        } else {
            self.hot_ok.inc();
        }
        self.hot_memory.inc();
    }

    /// A routed request: its route as declared, its status and time; `source` is the
    /// `Promptops-Source` of a resolve.
    pub fn routed(
        &self,
        route: &str,
        method: &str,
        status: u16,
        seconds: f64,
        source: Option<&str>,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(seconds);
        if let Some(source) = source.and_then(known_source) {
            self.delivery.get_or_create(&SourceLabels { source }).inc();
        }
    }

    /// Resolves counted so far, by source.
    pub fn delivery_reads(&self) -> Vec<(&'static str, u64)> {
        ["memory", "redis", "database", "stale"]
            .into_iter()
            .filter_map(|source| {
                let n = self.delivery.get(&SourceLabels { source })?.get();
                Some((source, n))
            })
            .collect()
    }

    /// The page, with the values read from elsewhere brought up to date.
    pub fn render(&self, now: Snapshot) -> String {
        let up = |service, v: bool| {
            self.up
                .get_or_create(&ServiceLabels { service })
                .set(i64::from(v));
        };
        up("database", now.database_up);
        if let Some(redis) = now.redis_up {
            up("redis", redis);
        }
        let idle = i64::from(now.pool_idle.min(now.pool_size));
        self.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(idle);
        self.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(now.pool_size) - idle);
        self.feed_applied.set(now.feed_applied as i64);
        if let Some(t) = now.ingest {
            self.ingest_queued.set(t.queued as i64);
            let totals = [t.accepted, t.stored, t.duplicates, t.dropped, t.refused];
            let names = ["accepted", "stored", "duplicate", "dropped", "refused"];
            let mut seen = self.ingest_seen.lock().unwrap_or_else(|p| p.into_inner());
            for i in 0..5 {
                let delta = totals[i].saturating_sub(seen[i]);
                self.ingest
                    .get_or_create(&OutcomeLabels { outcome: names[i] })
                    .inc_by(delta);
                seen[i] = seen[i].max(totals[i]);
            }
        }
        {
            let names = ["delivered", "retried", "failed"];
            let mut seen = self.webhooks_seen.lock().unwrap_or_else(|p| p.into_inner());
            for (i, name) in names.iter().enumerate() {
                let total = now.webhook_attempts[i];
                self.webhook_attempts
                    .get_or_create(&OutcomeLabels { outcome: name })
                    .inc_by(total.saturating_sub(seen[i]));
                seen[i] = seen[i].max(total);
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn known_source(source: &str) -> Option<&'static str> {
    ["memory", "redis", "database", "stale"]
        .into_iter()
        .find(|s| *s == source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_counts_requests_sources_and_reads_state_when_scraped() {
        let m = ServerMetrics::default();
        m.hot_read(false);
        m.hot_read(true);
        m.routed(RESOLVE_ROUTE, "GET", 200, 0.002, Some("database"));
        m.routed("/v1/projects/{project}/events", "POST", 202, 0.01, None);
        let page = m.render(Snapshot {
            database_up: true,
            redis_up: Some(false),
            pool_size: 8,
            pool_idle: 6,
            feed_applied: 42,
            ingest: Some(IngestTotals {
                queued: 3,
                accepted: 10,
                stored: 7,
                ..IngestTotals::default()
            }),
            webhook_attempts: [5, 2, 0],
            delivery_reads: Vec::new(),
        });
        for line in [
            "promptops_http_requests_total{route=\"/v1/projects/{project}/environments/{env}/prompts/{id}\",method=\"GET\",status=\"200\"} 2",
            "status=\"304\"} 1",
            "promptops_delivery_reads_total{source=\"memory\"} 2",
            "promptops_delivery_reads_total{source=\"database\"} 1",
            "promptops_up{service=\"redis\"} 0",
            "promptops_database_pool_connections{state=\"in_use\"} 2",
            "promptops_change_feed_applied_sequence 42",
            "promptops_ingest_queued_events 3",
            "promptops_ingest_events_total{outcome=\"stored\"} 7",
            "promptops_webhook_attempts_total{outcome=\"retried\"} 2",
            "promptops_http_request_duration_seconds_count{route=\"/v1/projects/{project}/events\",method=\"POST\"} 1",
            "# EOF",
        ] {
            assert!(page.contains(line), "{line}\n{page}");
        }
        // Totals read again add only what is new.
        let page = m.render(Snapshot {
            ingest: Some(IngestTotals {
                stored: 9,
                ..IngestTotals::default()
            }),
            ..Snapshot::default()
        });
        assert!(
            page.contains("promptops_ingest_events_total{outcome=\"stored\"} 9"),
            "{page}"
        );
        assert_eq!(
            m.delivery_reads(),
            [("memory", 2), ("database", 1)],
            "what OTLP reads"
        );
    }
}
