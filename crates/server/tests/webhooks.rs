//! Outbound webhooks against a receiver the test starts on 127.0.0.1: lifecycle events
//! delivered with a signature checked here by an HMAC written independently of the
//! server's, `Promptops-Event`/`Promptops-Delivery` headers, the event filter, a retry
//! after a 500, a delivery that runs out of attempts, the delivery log, test
//! deliveries, a pending delivery taken up again by a restarted server, and the secret
//! shown once — never in a list, never in clear in the database. On SQLite and on
//! PostgreSQL. Then the refusals (URLs, events, roles).

mod common;

use axum::http::{Method, StatusCode};
use common::hooks::{Received, Receiver, assert_signed};
use common::{Api, JWT_SECRET};
use promptops_server::{AuthConfig, Settings};
use promptops_store::SqlStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn body(r: &Received) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers[name].to_str().unwrap()
}

// ----- the registry ----------------------------------------------------------------

fn settings() -> Settings {
    Settings {
        webhook_allow_private: true,
        webhook_retry_ms: vec![50, 50],
        webhook_timeout_ms: 2_000,
        feed_poll_ms: 20,
        ..Settings::default()
    }
}

/// Where a test's registry lives, so it can be opened again (a restart).
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    async fn open(&self) -> SqlStore {
        match self {
            Db::Sqlite(path) => SqlStore::sqlite(path).await.unwrap(),
            Db::Postgres(schema) => SqlStore::postgres_in(&common::pg_url(), Some(schema), 4)
                .await
                .unwrap(),
        }
    }

    /// Every stored text of the webhook tables, as one string.
    async fn webhook_rows(&self) -> String {
        sqlx::any::install_default_drivers();
        let (url, prefix) = match self {
            Db::Sqlite(path) => (format!("sqlite://{}", path.display()), String::new()),
            Db::Postgres(schema) => (common::pg_url(), format!("\"{schema}\".")),
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let mut all = String::new();
        for (table, cols) in [
            ("webhooks", "id, url, events, secret_sealed"),
            ("webhook_deliveries", "id, body"),
        ] {
            let sql = format!("SELECT {cols} FROM {prefix}{table}");
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                use sqlx::Row;
                for i in 0..row.len() {
                    all.push_str(&row.try_get::<String, _>(i).unwrap());
                    all.push('\n');
                }
            }
        }
        pool.close().await;
        all
    }
}

fn source(version: &str, template: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: team\ndescription: Greets.\nmodel: openai:gpt-4o-mini\n\
         template: \"{template}\"\nvariables:\n  name: string\n"
    )
}

const HOOKS: &str = "/v1/projects/acme/webhooks";
const VERSIONS: &str = "/v1/projects/acme/prompts/support.greet/versions";

