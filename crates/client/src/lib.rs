//! A typed client of the registry's `/v1` API. Every call carries the caller's
//! credential (`Authorization: Bearer <session token or API key>`) and turns
//! problem+json answers into [`ClientError::Api`] with the server's `detail`.

use promptops_store::{
    ApiKey, AuditEvent, AuditHead, EvalRun, Label, LabelMove, PolicyRevision, Project,
    PromotionRequest, Published, User, Verification, Version,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the registry at {url}: {reason}; is `promptops serve` running there? (set --registry or PROMPTOPS_REGISTRY)"
    )]
    Unreachable { url: String, reason: String },
    #[error("{detail}")]
    Api {
        status: u16,
        detail: String,
        /// The problem's `current` (409) or `errors` (422), when it has them.
        problem: Json,
    },
    #[error("the registry at {url} answered something that is not the expected JSON: {reason}")]
    Decode { url: String, reason: String },
    #[error("invalid registry URL `{0}`: use http://host:port")]
    BadUrl(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// What an environment serves now (`GET .../environments/{env}/prompts/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolved {
    pub id: String,
    pub environment: String,
    pub version: String,
    pub content_hash: String,
    pub model: Json,
    pub variables: Json,
    pub content: Json,
}

#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

/// Path segments go into URLs escaped, whatever they hold.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RegistryClient {
    /// A client of the registry at `base`, sending `credential` (a session token or an
    /// API key) with every call.
    pub fn new(base: &str, credential: Option<&str>) -> Result<RegistryClient> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadUrl(base));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::BadUrl(format!("{base} ({e})")))?;
        Ok(RegistryClient {
            http,
            base,
            credential: credential.map(str::to_owned),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(credential) = &self.credential {
            req = req.bearer_auth(credential);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let problem: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        let detail = problem
            .get("detail")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                )
            });
        Err(ClientError::Api {
            status,
            detail,
            problem,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<T> {
        let resp = self.send(method, path, body).await?;
        let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: self.base.clone(),
            reason: e.to_string(),
        })
    }

    fn prompt_path(project: &str, id: &str) -> String {
        format!("/v1/projects/{}/prompts/{}", seg(project), seg(id))
    }

    pub async fn health(&self) -> Result<Json> {
        self.call(Method::GET, "/healthz", None).await
    }

    pub async fn project(&self, project: &str) -> Result<Project> {
        self.call(Method::GET, &format!("/v1/projects/{}", seg(project)), None)
            .await
    }

    pub async fn publish(
        &self,
        project: &str,
        id: &str,
        source: &str,
        path: Option<&str>,
    ) -> Result<Published> {
        let body = json!({"source": source, "path": path});
        self.call(
            Method::POST,
            &format!("{}/versions", Self::prompt_path(project, id)),
            Some(&body),
        )
        .await
    }

    pub async fn versions(&self, project: &str, id: &str) -> Result<Vec<Version>> {
        self.call(
            Method::GET,
            &format!("{}/versions", Self::prompt_path(project, id)),
            None,
        )
        .await
    }

    pub async fn version(&self, project: &str, id: &str, version: &str) -> Result<Version> {
        let path = format!(
            "{}/versions/{}",
            Self::prompt_path(project, id),
            seg(version)
        );
        self.call(Method::GET, &path, None).await
    }

    pub async fn labels(&self, project: &str, id: &str) -> Result<Vec<Label>> {
        self.call(
            Method::GET,
            &format!("{}/labels", Self::prompt_path(project, id)),
            None,
        )
        .await
    }

    pub async fn history(
        &self,
        project: &str,
        id: &str,
        env: Option<&str>,
    ) -> Result<Vec<LabelMove>> {
        let mut path = format!("{}/history", Self::prompt_path(project, id));
        if let Some(env) = env {
            path.push_str(&format!("?env={}", seg(env)));
        }
        self.call(Method::GET, &path, None).await
    }

    /// Promotes `version` to `env` through the environment's policy (the answer is the
    /// promotion: outcome, gates, move, request). `expected_from` makes the move
    /// conditional on the label still being where the caller saw it. A blocked
    /// promotion is a 409 whose problem carries `gates` and `request`.
    pub async fn promote(&self, project: &str, id: &str, req: &Promote<'_>) -> Result<Json> {
        let mut body = json!({"environment": req.env, "version": req.version, "reason": req.reason,
            "dry_run": req.dry_run, "override_reason": req.override_reason});
        if let Some(expected) = req.expected_from {
            body["expected_from"] = json!(expected);
        }
        self.call(
            Method::POST,
            &format!("{}/promote", Self::prompt_path(project, id)),
            Some(&body),
        )
        .await
    }

    pub async fn rollback(
        &self,
        project: &str,
        id: &str,
        env: &str,
        to: Option<&str>,
        reason: Option<&str>,
    ) -> Result<LabelMove> {
        let body = json!({"environment": env, "to": to, "reason": reason});
        self.call(
            Method::POST,
            &format!("{}/rollback", Self::prompt_path(project, id)),
            Some(&body),
        )
        .await
    }

    pub async fn resolve(&self, project: &str, id: &str, env: &str) -> Result<Resolved> {
        let path = format!(
            "/v1/projects/{}/environments/{}/prompts/{}",
            seg(project),
            seg(env),
            seg(id)
        );
        self.call(Method::GET, &path, None).await
    }

    /// The diff as JSON (`unified == false`) or as unified text.
    pub async fn diff(
        &self,
        project: &str,
        id: &str,
        from: &str,
        to: &str,
        unified: bool,
    ) -> Result<Json> {
        let path = format!(
            "{}/diff?from={}&to={}&format={}",
            Self::prompt_path(project, id),
            seg(from),
            seg(to),
            if unified { "unified" } else { "json" }
        );
        if unified {
            let resp = self.send(Method::GET, &path, None).await?;
            let text = resp.text().await.map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })?;
            return Ok(Json::String(text));
        }
        self.call(Method::GET, &path, None).await
    }

    pub async fn attach_eval(
        &self,
        project: &str,
        id: &str,
        version: &str,
        run: &Json,
    ) -> Result<EvalRun> {
        let path = format!(
            "{}/versions/{}/evals",
            Self::prompt_path(project, id),
            seg(version)
        );
        self.call(Method::POST, &path, Some(run)).await
    }

    pub async fn audit_events(&self, after: u64, limit: u64) -> Result<Vec<AuditEvent>> {
        self.call(
            Method::GET,
            &format!("/v1/audit?after={after}&limit={limit}"),
            None,
        )
        .await
    }

    pub async fn audit_verify(&self, kept: Option<&AuditHead>) -> Result<Verification> {
        let path = match kept {
            Some(h) => format!(
                "/v1/audit/verify?head_seq={}&head_hash={}",
                h.seq,
                seg(&h.hash)
            ),
            None => "/v1/audit/verify".to_owned(),
        };
        self.call(Method::GET, &path, None).await
    }

    pub async fn audit_head(&self) -> Result<AuditHead> {
        self.call(Method::GET, "/v1/audit/head", None).await
    }

    // ----- identity ---------------------------------------------------------------------

    /// Logs in: the session (`access_token`, `refresh_token`, `expires_in`, `user`).
    pub async fn login(&self, user: &str, password: &str) -> Result<Session> {
        let body = json!({"user": user, "password": password});
        self.call(Method::POST, "/v1/auth/login", Some(&body)).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let body = json!({"refresh_token": refresh_token});
        self.call(Method::POST, "/v1/auth/refresh", Some(&body))
            .await
    }

    /// Ends this session on the server (with `all`, every session of the user).
    pub async fn logout(&self, all: bool) -> Result<Json> {
        let body = json!({"all": all});
        self.call(Method::POST, "/v1/auth/logout", Some(&body))
            .await
    }

    /// Ends every session of `name` (admins of every project).
    pub async fn end_sessions(&self, name: &str) -> Result<Json> {
        self.call(
            Method::POST,
            &format!("/v1/users/{}/sessions/end", seg(name)),
            None,
        )
        .await
    }

    pub async fn whoami(&self) -> Result<Json> {
        self.call(Method::GET, "/v1/auth/whoami", None).await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        self.call(Method::GET, "/v1/users", None).await
    }

    pub async fn create_user(
        &self,
        name: &str,
        password: &str,
        teams: &[String],
        roles: &[Json],
    ) -> Result<User> {
        let body = json!({"name": name, "password": password, "teams": teams, "roles": roles});
        self.call(Method::POST, "/v1/users", Some(&body)).await
    }

    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<User> {
        let action = if disabled { "disable" } else { "enable" };
        self.call(
            Method::POST,
            &format!("/v1/users/{}/{action}", seg(name)),
            None,
        )
        .await
    }

    /// Grants `role` in `project` (`*`: every project), or takes it away (`None`).
    pub async fn set_role(&self, project: &str, user: &str, role: Option<&str>) -> Result<User> {
        let body = json!({"role": role});
        self.call(
            Method::PUT,
            &format!("/v1/projects/{}/members/{}", seg(project), seg(user)),
            Some(&body),
        )
        .await
    }

    pub async fn create_key(
        &self,
        name: &str,
        project: &str,
        role: &str,
        expires_in_days: Option<u32>,
        ci: bool,
    ) -> Result<Json> {
        let body = json!({"name": name, "project": project, "role": role, "expires_in_days": expires_in_days, "ci": ci});
        self.call(Method::POST, "/v1/keys", Some(&body)).await
    }

    pub async fn keys(&self, all: bool) -> Result<Vec<ApiKey>> {
        self.call(Method::GET, &format!("/v1/keys?all={all}"), None)
            .await
    }

    pub async fn revoke_key(&self, prefix: &str) -> Result<ApiKey> {
        self.call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", seg(prefix)),
            None,
        )
        .await
    }

    // ----- governance -------------------------------------------------------------------

    pub async fn put_policy(
        &self,
        project: &str,
        env: &str,
        source: &str,
    ) -> Result<PolicyRevision> {
        let body = json!({"source": source});
        self.call(
            Method::PUT,
            &format!("/v1/projects/{}/policies/{}", seg(project), seg(env)),
            Some(&body),
        )
        .await
    }

    /// The environment's current policy, `None` when it has none.
    pub async fn policy(&self, project: &str, env: &str) -> Result<Option<PolicyRevision>> {
        let path = format!("/v1/projects/{}/policies/{}", seg(project), seg(env));
        match self.call(Method::GET, &path, None).await {
            Ok(p) => Ok(Some(p)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn requests(
        &self,
        project: &str,
        status: Option<&str>,
    ) -> Result<Vec<PromotionRequest>> {
        let mut path = format!("/v1/projects/{}/requests", seg(project));
        if let Some(status) = status {
            path.push_str(&format!("?status={}", seg(status)));
        }
        self.call(Method::GET, &path, None).await
    }

    /// A request with its gates as they stand now.
    pub async fn request(&self, project: &str, id: u64) -> Result<Json> {
        self.call(
            Method::GET,
            &format!("/v1/projects/{}/requests/{id}", seg(project)),
            None,
        )
        .await
    }

    /// Approves (`approve == true`, with the ticked checklist) or rejects a request.
    pub async fn decide(
        &self,
        project: &str,
        id: u64,
        approve: bool,
        comment: Option<&str>,
        checklist: &[String],
    ) -> Result<Json> {
        let (action, body) = if approve {
            (
                "approve",
                json!({"comment": comment, "checklist": checklist}),
            )
        } else {
            ("reject", json!({"comment": comment.unwrap_or_default()}))
        };
        self.call(
            Method::POST,
            &format!("/v1/projects/{}/requests/{id}/{action}", seg(project)),
            Some(&body),
        )
        .await
    }

    pub async fn withdraw(
        &self,
        project: &str,
        id: u64,
        comment: Option<&str>,
    ) -> Result<PromotionRequest> {
        let body = json!({"comment": comment});
        self.call(
            Method::POST,
            &format!("/v1/projects/{}/requests/{id}/withdraw", seg(project)),
            Some(&body),
        )
        .await
    }
}

/// A promotion to ask for.
#[derive(Debug, Clone, Default)]
pub struct Promote<'a> {
    pub env: &'a str,
    pub version: &'a str,
    pub expected_from: Option<Option<&'a str>>,
    pub reason: Option<&'a str>,
    pub dry_run: bool,
    /// Admins: move even though gates are unmet, for this reason.
    pub override_reason: Option<&'a str>,
}

/// A logged-in session.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: User,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session {{ user: {:?}, tokens: <redacted> }}",
            self.user.name
        )
    }
}

/// An error with its causes (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
