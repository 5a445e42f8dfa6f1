//! A typed client of the registry's `/v1` API over the API's own wire types
//! ([`promptops_api`]): requests go out as those types and answers come back as them.
//! Every call carries the caller's credential (`Authorization: Bearer <session token or
//! API key>`) and turns problem+json answers into [`ClientError::Api`] with the
//! server's `detail`. It links no database and no server code.

pub mod bundle;
pub mod sdk;

pub use promptops_api as api;
use promptops_api::*;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
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

#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

/// Path segments go into URLs escaped, whatever they hold.
pub(crate) fn seg(s: &str) -> String {
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

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
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

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
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

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::POST, path, None::<&()>).await
    }

    pub async fn health(&self) -> Result<Health> {
        self.get("/healthz").await
    }

    pub async fn project(&self, project: &str) -> Result<Project> {
        self.get(&format!("/v1/projects/{}", seg(project))).await
    }

    pub async fn publish(
        &self,
        project: &str,
        id: &str,
        source: &str,
        path: Option<&str>,
    ) -> Result<Published> {
        let body = PublishRequest {
            source: source.to_owned(),
            path: path.map(str::to_owned),
        };
        let path = format!("{}/versions", Self::prompt_path(project, id));
        self.call(Method::POST, &path, Some(&body)).await
    }

    pub async fn versions(&self, project: &str, id: &str) -> Result<Vec<Version>> {
        self.get(&format!("{}/versions", Self::prompt_path(project, id)))
            .await
    }

    pub async fn version(&self, project: &str, id: &str, version: &str) -> Result<Version> {
        self.get(&format!(
            "{}/versions/{}",
            Self::prompt_path(project, id),
            seg(version)
        ))
        .await
    }

    /// Everything `env` serves now (what a bundle packs).
    pub async fn served(&self, project: &str, env: &str) -> Result<Vec<Resolved>> {
        self.get(&format!(
            "/v1/projects/{}/environments/{}/prompts",
            seg(project),
            seg(env)
        ))
        .await
    }

    /// The project's prompts.
    pub async fn prompts(&self, project: &str) -> Result<Vec<PromptSummary>> {
        self.get(&format!("/v1/projects/{}/prompts", seg(project)))
            .await
    }

    /// A prompt's metrics per version (`query` holds `env`, `from`, `to`, `step`, each
    /// optional).
    pub async fn metrics(
        &self,
        project: &str,
        id: &str,
        query: &[(&str, &str)],
    ) -> Result<PromptMetrics> {
        let path = format!(
            "{}/metrics{}",
            Self::prompt_path(project, id),
            query_string(query)
        );
        self.get(&path).await
    }

    /// A page of a project's execution events (`query` holds `prompt_id`, `env`,
    /// `after`, `limit`, each optional).
    pub async fn events(&self, project: &str, query: &[(&str, &str)]) -> Result<EventsPage> {
        let path = format!(
            "/v1/projects/{}/events{}",
            seg(project),
            query_string(query)
        );
        self.get(&path).await
    }

    pub async fn labels(&self, project: &str, id: &str) -> Result<Vec<Label>> {
        self.get(&format!("{}/labels", Self::prompt_path(project, id)))
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
        self.get(&path).await
    }

    /// Promotes through the environment's policy (the answer is the promotion:
    /// outcome, gates, move, request). `expected_from` makes the move conditional on
    /// the label still being where the caller saw it. A blocked promotion is a 409
    /// whose problem carries `gates` and `request`.
    pub async fn promote(
        &self,
        project: &str,
        id: &str,
        req: &PromoteRequest,
    ) -> Result<Promotion> {
        let path = format!("{}/promote", Self::prompt_path(project, id));
        self.call(Method::POST, &path, Some(req)).await
    }

    pub async fn rollback(
        &self,
        project: &str,
        id: &str,
        req: &RollbackRequest,
    ) -> Result<LabelMove> {
        let path = format!("{}/rollback", Self::prompt_path(project, id));
        self.call(Method::POST, &path, Some(req)).await
    }

    pub async fn resolve(&self, project: &str, id: &str, env: &str) -> Result<Resolved> {
        self.get(&format!(
            "/v1/projects/{}/environments/{}/prompts/{}",
            seg(project),
            seg(env),
            seg(id)
        ))
        .await
    }

    fn diff_path(project: &str, id: &str, from: &str, to: &str, format: &str) -> String {
        format!(
            "{}/diff?from={}&to={}&format={format}",
            Self::prompt_path(project, id),
            seg(from),
            seg(to)
        )
    }

    /// What changed between two versions: text and metadata changes with the semver verdict.
    pub async fn diff(&self, project: &str, id: &str, from: &str, to: &str) -> Result<VersionDiff> {
        self.get(&Self::diff_path(project, id, from, to, "json"))
            .await
    }

    /// A unified diff of the two files as pushed.
    pub async fn diff_unified(
        &self,
        project: &str,
        id: &str,
        from: &str,
        to: &str,
    ) -> Result<String> {
        let path = Self::diff_path(project, id, from, to, "unified");
        let resp = self.send(Method::GET, &path, None::<&()>).await?;
        resp.text().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })
    }

    pub async fn attach_eval(
        &self,
        project: &str,
        id: &str,
        version: &str,
        run: &PublishEval,
    ) -> Result<EvalRun> {
        let path = format!(
            "{}/versions/{}/evals",
            Self::prompt_path(project, id),
            seg(version)
        );
        self.call(Method::POST, &path, Some(run)).await
    }

    /// Stores a red-team report with the version it attacked
    /// (`POST …/versions/{version}/redteam`); the server recomputes its summary.
    pub async fn attach_redteam(
        &self,
        project: &str,
        id: &str,
        version: &str,
        report: &RedteamReport,
    ) -> Result<RedteamRun> {
        let path = format!(
            "{}/versions/{}/redteam",
            Self::prompt_path(project, id),
            seg(version)
        );
        self.call(Method::POST, &path, Some(report)).await
    }

    /// The red-team reports stored with a version, oldest first (summaries).
    pub async fn redteam_runs(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<Vec<RedteamRun>> {
        self.get(&format!(
            "{}/versions/{}/redteam",
            Self::prompt_path(project, id),
            seg(version)
        ))
        .await
    }

    /// Records a version's results on several models (`POST …/versions/{version}/compatibility`);
    /// the server recomputes each verdict from the counts and thresholds.
    pub async fn record_compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
        results: &PublishCompatibility,
    ) -> Result<Vec<CompatibilityRecord>> {
        let path = format!(
            "{}/versions/{}/compatibility",
            Self::prompt_path(project, id),
            seg(version)
        );
        self.call(Method::POST, &path, Some(results)).await
    }

    /// A version's compatibility matrix: the newest recorded verdict per model beside
    /// the prompt file's declared one.
    pub async fn compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<CompatibilityMatrix> {
        self.get(&format!(
            "{}/versions/{}/compatibility",
            Self::prompt_path(project, id),
            seg(version)
        ))
        .await
    }

    pub async fn audit_events(&self, after: u64, limit: u64) -> Result<Vec<AuditEvent>> {
        self.get(&format!("/v1/audit?after={after}&limit={limit}"))
            .await
    }

    /// Every signed audit checkpoint, smallest first.
    pub async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        self.get("/v1/audit/checkpoints").await
    }

    /// The public key the server signs checkpoints with.
    pub async fn checkpoint_key(&self) -> Result<CheckpointKey> {
        self.get("/v1/audit/checkpoints/key").await
    }

    /// Signs a checkpoint of the log as it stands (admins).
    pub async fn sign_checkpoint(&self) -> Result<Checkpoint> {
        self.post_empty("/v1/audit/checkpoints").await
    }

    /// A version's evidence pack, with a checkpoint signed for it.
    pub async fn evidence(&self, project: &str, id: &str, version: &str) -> Result<EvidencePack> {
        self.get(&format!(
            "{}/versions/{}/evidence",
            Self::prompt_path(project, id),
            seg(version)
        ))
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
        self.get(&path).await
    }

    pub async fn audit_head(&self) -> Result<AuditHead> {
        self.get("/v1/audit/head").await
    }

    // ----- identity ---------------------------------------------------------------------

    /// Logs in: the session (`access_token`, `refresh_token`, `expires_in`, `user`).
    pub async fn login(&self, user: &str, password: &str) -> Result<Session> {
        let body = Login {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/login", Some(&body)).await
    }

    /// Trades a refresh token (once) for the session's next tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let body = Refresh {
            refresh_token: refresh_token.to_owned(),
        };
        self.call(Method::POST, "/v1/auth/refresh", Some(&body))
            .await
    }

    /// Ends this session on the server (with `all`, every session of the user).
    pub async fn logout(&self, all: bool) -> Result<SessionsEnded> {
        self.call(Method::POST, "/v1/auth/logout", Some(&Logout { all }))
            .await
    }

    /// Ends every session of `name` (admins of every project).
    pub async fn end_sessions(&self, name: &str) -> Result<SessionsEnded> {
        self.post_empty(&format!("/v1/users/{}/sessions/end", seg(name)))
            .await
    }

    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.get("/v1/auth/whoami").await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        self.get("/v1/users").await
    }

    pub async fn create_user(&self, new: &CreateUser) -> Result<User> {
        self.call(Method::POST, "/v1/users", Some(new)).await
    }

    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<User> {
        let action = if disabled { "disable" } else { "enable" };
        self.post_empty(&format!("/v1/users/{}/{action}", seg(name)))
            .await
    }

    /// Grants `role` in `project` (`*`: every project), or takes it away (`None`).
    pub async fn set_role(&self, project: &str, user: &str, role: Option<&str>) -> Result<User> {
        let body = SetRole {
            role: role.map(str::to_owned),
        };
        let path = format!("/v1/projects/{}/members/{}", seg(project), seg(user));
        self.call(Method::PUT, &path, Some(&body)).await
    }

    /// A new API key: the key itself is in this answer and nowhere else, ever.
    pub async fn create_key(&self, new: &CreateKey) -> Result<CreatedKey> {
        self.call(Method::POST, "/v1/keys", Some(new)).await
    }

    pub async fn keys(&self, all: bool) -> Result<Vec<ApiKey>> {
        self.get(&format!("/v1/keys?all={all}")).await
    }

    pub async fn revoke_key(&self, prefix: &str) -> Result<ApiKey> {
        self.post_empty(&format!("/v1/keys/{}/revoke", seg(prefix)))
            .await
    }

    // ----- governance -------------------------------------------------------------------

    pub async fn put_policy(
        &self,
        project: &str,
        env: &str,
        source: &str,
    ) -> Result<PolicyRevision> {
        let body = PutPolicy {
            source: source.to_owned(),
        };
        let path = format!("/v1/projects/{}/policies/{}", seg(project), seg(env));
        self.call(Method::PUT, &path, Some(&body)).await
    }

    /// The environment's current policy, `None` when it has none.
    pub async fn policy(&self, project: &str, env: &str) -> Result<Option<PolicyRevision>> {
        let path = format!("/v1/projects/{}/policies/{}", seg(project), seg(env));
        match self.get(&path).await {
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
        self.get(&path).await
    }

    /// A request with its gates as they stand now.
    pub async fn request(&self, project: &str, id: u64) -> Result<RequestView> {
        self.get(&format!("/v1/projects/{}/requests/{id}", seg(project)))
            .await
    }

    pub async fn approve(&self, project: &str, id: u64, approval: &Approve) -> Result<Promotion> {
        let path = format!("/v1/projects/{}/requests/{id}/approve", seg(project));
        self.call(Method::POST, &path, Some(approval)).await
    }

    pub async fn reject(&self, project: &str, id: u64, rejection: &Reject) -> Result<Promotion> {
        let path = format!("/v1/projects/{}/requests/{id}/reject", seg(project));
        self.call(Method::POST, &path, Some(rejection)).await
    }

    pub async fn withdraw(
        &self,
        project: &str,
        id: u64,
        comment: Option<&str>,
    ) -> Result<PromotionRequest> {
        let body = Withdraw {
            comment: comment.map(str::to_owned),
        };
        let path = format!("/v1/projects/{}/requests/{id}/withdraw", seg(project));
        self.call(Method::POST, &path, Some(&body)).await
    }
}

