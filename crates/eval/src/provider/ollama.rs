//! Ollama's own API: `ollama:chat:<model>` (`POST /api/chat`) and `ollama:<model>` or
//! `ollama:completion:<model>` (`POST /api/generate`), at `config.apiBaseUrl`, else
//! `OLLAMA_BASE_URL`, else `http://localhost:11434`. Follows promptfoo 0.123.1's
//! src/providers/ollama.ts: sampling keys go in the nested `options`, the answer is read
//! as newline-delimited JSON (one line when not streamed), an `error` in it (even after
//! HTTP 200) is an error row.

use super::openai::{self, Exchange};
use super::{Response, Shared, TokenUsage, chat_prompt, normalize_finish_reason};
use serde_json::{Map, Value as Json};

/// Which endpoint a provider id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/api/chat`: messages in, `message.content` out.
    Chat,
    /// `/api/generate`: a prompt in, `response` out.
    Generate,
}

/// Config keys sent inside `options` (promptfoo's `OllamaCompletionOptionKeys` less the
/// top-level ones).
const OPTION_KEYS: &[&str] = &[
    "num_predict",
    "num_keep",
    "seed",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_last_n",
    "temperature",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "draft_num_predict",
    "tfs_z",
    "num_gqa",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "low_vram",
    "use_mlock",
    "embedding_only",
    "rope_frequency_base",
    "rope_frequency_scale",
    "penalize_newline",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
];

/// Top-level request keys each endpoint accepts from the config.
fn top_level_keys(api: Api) -> &'static [&'static str] {
    match api {
        Api::Chat => &["think", "keep_alive", "format", "truncate", "tools"],
        Api::Generate => &[
            "think",
            "keep_alive",
            "format",
            "truncate",
            "suffix",
            "system",
            "template",
            "raw",
        ],
    }
}

pub fn base_url(shared: &Shared, config: &Map<String, Json>) -> String {
    config
        .get("apiBaseUrl")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| shared.env_var("OLLAMA_BASE_URL").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "http://localhost:11434".into())
}

fn body(
    config: &Map<String, Json>,
    model: &str,
    prompt: &str,
    api: Api,
) -> Result<Map<String, Json>, String> {
    let mut body = Map::new();
    body.insert("model".into(), Json::String(model.to_owned()));
    match api {
        Api::Chat => {
            body.insert("messages".into(), chat_prompt::openai_messages(prompt)?);
        }
        Api::Generate => {
            body.insert("prompt".into(), Json::String(prompt.to_owned()));
        }
    }
    // promptfoo streams chat answers and reads every line; asking for one is the same.
    body.insert("stream".into(), Json::Bool(false));
    let passthrough = match config.get("passthrough") {
        Some(Json::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    // `passthrough.options` merges into the options rather than replacing them.
    let mut options: Map<String, Json> = OPTION_KEYS
        .iter()
        .filter_map(|k| Some(((*k).to_owned(), config.get(*k)?.clone())))
        .collect();
    if let Some(Json::Object(more)) = passthrough.get("options") {
        options.extend(more.clone());
    }
    body.insert("options".into(), Json::Object(options));
    for key in top_level_keys(api) {
        if let Some(v) = config.get(*key) {
            body.insert((*key).to_owned(), v.clone());
        }
    }
    body.extend(passthrough.into_iter().filter(|(k, _)| k != "options"));
    Ok(body)
}

/// promptfoo's `extractOllamaErrorMessage`: an `error` in the body, or in any of its lines.
fn error_message(text: &str) -> Option<String> {
    let of = |v: &Json| match v.get("error")? {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    };
    if let Ok(v) = serde_json::from_str::<Json>(text) {
        return of(&v);
    }
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('{') && l.contains("\"error\""))
        .find_map(|l| of(&serde_json::from_str(l).ok()?))
}

pub async fn call(
    shared: &Shared,
    config: &Map<String, Json>,
    model: &str,
    api: Api,
    prompt: &str,
) -> Response {
    let body = match body(config, model, prompt, api) {
        Ok(b) => b,
        Err(e) => return Response::error(e),
    };
    let path = match api {
        Api::Chat => "/api/chat",
        Api::Generate => "/api/generate",
    };
    let url = format!("{}{path}", base_url(shared, config).trim_end_matches('/'));
    let mut headers = Vec::new();
    if let Some(key) = shared.env_var("OLLAMA_API_KEY").filter(|k| !k.is_empty()) {
        headers.push(("authorization".to_owned(), format!("Bearer {key}")));
    }
    let Exchange {
        http, status, text, ..
    } = match openai::post_json(shared, &url, &headers, Json::Object(body).to_string()).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let message = error_message(&text);
    let failure = if !status.is_success() {
        let detail = message.unwrap_or_else(|| text.trim().chars().take(500).collect());
        Some(format!(
            "Ollama API error: {} {}{}",
            http.status,
            http.status_text,
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ))
    } else {
        message.map(|m| format!("Ollama error: {m}"))
    };
    if let Some(e) = failure {
        let r = Response::error(e);
        return r;
    }
    let lines: Vec<Json> = match text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
    {
        Ok(lines) => lines,
        Err(e) => {
            return Response::error(format!(
                "Ollama API response error: {e}: {}",
                Json::String(text)
            ));
        }
    };
    let joined =
        |get: &dyn Fn(&Json) -> Option<&str>| -> String { lines.iter().filter_map(get).collect() };
    let (mut output, thinking) = match api {
        Api::Generate => (
            Json::String(joined(&|l| l["response"].as_str())),
            joined(&|l| l["thinking"].as_str()),
        ),
        Api::Chat => {
            let content = joined(&|l| l["message"]["content"].as_str());
            let calls: Vec<Json> = lines
                .iter()
                .filter_map(|l| l["message"]["tool_calls"].as_array())
                .flatten()
                .map(|call| {
                    let args = &call["function"]["arguments"];
                    serde_json::json!({ "function": {
                        "name": call["function"]["name"],
                        "arguments": args.as_str().map_or_else(|| args.to_string(), str::to_owned),
                    } })
                })
                .collect();
            let output = if calls.is_empty() {
                Json::String(content)
            } else if content.trim().is_empty() {
                Json::Array(calls)
            } else {
                serde_json::json!({ "content": content, "tool_calls": calls })
            };
            (output, joined(&|l| l["message"]["thinking"].as_str()))
        }
    };
    let show_thinking = config
        .get("showThinking")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    if let Json::String(text) = &output
        && !thinking.is_empty()
        && show_thinking
    {
        output = Json::String(if text.is_empty() {
            format!("Thinking: {thinking}")
        } else {
            format!("Thinking: {thinking}\n\n{text}")
        });
    }
    let done = lines.iter().find(|l| l["done"] == true);
    let token_usage = done
        .filter(|d| !d["prompt_eval_count"].is_null() || !d["eval_count"].is_null())
        .map(|d| {
            let prompt = d["prompt_eval_count"].as_u64().unwrap_or(0);
            let completion = d["eval_count"].as_u64().unwrap_or(0);
            TokenUsage {
                prompt,
                completion,
                total: prompt + completion,
                cached: 0,
                num_requests: 1,
            }
        })
        .unwrap_or(TokenUsage {
            num_requests: 1,
            ..TokenUsage::default()
        });
    Response {
        output: Some(output),
        error: None,
        token_usage,
        finish_reason: done
            .and_then(|d| d["done_reason"].as_str())
            .filter(|r| !r.trim().is_empty())
            .map(normalize_finish_reason),
        cost: None,
        http: None,
        guardrails: false,
        cached: false,
        latency_ms: None,
        logprobs: None,
    }
}
