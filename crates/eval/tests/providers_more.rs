//! Azure OpenAI, Gemini, Bedrock Converse, Ollama and the OpenAI-compatible presets
//! against a local server speaking each one's wire format. The Bedrock server checks
//! the SigV4 signature itself, with an HMAC written here from RFC 2104 (so it shares no
//! code with the signer), and refuses a request whose signature does not match.

mod support;

use promptops_core::canonical::{sha256, sha256_hex};
use promptops_eval::pricing::{NanoUsd, PriceTable};
use promptops_eval::provider::{Provider, Response, Shared};
use promptops_eval::suite::ProviderSpec;
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Reply, Request, Server};

fn spec(id: &str, config: Json) -> ProviderSpec {
    ProviderSpec {
        id: id.into(),
        reported_id: id.into(),
        label: String::new(),
        config: config.as_object().cloned().unwrap_or_default(),
        prompts: None,
        ..Default::default()
    }
}

/// A provider whose suite `env:` is `env` (so tests never touch the process environment).
fn provider_with_env(id: &str, config: Json, env: Json) -> Result<Provider, String> {
    let shared = Shared::new(
        Arc::new(PriceTable::shipped()),
        env.as_object().cloned().unwrap_or_default(),
        Duration::from_secs(10),
    )
    .unwrap();
    Provider::new(spec(id, config), shared)
}

fn provider(id: &str, config: Json) -> Provider {
    provider_with_env(id, config, json!({})).unwrap()
}

async fn ask(p: &Provider, prompt: &str) -> Response {
    p.call(prompt, &Map::new(), &Map::new()).await
}

fn tokens(r: &Response) -> (u64, u64, u64) {
    (
        r.token_usage.prompt,
        r.token_usage.completion,
        r.token_usage.total,
    )
}

fn raw(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

fn openai_answer(content: Json) -> Json {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    })
}

const CHAT: &str =
    r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]"#;

// ---------------------------------------------------------------- Azure OpenAI

#[tokio::test]
async fn azure_chat_request_and_response() {
    let server = Server::start(|_, _| Reply::json(200, openai_answer(json!("LABEL-7")))).await;
    let p = provider_with_env(
        "azure:chat:gpt-4o-mini",
        json!({"apiBaseUrl": format!("{}/", server.base), "temperature": 0.2, "seed": 3}),
        json!({"AZURE_OPENAI_API_KEY": "az-key-1"}),
    )
    .unwrap();
    let r = ask(&p, "Return the label for item 7").await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("LABEL-7")));
    assert_eq!(tokens(&r), (12, 3, 15));
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    // Priced by the deployment name: gpt-4o-mini, $0.15/M in, $0.60/M out.
    assert_eq!(r.cost, Some(NanoUsd(3600)));

    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        (
            "POST",
            "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-12-01-preview"
        )
    );
    assert_eq!(req.header("api-key"), Some("az-key-1"));
    assert_eq!(req.header("authorization"), None);
    let body = req.json();
    assert_eq!(
        body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Return the label for item 7"}],
            "max_tokens": 1024,
            "temperature": 0.2,
            "top_p": 1,
            "presence_penalty": 0,
            "frequency_penalty": 0,
            "seed": 3
        })
    );
}

#[tokio::test]
async fn azure_reasoning_deployments_api_version_and_system_prompt() {
    let server = Server::start(|_, _| Reply::json(200, openai_answer(json!("ok")))).await;
    let p = provider(
        "azureopenai:chat:my-o3-mini",
        json!({"apiBaseUrl": server.base, "apiKey": "k", "apiVersion": "2025-04-01-preview", "max_tokens": 300, "systemPrompt": "You are terse"}),
    );
    assert_eq!(ask(&p, CHAT).await.output, Some(json!("ok")));
    let req = &server.requests()[0];
    assert!(
        req.path
            .ends_with("/chat/completions?api-version=2025-04-01-preview"),
        "{}",
        req.path
    );
    let body = req.json();
    assert_eq!(body["reasoning_effort"], "medium");
    assert_eq!(body["max_completion_tokens"], 300);
    assert!(body.get("temperature").is_none() && body.get("max_tokens").is_none());
    // The configured system prompt replaces the prompt's own.
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You are terse"}, {"role": "user", "content": "Hi"}])
    );
}

