//! Model providers. Each turns a rendered prompt into a [`Response`] over the provider's
//! real wire format; failures are responses with `error` set (an error row), never panics.

mod anthropic;
mod chat_prompt;
mod exec;
mod openai;
mod retry;

use crate::pricing::{ModelPrice, NanoUsd, PriceTable};
use crate::suite::ProviderSpec;
use serde_json::{Map, Value as Json};
use std::sync::Arc;
use std::time::Duration;

/// Checks a provider id when the suite is loaded, so typos fail before any call.
pub fn check_id(id: &str) -> Result<(), String> {
    Kind::parse(id).map(|_| ())
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    OpenAiChat { model: String },
    OpenAiEmbedding { model: String },
    Anthropic { model: String },
    Exec { command: String },
    Echo,
}

impl Kind {
    fn parse(id: &str) -> Result<Kind, String> {
        let parts: Vec<&str> = id.splitn(3, ':').collect();
        let kind = match parts.as_slice() {
            ["echo"] => Kind::Echo,
            ["openai", "chat", model] => Kind::OpenAiChat {
                model: (*model).to_owned(),
            },
            ["openai", "chat"] => Kind::OpenAiChat {
                model: "gpt-4o-mini".into(),
            },
            ["openai", "embedding" | "embeddings", model] => Kind::OpenAiEmbedding {
                model: (*model).to_owned(),
            },
            ["openai", "embedding" | "embeddings"] => Kind::OpenAiEmbedding {
                model: "text-embedding-3-large".into(),
            },
            ["openai", kind, _] if ["completion", "responses"].contains(kind) => {
                return Err(format!(
                    "provider `{id}`: the OpenAI {kind} API is not supported yet; use `openai:chat:<model>`"
                ));
            }
            ["openai", model] => Kind::OpenAiChat {
                model: (*model).to_owned(),
            },
            ["openai", model, rest] => Kind::OpenAiChat {
                model: format!("{model}:{rest}"),
            },
            ["anthropic", "messages", model] => Kind::Anthropic {
                model: (*model).to_owned(),
            },
            ["anthropic", model] if model.starts_with("claude") => Kind::Anthropic {
                model: (*model).to_owned(),
            },
            ["exec", ..] => Kind::Exec {
                command: id["exec:".len()..].trim().to_owned(),
            },
            _ => {
                return Err(format!(
                    "unknown provider `{id}`; promptops knows `openai:chat:<model>` (also any OpenAI-compatible server via `apiBaseUrl`), `anthropic:messages:<model>`, `exec:<command>` and `echo`"
                ));
            }
        };
        Ok(kind)
    }
}

/// Token counts of a call, as promptfoo reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
    pub cached: u64,
    pub num_requests: u64,
}

/// The HTTP exchange behind a response, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpMeta {
    pub status: u16,
    pub status_text: String,
    /// Name and value of each response header (owned: header values would otherwise
    /// keep the connection's read buffer alive for as long as the row).
    pub headers: Vec<(String, String)>,
}

impl HttpMeta {
    /// The headers as a JSON map (names lower-case), for reports.
    pub fn headers_json(&self) -> Map<String, Json> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect()
    }

    pub fn new(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> HttpMeta {
        HttpMeta {
            status: status.as_u16(),
            status_text: status_text(status),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub output: Option<Json>,
    pub error: Option<String>,
    pub token_usage: TokenUsage,
    /// Normalised: `stop`, `length`, `tool_calls`, `content_filter`, ...
    pub finish_reason: Option<String>,
    pub cost: Option<NanoUsd>,
    pub http: Option<HttpMeta>,
    /// OpenAI-style responses carry `guardrails: {flagged: false}` in promptfoo's output.
    pub guardrails: bool,
}

impl Response {
    fn error(message: impl Into<String>) -> Response {
        Response {
            error: Some(message.into()),
            token_usage: TokenUsage {
                num_requests: 1,
                ..TokenUsage::default()
            },
            ..Response::default()
        }
    }
}

/// What a provider needs beyond its own config.
#[derive(Clone)]
pub struct Shared {
    pub http: reqwest::Client,
    pub prices: Arc<PriceTable>,
    /// The suite's `env:` over the process environment.
    pub env: Arc<Map<String, Json>>,
    pub timeout: Duration,
}

impl Shared {
    pub fn new(
        prices: Arc<PriceTable>,
        env: Map<String, Json>,
        timeout: Duration,
    ) -> Result<Shared, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(Shared {
            http,
            prices,
            env: Arc::new(env),
            timeout,
        })
    }

    /// A setting from the suite's `env:`, else the process environment.
    pub fn env_var(&self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) if !other.is_null() => Some(other.to_string()),
            _ => std::env::var(name).ok(),
        }
    }
}

/// A configured provider, ready to call.
pub struct Provider {
    pub spec: ProviderSpec,
    kind: Kind,
    shared: Shared,
    /// The model's price, looked up once (`None`: unknown model, so cost is unknown).
    price: Option<ModelPrice>,
}

impl Provider {
    pub fn new(spec: ProviderSpec, shared: Shared) -> Result<Provider, String> {
        let kind = Kind::parse(&spec.id)?;
        let price = match &kind {
            Kind::OpenAiChat { model } | Kind::OpenAiEmbedding { model } => {
                shared.prices.lookup(Some("openai"), model)
            }
            Kind::Anthropic { model } => shared.prices.lookup(Some("anthropic"), model),
            Kind::Exec { .. } | Kind::Echo => None,
        };
        let provider = Provider {
            spec,
            kind,
            shared,
            price,
        };
        provider.preflight()?;
        Ok(provider)
    }

