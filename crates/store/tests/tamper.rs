mod support;

// Tampering with the database behind the store's back: the append-only triggers refuse
// it, and once a DBA has switched them off, `audit_verify` names the first event that
// no longer holds. Every scenario runs on SQLite and on the real PostgreSQL server,
// through a second, raw connection to the store's own database.

use promptops_api::*;
use promptops_core::canonical::value_json;
use promptops_store::audit::{StoredEvent, event_hash};
use promptops_store::*;
use serde_json::json;
use sqlx::{Connection, Row};
use std::path::Path;
use std::time::Duration;
use support::{actor, version};

/// Runs `$scenario(store, raw)` on a fresh SQLite store and a fresh PostgreSQL store,
/// `raw` being a connection of its own to the same database.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let (store, dir) = crate::support::sqlite().await;
                    let mut raw =
                        crate::Raw::sqlite(&dir.path().join(".promptops/registry.db")).await;
                    super::$scenario(&store, &mut raw).await;
                    raw.close().await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(guard) = crate::support::postgres(stringify!($scenario)).await else {
                        return;
                    };
                    let mut raw = crate::Raw::postgres(&guard.schema).await;
                    super::$scenario(&guard.store, &mut raw).await;
                    raw.close().await;
                    guard.drop_schema().await;
                }
            )*
        }
    };
}

on_both_backends!(
    the_store_refuses_tampering,
    an_edited_actor_is_the_first_bad_event,
    edited_details_are_the_first_bad_event,
    an_edit_with_its_own_hash_recomputed_breaks_the_next_event,
    a_deleted_event_is_the_first_bad_event,
    reordered_events_break_at_the_earlier_one,
    a_self_consistent_forged_insert_breaks_the_next_event,
    a_forged_insert_without_its_hash_is_the_first_bad_event,
    a_truncated_tail_is_caught_only_against_the_kept_head,
    a_truncated_then_regrown_tail_is_caught_against_the_kept_head,
    assessments_are_append_only,
);

const P: &str = "acme";
const ID: &str = "support.greet";

/// A raw connection to a store's database, as a DBA would hold one.
enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

/// Evaluates `$body` with `$c` bound to the raw connection of whichever backend.
macro_rules! on_conn {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($c) => $body,
            Raw::Pg($c) => $body,
        }
    };
}

type EventKey = (i64, String, String, String, String, String, String, String);
type VersionKey = (String, String, i64, String, String, String, String, String);

impl Raw {
    async fn sqlite(path: &Path) -> Raw {
        use sqlx::ConnectOptions;
        let conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(Duration::from_secs(30))
            .connect()
            .await
            .unwrap();
        Raw::Sqlite(conn)
    }

    async fn postgres(schema: &str) -> Raw {
        let mut conn = sqlx::PgConnection::connect(&support::pg_url())
            .await
            .unwrap();
        let sql = format!("SET search_path TO \"{schema}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        Raw::Pg(conn)
    }

    async fn close(self) {
        on_conn!(self, c => c.close().await.unwrap())
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Raw::Pg(_))
    }

    /// Runs one statement; the rows it changed.
    async fn exec(&mut self, sql: &'static str) -> Result<u64, sqlx::Error> {
        on_conn!(self, c => sqlx::query(sql).execute(&mut *c).await.map(|r| r.rows_affected()))
    }

