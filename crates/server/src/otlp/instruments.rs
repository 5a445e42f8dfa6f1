//! The server's own metrics over OTLP: what `/metrics` shows, under the conventions'
//! names where they have one. Values that live elsewhere are read when the SDK
//! collects (every `OTEL_METRIC_EXPORT_INTERVAL`, 60 s by default).

use super::ReadSnapshot;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

/// Declares the observed instruments on `meter`, each reading `read`.
pub fn observe(meter: &Meter, read: ReadSnapshot) {
    let r = read.clone();
    meter
        .u64_observable_counter("promptops.delivery.reads")
        .with_unit("{read}")
        .with_description(
            "Resolves by where the answer came from: memory (a cache hit), redis or database (misses), stale (the last good copy)",
        )
        .with_callback(move |o| {
            for (source, n) in r().delivery_reads {
                o.observe(n, &[KeyValue::new("promptops.delivery.source", source)]);
            }
        })
        .build();
    let r = read.clone();
    meter
        .i64_observable_up_down_counter("db.client.connection.count")
        .with_unit("{connection}")
        .with_description("The registry database's pool by state")
        .with_callback(move |o| {
            let now = r();
            let idle = i64::from(now.pool_idle.min(now.pool_size));
            for (state, n) in [("idle", idle), ("used", i64::from(now.pool_size) - idle)] {
                o.observe(
                    n,
                    &[
                        KeyValue::new("db.client.connection.state", state),
                        KeyValue::new("db.client.connection.pool.name", "registry"),
                    ],
                );
            }
        })
        .build();
    let r = read.clone();
    meter
        .i64_observable_gauge("promptops.service.up")
        .with_description("1 when the service answers (database; redis when configured)")
        .with_callback(move |o| {
            let now = r();
            o.observe(
                i64::from(now.database_up),
                &[KeyValue::new("promptops.service", "database")],
            );
            if let Some(up) = now.redis_up {
                o.observe(
                    i64::from(up),
                    &[KeyValue::new("promptops.service", "redis")],
                );
            }
        })
        .build();
    let r = read.clone();
    meter
        .u64_observable_gauge("promptops.change_feed.applied_sequence")
        .with_description("The audit sequence number this replica's caches have applied")
        .with_callback(move |o| o.observe(r().feed_applied, &[]))
        .build();
    let r = read.clone();
    meter
        .u64_observable_gauge("promptops.ingest.queued")
        .with_unit("{event}")
        .with_description("Execution events taken and not yet stored (the ingest lag)")
        .with_callback(move |o| {
            if let Some(t) = r().ingest {
                o.observe(t.queued, &[]);
            }
        })
        .build();
    let r = read.clone();
    meter
        .u64_observable_counter("promptops.ingest.events")
        .with_unit("{event}")
        .with_description(
            "Execution events by outcome: accepted, stored, duplicate, dropped, refused",
        )
        .with_callback(move |o| {
            if let Some(t) = r().ingest {
                for (outcome, n) in [
                    ("accepted", t.accepted),
                    ("stored", t.stored),
                    ("duplicate", t.duplicates),
                    ("dropped", t.dropped),
                    ("refused", t.refused),
                ] {
                    o.observe(n, &[KeyValue::new("promptops.outcome", outcome)]);
                }
            }
        })
        .build();
    meter
        .u64_observable_counter("promptops.webhook.attempts")
        .with_unit("{attempt}")
        .with_description("Webhook delivery attempts by outcome: delivered, retried, failed")
        .with_callback(move |o| {
            let [delivered, retried, failed] = read().webhook_attempts;
            for (outcome, n) in [
                ("delivered", delivered),
                ("retried", retried),
                ("failed", failed),
            ] {
                o.observe(n, &[KeyValue::new("promptops.outcome", outcome)]);
            }
        })
        .build();
}