#[tokio::test]
async fn azure_errors_and_the_content_filter() {
    let server = Server::start(|n, _| match n {
        0 => Reply::json(
            400,
            json!({"error": {"code": "content_filter", "status": 400, "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."}}),
        ),
        1 => Reply::json(
            401,
            json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}}),
        ),
        _ => raw(502, "<html>bad gateway</html>").with_header("retry-after", "0"),
    })
    .await;
    let p = provider(
        "azure:chat:d",
        json!({"apiBaseUrl": server.base, "apiKey": "az-secret-9"}),
    );
    let filtered = ask(&p, "something").await;
    assert_eq!(filtered.error, None);
    assert!(
        filtered
            .output
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("The response was filtered")
    );
    assert_eq!(filtered.finish_reason.as_deref(), Some("content_filter"));

    let denied = ask(&p, "x").await;
    assert_eq!(
        denied.error.as_deref(),
        Some(
            "API response error: 401 Access denied due to invalid subscription key or wrong API endpoint."
        )
    );
    assert_eq!(
        denied.http, None,
        "promptfoo's Azure rows carry no HTTP metadata"
    );
    assert_eq!(server.requests().len(), 2, "4xx answers are not retried");

    let bad = ask(&p, "x").await.error.unwrap();
    assert!(
        bad.starts_with("API call error: Error parsing response: HTTP 502 Bad Gateway"),
        "{bad}"
    );
    assert!(!bad.contains("az-secret-9"));
}

#[tokio::test]
async fn azure_needs_a_key_and_a_host_before_any_call() {
    let err = provider_with_env(
        "azure:chat:d",
        json!({"apiKey": "k"}),
        json!({"AZURE_API_HOST": ""}),
    );
    if std::env::var("AZURE_API_HOST").is_err() && std::env::var("AZURE_API_BASE_URL").is_err() {
        assert!(err.err().unwrap().contains("Azure API host must be set"));
    }
    if std::env::var("AZURE_API_KEY").is_err() && std::env::var("AZURE_OPENAI_API_KEY").is_err() {
        let err = provider_with_env(
            "azure:chat:d",
            json!({"apiHost": "x.openai.azure.com"}),
            json!({}),
        )
        .err()
        .unwrap();
        assert!(err.contains("AZURE_API_KEY"), "{err}");
    }
}

// ---------------------------------------------------------------- Gemini

fn gemini_answer() -> Json {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": "Ahoy"}, {"text": " matey"}]},
            "finishReason": "STOP",
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 2, "totalTokenCount": 16},
        "modelVersion": "gemini-2.5-flash"
    })
}

#[tokio::test]
async fn gemini_generate_content_request_and_response() {
    let server = Server::start(|_, _| Reply::json(200, gemini_answer())).await;
    let p = provider_with_env(
        "google:gemini-2.5-flash",
        json!({"apiBaseUrl": server.base, "temperature": 0.5, "maxOutputTokens": 100, "topP": 0.9,
               "systemInstruction": "Answer as {{persona}}",
               "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "BLOCK_NONE"}]}),
        json!({"GEMINI_API_KEY": "gm-key-1"}),
    )
    .unwrap();
    let mut vars = Map::new();
    vars.insert("persona".into(), json!("a pirate"));
    let r = p.call(CHAT, &vars, &Map::new()).await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("Ahoy matey")));
    assert_eq!(tokens(&r), (10, 4, 16));
    // gemini-2.5-flash: 10 × $0.30/M + (4 + 2 thinking) × $2.50/M.
    assert_eq!(r.cost, Some(NanoUsd(3_000 + 15_000)));
    assert_eq!(
        r.finish_reason, None,
        "promptfoo reports none for AI Studio"
    );
    assert!(r.guardrails);

    let req = &server.requests()[0];
    assert_eq!(
        req.path, "/v1beta/models/gemini-2.5-flash:generateContent",
        "the key travels in a header, not the URL"
    );
    assert_eq!(req.header("x-goog-api-key"), Some("gm-key-1"));
    assert_eq!(
        req.json(),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "generationConfig": {"temperature": 0.5, "topP": 0.9, "maxOutputTokens": 100},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "system_instruction": {"parts": [{"text": "Answer as a pirate"}, {"text": "Be brief"}]}
        })
    );
}