impl RegistryClient {
    // ----- webhooks -----------------------------------------------------------------------

    fn webhooks_path(project: &str) -> String {
        format!("/v1/projects/{}/webhooks", seg(project))
    }

    /// Subscribes `new.url`; the answer holds the signing secret, this once.
    pub async fn create_webhook(
        &self,
        project: &str,
        new: &CreateWebhook,
    ) -> Result<CreatedWebhook> {
        self.call(Method::POST, &Self::webhooks_path(project), Some(new))
            .await
    }

    pub async fn webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        self.get(&Self::webhooks_path(project)).await
    }

    pub async fn delete_webhook(&self, project: &str, id: &str) -> Result<Webhook> {
        let path = format!("{}/{}", Self::webhooks_path(project), seg(id));
        self.call(Method::DELETE, &path, None::<&()>).await
    }

    /// Sends a test event; the answer is the pending delivery.
    pub async fn test_webhook(&self, project: &str, id: &str) -> Result<WebhookDelivery> {
        let path = format!("{}/{}/test", Self::webhooks_path(project), seg(id));
        self.post_empty(&path).await
    }

    /// The newest `limit` deliveries of a subscription, newest first.
    pub async fn webhook_deliveries(
        &self,
        project: &str,
        id: &str,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        let path = format!(
            "{}/{}/deliveries?limit={limit}",
            Self::webhooks_path(project),
            seg(id)
        );
        self.get(&path).await
    }
}

