//! Signed audit checkpoints through the API: signing, the key, inclusion and
//! consistency proofs that verify against the signed roots, permissions, bad queries,
//! the append-only table, and a log rewritten behind a checkpoint refused rather than
//! signed over.

mod common;

use common::Api;
use promptops_api::checkpoints::{Checkpoint, ConsistencyProofDoc, InclusionProofDoc};
use promptops_core::config::ServerConfig as Settings;
use serde_json::{Value, json};
use sqlx::Connection;

fn settings() -> Settings {
    Settings {
        // Signed on demand only, so the test decides when.
        checkpoint_interval_secs: 0,
        ..Settings::default()
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

#[tokio::test]
async fn checkpoints_are_signed_proven_and_refuse_a_rewritten_log() {
    let api = Api::with_options(settings()).await;
    api.create_project("demo").await;
    let empty = api.get("/v1/audit/checkpoints").await;
    assert_eq!(empty.body, json!([]));

    let first = api.post("/v1/audit/checkpoints", json!({})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first: Checkpoint = parse(&first.body);
    let key = api.get("/v1/audit/checkpoints/key").await.body;
    assert_eq!(key["algorithm"], "ed25519");
    let key = key["public_key"].as_str().unwrap().to_owned();
    first.verify_signature(Some(&key)).unwrap();

    // Nothing new: the same checkpoint again, not a second one.
    let again: Checkpoint = parse(&api.post("/v1/audit/checkpoints", json!({})).await.body);
    assert_eq!(again, first);

    for name in ["more1", "more2", "more3"] {
        api.create_project(name).await;
    }
    let second: Checkpoint = parse(&api.post("/v1/audit/checkpoints", json!({})).await.body);
    assert!(second.size > first.size);
    second.verify_signature(Some(&key)).unwrap();
    let listed: Vec<Checkpoint> = parse(&api.get("/v1/audit/checkpoints").await.body);
    assert_eq!(listed, [first.clone(), second.clone()]);

    // Every event proven in the newest checkpoint; the newest extends the first.
    let events: Vec<Value> = parse(&api.get("/v1/audit?limit=1000").await.body);
    for e in &events {
        let seq = e["seq"].as_u64().unwrap();
        let proof = api
            .get(&format!(
                "/v1/audit/proofs/inclusion?seq={seq}&size={}",
                second.size
            ))
            .await;
        assert_eq!(proof.status, 200, "{}", proof.text);
        let proof: InclusionProofDoc = parse(&proof.body);
        second
            .verify_inclusion(e["hash"].as_str().unwrap(), &proof)
            .unwrap();
    }
    let consistency: ConsistencyProofDoc = parse(
        &api.get(&format!(
            "/v1/audit/proofs/consistency?from={}&to={}",
            first.size, second.size
        ))
        .await
        .body,
    );
    second.verify_extends(&first, &consistency).unwrap();

    // Bad queries are 4xx with a reason, never a 5xx.
    for (uri, status) in [
        (
            format!("/v1/audit/proofs/inclusion?seq=1&size={}", second.size + 1),
            404,
        ),
        (
            format!(
                "/v1/audit/proofs/inclusion?seq={}&size={}",
                second.size + 1,
                second.size
            ),
            404,
        ),
        ("/v1/audit/proofs/inclusion?seq=0&size=0".to_owned(), 404),
        ("/v1/audit/proofs/inclusion?seq=x".to_owned(), 400),
        (
            format!(
                "/v1/audit/proofs/consistency?from={}&to={}",
                second.size, first.size
            ),
            404,
        ),
        (
            "/v1/audit/proofs/consistency?from=999&to=1000".to_owned(),
            404,
        ),
    ] {
        let r = api.get(&uri).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.text);
    }

    // Only an admin signs; a viewer of every project reads.
    api.create_user("vera", "vera-password-123", &[("*", "viewer")])
        .await;
    let vera = api.login_ok("vera", "vera-password-123").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.get_as(&vera, "/v1/audit/checkpoints").await.status, 200);
    assert_eq!(
        api.post_as(&vera, "/v1/audit/checkpoints", json!({}))
            .await
            .status,
        403
    );

    // The table is append-only, and a log rewritten behind a checkpoint is not signed.
    let url = format!("sqlite://{}", api.db_path().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let edit = sqlx::query("UPDATE audit_checkpoints SET root = 'x'")
        .execute(&mut db)
        .await;
    assert!(edit.is_err(), "checkpoints must be append-only");
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    // Edited and re-hashed, as a rewrite that keeps the chain locally consistent must be.
    sqlx::query("UPDATE audit_events SET actor = 'mallory', hash = '1111111111111111111111111111111111111111111111111111111111111111' WHERE seq = 2")
        .execute(&mut db)
        .await
        .unwrap();
    api.create_project("after").await;
    let refused = api.post("/v1/audit/checkpoints", json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("rewritten behind checkpoint"),
        "{}",
        refused.text
    );
    let listed: Vec<Checkpoint> = parse(&api.get("/v1/audit/checkpoints").await.body);
    assert_eq!(listed.len(), 2, "nothing signed over the rewrite");
}
