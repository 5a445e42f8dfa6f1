//! What an attacker with an editor key, or with no key at all, could do to the registry,
//! each tried for real against the router over a real store: a YAML bomb, locking the
//! admin out, password spraying, forged eval figures, stolen refresh tokens, revived
//! credentials, names that cannot be told apart, NUL characters and bad UTF-8.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use common::{Api, Reply};
use promptops_server::Settings;
use serde_json::{Value, json};
use std::net::SocketAddr;

const VERSIONS: &str = "/v1/projects/acme/prompts/support.greet/versions";

fn prompt(version: &str, extra: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"Hello {{{{ name }}}}\"\nvariables:\n  name: string\n{extra}"
    )
}

/// The bomb: a 100 KB string anchored once and aliased 5,000 times would be
/// 500 MB of content.
fn alias_bomb() -> String {
    let mut tags = String::from("tags:\n");
    for _ in 0..5_000 {
        tags.push_str("  - *big\n");
    }
    prompt(
        "1.0.0",
        &format!(
            "metadata:\n  note: &big \"{}\"\n{tags}",
            "x".repeat(100_000)
        ),
    )
}

#[tokio::test]
async fn a_yaml_alias_bomb_is_refused_with_its_place_and_nothing_is_stored() {
    // Even with the absolute cap raised far above the bomb's 500 MB, the expansion
    // relative to the document stops it.
    let api = Api::with_options(Settings {
        max_version_bytes: 1 << 30,
        ..Settings::default()
    })
    .await;
    api.create_project("acme").await;
    let before = api.events().await;
    let bomb = alias_bomb();
    assert!(bomb.len() < 200_000, "the request itself is small");
    let r = api.post(VERSIONS, json!({"source": bomb})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:.300}",
        r.text
    );
    assert_eq!(r.content_type, "application/problem+json");
    let first = &r.body["errors"][0];
    assert!(
        first["message"].as_str().unwrap().contains("alias bomb"),
        "{first}"
    );
    // The alias that crossed the budget, on its own line (the tags start at line 12).
    let line = first["line"].as_u64().unwrap();
    assert!((12..40).contains(&line), "line {line}");
    assert_eq!(first["column"], 5);
    assert!(
        r.text.len() < 4_096,
        "the refusal does not echo the content"
    );
    assert_eq!(api.events().await, before, "nothing written");
    assert_eq!(api.get(VERSIONS).await.status, StatusCode::NOT_FOUND);

    // With the default cap (1 MiB) it is refused even sooner, by size.
    let api = Api::new().await;
    let r = api.post(VERSIONS, json!({"source": alias_bomb()})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("exceeds 1.0 MB"), "{:.300}", r.text);
}

#[tokio::test]
async fn a_version_over_the_configured_size_is_refused_and_one_under_it_is_kept() {
    let api = Api::with_options(Settings {
        max_version_bytes: 4_096,
        ..Settings::default()
    })
    .await;
    let long = prompt(
        "1.0.0",
        &format!("metadata:\n  note: \"{}\"\n", "y".repeat(5_000)),
    );
    let r = api.post(VERSIONS, json!({"source": long})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let first = &r.body["errors"][0];
    assert!(
        first["message"].as_str().unwrap().contains("4 KB"),
        "{first}"
    );
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(10), Some(9))
    );
    let short = prompt("1.0.0", "metadata:\n  note: fine\n");
    let r = api.post(VERSIONS, json!({"source": short})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// A login as if from `ip`.
async fn login_from(api: &Api, ip: &str, user: &str, password: &str) -> Reply {
    let mut req = Request::post("/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"user": user, "password": password}).to_string(),
        ))
        .unwrap();
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    api.send_raw(req).await
}