#[tokio::test]
async fn gemini_plain_prompts_function_calls_and_generation_config() {
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"id": 7}}}]}, "finishReason": "STOP"}],
                        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}});
    let server = Server::start(move |_, _| Reply::json(200, answer.clone())).await;
    let p = provider(
        "google:chat:gemini-2.0-flash",
        json!({"apiBaseUrl": server.base, "apiKey": "k", "apiVersion": "v1alpha",
               "generationConfig": {"response_mime_type": "application/json"}}),
    );
    let r = ask(&p, "Look up item 7").await;
    assert_eq!(
        r.output,
        Some(json!([{"functionCall": {"name": "lookup", "args": {"id": 7}}}]))
    );
    assert!(!r.guardrails, "no safety ratings, no guardrails");
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1alpha/models/gemini-2.0-flash:generateContent");
    assert_eq!(
        req.json(),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Look up item 7"}]}],
            "generationConfig": {"response_mime_type": "application/json"}
        })
    );
}

#[tokio::test]
async fn gemini_blocked_prompts_blocked_answers_and_errors_are_error_rows() {
    let blocked_prompt = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]}});
    let shown = blocked_prompt.to_string();
    let blocked_answer =
        json!({"candidates": [{"finishReason": "RECITATION", "safetyRatings": []}]});
    let empty = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}]});
    let bad_key = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}});
    let answers = [
        (200, blocked_prompt),
        (200, blocked_answer),
        (200, empty.clone()),
        (400, bad_key.clone()),
    ];
    let server = Server::start(move |n, _| Reply::json(answers[n].0, answers[n].1.clone())).await;
    let p = provider(
        "google:gemini-2.5-flash",
        json!({"apiBaseUrl": server.base, "apiKey": "AIza-secret"}),
    );
    assert_eq!(
        ask(&p, "x").await.error.unwrap(),
        format!(
            "Error: Response blocked: SAFETY (Safety ratings: HARM_CATEGORY_HARASSMENT: HIGH)\n\nGot response: {shown}"
        )
    );
    assert_eq!(
        ask(&p, "x").await.error.unwrap(),
        "Error: Response was blocked with finish reason: RECITATION\n\nThis typically occurs when the response is too similar to content from the model's training data."
    );
    assert_eq!(
        ask(&p, "x").await.error.unwrap(),
        format!("Error: No output found in response: {empty}")
    );
    let r = ask(&p, "x").await;
    assert_eq!(
        r.error.as_deref(),
        Some(
            format!("Error: No candidates returned in API response.\n\nGot response: {bad_key}")
                .as_str()
        )
    );
    assert_eq!(r.http, None);
    assert_eq!(server.requests().len(), 4);
    for req in server.requests() {
        assert!(!req.path.contains("AIza"));
    }
}

#[tokio::test]
async fn gemini_needs_a_key_before_any_call() {
    if ["GOOGLE_API_KEY", "GEMINI_API_KEY", "PALM_API_KEY"]
        .iter()
        .all(|v| std::env::var(v).is_err())
    {
        let err = provider_with_env("google:gemini-2.5-flash", json!({}), json!({}))
            .err()
            .unwrap();
        assert!(err.contains("GOOGLE_API_KEY or GEMINI_API_KEY"), "{err}");
    }
    assert!(provider_with_env("google:m", json!({}), json!({"GOOGLE_API_KEY": "k"})).is_ok());
}

// ---------------------------------------------------------------- Bedrock Converse

