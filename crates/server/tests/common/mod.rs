//! The harness the API tests share: a real SQLite store in a temporary folder, the
//! first admin logged in, and requests sent through the router with a credential.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod hooks;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use promptops_server::{AuthConfig, Settings};
use promptops_store::{SqlStore, Store};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// The registry's signing secret in tests (a forged token is signed with another).
pub const JWT_SECRET: &[u8] = b"promptops test signing secret, 32+ bytes";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The server as a cloneable service (what `serve` runs).
pub type App = tower::util::BoxCloneSyncService<
    Request<Body>,
    axum::response::Response,
    std::convert::Infallible,
>;

pub struct Api {
    pub app: App,
    /// A session token of `admin` (admin of every project), sent when a request names
    /// no credential.
    pub admin: String,
    pub dir: tempfile::TempDir,
    /// OTLP export, when the settings turn it on (to flush it).
    pub otlp: Option<Arc<promptops_server::otlp::Otlp>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub content_type: String,
    pub etag: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Api {
    /// An empty registry with its first admin, logged in.
    pub async fn new() -> Api {
        Api::with_options(Settings::default()).await
    }

    /// An empty SQLite registry served with `options`.
    pub async fn with_options(options: Settings) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::sqlite(&dir.path().join("registry.db"))
            .await
            .unwrap();
        Api::over(store, dir, options).await
    }

    /// A registry over `store` (empty), with its first admin logged in.
    pub async fn over<S: Store>(store: S, dir: tempfile::TempDir, options: Settings) -> Api {
        promptops_server::bootstrap::first_admin(&store, Some(ADMIN_PASSWORD.to_owned()))
            .await
            .unwrap()
            .expect("an empty store gets its first admin");
        let app = promptops_server::app_with(Arc::new(store), AuthConfig::new(JWT_SECRET), options);
        let otlp = app.otlp();
        let mut api = Api {
            app: tower::util::BoxCloneSyncService::new(app),
            admin: String::new(),
            dir,
            otlp,
        };
        api.admin = api.login_ok("admin", ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        api
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("registry.db")
    }

    /// Sends `req` as is: no credential is added.
    pub async fn send_raw(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let etag = headers
            .get(header::ETAG)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = if content_type.starts_with("text/event-stream") {
            // A stream does not end: what it sent first is enough to look at.
            first_bytes(resp.into_body()).await
        } else {
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            headers,
            content_type,
            etag,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    /// Sends `req` as the admin unless it carries an `Authorization` header already.
    pub async fn send(&self, mut req: Request<Body>) -> Reply {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            req.headers_mut()
                .insert(header::AUTHORIZATION, bearer(&self.admin));
        }
        self.send_raw(req).await
    }

    /// A request with `credential` (a token or an API key; `None`: none) and, when
    /// `body` is given, a JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        credential: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let authorization = credential.map(|c| format!("Bearer {c}"));
        self.call_with_header(method, uri, authorization.as_deref(), body)
            .await
    }

    /// A request with this `Authorization` header (`None`: none).
    pub async fn call_with_header(
        &self,
        method: Method,
        uri: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send_raw(req.unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.get_as(&self.admin, uri).await
    }

    pub async fn get_as(&self, credential: &str, uri: &str) -> Reply {
        self.call(Method::GET, uri, Some(credential), None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.raw_post(uri, body.to_string()).await
    }

    pub async fn post_as(&self, credential: &str, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(credential), Some(&body))
            .await
    }

    pub async fn put_as(&self, credential: &str, uri: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, Some(credential), Some(&body))
            .await
    }

    pub async fn raw_post(&self, uri: &str, body: String) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub async fn login(&self, user: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(&json!({"user": user, "password": password})),
        )
        .await
    }

    /// The session (`access_token`, `refresh_token`, `user`) of a good login.
    pub async fn login_ok(&self, user: &str, password: &str) -> Value {
        let r = self.login(user, password).await;
        assert_eq!(r.status, StatusCode::OK, "login as {user}: {}", r.text);
        r.body
    }

    /// Creates `name` (as the admin) with `roles` as `(project, role)`.
    pub async fn create_user(&self, name: &str, password: &str, roles: &[(&str, &str)]) {
        let roles: Vec<Value> = roles
            .iter()
            .map(|(project, role)| json!({"project": project, "role": role}))
            .collect();
        let r = self
            .post(
                "/v1/users",
                json!({"name": name, "password": password, "teams": [], "roles": roles}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create user {name}: {}",
            r.text
        );
    }

    /// A new user with `role` in `project`, logged in: their session token.
    pub async fn user_with_role(&self, name: &str, project: &str, role: &str) -> String {
        let password = format!("{name}-password-for-tests");
        self.create_user(name, &password, &[(project, role)]).await;
        self.login_ok(name, &password).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_project(&self, name: &str) {
        let r = self.post("/v1/projects", json!({"name": name})).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create project {name}: {}",
            r.text
        );
    }

    /// A new API key made with `credential`: `(key, prefix)`.
    pub async fn create_key(
        &self,
        credential: &str,
        name: &str,
        project: &str,
        role: &str,
    ) -> (String, String) {
        let r = self
            .post_as(
                credential,
                "/v1/keys",
                json!({"name": name, "project": project, "role": role}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create key {name}: {}",
            r.text
        );
        (
            r.body["key"].as_str().unwrap().to_owned(),
            r.body["api_key"]["prefix"].as_str().unwrap().to_owned(),
        )
    }

    /// The number of audit events.
    pub async fn events(&self) -> u64 {
        let r = self.get("/v1/audit/verify").await;
        r.body["events"]
            .as_u64()
            .unwrap_or_else(|| panic!("audit verify: {}", r.text))
    }
}

pub fn bearer(credential: &str) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!("Bearer {credential}")).unwrap()
}

pub fn pg_url() -> String {
    std::env::var("PROMPTOPS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of the shared PostgreSQL that is dropped when this guard is, even when
/// the test panics.
pub struct PgSchema(pub String);

impl Drop for PgSchema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        // Drop may run inside the test's runtime: clean up on a thread of our own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(SqlStore::drop_schema(&pg_url(), &schema)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(Ok(())))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.0);
        }
    }
}

/// A registry on the shared PostgreSQL, in a schema of its own; `None` (with one clear
/// line) when PostgreSQL is not reachable and `PROMPTOPS_REQUIRE_SERVICES` is unset.
pub async fn postgres_api(test: &str) -> Option<(Api, PgSchema)> {
    let schema = format!(
        "srv_{}_{}",
        std::process::id(),
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(32)
            .collect::<String>()
    );
    let guard = PgSchema(schema.clone());
    match SqlStore::postgres_in(&pg_url(), Some(&schema), 4).await {
        Ok(store) => {
            let dir = tempfile::tempdir().unwrap();
            Some((Api::over(store, dir, Settings::default()).await, guard))
        }
        Err(e) if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none() => {
            eprintln!(
                "skipped {test}: PostgreSQL not reachable at {} ({e})",
                pg_url()
            );
            None
        }
        Err(e) => panic!("PostgreSQL required (PROMPTOPS_REQUIRE_SERVICES is set): {e}"),
    }
}

/// What an event stream sends within a moment (its opening, usually nothing yet).
async fn first_bytes(body: Body) -> axum::body::Bytes {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    match tokio::time::timeout(std::time::Duration::from_millis(50), stream.next()).await {
        Ok(Some(Ok(bytes))) => bytes,
        _ => axum::body::Bytes::new(),
    }
}
