//! `[server]`: how `promptops serve` runs. One struct, filled from built-in defaults,
//! then `promptops.toml`, then `PROMPTOPS_*` variables, then the command's flags.
//! `promptops config show` prints it with passwords in URLs redacted.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A version's content may be this large unless the server is told otherwise.
pub const DEFAULT_MAX_VERSION_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (`PROMPTOPS_ADDR`, `--addr`).
    pub addr: String,
    /// `postgres://user@host:port/db`, or `sqlite://PATH`; none: SQLite in
    /// `.promptops/registry.db` (`PROMPTOPS_DATABASE_URL`, `--database-url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// PostgreSQL: keep the registry's tables in this schema (`PROMPTOPS_DATABASE_SCHEMA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_schema: Option<String>,
    /// Connections to SQLite (`PROMPTOPS_SQLITE_POOL_SIZE`).
    pub sqlite_pool_size: u32,
    /// Connections to PostgreSQL, per replica (`PROMPTOPS_POSTGRES_POOL_SIZE`).
    pub postgres_pool_size: u32,
    /// Redis for the shared delivery cache and cross-replica invalidation
    /// (`PROMPTOPS_REDIS_URL`, `--redis-url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// The largest request body, in bytes (`PROMPTOPS_BODY_LIMIT_BYTES`).
    pub body_limit_bytes: usize,
    /// The largest eval run upload (it carries the whole report)
    /// (`PROMPTOPS_EVAL_BODY_LIMIT_BYTES`).
    pub eval_body_limit_bytes: usize,
    /// The most content one version may hold, aliases expanded
    /// (`PROMPTOPS_MAX_VERSION_BYTES`, `--max-version-bytes`).
    pub max_version_bytes: usize,
    /// `text` or `json` lines on stderr (`PROMPTOPS_LOG_FORMAT`, `--log-format`).
    pub log_format: LogFormat,
    /// `off`, `error`, `warn`, `info` or `debug` (`PROMPTOPS_LOG`).
    pub log_level: LogLevel,
    /// The token signing key file; default beside the SQLite database, else
    /// `.promptops/jwt-secret` (`PROMPTOPS_JWT_SECRET_FILE`, `--jwt-secret-file`).
    /// `PROMPTOPS_JWT_SECRET` itself is never read from a file of settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret_file: Option<PathBuf>,
    /// The audit checkpoint signing key file (an Ed25519 seed, hex); default beside the
    /// token signing key as `checkpoint-key` (`PROMPTOPS_CHECKPOINT_KEY_FILE`).
    /// `PROMPTOPS_CHECKPOINT_KEY` (the seed itself) wins over the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_key_file: Option<PathBuf>,
    /// Seconds between signed audit checkpoints (one is signed only when the log grew);
    /// 0 signs only on `POST /v1/audit/checkpoints` (`PROMPTOPS_CHECKPOINT_INTERVAL_SECS`).
    pub checkpoint_interval_secs: u64,
    /// Behind a reverse proxy: the client's address is the last `X-Forwarded-For`
    /// entry (`PROMPTOPS_TRUST_FORWARDED_FOR`, `--trust-forwarded-for`).
    pub trust_forwarded_for: bool,
    /// How often a replica reads the change feed from the database when nothing
    /// announced a change (the fallback when Redis is away), in milliseconds
    /// (`PROMPTOPS_FEED_POLL_MS`).
    pub feed_poll_ms: u64,
    /// One in this many successful delivery reads is written to the access log (every
    /// other request and every error always is) (`PROMPTOPS_ACCESS_LOG_SAMPLE`).
    pub access_log_sample: u64,
    /// Seconds between the watch stream's heartbeats (`PROMPTOPS_WATCH_HEARTBEAT_SECS`).
    pub watch_heartbeat_secs: u64,
    /// Label moves kept for a watcher that has not read them yet; one that falls further
    /// behind is disconnected and resumes with `Last-Event-ID`
    /// (`PROMPTOPS_WATCH_BUFFER`).
    pub watch_buffer: usize,
    /// Outbound webhooks: the wait before each retry of a delivery that failed, in
    /// milliseconds; a delivery is tried once, then once after each wait, then marked
    /// failed. Each wait is jittered by up to ±20% (`PROMPTOPS_WEBHOOK_RETRY_MS`,
    /// comma-separated).
    pub webhook_retry_ms: Vec<u64>,
    /// How long a receiver may take to answer, in milliseconds
    /// (`PROMPTOPS_WEBHOOK_TIMEOUT_MS`).
    pub webhook_timeout_ms: u64,
    /// Let webhooks reach loopback, private, link-local and other non-public addresses
    /// (`PROMPTOPS_WEBHOOK_ALLOW_PRIVATE`). Off by default: a project admin could
    /// otherwise make the server probe its own network (SSRF). Turn on for receivers
    /// inside your network, and for local testing.
    pub webhook_allow_private: bool,
    /// Send traces and metrics to this OpenTelemetry collector's OTLP/HTTP base URL
    /// (`http://127.0.0.1:4318`): the server's own requests and every execution event
    /// as a GenAI span (`PROMPTOPS_OTLP_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`;
    /// `--otlp-endpoint`). None: nothing is exported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Seconds between evaluations of every project's alert rules; 0 turns the
    /// background evaluation off (`POST …/alerts/evaluate` still works)
    /// (`PROMPTOPS_ALERT_INTERVAL_SECS`).
    pub alert_interval_secs: u64,
    /// The eval providers the web UI's playground may run a draft against
    /// (`openai:chat:gpt-4o-mini`; their keys and base URLs come from the server's
    /// environment, as for `promptops eval`) (`PROMPTOPS_PLAYGROUND_PROVIDERS`, comma
    /// separated). None: the playground is off.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub playground_providers: Vec<String>,
    /// The Langfuse-compatible prompt API (`[server.langfuse]`).
    pub langfuse: LangfuseSettings,
}