/// HMAC-SHA256 from RFC 2104, over promptops' SHA-256.
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key).0);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8, tail: &[u8]| {
        let mut v: Vec<u8> = block.iter().map(|b| b ^ byte).collect();
        v.extend_from_slice(tail);
        v
    };
    let inner = sha256(pad(0x36, data)).0;
    sha256(pad(0x5c, &inner)).0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_test_hmac_matches_rfc_4231() {
    // RFC 4231, test case 2.
    assert_eq!(
        hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Checks a request's SigV4 signature from what arrived on the wire, as AWS does:
/// `Ok(access key id)` or why it does not match.
fn verify_sigv4(req: &Request, secret: &str, region: &str) -> Result<String, String> {
    let auth = req
        .header("authorization")
        .ok_or("no authorization header")?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .ok_or(format!("no {name}"))
    };
    let credential = field("Credential")?;
    let signed_headers = field("SignedHeaders")?;
    let signature = field("Signature")?;
    let amz_date = req.header("x-amz-date").ok_or("no x-amz-date")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let (key_id, date, scope_region, service) = match scope.as_slice() {
        [k, d, r, s, "aws4_request"] => (*k, *d, *r, *s),
        _ => return Err(format!("bad credential scope {credential}")),
    };
    if date != &amz_date[..8] || scope_region != region || service != "bedrock" {
        return Err(format!("wrong scope {credential} for {amz_date}"));
    }
    for required in ["host", "x-amz-date"] {
        if !signed_headers.split(';').any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    // Every byte but the unreserved ones, `%` included: Bedrock's encoded path is
    // encoded once more.
    let canonical_path: String = path
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort();
    let headers: String = signed_headers
        .split(';')
        .map(|h| format!("{h}:{}\n", req.header(h).unwrap_or("").trim()))
        .collect();
    let canonical = format!(
        "{}\n{canonical_path}\n{}\n{headers}\n{signed_headers}\n{}",
        req.method,
        params.join("&"),
        sha256_hex(req.body.as_bytes())
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/bedrock/aws4_request\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, "bedrock", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if expected == signature {
        Ok(key_id.to_owned())
    } else {
        Err(format!(
            "signature mismatch; canonical request:\n{canonical}"
        ))
    }
}

/// A Converse server that accepts only requests signed with `secret` for `region`.
async fn converse_server(secret: &'static str, region: &'static str, answer: Json) -> Server {
    Server::start(move |_, req| match verify_sigv4(req, secret, region) {
        Ok(_) => Reply::json(200, answer.clone()),
        Err(why) => Reply::json(
            403,
            json!({"message": format!("The request signature we calculated does not match the signature you provided. ({why})")}),
        )
        .with_header("x-amzn-ErrorType", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/"),
    })
    .await
}

fn converse_answer() -> Json {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "The user greets.", "signature": "sig1"}}},
            {"text": "Hello"}, {"text": "there"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 20, "outputTokens": 5, "totalTokens": 25},
        "metrics": {"latencyMs": 321}
    })
}

const HAIKU: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

#[tokio::test]
async fn bedrock_converse_is_signed_and_read() {
    let server = converse_server("secret-1", "eu-west-1", converse_answer()).await;
    let p = provider(
        &format!("bedrock:converse:{HAIKU}"),
        json!({"endpoint": server.base, "region": "eu-west-1",
               "accessKeyId": "AKIDTEST", "secretAccessKey": "secret-1", "sessionToken": "session-tok",
               "max_tokens": 256, "temperature": 0.1, "topP": 0.9, "showThinking": false}),
    );
    let r = ask(&p, CHAT).await;
    assert_eq!(r.error, None, "{:?}", server.requests());
    assert_eq!(r.output, Some(json!("Hello\n\nthere")));
    assert_eq!(tokens(&r), (20, 5, 25));
    // Claude 3.5 Haiku on Bedrock: 20 × $0.80/M + 5 × $4/M.
    assert_eq!(r.cost, Some(NanoUsd(16_000 + 20_000)));
    assert_eq!(
        r.finish_reason, None,
        "promptfoo keeps stopReason as metadata"
    );

    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        (
            "POST",
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
        )
    );
    assert_eq!(
        verify_sigv4(req, "secret-1", "eu-west-1"),
        Ok("AKIDTEST".into())
    );
    assert_eq!(req.header("x-amz-security-token"), Some("session-tok"));
    let auth = req.header("authorization").unwrap();
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
        "{auth}"
    );
    let date = req.header("x-amz-date").unwrap();
    assert!(
        date.len() == 16 && date.as_bytes()[8] == b'T' && date.ends_with('Z'),
        "{date}"
    );
    assert_eq!(
        req.json(),
        json!({
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "system": [{"text": "Be brief"}],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.1, "topP": 0.9}
        })
    );
}

