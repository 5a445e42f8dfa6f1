//! Providers against a local server speaking each provider's real wire format.

mod support;

use promptops_eval::pricing::{NanoUsd, PriceTable};
use promptops_eval::provider::{Provider, Shared};
use promptops_eval::suite::ProviderSpec;
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Reply, Server};

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

fn provider(id: &str, config: Json) -> Provider {
    let shared = Shared::new(
        Arc::new(PriceTable::shipped()),
        Map::new(),
        Duration::from_secs(10),
    )
    .unwrap();
    Provider::new(spec(id, config), shared).unwrap()
}

fn openai_answer(text: &str) -> Json {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    })
}

#[tokio::test]
async fn openai_chat_request_and_response() {
    let server = Server::start(|_, _| Reply::json(200, openai_answer("LABEL-7"))).await;
    let p = provider(
        "openai:chat:gpt-4o-mini",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "sk-test-123", "temperature": 0.3, "seed": 7}),
    );
    let r = p
        .call("Return the label for item 7", &Map::new(), &Map::new())
        .await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("LABEL-7")));
    assert_eq!(
        (
            r.token_usage.prompt,
            r.token_usage.completion,
            r.token_usage.total
        ),
        (12, 3, 15)
    );
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    // gpt-4o-mini: 12 × $0.15/M + 3 × $0.60/M = 1800 + 1800 nano-dollars.
    assert_eq!(r.cost, Some(NanoUsd(3600)));

    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-123"));
    let body = req.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Return the label for item 7"}])
    );
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["seed"], 7);
    assert!(body.get("stream").is_none());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        &keys[..4],
        ["model", "messages", "max_tokens", "temperature"]
    );
}

#[tokio::test]
async fn openai_test_options_override_provider_config_and_chat_json_is_sent_as_messages() {
    let server = Server::start(|_, _| Reply::json(200, openai_answer("ok"))).await;
    let p = provider(
        "openai:gpt-4o",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k", "max_tokens": 50}),
    );
    let mut options = Map::new();
    options.insert("max_tokens".into(), json!(9));
    let chat = r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]"#;
    let r = p.call(chat, &Map::new(), &options).await;
    assert_eq!(r.output, Some(json!("ok")));
    let body = server.requests()[0].json();
    assert_eq!(body["max_tokens"], 9);
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief"})
    );
}

#[tokio::test]
async fn openai_tool_calls_become_the_output() {
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}], "usage": {}});
    let server = Server::start(move |_, _| Reply::json(200, answer.clone())).await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(r.output.unwrap()[0]["function"]["name"], "f");
    assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(r.cost, None, "unknown model: no cost, not zero");
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let server = Server::start(|n, _| {
        if n < 2 {
            Reply::json(429, json!({"error": {"message": "slow down", "type": "rate_limit", "param": null, "code": null}})).with_header("retry-after", "0")
        } else {
            Reply::json(200, openai_answer("fine"))
        }
    })
    .await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(r.output, Some(json!("fine")));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_status_and_body() {
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::json(500, json!({"error": {"message": "boom"}})).with_header("retry-after", "0")
        } else {
            Reply::json(200, openai_answer("ok"))
        }
    })
    .await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
    );
    assert_eq!(
        p.call("x", &Map::new(), &Map::new()).await.output,
        Some(json!("ok"))
    );

    let always = Server::start(|_, _| {
        Reply::json(500, json!({"error": {"message": "boom"}})).with_header("retry-after", "0")
    })
    .await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", always.base), "apiKey": "k"}),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(
        r.error.as_deref(),
        Some("API error: 500 Internal Server Error\n{\"error\":{\"message\":\"boom\"}}")
    );
    assert_eq!(r.http.unwrap().status, 500);
    assert_eq!(always.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server =
        Server::start(|_, _| Reply::json(400, json!({"error": {"message": "bad model"}}))).await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert!(r.error.unwrap().starts_with("API error: 400 Bad Request\n"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn anthropic_messages_request_and_response() {
    let answer = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}],
        "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 2}
    });
    let server = Server::start(move |_, _| Reply::json(200, answer.clone())).await;
    let p = provider(
        "anthropic:messages:claude-sonnet-4-20250514",
        json!({"apiBaseUrl": server.base, "apiKey": "sk-ant-test"}),
    );
    let chat = r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]"#;
    let r = p.call(chat, &Map::new(), &Map::new()).await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("Hello\n\nthere")));
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
    assert_eq!((r.token_usage.prompt, r.token_usage.completion), (10, 2));
    // $3/M input, $15/M output.
    assert_eq!(r.cost, Some(NanoUsd(30_000 + 30_000)));

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    let body = req.json();
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "Be brief"}])
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    );
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["stream"], false);
}