/// `[server.langfuse]`: how environments appear as Langfuse labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LangfuseSettings {
    /// Environment → label, for environments whose label is not their own name
    /// (`PROMPTOPS_LANGFUSE_LABELS=prod=production,staging=preview`). Default
    /// `{prod = "production"}`, the label Langfuse SDKs ask for by default; giving the
    /// table replaces the default, so keep `prod = "production"` in it.
    pub labels: BTreeMap<String, String>,
}

impl Default for LangfuseSettings {
    fn default() -> Self {
        LangfuseSettings {
            labels: BTreeMap::from([("prod".to_owned(), "production".to_owned())]),
        }
    }
}

impl LangfuseSettings {
    /// The label environment `env` appears as.
    pub fn label_of<'a>(&'a self, env: &'a str) -> &'a str {
        self.labels.get(env).map_or(env, String::as_str)
    }

    /// The environment `label` names: the one mapped to it, else the environment of that
    /// name unless it is mapped to another label (`None`: `prod` once `prod` appears as
    /// `production`). Whether the project has that environment is the caller's check.
    pub fn environment_of<'a>(&'a self, label: &'a str) -> Option<&'a str> {
        if let Some((env, _)) = self.labels.iter().find(|(_, l)| l.as_str() == label) {
            return Some(env);
        }
        (!self.labels.contains_key(label)).then_some(label)
    }