#[tokio::test]
async fn bedrock_a_wrong_signature_is_refused_and_reported_without_the_secret() {
    let server = converse_server("the-right-secret", "us-west-2", converse_answer()).await;
    let p = provider_with_env(
        "bedrock:amazon.nova-lite-v1:0",
        json!({"endpoint": server.base}),
        json!({"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "a-wrong-secret", "AWS_REGION": "us-west-2"}),
    )
    .unwrap();
    let r = ask(&p, "Hi").await;
    let error = r.error.unwrap();
    assert!(
        error.starts_with("Bedrock Converse API error: InvalidSignatureException: The request signature we calculated does not match"),
        "{error}"
    );
    assert!(!error.contains("a-wrong-secret"));
    // The environment's keys and region were used: the scope names them.
    let req = &server.requests()[0];
    assert!(
        req.header("authorization")
            .unwrap()
            .contains("Credential=AKIDENV/")
    );
    assert!(verify_sigv4(req, "a-wrong-secret", "us-west-2").is_ok());
    assert_eq!(req.header("x-amz-security-token"), None);
    assert_eq!(req.path, "/model/amazon.nova-lite-v1%3A0/converse");
}

#[tokio::test]
async fn bedrock_api_keys_line_prompts_tools_and_validation_errors() {
    let server = Server::start(|n, _| match n {
        0 => Reply::json(200, json!({
            "output": {"message": {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"id": 7}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 9, "outputTokens": 4}
        })),
        _ => Reply::json(400, json!({"message": "The provided model identifier is invalid."}))
            .with_header("x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    })
    .await;
    let p = provider_with_env(
        "bedrock:converse:us.amazon.nova-lite-v1:0",
        json!({"endpoint": server.base, "stop": ["END"],
               "tools": [{"type": "function", "function": {"name": "lookup", "description": "Find", "parameters": {"type": "object"}}}],
               "tool_choice": "required"}),
        json!({"AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key-1"}),
    )
    .unwrap();
    let r = ask(&p, "system: Be brief\nuser: Find item 7").await;
    assert_eq!(
        r.output,
        Some(json!(
            r#"{"type":"tool_use","id":"t1","name":"lookup","input":{"id":7}}"#
        ))
    );
    assert_eq!(tokens(&r), (9, 4, 13));
    let req = &server.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some("Bearer bedrock-api-key-1")
    );
    assert_eq!(req.header("x-amz-date"), None);
    assert_eq!(
        req.json(),
        json!({
            "messages": [{"role": "user", "content": [{"text": "Find item 7"}]}],
            "system": [{"text": "Be brief"}],
            "inferenceConfig": {"stopSequences": ["END"]},
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}, "description": "Find"}}],
                "toolChoice": {"any": {}}
            }
        })
    );
    let error = ask(&p, "Hi").await.error.unwrap();
    assert_eq!(
        error,
        "Bedrock Converse API validation error: ValidationException: The provided model identifier is invalid.. Check that your model supports the Converse API and all parameters are valid."
    );
    assert!(!error.contains("bedrock-api-key-1"));
}

#[tokio::test]
async fn bedrock_needs_credentials_before_any_call() {
    let none = ["AWS_ACCESS_KEY_ID", "AWS_BEARER_TOKEN_BEDROCK"]
        .iter()
        .all(|v| std::env::var(v).is_err());
    if none {
        let err = provider_with_env("bedrock:converse:m", json!({}), json!({}))
            .err()
            .unwrap();
        assert!(
            err.contains("no AWS credentials") && err.contains("AWS_ACCESS_KEY_ID"),
            "{err}"
        );
        let err = provider_with_env("bedrock:converse:m", json!({"profile": "dev"}), json!({}))
            .err()
            .unwrap();
        assert!(err.contains("profiles and SSO are not supported"), "{err}");
    }
}