    /// Runs `sql` with the event's eight columns bound as `$1` (seq) to `$8` (hash).
    async fn exec_event(&mut self, sql: &'static str, e: &StoredEvent) -> u64 {
        on_conn!(self, c => sqlx::query(sql)
            .bind(e.seq)
            .bind(&e.at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.target)
            .bind(&e.details)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *c)
            .await
            .unwrap()
            .rows_affected())
    }

    /// Every audit row as stored, by `seq`.
    async fn events(&mut self) -> Vec<StoredEvent> {
        const SQL: &str = "SELECT seq, at, actor, action, target, details, prev_hash, hash \
                           FROM audit_events ORDER BY seq";
        on_conn!(self, c => sqlx::query(SQL)
            .fetch_all(&mut *c)
            .await
            .unwrap()
            .iter()
            .map(|r| StoredEvent {
                seq: r.get("seq"),
                at: r.get("at"),
                actor: r.get("actor"),
                action: r.get("action"),
                target: r.get("target"),
                details: r.get("details"),
                prev_hash: r.get("prev_hash"),
                hash: r.get("hash"),
            })
            .collect())
    }

    async fn event(&mut self, seq: i64) -> StoredEvent {
        self.events()
            .await
            .into_iter()
            .find(|e| e.seq == seq)
            .unwrap_or_else(|| panic!("no audit event {seq}"))
    }

    /// Every version row as stored.
    async fn versions(&mut self) -> Vec<VersionKey> {
        const SQL: &str = "SELECT prompt_key, version, ordinal, content_hash, content, source, \
                           author, created_at FROM versions ORDER BY prompt_key, ordinal";
        on_conn!(self, c => sqlx::query(SQL)
            .fetch_all(&mut *c)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get("prompt_key"),
                    r.get("version"),
                    r.get("ordinal"),
                    r.get("content_hash"),
                    r.get("content"),
                    r.get("source"),
                    r.get("author"),
                    r.get("created_at"),
                )
            })
            .collect())
    }

    /// What a DBA does to get past the append-only protection of `audit_events`.
    async fn disable_protection(&mut self) {
        if self.is_postgres() {
            self.exec("ALTER TABLE audit_events DISABLE TRIGGER USER")
                .await
                .unwrap();
        } else {
            self.exec("DROP TRIGGER audit_events_no_update")
                .await
                .unwrap();
            self.exec("DROP TRIGGER audit_events_no_delete")
                .await
                .unwrap();
        }
    }

    /// Writes every column but `seq` of `e` into the row numbered `seq`.
    async fn overwrite(&mut self, seq: i64, e: &StoredEvent) {
        let row = StoredEvent { seq, ..e.clone() };
        let changed = self
            .exec_event(
                "UPDATE audit_events SET at = $2, actor = $3, action = $4, target = $5, \
                 details = $6, prev_hash = $7, hash = $8 WHERE seq = $1",
                &row,
            )
            .await;
        assert_eq!(changed, 1);
    }

    async fn insert(&mut self, e: &StoredEvent) {
        let added = self
            .exec_event(
                "INSERT INTO audit_events (seq, at, actor, action, target, details, prev_hash, \
                 hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                e,
            )
            .await;
        assert_eq!(added, 1);
    }
}

fn key(e: &StoredEvent) -> EventKey {
    (
        e.seq,
        e.at.clone(),
        e.actor.clone(),
        e.action.clone(),
        e.target.clone(),
        e.details.clone(),
        e.prev_hash.clone(),
        e.hash.clone(),
    )
}

fn keys(events: &[StoredEvent]) -> Vec<EventKey> {
    events.iter().map(key).collect()
}

/// The hash `e` should carry, from its own fields.
fn rehash(e: &StoredEvent) -> String {
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap();
    event_hash(
        &e.prev_hash,
        u64::try_from(e.seq).unwrap(),
        &e.at,
        &e.actor,
        &e.action,
        &e.target,
        &details,
    )
}

fn promote(v: &str) -> LabelMoveRequest {
    LabelMoveRequest {
        prompt_id: ID.into(),
        environment: "prod".into(),
        target: MoveTarget::Promote(v.parse().unwrap()),
        expected_from: None,
        reason: None,
    }
}

/// Six events: the project, three versions, two label moves; the chain verifies.
async fn seed<S: Store>(s: &S) {
    let a = actor("alice");
    for (v, t) in [
        ("1.0.0", "One {{ name }}"),
        ("2.0.0", "Two {{ name }}"),
        ("3.0.0", "Three {{ name }}"),
    ] {
        assert!(s.publish(P, &version(ID, v, t), &a).await.unwrap().created);
    }
    s.move_label(P, &promote("1.0.0"), &actor("bob"))
        .await
        .unwrap();
    s.move_label(P, &promote("2.0.0"), &actor("bob"))
        .await
        .unwrap();
    let events = s.audit_events(0, 100).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        [
            "project.created",
            "version.published",
            "version.published",
            "version.published",
            "label.moved",
            "label.moved",
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.events, 6);
}

/// Asserts the chain is broken and that `seq` is the first event that does not hold.
async fn assert_first_bad<S: Store>(s: &S, kept_head: Option<&AuditHead>, seq: u64) {
    let v = s.audit_verify(kept_head).await.unwrap();
    assert!(!v.ok, "tampering went unnoticed: {v:?}");
    let bad = v
        .first_bad
        .as_ref()
        .unwrap_or_else(|| panic!("not ok, but no first bad event: {v:?}"));
    assert_eq!(bad.seq, seq, "{v:?}");
    assert!(!bad.problem.trim().is_empty(), "{v:?}");
}

