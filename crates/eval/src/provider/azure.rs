//! Azure OpenAI chat completions (`azure:chat:<deployment>`, also `azureopenai:chat:`):
//! OpenAI's chat format, sent and read with openai.rs's helpers, to
//! `{base}/openai/deployments/{deployment}/chat/completions?api-version=…` with an
//! `api-key` header. Follows promptfoo 0.123.1's src/providers/azure/chat.ts and
//! generic.ts: the body always carries `top_p`, `presence_penalty` and
//! `frequency_penalty`; an `error` in the answer is `API response error: <code> <message>`,
//! except a prompt refused by the content filter, which is the answer.

use super::openai::{self, Exchange};
use super::{Response, Shared, chat_prompt, normalize_finish_reason};
use crate::pricing::ModelPrice;
use serde_json::{Map, Value as Json};

/// promptfoo's `DEFAULT_AZURE_API_VERSION`.
pub const DEFAULT_API_VERSION: &str = "2024-12-01-preview";

/// `config.apiBaseUrl` (or `AZURE_API_BASE_URL`, `AZURE_OPENAI_API_BASE_URL`,
/// `AZURE_OPENAI_BASE_URL`) without a trailing `/`; else `https://` and `config.apiHost`
/// (or `AZURE_API_HOST`, `AZURE_OPENAI_API_HOST`). `None` when none is set.
pub fn base_url(shared: &Shared, config: &Map<String, Json>) -> Option<String> {
    let first = |key: &str, vars: &[&str]| {
        config
            .get(key)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| vars.iter().find_map(|v| shared.env_var(v)))
            .filter(|s| !s.is_empty())
    };
    // promptfoo reads both, and the base URL wins.
    let host = first("apiHost", &["AZURE_API_HOST", "AZURE_OPENAI_API_HOST"]);
    if let Some(base) = first(
        "apiBaseUrl",
        &[
            "AZURE_API_BASE_URL",
            "AZURE_OPENAI_API_BASE_URL",
            "AZURE_OPENAI_BASE_URL",
        ],
    ) {
        return Some(base.strip_suffix('/').unwrap_or(&base).to_owned());
    }
    let host = host?;
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(&host);
    Some(format!(
        "https://{}",
        host.strip_suffix('/').unwrap_or(host)
    ))
}

/// `config.apiKey`; else the variable `config.apiKeyEnvar` names; else `AZURE_API_KEY`,
/// then `AZURE_OPENAI_API_KEY`.
pub fn api_key(shared: &Shared, config: &Map<String, Json>) -> Option<String> {
    if let Some(key) = config
        .get("apiKey")
        .and_then(Json::as_str)
        .filter(|k| !k.is_empty())
    {
        return Some(key.to_owned());
    }
    let vars: Vec<&str> = match config.get("apiKeyEnvar").and_then(Json::as_str) {
        Some(v) => vec![v],
        None => vec!["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
    };
    vars.iter()
        .find_map(|v| shared.env_var(v).filter(|k| !k.is_empty()))
}

/// Whether the deployment takes `max_completion_tokens` and `reasoning_effort` instead
/// of `max_tokens` and `temperature`: `config.isReasoningModel` or `config.o1`, else
/// guessed from `config.modelName` or the deployment name, as promptfoo does.
fn is_reasoning(config: &Map<String, Json>, deployment: &str) -> bool {
    let flag = |k: &str| config.get(k).and_then(Json::as_bool).unwrap_or(false);
    if flag("isReasoningModel") || flag("o1") {
        return true;
    }
    let name = config
        .get("modelName")
        .and_then(Json::as_str)
        .unwrap_or(deployment)
        .to_lowercase();
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| name.starts_with(p) || name.contains(&format!("-{p}")))
        || [
            "deepseek-r1",
            "deepseek_r1",
            "phi-4-reasoning",
            "phi-4-mini-reasoning",
            "mai-thinking",
            "mai-ds-r1",
            "mai-reasoning",
        ]
        .iter()
        .any(|p| name.contains(p))
        || (name.contains("grok") && name.contains("reasoning"))
}