#[tokio::test]
async fn a_stranger_failing_on_purpose_cannot_lock_the_admin_out() {
    let api = Api::new().await;
    let attacker = "203.0.113.66";
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            login_from(&api, attacker, "admin", "guess-guess-guess")
                .await
                .status,
        );
    }
    // Five guesses, then the name is under attack and this address has failed.
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let refused = login_from(&api, attacker, "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password, from there"
    );
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(refused.content_type, "application/problem+json");
    // The real admin, from an address that has not been guessing, gets in.
    let admin = login_from(&api, "198.51.100.7", "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    // Another spelling is another (unknown) name: it costs only its own address.
    for _ in 0..20 {
        login_from(&api, "203.0.113.67", "ADMIN", "guess").await;
    }
    let admin = login_from(&api, "198.51.100.8", "admin", common::ADMIN_PASSWORD).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
}

#[tokio::test]
async fn password_spraying_from_one_address_stops_before_any_password_is_checked() {
    let api = Api::new().await;
    for i in 0..30 {
        api.create_user(&format!("user{i}"), "a-long-password-1", &[])
            .await;
    }
    let sprayer = "192.0.2.9";
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(
            login_from(&api, sprayer, &format!("user{i}"), "Winter2026!")
                .await
                .status,
        );
    }
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(unauthorized, 10, "{statuses:?}");
    assert!(
        statuses[10..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
    );
    // Random names from one address: the same wall, whether the names exist or not.
    let r = login_from(&api, sprayer, "no-such-user-7f3a", "x").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Others are not affected.
    let r = login_from(&api, "192.0.2.10", "user3", "a-long-password-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_disabled_user_learns_nothing_from_the_right_password() {
    let api = Api::new().await;
    api.create_user("dora", "doras-password-1", &[]).await;
    let r = api.post("/v1/users/dora/disable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let right = api.login("dora", "doras-password-1").await;
    let wrong = api.login("dora", "not-her-password").await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.body, wrong.body, "the same answer either way");
}

async fn gate(api: &Api, version: &str) -> (bool, String) {
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/promote",
            json!({"environment": "prod", "version": version, "dry_run": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let evals = r.body["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "evals")
        .unwrap()
        .clone();
    (
        evals["passed"].as_bool().unwrap(),
        evals["message"].as_str().unwrap().to_owned(),
    )
}

fn rows(passed: usize, failed: usize) -> Value {
    let row = |ok: bool| json!({"success": ok, "failureReason": if ok { 0 } else { 1 }, "latencyMs": 40, "response": {"output": "x", "cost": 0.0001}});
    let all: Vec<Value> = (0..passed)
        .map(|_| row(true))
        .chain((0..failed).map(|_| row(false)))
        .collect();
    json!({"results": {"results": all}})
}

#[tokio::test]
async fn the_eval_gate_reads_what_the_server_measured_and_who_attached_it() {
    let api = Api::new().await;
    api.create_project("acme").await;
    let r = api
        .post(VERSIONS, json!({"source": prompt("1.0.0", "")}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let policy = "/v1/projects/acme/policies/prod";
    let r = api
        .put_as(
            &api.admin,
            policy,
            json!({"source": "evals: {min_pass_rate: 0.95}\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let evals = format!("{VERSIONS}/1.0.0/evals");

    // The forgery: 0 passed, 100 failed, "pass_rate: 1.0".
    let r = api
        .post(&evals, json!({"passed": 0, "failed": 100, "errors": 0, "summary": {"pass_rate": 1.0, "cost_per_call_usd": 0.0}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["measured"]["pass_rate"], 0.0);
    let (passed, message) = gate(&api, "1.0.0").await;
    assert!(!passed, "{message}");
    assert!(message.contains("pass rate 0 (0/100 passed)"), "{message}");

    // Counts that the rows contradict are refused, and nothing is kept.
    let before = api.events().await;
    let r = api
        .post(
            &evals,
            json!({"passed": 20, "failed": 0, "errors": 0, "summary": {}, "report": rows(1, 19)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("disagree"),
        "{}",
        r.text
    );
    assert_eq!(api.events().await, before);

    // A policy that counts only runs from CI: the admin's own session does not do.
    let r = api
        .put_as(
            &api.admin,
            policy,
            json!({"source": "evals: {min_pass_rate: 0.95, attached_by: ci}\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let honest =
        json!({"passed": 20, "failed": 0, "errors": 0, "summary": {}, "report": rows(20, 0)});
    let r = api.post(&evals, honest.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (passed, message) = gate(&api, "1.0.0").await;
    assert!(!passed);
    assert!(
        message.contains("admin (a session, not a CI key)"),
        "{message}"
    );

    let created = api
        .post(
            "/v1/keys",
            json!({"name": "ci", "project": "acme", "role": "editor", "ci": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let key = created.body["key"].as_str().unwrap();
    let prefix = created.body["api_key"]["prefix"].as_str().unwrap();
    let r = api.post_as(key, &evals, honest).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["via_key"], prefix);
    assert_eq!(r.body["ci_key"], true);
    assert_eq!(r.body["measured"]["p95_latency_ms"], 40.0);
    let (passed, message) = gate(&api, "1.0.0").await;
    assert!(passed, "{message}");
    assert!(
        message.contains(&format!("attached by admin (CI key {prefix})")),
        "{message}"
    );
}

fn claims(token: &str) -> Value {
    use base64_like::decode;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&decode(payload)).unwrap()
}

/// Enough base64url to read a JWT's claims in a test, without a dependency.
mod base64_like {
    pub fn decode(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            _ => 63,
        } as u32;
        let bytes: Vec<u32> = text.bytes().map(value).collect();
        let mut out = Vec::new();
        for chunk in bytes.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, v)| n | v << (18 - 6 * i));
            let keep = chunk.len() - 1;
            out.extend_from_slice(&n.to_be_bytes()[1..1 + keep]);
        }
        out
    }
}

#[tokio::test]
async fn a_refresh_token_works_once_and_its_reuse_ends_the_session() {
    let api = Api::new().await;
    api.create_user("rob", "robs-password-12", &[("*", "viewer")])
        .await;
    let first = api.login_ok("rob", "robs-password-12").await;
    let refresh = async |token: &Value| {
        api.call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": token})),
        )
        .await
    };
    let second = refresh(&first["refresh_token"]).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        claims(first["access_token"].as_str().unwrap())["sid"],
        claims(second.body["access_token"].as_str().unwrap())["sid"],
        "the same session, a new refresh token"
    );
    assert_ne!(first["refresh_token"], second.body["refresh_token"]);
    let before = api.events().await;
    // The old refresh token again: someone kept a copy.
    let reused = refresh(&first["refresh_token"]).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert!(reused.text.contains("used before"), "{}", reused.text);
    // Both holders are out: the new refresh token and the session's access tokens.
    assert_eq!(
        refresh(&second.body["refresh_token"]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let access = second.body["access_token"].as_str().unwrap();
    let r = api.get_as(access, "/v1/auth/whoami").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("refresh token reused"), "{}", r.text);
    assert_eq!(api.events().await, before + 1, "the reuse is audited");
    let last = api.get("/v1/audit?after=0&limit=1000").await;
    let event = last.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(event["action"], "session.reuse_detected");
    assert_eq!(event["actor"], "promptops-security");
    // Another login is a new session and works.
    let again = api.login_ok("rob", "robs-password-12").await;
    assert_eq!(
        api.get_as(again["access_token"].as_str().unwrap(), "/v1/auth/whoami")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_or_an_admin_can_end_sessions() {
    let api = Api::new().await;
    api.create_user("sue", "sues-password-12", &[("*", "viewer")])
        .await;
    let laptop = api.login_ok("sue", "sues-password-12").await;
    let phone = api.login_ok("sue", "sues-password-12").await;
    let token = |s: &Value| s["access_token"].as_str().unwrap().to_owned();
    let works = async |t: &str| api.get_as(t, "/v1/auth/whoami").await.status == StatusCode::OK;

    // Logging out ends this session only.
    let r = api
        .call(Method::POST, "/v1/auth/logout", Some(&token(&laptop)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 1);
    assert!(!works(&token(&laptop)).await);
    assert!(works(&token(&phone)).await);
    // An admin ends all of them (audited).
    let before = api.events().await;
    let r = api.post("/v1/users/sue/sessions/end", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sessions_ended"], 1);
    assert!(!works(&token(&phone)).await);
    assert_eq!(api.events().await, before + 1);
    // And the user, everywhere at once.
    let a = api.login_ok("sue", "sues-password-12").await;
    let b = api.login_ok("sue", "sues-password-12").await;
    let r = api
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&token(&a)),
            Some(&json!({"all": true})),
        )
        .await;
    assert_eq!(r.body["sessions_ended"], 2, "{}", r.text);
    assert!(!works(&token(&b)).await);
}

#[tokio::test]
async fn enabling_a_user_again_does_not_revive_their_sessions_or_keys() {
    let api = Api::new().await;
    api.create_project("acme").await;
    api.create_user("max", "maxs-password-12", &[("acme", "editor")])
        .await;
    let session = api.login_ok("max", "maxs-password-12").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (key, _) = api.create_key(&token, "ci", "acme", "editor").await;
    let r = api.post("/v1/users/max/disable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.post("/v1/users/max/enable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.get_as(&token, "/v1/auth/whoami").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = api.get_as(&key, "/v1/auth/whoami").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(r.text.contains("user disabled"), "{}", r.text);
    let refresh = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": session["refresh_token"]})),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    // The password still works: a new session, new keys.
    let fresh = api.login_ok("max", "maxs-password-12").await;
    assert_eq!(
        api.get_as(fresh["access_token"].as_str().unwrap(), "/v1/auth/whoami")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn names_that_cannot_be_told_apart_or_used_are_refused() {
    let api = Api::new().await;
    for bad in [".", "..", "...", &"p".repeat(65)] {
        let r = api.post("/v1/projects", json!({"name": bad})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
        assert!(r.text.len() < 1_000, "a long name is not echoed whole");
    }
    let user = |name: &str| json!({"name": name, "password": "a-long-password-1"});
    let r = api.post("/v1/users", user("promptops-bootstrap")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("reserved"));
    let r = api.post("/v1/users", user("Admin")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("differing only by case"), "{}", r.text);
    let r = api.post("/v1/users", user(&"u".repeat(65))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Prompt ids have a documented length too.
    let long_id = format!("m.{}", "a".repeat(127));
    let r = api
        .post(
            &format!("/v1/projects/acme/prompts/{long_id}/versions"),
            json!({"source": prompt("1.0.0", "")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("at most 128"), "{}", r.text);
}

#[tokio::test]
async fn bad_utf8_in_a_path_is_a_problem_too() {
    let api = Api::new().await;
    let r = api.get("/v1/projects/%FF%FE/prompts").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
}

/// Sends the same NUL-bearing requests to `api`: each is refused as bad input.
async fn nul_characters_are_refused(api: &Api) {
    let r = api
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(&json!({"user": "adm\u{0}in", "password": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    assert!(r.text.contains("NUL"), "{}", r.text);
    let r = api.post("/v1/projects", json!({"name": "a\u{0}b"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = api.get("/v1/projects/acme%00/prompts").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = api.get("/v1/keys?all=%00").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    for r in [&r] {
        for leak in ["postgres", "sqlx", "syntax", "database \"", "test"] {
            assert!(!r.text.contains(leak), "{leak} in {}", r.text);
        }
    }
}

#[tokio::test]
async fn nul_characters_are_refused_on_sqlite() {
    nul_characters_are_refused(&Api::new().await).await;
}

#[tokio::test]
async fn nul_characters_are_refused_on_postgres_without_a_database_error() {
    let Some((api, _schema)) = common::postgres_api("nul_characters").await else {
        return;
    };
    nul_characters_are_refused(&api).await;
}

#[cfg(unix)]
mod files {
    use promptops_server::bootstrap::{self, SecretOrigin, SecretSources};
    use promptops_store::SqlStore;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    /// Every byte SQLite keeps for the registry: the database, its WAL and shared memory.
    fn stored_bytes(db: &Path) -> Vec<u8> {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| std::fs::read(format!("{}{suffix}", db.display())).ok())
            .flatten()
            .collect()
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[tokio::test]
    async fn the_database_and_the_signing_key_are_owner_only_and_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join(".promptops/registry.db");
        let store = SqlStore::sqlite(&db).await.unwrap();
        assert_eq!(mode(db.parent().unwrap()), 0o700);
        for file in ["registry.db", "registry.db-wal", "registry.db-shm"] {
            assert_eq!(mode(&db.parent().unwrap().join(file)), 0o600, "{file}");
        }
        let sources = SecretSources {
            file: db.parent().unwrap().join("jwt-secret"),
            ..SecretSources::default()
        };
        let (auth, origin) = bootstrap::auth_config(&store, &sources).await.unwrap();
        assert_eq!(origin, SecretOrigin::NewFile(sources.file.clone()));
        assert_eq!(mode(&sources.file), 0o600);
        let secret = String::from_utf8(auth.jwt_secret.clone()).unwrap();
        assert!(secret.len() >= 32);
        assert!(
            !contains(&stored_bytes(&db), &secret),
            "the secret is not in the database"
        );
        // Next start: the same secret, from the file.
        let (again, origin) = bootstrap::auth_config(&store, &sources).await.unwrap();
        assert_eq!(origin, SecretOrigin::File(sources.file.clone()));
        assert_eq!(again.jwt_secret, auth.jwt_secret);
        // A loose file is tightened.
        std::fs::set_permissions(&sources.file, std::fs::Permissions::from_mode(0o644)).unwrap();
        bootstrap::auth_config(&store, &sources).await.unwrap();
        assert_eq!(mode(&sources.file), 0o600);
        // The environment wins; a weak one is refused; a rotated-out secret still verifies.
        let env = SecretSources {
            env: Some("e".repeat(40)),
            previous_env: Some(secret.clone()),
            ..sources.clone()
        };
        let (from_env, origin) = bootstrap::auth_config(&store, &env).await.unwrap();
        assert_eq!(origin, SecretOrigin::Environment);
        assert_eq!(from_env.jwt_secret, "e".repeat(40).into_bytes());
        assert_eq!(from_env.previous_jwt_secret, Some(auth.jwt_secret.clone()));
        let weak = SecretSources {
            env: Some("short".into()),
            ..sources.clone()
        };
        assert!(bootstrap::auth_config(&store, &weak).await.is_err());
    }

    #[tokio::test]
    async fn a_secret_an_older_version_kept_in_the_database_moves_to_the_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("registry.db");
        let store = SqlStore::sqlite(&db).await.unwrap();
        let legacy = "legacy-secret-that-older-versions-kept-0123456789";
        {
            use sqlx::Connection;
            let url = format!("sqlite://{}", db.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("INSERT INTO server_settings (name, value) VALUES ('jwt_secret', ?)")
                .bind(legacy)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        assert!(contains(&stored_bytes(&db), legacy));
        let sources = SecretSources {
            file: tmp.path().join("jwt-secret"),
            ..SecretSources::default()
        };
        let (auth, origin) = bootstrap::auth_config(&store, &sources).await.unwrap();
        assert_eq!(origin, SecretOrigin::NewFile(sources.file.clone()));
        // Sessions signed before the upgrade keep working: the secret is the same.
        assert_eq!(auth.jwt_secret, legacy.as_bytes());
        assert_eq!(
            std::fs::read_to_string(&sources.file).unwrap().trim(),
            legacy
        );
        assert!(
            !contains(&stored_bytes(&db), legacy),
            "no copy is left in the database, its WAL or its free pages"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_even_where_serde_would_read_it() {
    let api = Api::new().await;
    api.create_project("acme").await;
    let before = api.events().await;
    // serde reads a struct from an array: `[null]` would be `{"role": null}`.
    let r = api
        .call(
            Method::PUT,
            "/v1/projects/acme/members/admin",
            Some(&api.admin.clone()),
            Some(&json!([null])),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("JSON object"));
    assert_eq!(api.events().await, before);
}
