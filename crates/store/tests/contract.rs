//! The store contract: every scenario runs on SQLite and on the real PostgreSQL server
//! (each PostgreSQL test in a schema of its own, dropped afterwards).

mod support;

use promptops_api::*;
use promptops_store::*;
use serde_json::json;
use std::sync::Arc;
use support::{actor, on_both_backends, version};

on_both_backends!(
    publishing_is_idempotent_and_versions_are_immutable,
    promotion_and_rollback_keep_every_move,
    resolve_names_what_is_missing,
    eval_runs_attach_to_the_version_they_tested,
    environments_are_configurable_per_project,
    every_change_is_in_a_verifiable_audit_chain,
    racing_publishers_never_both_win,
    racing_label_moves_never_both_win,
);

const P: &str = "acme";

fn promote(id: &str, env: &str, v: &str) -> LabelMoveRequest {
    LabelMoveRequest {
        prompt_id: id.into(),
        environment: env.into(),
        target: MoveTarget::Promote(v.parse().unwrap()),
        expected_from: None,
        reason: None,
    }
}

fn rollback(id: &str, env: &str, to: Option<&str>) -> LabelMoveRequest {
    LabelMoveRequest {
        prompt_id: id.into(),
        environment: env.into(),
        target: match to {
            Some(v) => MoveTarget::RollbackTo(v.parse().unwrap()),
            None => MoveTarget::RollbackPrevious,
        },
        expected_from: None,
        reason: Some("bad answers".into()),
    }
}

async fn publishing_is_idempotent_and_versions_are_immutable<S: Store>(s: Arc<S>) {
    let alice = actor("alice");
    let v1 = version("support.greet", "1.0.0", "Hello {{ name }}");
    let first = s.publish(P, &v1, &alice).await.unwrap();
    assert!(first.created);
    assert_eq!(first.version.version, "1.0.0");
    assert_eq!(first.version.content_hash, v1.content_hash);
    assert_eq!(first.version.author, "alice");
    assert_eq!(first.version.parent, None);
    assert_eq!(first.version.content["id"], "support.greet");

    let again = s.publish(P, &v1, &actor("bob")).await.unwrap();
    assert!(!again.created, "same content is idempotent");
    assert_eq!(
        again.version, first.version,
        "and returns the existing version"
    );

    let other = version("support.greet", "1.0.0", "Hi {{ name }}");
    match s.publish(P, &other, &alice).await {
        Err(StoreError::Conflict { current, .. }) => {
            assert_eq!(current.unwrap()["content_hash"], v1.content_hash.as_str())
        }
        r => panic!("same number, other content must be 409: {r:?}"),
    }

    let v2 = version("support.greet", "1.1.0", "Hello there {{ name }}");
    let second = s.publish(P, &v2, &alice).await.unwrap();
    assert!(second.created);
    assert_eq!(second.version.parent.as_deref(), Some("1.0.0"));

    let older = version("support.greet", "1.0.5", "Hey {{ name }}");
    assert!(
        matches!(
            s.publish(P, &older, &alice).await,
            Err(StoreError::Conflict { .. })
        ),
        "versions must increase"
    );
    // `_` and `-` name the same prompt.
    let same_prompt = s.versions(P, "support.greet").await.unwrap();
    assert_eq!(
        same_prompt
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        ["1.0.0", "1.1.0"]
    );
    assert_eq!(
        s.version(P, "support.greet", "1.1.0").await.unwrap(),
        second.version
    );
    // Revisions count publications from 1; the newest is the latest.
    assert_eq!(
        same_prompt.iter().map(|v| v.revision).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        s.version_at(P, "support.greet", Some(1))
            .await
            .unwrap()
            .version,
        "1.0.0"
    );
    assert_eq!(
        s.version_at(P, "support.greet", None).await.unwrap(),
        second.version
    );
    assert!(matches!(
        s.version_at(P, "support.greet", Some(3)).await,
        Err(StoreError::NotFound {
            what: "version",
            ..
        })
    ));
    assert!(matches!(
        s.version_at(P, "support.nothing", None).await,
        Err(StoreError::NotFound { what: "prompt", .. })
    ));
    let prompts = s.prompts(P).await.unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].latest_version.as_deref(), Some("1.1.0"));
    assert_eq!(prompts[0].versions, 2);
    assert_eq!(prompts[0].module, "support");
    assert!(matches!(
        s.version(P, "support.greet", "9.9.9").await,
        Err(StoreError::NotFound {
            what: "version",
            ..
        })
    ));
}

