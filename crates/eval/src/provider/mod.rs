//! Model providers. Each turns a rendered prompt into a [`Response`] over the provider's
//! real wire format; failures are responses with `error` set (an error row), never panics.

mod anthropic;
mod azure;
mod bedrock;
pub mod cache;
mod chat_prompt;
mod exec;
mod gemini;
pub mod http;
mod ollama;
mod openai;
pub mod rate_limit;
mod retry;
pub mod sigv4;

pub use cache::ResponseCache;
pub use rate_limit::RateLimiter;

use crate::pricing::{ModelPrice, NanoUsd, PriceTable};
use crate::suite::ProviderSpec;
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Checks a provider id when the suite is loaded, so typos fail before any call.
pub fn check_id(id: &str) -> Result<(), String> {
    Kind::parse(id).map(|_| ())
}

/// The provider families. `Http` holds the endpoint when the id is its URL (`http` and
/// `https` ids take it from `config.url`).
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    OpenAiChat {
        model: String,
    },
    /// An OpenAI-compatible service with its own prefix (`mistral:`, `openrouter:`,
    /// `togetherai:`, `groq:`).
    OpenAiPreset {
        model: String,
        preset: &'static openai::Preset,
    },
    OpenAiEmbedding {
        model: String,
    },
    Anthropic {
        model: String,
    },
    Azure {
        deployment: String,
    },
    Gemini {
        model: String,
    },
    Bedrock {
        model: String,
    },
    Ollama {
        model: String,
        api: ollama::Api,
    },
    Exec {
        command: String,
    },
    Http {
        url: Option<String>,
    },
    Echo,
}

/// Bedrock APIs other than Converse and InvokeModel, named as promptfoo's id types.
const BEDROCK_OTHER_APIS: &[&str] = &[
    "messages",
    "embedding",
    "embeddings",
    "kb",
    "agents",
    "image",
    "video",
    "nova-sonic",
    "mantle",
    "responses",
];

