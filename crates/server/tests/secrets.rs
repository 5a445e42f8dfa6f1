//! No secret is seen again after the answer that creates it: not in any later answer,
//! not in the server's logs (captured by a subscriber of every level and target), not
//! in the database files (which keep only hashes).

mod common;

use axum::http::{Method, StatusCode};
use common::{ADMIN_PASSWORD, Api, JWT_SECRET};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event and span field, of every level and target, as text.
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next_span: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Capture {
    fn line(&self, what: &str, meta: &Metadata<'_>, record: impl FnOnce(&mut Fields<'_>)) {
        let mut line = format!("{what} {} {}:", meta.level(), meta.target());
        record(&mut Fields(&mut line));
        line.push('\n');
        self.text.lock().unwrap().push_str(&line);
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.line("span", span.metadata(), |f| span.record(f));
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = "span record:".to_owned();
        values.record(&mut Fields(&mut line));
        line.push('\n');
        self.text.lock().unwrap().push_str(&line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.line("event", event.metadata(), |f| event.record(f));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn token(session: &Value, which: &str) -> String {
    session[which].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_password_token_or_key_is_seen_after_its_creation() {
    // The only test of this binary: the subscriber is the process's.
    let logs = Capture::default();
    tracing::subscriber::set_global_default(logs.clone()).unwrap();

    let api = Api::new().await;
    let carol_password = "carol's own password 42";
    let wrong_password = "a wrong guess at carol's password";
    api.create_project("alpha").await;
    let r = api
        .post(
            "/v1/users",
            json!({"name": "carol", "password": carol_password, "roles": [{"project": "alpha", "role": "editor"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut answers = vec![("the user's creation".to_owned(), r.text)];

    let admin = api.login_ok("admin", ADMIN_PASSWORD).await;
    let carol = api.login_ok("carol", carol_password).await;
    let r = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": token(&carol, "refresh_token")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refreshed = r.body;
    assert_eq!(
        api.login("carol", wrong_password).await.status,
        StatusCode::UNAUTHORIZED
    );

    let session = token(&carol, "access_token");
    let r = api
        .post_as(
            &session,
            "/v1/keys",
            json!({"name": "ci", "project": "alpha", "role": "editor"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let prefix = r.body["api_key"]["prefix"].as_str().unwrap().to_owned();
    let key_secret = key[prefix.len() + 1..].to_owned();
    // The key's prefix with another secret: refused, and not logged either.
    let wrong_secret: String = key_secret.chars().rev().collect();
    let wrong_key = format!("{prefix}_{wrong_secret}");
    assert_ne!(wrong_key, key);
    assert_eq!(
        api.get_as(&wrong_key, "/v1/auth/whoami").await.status,
        StatusCode::UNAUTHORIZED
    );
    // The key at work.
    let r = api
        .post_as(
            &key,
            "/v1/projects/alpha/prompts/support.reply/versions",
            json!({"source": "id: support.reply\nversion: 1.0.0\nowner: team\ndescription: Replies.\nmodel: openai:gpt-4o-mini\ntemplate: \"Hi\"\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    for (what, credential, uri) in [
        ("the user list", &api.admin, "/v1/users".to_owned()),
        ("a user", &api.admin, "/v1/users/carol".to_owned()),
        ("the admin's user", &api.admin, "/v1/users/admin".to_owned()),
        (
            "the members",
            &api.admin,
            "/v1/projects/alpha/members".to_owned(),
        ),
        ("one's keys", &session, "/v1/keys".to_owned()),
        (
            "everyone's keys",
            &api.admin,
            "/v1/keys?all=true".to_owned(),
        ),
        (
            "whoami with a session",
            &session,
            "/v1/auth/whoami".to_owned(),
        ),
        ("whoami with the key", &key, "/v1/auth/whoami".to_owned()),
        (
            "a refused key listing by the key",
            &key,
            "/v1/keys".to_owned(),
        ),
        (
            "the audit log",
            &api.admin,
            "/v1/audit?limit=1000".to_owned(),
        ),
        ("the audit head", &api.admin, "/v1/audit/head".to_owned()),
        (
            "the OpenAPI document",
            &api.admin,
            "/openapi.json".to_owned(),
        ),
        (
            "a version",
            &key,
            "/v1/projects/alpha/prompts/support.reply/versions/1.0.0".to_owned(),
        ),
        (
            "a refused revocation",
            &key,
            format!("/v1/keys/{prefix}/revoke"),
        ),
    ] {
        let r = if what == "a refused revocation" {
            api.post_as(credential, &uri, json!({})).await
        } else {
            api.get_as(credential, &uri).await
        };
        assert!(
            r.status.is_success() || what.starts_with("a refused"),
            "{what}: {}",
            r.text
        );
        answers.push((what.to_owned(), r.text));
    }
    // The capture works: it holds the access log and the audit of the key's creation.
    let logs = logs.text();
    assert!(
        logs.contains("POST /v1/keys 201"),
        "the access log is captured:\n{logs}"
    );
    let audit = &answers
        .iter()
        .find(|(w, _)| w == "the audit log")
        .unwrap()
        .1;
    assert!(
        audit.contains("key.created") && audit.contains(&prefix),
        "{audit}"
    );

    let mut secrets = vec![
        ("the admin's password", ADMIN_PASSWORD.to_owned()),
        ("carol's password", carol_password.to_owned()),
        ("a wrong password", wrong_password.to_owned()),
        ("the API key", key.clone()),
        ("the API key's secret part", key_secret),
        ("a wrong key's secret part", wrong_secret),
        (
            "the signing secret",
            String::from_utf8(JWT_SECRET.to_vec()).unwrap(),
        ),
        ("the first admin session", api.admin.clone()),
    ];
    for (whose, session) in [
        ("admin", &admin),
        ("carol", &carol),
        ("carol (refreshed)", &refreshed),
    ] {
        for kind in ["access_token", "refresh_token"] {
            let t = token(session, kind);
            assert!(t.len() > 40, "{whose} {kind}: {t}");
            secrets.push((
                if kind == "access_token" {
                    "an access token"
                } else {
                    "a refresh token"
                },
                t,
            ));
        }
    }

    let mut places: Vec<(String, Vec<u8>)> = answers
        .into_iter()
        .map(|(what, text)| (format!("the answer of {what}"), text.into_bytes()))
        .collect();
    places.push(("the server's logs".to_owned(), logs.into_bytes()));
    // The database and its write-ahead log (where recent writes still are).
    let mut database = Vec::new();
    for entry in std::fs::read_dir(api.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        database.extend_from_slice(&bytes);
        places.push((format!("the file {}", path.display()), bytes));
    }
    assert!(api.db_path().exists());
    assert!(
        contains(&database, b"carol") && contains(&database, prefix.as_bytes()),
        "the database files hold the data"
    );

    let mut leaks = Vec::new();
    for (place, bytes) in &places {
        for (what, secret) in &secrets {
            if contains(bytes, secret.as_bytes()) {
                leaks.push(format!("{what} is in {place}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets seen after their creation:\n{}",
        leaks.join("\n")
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
