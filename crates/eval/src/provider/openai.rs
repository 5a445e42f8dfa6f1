//! OpenAI Chat Completions, and any server that speaks it: the OpenAI-compatible services
//! promptfoo names by their own prefix ([`Preset`]: Mistral, OpenRouter, Together AI,
//! Groq) and, through `apiBaseUrl` / `OPENAI_BASE_URL`, vLLM, Ollama, LM Studio, Qwen or
//! Llama servers. Azure OpenAI (azure.rs) sends the same body and reads the same answer
//! with the helpers here.

use super::{
    HttpMeta, Response, Shared, TokenUsage, chat_prompt, normalize_finish_reason, retry,
    status_text,
};
use crate::pricing::{ModelPrice, NanoUsd, Usage};
use serde_json::{Map, Value as Json};

/// An OpenAI-compatible service promptfoo knows by its own id prefix: the OpenAI chat
/// path with another default base URL and API-key variable.
#[derive(Debug, PartialEq, Eq)]
pub struct Preset {
    /// The id prefix (`mistral` in `mistral:<model>`).
    pub prefix: &'static str,
    /// Used when neither `config.apiHost` nor `config.apiBaseUrl` (nor the variables
    /// below) is set.
    pub base_url: &'static str,
    /// A variable naming the host (`https://{host}/v1`), as `config.apiHost` does.
    pub host_env: Option<&'static str>,
    /// A variable holding the base URL, as `config.apiBaseUrl` does.
    pub base_url_env: Option<&'static str>,
    /// The API key's variable (`config.apiKeyEnvar` names another).
    pub key_env: &'static str,
    /// The price table's provider name for the service's models.
    pub price_provider: &'static str,
    pub body: PresetBody,
}

/// How a preset's request body differs from OpenAI's.
#[derive(Debug, PartialEq, Eq)]
pub enum PresetBody {
    /// OpenAI's body, with these config keys also sent as they are (promptfoo's
    /// OpenRouter moves `transforms`, `models`, `route`, `provider` into the body; Groq
    /// adds `reasoning_format`, `include_reasoning`, `compound_custom`, `search_settings`).
    OpenAi(&'static [&'static str]),
    /// OpenAI's body, with every config key that is not a connection setting sent as it
    /// is (promptfoo's Together AI passes model parameters through).
    OpenAiWithModelParameters,
    /// Mistral's own body (promptfoo's `buildMistralChatParams`): `temperature` only when
    /// set, `top_p` 1, `max_tokens` 1024, `random_seed` null by default; no `OPENAI_*`
    /// variables.
    Mistral,
}

/// `mistral:<model>` (promptfoo src/providers/mistral.ts).
pub const MISTRAL: Preset = Preset {
    prefix: "mistral",
    base_url: "https://api.mistral.ai/v1",
    host_env: Some("MISTRAL_API_HOST"),
    base_url_env: Some("MISTRAL_API_BASE_URL"),
    key_env: "MISTRAL_API_KEY",
    price_provider: "mistral",
    body: PresetBody::Mistral,
};

/// `openrouter:<model>` (promptfoo src/providers/openrouter.ts).
pub const OPENROUTER: Preset = Preset {
    prefix: "openrouter",
    base_url: "https://openrouter.ai/api/v1",
    host_env: None,
    base_url_env: None,
    key_env: "OPENROUTER_API_KEY",
    price_provider: "openrouter",
    body: PresetBody::OpenAi(&["transforms", "models", "route", "provider"]),
};

/// `togetherai:<model>` (promptfoo src/providers/togetherai.ts).
pub const TOGETHER: Preset = Preset {
    prefix: "togetherai",
    base_url: "https://api.together.xyz/v1",
    host_env: None,
    base_url_env: None,
    key_env: "TOGETHER_API_KEY",
    price_provider: "together_ai",
    body: PresetBody::OpenAiWithModelParameters,
};

/// `groq:<model>` (promptfoo src/providers/groq/chat.ts).
pub const GROQ: Preset = Preset {
    prefix: "groq",
    base_url: "https://api.groq.com/openai/v1",
    host_env: None,
    base_url_env: None,
    key_env: "GROQ_API_KEY",
    price_provider: "groq",
    body: PresetBody::OpenAi(&[
        "reasoning_format",
        "include_reasoning",
        "compound_custom",
        "search_settings",
    ]),
};