impl Kind {
    fn parse(id: &str) -> Result<Kind, String> {
        if id == "http" || id == "https" {
            return Ok(Kind::Http { url: None });
        }
        if id.starts_with("http://") || id.starts_with("https://") {
            return Ok(Kind::Http {
                url: Some(id.to_owned()),
            });
        }
        let parts: Vec<&str> = id.splitn(3, ':').collect();
        // Everything after `prefix:`, for ids whose model names hold colons.
        let rest = |prefix: &str| id[prefix.len() + 1..].to_owned();
        let preset =
            |model: String, preset: &'static openai::Preset| Kind::OpenAiPreset { model, preset };
        let unsupported = |what: &str, instead: &str| {
            Err(format!(
                "provider `{id}`: {what} is not supported yet; use {instead}"
            ))
        };
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
            ["azure" | "azureopenai", "chat", deployment] if !deployment.is_empty() => {
                Kind::Azure {
                    deployment: (*deployment).to_owned(),
                }
            }
            ["azure" | "azureopenai", "chat", ..] => {
                return Err(format!(
                    "provider `{id}`: Azure chat needs a deployment name: `azure:chat:<deployment>`"
                ));
            }
            ["azure" | "azureopenai", kind, ..] => {
                return unsupported(
                    &format!("the Azure `{kind}` API"),
                    "`azure:chat:<deployment>`",
                );
            }
            // promptfoo 0.123.1 reads `google:chat:<model>` as the model `chat`; the
            // model is what is meant.
            ["google", "chat", model] => Kind::Gemini {
                model: (*model).to_owned(),
            },
            ["google", kind, _]
                if ["embedding", "embeddings", "image", "live", "video"].contains(kind) =>
            {
                return unsupported(&format!("Google's `{kind}` API"), "`google:<model>`");
            }
            ["google", model, ..] => Kind::Gemini {
                model: (*model).to_owned(),
            },
            ["vertex" | "palm", ..] => {
                return unsupported(
                    "Vertex AI (it signs in with Google Cloud OAuth)",
                    "`google:<model>` with a Gemini API key (GOOGLE_API_KEY)",
                );
            }
            ["bedrock", "converse" | "completion", model] => Kind::Bedrock {
                model: (*model).to_owned(),
            },
            ["bedrock", kind, ..] if BEDROCK_OTHER_APIS.contains(kind) => {
                return unsupported(
                    &format!("Bedrock's `{kind}` API"),
                    "`bedrock:converse:<modelId>`",
                );
            }
            ["bedrock", _, ..] => Kind::Bedrock {
                model: rest("bedrock"),
            },
            ["ollama", "chat", model] => Kind::Ollama {
                model: (*model).to_owned(),
                api: ollama::Api::Chat,
            },
            ["ollama", "completion", model] => Kind::Ollama {
                model: (*model).to_owned(),
                api: ollama::Api::Generate,
            },
            ["ollama", "embedding" | "embeddings", ..] => {
                return unsupported(
                    "Ollama embeddings",
                    "`ollama:chat:<model>` or `ollama:<model>`",
                );
            }
            ["ollama", _, ..] => Kind::Ollama {
                model: rest("ollama"),
                api: ollama::Api::Generate,
            },
            ["mistral", "embedding" | "embeddings", ..] => {
                return unsupported("Mistral embeddings", "`mistral:<model>`");
            }
            ["mistral", _, model] => preset((*model).to_owned(), &openai::MISTRAL),
            ["mistral", model] => preset((*model).to_owned(), &openai::MISTRAL),
            ["openrouter", _, ..] => preset(rest("openrouter"), &openai::OPENROUTER),
            ["togetherai", "chat", model] => preset((*model).to_owned(), &openai::TOGETHER),
            [
                "togetherai",
                kind @ ("completion" | "embedding" | "embeddings"),
                ..,
            ] => {
                return unsupported(
                    &format!("Together AI's `{kind}` API"),
                    "`togetherai:<model>`",
                );
            }
            ["togetherai", _, ..] => preset(rest("togetherai"), &openai::TOGETHER),
            ["groq", "responses", ..] => {
                return unsupported("Groq's Responses API", "`groq:<model>`");
            }
            ["groq", _, ..] => preset(rest("groq"), &openai::GROQ),
            ["exec", ..] => Kind::Exec {
                command: id["exec:".len()..].trim().to_owned(),
            },
            _ => {
                return Err(format!(
                    "unknown provider `{id}`; promptops knows `openai:chat:<model>` (also any OpenAI-compatible server via `apiBaseUrl`), `anthropic:messages:<model>`, `azure:chat:<deployment>`, `google:<model>`, `bedrock:converse:<modelId>`, `ollama:chat:<model>`, `ollama:<model>`, `mistral:<model>`, `openrouter:<model>`, `togetherai:<model>`, `groq:<model>`, `exec:<command>`, `http` (or the endpoint's URL) and `echo`"
                ));
            }
        };
        let model = match &kind {
            Kind::OpenAiPreset { model, .. }
            | Kind::Gemini { model }
            | Kind::Bedrock { model }
            | Kind::Ollama { model, .. } => Some(model),
            _ => None,
        };
        if model.is_some_and(|m| m.trim().is_empty()) {
            return Err(format!("provider `{id}` names no model"));
        }
        Ok(kind)
    }
}

/// Token counts of a call, as promptfoo reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
    pub cached: u64,
    pub num_requests: u64,
}

/// The HTTP exchange behind a response, for reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Read from the response cache rather than asked of the provider.
    pub cached: bool,
    /// Time spent on this answer: the call (not its wait for a rate-limit slot), or the
    /// cache read. `None` when the caller should measure it.
    pub latency_ms: Option<u64>,
    /// The log-probability of each output token, when the provider returned them (OpenAI
    /// with `logprobs: true`): what `perplexity` assertions measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<f64>>,
}

