//! Google AI Studio's Gemini API (`google:<model>`): `POST
//! {base}/v1beta/models/{model}:generateContent` with the key in `x-goog-api-key`.
//! Follows promptfoo 0.123.1's src/providers/google/ai.studio.ts (`callGemini`) and
//! util.ts: `generationConfig` holds only what the config sets; a blocked prompt
//! (`promptFeedback.blockReason`), a blocked answer (finish reason `SAFETY`,
//! `RECITATION`, ...) and an empty answer are error rows worded as promptfoo words them.

use super::openai::{self, Exchange};
use super::{Response, Shared, TokenUsage, chat_prompt};
use crate::pricing::{ModelPrice, Usage};
use promptops_core::template::{self, Undefined};
use serde_json::{Map, Value as Json, json};

const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Finish reasons promptfoo turns into an error row.
const BLOCKED: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
];

/// `config.apiKey`, else `GOOGLE_API_KEY`, `GEMINI_API_KEY`, `PALM_API_KEY`.
pub fn api_key(shared: &Shared, config: &Map<String, Json>) -> Option<String> {
    config
        .get("apiKey")
        .and_then(Json::as_str)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            ["GOOGLE_API_KEY", "GEMINI_API_KEY", "PALM_API_KEY"]
                .iter()
                .find_map(|v| shared.env_var(v).filter(|k| !k.is_empty()))
        })
}

/// `https://` + `config.apiHost` (or `GOOGLE_API_HOST`, `PALM_API_HOST`); else
/// `config.apiBaseUrl` (or `GOOGLE_API_BASE_URL`); else Google's.
fn base_url(shared: &Shared, config: &Map<String, Json>) -> String {
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(host) = text("apiHost").or_else(|| {
        ["GOOGLE_API_HOST", "PALM_API_HOST"]
            .iter()
            .find_map(|v| shared.env_var(v))
    }) {
        return format!("https://{host}");
    }
    text("apiBaseUrl")
        .or_else(|| shared.env_var("GOOGLE_API_BASE_URL"))
        .unwrap_or_else(|| DEFAULT_BASE_URL.into())
}

/// The `generateContent` request body.
fn body(
    shared: &Shared,
    config: &Map<String, Json>,
    prompt: &str,
    vars: &Map<String, Json>,
) -> Result<Map<String, Json>, String> {
    let use_assistant_role = config
        .get("useAssistantRole")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let (contents, prompt_system) = chat_prompt::gemini_contents(prompt, use_assistant_role)?;
    let system = match (system_instruction(shared, config, vars)?, prompt_system) {
        (Some(mut configured), Some(from_prompt)) => {
            if let (Some(parts), Some(more)) = (
                configured["parts"].as_array_mut(),
                from_prompt["parts"].as_array(),
            ) {
                parts.extend(more.iter().cloned());
            }
            Some(configured)
        }
        (configured, from_prompt) => configured.or(from_prompt),
    };
    let mut generation = Map::new();
    for key in [
        "temperature",
        "topP",
        "topK",
        "stopSequences",
        "maxOutputTokens",
    ] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            generation.insert(key.into(), v.clone());
        }
    }
    if let Some(Json::Object(g)) = config.get("generationConfig") {
        generation.extend(g.clone());
    }
    if let Some(schema) = config.get("responseSchema").filter(|s| !s.is_null()) {
        if generation.contains_key("response_schema") {
            return Err(
                "`responseSchema` provided but `generationConfig.response_schema` already set."
                    .into(),
            );
        }
        let schema = match schema {
            Json::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("`responseSchema` is not JSON: {e}"))?
            }
            other => other.clone(),
        };
        generation.insert("response_schema".into(), schema);
        generation.insert("response_mime_type".into(), json!("application/json"));
    }
    let mut body = Map::new();
    body.insert("contents".into(), contents);
    body.insert("generationConfig".into(), Json::Object(generation));
    if let Some(Json::Array(settings)) = config.get("safetySettings") {
        let normalized = settings
            .iter()
            .map(|s| {
                let threshold = [&s["threshold"], &s["probability"]]
                    .into_iter()
                    .find(|v| v.as_str().is_some_and(|t| !t.is_empty()))
                    .cloned()
                    .unwrap_or(json!(""));
                json!({ "category": s["category"], "threshold": threshold })
            })
            .collect();
        body.insert("safetySettings".into(), Json::Array(normalized));
    }
    for key in ["toolConfig", "tools"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(system) = system {
        body.insert("system_instruction".into(), system);
    }
    if let Some(Json::Object(extra)) = config.get("passthrough") {
        body.extend(extra.clone());
    }
    Ok(body)
}

/// `config.systemInstruction`: text (or `file://` text, relative to the suite) becomes
/// `{parts: [{text}]}`; every text part is rendered with the test's vars.
fn system_instruction(
    shared: &Shared,
    config: &Map<String, Json>,
    vars: &Map<String, Json>,
) -> Result<Option<Json>, String> {
    let mut instruction = match config.get("systemInstruction") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.is_empty() => return Ok(None),
        Some(Json::String(s)) => {
            let text = match s.strip_prefix("file://") {
                Some(path) => std::fs::read_to_string(shared.base_dir.join(path))
                    .map_err(|e| format!("cannot read systemInstruction file `{path}`: {e}"))?,
                None => s.clone(),
            };
            json!({ "parts": [{ "text": text }] })
        }
        Some(other) => other.clone(),
    };
    if let Some(parts) = instruction["parts"].as_array_mut() {
        for part in parts {
            if let Some(text) = part["text"]
                .as_str()
                .filter(|t| t.contains("{{") || t.contains("{%"))
            {
                let rendered =
                    template::render_with(text, vars, Undefined::Lenient).map_err(|e| {
                        format!(
                            "Unable to render nunjucks in systemInstruction: {}",
                            e.message
                        )
                    })?;
                part["text"] = Json::String(rendered);
            }
        }
    }
    Ok(Some(instruction))
}

