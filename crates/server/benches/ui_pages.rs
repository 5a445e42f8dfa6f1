//! How long each web UI page takes to render on the server, on a registry of 1,000
//! prompts × 20 versions and 100,000 audit events (the bound: 50 ms each).
//!
//! `cargo bench -p promptops-server --bench ui_pages` (or `bench/ui.sh`). The registry is
//! seeded once through the API's own handlers (validation, hashing, the audit chain) into
//! `target/ui-bench/registry.db` and reused by later runs. Each page is then asked for
//! `ROUNDS` times by a signed-in admin; the server time is the page's own
//! `Server-Timing: app;dur=…` (authentication, reads, rendering), and the wall time is
//! the whole in-process request.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use promptops_server::{AuthConfig, Settings};
use promptops_store::{AuditLog, DeliveryReads, SqlStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

const PROMPTS: usize = 1_000;
const VERSIONS: usize = 20;
const AUDIT_EVENTS: u64 = 100_000;
const ROUNDS: usize = 30;
const BOUND_MS: f64 = 50.0;
const PASSWORD: &str = "bench-admin-password";
const SECRET: &[u8] = b"ui bench signing secret, 32 bytes or more";

type App = promptops_server::App<SqlStore>;

fn prompt_source(i: usize, v: usize) -> String {
    format!(
        "id: mod{m}.prompt{i:04}\nversion: 1.0.{v}\nowner: team-{o}\ndescription: Prompt {i} answers questions about topic {i}.\n\
         model: openai:gpt-4o-mini\ntemplate: |\n  You answer about topic {i} (revision {v}).\n  Question: {{{{ question }}}}\n\
         variables:\n  question:\n    type: string\n    required: true\ntags: [t{t}, bench]\ncompliance:\n  risk_tier: low\n",
        m = i % 10,
        o = i % 7,
        t = i % 5,
    )
}

async fn call(app: &App, method: Method, uri: &str, cookie: &str) -> axum::response::Response {
    let mut req = Request::builder().method(method).uri(uri);
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    let req = req.body(Body::empty()).expect("a request");
    app.clone().oneshot(req).await.expect("an answer")
}

async fn api(
    app: &App,
    token: &str,
    method: Method,
    uri: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("a request");
    let r = app.clone().oneshot(req).await.expect("an answer");
    let status = r.status();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    assert!(
        status.is_success(),
        "{uri}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

async fn token(app: &App) -> String {
    let v = api(
        app,
        "",
        Method::POST,
        "/v1/auth/login",
        serde_json::json!({"user": "admin", "password": PASSWORD}),
    )
    .await;
    v["access_token"].as_str().unwrap_or_default().to_owned()
}

/// Publishes every version and moves labels until the audit log holds `AUDIT_EVENTS`.
async fn seed(app: &App, store: &SqlStore) {
    let mut token = token(app).await;
    let started = Instant::now();
    for i in 0..PROMPTS {
        if i.is_multiple_of(200) {
            token = self::token(app).await; // access tokens live 15 minutes
            eprintln!(
                "  publishing prompt {i}/{PROMPTS} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        for v in 0..VERSIONS {
            let id = format!("mod{}.prompt{i:04}", i % 10);
            api(
                app,
                &token,
                Method::POST,
                &format!("/v1/projects/bench/prompts/{id}/versions"),
                serde_json::json!({"source": prompt_source(i, v)}),
            )
            .await;
        }
    }
    let envs = ["dev", "staging", "prod"];
    let mut n: u64 = 0;
    loop {
        let head = store.audit_head().await.ok().flatten().map_or(0, |h| h.seq);
        if head >= AUDIT_EVENTS {
            break;
        }
        if n.is_multiple_of(5_000) {
            token = self::token(app).await;
            eprintln!(
                "  audit log at {head}/{AUDIT_EVENTS} events ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        let i = (n as usize) % PROMPTS;
        let round = (n as usize) / PROMPTS;
        let id = format!("mod{}.prompt{i:04}", i % 10);
        let env = envs[round % envs.len()];
        let version = format!("1.0.{}", (round * 7 + i) % VERSIONS);
        let body = serde_json::json!({"environment": env, "version": version, "reason": "bench"});
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/projects/bench/prompts/{id}/promote"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a request");
        // 409 when the label is already there: skipped, the next one moves.
        let _ = app.clone().oneshot(req).await;
        n += 1;
    }
    eprintln!("  seeded in {:.0} s", started.elapsed().as_secs_f64());
}

async fn sign_in(app: &App) -> String {
    let form = call(app, Method::GET, "/login", "").await;
    let pre = form
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let csrf = pre.split('=').nth(1).unwrap_or_default().to_owned();
    let body = format!("user=admin&password={PASSWORD}&csrf={csrf}");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(header::COOKIE, &pre)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a request");
    let r = app.clone().oneshot(req).await.expect("an answer");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in failed");
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("promptops_session="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned()
}

fn server_ms(r: &axum::response::Response) -> f64 {
    r.headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("app;dur="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn db_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ui-bench")
}

/// An API call as `token`; the answer's status and the wall time in ms.
async fn timed_call(
    app: &App,
    method: Method,
    uri: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, f64) {
    let started = Instant::now();
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a request");
    let r = app.clone().oneshot(req).await.expect("an answer");
    let status = r.status();
    let _ = axum::body::to_bytes(r.into_body(), usize::MAX).await;
    (status, started.elapsed().as_secs_f64() * 1000.0)
}

/// Signing a checkpoint after each new event (the whole log's Merkle tree rebuilt from
/// the store, the chain verified since the last checkpoint) and building a version's
/// evidence pack (with a checkpoint signed for it), against re-verifying the whole chain.
async fn checkpoints_and_evidence(app: &App, token: &str, id: &str) {
    let (status, full) = timed_call(app, Method::GET, "/v1/audit/verify", token, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut sign = Vec::with_capacity(ROUNDS);
    let mut pack = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let version = format!("1.0.{}", round % VERSIONS);
        let promote = serde_json::json!({"environment": "dev", "version": version});
        let _ = timed_call(
            app,
            Method::POST,
            &format!("/v1/projects/bench/prompts/{id}/promote"),
            token,
            Some(promote),
        )
        .await;
        let (status, ms) =
            timed_call(app, Method::POST, "/v1/audit/checkpoints", token, None).await;
        assert_eq!(status, StatusCode::OK, "sign a checkpoint");
        sign.push(ms);
        let _ = timed_call(
            app,
            Method::POST,
            &format!("/v1/projects/bench/prompts/{id}/promote"),
            token,
            Some(serde_json::json!({"environment": "dev", "version": "1.0.0"})),
        )
        .await;
        let (status, ms) = timed_call(
            app,
            Method::GET,
            &format!("/v1/projects/bench/prompts/{id}/versions/1.0.19/evidence"),
            token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "an evidence pack");
        pack.push(ms);
    }
    sign.sort_by(f64::total_cmp);
    pack.sort_by(f64::total_cmp);
    println!("whole chain re-verified once (GET /v1/audit/verify): {full:.0} ms");
    println!(
        "sign a checkpoint after a new event: p50 {:.0} ms, p95 {:.0} ms ({:.2}× the full verification)",
        quantile(&sign, 0.5),
        quantile(&sign, 0.95),
        quantile(&sign, 0.5) / full
    );
    println!(
        "evidence pack of {id}@1.0.19 (signs too): p50 {:.0} ms, p95 {:.0} ms",
        quantile(&pack, 0.5),
        quantile(&pack, 0.95)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let dir = db_path();
        std::fs::create_dir_all(&dir).expect("the bench folder");
        let db = dir.join("registry.db");
        let done = dir.join("seeded");
        if !done.exists() {
            let _ = std::fs::remove_file(&db);
        }
        let store = SqlStore::sqlite(&db).await.expect("the store");
        let _ = promptops_server::bootstrap::first_admin(&store, Some(PASSWORD.to_owned())).await;
        let app = promptops_server::app_with(Arc::new(store.clone()), AuthConfig::new(SECRET), Settings::default());
        if !done.exists() {
            eprintln!("seeding {PROMPTS} prompts × {VERSIONS} versions and {AUDIT_EVENTS} audit events into {} (once)", db.display());
            seed(&app, &store).await;
            std::fs::write(&done, "").expect("the seeded marker");
        }
        let head = store.audit_head().await.ok().flatten().map_or(0, |h| h.seq);
        let prompts = store.prompts("bench").await.map_or(0, |p| p.len());
        println!("registry: {prompts} prompts × {VERSIONS} versions, {head} audit events (SQLite, {})", db.display());
        let cookie = sign_in(&app).await;
        // The audit log's first visit verifies the whole chain unless the background
        // check at start finished first: wait for it, as a running server would have.
        let r = call(&app, Method::GET, "/audit", &cookie).await;
        println!("first /audit visit (may verify the whole chain): {:.1} ms server", server_ms(&r));
        let id = "mod2.prompt0042";
        let pages = [
            "/".to_owned(),
            "/p/bench".to_owned(),
            "/p/bench?q=prompt09&tag=t1".to_owned(),
            format!("/p/bench/prompts/{id}"),
            format!("/p/bench/prompts/{id}/v/1.0.19"),
            format!("/p/bench/prompts/{id}/diff?from=1.0.0&to=1.0.19"),
            format!("/p/bench/prompts/{id}/edit"),
            "/p/bench/requests".to_owned(),
            "/p/bench/dashboard".to_owned(),
            "/audit".to_owned(),
            "/audit?actor=admin&action=label.".to_owned(),
            format!("/audit?target=label:bench/{id}/"),
            "/keys".to_owned(),
        ];
        println!("{:<52} {:>9} {:>9} {:>9} {:>10}  ≤ {BOUND_MS} ms", "page", "p50 ms", "p95 ms", "max ms", "wall p50");
        let mut worst: f64 = 0.0;
        for page in &pages {
            let mut server = Vec::with_capacity(ROUNDS);
            let mut wall = Vec::with_capacity(ROUNDS);
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let r = call(&app, Method::GET, page, &cookie).await;
                let status = r.status();
                let ms = server_ms(&r);
                let _ = axum::body::to_bytes(r.into_body(), usize::MAX).await;
                wall.push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(status, StatusCode::OK, "{page}");
                server.push(ms);
            }
            server.sort_by(f64::total_cmp);
            wall.sort_by(f64::total_cmp);
            let p95 = quantile(&server, 0.95);
            worst = worst.max(p95);
            println!(
                "{:<52} {:>9.2} {:>9.2} {:>9.2} {:>10.2}  {}",
                page,
                quantile(&server, 0.5),
                p95,
                server[server.len() - 1],
                quantile(&wall, 0.5),
                if p95 <= BOUND_MS { "yes" } else { "NO" }
            );
        }
        // The catalogue and the projects page are kept while the audit head stands: ask
        // for them again right after a change (a label move), which every time misses.
        let token = token(&app).await;
        for page in ["/p/bench", "/"] {
            let mut cold = Vec::with_capacity(ROUNDS);
            for round in 0..ROUNDS {
                let version = format!("1.0.{}", round % VERSIONS);
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(format!("/v1/projects/bench/prompts/{id}/promote"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(serde_json::json!({"environment": "dev", "version": version}).to_string()))
                    .expect("a request");
                let _ = app.clone().oneshot(req).await;
                let r = call(&app, Method::GET, page, &cookie).await;
                assert_eq!(r.status(), StatusCode::OK, "{page}");
                cold.push(server_ms(&r));
            }
            cold.sort_by(f64::total_cmp);
            let p95 = quantile(&cold, 0.95);
            worst = worst.max(p95);
            println!(
                "{:<52} {:>9.2} {:>9.2} {:>9.2} {:>10}  {}",
                format!("{page} right after a change"),
                quantile(&cold, 0.5),
                p95,
                cold[cold.len() - 1],
                "",
                if p95 <= BOUND_MS { "yes" } else { "NO" }
            );
        }
        println!("slowest page p95: {worst:.2} ms server time (bound {BOUND_MS} ms): {}", if worst <= BOUND_MS { "within" } else { "OVER" });
        checkpoints_and_evidence(&app, &token, id).await;
    });
}
