//! Delivery over a real SQLite store, in process: where each answer comes from, ETags,
//! credentials that stop working on the very next request, and the watch stream (events,
//! resuming with `Last-Event-ID`, heartbeats, a slow watcher dropped). Outages and
//! replicas are `crates/cli/tests/delivery.rs`'s concern (real processes).

mod common;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use common::{Api, Reply, bearer};
use futures_util::StreamExt;
use promptops_server::Settings;
use serde_json::json;
use std::time::Duration;
use tower::ServiceExt;

const RESOLVE: &str = "/v1/projects/acme/environments/prod/prompts/support.greet";
const WATCH: &str = "/v1/projects/acme/environments/prod/watch";

fn source(version: &str, greeting: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"{greeting} {{{{ name }}}}\"\nvariables:\n  name: string\n"
    )
}

/// Publishes `version` of support.greet (a different greeting each).
async fn publish(api: &Api, version: &str) {
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/versions",
            json!({"source": source(version, &format!("Hello v{version}"))}),
        )
        .await;
    assert!(r.status.is_success(), "publish {version}: {}", r.text);
}

async fn promote(api: &Api, version: &str) -> Reply {
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/promote",
            json!({"environment": "prod", "version": version}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "promote {version}: {}", r.text);
    r
}

fn source_of(r: &Reply) -> &str {
    r.headers
        .get("promptops-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
}

async fn acme_with(api: &Api, versions: &[&str]) {
    api.create_project("acme").await;
    for v in versions {
        publish(api, v).await;
    }
}

#[tokio::test]
async fn answers_say_their_source_and_a_move_is_served_on_the_next_request() {
    let api = Api::new().await;
    acme_with(&api, &["1.0.0", "2.0.0"]).await;
    promote(&api, "1.0.0").await;

    let first = api.get(RESOLVE).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    // The follower may have read the moved label into memory already (it refreshes
    // every move); otherwise the first read goes to the store.
    assert!(
        ["database", "memory"].contains(&source_of(&first)),
        "{}",
        source_of(&first)
    );
    let second = api.get(RESOLVE).await;
    assert_eq!(
        source_of(&second),
        "memory",
        "then it is answered from memory"
    );
    assert_eq!(second.text, first.text, "the same bytes");
    assert_eq!(second.etag, first.etag);
    assert!(second.headers.get(header::WARNING).is_none());

    let etag = first.etag.clone().unwrap();
    let r = api
        .send(
            Request::get(RESOLVE)
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.etag.as_deref(), Some(etag.as_str()));
    assert_eq!(source_of(&r), "memory");
    assert!(r.text.is_empty());

    promote(&api, "2.0.0").await;
    let moved = api.get(RESOLVE).await;
    assert_eq!(moved.body["version"], "2.0.0", "no stale copy after a move");
    assert_ne!(moved.etag, first.etag);
    let r = api
        .send(
            Request::get(RESOLVE)
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the old ETag no longer matches");
    assert_eq!(r.body["content"]["template"], "Hello v2.0.0 {{ name }}");
}

#[tokio::test]
async fn unknown_prompts_and_environments_are_404_even_when_warm() {
    let api = Api::new().await;
    acme_with(&api, &["1.0.0"]).await;
    promote(&api, "1.0.0").await;
    api.get(RESOLVE).await;
    for uri in [
        "/v1/projects/acme/environments/prod/prompts/support.nothing",
        "/v1/projects/acme/environments/nowhere/prompts/support.greet",
        "/v1/projects/nobody/environments/prod/prompts/support.greet",
        "/v1/projects/acme/environments/dev/prompts/support.greet",
    ] {
        let r = api.get(uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
    }
}

/// A new viewer of acme and their API key `(key, prefix)`, verified and cached by
/// three reads.
async fn viewer_key(api: &Api, user: &str) -> (String, String) {
    api.create_user(user, "a-long-enough-password", &[("acme", "viewer")])
        .await;
    let token = api.login_ok(user, "a-long-enough-password").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (key, prefix) = api.create_key(&token, "app", "acme", "viewer").await;
    // Warm: the key is verified once, then cached.
    for _ in 0..3 {
        let r = api.get_as(&key, RESOLVE).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    (key, prefix)
}

#[tokio::test]
async fn a_revoked_key_a_disabled_user_and_a_removed_role_stop_on_the_very_next_request() {
    let api = Api::new().await;
    acme_with(&api, &["1.0.0"]).await;
    promote(&api, "1.0.0").await;

    let (revoked, prefix) = viewer_key(&api, "rita").await;
    let r = api
        .post(&format!("/v1/keys/{prefix}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get_as(&revoked, RESOLVE).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked: {}", r.text);

    let (disabled, _) = viewer_key(&api, "dora").await;
    let r = api.post("/v1/users/dora/disable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get_as(&disabled, RESOLVE).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "disabled: {}", r.text);

    let (demoted, _) = viewer_key(&api, "rob").await;
    let r = api
        .put_as(
            &api.admin,
            "/v1/projects/acme/members/rob",
            json!({"role": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get_as(&demoted, RESOLVE).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "role removed: {}", r.text);
    // Given back: the key works again at once (it never held more than its owner).
    let r = api
        .put_as(
            &api.admin,
            "/v1/projects/acme/members/rob",
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get_as(&demoted, RESOLVE).await;
    assert_eq!(r.status, StatusCode::OK, "role given back: {}", r.text);
}

// ----- the watch stream -----------------------------------------------------------

/// An open event stream, read as text.
struct Stream {
    body: futures_util::stream::BoxStream<'static, Result<Bytes, axum::Error>>,
    text: String,
}

impl Stream {
    async fn open(api: &Api, last_event_id: Option<&str>) -> Stream {
        let mut req = Request::get(WATCH).header(header::AUTHORIZATION, bearer(&api.admin));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = api
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/event-stream",
            "an event stream"
        );
        Stream {
            body: resp.into_body().into_data_stream().boxed(),
            text: String::new(),
        }
    }

    /// Reads until `count` events have arrived (or the stream ends, or 10 s pass);
    /// returns their `(id, data)`.
    async fn events(&mut self, count: usize) -> Vec<(u64, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let events = parse_events(&self.text);
            if events.len() >= count {
                return events;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(bytes))) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return events,
            }
        }
    }

    /// Whether the server ended the stream (within 10 s), after what it sent.
    async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(bytes))) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Some(Err(_)) | None) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// `label` events of an SSE text: `(id, data)`.
fn parse_events(text: &str) -> Vec<(u64, serde_json::Value)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name).map(str::trim_start))
        };
        if field("event:") == Some("label") {
            let id = field("id:").unwrap().parse().unwrap();
            let data = serde_json::from_str(field("data:").unwrap()).unwrap();
            out.push((id, data));
        }
    }
    out
}

