//! The change feed: every committed state change — a publish, a label move, a
//! rollback, an override, a key revocation, a user or role change — reaches the feed in
//! order, read by sequence number; a waiting subscriber wakes when a write commits;
//! a write that fails announces nothing. On SQLite and on PostgreSQL.

mod support;

use promptops_api::*;
use promptops_core::policy;
use promptops_store::*;
use std::sync::Arc;
use std::time::Duration;
use support::{actor, on_both_backends, version};

on_both_backends!(
    every_state_change_reaches_the_feed_in_order,
    a_subscriber_wakes_when_a_write_commits_and_not_before,
);

const P: &str = "acme";

fn move_to(id: &str, env: &str, target: MoveTarget) -> LabelMoveRequest {
    LabelMoveRequest {
        prompt_id: id.into(),
        environment: env.into(),
        target,
        expected_from: None,
        reason: None,
    }
}

async fn every_state_change_reaches_the_feed_in_order<S: Store>(s: Arc<S>) {
    let admin = actor("admin");
    let id = "support.answer";
    s.publish(P, &version(id, "1.0.0", "One {{ name }}"), &admin)
        .await
        .unwrap();
    s.publish(P, &version(id, "1.1.0", "Two {{ name }}"), &admin)
        .await
        .unwrap();
    let promote = |v: &str| MoveTarget::Promote(v.parse().unwrap());
    s.move_label(P, &move_to(id, "prod", promote("1.0.0")), &admin)
        .await
        .unwrap();
    s.move_label(P, &move_to(id, "prod", promote("1.1.0")), &admin)
        .await
        .unwrap();
    s.move_label(
        P,
        &move_to(id, "prod", MoveTarget::RollbackPrevious),
        &admin,
    )
    .await
    .unwrap();
    // An override: a policy no promotion meets, and an admin who moves anyway.
    let src = "require: ['false']\n";
    let (parsed, _) = policy::parse("policies/staging.yaml", src).unwrap();
    s.put_policy(P, "staging", src, &parsed, &admin)
        .await
        .unwrap();
    let over = Promote {
        prompt_id: id.into(),
        environment: "staging".into(),
        version: "1.1.0".parse().unwrap(),
        expected_from: None,
        reason: None,
        mode: PromoteMode::Override {
            reason: "hotfix".into(),
        },
    };
    s.promote(P, &over, &admin, Role::Admin).await.unwrap();
    s.create_user(
        &NewUser {
            name: "bob".into(),
            password_hash: "$argon2id$stub".into(),
            teams: vec![],
        },
        &[],
        &admin,
    )
    .await
    .unwrap();
    s.set_role(P, "bob", Some(Role::Editor), &admin)
        .await
        .unwrap();
    s.create_key(
        &NewApiKey {
            prefix: "po_0123456789ab".into(),
            name: "ci".into(),
            secret_hash: "0".repeat(64),
            owner: "bob".into(),
            project: P.into(),
            role: Role::Editor,
            expires_at: None,
            ci: true,
        },
        &admin,
    )
    .await
    .unwrap();
    s.revoke_key("po_0123456789ab", &admin).await.unwrap();
    s.set_user_disabled("bob", true, &admin).await.unwrap();

    let changes = s.changes_after(0, 1000).await.unwrap();
    let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(
        seqs,
        (1..=changes.len() as u64).collect::<Vec<_>>(),
        "gapless, in order"
    );
    let kinds: Vec<&ChangeKind> = changes.iter().map(|c| &c.kind).collect();
    let moved = |to: &str, env: &str, rollback: bool, overridden: bool| ChangeKind::LabelMoved {
        project: P.into(),
        prompt: id.into(),
        environment: env.into(),
        from: None,
        to: to.into(),
        rollback,
        overridden,
    };
    let without_from = |k: &ChangeKind| match k {
        ChangeKind::LabelMoved { .. } => {
            let mut k = k.clone();
            if let ChangeKind::LabelMoved { from, .. } = &mut k {
                *from = None;
            }
            k
        }
        other => other.clone(),
    };
    let expected = vec![
        ChangeKind::ProjectChanged { project: P.into() },
        ChangeKind::VersionPublished {
            project: P.into(),
            prompt: id.into(),
            version: "1.0.0".into(),
            content_hash: changes[1].kind_hash(),
        },
        ChangeKind::VersionPublished {
            project: P.into(),
            prompt: id.into(),
            version: "1.1.0".into(),
            content_hash: changes[2].kind_hash(),
        },
        moved("1.0.0", "prod", false, false),
        moved("1.1.0", "prod", false, false),
        moved("1.0.0", "prod", true, false),
        ChangeKind::PolicyChanged {
            project: P.into(),
            environment: "staging".into(),
        },
        moved("1.1.0", "staging", false, true),
        ChangeKind::UserChanged { user: "bob".into() },
        ChangeKind::UserChanged { user: "bob".into() },
        ChangeKind::KeyCreated {
            prefix: "po_0123456789ab".into(),
        },
        ChangeKind::KeyRevoked {
            prefix: "po_0123456789ab".into(),
        },
        ChangeKind::UserChanged { user: "bob".into() },
    ];
    assert_eq!(
        kinds.iter().map(|k| without_from(k)).collect::<Vec<_>>(),
        expected
    );
    // The rollback says where it came from.
    assert!(
        matches!(&changes[5].kind, ChangeKind::LabelMoved { from: Some(f), .. } if f == "1.1.0")
    );
    // Resuming after a sequence number gives exactly the rest.
    let rest = s.changes_after(5, 1000).await.unwrap();
    assert_eq!(rest.first().map(|c| c.seq), Some(6));
    assert_eq!(rest.len(), changes.len() - 5);
}

