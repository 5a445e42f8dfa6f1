//! OpenAI Chat Completions, and any server that speaks it (vLLM, Ollama, LM Studio,
//! Qwen, Llama servers) through `apiBaseUrl` / `OPENAI_BASE_URL`.

use super::{
    HttpMeta, Response, Shared, TokenUsage, chat_prompt, normalize_finish_reason, retry,
    status_text,
};
use crate::pricing::{ModelPrice, Usage};
use serde_json::{Map, Value as Json};

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

fn is_reasoning_model(model: &str) -> bool {
    model.starts_with("o1")
        || model.starts_with("o3")
        || model.starts_with("o4")
        || model.starts_with("gpt-5")
}

fn base_url(shared: &Shared, config: &Map<String, Json>) -> String {
    if let Some(host) = config.get("apiHost").and_then(Json::as_str) {
        return format!("https://{host}/v1");
    }
    config
        .get("apiBaseUrl")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| {
            ["OPENAI_API_HOST", "OPENAI_API_BASE_URL", "OPENAI_BASE_URL"]
                .iter()
                .find_map(|k| shared.env_var(k))
        })
        .unwrap_or_else(|| "https://api.openai.com/v1".into())
}

fn number_setting(
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

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    price: Option<ModelPrice>,
    prompt: &str,
) -> Response {
    let messages = match chat_prompt::openai_messages(prompt) {
        Ok(m) => m,
        Err(e) => return Response::error(e),
    };
    let mut body = Map::new();
    body.insert("model".into(), Json::String(model.to_owned()));
    body.insert("messages".into(), messages);
    if !is_reasoning_model(model) {
        body.insert(
            "max_tokens".into(),
            number_setting(
                shared,
                config,
                "max_tokens",
                "OPENAI_MAX_TOKENS",
                Json::from(1024),
            ),
        );
        body.insert(
            "temperature".into(),
            number_setting(
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
    for key in OPTIONAL_KEYS {
        if let Some(v) = config.get(*key) {
            body.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(Json::Object(extra)) = config.get("passthrough") {
        body.extend(extra.clone());
    }

    let api_key = api_key(shared, config);
    let url = format!(
        "{}/chat/completions",
        base_url(shared, config).trim_end_matches('/')
    );
    let body = Json::Object(body).to_string();
    let headers: Vec<(String, String)> = match config.get("headers") {
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
    };

    let sent = retry::send(|| {
        let mut request = shared
            .http
            .post(&url)
            .timeout(shared.timeout)
            .bearer_auth(&api_key)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        request
    })
    .await;
    let retry::Answer {
        status,
        headers: http_headers,
        text,
    } = match sent {
        Ok(answer) => answer,
        Err(e) => {
            let mut r = Response::error(format!("API call error: {e}"));
            r.http = Some(HttpMeta {
                status: 0,
                status_text: String::new(),
                headers: Vec::new(),
            });
            return r;
        }
    };
    let http = HttpMeta::new(status, &http_headers);
    let parsed: Option<Json> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let shown = parsed.as_ref().map_or(text.clone(), Json::to_string);
        let mut r = Response::error(format!(
            "API error: {} {}\n{shown}",
            http.status, http.status_text
        ));
        r.http = Some(http);
        return r;
    }
    let Some(data) = parsed else {
        let mut r = Response::error(format!(
            "API error: the response is not JSON: {}",
            text.chars().take(200).collect::<String>()
        ));
        r.http = Some(http);
        return r;
    };
    let message = &data["choices"][0]["message"];
    let content = message
        .get("content")
        .filter(|c| !c.is_null() && c.as_str() != Some(""));
    let tool_calls = message.get("tool_calls").filter(|t| !t.is_null());
    let output = match (content, tool_calls) {
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
    };
    let usage = &data["usage"];
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
    Response {
        output: Some(output),
        error: None,
        token_usage,
        finish_reason: data["choices"][0]["finish_reason"]
            .as_str()
            .map(normalize_finish_reason),
        cost,
        http: Some(http),
        guardrails: true,
        cached: false,
        latency_ms: None,
    }
}

/// `POST {base}/embeddings` with `{input, model}`; the vector of `data[0].embedding`.
/// `config.apiKey`, else the variable `config.apiKeyEnvar` names (`OPENAI_API_KEY`).
fn api_key(shared: &Shared, config: &Map<String, Json>) -> String {
    let key_var = config
        .get("apiKeyEnvar")
        .and_then(Json::as_str)
        .unwrap_or("OPENAI_API_KEY");
    config
        .get("apiKey")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| shared.env_var(key_var))
        .unwrap_or_default()
}

pub async fn embed(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    text: &str,
) -> Result<(Vec<f64>, TokenUsage), String> {
    let api_key = api_key(shared, config);
    let url = format!(
        "{}/embeddings",
        base_url(shared, config).trim_end_matches('/')
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