    /// Refuses a mapping that makes a label ambiguous or takes the reserved `latest`.
    pub fn check(&self) -> Result<(), String> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (env, label) in &self.labels {
            if env.trim().is_empty() || label.trim().is_empty() {
                return Err(format!(
                    "[server.langfuse] labels: `{env}` = `{label}`: environment and label must not be empty"
                ));
            }
            if label == "latest" {
                return Err(format!(
                    "[server.langfuse] labels: `{env}` = \"latest\": `latest` always names a prompt's newest version; choose another label"
                ));
            }
            if let Some(other) = seen.insert(label, env) {
                return Err(format!(
                    "[server.langfuse] labels: `{other}` and `{env}` both map to `{label}`; a label names one environment"
                ));
            }
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:8080".into(),
            database_url: None,
            database_schema: None,
            sqlite_pool_size: 8,
            postgres_pool_size: 16,
            redis_url: None,
            body_limit_bytes: 1024 * 1024,
            eval_body_limit_bytes: 64 * 1024 * 1024,
            max_version_bytes: DEFAULT_MAX_VERSION_BYTES,
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
            jwt_secret_file: None,
            checkpoint_key_file: None,
            checkpoint_interval_secs: 300,
            trust_forwarded_for: false,
            feed_poll_ms: 250,
            access_log_sample: 100,
            watch_heartbeat_secs: 15,
            watch_buffer: 1024,
            webhook_retry_ms: vec![1_000, 5_000, 30_000, 120_000, 600_000],
            webhook_timeout_ms: 10_000,
            webhook_allow_private: false,
            otlp_endpoint: None,
            alert_interval_secs: 60,
            playground_providers: Vec::new(),
            langfuse: LangfuseSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl ServerConfig {
    /// Applies the `PROMPTOPS_*` variables that name server settings.
    pub fn apply_env(&mut self, lookup: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(v) = var("PROMPTOPS_ADDR") {
            self.addr = v;
        }
        if let Some(v) = var("PROMPTOPS_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("PROMPTOPS_DATABASE_SCHEMA") {
            self.database_schema = Some(v);
        }
        if let Some(v) = var("PROMPTOPS_REDIS_URL") {
            self.redis_url = Some(v);
        }
        if let Some(v) =
            var("PROMPTOPS_OTLP_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            self.otlp_endpoint = Some(v);
        }
        if let Some(v) = var("PROMPTOPS_PLAYGROUND_PROVIDERS") {
            self.playground_providers = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = var("PROMPTOPS_JWT_SECRET_FILE") {
            self.jwt_secret_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("PROMPTOPS_CHECKPOINT_KEY_FILE") {
            self.checkpoint_key_file = Some(PathBuf::from(v));
        }
        number(
            &var,
            "PROMPTOPS_CHECKPOINT_INTERVAL_SECS",
            &mut self.checkpoint_interval_secs,
        )?;
        number(
            &var,
            "PROMPTOPS_SQLITE_POOL_SIZE",
            &mut self.sqlite_pool_size,
        )?;
        number(
            &var,
            "PROMPTOPS_POSTGRES_POOL_SIZE",
            &mut self.postgres_pool_size,
        )?;
        number(
            &var,
            "PROMPTOPS_BODY_LIMIT_BYTES",
            &mut self.body_limit_bytes,
        )?;
        number(
            &var,
            "PROMPTOPS_EVAL_BODY_LIMIT_BYTES",
            &mut self.eval_body_limit_bytes,
        )?;
        number(
            &var,
            "PROMPTOPS_MAX_VERSION_BYTES",
            &mut self.max_version_bytes,
        )?;
        number(&var, "PROMPTOPS_FEED_POLL_MS", &mut self.feed_poll_ms)?;
        number(
            &var,
            "PROMPTOPS_ACCESS_LOG_SAMPLE",
            &mut self.access_log_sample,
        )?;
        number(
            &var,
            "PROMPTOPS_WATCH_HEARTBEAT_SECS",
            &mut self.watch_heartbeat_secs,
        )?;
        number(&var, "PROMPTOPS_WATCH_BUFFER", &mut self.watch_buffer)?;
        number(
            &var,
            "PROMPTOPS_WEBHOOK_TIMEOUT_MS",
            &mut self.webhook_timeout_ms,
        )?;
        number(
            &var,
            "PROMPTOPS_ALERT_INTERVAL_SECS",
            &mut self.alert_interval_secs,
        )?;
        if let Some(v) = var("PROMPTOPS_WEBHOOK_RETRY_MS") {
            self.webhook_retry_ms = v
                .split(',')
                .map(|w| w.trim().parse::<u64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    format!(
                        "PROMPTOPS_WEBHOOK_RETRY_MS is `{v}`; use whole milliseconds separated by commas (1000,5000,30000)"
                    )
                })?;
        }
        if let Some(v) = var("PROMPTOPS_LANGFUSE_LABELS") {
            self.langfuse.labels = v
                .split(',')
                .filter(|pair| !pair.trim().is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((env, label)) if !env.trim().is_empty() && !label.trim().is_empty() => {
                        Ok((env.trim().to_owned(), label.trim().to_owned()))
                    }
                    _ => Err(format!(
                        "PROMPTOPS_LANGFUSE_LABELS has `{pair}`; use ENV=LABEL pairs separated by commas (prod=production,staging=preview)"
                    )),
                })
                .collect::<Result<_, _>>()?;
            self.langfuse.check()?;
        }
        if let Some(v) = var("PROMPTOPS_WEBHOOK_ALLOW_PRIVATE") {
            self.webhook_allow_private = parse_bool("PROMPTOPS_WEBHOOK_ALLOW_PRIVATE", &v)?;
        }
        if let Some(v) = var("PROMPTOPS_TRUST_FORWARDED_FOR") {
            self.trust_forwarded_for = parse_bool("PROMPTOPS_TRUST_FORWARDED_FOR", &v)?;
        }
        if let Some(v) = var("PROMPTOPS_LOG_FORMAT") {
            self.log_format = named("PROMPTOPS_LOG_FORMAT", &v, "text or json")?;
        }
        if let Some(v) = var("PROMPTOPS_LOG") {
            self.log_level = named("PROMPTOPS_LOG", &v, "off, error, warn, info or debug")?;
        }
        Ok(())
    }

    /// The settings as `promptops config show` prints them: passwords in URLs replaced.
    pub fn redacted(&self) -> ServerConfig {
        ServerConfig {
            database_url: self.database_url.as_deref().map(redact_url),
            redis_url: self.redis_url.as_deref().map(redact_url),
            otlp_endpoint: self.otlp_endpoint.as_deref().map(redact_url),
            ..self.clone()
        }
    }
}

fn number<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    into: &mut T,
) -> Result<(), String> {
    if let Some(v) = var(name) {
        *into = v
            .trim()
            .parse()
            .map_err(|_| format!("{name} is `{v}`; use a whole number"))?;
    }
    Ok(())
}

pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" | "" => Ok(false),
        other => Err(format!("{name} is `{other}`; use true or false")),
    }
}