    /// Fails before the run when a credential is missing (promptfoo: "Missing required API keys").
    fn preflight(&self) -> Result<(), String> {
        let has = |key: &str, env: &str| {
            self.spec.config.get(key).and_then(Json::as_str).is_some()
                || self.shared.env_var(env).is_some()
        };
        match &self.kind {
            Kind::OpenAiChat { .. } | Kind::OpenAiEmbedding { .. }
                if !has("apiKey", "OPENAI_API_KEY") =>
            {
                Err(format!(
                    "provider `{}`: no API key; set OPENAI_API_KEY or `config.apiKey`",
                    self.spec.id
                ))
            }
            Kind::Anthropic { .. } if !has("apiKey", "ANTHROPIC_API_KEY") => Err(format!(
                "provider `{}`: no API key; set ANTHROPIC_API_KEY or `config.apiKey`",
                self.spec.id
            )),
            _ => Ok(()),
        }
    }

    /// The identity reports show: the label, else the id.
    pub fn display_name(&self) -> &str {
        if self.spec.label.is_empty() {
            &self.spec.reported_id
        } else {
            &self.spec.label
        }
    }

    /// Calls the provider. `options` are the test's options, which override the
    /// provider config key by key (as in promptfoo).
    pub async fn call(
        &self,
        prompt: &str,
        vars: &Map<String, Json>,
        options: &Map<String, Json>,
    ) -> Response {
        let overrides = options.keys().any(|k| k != "repeat");
        let config: std::borrow::Cow<'_, Map<String, Json>> = if overrides {
            let mut merged = self.spec.config.clone();
            for (k, v) in options.iter().filter(|(k, _)| *k != "repeat") {
                merged.insert(k.clone(), v.clone());
            }
            std::borrow::Cow::Owned(merged)
        } else {
            std::borrow::Cow::Borrowed(&self.spec.config)
        };
        match &self.kind {
            Kind::Echo => Response {
                output: Some(Json::String(prompt.to_owned())),
                token_usage: TokenUsage {
                    num_requests: 1,
                    ..TokenUsage::default()
                },
                cost: Some(NanoUsd::ZERO),
                ..Response::default()
            },
            Kind::OpenAiChat { model } => {
                openai::call(&self.shared, &config, model, self.price, prompt).await
            }
            Kind::Anthropic { model } => {
                anthropic::call(&self.shared, &config, model, self.price, prompt).await
            }
            Kind::Exec { command } => {
                exec::call(&self.shared, command, prompt, &config, vars).await
            }
            Kind::OpenAiEmbedding { .. } => Response::error(format!(
                "provider `{}` makes embeddings, not answers; use it as a grader for `similar`",
                self.spec.id
            )),
        }
    }

    /// Whether this provider makes embeddings (for `similar`, `answer-relevance`).
    pub fn is_embedding(&self) -> bool {
        matches!(self.kind, Kind::OpenAiEmbedding { .. })
    }

    /// The embedding of `text`, with the call's token usage.
    pub async fn embed(&self, text: &str) -> Result<(Vec<f64>, TokenUsage), String> {
        match &self.kind {
            Kind::OpenAiEmbedding { model } => {
                openai::embed(&self.shared, &self.spec.config, model, text).await
            }
            _ => Err(format!(
                "Provider {} is not a valid embedding provider",
                self.spec.id
            )),
        }
    }
}

/// promptfoo's normalised finish reasons.
pub fn normalize_finish_reason(reason: &str) -> String {
    match reason {
        "stop" | "end_turn" | "stop_sequence" => "stop".into(),
        "length" | "max_tokens" | "model_context_window_exceeded" => "length".into(),
        "tool_calls" | "function_call" | "tool_use" => "tool_calls".into(),
        "content_filter" | "refusal" => "content_filter".into(),
        other => other.to_lowercase(),
    }
}

fn status_text(status: reqwest::StatusCode) -> String {
    status.canonical_reason().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids() {
        assert_eq!(
            Kind::parse("openai:chat:gpt-4o").unwrap(),
            Kind::OpenAiChat {
                model: "gpt-4o".into()
            }
        );
        assert_eq!(
            Kind::parse("openai:gpt-4").unwrap(),
            Kind::OpenAiChat {
                model: "gpt-4".into()
            }
        );
        assert_eq!(
            Kind::parse("anthropic:messages:claude-sonnet-4-20250514").unwrap(),
            Kind::Anthropic {
                model: "claude-sonnet-4-20250514".into()
            }
        );
        assert_eq!(
            Kind::parse("anthropic:claude-3-5-sonnet").unwrap(),
            Kind::Anthropic {
                model: "claude-3-5-sonnet".into()
            }
        );
        assert_eq!(
            Kind::parse("exec: python3 run.py").unwrap(),
            Kind::Exec {
                command: "python3 run.py".into()
            }
        );
        assert_eq!(Kind::parse("echo").unwrap(), Kind::Echo);
        assert!(
            Kind::parse("opnai:gpt-4")
                .unwrap_err()
                .contains("unknown provider")
        );
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(normalize_finish_reason("end_turn"), "stop");
        assert_eq!(normalize_finish_reason("max_tokens"), "length");
        assert_eq!(normalize_finish_reason("tool_use"), "tool_calls");
        assert_eq!(normalize_finish_reason("Weird"), "weird");
    }
}
