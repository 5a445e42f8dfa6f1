//! The runtime SDK: what an application links to read the prompts its environment
//! serves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), promptops_client::sdk::SdkError> {
//! use promptops_client::sdk::Client;
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .api_key("po_…")
//!     .project("demo")
//!     .snapshot_dir("/var/cache/my-app/prompts")
//!     .build()?;
//! let prompt = client.prompt("support.answer").env("prod").get().await?;
//! let text = prompt.render(serde_json::json!({"question": "Where is my order?"}))?;
//! # Ok(()) }
//! ```
//!
//! Sources, in order: memory (a hit costs no I/O and no await); the registry, asked
//! within the caller's budget ([`ClientBuilder::timeout`], 500 ms by default); then the
//! last good copy — the disk snapshot ([`ClientBuilder::snapshot_dir`]) or a bundle
//! ([`ClientBuilder::bundle`], [`Client::from_bundle`]). Once a prompt is in memory it
//! is kept current in the background: the environment's watch stream pushes each label
//! move (the prompt is fetched again at once), and every cached prompt is revalidated
//! with its ETag every [`ClientBuilder::refresh_every`] in case a push was missed.
//! A registry that is slow or down never makes a caller wait past its budget.

mod prompt;
mod report;
mod snapshot;
mod watch;

pub use prompt::Prompt;
pub use promptops_core::render::{Rendered, RenderedMessage};
pub use report::ReportStats;

use crate::bundle::{self, BundleError};
use promptops_api::Resolved;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Why a prompt could not be given.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    #[error("{id} is not served in {environment}: {detail}")]
    NotFound {
        id: String,
        environment: String,
        detail: String,
    },
    #[error("the registry refused the API key: {0}")]
    Unauthorized(String),
    #[error(
        "{id} ({environment}): the registry did not answer within {budget:?} ({reason}) and no last good copy is held (set snapshot_dir or bundle)"
    )]
    Unavailable {
        id: String,
        environment: String,
        budget: Duration,
        reason: String,
    },
    #[error("{id}: not a valid prompt: {detail}")]
    InvalidPrompt { id: String, detail: String },
    #[error("cannot render: {0}")]
    Render(String),
    #[error("bundle {path}: {source}")]
    Bundle { path: String, source: BundleError },
    #[error("{0}")]
    Config(String),
}

impl SdkError {
    fn invalid(id: &str, detail: String) -> SdkError {
        SdkError::InvalidPrompt {
            id: id.to_owned(),
            detail,
        }
    }
}

/// How to build a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    api_key: Option<String>,
    project: Option<String>,
    timeout: Duration,
    refresh_every: Duration,
    watch: bool,
    snapshot_dir: Option<PathBuf>,
    bundle: Option<PathBuf>,
    trusted_key: Option<String>,
    report_key: Option<String>,
    report: report::ReportSettings,
}

impl ClientBuilder {
    /// The key execution reports are sent with, when not the read key: reporting needs
    /// an `ingest` key (made for it: it can do nothing else) or an editor's; apps read
    /// with a viewer's.
    pub fn report_key(mut self, key: impl Into<String>) -> Self {
        self.report_key = Some(key.into());
        self
    }

    /// Execution reports held while waiting to be sent (default 10,000); past it,
    /// [`Client::report`] drops and counts.
    pub fn report_queue(mut self, capacity: usize) -> Self {
        self.report.capacity = capacity.max(1);
        self
    }

    /// Reports sent in one request (default 500) and the longest a report waits before
    /// its batch is sent (default 1 s).
    pub fn report_batch(mut self, batch: usize, every: Duration) -> Self {
        self.report.batch = batch.clamp(1, 10_000);
        self.report.every = every;
        self
    }

    /// The API key the application reads with (a viewer's key is enough).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The project to read from (default: the project the API key belongs to).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The longest a `get` waits for the registry before it answers from the last good
    /// copy (default 500 ms).
    pub fn timeout(mut self, budget: Duration) -> Self {
        self.timeout = budget;
        self
    }