fn named<T: serde::de::DeserializeOwned>(
    name: &str,
    value: &str,
    choices: &str,
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.trim().to_lowercase()))
        .map_err(|_| format!("{name} is `{value}`; use {choices}"))
}

/// A URL with the password part of its user info replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => {
            format!("{}{user}:***@{}", &url[..scheme_end + 3], &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted_and_nothing_else() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/reg"),
            "postgres://app:***@db:5432/reg"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact_url("postgres://db/reg"), "postgres://db/reg");
        assert_eq!(redact_url("sqlite://./a@b.db"), "sqlite://./a@b.db");
    }

    #[test]
    fn langfuse_labels_map_environments_both_ways() {
        let s = LangfuseSettings::default();
        assert_eq!(s.label_of("prod"), "production");
        assert_eq!(s.label_of("staging"), "staging");
        assert_eq!(s.environment_of("production"), Some("prod"));
        assert_eq!(s.environment_of("dev"), Some("dev"));
        assert_eq!(s.environment_of("prod"), None);
        let mut c = ServerConfig::default();
        let env = |k: &str| {
            (k == "PROMPTOPS_LANGFUSE_LABELS").then(|| "prod=live, dev=development".to_owned())
        };
        c.apply_env(&env).unwrap();
        assert_eq!(c.langfuse.environment_of("live"), Some("prod"));
        assert_eq!(c.langfuse.environment_of("production"), Some("production"));
        assert_eq!(c.langfuse.label_of("dev"), "development");
        let bad = |k: &str| (k == "PROMPTOPS_LANGFUSE_LABELS").then(|| "prod=a,dev=a".to_owned());
        let e = ServerConfig::default().apply_env(&bad).unwrap_err();
        assert!(e.contains("both map to `a`"), "{e}");
        let bad = |k: &str| (k == "PROMPTOPS_LANGFUSE_LABELS").then(|| "prod".to_owned());
        assert!(ServerConfig::default().apply_env(&bad).is_err());
        let latest = LangfuseSettings {
            labels: BTreeMap::from([("prod".to_owned(), "latest".to_owned())]),
        };
        assert!(latest.check().unwrap_err().contains("newest version"));
    }

    #[test]
    fn environment_overrides_and_bad_values_name_the_variable() {
        let mut s = ServerConfig::default();
        let env = |k: &str| match k {
            "PROMPTOPS_MAX_VERSION_BYTES" => Some("2048".to_owned()),
            "PROMPTOPS_LOG_FORMAT" => Some("JSON".to_owned()),
            "PROMPTOPS_TRUST_FORWARDED_FOR" => Some("true".to_owned()),
            _ => None,
        };
        s.apply_env(&env).unwrap();
        assert_eq!(s.max_version_bytes, 2048);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.trust_forwarded_for);
        let bad = |k: &str| (k == "PROMPTOPS_POSTGRES_POOL_SIZE").then(|| "many".to_owned());
        let e = ServerConfig::default().apply_env(&bad).unwrap_err();
        assert!(e.contains("PROMPTOPS_POSTGRES_POOL_SIZE is `many`"), "{e}");
    }
}
