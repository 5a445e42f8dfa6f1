//! Amazon Bedrock's Converse API: `bedrock:converse:<modelId>` (a bare
//! `bedrock:<modelId>` too), `POST {endpoint}/model/{modelId}/converse`, signed with AWS
//! Signature Version 4 for the service `bedrock` (sigv4.rs), or sent with a Bedrock API
//! key as a bearer token. Follows promptfoo 0.123.1's src/providers/bedrock/converse.ts
//! and base.ts (which call the AWS SDK's `ConverseCommand`): the same body fields, the
//! same reading of the answer (text blocks joined by a blank line, reasoning as
//! `<thinking>`, tool uses as JSON), the same error wording.

use super::openai::{self, Exchange};
use super::sigv4::{self, Credentials};
use super::{Response, Shared, TokenUsage, chat_prompt};
use crate::pricing::{ModelPrice, Usage};
use serde_json::{Map, Value as Json, json};

/// How requests are authorised.
#[derive(Debug)]
pub enum Auth {
    /// Signed with SigV4.
    Keys(Credentials),
    /// A Bedrock API key, sent as `Authorization: Bearer …`.
    Bearer(String),
}

fn text<'a>(config: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    config
        .get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// The credentials, in promptfoo's order: `config.accessKeyId` + `secretAccessKey` (+
/// `sessionToken`); a Bedrock API key (`config.apiKey`, `AWS_BEARER_TOKEN_BEDROCK`); the
/// AWS SDK's environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`). Profiles, SSO and instance roles are not read.
pub fn auth(shared: &Shared, config: &Map<String, Json>) -> Result<Auth, String> {
    if let (Some(id), Some(secret)) = (text(config, "accessKeyId"), text(config, "secretAccessKey"))
    {
        return Ok(Auth::Keys(Credentials {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: text(config, "sessionToken").map(str::to_owned),
        }));
    }
    if let Some(key) = text(config, "apiKey").map(str::to_owned).or_else(|| {
        shared
            .env_var("AWS_BEARER_TOKEN_BEDROCK")
            .filter(|k| !k.is_empty())
    }) {
        return Ok(Auth::Bearer(key));
    }
    if let Some(profile) = text(config, "profile") {
        return Err(format!(
            "AWS profile `{profile}`: profiles and SSO are not supported yet; set `config.accessKeyId` and `config.secretAccessKey`, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)"
        ));
    }
    let var = |name: &str| shared.env_var(name).filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Auth::Keys(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: var("AWS_SESSION_TOKEN"),
        })),
        _ => Err("no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones), `config.accessKeyId` and `config.secretAccessKey`, or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK or `config.apiKey`); profiles, SSO and instance roles are not supported yet".into()),
    }
}

/// `config.region`, else `AWS_BEDROCK_REGION` (promptfoo), else `AWS_REGION`,
/// `AWS_DEFAULT_REGION` (the AWS SDK's), else `us-east-1`.
pub fn region(shared: &Shared, config: &Map<String, Json>) -> String {
    text(config, "region")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            ["AWS_BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| shared.env_var(v).filter(|r| !r.is_empty()))
                .unwrap_or_else(|| "us-east-1".into())
        })
}

/// A number from the config or a variable (read as JSON).
fn number(shared: &Shared, config: &Map<String, Json>, keys: &[&str], env: &str) -> Option<Json> {
    keys.iter()
        .find_map(|k| config.get(*k).filter(|v| !v.is_null()).cloned())
        .or_else(|| {
            shared
                .env_var(env)
                .and_then(|v| serde_json::from_str::<Json>(&v).ok())
                .filter(Json::is_number)
        })
}