async fn promotion_and_rollback_keep_every_move<S: Store>(s: Arc<S>) {
    let a = actor("alice");
    let id = "billing.refund";
    for (v, t) in [
        ("1.0.0", "One {{ name }}"),
        ("2.0.0", "Two {{ name }}"),
        ("3.0.0", "Three {{ name }}"),
    ] {
        s.publish(P, &version(id, v, t), &a).await.unwrap();
    }
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        s.move_label(P, &promote(id, "prod", v), &a).await.unwrap();
    }
    // Moving to what is already served changes nothing.
    assert!(matches!(
        s.move_label(P, &promote(id, "prod", "3.0.0"), &a).await,
        Err(StoreError::Conflict { .. })
    ));
    // A stale read loses with the current state.
    let mut stale = promote(id, "prod", "1.0.0");
    stale.expected_from = Some(Some("2.0.0".into()));
    match s.move_label(P, &stale, &a).await {
        Err(StoreError::Conflict { current, .. }) => {
            assert_eq!(
                current.unwrap(),
                json!({"environment": "prod", "version": "3.0.0"})
            )
        }
        r => panic!("{r:?}"),
    }
    let back = s
        .move_label(P, &rollback(id, "prod", None), &actor("oncall"))
        .await
        .unwrap();
    assert_eq!(
        (back.from_version.as_deref(), back.to_version.as_str()),
        (Some("3.0.0"), "2.0.0")
    );
    assert_eq!(back.kind, MoveKind::Rollback);
    let back = s
        .move_label(P, &rollback(id, "prod", None), &a)
        .await
        .unwrap();
    assert_eq!(
        back.to_version, "1.0.0",
        "a second rollback goes further back, not forward"
    );
    assert!(matches!(
        s.move_label(P, &rollback(id, "prod", None), &a).await,
        Err(StoreError::Invalid { .. })
    ));
    let to = s
        .move_label(P, &rollback(id, "prod", Some("3.0.0")), &a)
        .await
        .unwrap();
    assert_eq!(to.to_version, "3.0.0");
    s.publish(P, &version(id, "4.0.0", "Four {{ name }}"), &a)
        .await
        .unwrap();
    assert!(
        matches!(
            s.move_label(P, &rollback(id, "prod", Some("4.0.0")), &a)
                .await,
            Err(StoreError::Invalid { .. })
        ),
        "rollback only to a version that was live there"
    );
    assert!(matches!(
        s.move_label(P, &promote(id, "qa", "1.0.0"), &a).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.move_label(P, &promote(id, "prod", "7.0.0"), &a).await,
        Err(StoreError::NotFound {
            what: "version",
            ..
        })
    ));
    s.move_label(P, &promote(id, "dev", "4.0.0"), &a)
        .await
        .unwrap();

    let history = s.label_history(P, id, Some("prod")).await.unwrap();
    let walk: Vec<_> = history
        .iter()
        .map(|m| (m.from_version.clone(), m.to_version.clone(), m.kind))
        .collect();
    use MoveKind::*;
    let v = |s: &str| Some(s.to_owned());
    assert_eq!(
        walk,
        vec![
            (None, "1.0.0".into(), Promote),
            (v("1.0.0"), "2.0.0".into(), Promote),
            (v("2.0.0"), "3.0.0".into(), Promote),
            (v("3.0.0"), "2.0.0".into(), Rollback),
            (v("2.0.0"), "1.0.0".into(), Rollback),
            (v("1.0.0"), "3.0.0".into(), Rollback),
        ]
    );
    assert_eq!(history[3].actor, "oncall");
    assert_eq!(history[3].reason.as_deref(), Some("bad answers"));
    assert_eq!(s.label_history(P, id, None).await.unwrap().len(), 7);
    let labels = s.labels(P, id).await.unwrap();
    assert_eq!(
        labels
            .iter()
            .map(|l| (l.environment.as_str(), l.version.as_str()))
            .collect::<Vec<_>>(),
        [("dev", "4.0.0"), ("prod", "3.0.0")],
        "in promotion order"
    );
}