impl Response {
    /// A stored answer as a cached one: promptfoo marks it `cached`, counts all its
    /// tokens as cached, and `latency` assertions refuse it (its latency is the read).
    fn into_cached(mut self, read: Duration) -> Response {
        self.cached = true;
        self.token_usage = cached_usage(self.token_usage);
        self.latency_ms = Some(read.as_millis() as u64);
        self
    }

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
    /// `None` when caching is off (`--no-cache`): then calls never touch the disk.
    pub cache: Option<Arc<ResponseCache>>,
    /// The suite's folder, against which `file://` paths in provider configs resolve.
    pub base_dir: Arc<PathBuf>,
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
            cache: None,
            base_dir: Arc::new(PathBuf::from(".")),
        })
    }

    /// Reads and keeps answers in `cache` (graders share it, as they share the client).
    pub fn with_cache(mut self, cache: Option<ResponseCache>) -> Shared {
        self.cache = cache.map(Arc::new);
        self
    }

    pub fn with_base_dir(mut self, dir: &Path) -> Shared {
        self.base_dir = Arc::new(dir.to_path_buf());
        self
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
    /// Paces calls when the config sets a rate; one per provider, shared by all workers.
    limiter: Option<RateLimiter>,
}

impl Provider {
    pub fn new(spec: ProviderSpec, shared: Shared) -> Result<Provider, String> {
        let kind = Kind::parse(&spec.id)?;
        let price = match &kind {
            Kind::OpenAiChat { model } | Kind::OpenAiEmbedding { model } => {
                shared.prices.lookup(Some("openai"), model)
            }
            Kind::Anthropic { model } => shared.prices.lookup(Some("anthropic"), model),
            Kind::OpenAiPreset { model, preset } => {
                shared.prices.lookup(Some(preset.price_provider), model)
            }
            // promptfoo prices an Azure call by `config.modelName`, else the deployment.
            Kind::Azure { deployment } => shared.prices.lookup(
                Some("azure"),
                spec.config
                    .get("modelName")
                    .and_then(Json::as_str)
                    .unwrap_or(deployment),
            ),
            Kind::Gemini { model } => shared.prices.lookup(Some("gemini"), model),
            Kind::Bedrock { model } => shared.prices.lookup(Some("bedrock_converse"), model),
            // A local model costs nothing promptfoo would report.
            Kind::Ollama { .. } | Kind::Exec { .. } | Kind::Http { .. } | Kind::Echo => None,
        };
        let limiter = RateLimiter::from_config(&spec.config)
            .map_err(|e| format!("provider `{}`: {e}", spec.id))?;
        let provider = Provider {
            spec,
            kind,
            shared,
            price,
            limiter,
        };
        provider.preflight()?;
        Ok(provider)
    }