#[tokio::test]
async fn anthropic_errors_use_the_error_body() {
    let server = Server::start(|_, _| Reply::json(400, json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: required"}}))).await;
    let p = provider(
        "anthropic:messages:claude-x",
        json!({"apiBaseUrl": server.base, "apiKey": "k"}),
    );
    let r = p.call("hi", &Map::new(), &Map::new()).await;
    assert_eq!(
        r.error.as_deref(),
        Some("API call error: max_tokens: required, status 400, type invalid_request_error")
    );
}

#[tokio::test]
async fn missing_keys_fail_before_any_call() {
    let shared = Shared::new(
        Arc::new(PriceTable::default()),
        Map::new(),
        Duration::from_secs(1),
    )
    .unwrap();
    if std::env::var("OPENAI_API_KEY").is_err() {
        let err = Provider::new(spec("openai:chat:m", json!({})), shared.clone())
            .err()
            .unwrap();
        assert!(err.contains("OPENAI_API_KEY"), "{err}");
    }
    let mut env = Map::new();
    env.insert("ANTHROPIC_API_KEY".into(), json!("from-suite-env"));
    let shared = Shared::new(Arc::new(PriceTable::default()), env, Duration::from_secs(1)).unwrap();
    assert!(Provider::new(spec("anthropic:messages:m", json!({})), shared).is_ok());
}

#[tokio::test]
async fn echo_and_exec() {
    let shared = Shared::new(
        Arc::new(PriceTable::default()),
        Map::new(),
        Duration::from_secs(10),
    )
    .unwrap();
    let echo = Provider::new(spec("echo", json!({})), shared.clone()).unwrap();
    assert_eq!(
        echo.call("hello", &Map::new(), &Map::new()).await.output,
        Some(json!("hello"))
    );

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("answer.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"got: $1\"\n").unwrap();
    let exec = Provider::new(
        spec(&format!("exec: sh {}", script.display()), json!({})),
        shared.clone(),
    )
    .unwrap();
    let answer = exec.call("the prompt", &Map::new(), &Map::new()).await;
    assert_eq!(answer.output, Some(json!("got: the prompt")));
    // exec reports no usage: tokens are estimated with tiktoken (o200k_base).
    assert_eq!(
        (
            answer.token_usage.prompt,
            answer.token_usage.completion,
            answer.token_usage.total
        ),
        (2, 4, 6)
    );
    assert_eq!(
        echo.call("hello", &Map::new(), &Map::new())
            .await
            .token_usage
            .total,
        0,
        "echo is no model"
    );

    let fail = dir.path().join("fail.sh");
    std::fs::write(&fail, "#!/bin/sh\necho 'model offline' >&2\nexit 3\n").unwrap();
    let failing = Provider::new(
        spec(&format!("exec: sh {}", fail.display()), json!({})),
        shared,
    )
    .unwrap();
    let r = failing.call("x", &Map::new(), &Map::new()).await;
    let error = r.error.unwrap();
    assert!(
        error.contains("exit status: 3") && error.contains("model offline"),
        "{error}"
    );
}