#[tokio::test]
async fn the_watch_stream_sends_each_move_and_resumes_after_the_last_event_id() {
    let api = Api::new().await;
    acme_with(&api, &["1.0.0", "2.0.0", "3.0.0"]).await;
    let mut watcher = Stream::open(&api, None).await;

    promote(&api, "1.0.0").await;
    // A move in another environment is not this stream's.
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/promote",
            json!({"environment": "dev", "version": "2.0.0"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    promote(&api, "2.0.0").await;
    let events = watcher.events(2).await;
    assert_eq!(events.len(), 2, "{}", watcher.text);
    let hash_of = |v: &str| {
        let api = &api;
        let v = v.to_owned();
        async move {
            api.get(&format!(
                "/v1/projects/acme/prompts/support.greet/versions/{v}"
            ))
            .await
            .body["content_hash"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(events[0].1["id"], "support.greet");
    assert_eq!(events[0].1["version"], "1.0.0");
    assert_eq!(events[0].1["environment"], "prod");
    assert_eq!(events[0].1["content_hash"], hash_of("1.0.0").await);
    assert_eq!(events[1].1["version"], "2.0.0");
    assert!(events[0].0 < events[1].0, "ids are feed positions, rising");
    assert_eq!(events[1].1["seq"], events[1].0);

    // Disconnected after the first event; a move happens meanwhile; resuming after the
    // first id replays the rest without a gap, then goes on live.
    drop(watcher);
    promote(&api, "3.0.0").await;
    let mut resumed = Stream::open(&api, Some(&events[0].0.to_string())).await;
    promote(&api, "1.0.0").await;
    let again = resumed.events(3).await;
    let versions: Vec<&str> = again
        .iter()
        .map(|(_, d)| d["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.0.0", "3.0.0", "1.0.0"], "{}", resumed.text);
    assert_eq!(again[0].0, events[1].0);

    let r = api
        .send(
            Request::get(WATCH)
                .header("last-event-id", "yesterday")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = api
        .get("/v1/projects/acme/environments/nowhere/watch")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn the_watch_stream_sends_heartbeats() {
    let api = Api::with_options(Settings {
        watch_heartbeat_secs: 1,
        ..Settings::default()
    })
    .await;
    acme_with(&api, &["1.0.0"]).await;
    let mut watcher = Stream::open(&api, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !watcher.text.contains(": heartbeat") {
        match tokio::time::timeout_at(deadline, watcher.body.next()).await {
            Ok(Some(Ok(bytes))) => watcher.text.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("no heartbeat: {other:?} after {:?}", watcher.text),
        }
    }
}

#[tokio::test]
async fn a_watcher_that_stops_reading_is_dropped_and_the_others_get_everything() {
    let api = Api::with_options(Settings {
        watch_buffer: 4,
        ..Settings::default()
    })
    .await;
    let versions = ["1.0.0", "2.0.0", "3.0.0", "4.0.0"];
    acme_with(&api, &versions).await;
    let mut slow = Stream::open(&api, None).await;
    let mut reader = Stream::open(&api, None).await;
    let mut seen = Vec::new();
    for round in 0..3 {
        for v in versions {
            promote(&api, v).await;
            // The reader keeps up; the slow watcher reads nothing.
            let events = reader.events(seen.len() + 1).await;
            assert_eq!(
                events.len(),
                seen.len() + 1,
                "round {round}: {}",
                reader.text
            );
            seen.push(events.last().unwrap().1["version"].clone());
        }
    }
    assert_eq!(seen.len(), 12, "every move reached the reader");
    assert!(
        slow.ended().await,
        "a watcher 12 moves behind a buffer of 4 is disconnected: {}",
        slow.text
    );
    assert!(
        parse_events(&slow.text).len() < 12,
        "it did not get everything before it was dropped"
    );
}

#[test]
fn the_hot_path_checks_the_permission_the_route_table_declares() {
    let table = promptops_server::routes::table();
    let declared = table
        .iter()
        .find(|(method, path, _)| {
            method == axum::http::Method::GET
                && path == "/v1/projects/{project}/environments/{env}/prompts/{id}"
        })
        .map(|(_, _, permission)| *permission);
    assert_eq!(
        declared,
        Some(promptops_server::hot_path::RESOLVE_PERMISSION)
    );
}