    /// How often cached prompts are revalidated in the background, in case a push from
    /// the watch stream was missed (default 60 s).
    pub fn refresh_every(mut self, every: Duration) -> Self {
        self.refresh_every = every;
        self
    }

    /// Whether to follow the environment's watch stream (default on).
    pub fn watch(mut self, on: bool) -> Self {
        self.watch = on;
        self
    }

    /// Keeps a copy of every prompt read on disk, so a process that starts while the
    /// registry is down still serves the last good versions.
    pub fn snapshot_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshot_dir = Some(dir.into());
        self
    }

    /// A bundle (`promptops bundle`) to fall back on when the registry cannot answer.
    pub fn bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.bundle = Some(path.into());
        self
    }

    /// Accept only bundles signed by this public key (hex, as `promptops bundle`
    /// prints it).
    pub fn trusted_key(mut self, public_key: impl Into<String>) -> Self {
        self.trusted_key = Some(public_key.into());
        self
    }

    /// The client. Nothing is fetched yet; a bundle given is read and checked now.
    pub fn build(self) -> Result<Client, SdkError> {
        let url = self.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SdkError::Config(format!(
                "the registry URL `{url}` must start with http:// or https://"
            )));
        }
        let mut http = reqwest::Client::builder().connect_timeout(self.timeout);
        if url.starts_with("http://") {
            // A plain-HTTP registry needs no certificate store; loading the system's
            // is most of a cold start's cost (about 3 ms of 4).
            http = http.tls_certs_only(Vec::new());
        }
        let http = http
            .build()
            .map_err(|e| SdkError::Config(format!("HTTP client: {e}")))?;
        let fallback = match &self.bundle {
            Some(path) => load_bundle(path, self.trusted_key.as_deref())?,
            None => HashMap::new(),
        };
        Ok(Client {
            shared: Arc::new(Shared {
                remote: Some(Remote {
                    url,
                    api_key: self.api_key,
                    http,
                    timeout: self.timeout,
                    refresh_every: self.refresh_every,
                    watch: self.watch,
                    project: RwLock::new(self.project),
                    report_key: self.report_key,
                }),
                cache: RwLock::default(),
                fallback: RwLock::new(fallback),
                snapshot: self.snapshot_dir.map(snapshot::Snapshot::new),
                followed: std::sync::Mutex::default(),
                reporter: Arc::new(report::Reporter::new(self.report)),
            }),
        })
    }
}

/// Prompts by environment, then id.
type ByEnv = HashMap<String, HashMap<String, Prompt>>;

/// A client of the registry's delivery API. Cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.shared.remote.as_ref().map(|r| r.url.as_str());
        write!(f, "Client({})", url.unwrap_or("offline"))
    }
}

struct Shared {
    remote: Option<Remote>,
    cache: RwLock<ByEnv>,
    /// The last good copies: a bundle, then what the snapshot held at a miss.
    fallback: RwLock<ByEnv>,
    snapshot: Option<snapshot::Snapshot>,
    /// Environments whose background tasks run.
    followed: std::sync::Mutex<Vec<String>>,
    /// Execution reports waiting to be sent.
    reporter: Arc<report::Reporter>,
}

struct Remote {
    url: String,
    api_key: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    refresh_every: Duration,
    watch: bool,
    project: RwLock<Option<String>>,
    report_key: Option<String>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn load_bundle(path: &Path, trusted: Option<&str>) -> Result<ByEnv, SdkError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| SdkError::Bundle {
        path: shown.clone(),
        source: BundleError::Content(e.to_string()),
    })?;
    let bundle = bundle::read(&bytes, trusted).map_err(|source| SdkError::Bundle {
        path: shown,
        source,
    })?;
    let mut by_id = HashMap::new();
    for resolved in bundle.contents.prompts {
        let prompt = Prompt::from_resolved(resolved)?;
        by_id.insert(prompt.id().to_owned(), prompt);
    }
    Ok(HashMap::from([(bundle.contents.environment, by_id)]))
}

