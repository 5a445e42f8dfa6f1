//! The HTTP API over a real SQLite store: statuses, problem+json bodies, ETags, the
//! OpenAPI document, and bad input that is refused without changing anything. Every
//! request is the bootstrapped admin's (a session token); who may do what is
//! `authz.rs`'s concern.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Api, Reply};
use promptops_server::auth::Need;
use promptops_server::routes;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

fn source(version: &str, template: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"{template}\"\nvariables:\n  name: string\n"
    )
}

const VERSIONS: &str = "/v1/projects/acme/prompts/support.greet/versions";

fn assert_problem(r: &Reply, status: StatusCode, detail_has: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    assert_eq!(r.body["status"], status.as_u16());
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_has),
        "detail {detail:?} should mention {detail_has:?}"
    );
}

#[tokio::test]
async fn publish_resolve_with_etag_and_304() {
    let api = Api::new().await;
    let r = api
        .post(
            VERSIONS,
            json!({"source": source("1.0.0", "Hello {{ name }}")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["created"], true);
    let hash = r.body["version"]["content_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .post(
            VERSIONS,
            json!({"source": source("1.0.0", "Hello {{ name }}")}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the same content again is 200 with the existing version"
    );
    assert_eq!(r.body["created"], false);

    let resolve = "/v1/projects/acme/environments/prod/prompts/support.greet";
    assert_problem(
        &api.get(resolve).await,
        StatusCode::NOT_FOUND,
        "nothing promoted there yet",
    );
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/promote",
            json!({"environment": "prod", "version": "1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"], "moved", "{}", r.text);
    assert_eq!(r.body["version"], "1.0.0", "a bare 1 is 1.0.0");
    assert_eq!(r.body["move"]["to_version"], "1.0.0", "a bare 1 is 1.0.0");
    let r = api.get(resolve).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.etag.as_deref(), Some(format!("\"{hash}\"").as_str()));
    assert_eq!(r.body["version"], "1.0.0");
    assert_eq!(r.body["model"]["name"], "gpt-4o-mini");
    assert_eq!(r.body["variables"]["name"]["type"], "string");
    assert_eq!(r.body["content"]["template"], "Hello {{ name }}");
    let r = api
        .send(
            Request::get(resolve)
                .header(header::IF_NONE_MATCH, format!("\"{hash}\""))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.text.is_empty());
    let r = api
        .send(
            Request::get(resolve)
                .header(header::IF_NONE_MATCH, "\"stale\"")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_4xx_problem_json_and_changes_nothing() {
    let api = Api::new().await;
    api.post(
        VERSIONS,
        json!({"source": source("1.0.0", "Hello {{ name }}")}),
    )
    .await;
    let before = api.events().await;

    assert_problem(
        &api.raw_post(VERSIONS, "{\"source\": ".into()).await,
        StatusCode::BAD_REQUEST,
        "valid JSON",
    );
    assert_problem(
        &api.post(VERSIONS, json!({"sauce": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sauce",
    );
    let huge = json!({"source": "x".repeat(2 * 1024 * 1024)});
    assert_problem(
        &api.post(VERSIONS, huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "smaller body",
    );
    let r = api
        .send(
            Request::post(VERSIONS)
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_problem(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json");

    // The validator's findings, with their place.
    let r = api
        .post(
            VERSIONS,
            json!({"source": source("1.1.0", "Hello {{ user }}")}),
        )
        .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "does not validate");
    let first = &r.body["errors"][0];
    assert_eq!(first["code"], "E012", "{}", r.text);
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(6), Some(21))
    );
    // A file whose id is not the route's.
    let other = source("1.1.0", "Hi {{ name }}").replace("support.greet", "support.other");
    assert_problem(
        &api.post(VERSIONS, json!({"source": other})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validate",
    );
    // Not YAML at all.
    let r = api.post(VERSIONS, json!({"source": "id: [unclosed"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Same number, other content; and a version that does not increase.
    let r = api
        .post(
            VERSIONS,
            json!({"source": source("1.0.0", "Hi {{ name }}")}),
        )
        .await;
    assert_problem(
        &r,
        StatusCode::CONFLICT,
        "already exists with other content",
    );
    assert!(r.body["current"]["content_hash"].is_string());
    api.post(
        VERSIONS,
        json!({"source": source("2.0.0", "Hey {{ name }}")}),
    )
    .await;
    let after_v2 = api.events().await;
    assert_problem(
        &api.post(
            VERSIONS,
            json!({"source": source("1.5.0", "Yo {{ name }}")}),
        )
        .await,
        StatusCode::CONFLICT,
        "versions must increase",
    );

    let promote = "/v1/projects/acme/prompts/support.greet/promote";
    assert_problem(
        &api.post(promote, json!({"environment": "prod", "version": "v1.0"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid version",
    );
    assert_problem(
        &api.post(promote, json!({"environment": "moon", "version": "1.0.0"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown environment",
    );
    assert_problem(
        &api.post(
            "/v1/projects/acme/prompts/nope.nope/promote",
            json!({"environment": "prod", "version": "1.0.0"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "nope.nope",
    );
    assert_problem(
        &api.get("/v1/projects/acme/prompts/support.greet/versions/banana")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "banana",
    );
    assert_problem(
        &api.get("/v1/projects/ghost/prompts").await,
        StatusCode::NOT_FOUND,
        "ghost",
    );
    assert_problem(
        &api.get("/v2/anything").await,
        StatusCode::NOT_FOUND,
        "/openapi.json",
    );
    assert_problem(
        &api.get("/v1/audit?limit=0").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );
    assert_problem(
        &api.get("/v1/audit?after=-1").await,
        StatusCode::BAD_REQUEST,
        "after",
    );
    let r = api
        .send(Request::delete("/v1/audit").body(Body::empty()).unwrap())
        .await;
    assert_problem(&r, StatusCode::METHOD_NOT_ALLOWED, "DELETE");
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/rollback",
            json!({"environment": "prod"}),
        )
        .await;
    assert_problem(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing to roll back to",
    );

    assert_eq!(
        api.events().await,
        after_v2,
        "refused requests wrote nothing"
    );
    assert_eq!(after_v2, before + 1);
}

#[tokio::test]
async fn racing_promotions_over_http_have_one_winner_and_409s_with_the_current_state() {
    let api = Arc::new(Api::new().await);
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        api.post(
            VERSIONS,
            json!({"source": source(v, &format!("V{v} {{{{ name }}}}"))}),
        )
        .await;
    }
    let promote = "/v1/projects/acme/prompts/support.greet/promote";
    api.post(promote, json!({"environment": "prod", "version": "1.0.0"}))
        .await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let to = if i % 2 == 0 { "2.0.0" } else { "3.0.0" };
                api.post(
                    promote,
                    json!({"environment": "prod", "version": to, "expected_from": "1.0.0"}),
                )
                .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => wins += 1,
            StatusCode::CONFLICT => assert_ne!(r.body["current"]["version"], "1.0.0", "{}", r.text),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn openapi_document_is_3_1_and_covers_every_route() {
    let api = Api::new().await;
    let r = api.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        r.body["openapi"]
    );
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/v1/projects",
        "/v1/projects/{project}/prompts/{id}/versions",
        "/v1/projects/{project}/prompts/{id}/diff",
        "/v1/projects/{project}/prompts/{id}/promote",
        "/v1/projects/{project}/prompts/{id}/rollback",
        "/v1/projects/{project}/environments/{env}/prompts/{id}",
        "/v1/projects/{project}/prompts/{id}/versions/{version}/evals",
        "/v1/projects/{project}/prompts/{id}/versions/{version}/redteam",
        "/v1/projects/{project}/redteam/{run}/report",
        "/v1/projects/{project}/prompts/{id}/versions/{version}/compatibility",
        "/v1/audit/verify",
        "/v1/audit/head",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    // The document and the permission table name exactly the same operations (the
    // document does not describe itself).
    let mut documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            methods
                .filter(|m| HTTP_METHODS.contains(&m.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let table = routes::table();
    let declared: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, _)| (m.as_str().to_owned(), p.clone()))
        .collect();
    assert_eq!(declared.len(), table.len(), "a route is declared twice");
    documented.insert(("GET".to_owned(), "/openapi.json".to_owned()));
    let undeclared: Vec<_> = documented.difference(&declared).collect();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undeclared.is_empty() && undocumented.is_empty(),
        "documented but not in the route table: {undeclared:?}; in the route table but not documented: {undocumented:?}"
    );
    // The document marks exactly the public routes as needing no credentials.
    let public_in_doc: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter(|(m, op)| {
                    HTTP_METHODS.contains(&m.as_str()) && op["security"] == json!([{}])
                })
                .map(|(m, _)| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let public_in_table: BTreeSet<(String, String)> = table
        .iter()
        .filter(|(_, p, perm)| perm.need() == Need::Nothing && p != "/openapi.json")
        .map(|(m, p, _)| (m.as_str().to_owned(), p.clone()))
        .collect();
    assert_eq!(
        public_in_doc, public_in_table,
        "public in the document vs in the route table"
    );

    let health = api.get("/healthz").await;
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["backend"], "sqlite");
}

#[tokio::test]
async fn diff_as_json_and_unified_text() {
    let api = Api::new().await;
    api.post(
        VERSIONS,
        json!({"source": source("1.0.0", "Hello {{ name }}")}),
    )
    .await;
    api.post(
        VERSIONS,
        json!({"source": source("1.1.0", "Hello there {{ name }}")}),
    )
    .await;
    let r = api
        .get("/v1/projects/acme/prompts/support.greet/diff?from=1.0.0&to=1.1.0")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["diff"]["verdict"]["status"], "fits");
    assert!(
        r.body["diff"]["text_diff"]
            .as_str()
            .unwrap()
            .contains("+Hello there {{ name }}")
    );
    let r = api
        .get("/v1/projects/acme/prompts/support.greet/diff?from=1.0.0&to=1.1.0&format=unified")
        .await;
    assert!(r.content_type.starts_with("text/plain"));
    assert!(
        r.text.contains("--- support.greet@1.0.0") && r.text.contains("+version: 1.1.0"),
        "{}",
        r.text
    );
    assert_problem(
        &api.get("/v1/projects/acme/prompts/support.greet/diff?from=1.0.0&to=7.0.0")
            .await,
        StatusCode::NOT_FOUND,
        "7.0.0",
    );
    assert_problem(
        &api.get("/v1/projects/acme/prompts/support.greet/diff?from=1.0.0")
            .await,
        StatusCode::BAD_REQUEST,
        "to",
    );
}

#[tokio::test]
async fn eval_runs_attach_list_and_keep_their_report() {
    let api = Api::new().await;
    api.post(
        VERSIONS,
        json!({"source": source("1.0.0", "Hello {{ name }}")}),
    )
    .await;
    let evals = "/v1/projects/acme/prompts/support.greet/versions/1.0.0/evals";
    let report = json!({"results": {"results": [{"success": true}, {"success": false}]}});
    let r = api
        .post(evals, json!({"passed": 1, "failed": 1, "errors": 0, "summary": {"pass_rate": 0.5}, "report": report}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let run = r.body["id"].as_u64().unwrap();
    let r = api.get(evals).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["summary"]["pass_rate"], 0.5);
    assert_eq!(
        r.body[0]["actor"], "admin",
        "the actor is the authenticated caller"
    );
    let r = api
        .get(&format!("/v1/projects/acme/evals/{run}/report"))
        .await;
    assert_eq!(r.body, report);

    let before = api.events().await;
    // Counts the store cannot keep are refused, not clamped.
    let r = api
        .post(
            evals,
            json!({"passed": 1, "failed": 0, "errors": 9223372036854775808_u64, "summary": {}}),
        )
        .await;
    assert_problem(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "larger than the store can keep",
    );
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/versions/3.0.0/evals",
            json!({"passed": 1, "failed": 0, "errors": 0, "summary": {}}),
        )
        .await;
    assert_problem(
        &r,
        StatusCode::NOT_FOUND,
        "push it before publishing its eval",
    );
    assert_eq!(api.events().await, before);
    assert_eq!(api.get(evals).await.body.as_array().unwrap().len(), 1);
}

/// The keys of an OpenAPI path item that are operations.
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn a_policy_that_does_not_parse_is_refused_with_its_findings_and_nothing_is_stored() {
    let api = Api::new().await;
    api.create_project("demo").await;
    let before = api.events().await;
    let uri = "/v1/projects/demo/policies/prod";
    let broken = "approvals:\n  - count: 0\nchecklist: reviewed\n";
    let r = api.put_as(&api.admin, uri, json!({"source": broken})).await;
    assert_problem(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the policy does not validate",
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("promptops policy check")
    );
    assert_eq!(
        r.body["type"],
        "https://promptops.dev/problems/invalid-policy"
    );
    let first = &r.body["errors"][0];
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(12)),
        "{}",
        r.text
    );
    assert_eq!(api.events().await, before, "nothing written");
    assert_eq!(api.get(uri).await.status, StatusCode::NOT_FOUND);

    let good = "approvals:\n  - count: 1\n";
    let r = api.put_as(&api.admin, uri, json!({"source": good})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revision"], 1);
    let again = api.put_as(&api.admin, uri, json!({"source": good})).await;
    assert_eq!(
        again.body["revision"], 1,
        "the same text is not a new revision"
    );
    assert_eq!(api.events().await, before + 1);
}