/// promptfoo's `buildInferenceConfig`: only what is set; Nova 2 reasoning drops the
/// sampling settings (and `maxTokens` at high effort).
fn inference_config(shared: &Shared, config: &Map<String, Json>) -> Option<Json> {
    let reasoning = config
        .get("reasoningConfig")
        .is_some_and(|r| r["type"] == "enabled");
    let high_effort = config
        .get("reasoningConfig")
        .is_some_and(|r| r["maxReasoningEffort"] == "high");
    let mut out = Map::new();
    if !(reasoning && high_effort)
        && let Some(v) = number(
            shared,
            config,
            &["maxTokens", "max_tokens"],
            "AWS_BEDROCK_MAX_TOKENS",
        )
    {
        out.insert("maxTokens".into(), v);
    }
    if !reasoning {
        if let Some(v) = number(shared, config, &["temperature"], "AWS_BEDROCK_TEMPERATURE") {
            out.insert("temperature".into(), v);
        }
        if let Some(v) = number(shared, config, &["topP", "top_p"], "AWS_BEDROCK_TOP_P") {
            out.insert("topP".into(), v);
        }
    }
    let stop = ["stopSequences", "stop"]
        .iter()
        .find_map(|k| config.get(*k).filter(|v| !v.is_null()).cloned())
        .or_else(|| {
            shared
                .env_var("AWS_BEDROCK_STOP")
                .and_then(|v| serde_json::from_str(&v).ok())
        });
    if let Some(stop) = stop {
        out.insert("stopSequences".into(), stop);
    }
    (!out.is_empty()).then_some(Json::Object(out))
}