async fn resolve_names_what_is_missing<S: Store>(s: Arc<S>) {
    let a = actor("alice");
    let id = "search.rank";
    s.publish(P, &version(id, "1.0.0", "Rank {{ name }}"), &a)
        .await
        .unwrap();
    let not_found = |r: Result<Version>| match r {
        Err(StoreError::NotFound { what, .. }) => what,
        r => panic!("{r:?}"),
    };
    assert_eq!(not_found(s.resolve(P, id, "prod").await), "label");
    assert_eq!(not_found(s.resolve(P, id, "nowhere").await), "environment");
    assert_eq!(
        not_found(s.resolve(P, "search.none", "prod").await),
        "prompt"
    );
    assert_eq!(not_found(s.resolve("nope", id, "prod").await), "project");
    s.move_label(P, &promote(id, "prod", "1.0.0"), &a)
        .await
        .unwrap();
    let served = s.resolve(P, "search.rank", "prod").await.unwrap();
    assert_eq!(served.version, "1.0.0");
    assert_eq!(served.content["model"]["name"], "gpt-4o-mini");
}

async fn eval_runs_attach_to_the_version_they_tested<S: Store>(s: Arc<S>) {
    let a = Actor::via_key("ci", "po_0123456789ab");
    let id = "support.triage";
    s.publish(P, &version(id, "1.0.0", "Triage {{ name }}"), &a)
        .await
        .unwrap();
    let run = NewEvalRun {
        prompt_id: id.into(),
        version: "1.0.0".parse().unwrap(),
        passed: 9,
        failed: 1,
        errors: 0,
        summary: json!({"pass_rate": 0.9, "cost_per_call_usd": 0.0002, "p95_latency_ms": 812}),
        report: Some(json!({"results": {"results": [{"success": true}]}})),
        measured: EvalMeasure {
            pass_rate: Some(0.9),
            rows: Some(10),
            calls: Some(10),
            cost_per_call_usd: Some(0.0002),
            p95_latency_ms: Some(812.0),
        },
        ci_key: true,
    };
    let attached = s.attach_eval(P, &run, &a).await.unwrap();
    assert_eq!((attached.passed, attached.failed), (9, 1));
    // Who attached it, how, and what the server measured are kept with the run.
    assert_eq!(attached.actor, "ci");
    assert_eq!(attached.via_key.as_deref(), Some("po_0123456789ab"));
    assert!(attached.ci_key);
    assert_eq!(attached.measured.as_ref(), Some(&run.measured));
    let runs = s.eval_runs(P, id, "1.0.0").await.unwrap();
    assert_eq!(runs, vec![attached.clone()]);
    assert_eq!(
        s.eval_report(P, attached.id).await.unwrap(),
        run.report.clone().unwrap()
    );
    let mut unknown = run.clone();
    unknown.version = "2.0.0".parse().unwrap();
    assert!(matches!(
        s.attach_eval(P, &unknown, &a).await,
        Err(StoreError::NotFound {
            what: "version",
            ..
        })
    ));
}

