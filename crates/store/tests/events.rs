//! The event store on both backends: idempotent inserts, rollups that add up to what was
//! sent (and never count a retried batch twice), reading back, pruning.

mod support;

use promptops_store::SqlStore;
use promptops_store::events::{EventStore, MINUTE_MS, Step, StoredEvent, points};

fn event(id: &str, version: Option<&str>, minute: i64, latency_ms: u64, ok: bool) -> StoredEvent {
    StoredEvent {
        project: "shop".into(),
        id: id.into(),
        prompt_id: "support.answer".into(),
        version: version.map(str::to_owned),
        content_hash: None,
        environment: Some("prod".into()),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        input_tokens: Some(100),
        output_tokens: Some(20),
        cost_nanos: Some(27_000),
        latency_ms: Some(latency_ms),
        ok,
        error: (!ok).then(|| "timeout".into()),
        trace_id: None,
        span_id: None,
        request_id: None,
        timestamp_ms: 1_700_000_000_000 + minute * MINUTE_MS,
        received_ms: 1_700_000_000_000 + minute * MINUTE_MS + 5,
        input: None,
        output: Some("sha256:abc".into()),
        extra: None,
    }
}

async fn exercise(events: EventStore) {
    let first: Vec<StoredEvent> = (0..10)
        .map(|i| {
            event(
                &format!("e{i}"),
                Some("1.0.0"),
                i % 2,
                100 + i as u64,
                i != 3,
            )
        })
        .collect();
    assert_eq!(events.insert(&first).await.unwrap().len(), 10);
    // A retried batch, with one new event and a duplicate inside the batch itself.
    let mut retry = first.clone();
    retry.push(event("e10", Some("2.0.0"), 0, 40, true));
    retry.push(event("e10", Some("2.0.0"), 0, 40, true));
    assert_eq!(events.insert(&retry).await.unwrap(), vec![10]);

    let window = (
        1_700_000_000_000 - MINUTE_MS,
        1_700_000_000_000 + 10 * MINUTE_MS,
    );
    let minutes = events
        .rollups("shop", "support.answer", Some("prod"), window)
        .await
        .unwrap();
    let calls: u64 = minutes.iter().map(|r| r.calls).sum();
    assert_eq!(calls, 11, "{minutes:?}");
    let v1: Vec<_> = minutes
        .iter()
        .filter(|r| r.version.as_deref() == Some("1.0.0"))
        .collect();
    assert_eq!(v1.len(), 2, "two minutes of version 1");
    assert_eq!(v1.iter().map(|r| r.errors).sum::<u64>(), 1);
    assert_eq!(v1.iter().map(|r| r.cost_nanos).sum::<i64>(), 270_000);
    assert_eq!(v1.iter().map(|r| r.input_tokens).sum::<u64>(), 1_000);
    let hour = points(&minutes, Step::Hour);
    assert_eq!(hour.len(), 2, "one hour per version");
    let p99 = hour[0].latency.quantile(0.99).unwrap();
    assert!((109..=115).contains(&p99), "{p99}");
    // Output lengths are kept per rollup too (what drift alerts compare), and the
    // retried batch did not count them twice.
    assert_eq!(v1.iter().map(|r| r.output_lengths.count()).sum::<u64>(), 10);
    let median = hour[0].output_lengths.quantile(0.5).unwrap();
    assert!((20..=21).contains(&median), "{median}");
    // Another environment sees nothing; all environments see everything.
    let staging = events
        .rollups("shop", "support.answer", Some("staging"), window)
        .await
        .unwrap();
    assert!(staging.is_empty());
    let all = events
        .rollups("shop", "support.answer", None, window)
        .await
        .unwrap();
    assert_eq!(all.iter().map(|r| r.calls).sum::<u64>(), 11);

    let tail = events
        .recent("shop", (Some("support.answer"), None), None, 5)
        .await
        .unwrap();
    assert_eq!(tail.len(), 5);
    assert!(
        tail.windows(2)
            .all(|w| w[0].received_ms <= w[1].received_ms)
    );
    assert_eq!(
        tail[0],
        first.iter().find(|e| e.id == tail[0].id).unwrap().clone()
    );

    // Pruning drops events, not the rollups the metrics come from.
    let pruned = events
        .prune("shop", 1_700_000_000_000 + MINUTE_MS)
        .await
        .unwrap();
    assert_eq!(pruned, 6, "the events of minute 0");
    let after = events
        .rollups("shop", "support.answer", None, window)
        .await
        .unwrap();
    assert_eq!(after.iter().map(|r| r.calls).sum::<u64>(), 11);

    // Retention: 30 days unless the project says; applied to every project at once.
    assert_eq!(events.retention("shop").await.unwrap(), 30);
    events.set_retention("shop", 2).await.unwrap();
    assert_eq!(events.retention("shop").await.unwrap(), 2);
    assert!(events.set_retention("shop", 0).await.is_err());
    let a_day_after = 1_700_000_000_000 + 86_400_000;
    assert_eq!(
        events.apply_retention(a_day_after).await.unwrap(),
        0,
        "within two days"
    );
    let three_days_after = 1_700_000_000_000 + 3 * 86_400_000;
    assert_eq!(
        events.apply_retention(three_days_after).await.unwrap(),
        5,
        "the rest went"
    );
    let kept = events
        .rollups("shop", "support.answer", None, window)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|r| r.calls).sum::<u64>(),
        11,
        "rollups outlive events"
    );
}

#[tokio::test]
async fn events_on_sqlite_live_in_their_own_file() {
    let (store, dir) = support::sqlite().await;
    exercise(store.events().await.unwrap()).await;
    assert!(dir.path().join(".promptops/registry.db.events").is_file());
    // Reopening finds the schema in place and the events kept.
    let again = SqlStore::sqlite(&dir.path().join(".promptops/registry.db"))
        .await
        .unwrap()
        .events()
        .await
        .unwrap();
    let kept = again.recent("shop", (None, None), None, 100).await.unwrap();
    assert!(kept.is_empty(), "retention was applied before the reopen");
    assert_eq!(
        again.retention("shop").await.unwrap(),
        2,
        "the setting is kept"
    );
}

#[tokio::test]
async fn events_on_postgres() {
    let Some(guard) = support::postgres("events").await else {
        return;
    };
    exercise(guard.store.events().await.unwrap()).await;
    guard.drop_schema().await;
}
