//! The reads made for the web UI, on SQLite and on the real PostgreSQL server: the
//! catalogue, the audit log's filters (a prefix is a prefix on both backends, wildcard
//! characters included) and incremental chain verification.

mod support;

use promptops_api::*;
use promptops_store::browse::AuditQuery;
use promptops_store::*;
use std::sync::Arc;
use support::{actor, on_both_backends, version};

on_both_backends!(
    the_catalogue_has_each_prompts_newest_version_and_labels,
    audit_filters_match_prefixes_exactly_newest_first,
    verification_carries_forward_and_sees_a_moved_start,
);

const P: &str = "shop";

fn promote(id: &str, env: &str, v: &str) -> LabelMoveRequest {
    LabelMoveRequest {
        prompt_id: id.into(),
        environment: env.into(),
        target: MoveTarget::Promote(v.parse().unwrap()),
        expected_from: None,
        reason: None,
    }
}

async fn seed<S: Store>(s: &S) {
    for (id, versions) in [("a.one", 3), ("a.two", 1), ("b.x_y", 2)] {
        for v in 0..versions {
            s.publish(
                P,
                &version(id, &format!("1.0.{v}"), &format!("t{v} {{{{ name }}}}")),
                &actor("alice"),
            )
            .await
            .unwrap();
        }
    }
    s.move_label(P, &promote("a.one", "dev", "1.0.1"), &actor("bob"))
        .await
        .unwrap();
    s.move_label(P, &promote("a.one", "prod", "1.0.2"), &actor("bob"))
        .await
        .unwrap();
}

async fn the_catalogue_has_each_prompts_newest_version_and_labels<S: Store>(s: Arc<S>) {
    seed(&*s).await;
    let catalog = s.catalog(P, None).await.unwrap();
    let ids: Vec<&str> = catalog.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["a.one", "a.two", "b.x_y"]);
    let one = &catalog[0];
    assert_eq!(one.versions, 3);
    assert_eq!(one.latest_version.as_deref(), Some("1.0.2"));
    assert_eq!(one.latest_author.as_deref(), Some("alice"));
    assert_eq!(one.owner.as_deref(), Some("team-a"));
    assert_eq!(one.description.as_deref(), Some("A test prompt."));
    assert!(one.tags.is_empty() && one.risk_tier.is_none());
    assert_eq!(one.labels.get("dev").map(String::as_str), Some("1.0.1"));
    assert_eq!(one.labels.get("prod").map(String::as_str), Some("1.0.2"));
    // Changed when its label last moved, after its newest version.
    assert!(one.changed_at >= catalog[1].changed_at, "{catalog:?}");
    assert!(catalog[1].labels.is_empty());
    assert!(matches!(
        s.catalog("nope", None).await,
        Err(StoreError::NotFound { .. })
    ));
    // Some prompts only (ids compared as the registry compares them: `-` is `_`).
    let some = s
        .catalog(P, Some(&["b.x-y".to_owned(), "a.one".to_owned()]))
        .await
        .unwrap();
    let ids: Vec<&str> = some.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["a.one", "b.x_y"]);
    assert_eq!(some[0], catalog[0]);
    assert!(s.catalog(P, Some(&[])).await.unwrap().is_empty());
}

async fn audit_filters_match_prefixes_exactly_newest_first<S: Store>(s: Arc<S>) {
    seed(&*s).await;
    let page = |q: AuditQuery| {
        let s = s.clone();
        async move { s.audit_page(&AuditQuery { limit: 100, ..q }).await.unwrap() }
    };
    let all = page(AuditQuery::default()).await;
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let by_bob = page(AuditQuery {
        actor: Some("bob".into()),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(by_bob.len(), 2);
    assert!(by_bob.iter().all(|e| e.actor == "bob"));
    let published = page(AuditQuery {
        action_prefix: Some("version.".into()),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(published.len(), 6);
    let one = page(AuditQuery {
        target_prefix: Some("prompt:shop/a.one@".into()),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(one.len(), 3, "{one:?}");
    // `_` and `%` are characters, not wildcards: `b.x_y` does not match `b.x%`, and a
    // prefix with `_` matches only itself.
    let wild = page(AuditQuery {
        target_prefix: Some("prompt:shop/b.x%".into()),
        ..AuditQuery::default()
    })
    .await;
    assert!(wild.is_empty(), "{wild:?}");
    let underscore = page(AuditQuery {
        target_prefix: Some("prompt:shop/a_".into()),
        ..AuditQuery::default()
    })
    .await;
    assert!(underscore.is_empty(), "{underscore:?}");
    // Case matters.
    let upper = page(AuditQuery {
        target_prefix: Some("PROMPT:".into()),
        ..AuditQuery::default()
    })
    .await;
    assert!(upper.is_empty());
    // Exact targets, and paging backwards.
    let exact = page(AuditQuery {
        targets: vec![
            "prompt:shop/a.two@1.0.0".into(),
            "prompt:shop/b.x_y@1.0.1".into(),
        ],
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(exact.len(), 2);
    let older = page(AuditQuery {
        before: Some(all[1].seq),
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(older.first().map(|e| e.seq), Some(all[2].seq));
}

async fn verification_carries_forward_and_sees_a_moved_start<S: Store>(s: Arc<S>) {
    seed(&*s).await;
    let full = s.audit_verify_after(None, None).await.unwrap();
    assert!(full.ok, "{full:?}");
    let head = full.head.clone().unwrap();
    // Nothing new: the head stands.
    let again = s.audit_verify_after(Some(&head), None).await.unwrap();
    assert!(again.ok && again.events == 0);
    assert_eq!(again.head.as_ref(), Some(&head));
    // New events are verified from the kept head on.
    s.publish(
        P,
        &version("a.two", "1.0.1", "t1 {{ name }}"),
        &actor("alice"),
    )
    .await
    .unwrap();
    let next = s.audit_verify_after(Some(&head), None).await.unwrap();
    assert!(next.ok, "{next:?}");
    assert_eq!(next.events, 1);
    assert_eq!(next.head.as_ref().unwrap().seq, head.seq + 1);
    // A start that is not what the log holds (rewritten or truncated) is reported.
    let forged = AuditHead {
        seq: head.seq,
        hash: "0".repeat(64),
    };
    let bad = s.audit_verify_after(Some(&forged), None).await.unwrap();
    assert!(!bad.ok);
    assert_eq!(bad.first_bad.unwrap().seq, head.seq);
}