/// Config keys promptfoo handles itself rather than sending (its `LOCAL_OPTION_NAMES`).
const CONNECTION_KEYS: &[&str] = &[
    "apiKey",
    "apiKeyEnvar",
    "apiKeyRequired",
    "useDefaultApiKey",
    "apiHost",
    "apiBaseUrl",
    "organization",
    "headers",
    "maxRetries",
    "cost",
    "inputCost",
    "outputCost",
    "audioCost",
    "audioInputCost",
    "audioOutputCost",
    "passthrough",
    "mcp",
    "functionToolCallbacks",
    "showThinking",
    "omitDefaults",
    "basePath",
    "linkedTargetId",
];

/// Keys copied into the request body when the config sets them, in this order.
const OPTIONAL_KEYS: &[&str] = &[
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "functions",
    "function_call",
    "tools",
    "tool_choice",
    "response_format",
    "stop",
    "seed",
    "logprobs",
    "top_logprobs",
    "n",
    "user",
    "parallel_tool_calls",
];

/// o1/o3/o4 and GPT-5 models take `max_completion_tokens` and no `temperature`; a
/// router's `openai/o3-mini` is one too (promptfoo's `isReasoningModel`).
pub(super) fn is_reasoning_model(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model.starts_with(p) || model.contains(&format!("/{p}")))
}

fn base_url(shared: &Shared, config: &Map<String, Json>, preset: Option<&Preset>) -> String {
    let text = |key: &str| config.get(key).and_then(Json::as_str).map(str::to_owned);
    let Some(preset) = preset else {
        if let Some(host) = text("apiHost") {
            return format!("https://{host}/v1");
        }
        return text("apiBaseUrl")
            .or_else(|| {
                ["OPENAI_API_HOST", "OPENAI_API_BASE_URL", "OPENAI_BASE_URL"]
                    .iter()
                    .find_map(|k| shared.env_var(k))
            })
            .unwrap_or_else(|| "https://api.openai.com/v1".into());
    };
    if let Some(host) = text("apiHost").or_else(|| preset.host_env.and_then(|v| shared.env_var(v)))
    {
        return format!("https://{host}/v1");
    }
    text("apiBaseUrl")
        .or_else(|| preset.base_url_env.and_then(|v| shared.env_var(v)))
        .unwrap_or_else(|| preset.base_url.to_owned())
}

/// `config[key]`, else the variable `env` read as JSON (`OPENAI_MAX_TOKENS=512`), else
/// `default`.
pub(super) fn setting(
    shared: &Shared,
    config: &Map<String, Json>,
    key: &str,
    env: &str,
    default: Json,
) -> Json {
    config
        .get(key)
        .cloned()
        .or_else(|| {
            shared
                .env_var(env)
                .and_then(|v| serde_json::from_str(&v).ok())
        })
        .unwrap_or(default)
}