// ---------------------------------------------------------------- Ollama

#[tokio::test]
async fn ollama_chat_request_and_response() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({
                "model": "llama3.2:3b", "created_at": "2024-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": "Hi!"},
                "done": true, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 3
            }),
        )
    })
    .await;
    let p = provider(
        "ollama:chat:llama3.2:3b",
        json!({"apiBaseUrl": server.base, "temperature": 0.2, "num_predict": 50, "keep_alive": "5m",
               "passthrough": {"options": {"num_ctx": 4096}}}),
    );
    let r = ask(&p, CHAT).await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("Hi!")));
    assert_eq!(tokens(&r), (11, 3, 14));
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.cost, None, "a local model has no price");
    let req = &server.requests()[0];
    assert_eq!(req.path, "/api/chat");
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        req.json(),
        json!({
            "model": "llama3.2:3b",
            "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}],
            "stream": false,
            "options": {"temperature": 0.2, "num_predict": 50, "num_ctx": 4096},
            "keep_alive": "5m"
        })
    );
}

#[tokio::test]
async fn ollama_generate_reads_streamed_lines_and_thinking() {
    let lines = [
        json!({"response": "", "thinking": "Hmm.", "done": false}),
        json!({"response": "Hel", "done": false}),
        json!({"response": "lo", "done": false}),
        json!({"response": "", "done": true, "done_reason": "length", "prompt_eval_count": 5, "eval_count": 2}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    let server = Server::start(move |_, _| raw(200, &lines)).await;
    let p = provider_with_env(
        "ollama:llama3.2",
        json!({"system": "Be brief", "suffix": "ignored"}),
        json!({"OLLAMA_BASE_URL": server.base, "OLLAMA_API_KEY": "ol-key"}),
    )
    .unwrap();
    let r = ask(&p, "Say hello").await;
    assert_eq!(r.output, Some(json!("Thinking: Hmm.\n\nHello")));
    assert_eq!(r.finish_reason.as_deref(), Some("length"));
    assert_eq!(tokens(&r), (5, 2, 7));
    let req = &server.requests()[0];
    assert_eq!(req.path, "/api/generate");
    assert_eq!(req.header("authorization"), Some("Bearer ol-key"));
    assert_eq!(
        req.json(),
        json!({"model": "llama3.2", "prompt": "Say hello", "stream": false, "options": {},
               "suffix": "ignored", "system": "Be brief"})
    );
}

#[tokio::test]
async fn ollama_errors_and_tool_calls() {
    let server = Server::start(|n, _| match n {
        0 => Reply::json(
            404,
            json!({"error": "model \"nope\" not found, try pulling it first"}),
        ),
        1 => raw(
            200,
            "{\"message\":{\"role\":\"assistant\",\"content\":\"par\"},\"done\":false}\n{\"error\":\"unexpected EOF\"}",
        ),
        _ => Reply::json(200, json!({
            "message": {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "lookup", "arguments": {"id": 7}}}]},
            "done": true, "done_reason": "stop"
        })),
    })
    .await;
    let p = provider("ollama:chat:nope", json!({"apiBaseUrl": server.base}));
    let r = ask(&p, "x").await;
    assert_eq!(
        r.error.as_deref(),
        Some("Ollama API error: 404 Not Found: model \"nope\" not found, try pulling it first")
    );
    assert_eq!(
        ask(&p, "x").await.error.as_deref(),
        Some("Ollama error: unexpected EOF")
    );
    let calls = ask(&p, "x").await;
    assert_eq!(
        calls.output,
        Some(json!([{"function": {"name": "lookup", "arguments": "{\"id\":7}"}}]))
    );
    // No counts from the server: tokens are estimated, as for other such providers.
    assert!(calls.token_usage.total > 0);
}

// ---------------------------------------------------------------- OpenAI-compatible presets