async fn environments_are_configurable_per_project<S: Store>(s: Arc<S>) {
    let a = actor("admin");
    let envs: Vec<String> = ["dev", "qa", "prod"].map(String::from).to_vec();
    let p = s.create_project("payments", Some(&envs), &a).await.unwrap();
    assert_eq!(p.environments, envs);
    assert!(matches!(
        s.create_project("payments", None, &a).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.create_project("bad name!", None, &a).await,
        Err(StoreError::Invalid { .. })
    ));
    s.publish(
        "payments",
        &version("pay.charge", "1.0.0", "Charge {{ name }}"),
        &a,
    )
    .await
    .unwrap();
    s.move_label("payments", &promote("pay.charge", "qa", "1.0.0"), &a)
        .await
        .unwrap();
    let no_qa: Vec<String> = ["dev", "prod"].map(String::from).to_vec();
    assert!(
        matches!(
            s.set_environments("payments", &no_qa, &a).await,
            Err(StoreError::Conflict { .. })
        ),
        "an environment that serves a prompt cannot be removed"
    );
    let more: Vec<String> = ["dev", "qa", "staging", "prod"].map(String::from).to_vec();
    assert_eq!(
        s.set_environments("payments", &more, &a)
            .await
            .unwrap()
            .environments,
        more
    );
    assert_eq!(s.project("payments").await.unwrap().environments, more);
    let twice: Vec<String> = ["dev", "dev"].map(String::from).to_vec();
    assert!(matches!(
        s.set_environments("payments", &twice, &a).await,
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(s.projects().await.unwrap().len(), 1);
}

async fn every_change_is_in_a_verifiable_audit_chain<S: Store>(s: Arc<S>) {
    let a = actor("alice");
    let id = "support.greet";
    s.publish(P, &version(id, "1.0.0", "Hello {{ name }}"), &a)
        .await
        .unwrap();
    s.publish(P, &version(id, "1.0.0", "Hello {{ name }}"), &a)
        .await
        .unwrap();
    s.move_label(P, &promote(id, "dev", "1.0.0"), &actor("bob"))
        .await
        .unwrap();
    let events = s.audit_events(0, 100).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["project.created", "version.published", "label.moved"],
        "an idempotent publish records nothing"
    );
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(events[2].actor, "bob");
    assert_eq!(events[2].details["to"], "1.0.0");
    assert_eq!(events[1].prev_hash, events[0].hash);
    let verified = s.audit_verify(None).await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.events, 3);
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(
        head,
        AuditHead {
            seq: 3,
            hash: events[2].hash.clone()
        }
    );
    assert!(s.audit_verify(Some(&head)).await.unwrap().ok);
    let ahead = AuditHead {
        seq: 9,
        hash: head.hash.clone(),
    };
    assert_eq!(
        s.audit_verify(Some(&ahead))
            .await
            .unwrap()
            .first_bad
            .unwrap()
            .seq,
        4
    );
    assert_eq!(s.audit_events(2, 1).await.unwrap().len(), 1);
}

async fn racing_publishers_never_both_win<S: Store>(s: Arc<S>) {
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                // Half race with the same content, half with content of their own.
                let template = if i % 2 == 0 {
                    "Same {{ name }}".to_owned()
                } else {
                    format!("Mine {i} {{{{ name }}}}")
                };
                s.publish(
                    P,
                    &version("race.pub", "1.0.0", &template),
                    &actor(&format!("w{i}")),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    let mut unchanged = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) if p.created => created += 1,
            Ok(_) => unchanged += 1,
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(created, 1, "exactly one writer creates 1.0.0");
    assert_eq!(created + unchanged + conflicts, 24);
    assert_eq!(s.versions(P, "race.pub").await.unwrap().len(), 1);
    let published = s
        .audit_events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "version.published")
        .count();
    assert_eq!(published, 1);
    assert!(s.audit_verify(None).await.unwrap().ok);
}