/// Asserts a statement is refused by an append-only trigger.
async fn assert_refused(raw: &mut Raw, sql: &'static str) {
    match raw.exec(sql).await {
        Ok(n) => panic!("`{sql}` was allowed ({n} rows)"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("append-only") || msg.contains("immutable"),
                "`{sql}` failed, but not on the trigger: {msg}"
            );
        }
    }
}

async fn the_store_refuses_tampering<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    let events = raw.events().await;
    let versions = raw.versions().await;
    assert_eq!(events.len(), 6);
    assert_eq!(versions.len(), 3);

    assert_refused(
        raw,
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
    )
    .await;
    assert_refused(raw, "UPDATE audit_events SET seq = seq + 1000").await;
    assert_refused(raw, "DELETE FROM audit_events WHERE seq = 3").await;
    assert_refused(raw, "DELETE FROM audit_events").await;
    if raw.is_postgres() {
        assert_refused(raw, "TRUNCATE audit_events").await;
    }
    assert_refused(raw, "UPDATE versions SET author = 'mallory'").await;
    assert_refused(
        raw,
        "UPDATE versions SET content_hash = 'forged' WHERE version = '2.0.0'",
    )
    .await;
    assert_refused(raw, "DELETE FROM versions WHERE version = '3.0.0'").await;

    assert_eq!(
        keys(&raw.events().await),
        keys(&events),
        "audit rows changed"
    );
    assert_eq!(raw.versions().await, versions, "version rows changed");
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.events, 6);
    assert_eq!(
        s.version(P, ID, "2.0.0").await.unwrap().author,
        "alice",
        "the store still reads the untouched version"
    );
}

/// Red-team reports and compatibility results, once recorded, are never changed.
async fn assessments_are_append_only<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    let cases = vec![RedteamCase {
        id: "LLM01-1".into(),
        risk: "LLM01".into(),
        technique: AttackTechnique::Direct,
        variable: Some("name".into()),
        goal: "g".into(),
        input: json!({}),
        output: Some("o".into()),
        succeeded: false,
        pii_leak: false,
        reason: "r".into(),
        error: None,
    }];
    let report = RedteamReport {
        format: REDTEAM_FORMAT.into(),
        prompt_id: ID.into(),
        version: "2.0.0".into(),
        content_hash: None,
        provider: "echo".into(),
        generated_at: "2026-12-03T00:00:00Z".into(),
        not_applicable: Default::default(),
        summary: RedteamReport::tally(&cases, &Default::default()),
        cases,
    };
    s.attach_redteam(P, ID, "2.0.0", &report, &actor("ci"))
        .await
        .unwrap();
    let results = PublishCompatibility {
        suite: "s".into(),
        thresholds: CompatibilityThresholds::default(),
        results: vec![ModelResult {
            model: "openai:gpt-4o-mini".into(),
            passed: 1,
            failed: 0,
            errors: 0,
            verdict: CompatibilityVerdict::Works,
        }],
    };
    s.record_compatibility(P, ID, "2.0.0", &results, &actor("ci"))
        .await
        .unwrap();
    assert_refused(raw, "UPDATE redteam_runs SET summary = '{}'").await;
    assert_refused(raw, "DELETE FROM redteam_runs").await;
    assert_refused(
        raw,
        "UPDATE compatibility_results SET verdict = 'works', passed = 99",
    )
    .await;
    assert_refused(raw, "DELETE FROM compatibility_results").await;
    assert_eq!(s.redteam_runs(P, ID, "2.0.0").await.unwrap().len(), 1);
    let m = s.compatibility(P, ID, "2.0.0").await.unwrap();
    assert_eq!(m.models[0].recorded.as_ref().map(|r| r.passed), Some(1));
}

async fn an_edited_actor_is_the_first_bad_event<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    raw.disable_protection().await;
    let changed = raw
        .exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    assert_first_bad(s, None, 3).await;
}

async fn edited_details_are_the_first_bad_event<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    raw.disable_protection().await;
    let mut e = raw.event(3).await;
    let mut details: serde_json::Value = serde_json::from_str(&e.details).unwrap();
    details["forged"] = json!(true);
    e.details = value_json(&details);
    raw.overwrite(3, &e).await;
    assert_first_bad(s, None, 3).await;
}