#[tokio::test]
async fn mistral_sends_its_own_body_and_reads_text_chunks() {
    let answer = openai_answer(json!([
        {"type": "thinking", "thinking": [{"type": "text", "text": "Think"}]},
        {"type": "text", "text": "Bonjour"}
    ]));
    let server = Server::start(move |_, _| Reply::json(200, answer.clone())).await;
    let p = provider_with_env(
        "mistral:mistral-small-latest",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "safe_prompt": true}),
        json!({"MISTRAL_API_KEY": "mk-1", "OPENAI_TEMPERATURE": "0.9"}),
    )
    .unwrap();
    let r = ask(&p, "Say hello in French").await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("Bonjour")));
    assert_eq!(tokens(&r), (12, 3, 15));
    // mistral/mistral-small-latest: $0.15/M in, $0.60/M out.
    assert_eq!(r.cost, Some(NanoUsd(3600)));
    assert_eq!(r.finish_reason, None);
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.header("authorization"), Some("Bearer mk-1"));
    assert_eq!(
        req.json(),
        json!({
            "model": "mistral-small-latest",
            "messages": [{"role": "user", "content": "Say hello in French"}],
            "top_p": 1, "max_tokens": 1024, "safe_prompt": true, "random_seed": null
        })
    );
}

#[tokio::test]
async fn openrouter_together_and_groq_are_the_openai_path_with_their_own_keys() {
    let server = Server::start(|_, _| Reply::json(200, openai_answer(json!("ok")))).await;
    let base = format!("{}/api/v1", server.base);
    let env = json!({"OPENROUTER_API_KEY": "or-1", "TOGETHER_API_KEY": "tg-1", "MY_GROQ": "gq-1", "OPENAI_API_KEY": "never-sent"});
    let cases = [
        (
            "openrouter:meta-llama/llama-3.1-8b-instruct:free",
            json!({"apiBaseUrl": base, "transforms": ["middle-out"], "provider": {"order": ["a"]}, "temperature": 0.4}),
            "Bearer or-1",
            json!({"transforms": ["middle-out"], "provider": {"order": ["a"]}, "temperature": 0.4}),
        ),
        (
            "togetherai:meta-llama/Llama-3-8b-chat-hf",
            json!({"apiBaseUrl": base, "repetition_penalty": 1.1, "max_tokens": 20, "requestsPerSecond": 100}),
            "Bearer tg-1",
            json!({"repetition_penalty": 1.1, "max_tokens": 20}),
        ),
        (
            "groq:llama-3.1-8b-instant",
            json!({"apiBaseUrl": base, "apiKeyEnvar": "MY_GROQ", "reasoning_format": "parsed"}),
            "Bearer gq-1",
            json!({"reasoning_format": "parsed", "max_tokens": 1024}),
        ),
    ];
    for (i, (id, config, auth, expected)) in cases.into_iter().enumerate() {
        let p = provider_with_env(id, config, env.clone()).unwrap();
        let r = ask(&p, "Hi").await;
        assert_eq!(r.output, Some(json!("ok")), "{id}");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"), "{id}");
        let req = &server.requests()[i];
        assert_eq!(req.path, "/api/v1/chat/completions", "{id}");
        assert_eq!(req.header("authorization"), Some(auth), "{id}");
        let body = req.json();
        assert_eq!(body["model"], id.split_once(':').unwrap().1, "{id}");
        for (k, v) in expected.as_object().unwrap() {
            assert_eq!(&body[k], v, "{id}: {k}");
        }
        for local in ["apiBaseUrl", "apiKeyEnvar", "requestsPerSecond"] {
            assert!(body.get(local).is_none(), "{id} sent {local}");
        }
    }
}

#[tokio::test]
async fn presets_want_their_own_key_not_openais() {
    if std::env::var("MISTRAL_API_KEY").is_err() {
        let err = provider_with_env(
            "mistral:mistral-large-latest",
            json!({}),
            json!({"OPENAI_API_KEY": "sk-openai"}),
        )
        .err()
        .unwrap();
        assert!(err.contains("MISTRAL_API_KEY"), "{err}");
    }
    if std::env::var("GROQ_API_KEY").is_err() {
        let err = provider_with_env("groq:m", json!({}), json!({}))
            .err()
            .unwrap();
        assert!(err.contains("GROQ_API_KEY"), "{err}");
    }
}