impl Client {
    /// A client of the registry at `url` (see [`ClientBuilder`]).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            api_key: None,
            project: None,
            timeout: Duration::from_millis(500),
            refresh_every: Duration::from_secs(60),
            watch: true,
            snapshot_dir: None,
            bundle: None,
            trusted_key: None,
            report_key: None,
            report: report::ReportSettings::default(),
        }
    }

    /// A client with no registry: everything comes from the bundle at `path` (checked:
    /// a changed byte is refused). For serverless functions and air-gapped sites.
    pub fn from_bundle(path: impl AsRef<Path>) -> Result<Client, SdkError> {
        Client::from_bundle_trusting(path, None)
    }

    /// [`Client::from_bundle`], accepting only a bundle signed by `public_key` (hex).
    pub fn from_bundle_trusting(
        path: impl AsRef<Path>,
        public_key: Option<&str>,
    ) -> Result<Client, SdkError> {
        let prompts = load_bundle(path.as_ref(), public_key)?;
        Ok(Client {
            shared: Arc::new(Shared {
                remote: None,
                cache: RwLock::new(prompts),
                fallback: RwLock::default(),
                snapshot: None,
                followed: std::sync::Mutex::default(),
                reporter: Arc::default(),
            }),
        })
    }

    /// A request for prompt `id` (then `.env(…)` and `.get()`).
    pub fn prompt<'a>(&'a self, id: &'a str) -> PromptRequest<'a> {
        PromptRequest {
            client: self,
            id,
            env: "prod",
        }
    }

    fn cached(&self, env: &str, id: &str) -> Option<Prompt> {
        read(&self.shared.cache).get(env)?.get(id).cloned()
    }

    fn keep(&self, prompt: &Prompt) {
        write(&self.shared.cache)
            .entry(prompt.environment().to_owned())
            .or_default()
            .insert(prompt.id().to_owned(), prompt.clone());
    }

    /// Keeps a prompt fetched from the registry in memory and in the snapshot.
    fn remember(&self, prompt: &Prompt) {
        self.keep(prompt);
        if let Some(snapshot) = &self.shared.snapshot {
            snapshot.save(prompt.resolved());
        }
    }

    fn last_good(&self, env: &str, id: &str) -> Option<Prompt> {
        if let Some(p) = read(&self.shared.fallback).get(env).and_then(|m| m.get(id)) {
            return Some(p.clone());
        }
        let resolved = self.shared.snapshot.as_ref()?.load(env, id)?;
        // A copy that no longer checks out (damaged on disk) is no copy.
        Prompt::from_resolved(resolved).ok()
    }
}

/// `client.prompt(id).env(env)`: which prompt, from which environment.
#[derive(Debug, Clone, Copy)]
pub struct PromptRequest<'a> {
    client: &'a Client,
    id: &'a str,
    env: &'a str,
}

impl<'a> PromptRequest<'a> {
    /// The environment to read (default `prod`).
    pub fn env(mut self, env: &'a str) -> Self {
        self.env = env;
        self
    }