async fn racing_label_moves_never_both_win<S: Store>(s: Arc<S>) {
    let a = actor("alice");
    let id = "race.label";
    let versions = ["1.0.0", "2.0.0", "3.0.0", "4.0.0"];
    for v in versions {
        s.publish(P, &version(id, v, &format!("V{v} {{{{ name }}}}")), &a)
            .await
            .unwrap();
    }
    s.move_label(P, &promote(id, "prod", "1.0.0"), &a)
        .await
        .unwrap();
    // Every writer read "1.0.0" and moves prod elsewhere: one wins, the rest get 409.
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut req = promote(id, "prod", versions[1 + i % 3]);
                req.expected_from = Some(Some("1.0.0".into()));
                s.move_label(P, &req, &actor(&format!("w{i}"))).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(m) => winners.push(m),
            Err(StoreError::Conflict { current, .. }) => {
                let current = current.unwrap();
                assert_eq!(current["environment"], "prod");
                assert_ne!(
                    current["version"], "1.0.0",
                    "the loser sees the winner's state"
                );
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let history = s.label_history(P, id, Some("prod")).await.unwrap();
    assert_eq!(history.len(), 2, "no lost and no extra move");
    assert_eq!(history[1].to_version, winners[0].to_version);
    assert_eq!(
        s.resolve(P, id, "prod").await.unwrap().version,
        winners[0].to_version
    );
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
    // 1 project + 4 versions + 2 moves, numbered without a gap.
    assert_eq!(v.events, 7);
}

#[tokio::test]
async fn sqlite_reopens_its_file_with_the_data_and_no_new_migration() {
    let (store, dir) = support::sqlite().await;
    store
        .publish(
            P,
            &version("a.b", "1.0.0", "Hi {{ name }}"),
            &actor("alice"),
        )
        .await
        .unwrap();
    store.close().await;
    let again = SqlStore::sqlite(&dir.path().join(".promptops/registry.db"))
        .await
        .unwrap();
    assert_eq!(again.versions(P, "a.b").await.unwrap().len(), 1);
    assert!(again.audit_verify(None).await.unwrap().ok);
}

#[tokio::test]
async fn postgres_reopens_its_schema_with_the_data_and_no_new_migration() {
    let Some(guard) = support::postgres("reopen").await else {
        return;
    };
    guard
        .store
        .publish(
            P,
            &version("a.b", "1.0.0", "Hi {{ name }}"),
            &actor("alice"),
        )
        .await
        .unwrap();
    let again = SqlStore::postgres_in(&support::pg_url(), Some(&guard.schema), 4)
        .await
        .unwrap();
    assert_eq!(again.versions(P, "a.b").await.unwrap().len(), 1);
    again.close().await;
    guard.drop_schema().await;
}

#[tokio::test]
async fn a_changed_or_unknown_migration_is_refused_not_guessed_at() {
    use sqlx::Connection;
    let (store, dir) = support::sqlite().await;
    store.close().await;
    let path = dir.path().join(".promptops/registry.db");
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let original: String =
        sqlx::query_scalar("SELECT checksum FROM promptops_migrations WHERE version = 1")
            .fetch_one(&mut raw)
            .await
            .unwrap();
    sqlx::query("UPDATE promptops_migrations SET checksum = 'edited' WHERE version = 1")
        .execute(&mut raw)
        .await
        .unwrap();
    match SqlStore::sqlite(&path).await {
        Err(StoreError::Migration { detail }) => {
            assert!(detail.contains("migration 1"), "{detail}")
        }
        r => panic!("an edited migration must be refused: {:?}", r.map(|_| ())),
    }
    sqlx::query("UPDATE promptops_migrations SET checksum = $1 WHERE version = 1")
        .bind(&original)
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::query("INSERT INTO promptops_migrations (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 't')")
        .execute(&mut raw)
        .await
        .unwrap();
    match SqlStore::sqlite(&path).await {
        Err(StoreError::Migration { detail }) => {
            assert!(detail.contains("newer promptops"), "{detail}")
        }
        r => panic!("a newer database must be refused: {:?}", r.map(|_| ())),
    }
}