    /// Fails before the run when a credential is missing (promptfoo: "Missing required API keys").
    fn preflight(&self) -> Result<(), String> {
        let config = &self.spec.config;
        // `config.apiKey`, or the variable `config.apiKeyEnvar` names (else `env`).
        let has = |key: &str, env: &str| {
            config.get(key).and_then(Json::as_str).is_some()
                || self
                    .shared
                    .env_var(
                        config
                            .get("apiKeyEnvar")
                            .and_then(Json::as_str)
                            .unwrap_or(env),
                    )
                    .is_some()
        };
        let fail = |message: String| Err(format!("provider `{}`: {message}", self.spec.id));
        match &self.kind {
            Kind::OpenAiChat { .. } | Kind::OpenAiEmbedding { .. }
                if !has("apiKey", "OPENAI_API_KEY") =>
            {
                Err(format!(
                    "provider `{}`: no API key; set OPENAI_API_KEY or `config.apiKey`",
                    self.spec.id
                ))
            }
            Kind::OpenAiPreset { preset, .. } if !has("apiKey", preset.key_env) => fail(format!(
                "no API key; set {} or `config.apiKey`",
                preset.key_env
            )),
            Kind::Azure { .. } if azure::api_key(&self.shared, config).is_none() => fail(
                "no API key; set AZURE_API_KEY (or AZURE_OPENAI_API_KEY) or `config.apiKey` (Entra ID and `az login` sign-in are not supported yet)".into(),
            ),
            Kind::Azure { .. } if azure::base_url(&self.shared, config).is_none() => fail(
                "Azure API host must be set: `config.apiHost` (xxx.openai.azure.com), `config.apiBaseUrl` or AZURE_API_HOST".into(),
            ),
            Kind::Gemini { .. } if gemini::api_key(&self.shared, config).is_none() => fail(
                "Google API key is not set. Set the GOOGLE_API_KEY or GEMINI_API_KEY environment variable or add `apiKey` to the provider config.".into(),
            ),
            Kind::Bedrock { .. } => bedrock::auth(&self.shared, config)
                .map(|_| ())
                .or_else(fail),
            Kind::Anthropic { .. } if !has("apiKey", "ANTHROPIC_API_KEY") => Err(format!(
                "provider `{}`: no API key; set ANTHROPIC_API_KEY or `config.apiKey`",
                self.spec.id
            )),
            Kind::Http { url } => http::check_config(&self.spec.config, url.as_deref())
                .map_err(|e| format!("provider `{}`: {e}", self.spec.id)),
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
    /// provider config key by key (as in promptfoo). A cached answer is returned without
    /// a call; a fresh successful one is cached.
    pub async fn call(
        &self,
        prompt: &str,
        vars: &Map<String, Json>,
        options: &Map<String, Json>,
    ) -> Response {
        let overrides = options.keys().any(|k| k != "repeat");
        let config: Cow<'_, Map<String, Json>> = if overrides {
            let mut merged = self.spec.config.clone();
            for (k, v) in options.iter().filter(|(k, _)| *k != "repeat") {
                merged.insert(k.clone(), v.clone());
            }
            Cow::Owned(merged)
        } else {
            Cow::Borrowed(&self.spec.config)
        };
        // The http provider's request is rendered first: it is what the cache key needs
        // (its templates read the vars and the environment, not just the prompt).
        let http_request = match &self.kind {
            Kind::Http { url } => {
                match http::prepare(&self.shared, &config, url.as_deref(), prompt, vars) {
                    Ok(request) => Some(request),
                    Err(e) => return Response::error(e.to_string()),
                }
            }
            _ => None,
        };
        // Nothing below touches the disk or hashes anything when caching is off.
        let cache = self.shared.cache.as_deref().filter(|_| self.cacheable());
        let key = cache.map(|_| {
            cache::KeyParts {
                operation: "call",
                provider_id: &self.spec.id,
                model: self.model(),
                config: &config,
                prompt,
                request: match &http_request {
                    Some(r) => r.identity(),
                    None => self.request_env(),
                },
            }
            .key()
        });
        if let (Some(cache), Some(key)) = (cache, &key) {
            let started = Instant::now();
            if let Some(hit) = cache.get_response(key) {
                return hit.into_cached(started.elapsed());
            }
        }
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let started = Instant::now();
        let mut response = match http_request {
            Some(request) => http::send(&self.shared, &config, request).await,
            None => self.call_provider(&config, prompt, vars).await,
        };
        response.latency_ms = Some(started.elapsed().as_millis() as u64);
        if response.error.is_none()
            && response.token_usage.total == 0
            && !matches!(self.kind, Kind::Echo | Kind::OpenAiEmbedding { .. })
        {
            self.estimate_usage(&mut response, prompt);
        }
        if let (Some(cache), Some(key)) = (cache, &key)
            && response.error.is_none()
            && response.output.is_some()
        {
            // Best effort: an unwritable cache only means the next run calls again.
            let _ = cache.put_response(key, &response);
        }
        response
    }

    /// A provider that reports no usage (`exec:`, `http`, some OpenAI-compatible
    /// servers) gets tiktoken estimates, priced when the model's price is known.
    fn estimate_usage(&self, response: &mut Response, prompt: &str) {
        let Some(output) = &response.output else {
            return;
        };
        let completion_text = match output {
            Json::String(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Owned(other.to_string()),
        };
        let prompt_tokens = crate::tokens::estimate(prompt);
        let completion_tokens = crate::tokens::estimate(&completion_text);
        response.token_usage.prompt = prompt_tokens;
        response.token_usage.completion = completion_tokens;
        response.token_usage.total = prompt_tokens + completion_tokens;
        if let Some(price) = self.price {
            response.cost = Some(price.cost(crate::pricing::Usage {
                prompt: prompt_tokens,
                completion: completion_tokens,
                cached_prompt: 0,
            }));
        }
    }

    /// Echo answers locally and exec runs a local program whose behaviour may change
    /// between runs without its command line changing: neither is worth caching.
    fn cacheable(&self) -> bool {
        !matches!(
            self.kind,
            Kind::Echo | Kind::Exec { .. } | Kind::OpenAiEmbedding { .. }
        )
    }

    /// The environment settings this provider's request depends on (the endpoint and
    /// default sampling settings), for the cache key.
    fn request_env(&self) -> Json {
        let preset_names;
        let names: &[&str] = match self.kind {
            Kind::OpenAiPreset { preset, .. } => {
                preset_names = [
                    "OPENAI_MAX_TOKENS",
                    "OPENAI_TEMPERATURE",
                    preset.host_env.unwrap_or_default(),
                    preset.base_url_env.unwrap_or_default(),
                ];
                &preset_names
            }
            Kind::OpenAiChat { .. } | Kind::OpenAiEmbedding { .. } => &[
                "OPENAI_API_HOST",
                "OPENAI_API_BASE_URL",
                "OPENAI_BASE_URL",
                "OPENAI_MAX_TOKENS",
                "OPENAI_TEMPERATURE",
            ],
            Kind::Anthropic { .. } => &[
                "ANTHROPIC_BASE_URL",
                "ANTHROPIC_MAX_TOKENS",
                "ANTHROPIC_TEMPERATURE",
            ],
            Kind::Azure { .. } => &[
                "AZURE_API_HOST",
                "AZURE_OPENAI_API_HOST",
                "AZURE_API_BASE_URL",
                "AZURE_OPENAI_API_BASE_URL",
                "AZURE_OPENAI_BASE_URL",
                "OPENAI_MAX_TOKENS",
                "OPENAI_MAX_COMPLETION_TOKENS",
                "OPENAI_TEMPERATURE",
                "OPENAI_TOP_P",
                "OPENAI_PRESENCE_PENALTY",
                "OPENAI_FREQUENCY_PENALTY",
            ],
            Kind::Gemini { .. } => &["GOOGLE_API_HOST", "PALM_API_HOST", "GOOGLE_API_BASE_URL"],
            Kind::Bedrock { .. } => &[
                "AWS_BEDROCK_REGION",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_BEDROCK_MAX_TOKENS",
                "AWS_BEDROCK_TEMPERATURE",
                "AWS_BEDROCK_TOP_P",
                "AWS_BEDROCK_STOP",
            ],
            Kind::Ollama { .. } => &["OLLAMA_BASE_URL"],
            _ => &[],
        };
        Json::Object(
            names
                .iter()
                .filter(|n| !n.is_empty())
                .filter_map(|n| Some(((*n).to_owned(), Json::String(self.shared.env_var(n)?))))
                .collect(),
        )
    }

    fn model(&self) -> Option<&str> {
        match &self.kind {
            Kind::OpenAiChat { model }
            | Kind::OpenAiPreset { model, .. }
            | Kind::OpenAiEmbedding { model }
            | Kind::Anthropic { model }
            | Kind::Gemini { model }
            | Kind::Bedrock { model }
            | Kind::Ollama { model, .. } => Some(model),
            Kind::Azure { deployment } => Some(deployment),
            _ => None,
        }
    }

    async fn call_provider(
        &self,
        config: &Map<String, Json>,
        prompt: &str,
        vars: &Map<String, Json>,
    ) -> Response {
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
                openai::call(&self.shared, config, model, self.price, prompt, None).await
            }
            Kind::OpenAiPreset { model, preset } => {
                openai::call(
                    &self.shared,
                    config,
                    model,
                    self.price,
                    prompt,
                    Some(preset),
                )
                .await
            }
            Kind::Azure { deployment } => {
                azure::call(&self.shared, config, deployment, self.price, prompt).await
            }
            Kind::Gemini { model } => {
                gemini::call(&self.shared, config, model, self.price, prompt, vars).await
            }
            Kind::Bedrock { model } => {
                bedrock::call(&self.shared, config, model, self.price, prompt).await
            }
            Kind::Ollama { model, api } => {
                ollama::call(&self.shared, config, model, *api, prompt).await
            }
            Kind::Anthropic { model } => {
                anthropic::call(&self.shared, config, model, self.price, prompt).await
            }
            Kind::Exec { command } => exec::call(&self.shared, command, prompt, config, vars).await,
            Kind::Http { url } => {
                match http::prepare(&self.shared, config, url.as_deref(), prompt, vars) {
                    Ok(request) => http::send(&self.shared, config, request).await,
                    Err(e) => Response::error(e.to_string()),
                }
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
                let cache = self.shared.cache.as_deref();
                let key = cache.map(|_| {
                    cache::KeyParts {
                        operation: "embed",
                        provider_id: &self.spec.id,
                        model: Some(model),
                        config: &self.spec.config,
                        prompt: text,
                        request: self.request_env(),
                    }
                    .key()
                });
                if let (Some(cache), Some(key)) = (cache, &key)
                    && let Some((vector, usage)) = cache.get_embedding(key)
                {
                    return Ok((vector, cached_usage(usage)));
                }
                if let Some(limiter) = &self.limiter {
                    limiter.acquire().await;
                }
                let made = openai::embed(&self.shared, &self.spec.config, model, text).await?;
                if let (Some(cache), Some(key)) = (cache, &key) {
                    let _ = cache.put_embedding(key, &made.0, made.1);
                }
                Ok(made)
            }
            _ => Err(format!(
                "Provider {} is not a valid embedding provider",
                self.spec.id
            )),
        }
    }
}