/// Tools in OpenAI, Anthropic or Converse form, as Converse `toolConfig`; `None` without
/// tools or with `tool_choice: none`.
fn tool_config(config: &Map<String, Json>) -> Result<Option<Json>, String> {
    let choice = ["tool_choice", "toolChoice"]
        .iter()
        .find_map(|k| config.get(*k).filter(|v| !v.is_null()));
    if choice.is_some_and(|c| c == "none") {
        return Ok(None);
    }
    let Some(Json::Array(tools)) = config.get("tools") else {
        return Ok(None);
    };
    if tools.is_empty() {
        return Ok(None);
    }
    let spec = |name: &Json, description: &Json, schema: Json| {
        let mut s = json!({ "name": name, "inputSchema": { "json": schema } });
        if !description.is_null() {
            s["description"] = description.clone();
        }
        json!({ "toolSpec": s })
    };
    let converted = tools
        .iter()
        .map(|t| {
            if let Some(s) = t.get("toolSpec") {
                Ok(json!({ "toolSpec": s }))
            } else if t["type"] == "function" && t["function"].is_object() {
                let f = &t["function"];
                Ok(spec(
                    &f["name"],
                    &f["description"],
                    f.get("parameters").cloned().unwrap_or(json!({})),
                ))
            } else if t["name"].is_string()
                && t.get("input_schema").is_none()
                && t.get("parameters").is_some()
            {
                Ok(spec(&t["name"], &t["description"], t["parameters"].clone()))
            } else if t["name"].is_string() {
                Ok(spec(
                    &t["name"],
                    &t["description"],
                    t.get("input_schema").cloned().unwrap_or(json!({})),
                ))
            } else {
                Err(format!("Invalid tool configuration: {t}"))
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut out = json!({ "tools": converted });
    let tool_choice = match choice {
        None => None,
        Some(Json::String(s)) => match s.as_str() {
            "auto" => Some(json!({ "auto": {} })),
            "any" | "required" => Some(json!({ "any": {} })),
            _ => None,
        },
        Some(c) if c.get("auto").is_some() || c.get("any").is_some() || c.get("tool").is_some() => {
            Some(c.clone())
        }
        Some(c) => c["function"]["name"]
            .as_str()
            .or_else(|| c["name"].as_str())
            .map(|name| json!({ "tool": { "name": name } })),
    };
    if let Some(tc) = tool_choice {
        out["toolChoice"] = tc;
    }
    Ok(Some(out))
}

/// The `ConverseCommand` input less `modelId` (which goes in the path).
fn body(
    shared: &Shared,
    config: &Map<String, Json>,
    prompt: &str,
) -> Result<Map<String, Json>, String> {
    let (system, messages) = chat_prompt::converse_messages(prompt);
    let mut body = Map::new();
    body.insert("messages".into(), messages);
    if let Some(system) = system {
        body.insert("system".into(), system);
    }
    if let Some(inference) = inference_config(shared, config) {
        body.insert("inferenceConfig".into(), inference);
    }
    if let Some(tools) = tool_config(config)? {
        body.insert("toolConfig".into(), tools);
    }
    if let Some(id) = config.get("guardrailIdentifier").filter(|v| !v.is_null()) {
        let as_text = |v: &Json| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let mut guardrail = json!({
            "guardrailIdentifier": as_text(id),
            "guardrailVersion": config.get("guardrailVersion").filter(|v| !v.is_null()).map_or("DRAFT".into(), as_text),
        });
        if let Some(trace) = config.get("trace").filter(|v| !v.is_null()) {
            guardrail["trace"] = trace.clone();
        }
        body.insert("guardrailConfig".into(), guardrail);
    }
    let mut fields = match config.get("additionalModelRequestFields") {
        Some(Json::Object(f)) => f.clone(),
        _ => Map::new(),
    };
    for key in ["thinking", "reasoningConfig"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            fields.insert(key.into(), v.clone());
        }
    }
    if !fields.is_empty() {
        body.insert("additionalModelRequestFields".into(), Json::Object(fields));
    }
    if let Some(paths) = config.get("additionalModelResponseFieldPaths") {
        body.insert("additionalModelResponseFieldPaths".into(), paths.clone());
    }
    if let Some(p) = config.get("performanceConfig").filter(|v| v.is_object()) {
        body.insert(
            "performanceConfig".into(),
            json!({ "latency": p["latency"] }),
        );
    }
    if let Some(t) = config.get("serviceTier").filter(|v| v.is_object()) {
        body.insert("serviceTier".into(), json!({ "type": t["type"] }));
    }
    Ok(body)
}

/// promptfoo's `extractTextFromContentBlocks`.
fn output_text(content: &[Json], show_thinking: bool) -> String {
    let mut parts = Vec::new();
    for block in content {
        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
            parts.push(t.to_owned());
        } else if let Some(reasoning) = block.get("reasoningContent").filter(|r| !r.is_null()) {
            if !show_thinking {
                continue;
            }
            if let Some(r) = reasoning.get("reasoningText").filter(|r| !r.is_null()) {
                let thinking = r["text"].as_str().unwrap_or("");
                if !thinking.trim().is_empty() {
                    parts.push(format!("<thinking>\n{thinking}\n</thinking>"));
                    if let Some(sig) = r["signature"].as_str().filter(|s| !s.is_empty()) {
                        parts.push(format!("Signature: {sig}"));
                    }
                }
            } else if reasoning
                .get("redactedContent")
                .is_some_and(|r| !r.is_null())
            {
                parts.push("<thinking>[Redacted]</thinking>".into());
            }
        } else if let Some(tool) = block.get("toolUse").filter(|t| !t.is_null()) {
            parts.push(
                json!({ "type": "tool_use", "id": tool["toolUseId"], "name": tool["name"], "input": tool["input"] })
                    .to_string(),
            );
        }
    }
    parts.join("\n\n")
}

/// An AWS error answer as promptfoo words the SDK's exception.
fn error_text(exchange: &Exchange) -> String {
    let kind = exchange
        .http
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, v)| v.as_str())
        .or_else(|| exchange.json.as_ref()?.get("__type")?.as_str())
        .map(|t| {
            // `ValidationException:http://internal.amazon.com/...` or `ns#ValidationException`.
            let t = t.split(':').next().unwrap_or(t);
            t.rsplit('#').next().unwrap_or(t).to_owned()
        });
    let message = exchange
        .json
        .as_ref()
        .and_then(|j| j.get("message").or_else(|| j.get("Message")))
        .and_then(Json::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| exchange.text.chars().take(500).collect());
    let message = match &kind {
        Some(k) => format!("{k}: {message}"),
        None => format!(
            "HTTP {} {}: {message}",
            exchange.http.status, exchange.http.status_text
        ),
    };
    match kind.as_deref() {
        Some("ValidationException") => format!(
            "Bedrock Converse API validation error: {message}. Check that your model supports the Converse API and all parameters are valid."
        ),
        Some("AccessDeniedException") => format!(
            "Bedrock access denied: {message}. Ensure you have bedrock:InvokeModel permission and model access is enabled."
        ),
        _ => format!("Bedrock Converse API error: {message}"),
    }
}