/// The config's `headers`, as strings.
pub(super) fn config_headers(config: &Map<String, Json>) -> Vec<(String, String)> {
    match config.get("headers") {
        Some(Json::Object(h)) => h
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Copies the optional OpenAI keys the config sets into `body`, in a fixed order.
pub(super) fn copy_optional_keys(config: &Map<String, Json>, body: &mut Map<String, Json>) {
    for key in OPTIONAL_KEYS {
        if let Some(v) = config.get(*key) {
            body.insert((*key).to_owned(), v.clone());
        }
    }
}

/// A provider's answer, whatever its status, or the error row when none came.
pub(super) struct Exchange {
    pub http: HttpMeta,
    pub status: reqwest::StatusCode,
    pub text: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Json>,
}

/// POSTs a JSON body with `headers` (credentials first, then the config's `headers`),
/// retrying 429 and 5xx. `Err` is the error row (`API call error: …`) when no answer
/// came at all.
pub(super) async fn post_json(
    shared: &Shared,
    url: &str,
    headers: &[(String, String)],
    body: String,
) -> Result<Exchange, Response> {
    let sent = retry::send(|| {
        let mut request = shared
            .http
            .post(url)
            .timeout(shared.timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request
    })
    .await;
    match sent {
        Ok(retry::Answer {
            status,
            headers,
            text,
        }) => Ok(Exchange {
            http: HttpMeta::new(status, &headers),
            status,
            json: serde_json::from_str(&text).ok(),
            text,
        }),
        Err(e) => Err(Response::error(format!("API call error: {e}"))),
    }
}

/// An OpenAI `usage` object as token counts, and their cost at `price`.
pub(super) fn usage_and_cost(
    usage: &Json,
    price: Option<ModelPrice>,
) -> (TokenUsage, Option<NanoUsd>) {
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0);
    let completion_tokens = usage["completion_tokens"].as_u64().unwrap_or(0);
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    let token_usage = TokenUsage {
        prompt: prompt_tokens,
        completion: completion_tokens,
        total: usage["total_tokens"]
            .as_u64()
            .unwrap_or(prompt_tokens + completion_tokens),
        cached: 0,
        num_requests: 1,
    };
    let cost = price.map(|p| {
        p.cost(Usage {
            prompt: prompt_tokens,
            completion: completion_tokens,
            cached_prompt: cached,
        })
    });
    (token_usage, cost)
}

/// promptfoo's OpenAI output: the text; the tool calls when there is no text; the whole
/// message when there are both; else the refusal or the function call.
fn output_of(message: &Json) -> Json {
    let content = message
        .get("content")
        .filter(|c| !c.is_null() && c.as_str() != Some(""));
    let tool_calls = message.get("tool_calls").filter(|t| !t.is_null());
    match (content, tool_calls) {
        (Some(_), Some(_)) => message.clone(),
        (Some(c), None) => c.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => match message.get("refusal").filter(|r| !r.is_null()) {
            Some(r) => r.clone(),
            None => message
                .get("function_call")
                .cloned()
                .unwrap_or(Json::String(String::new())),
        },
    }
}

/// promptfoo's Mistral output: content made of `thinking` and `text` chunks becomes
/// the text; with tool calls, the message (with that text) or the tool calls alone.
fn mistral_output_of(message: &Json) -> Json {
    let content = match message.get("content") {
        Some(Json::Array(chunks))
            if chunks
                .iter()
                .all(|c| c["type"] == "thinking" || c["type"] == "text") =>
        {
            let texts: Vec<&str> = chunks
                .iter()
                .filter(|c| c["type"] == "text")
                .filter_map(|c| c["text"].as_str())
                .collect();
            if texts.is_empty() {
                Json::Array(chunks.clone())
            } else {
                Json::String(texts.concat())
            }
        }
        Some(other) => other.clone(),
        None => Json::Null,
    };
    let has_text = !content.is_null() && content.as_str() != Some("");
    match message.get("tool_calls").and_then(Json::as_array) {
        Some(calls) if !calls.is_empty() && has_text => {
            let mut m = message.clone();
            m["content"] = content;
            m
        }
        Some(calls) if !calls.is_empty() => Json::Array(calls.clone()),
        _ => content,
    }
}

/// The OpenAI request body (promptfoo's `getOpenAiBody`, less what promptops does not
/// implement: MCP, function callbacks, file:// tools).
fn openai_body(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    messages: Json,
) -> Map<String, Json> {
    let mut body = Map::new();
    body.insert("model".into(), Json::String(model.to_owned()));
    body.insert("messages".into(), messages);
    if !is_reasoning_model(model) {
        body.insert(
            "max_tokens".into(),
            setting(
                shared,
                config,
                "max_tokens",
                "OPENAI_MAX_TOKENS",
                Json::from(1024),
            ),
        );
        body.insert(
            "temperature".into(),
            setting(
                shared,
                config,
                "temperature",
                "OPENAI_TEMPERATURE",
                Json::from(0),
            ),
        );
    } else if let Some(v) = config.get("max_completion_tokens") {
        body.insert("max_completion_tokens".into(), v.clone());
    }
    copy_optional_keys(config, &mut body);
    body
}

/// Mistral's body (promptfoo's `buildMistralChatParams`).
fn mistral_body(config: &Map<String, Json>, model: &str, messages: Json) -> Map<String, Json> {
    let mut body = Map::new();
    body.insert("model".into(), Json::String(model.to_owned()));
    body.insert("messages".into(), messages);
    let set = |key: &str| config.get(key).filter(|v| !v.is_null()).cloned();
    if let Some(t) = set("temperature") {
        body.insert("temperature".into(), t);
    }
    body.insert("top_p".into(), set("top_p").unwrap_or(Json::from(1)));
    body.insert(
        "max_tokens".into(),
        set("max_tokens").unwrap_or(Json::from(1024)),
    );
    for key in [
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "n",
        "safe_prompt",
    ] {
        if let Some(v) = set(key) {
            body.insert(key.into(), v);
        }
    }
    body.insert(
        "random_seed".into(),
        set("random_seed").unwrap_or(Json::Null),
    );
    for key in [
        "prompt_mode",
        "reasoning_effort",
        "prompt_cache_key",
        "prediction",
        "metadata",
        "guardrails",
        "tools",
    ] {
        if let Some(v) = config.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = config.get("tool_choice").filter(|v| crate::js_truthy(v)) {
        body.insert("tool_choice".into(), v.clone());
    }
    if let Some(v) = config.get("parallel_tool_calls") {
        body.insert(
            "parallel_tool_calls".into(),
            Json::Bool(crate::js_truthy(v)),
        );
    }
    if let Some(v) = config
        .get("response_format")
        .filter(|v| crate::js_truthy(v))
    {
        body.insert("response_format".into(), v.clone());
    }
    body
}

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    price: Option<ModelPrice>,
    prompt: &str,
    preset: Option<&Preset>,
) -> Response {
    let messages = match chat_prompt::openai_messages(prompt) {
        Ok(m) => m,
        Err(e) => return Response::error(e),
    };
    let mistral = preset.is_some_and(|p| p.body == PresetBody::Mistral);
    let body = if mistral {
        mistral_body(config, model, messages)
    } else {
        let mut body = openai_body(shared, config, model, messages);
        match preset.map(|p| &p.body) {
            Some(PresetBody::OpenAi(keys)) => {
                for key in *keys {
                    if let Some(v) = config.get(*key) {
                        body.insert((*key).to_owned(), v.clone());
                    }
                }
            }
            Some(PresetBody::OpenAiWithModelParameters) => {
                for (k, v) in config {
                    if !CONNECTION_KEYS.contains(&k.as_str())
                        && !super::rate_limit::RATE_KEYS.contains(&k.as_str())
                    {
                        body.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {}
        }
        if let Some(Json::Object(extra)) = config.get("passthrough") {
            body.extend(extra.clone());
        }
        body
    };

    let key_var = preset.map_or("OPENAI_API_KEY", |p| p.key_env);
    let mut headers = vec![(
        "authorization".to_owned(),
        format!("Bearer {}", api_key(shared, config, key_var)),
    )];
    headers.extend(config_headers(config));
    let url = format!(
        "{}/chat/completions",
        base_url(shared, config, preset).trim_end_matches('/')
    );
    let answer = match post_json(shared, &url, &headers, Json::Object(body).to_string()).await {
        Ok(a) => a,
        Err(mut r) => {
            // promptfoo's OpenAI rows say status 0 when no answer came.
            if !mistral {
                r.http = Some(HttpMeta {
                    status: 0,
                    status_text: String::new(),
                    headers: Vec::new(),
                });
            }
            return r;
        }
    };
    let Exchange {
        http,
        status,
        text,
        json,
    } = answer;
    if !status.is_success() {
        let shown = json.as_ref().map_or(text.clone(), Json::to_string);
        let mut r = Response::error(format!(
            "API error: {} {}\n{shown}",
            http.status, http.status_text
        ));
        r.http = (!mistral).then_some(http);
        return r;
    }
    let Some(data) = json else {
        let mut r = Response::error(format!(
            "API error: the response is not JSON: {}",
            text.chars().take(200).collect::<String>()
        ));
        r.http = (!mistral).then_some(http);
        return r;
    };
    if mistral {
        // promptfoo's Mistral provider: an `error` in the answer, or no message at all,
        // is an error row.
        if let Some(e) = data.get("error").filter(|e| !e.is_null()) {
            let shown = e.as_str().map_or_else(|| e.to_string(), str::to_owned);
            return Response::error(format!("API call error: {shown}"));
        }
        if !data["choices"][0]["message"].is_object() {
            return Response::error(format!("Malformed response data: {data}"));
        }
    }
    let message = &data["choices"][0]["message"];
    let (token_usage, cost) = usage_and_cost(&data["usage"], price);
    Response {
        output: Some(if mistral {
            mistral_output_of(message)
        } else {
            output_of(message)
        }),
        error: None,
        token_usage,
        // promptfoo's Mistral provider reports no finish reason and no guardrails.
        finish_reason: if mistral {
            None
        } else {
            data["choices"][0]["finish_reason"]
                .as_str()
                .map(normalize_finish_reason)
        },
        cost,
        // promptfoo's Mistral rows carry no HTTP metadata.
        http: (!mistral).then_some(http),
        guardrails: !mistral,
        cached: false,
        latency_ms: None,
        logprobs: logprobs_of(&data["choices"][0]),
    }
}

/// The token log-probabilities of a choice (`logprobs.content[].logprob`), present when
/// the request asked for them (`logprobs: true`), as promptfoo reads them.
fn logprobs_of(choice: &Json) -> Option<Vec<f64>> {
    choice["logprobs"]["content"].as_array().map(|tokens| {
        tokens
            .iter()
            .filter_map(|t| t["logprob"].as_f64())
            .collect()
    })
}

/// `config.apiKey`, else the variable `config.apiKeyEnvar` names, else `default_var`.
pub(super) fn api_key(shared: &Shared, config: &Map<String, Json>, default_var: &str) -> String {
    let key_var = config
        .get("apiKeyEnvar")
        .and_then(Json::as_str)
        .unwrap_or(default_var);
    config
        .get("apiKey")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| shared.env_var(key_var))
        .unwrap_or_default()
}

/// `POST {base}/embeddings` with `{input, model}`; the vector of `data[0].embedding`.
pub async fn embed(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    text: &str,
) -> Result<(Vec<f64>, TokenUsage), String> {
    let api_key = api_key(shared, config, "OPENAI_API_KEY");
    let url = format!(
        "{}/embeddings",
        base_url(shared, config, None).trim_end_matches('/')
    );
    let body = serde_json::json!({ "input": text, "model": model }).to_string();
    let retry::Answer { status, text, .. } = retry::send(|| {
        shared
            .http
            .post(&url)
            .timeout(shared.timeout)
            .bearer_auth(&api_key)
            .header("content-type", "application/json")
            .body(body.clone())
    })
    .await
    .map_err(|e| format!("API call error: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "API error: {} {}\n{text}",
            status.as_u16(),
            status_text(status)
        ));
    }
    let data: Json = serde_json::from_str(&text)
        .map_err(|e| format!("API error: the embeddings response is not JSON: {e}"))?;
    let vector: Vec<f64> = data["data"][0]["embedding"]
        .as_array()
        .ok_or("API error: the response has no data[0].embedding")?
        .iter()
        .filter_map(Json::as_f64)
        .collect();
    let prompt = data["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    let usage = TokenUsage {
        prompt,
        completion: 0,
        total: data["usage"]["total_tokens"].as_u64().unwrap_or(prompt),
        cached: 0,
        num_requests: 1,
    };
    Ok((vector, usage))
}

#[cfg(test)]
mod tests {
    use super::logprobs_of;
    use serde_json::json;

    #[test]
    fn token_logprobs_are_read_when_the_answer_has_them() {
        let choice = json!({"logprobs": {"content": [
            {"token": "Hi", "logprob": -0.25, "top_logprobs": []},
            {"token": "!", "logprob": -1.5, "top_logprobs": []}
        ]}});
        assert_eq!(logprobs_of(&choice), Some(vec![-0.25, -1.5]));
        assert_eq!(logprobs_of(&json!({"logprobs": null})), None);
        assert_eq!(logprobs_of(&json!({})), None);
    }
}