async fn an_edit_with_its_own_hash_recomputed_breaks_the_next_event<S: Store>(
    s: &S,
    raw: &mut Raw,
) {
    seed(s).await;
    raw.disable_protection().await;
    let mut e = raw.event(3).await;
    e.actor = "mallory".into();
    e.hash = rehash(&e);
    raw.overwrite(3, &e).await;
    // Event 3 now holds on its own; event 4 still points at its old hash.
    assert_first_bad(s, None, 4).await;
}

async fn a_deleted_event_is_the_first_bad_event<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    raw.disable_protection().await;
    let deleted = raw
        .exec("DELETE FROM audit_events WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(raw.events().await.len(), 5);
    assert_first_bad(s, None, 3).await;
}

async fn reordered_events_break_at_the_earlier_one<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    raw.disable_protection().await;
    let (two, four) = (raw.event(2).await, raw.event(4).await);
    raw.overwrite(2, &four).await;
    raw.overwrite(4, &two).await;
    let now = raw.events().await;
    assert_eq!(now[1].hash, four.hash);
    assert_eq!(now[3].hash, two.hash);
    assert_first_bad(s, None, 2).await;
}

/// Moves events 3.. one up (through 1000+ so that no step collides on the primary key)
/// and returns a forged event 3 chained to event 2, with `hash` still to be set.
async fn make_room_at_3(raw: &mut Raw) -> StoredEvent {
    raw.disable_protection().await;
    let before = raw.events().await;
    assert_eq!(
        raw.exec("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3")
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        raw.exec("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000")
            .await
            .unwrap(),
        4
    );
    let after = raw.events().await;
    assert_eq!(
        after.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 4, 5, 6, 7]
    );
    assert_eq!(after[2].hash, before[2].hash, "event 3 moved to 4 intact");
    let (two, three) = (&before[1], &before[2]);
    StoredEvent {
        seq: 3,
        at: three.at.clone(),
        actor: "mallory".into(),
        action: "label.moved".into(),
        target: three.target.clone(),
        details: value_json(&json!({"environment": "prod", "from": null, "to": "3.0.0"})),
        prev_hash: two.hash.clone(),
        hash: three.hash.clone(),
    }
}

async fn a_self_consistent_forged_insert_breaks_the_next_event<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    let mut forged = make_room_at_3(raw).await;
    forged.hash = rehash(&forged);
    raw.insert(&forged).await;
    assert_eq!(raw.events().await.len(), 7);
    // The forged event holds; the one after it was chained to the real event 3.
    assert_first_bad(s, None, 4).await;
}

async fn a_forged_insert_without_its_hash_is_the_first_bad_event<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    // The forged row keeps the hash of the event it displaced.
    let forged = make_room_at_3(raw).await;
    assert_ne!(forged.hash, rehash(&forged));
    raw.insert(&forged).await;
    assert_first_bad(s, None, 3).await;
}

async fn a_truncated_tail_is_caught_only_against_the_kept_head<S: Store>(s: &S, raw: &mut Raw) {
    seed(s).await;
    let head = s.audit_head().await.unwrap().unwrap();
    assert_eq!(head.seq, 6);
    assert!(s.audit_verify(Some(&head)).await.unwrap().ok);
    raw.disable_protection().await;
    assert_eq!(
        raw.exec("DELETE FROM audit_events WHERE seq = 6")
            .await
            .unwrap(),
        1
    );
    assert_first_bad(s, Some(&head), head.seq).await;
    // Without the head kept outside the database, a shorter chain is a valid chain.
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.events, 5);
}

async fn a_truncated_then_regrown_tail_is_caught_against_the_kept_head<S: Store>(
    s: &S,
    raw: &mut Raw,
) {
    seed(s).await;
    let head = s.audit_head().await.unwrap().unwrap();
    raw.disable_protection().await;
    assert_eq!(
        raw.exec("DELETE FROM audit_events WHERE seq = 6")
            .await
            .unwrap(),
        1
    );
    // The store appends a new event 6 on the shortened chain.
    s.move_label(P, &promote("3.0.0"), &actor("bob"))
        .await
        .unwrap();
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.events, 6);
    assert_first_bad(s, Some(&head), head.seq).await;
}
