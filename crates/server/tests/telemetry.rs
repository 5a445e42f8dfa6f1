//! Execution events through the HTTP API, on SQLite and PostgreSQL: the three shapes,
//! NDJSON and arrays, refusals with their place, idempotency, content capture, prices,
//! and the metrics read back per version; the published JSON Schemas.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Api, Reply};
use serde_json::{Value, json};

const PROMPT: &str = "support.greet";

fn source(version: &str, capture: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"Hello {{{{ name }}}}\"\nvariables:\n  name: string\n\
         compliance:\n  risk_tier: low\n  content_capture: {capture}\n"
    )
}

/// Publishes support.greet 1.0.0 with this `content_capture`.
async fn publish(api: &Api, capture: &str) -> Reply {
    let published = api
        .post(
            &format!("/v1/projects/acme/prompts/{PROMPT}/versions"),
            json!({"source": source("1.0.0", capture)}),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    published
}

async fn post_body(api: &Api, uri: &str, content_type: &str, body: String) -> Reply {
    api.send(
        Request::post(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The metrics of the prompt once `calls` calls are counted in all (the writer stores
/// events after the request is answered).
async fn metrics_with(api: &Api, calls: u64) -> Value {
    let uri = format!(
        "/v1/projects/acme/prompts/{PROMPT}/metrics?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&step=hour"
    );
    for _ in 0..200 {
        let r = api.get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let total: u64 = r.body["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["totals"]["calls"].as_u64().unwrap())
            .sum();
        if total >= calls {
            assert_eq!(total, calls, "{}", r.text);
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the events were not stored");
}

async fn exercise(api: &Api) {
    let published = publish(api, "full").await;
    let hash = published.body["version"]["content_hash"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = json!([
        // Ours, with its version found from the content hash, priced from the table.
        {"id": "e1", "prompt_id": PROMPT, "content_hash": hash, "environment": "prod",
         "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 100, "latency_ms": 120,
         "timestamp": "2026-12-01T10:15:00Z", "input": {"name": "jane@example.com"}, "output": "Hello Jane"},
        {"id": "e2", "prompt_id": PROMPT, "version": "1.0.0", "environment": "prod", "latency_ms": 480,
         "cost_usd": 0.002, "outcome": "error", "error": "upstream timeout", "timestamp": "2026-12-01T10:45:00Z"},
        // Refused: no prompt id; a bad time.
        {"model": "gpt-4o-mini"},
        {"prompt_id": PROMPT, "timestamp": "yesterday"},
        // The seed repository's PromptLog shape, unchanged.
        {"prompt_id": PROMPT, "version_hash": hash, "timestamp": "2026-12-01T11:05:00Z", "trace_id": "t-9",
         "model": "gpt-4o-mini", "tokens_input": 200, "tokens_output": 50, "cost_usd": 0.0001,
         "inputs": {"name": "Bo"}, "outputs": {"text": "Hello Bo"}, "duration_ms": 95}
    ]);
    let r = api.post("/v1/projects/acme/events", events.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["accepted"], 3, "{}", r.text);
    let rejected = r.body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 2);
    assert!(rejected[0]["error"].as_str().unwrap().contains("prompt_id"));
    assert!(rejected[1]["error"].as_str().unwrap().contains("RFC 3339"));

    // NDJSON, with the seed's agent trace and a broken line.
    let agent = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/agent-log.example.json"),
    )
    .unwrap()
    .replace("support-summary-agent-v1", PROMPT)
    .replace("2025-07-10T14:03:00Z", "2026-12-01T12:00:00Z");
    let agent: Value = serde_json::from_str(&agent).unwrap();
    let ndjson = format!(
        "{}\n{{\"prompt_id\": \"{PROMPT}\", oops}}\n",
        serde_json::to_string(&agent).unwrap()
    );
    let r = post_body(
        api,
        "/v1/projects/acme/events",
        "application/x-ndjson",
        ndjson,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["accepted"], 1);
    assert_eq!(r.body["rejected"][0]["at"], "2:32", "{}", r.text);
    assert!(!r.text.contains("line 1 column"), "{}", r.text);

    let m = metrics_with(api, 4).await;
    let series = m["series"].as_array().unwrap();
    let v1 = series.iter().find(|s| s["version"] == "1.0.0").unwrap();
    assert_eq!(v1["totals"]["calls"], 3, "{m}");
    assert_eq!(v1["totals"]["errors"], 1);
    // gpt-4o-mini: 1000 × $0.15/M + 100 × $0.60/M, then $0.002 and $0.0001 as given.
    let cost = v1["totals"]["cost_usd"].as_f64().unwrap();
    assert!((cost - (0.00021 + 0.002 + 0.0001)).abs() < 1e-12, "{cost}");
    let p95 = v1["totals"]["latency_ms"]["p95"].as_u64().unwrap();
    assert!((480..=504).contains(&p95), "{p95}");
    assert_eq!(v1["points"].as_array().unwrap().len(), 2, "hours 10 and 11");
    assert_eq!(v1["points"][0]["at"], "2026-12-01T10:00:00.000Z");
    // The agent trace has no version: its own series, last.
    let unknown = series.last().unwrap();
    assert_eq!(unknown["version"], Value::Null);
    assert_eq!(unknown["totals"]["output_tokens"], 330);

    // The same events again are taken, and stored once: the metrics do not move once a
    // later event (stored after them, by the one writer) is counted.
    let again = api.post("/v1/projects/acme/events", events).await;
    assert_eq!(again.body["accepted"], 3);
    let marker = json!([{"id": "marker", "prompt_id": PROMPT, "version": "1.0.0", "timestamp": "2026-12-01T13:00:00Z"}]);
    api.post("/v1/projects/acme/events", marker).await;
    let m = metrics_with(api, 5).await;
    let v1 = m["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["version"] == "1.0.0")
        .unwrap()
        .clone();
    assert_eq!(v1["totals"]["calls"], 4);

    // One environment only; a bad step or range says so.
    let staging = api
        .get(&format!("/v1/projects/acme/prompts/{PROMPT}/metrics?env=staging&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"))
        .await;
    assert_eq!(staging.body["series"], json!([]));
    for (query, says) in [
        ("step=week", "use `minute`"),
        (
            "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
            "before",
        ),
        (
            "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&step=minute",
            "shorter range",
        ),
        ("to=tomorrow", "RFC 3339"),
    ] {
        let r = api
            .get(&format!(
                "/v1/projects/acme/prompts/{PROMPT}/metrics?{query}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{query}: {}",
            r.text
        );
    }
    // Whole-body refusals and an unknown project.
    let r = post_body(
        api,
        "/v1/projects/acme/events",
        "application/json",
        "[{\"prompt_id\": 1,".into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = api
        .post(
            "/v1/projects/nowhere/events",
            json!([{"prompt_id": PROMPT}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn events_in_metrics_out_on_sqlite() {
    let api = Api::new().await;
    exercise(&api).await;
    // With `content_capture: full`, inputs are kept redacted: read the event file.
    let db = rusqlite_free_read(&api.dir.path().join("registry.db.events")).await;
    assert!(
        db.contains("[REDACTED:email]"),
        "the stored input is redacted"
    );
    assert!(!db.contains("jane@example.com"), "no email in clear");
}

/// The stored events' inputs, read through the store itself.
async fn rusqlite_free_read(path: &std::path::Path) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<(Option<String>,)> = sqlx::query_as("SELECT input FROM execution_events")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.into_iter()
        .filter_map(|(i,)| i)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn events_in_metrics_out_on_postgres() {
    let Some((api, _schema)) = common::postgres_api("telemetry").await else {
        return;
    };
    exercise(&api).await;
}

#[tokio::test]
async fn the_event_shapes_are_published_as_json_schemas() {
    let api = Api::new().await;
    for (name, valid) in [
        ("execution-event.json", json!({"prompt_id": "a", "latency_ms": 3, "outcome": "ok"})),
        ("prompt-log.json", serde_json::from_str::<Value>(r#"{"prompt_id":"a","version_hash":"h","timestamp":"2025-07-01T20:12:00Z","trace_id":"t","model":"m","tokens_input":1,"tokens_output":2,"cost_usd":0.1,"inputs":{},"outputs":{}}"#).unwrap()),
        ("agent-trace.json", serde_json::from_str::<Value>(&std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agent-log.example.json")).unwrap()).unwrap()),
    ] {
        let r = api.send_raw(Request::get(format!("/schemas/{name}")).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.content_type, "application/schema+json");
        let validator = jsonschema::validator_for(&r.body).unwrap();
        assert!(validator.is_valid(&valid), "{name}");
    }
    // Our schema refuses what ingest refuses.
    let ours = api
        .send_raw(
            Request::get("/schemas/execution-event.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let validator = jsonschema::validator_for(&ours.body).unwrap();
    for invalid in [
        json!({"model": "m"}),
        json!({"prompt_id": "a", "latency": 3}),
        json!({"prompt_id": "a", "input_tokens": -1}),
    ] {
        assert!(!validator.is_valid(&invalid), "{invalid}");
    }
    let r = api
        .send_raw(
            Request::get("/schemas/nothing.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_page_counts_routes_and_ingest_without_naming_anything() {
    let api = Api::new().await;
    publish(&api, "hashed").await;
    let r = api
        .post(
            "/v1/projects/acme/events",
            json!([{"id": "m1", "prompt_id": PROMPT, "version": "1.0.0"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    metrics_with_window(&api).await;
    // The writer counts a batch just after committing it: read the page until it has.
    let mut page = api
        .send_raw(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    for _ in 0..200 {
        if page
            .text
            .contains("promptops_ingest_events_total{outcome=\"stored\"} 1")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        page = api
            .send_raw(Request::get("/metrics").body(Body::empty()).unwrap())
            .await;
    }
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        page.content_type
    );
    for line in [
        "promptops_http_requests_total{route=\"/v1/projects/{project}/prompts/{id}/versions\",method=\"POST\",status=\"201\"} 1",
        "promptops_http_requests_total{route=\"/v1/projects/{project}/events\",method=\"POST\",status=\"202\"} 1",
        "promptops_up{service=\"database\"} 1",
        "promptops_ingest_events_total{outcome=\"accepted\"} 1",
        "promptops_ingest_events_total{outcome=\"stored\"} 1",
        "promptops_database_pool_connections{state=\"idle\"}",
    ] {
        assert!(page.text.contains(line), "{line}\n{}", page.text);
    }
    // Route templates only: no project, prompt or user name.
    assert!(
        !page.text.contains("acme") && !page.text.contains(PROMPT) && !page.text.contains("admin")
    );
}

/// Waits until the one event of the metrics test is stored.
async fn metrics_with_window(api: &Api) {
    for _ in 0..200 {
        let r = api
            .get(&format!(
                "/v1/projects/acme/prompts/{PROMPT}/metrics?step=day"
            ))
            .await;
        if r.body["series"].as_array().is_some_and(|s| !s.is_empty()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the event was not stored");
}

#[tokio::test]
async fn ingest_keys_report_and_do_nothing_else() {
    let api = Api::new().await;
    publish(&api, "hashed").await;
    let admin = api.admin.clone();
    let (ingest, _) = api.create_key(&admin, "telemetry", "acme", "ingest").await;
    let (viewer, _) = api.create_key(&admin, "reader", "acme", "viewer").await;
    let events = json!([{"id": "k1", "prompt_id": PROMPT, "version": "1.0.0"}]);
    let r = api
        .post_as(&ingest, "/v1/projects/acme/events", events.clone())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // It reads nothing: not the prompt, not the metrics, not the events.
    for uri in [
        format!("/v1/projects/acme/prompts/{PROMPT}/versions"),
        format!("/v1/projects/acme/prompts/{PROMPT}/metrics"),
        "/v1/projects/acme/events".to_owned(),
        format!("/v1/projects/acme/environments/prod/prompts/{PROMPT}"),
    ] {
        let r = api.get_as(&ingest, &uri).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.text);
    }
    // A viewer's key reads but may not report.
    let r = api
        .post_as(&viewer, "/v1/projects/acme/events", events)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("the editor role (or an `ingest` key)"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn retention_is_set_per_project_by_its_admins() {
    let api = Api::new().await;
    let r = api.post("/v1/projects", json!({"name": "acme"})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let uri = "/v1/projects/acme/events/retention";
    let r = api.get(uri).await;
    assert_eq!(
        (r.status, r.body["days"].as_u64()),
        (StatusCode::OK, Some(30)),
        "{}",
        r.text
    );
    let r = api
        .send(
            Request::put(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"days": 7}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(api.get(uri).await.body["days"], 7);
    for bad in [r#"{"days": 0}"#, r#"{"days": 4000}"#, r#"{"weeks": 1}"#] {
        let r = api
            .send(
                Request::put(uri)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(bad))
                    .unwrap(),
            )
            .await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.text);
    }
}