/// The content hash a `VersionPublished` change carries (whatever it is).
trait KindHash {
    fn kind_hash(&self) -> String;
}

impl KindHash for Change {
    fn kind_hash(&self) -> String {
        match &self.kind {
            ChangeKind::VersionPublished { content_hash, .. } => {
                assert_eq!(content_hash.len(), 64);
                content_hash.clone()
            }
            other => panic!("not a publish: {other:?}"),
        }
    }
}

async fn a_subscriber_wakes_when_a_write_commits_and_not_before<S: Store>(s: Arc<S>) {
    let admin = actor("admin");
    s.publish(P, &version("a.b", "1.0.0", "Hi {{ name }}"), &admin)
        .await
        .unwrap();
    let mut committed = s.committed();
    let before = *committed.borrow_and_update();
    let waiter = tokio::spawn(async move {
        committed.changed().await.unwrap();
        *committed.borrow()
    });
    // A refused write (the same number with other content) commits nothing and wakes
    // nobody.
    let refused = s
        .publish(P, &version("a.b", "1.0.0", "Other {{ name }}"), &admin)
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict { .. })));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "nothing was committed");
    s.publish(P, &version("a.b", "1.1.0", "Hello {{ name }}"), &admin)
        .await
        .unwrap();
    let seq = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the subscriber wakes")
        .unwrap();
    assert!(seq > before);
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(seq, head.seq, "it names the newest committed change");
}

/// A store opened over a database with history starts its feed at the log's head: the
/// history is not replayed as news to the new process's caches and watchers.
#[tokio::test]
async fn a_reopened_store_starts_its_feed_at_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let head = {
        let s = SqlStore::sqlite(&path).await.unwrap();
        let admin = actor("admin");
        s.publish(
            P,
            &version("support.answer", "1.0.0", "One {{ name }}"),
            &admin,
        )
        .await
        .unwrap();
        s.publish(
            P,
            &version("support.answer", "1.1.0", "Two {{ name }}"),
            &admin,
        )
        .await
        .unwrap();
        let head = *s.committed().borrow();
        assert!(head > 0);
        head
    };
    let reopened = SqlStore::sqlite(&path).await.unwrap();
    assert_eq!(*reopened.committed().borrow(), head);
    assert!(
        reopened.changes_after(head, 10).await.unwrap().is_empty(),
        "nothing after the head"
    );
}
