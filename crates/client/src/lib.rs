//! A typed client of the registry's `/v1` API. Every call names its actor (the
//! `X-Promptops-Actor` header) and turns problem+json answers into
//! [`ClientError::Api`] with the server's `detail`.

use promptops_store::{
    AuditEvent, AuditHead, EvalRun, Label, LabelMove, Project, Published, Verification, Version,
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
    actor: String,
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
    pub fn new(base: &str, actor: &str) -> Result<RegistryClient> {
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
            actor: actor.to_owned(),
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
        let mut req = self
            .http
            .request(method, &url)
            .header("x-promptops-actor", &self.actor);
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

    /// Promotes `version` to `env`. `expected_from` makes the move conditional on the
    /// label still being where the caller saw it.
    pub async fn promote(
        &self,
        project: &str,
        id: &str,
        env: &str,
        version: &str,
        expected_from: Option<Option<&str>>,
        reason: Option<&str>,
    ) -> Result<LabelMove> {
        let mut body = json!({"environment": env, "version": version, "reason": reason});
        if let Some(expected) = expected_from {
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