/// The endpoint: `config.endpoint`, else Bedrock's runtime endpoint for the region.
pub fn endpoint(shared: &Shared, config: &Map<String, Json>) -> String {
    text(config, "endpoint")
        .map(|e| e.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            format!(
                "https://bedrock-runtime.{}.amazonaws.com",
                region(shared, config)
            )
        })
}

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    price: Option<ModelPrice>,
    prompt: &str,
) -> Response {
    let auth = match auth(shared, config) {
        Ok(a) => a,
        Err(e) => return Response::error(e),
    };
    let body = match body(shared, config, prompt) {
        Ok(b) => Json::Object(b).to_string(),
        Err(e) => return Response::error(e),
    };
    let region = region(shared, config);
    let url = format!(
        "{}/model/{}/converse",
        endpoint(shared, config),
        sigv4::uri_encode(model, false)
    );
    let parsed = match reqwest::Url::parse(&url) {
        Ok(u) => u,
        Err(e) => return Response::error(format!("Bedrock endpoint `{url}` is not a URL: {e}")),
    };
    let headers: Vec<(String, String)> = match &auth {
        Auth::Bearer(key) => vec![("authorization".into(), format!("Bearer {key}"))],
        Auth::Keys(credentials) => {
            let host = match (parsed.host_str(), parsed.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => {
                    return Response::error(format!("Bedrock endpoint `{url}` has no host"));
                }
            };
            sigv4::sign(
                &sigv4::Request {
                    method: "POST",
                    host: &host,
                    path: parsed.path(),
                    query: parsed.query().unwrap_or(""),
                    headers: &[("content-type", "application/json")],
                    payload: body.as_bytes(),
                },
                credentials,
                &sigv4::Scope {
                    region: &region,
                    service: "bedrock",
                    amz_date: &sigv4::now(),
                },
            )
            .headers
        }
    };
    let exchange = match openai::post_json(shared, parsed.as_str(), &headers, body).await {
        Ok(a) => a,
        Err(r) => {
            let e = r.error.unwrap_or_default();
            return Response::error(format!(
                "Bedrock Converse API error: {}",
                e.trim_start_matches("API call error: ")
            ));
        }
    };
    if !exchange.status.is_success() || exchange.json.is_none() {
        return Response::error(error_text(&exchange));
    }
    let data = exchange.json.unwrap_or_default();
    let content = data["output"]["message"]["content"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let show_thinking = config.get("showThinking") != Some(&Json::Bool(false));
    let usage = &data["usage"];
    let count = |k: &str| usage[k].as_u64().unwrap_or(0);
    let (input, output_tokens) = (count("inputTokens"), count("outputTokens"));
    let (cache_read, cache_write) = (
        count("cacheReadInputTokens"),
        count("cacheWriteInputTokens"),
    );
    let cost = price.map(|p| {
        p.cost(Usage {
            prompt: input + cache_read + cache_write,
            completion: output_tokens,
            cached_prompt: cache_read,
        })
    });
    let total = match count("totalTokens") {
        0 => input + output_tokens,
        n => n,
    };
    let error = match data["stopReason"].as_str() {
        Some("malformed_model_output") => Some(
            "Model produced invalid output. The response could not be parsed correctly.".into(),
        ),
        Some("malformed_tool_use") => Some(
            "Model produced a malformed tool use request. Check tool configuration and input schema."
                .into(),
        ),
        _ => None,
    };
    Response {
        output: Some(Json::String(output_text(&content, show_thinking))),
        error,
        token_usage: TokenUsage {
            prompt: input,
            completion: output_tokens,
            total,
            cached: 0,
            num_requests: 1,
        },
        // promptfoo keeps `stopReason` in the response's metadata, not as a finish reason.
        finish_reason: None,
        cost,
        http: None,
        guardrails: false,
        cached: false,
        latency_ms: None,
        logprobs: None,
    }
}
