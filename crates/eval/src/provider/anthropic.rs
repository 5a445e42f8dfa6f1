//! Anthropic Messages API (`POST {base}/v1/messages`, `anthropic-version: 2023-06-01`).

use super::{
    HttpMeta, Response, Shared, TokenUsage, chat_prompt, normalize_finish_reason, retry,
    status_text,
};
use crate::pricing::{ModelPrice, Usage};
use serde_json::{Map, Value as Json};

const API_VERSION: &str = "2023-06-01";
const OPTIONAL_KEYS: &[&str] = &[
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
];

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    price: Option<ModelPrice>,
    prompt: &str,
) -> Response {
    let (system, messages) = chat_prompt::anthropic_messages(prompt);
    let setting = |key: &str, env: &str, default: Json| -> Json {
        config
            .get(key)
            .cloned()
            .or_else(|| {
                shared
                    .env_var(env)
                    .and_then(|v| serde_json::from_str(&v).ok())
            })
            .unwrap_or(default)
    };
    let mut body = Map::new();
    body.insert("model".into(), Json::String(model.to_owned()));
    if let Some(system) = system {
        body.insert("system".into(), system);
    }
    body.insert(
        "max_tokens".into(),
        setting("max_tokens", "ANTHROPIC_MAX_TOKENS", Json::from(1024)),
    );
    body.insert("messages".into(), messages);
    body.insert("stream".into(), Json::Bool(false));
    if !config.contains_key("top_p") && !config.contains_key("thinking") {
        body.insert(
            "temperature".into(),
            setting("temperature", "ANTHROPIC_TEMPERATURE", Json::from(0)),
        );
    }
    for key in OPTIONAL_KEYS {
        if let Some(v) = config.get(*key) {
            body.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(Json::Object(extra)) = config.get("extra_body") {
        body.extend(extra.clone());
    }
    let base = config
        .get("apiBaseUrl")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| shared.env_var("ANTHROPIC_BASE_URL"))
        .unwrap_or_else(|| "https://api.anthropic.com".into());
    let url = format!("{}/v1/messages", base.trim_end_matches('/'));
    let api_key = config
        .get("apiKey")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| shared.env_var("ANTHROPIC_API_KEY"))
        .unwrap_or_default();
    let body = Json::Object(body).to_string();

    let sent = retry::send(|| {
        shared
            .http
            .post(&url)
            .timeout(shared.timeout)
            .header("x-api-key", &api_key)
            .header("anthropic-version", API_VERSION)
            .header("content-type", "application/json")
            .body(body.clone())
    })
    .await;
    let retry::Answer {
        status,
        headers,
        text,
    } = match sent {
        Ok(answer) => answer,
        Err(e) => return Response::error(format!("API call error: {e}")),
    };
    let parsed: Option<Json> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let detail = parsed.as_ref().and_then(|d| {
            let e = d.get("error")?;
            Some(format!(
                "{}, status {}, type {}",
                e.get("message").and_then(Json::as_str).unwrap_or(""),
                status.as_u16(),
                e.get("type").and_then(Json::as_str).unwrap_or("")
            ))
        });
        let message = detail.unwrap_or_else(|| {
            format!(
                "{} {}: {}",
                status.as_u16(),
                status_text(status),
                text.chars().take(500).collect::<String>()
            )
        });
        let mut r = Response::error(format!("API call error: {message}"));
        r.http = Some(HttpMeta::new(status, &headers));
        // promptfoo's Anthropic rows carry no HTTP metadata; keep it out of reports but
        // available to callers that check the status.
        return r;
    }
    let Some(data) = parsed else {
        return Response::error(format!(
            "API call error: the response is not JSON: {}",
            text.chars().take(200).collect::<String>()
        ));
    };
    let output = data["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .unwrap_or_default();
    let input = data["usage"]["input_tokens"].as_u64().unwrap_or(0);
    let cache_read = data["usage"]["cache_read_input_tokens"]
        .as_u64()
        .unwrap_or(0);
    let cache_write = data["usage"]["cache_creation_input_tokens"]
        .as_u64()
        .unwrap_or(0);
    let output_tokens = data["usage"]["output_tokens"].as_u64().unwrap_or(0);
    let prompt_tokens = input + cache_read + cache_write;
    let cost = price.map(|p| {
        p.cost(Usage {
            prompt: prompt_tokens,
            completion: output_tokens,
            cached_prompt: cache_read,
        })
    });
    Response {
        output: Some(Json::String(output)),
        error: None,
        token_usage: TokenUsage {
            prompt: prompt_tokens,
            completion: output_tokens,
            total: prompt_tokens + output_tokens,
            cached: 0,
            num_requests: 1,
        },
        finish_reason: data["stop_reason"].as_str().map(normalize_finish_reason),
        cost,
        http: None,
        guardrails: false,
        cached: false,
        latency_ms: None,
        logprobs: None,
    }
}
