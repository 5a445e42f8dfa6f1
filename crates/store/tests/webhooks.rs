//! Webhook deliveries in the store, on SQLite and on PostgreSQL: two replicas reading
//! the change feed at once store each delivery once; a subscription gets only what was
//! committed after it, in its project, of its types; a claimed delivery is not claimed
//! again until its lease ends; attempts move it on.

mod support;

use promptops_store::webhooks::{AttemptOutcome, AttemptRecord, NewWebhook};
use promptops_store::*;
use std::sync::Arc;
use support::{actor, on_both_backends, version};

on_both_backends!(replicas_store_each_delivery_once_and_claim_it_once);

fn hook(id: &str, events: &[&str]) -> NewWebhook {
    NewWebhook {
        id: id.into(),
        project: "acme".into(),
        url: "https://hooks.example.com/x".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: None,
        secret_sealed: "v1:00".into(),
    }
}

async fn replicas_store_each_delivery_once_and_claim_it_once<S: Store>(s: Arc<S>) {
    let admin = actor("admin");
    s.create_project("acme", None, &admin).await.unwrap();
    s.create_project("other", None, &admin).await.unwrap();
    // Before any subscription: not delivered to the ones made later.
    s.publish("acme", &version("a.b", "0.1.0", "Early {{ name }}"), &admin)
        .await
        .unwrap();
    s.create_webhook(&hook("wh_all", &[]), &admin)
        .await
        .unwrap();
    s.create_webhook(&hook("wh_moves", &["label.moved"]), &admin)
        .await
        .unwrap();
    let refused = s.create_webhook(&hook("wh_bad", &["nope"]), &admin).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    s.publish("acme", &version("a.b", "1.0.0", "One {{ name }}"), &admin)
        .await
        .unwrap();
    s.publish(
        "other",
        &version("a.b", "1.0.0", "Other {{ name }}"),
        &admin,
    )
    .await
    .unwrap();

    // Two dispatchers read the feed at the same moment.
    let (x, y) = tokio::join!(
        s.enqueue_from_feed(500, 1_000),
        s.enqueue_from_feed(500, 1_000)
    );
    assert_eq!(
        x.unwrap() + y.unwrap(),
        1,
        "one delivery: acme's 1.0.0 to wh_all"
    );
    assert_eq!(s.enqueue_from_feed(500, 1_000).await.unwrap(), 0);
    let all = s.deliveries("acme", "wh_all", 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].event_type, "version.published");
    assert_eq!(all[0].body["data"]["version"], "1.0.0");
    assert!(
        s.deliveries("acme", "wh_moves", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Claimed once until the lease ends.
    let (a, b) = tokio::join!(
        s.claim_due_deliveries(2_000, 10_000, 10),
        s.claim_due_deliveries(2_000, 10_000, 10)
    );
    let claimed: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(claimed.len(), 1);
    assert!(
        s.claim_due_deliveries(5_000, 10_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(12_000));
    // A failed attempt: due again later, released.
    let record = AttemptRecord {
        attempt: 1,
        at: "2026-12-03T00:00:02.000Z".into(),
        status_code: Some(500),
        error: Some("500".into()),
        duration_ms: 3,
    };
    s.record_attempt(&claimed[0].id, &record, AttemptOutcome::RetryAt(3_000))
        .await
        .unwrap();
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(3_000));
    assert!(
        s.claim_due_deliveries(2_500, 10_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_due_deliveries(3_000, 10_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    s.record_attempt(
        &again[0].id,
        &AttemptRecord {
            attempt: 2,
            status_code: Some(204),
            error: None,
            ..record
        },
        AttemptOutcome::Delivered,
    )
    .await
    .unwrap();
    let log = s.deliveries("acme", "wh_all", 10).await.unwrap();
    assert_eq!(log[0].status, promptops_api::DeliveryStatus::Delivered);
    assert_eq!(log[0].attempts.len(), 2);
    assert_eq!(s.next_delivery_due().await.unwrap(), None);
    // The log keeps finished deliveries until they are older than the retention.
    assert_eq!(s.prune_deliveries(0).await.unwrap(), 0);
    let far_future = 4_000_000_000_000;
    s.create_webhook(&hook("wh_kept", &[]), &admin)
        .await
        .unwrap();
    s.publish("acme", &version("a.b", "2.0.0", "Two {{ name }}"), &admin)
        .await
        .unwrap();
    s.enqueue_from_feed(500, 4_000).await.unwrap();
    assert_eq!(s.deliveries("acme", "wh_kept", 10).await.unwrap().len(), 1);
    assert_eq!(s.deliveries("acme", "wh_all", 10).await.unwrap().len(), 2);
    assert_eq!(
        s.prune_deliveries(far_future).await.unwrap(),
        1,
        "the pending ones stay"
    );
    assert_eq!(s.deliveries("acme", "wh_all", 10).await.unwrap().len(), 1);
    assert_eq!(s.deliveries("acme", "wh_kept", 10).await.unwrap().len(), 1);

    // Deleting a subscription takes its deliveries; it is audited.
    s.delete_webhook("acme", "wh_all", &admin).await.unwrap();
    assert!(matches!(
        s.deliveries("acme", "wh_all", 10).await,
        Err(StoreError::NotFound { .. })
    ));
    let audit = s.audit_events(0, 1000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "webhook.deleted"));
    assert!(s.audit_verify(None).await.unwrap().ok);
}