/// `category: probability` of each rating that is not `NEGLIGIBLE`.
fn flagged_ratings(ratings: &Json, with_blocked: bool) -> Vec<String> {
    ratings
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|r| {
                    r["probability"] != "NEGLIGIBLE" || (with_blocked && r["blocked"] == true)
                })
                .map(|r| {
                    let text = |v: &Json| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    format!(
                        "{}: {}{}",
                        text(&r["category"]),
                        text(&r["probability"]),
                        if with_blocked && r["blocked"] == true {
                            " (BLOCKED)"
                        } else {
                            ""
                        }
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// promptfoo's `getCandidate` + `formatCandidateContents`: the answer's text (or its
/// parts when some are not text), or the error row's message.
fn output_of(data: &Json) -> Result<Json, String> {
    let Some(candidate) = data["candidates"].as_array().and_then(|c| c.first()) else {
        let feedback = &data["promptFeedback"];
        let mut message = if let Some(reason) = feedback["blockReason"].as_str() {
            let mut m = format!("Response blocked: {reason}");
            let flagged = flagged_ratings(&feedback["safetyRatings"], false);
            if !flagged.is_empty() {
                m.push_str(&format!(" (Safety ratings: {})", flagged.join(", ")));
            }
            m
        } else {
            let flagged = flagged_ratings(&feedback["safetyRatings"], false);
            if flagged.is_empty() {
                "No candidates returned in API response.".to_owned()
            } else {
                format!(
                    "Response may have been blocked due to safety filters: {}",
                    flagged.join(", ")
                )
            }
        };
        message.push_str(&format!("\n\nGot response: {data}"));
        return Err(message);
    };
    if let Some(reason) = candidate["finishReason"]
        .as_str()
        .filter(|r| BLOCKED.contains(r))
    {
        let mut m = format!("Response was blocked with finish reason: {reason}");
        let flagged = flagged_ratings(&candidate["safetyRatings"], true);
        if !flagged.is_empty() {
            m.push_str(&format!("\nSafety ratings: {}", flagged.join(", ")));
        }
        match reason {
            "RECITATION" => m.push_str("\n\nThis typically occurs when the response is too similar to content from the model's training data."),
            "SAFETY" => m.push_str("\n\nThe response was blocked due to safety filters. Consider adjusting safety settings or modifying your prompt."),
            _ => {}
        }
        return Err(m);
    }
    let Some(parts) = candidate["content"]["parts"].as_array() else {
        // promptfoo skips a `STOP` candidate without parts, then finds no output.
        return Err(if candidate["finishReason"] == "STOP" {
            format!("No output found in response: {data}")
        } else {
            format!("No output found in response: {candidate}")
        });
    };
    let output = if parts.iter().all(|p| p.get("text").is_some()) {
        Json::String(
            parts
                .iter()
                .map(|p| {
                    p["text"]
                        .as_str()
                        .map_or_else(|| p["text"].to_string(), str::to_owned)
                })
                .collect(),
        )
    } else {
        Json::Array(parts.clone())
    };
    if output.as_str() == Some("") {
        return Err(format!("No output found in response: {data}"));
    }
    Ok(output)
}

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    price: Option<ModelPrice>,
    prompt: &str,
    vars: &Map<String, Json>,
) -> Response {
    let body = match body(shared, config, prompt, vars) {
        Ok(b) => b,
        Err(e) => return Response::error(e),
    };
    let version = config
        .get("apiVersion")
        .and_then(Json::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(if model == "gemini-2.0-flash-thinking-exp" {
            "v1alpha"
        } else {
            "v1beta"
        });
    let url = format!(
        "{}/{version}/models/{model}:generateContent",
        base_url(shared, config).trim_end_matches('/')
    );
    let mut headers = openai::config_headers(config);
    if let Some(key) = api_key(shared, config) {
        headers.push(("x-goog-api-key".into(), key));
    }
    let Exchange {
        http, text, json, ..
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
    // promptfoo reads an error answer like any other: it has no candidates.
    let output = match output_of(&data) {
        Ok(o) => o,
        Err(e) => {
            let r = Response::error(format!("Error: {e}"));
            return r;
        }
    };
    let meta = &data["usageMetadata"];
    let count = |k: &str| meta[k].as_u64().unwrap_or(0);
    let prompt_tokens = count("promptTokenCount");
    let candidates = count("candidatesTokenCount");
    let cost = price.map(|p| {
        p.cost(Usage {
            prompt: prompt_tokens,
            completion: candidates + count("thoughtsTokenCount"),
            cached_prompt: count("cachedContentTokenCount"),
        })
    });
    // Safety ratings with none flagged read as promptfoo's `guardrails: {flagged: false}`.
    let rated = !data["promptFeedback"]["safetyRatings"].is_null()
        || !data["candidates"][0]["safetyRatings"].is_null();
    let flagged = !flagged_ratings(&data["promptFeedback"]["safetyRatings"], false).is_empty()
        || !flagged_ratings(&data["candidates"][0]["safetyRatings"], false).is_empty();
    Response {
        output: Some(output),
        error: None,
        token_usage: TokenUsage {
            prompt: prompt_tokens + count("toolUsePromptTokenCount"),
            completion: candidates,
            total: count("totalTokenCount"),
            cached: 0,
            num_requests: 1,
        },
        // promptfoo's AI Studio provider reports no finish reason.
        finish_reason: None,
        cost,
        http: None,
        guardrails: rated && !flagged,
        cached: false,
        latency_ms: None,
        logprobs: None,
    }
}