    /// What the environment serves: from memory when it is there (no I/O), else from
    /// the registry within the client's budget, else the last good copy.
    pub async fn get(self) -> Result<Prompt, SdkError> {
        let client = self.client;
        if let Some(hit) = client.cached(self.env, self.id) {
            return Ok(hit);
        }
        let Some(remote) = &client.shared.remote else {
            let held: Vec<String> = read(&client.shared.cache).keys().cloned().collect();
            return Err(SdkError::NotFound {
                id: self.id.to_owned(),
                environment: self.env.to_owned(),
                detail: format!("the bundle holds {} only", held.join(", ")),
            });
        };
        let fetched = tokio::time::timeout(remote.timeout, remote.fetch(self.env, self.id, None))
            .await
            .unwrap_or_else(|_| {
                Err(Fetch::Failed(format!(
                    "no answer within {:?}",
                    remote.timeout
                )))
            });
        match fetched {
            Ok(Some(prompt)) => {
                client.remember(&prompt);
                watch::follow(client, self.env);
                Ok(prompt)
            }
            Ok(None) => unreachable_not_modified(self.id),
            Err(Fetch::NotFound(detail)) => Err(SdkError::NotFound {
                id: self.id.to_owned(),
                environment: self.env.to_owned(),
                detail,
            }),
            Err(Fetch::Refused(detail)) => Err(SdkError::Unauthorized(detail)),
            Err(Fetch::Invalid(e)) => Err(e),
            Err(Fetch::Failed(reason)) => match client.last_good(self.env, self.id) {
                Some(copy) => {
                    // Served now; kept current once the registry answers again.
                    client.keep(&copy);
                    watch::follow(client, self.env);
                    Ok(copy)
                }
                None => Err(SdkError::Unavailable {
                    id: self.id.to_owned(),
                    environment: self.env.to_owned(),
                    budget: remote.timeout,
                    reason,
                }),
            },
        }
    }
}

fn unreachable_not_modified(id: &str) -> Result<Prompt, SdkError> {
    // A fetch without an ETag is never answered 304; say so rather than panic.
    Err(SdkError::invalid(
        id,
        "the registry answered 304 to a request without an ETag".into(),
    ))
}

/// How a fetch ended when it gave no prompt.
enum Fetch {
    NotFound(String),
    Refused(String),
    Invalid(SdkError),
    /// No usable answer: unreachable, timed out, 5xx.
    Failed(String),
}

impl Remote {
    /// The project: the configured one, else the API key's (asked once).
    async fn project(&self) -> Result<String, Fetch> {
        if let Some(p) = read(&self.project).clone() {
            return Ok(p);
        }
        let mut req = self.http.get(format!("{}/v1/auth/whoami", self.url));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| Fetch::Failed(e.to_string()))?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(Fetch::Refused(problem_detail(resp).await));
        }
        if !status.is_success() {
            return Err(Fetch::Failed(format!("whoami answered {status}")));
        }
        let who: promptops_api::WhoAmI = resp
            .json()
            .await
            .map_err(|e| Fetch::Failed(e.to_string()))?;
        let project = who.key_project.ok_or_else(|| {
            Fetch::Invalid(SdkError::Config(
                "no project: set ClientBuilder::project (the credential is not a project's API key)".into(),
            ))
        })?;
        *write(&self.project) = Some(project.clone());
        Ok(project)
    }

    /// Fetches what `env` serves for `id`; `Ok(None)`: still `etag` (304).
    async fn fetch(
        &self,
        env: &str,
        id: &str,
        etag: Option<&str>,
    ) -> Result<Option<Prompt>, Fetch> {
        let project = self.project().await?;
        let url = format!(
            "{}/v1/projects/{}/environments/{}/prompts/{}",
            self.url,
            crate::seg(&project),
            crate::seg(env),
            crate::seg(id)
        );
        let mut req = self.http.get(url);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        if let Some(etag) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, format!("\"{etag}\""));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Fetch::Failed(crate::error_chain(&e)))?;
        let status = resp.status();
        match status.as_u16() {
            304 => Ok(None),
            200..=299 => {
                let resolved: Resolved = resp
                    .json()
                    .await
                    .map_err(|e| Fetch::Failed(format!("an unreadable answer: {e}")))?;
                Prompt::from_resolved(resolved)
                    .map(Some)
                    .map_err(Fetch::Invalid)
            }
            404 => Err(Fetch::NotFound(problem_detail(resp).await)),
            401 | 403 => Err(Fetch::Refused(problem_detail(resp).await)),
            _ => Err(Fetch::Failed(format!(
                "HTTP {status}: {}",
                problem_detail(resp).await
            ))),
        }
    }
}

async fn problem_detail(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|p| p.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(300).collect())
}