async fn publish(api: &Api, v: &str) {
    let r = api
        .post(
            VERSIONS,
            json!({"source": source(v, &format!("V{v} {{{{ name }}}}"))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// Subscribes `url` to `events`: `(id, secret)`.
async fn subscribe(api: &Api, url: &str, events: &[&str]) -> (String, String) {
    let r = api.post(HOOKS, json!({"url": url, "events": events})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );
    (r.body["webhook"]["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(api: &Api, id: &str) -> Vec<Value> {
    let r = api.get(&format!("{HOOKS}/{id}/deliveries")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body.as_array().unwrap().clone()
}

/// Waits until the delivery log of `id` satisfies `done`.
async fn log_until(api: &Api, id: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..500 {
        let log = deliveries(api, id).await;
        if done(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "timed out waiting for {what}: {:#}",
        json!(deliveries(api, id).await)
    );
}

// ----- scenarios, on both backends ---------------------------------------------------

async fn lifecycle_events_arrive_signed_and_filtered(api: Api, db: Db) {
    api.create_project("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (id, secret) = subscribe(&api, &url, &["version.published", "label.moved"]).await;
    // Another project's changes never reach acme's subscription.
    api.create_project("other").await;

    publish(&api, "1.0.0").await;
    publish(&api, "1.1.0").await;
    let promote = "/v1/projects/acme/prompts/support.greet/promote";
    for v in ["1.0.0", "1.1.0"] {
        let r = api
            .post(promote, json!({"environment": "prod", "version": v}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // Not subscribed: rolled_back.
    let r = api
        .post(
            "/v1/projects/acme/prompts/support.greet/rollback",
            json!({"environment": "prod"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let got = receiver.wait_for("4 events", |g| g.len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got_all = receiver.got();
    assert_eq!(
        got_all.len(),
        4,
        "the rollback is not subscribed: {got_all:#?}"
    );
    let types: Vec<String> = got
        .iter()
        .map(|r| body(r)["type"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "label.moved",
            "label.moved",
            "version.published",
            "version.published"
        ]
    );
    let log = deliveries(&api, &id).await;
    assert_eq!(log.len(), 4);
    // The attempts are counted on /metrics.
    let metrics = api
        .send_raw(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        metrics
            .text
            .contains("promptops_webhook_attempts_total{outcome=\"delivered\"} 4"),
        "{}",
        metrics.text
    );
    for r in &got {
        assert_signed(r, &secret);
        let b = body(r);
        assert_eq!(header(r, "promptops-event"), b["type"]);
        assert_eq!(header(r, "content-type"), "application/json");
        assert!(b["id"].as_str().unwrap().starts_with("evt_"), "{b}");
        assert_eq!(b["project"], "acme");
        assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(b["data"]["prompt"], "support.greet");
        assert_eq!(b["data"]["actor"], "admin");
        // The header names the delivery the log lists, and the log has the body sent.
        let logged = log
            .iter()
            .find(|d| d["id"] == header(r, "promptops-delivery"))
            .unwrap_or_else(|| panic!("no logged delivery for {r:?}"));
        assert_eq!(logged["event_id"], b["id"]);
        assert_eq!(logged["status"], "delivered");
        assert_eq!(logged["body"], b);
        assert_eq!(logged["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(logged["attempts"][0]["status_code"], 200);
    }
    let moved: Vec<Value> = got
        .iter()
        .map(body)
        .filter(|b| b["type"] == "label.moved")
        .collect();
    assert!(moved.iter().any(|b| b["data"]["to"] == "1.1.0"
        && b["data"]["from"] == "1.0.0"
        && b["data"]["environment"] == "prod"));
    // Delivery and event ids are unique.
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|r| header(r, "promptops-delivery"))
        .collect();
    assert_eq!(ids.len(), 4);
    let events: std::collections::BTreeSet<String> = got
        .iter()
        .map(|r| body(r)["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events.len(), 4);

    // The secret was in the creation's answer only: not in the list, not in the
    // database in clear.
    let list = api.get(HOOKS).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["url"], url);
    assert_eq!(
        list.body[0]["events"],
        json!(["label.moved", "version.published"])
    );
    assert!(
        !list.text.contains(&secret) && !list.text.contains("whsec_"),
        "{}",
        list.text
    );
    let one = api.get(&format!("{HOOKS}/{id}/deliveries")).await;
    assert!(!one.text.contains(&secret));
    let rows = db.webhook_rows().await;
    assert!(rows.contains("v1:"), "the sealed secret is stored");
    assert!(
        !rows.contains(&secret) && !rows.contains(&secret[6..]),
        "secret in clear in the database"
    );
    if let Db::Sqlite(path) = &db {
        // Nor anywhere in the files (the database and its write-ahead log).
        for suffix in ["", "-wal"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            if let Ok(bytes) = std::fs::read(&p) {
                let hay = String::from_utf8_lossy(&bytes);
                assert!(!hay.contains(&secret[6..]), "secret in clear in {p:?}");
            }
        }
    }

    // Creating and deleting a subscription are audited; deleting it stops deliveries.
    let audit = api.get("/v1/audit?limit=1000").await;
    assert!(audit.text.contains("webhook.created"), "{}", audit.text);
    assert!(!audit.text.contains(&secret));
    let r = api
        .call(
            Method::DELETE,
            &format!("{HOOKS}/{id}"),
            Some(&api.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let gone = api.get(&format!("{HOOKS}/{id}/deliveries")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    publish(&api, "1.2.0").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.got().len(),
        4,
        "a deleted subscription got an event"
    );
    assert!(
        api.get("/v1/audit?limit=1000")
            .await
            .text
            .contains("webhook.deleted")
    );
}

async fn a_500_is_retried_and_attempts_run_out(api: Api, _db: Db) {
    api.create_project("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (id, secret) = subscribe(&api, &url, &[]).await;

    // A test delivery: 500 first, then 200 on the retry.
    receiver.answer(&[500], None);
    let r = api.post(&format!("{HOOKS}/{id}/test"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["test"], true);
    assert_eq!(r.body["event_type"], "webhook.test");
    let delivery = r.body["id"].as_str().unwrap().to_owned();
    let got = receiver.wait_for("two attempts", |g| g.len() >= 2).await;
    for r in &got {
        assert_signed(r, &secret);
        assert_eq!(
            header(r, "promptops-delivery"),
            delivery,
            "same delivery id on a retry"
        );
        assert_eq!(header(r, "promptops-event"), "webhook.test");
        assert_eq!(r.body, got[0].body, "same body on a retry");
    }
    assert_eq!(body(&got[0])["data"]["webhook"], id);
    let log = log_until(&api, &id, "delivered", |l| l[0]["status"] == "delivered").await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log:#?}");
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("500"),
        "{attempts:?}"
    );
    assert_eq!(attempts[1]["status_code"], 200);
    assert_eq!(attempts[1]["error"], Value::Null);
    assert!(log[0]["delivered_at"].is_string());
    assert_eq!(log[0]["next_attempt_at"], Value::Null);

    // Always 500: one try and two retries (the schedule has two waits), then failed.
    receiver.answer(&[], Some(500));
    let before = receiver.got().len();
    let r = api.post(&format!("{HOOKS}/{id}/test"), json!({})).await;
    let failing = r.body["id"].as_str().unwrap().to_owned();
    let log = log_until(&api, &id, "failed", |l| {
        l.iter()
            .any(|d| d["id"] == failing && d["status"] == "failed")
    })
    .await;
    let d = log.iter().find(|d| d["id"] == failing).unwrap();
    assert_eq!(d["attempts"].as_array().unwrap().len(), 3, "{d:#}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.got().len(),
        before + 3,
        "nothing after the last attempt"
    );

    // A receiver that does not answer in time, or is not there, is a failed attempt too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (dead, _) = subscribe(&api, &format!("http://{closed}/nobody"), &[]).await;
    api.post(&format!("{HOOKS}/{dead}/test"), json!({})).await;
    let log = log_until(&api, &dead, "failed", |l| l[0]["status"] == "failed").await;
    let first = &log[0]["attempts"][0];
    assert_eq!(first["status_code"], Value::Null);
    assert!(
        first["error"].as_str().unwrap().contains("connect"),
        "{first}"
    );
}

async fn a_pending_delivery_survives_a_restart(api: Api, db: Db) {
    api.create_project("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (id, secret) = subscribe(&api, &url, &["version.published"]).await;
    receiver.answer(&[], Some(503));
    publish(&api, "1.0.0").await;
    receiver
        .wait_for("the first attempt", |g| !g.is_empty())
        .await;
    log_until(&api, &id, "attempt 1 recorded", |l| {
        l.first()
            .is_some_and(|d| d["attempts"].as_array().unwrap().len() == 1)
    })
    .await;
    // The server stops before the retry is due (its wait is long enough to see that).
    let Api {
        app, admin, dir, ..
    } = api;
    drop(app);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), 1, "a stopped server kept delivering");

    // While no server runs, another change is committed.
    receiver.answer(&[], None);
    let store = db.open().await;
    {
        use promptops_core::canonical::{canonical_json, content_hash};
        use promptops_core::validate::{Rules, check_source};
        use promptops_store::RegistryWrites;
        let text = source("1.1.0", "Later {{ name }}");
        let report = check_source("p.yaml", None, text.as_bytes(), &Rules::default());
        let prompt = report.valid_prompt().unwrap();
        let new = promptops_store::NewVersion {
            prompt_id: prompt.id.clone(),
            version: prompt.version.clone(),
            content_hash: content_hash(prompt).to_string(),
            content: canonical_json(prompt),
            source: text.clone(),
            parent: prompt.parent.clone(),
            changelog: None,
        };
        store
            .publish("acme", &new, &promptops_store::Actor::new("admin"))
            .await
            .unwrap();
    }
    // A new server over the same database takes up the pending retry and the new event.
    let app = tower::util::BoxCloneSyncService::new(promptops_server::app_with(
        Arc::new(store),
        AuthConfig::new(JWT_SECRET),
        Settings {
            webhook_retry_ms: vec![50, 50],
            ..settings()
        },
    ));
    let api = Api {
        app,
        admin,
        dir,
        otlp: None,
    };
    let log = log_until(&api, &id, "both delivered", |l| {
        l.len() == 2 && l.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    let versions: Vec<&Value> = log.iter().map(|d| &d["body"]["data"]["version"]).collect();
    assert!(versions.contains(&&json!("1.0.0")) && versions.contains(&&json!("1.1.0")));
    let retried = log
        .iter()
        .find(|d| d["body"]["data"]["version"] == "1.0.0")
        .unwrap();
    assert_eq!(retried["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(retried["attempts"][0]["status_code"], 503);
    for r in receiver.got() {
        assert_signed(&r, &secret);
    }
}

macro_rules! on_both_backends {
    ($($scenario:ident: $retry:expr),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("registry.db");
                    let store = promptops_store::SqlStore::sqlite(&path).await.unwrap();
                    let options = promptops_server::Settings { webhook_retry_ms: $retry, ..super::settings() };
                    let api = crate::common::Api::over(store, dir, options).await;
                    super::$scenario(api, super::Db::Sqlite(path)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let schema = format!("hooks_{}_{}", std::process::id(), stringify!($scenario).chars().take(24).collect::<String>());
                    let guard = crate::common::PgSchema(schema.clone());
                    let store = match promptops_store::SqlStore::postgres_in(&crate::common::pg_url(), Some(&schema), 4).await {
                        Ok(s) => s,
                        Err(e) if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none() => {
                            eprintln!("skipped {}: PostgreSQL not reachable ({e})", stringify!($scenario));
                            return;
                        }
                        Err(e) => panic!("PostgreSQL required: {e}"),
                    };
                    let options = promptops_server::Settings { webhook_retry_ms: $retry, ..super::settings() };
                    let api = crate::common::Api::over(store, tempfile::tempdir().unwrap(), options).await;
                    super::$scenario(api, super::Db::Postgres(schema)).await;
                    drop(guard);
                }
            )*
        }
    };
}

on_both_backends!(
    lifecycle_events_arrive_signed_and_filtered: vec![50, 50],
    a_500_is_retried_and_attempts_run_out: vec![50, 50],
    a_pending_delivery_survives_a_restart: vec![400],
);

// ----- refusals (the same on every backend) -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_unknown_events_and_roles_below_admin_are_refused() {
    // Default settings: private addresses are refused.
    let api = Api::new().await;
    api.create_project("acme").await;
    for (url, says) in [
        ("ftp://example.com/hook", "`ftp:` URLs are refused"),
        ("file:///etc/passwd", "`file:` URLs are refused"),
        ("not a url", "is not a URL"),
        ("http://127.0.0.1:9/hook", "webhook_allow_private"),
        ("http://169.254.169.254/latest", "non-public"),
        ("http://[::1]/hook", "non-public"),
        ("http://localhost:8080/hook", "non-public"),
    ] {
        let r = api.post(HOOKS, json!({"url": url})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.text
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{url}: {}",
            r.text
        );
    }
    let r = api
        .post(
            HOOKS,
            json!({"url": "https://hooks.example.com/x", "events": ["label.exploded"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("label.exploded") && r.text.contains("alert.fired"),
        "{}",
        r.text
    );
    let r = api
        .post(
            HOOKS,
            json!({"url": "https://hooks.example.com/x", "secret": "mine"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the secret is the server's to make: {}",
        r.text
    );
    // A public URL and the alert event type are accepted (nothing is sent yet).
    let r = api
        .post(
            HOOKS,
            json!({"url": "https://hooks.example.com/x", "events": ["alert.fired", "*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["webhook"]["events"], json!(["*"]));
    let r = api
        .post(
            "/v1/projects/nope/webhooks",
            json!({"url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // Only an admin of the project manages its webhooks.
    api.create_user("ed", "editor-password-1234", &[("acme", "editor")])
        .await;
    api.create_user("ad", "admin-password-12345", &[("acme", "admin")])
        .await;
    let ed = api.login_ok("ed", "editor-password-1234").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ad = api.login_ok("ad", "admin-password-12345").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"url": "https://hooks.example.com/y"});
    assert_eq!(
        api.post_as(&ed, HOOKS, body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.get_as(&ed, HOOKS).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.post_as(&ad, HOOKS, body).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.get_as(&ad, HOOKS).await.body.as_array().unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_outlive_a_rotation_of_the_signing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let db = Db::Sqlite(path.clone());
    let api = Api::over(SqlStore::sqlite(&path).await.unwrap(), dir, settings()).await;
    api.create_project("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (id, secret) = subscribe(&api, &url, &[]).await;
    let sealed_before = db.webhook_rows().await;
    let Api { app, dir, .. } = api;
    drop(app);

    // Rotation: a new signing secret, the old one kept as the previous.
    const NEW: &[u8] = b"a brand new signing secret, 32+ bytes long";
    let rotating = promptops_server::app_with(
        Arc::new(SqlStore::sqlite(&path).await.unwrap()),
        AuthConfig {
            jwt_secret: NEW.to_vec(),
            previous_jwt_secret: Some(JWT_SECRET.to_vec()),
            checkpoint_seed: None,
        },
        settings(),
    );
    let mut resealed = false;
    for _ in 0..250 {
        if db.webhook_rows().await != sealed_before {
            resealed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        resealed,
        "the secret was not sealed again under the new signing secret"
    );
    drop(rotating);

    // The previous secret is gone: the webhook still signs with the secret shown once.
    let app = tower::util::BoxCloneSyncService::new(promptops_server::app_with(
        Arc::new(SqlStore::sqlite(&path).await.unwrap()),
        AuthConfig::new(NEW),
        settings(),
    ));
    let mut api = Api {
        app,
        admin: String::new(),
        dir,
        otlp: None,
    };
    api.admin = api.login_ok("admin", common::ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api.post(&format!("{HOOKS}/{id}/test"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let got = receiver
        .wait_for("the test delivery", |g| !g.is_empty())
        .await;
    assert_signed(&got[0], &secret);
}