/// Token usage of a cached answer, as promptfoo reports it: `{cached: total, total}`.
fn cached_usage(usage: TokenUsage) -> TokenUsage {
    TokenUsage {
        prompt: 0,
        completion: 0,
        total: usage.total,
        cached: usage.total,
        num_requests: usage.num_requests,
    }
}

/// promptfoo's normalised finish reasons (its `FINISH_REASON_MAP`, looked up in lower
/// case, so Ollama's or Gemini's upper-case reasons map too).
pub fn normalize_finish_reason(reason: &str) -> String {
    let reason = reason.trim().to_lowercase();
    match reason.as_str() {
        "stop" | "end_turn" | "stop_sequence" => "stop".into(),
        "length" | "max_tokens" | "model_context_window_exceeded" => "length".into(),
        "tool_calls" | "function_call" | "tool_use" => "tool_calls".into(),
        "content_filter" | "refusal" => "content_filter".into(),
        _ => reason,
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
        assert_eq!(Kind::parse("https").unwrap(), Kind::Http { url: None });
        assert_eq!(
            Kind::parse("http://127.0.0.1:8080/generate").unwrap(),
            Kind::Http {
                url: Some("http://127.0.0.1:8080/generate".into())
            }
        );
        assert!(
            Kind::parse("opnai:gpt-4")
                .unwrap_err()
                .contains("unknown provider")
        );
    }

    #[test]
    fn ids_of_the_other_families() {
        let ok = |id: &str| Kind::parse(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        let preset = |id: &str| match ok(id) {
            Kind::OpenAiPreset { model, preset } => (model, preset.prefix),
            other => panic!("{id}: {other:?}"),
        };
        assert_eq!(
            ok("azure:chat:my-gpt4o"),
            Kind::Azure {
                deployment: "my-gpt4o".into()
            }
        );
        assert_eq!(
            ok("azureopenai:chat:d"),
            Kind::Azure {
                deployment: "d".into()
            }
        );
        for (id, model) in [
            ("google:gemini-1.5-flash", "gemini-1.5-flash"),
            ("google:chat:gemini-2.0-flash", "gemini-2.0-flash"),
        ] {
            assert_eq!(
                ok(id),
                Kind::Gemini {
                    model: model.into()
                },
                "{id}"
            );
        }
        for (id, model) in [
            (
                "bedrock:converse:anthropic.claude-3-haiku-20240307-v1:0",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
            (
                "bedrock:us.amazon.nova-lite-v1:0",
                "us.amazon.nova-lite-v1:0",
            ),
            (
                "bedrock:completion:meta.llama3-8b-instruct-v1:0",
                "meta.llama3-8b-instruct-v1:0",
            ),
        ] {
            assert_eq!(
                ok(id),
                Kind::Bedrock {
                    model: model.into()
                },
                "{id}"
            );
        }
        assert_eq!(
            ok("ollama:chat:llama3.2:3b"),
            Kind::Ollama {
                model: "llama3.2:3b".into(),
                api: ollama::Api::Chat
            }
        );
        for id in ["ollama:llama3.2:3b", "ollama:completion:llama3.2:3b"] {
            assert_eq!(
                ok(id),
                Kind::Ollama {
                    model: "llama3.2:3b".into(),
                    api: ollama::Api::Generate
                },
                "{id}"
            );
        }
        assert_eq!(
            preset("mistral:mistral-small-latest"),
            ("mistral-small-latest".into(), "mistral")
        );
        assert_eq!(
            preset("mistral:chat:open-mistral-7b"),
            ("open-mistral-7b".into(), "mistral")
        );
        assert_eq!(
            preset("openrouter:meta-llama/llama-3.1-8b-instruct:free"),
            ("meta-llama/llama-3.1-8b-instruct:free".into(), "openrouter")
        );
        assert_eq!(
            preset("togetherai:meta-llama/Llama-3-8b-chat-hf"),
            ("meta-llama/Llama-3-8b-chat-hf".into(), "togetherai")
        );
        assert_eq!(preset("togetherai:chat:m"), ("m".into(), "togetherai"));
        assert_eq!(
            preset("groq:llama-3.1-8b-instant"),
            ("llama-3.1-8b-instant".into(), "groq")
        );
        for (id, says) in [
            ("azure:chat", "needs a deployment name"),
            (
                "azure:assistant:asst_1",
                "Azure `assistant` API is not supported",
            ),
            ("google:embedding:text-embedding-004", "not supported"),
            ("vertex:gemini-1.5-pro", "Vertex AI"),
            (
                "bedrock:embeddings:amazon.titan-embed-text-v2:0",
                "not supported",
            ),
            ("ollama:embeddings:nomic-embed-text", "not supported"),
            ("groq:", "names no model"),
            ("mistral:embedding", "not supported"),
        ] {
            let err = Kind::parse(id).unwrap_err();
            assert!(err.contains(says), "{id}: {err}");
        }
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(normalize_finish_reason("end_turn"), "stop");
        assert_eq!(normalize_finish_reason("max_tokens"), "length");
        assert_eq!(normalize_finish_reason("tool_use"), "tool_calls");
        assert_eq!(normalize_finish_reason("Weird"), "weird");
        assert_eq!(normalize_finish_reason("MAX_TOKENS"), "length");
        assert_eq!(normalize_finish_reason("STOP"), "stop");
    }
}