/// promptfoo's Azure `getOpenAiBody`, less MCP, callbacks and file:// tools.
fn body(
    shared: &Shared,
    config: &Map<String, Json>,
    deployment: &str,
    prompt: &str,
) -> Result<Map<String, Json>, String> {
    let mut messages = chat_prompt::openai_messages(prompt)?;
    if let (Some(system), Json::Array(list)) = (
        config.get("systemPrompt").filter(|s| crate::js_truthy(s)),
        &mut messages,
    ) {
        let message = serde_json::json!({ "role": "system", "content": system });
        match list.iter().position(|m| m["role"] == "system") {
            Some(i) => list[i] = message,
            None => list.insert(0, message),
        }
    }
    let setting =
        |key: &str, env: &str, default: Json| openai::setting(shared, config, key, env, default);
    let mut body = Map::new();
    body.insert("model".into(), Json::String(deployment.to_owned()));
    body.insert("messages".into(), messages);
    let max_tokens = setting("max_tokens", "OPENAI_MAX_TOKENS", Json::from(1024));
    if is_reasoning(config, deployment) {
        body.insert(
            "reasoning_effort".into(),
            config
                .get("reasoning_effort")
                .cloned()
                .unwrap_or_else(|| Json::String("medium".into())),
        );
        body.insert(
            "max_completion_tokens".into(),
            setting(
                "max_completion_tokens",
                "OPENAI_MAX_COMPLETION_TOKENS",
                max_tokens,
            ),
        );
    } else {
        body.insert("max_tokens".into(), max_tokens);
        body.insert(
            "temperature".into(),
            setting("temperature", "OPENAI_TEMPERATURE", Json::from(0)),
        );
    }
    body.insert(
        "top_p".into(),
        setting("top_p", "OPENAI_TOP_P", Json::from(1)),
    );
    body.insert(
        "presence_penalty".into(),
        setting("presence_penalty", "OPENAI_PRESENCE_PENALTY", Json::from(0)),
    );
    body.insert(
        "frequency_penalty".into(),
        setting(
            "frequency_penalty",
            "OPENAI_FREQUENCY_PENALTY",
            Json::from(0),
        ),
    );
    if let Some(seed) = config.get("seed") {
        body.insert("seed".into(), seed.clone());
    }
    for key in [
        "functions",
        "function_call",
        "tools",
        "tool_choice",
        "deployment_id",
        "dataSources",
        "data_sources",
        "response_format",
        "stop",
    ] {
        match config.get(key) {
            Some(Json::Array(a)) if key == "tools" && a.is_empty() => {}
            Some(v) if crate::js_truthy(v) => {
                body.insert(key.into(), v.clone());
            }
            _ => {}
        }
    }
    if let Some(Json::Object(extra)) = config.get("passthrough") {
        body.extend(extra.clone());
    }
    Ok(body)
}

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    deployment: &str,
    price: Option<ModelPrice>,
    prompt: &str,
) -> Response {
    let Some(base) = base_url(shared, config) else {
        return Response::error(
            "Azure API host must be set: `config.apiHost` (xxx.openai.azure.com), `config.apiBaseUrl` or AZURE_API_HOST",
        );
    };
    let body = match body(shared, config, deployment, prompt) {
        Ok(b) => b,
        Err(e) => return Response::error(e),
    };
    let data_sources = config.contains_key("dataSources") || config.contains_key("data_sources");
    let api_version = config
        .get("apiVersion")
        .and_then(Json::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_API_VERSION);
    let url = format!(
        "{base}/openai/deployments/{deployment}/{}chat/completions?api-version={api_version}",
        if config.contains_key("dataSources") {
            "extensions/"
        } else {
            ""
        }
    );
    let mut headers = vec![(
        "api-key".to_owned(),
        api_key(shared, config).unwrap_or_default(),
    )];
    headers.extend(openai::config_headers(config));
    let Exchange {
        http,
        status,
        text,
        json,
    } = match openai::post_json(shared, &url, &headers, Json::Object(body).to_string()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(data) = json else {
        let r = Response::error(format!(
            "API call error: Error parsing response: HTTP {} {}. Received text: {}",
            http.status,
            http.status_text,
            text.chars().take(500).collect::<String>()
        ));
        return r;
    };
    let (token_usage, cost) = openai::usage_and_cost(&data["usage"], price);
    if let Some(error) = data.get("error").filter(|e| !e.is_null()) {
        // A prompt the content filter refused is the answer, as in promptfoo.
        if error["status"] == 400 && error["code"] == "content_filter" {
            return Response {
                output: Some(error["message"].clone()),
                token_usage,
                finish_reason: Some("content_filter".into()),
                cost,
                http: None,
                // Flagged: reports cannot say `flagged: true` yet, so they say nothing.
                guardrails: false,
                ..Response::default()
            };
        }
        let field = |k: &str| match &error[k] {
            Json::Null => "undefined".to_owned(),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let r = Response::error(format!(
            "API response error: {} {}",
            field("code"),
            field("message")
        ));
        return r;
    }
    if !status.is_success() {
        let r = Response::error(format!(
            "API error: {} {}\n{data}",
            http.status, http.status_text
        ));
        return r;
    }
    let choice = if data_sources {
        data["choices"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["message"]["role"] == "assistant"))
            .unwrap_or(&Json::Null)
    } else {
        &data["choices"][0]
    };
    let message = &choice["message"];
    let finish_reason = choice["finish_reason"]
        .as_str()
        .map(normalize_finish_reason);
    let flagged_output = choice["content_filter_results"]["error"].is_null()
        && finish_reason.as_deref() == Some("content_filter");
    let output = match message.get("content").filter(|c| !c.is_null()) {
        Some(Json::String(text))
            if matches!(
                config
                    .get("response_format")
                    .and_then(|f| f["type"].as_str()),
                Some("json_schema" | "json_object")
            ) =>
        {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
        Some(content) => content.clone(),
        None => message
            .get("tool_calls")
            .filter(|t| !t.is_null())
            .or_else(|| message.get("function_call").filter(|f| !f.is_null()))
            .cloned()
            .unwrap_or(Json::String(String::new())),
    };
    Response {
        output: Some(output),
        error: None,
        token_usage,
        finish_reason,
        cost,
        http: None,
        guardrails: !flagged_output,
        cached: false,
        latency_ms: None,
        logprobs: None,
    }
}