impl RegistryClient {
    // ----- alerts -------------------------------------------------------------------------

    fn alerts_path(project: &str) -> String {
        format!("/v1/projects/{}/alerts", seg(project))
    }

    /// The project's alerts, newest first; `query`: `state`, `prompt`, `env`, `limit`.
    pub async fn alerts(&self, project: &str, query: &[(&str, &str)]) -> Result<Vec<Alert>> {
        self.get(&format!(
            "{}{}",
            Self::alerts_path(project),
            query_string(query)
        ))
        .await
    }

    /// Evaluates the project's alert rules now.
    pub async fn evaluate_alerts(&self, project: &str) -> Result<AlertEvaluation> {
        self.post_empty(&format!("{}/evaluate", Self::alerts_path(project)))
            .await
    }

    pub async fn alert_settings(&self, project: &str) -> Result<AlertSettings> {
        self.get(&format!("{}/settings", Self::alerts_path(project)))
            .await
    }

    pub async fn set_alert_settings(
        &self,
        project: &str,
        settings: &AlertSettings,
    ) -> Result<AlertSettings> {
        let path = format!("{}/settings", Self::alerts_path(project));
        self.call(Method::PUT, &path, Some(settings)).await
    }
}

/// An error with its causes (reqwest's own message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `?a=1&b=2` with each value percent-encoded (empty without pairs).
fn query_string(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", seg(v)))
        .collect();
    format!("?{}", joined.join("&"))
}
