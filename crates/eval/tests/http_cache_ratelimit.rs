//! The generic `http` provider, per-provider rate limits and the response cache, against
//! a local server that records every request (and when it arrived).

mod support;

use promptops_eval::graders::GraderTable;
use promptops_eval::pricing::PriceTable;
use promptops_eval::provider::{Provider, ResponseCache, Shared};
use promptops_eval::runner::{self, RunOptions};
use promptops_eval::suite::{self, ProviderSpec};
use serde_json::{Map, Value as Json, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
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

fn shared(cache: Option<&Path>) -> Shared {
    Shared::new(
        Arc::new(PriceTable::shipped()),
        Map::new(),
        Duration::from_secs(10),
    )
    .unwrap()
    .with_cache(cache.map(ResponseCache::new))
}

fn provider(id: &str, config: Json, shared: Shared) -> Provider {
    Provider::new(spec(id, config), shared).unwrap()
}

fn vars(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap()
}

fn openai_answer(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}),
    )
}

#[tokio::test]
async fn http_provider_sends_the_rendered_request_and_reads_the_answer_path() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({"choices": [{"message": {"content": "Bonjour"}}], "usage": {"n": 1}}),
        )
    })
    .await;
    let p = provider(
        "http",
        json!({
            "url": format!("{}/v1/generate", server.base),
            "headers": {"X-User": "{{user}}", "Authorization": "Bearer t-1"},
            "queryParams": {"lang": "{{language}}", "v": 2},
            "body": {"input": "{{prompt}}", "user": "{{user}}", "n": 3, "nested": ["{{language}}", true]},
            "transformResponse": "json.choices[0].message.content",
        }),
        shared(None),
    );
    let r = p
        .call(
            "Translate: hello",
            &vars(json!({"user": "ana", "language": "fr"})),
            &Map::new(),
        )
        .await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("Bonjour")));
    assert_eq!(r.http.as_ref().map(|h| h.status), Some(200));
    assert_eq!(r.token_usage.num_requests, 1);

    let req = &server.requests()[0];
    assert_eq!(
        req.method, "POST",
        "POST is the default when there is a body"
    );
    assert_eq!(req.path, "/v1/generate?lang=fr&v=2");
    assert_eq!(req.header("x-user"), Some("ana"));
    assert_eq!(req.header("authorization"), Some("Bearer t-1"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({"input": "Translate: hello", "user": "ana", "n": 3, "nested": ["fr", true]})
    );
}

#[tokio::test]
async fn http_provider_with_a_url_id_string_body_and_javascript_transforms() {
    let server = Server::start(|n, _| match n {
        0 => Reply::json(200, json!({"result": "done", "usage": {"in": 4, "out": 2}})),
        1 => Reply {
            status: 200,
            headers: Vec::new(),
            body: "Assistant: plain text".into(),
        },
        _ => Reply::json(200, json!({"data": {"output": "from a path"}})),
    })
    .await;
    let url = format!("{}/chat", server.base);
    // A string body that renders to JSON is sent as JSON, even when the prompt has
    // quotes and a newline; a multi-line object literal is a promptfoo provider response.
    let p = provider(
        &url,
        json!({
            "body": "{\"q\": \"{{prompt}}\"}",
            "transformResponse": "{\n  output: json.result.toUpperCase(),\n  tokenUsage: {prompt: json.usage.in, completion: json.usage.out}\n}",
        }),
        shared(None),
    );
    let r = p.call("say \"hi\"\nnow", &Map::new(), &Map::new()).await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("DONE")));
    assert_eq!((r.token_usage.prompt, r.token_usage.total), (4, 6));
    let req = &server.requests()[0];
    assert_eq!(req.path, "/chat");
    assert_eq!(req.json(), json!({"q": "say \"hi\"\nnow"}));
    assert_eq!(req.header("content-type"), Some("application/json"));

    // A function expression gets `text`; a GET sends no body.
    let p = provider(
        &url,
        json!({"method": "GET", "transformResponse": "(json, text) => text.slice('Assistant: '.length)"}),
        shared(None),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(r.output, Some(json!("plain text")));
    let req = &server.requests()[1];
    assert_eq!((req.method.as_str(), req.body.as_str()), ("GET", ""));

    // promptfoo's older `responseParser`, from a file next to the suite.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("parse.js"),
        "module.exports = (json, text, context) => `${json.data.output} (${context.response.status})`;",
    )
    .unwrap();
    let p = provider(
        &url,
        json!({"body": {"q": "{{prompt}}"}, "responseParser": "file://parse.js"}),
        shared(None).with_base_dir(dir.path()),
    );
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(r.error, None);
    assert_eq!(r.output, Some(json!("from a path (200)")));
}

#[tokio::test]
async fn http_provider_without_a_transform_answers_with_the_body_and_reads_plain_paths() {
    let server =
        Server::start(|_, _| Reply::json(200, json!({"data": {"output": "path answer"}}))).await;
    let url = format!("{}/api", server.base);
    let whole = provider(&url, json!({"body": {"q": "{{prompt}}"}}), shared(None));
    assert_eq!(
        whole.call("x", &Map::new(), &Map::new()).await.output,
        Some(json!({"data": {"output": "path answer"}}))
    );
    let path = provider(
        &url,
        json!({"body": {"q": "{{prompt}}"}, "transformResponse": "data.output"}),
        shared(None),
    );
    assert_eq!(
        path.call("x", &Map::new(), &Map::new()).await.output,
        Some(json!("path answer"))
    );
    let broken = provider(
        &url,
        json!({"body": {"q": "{{prompt}}"}, "transformResponse": "json.nothing.here"}),
        shared(None),
    );
    let error = broken
        .call("x", &Map::new(), &Map::new())
        .await
        .error
        .unwrap();
    assert!(
        error.starts_with("Failed to transform response:"),
        "{error}"
    );
}

#[tokio::test]
async fn http_errors_name_the_status_and_quote_the_body() {
    let server = Server::start(|_, req| {
        if req.path == "/missing" {
            Reply::json(404, json!({"detail": "no such model"}))
        } else {
            Reply::json(503, json!({"detail": "overloaded"})).with_header("retry-after", "0")
        }
    })
    .await;
    let missing = provider(
        &format!("{}/missing", server.base),
        json!({"body": {"q": "{{prompt}}"}}),
        shared(None),
    );
    let r = missing.call("x", &Map::new(), &Map::new()).await;
    assert_eq!(
        r.error.as_deref(),
        Some("HTTP call failed with status 404 Not Found: {\"detail\":\"no such model\"}")
    );
    assert_eq!(r.http.map(|h| h.status), Some(404));
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");

    let busy = provider(
        &format!("{}/busy", server.base),
        json!({"body": {"q": "{{prompt}}"}}),
        shared(None),
    );
    let error = busy
        .call("x", &Map::new(), &Map::new())
        .await
        .error
        .unwrap();
    assert!(
        error.contains("status 503") && error.contains("overloaded"),
        "{error}"
    );
    assert_eq!(server.requests().len(), 4, "a 503 is tried three times");
}

#[test]
fn http_config_errors_fail_when_the_provider_is_built() {
    let err = Provider::new(spec("http", json!({"body": "x"})), shared(None))
        .err()
        .unwrap();
    assert!(err.contains("config.url"), "{err}");
    let err = Provider::new(
        spec("https://h.example", json!({"requestsPerSecond": 0})),
        shared(None),
    )
    .err()
    .unwrap();
    assert!(err.contains("requestsPerSecond"), "{err}");
}

#[tokio::test]
async fn rate_limit_spaces_requests_across_concurrent_callers() {
    let server = Server::start(|_, _| Reply::json(200, json!({"ok": true}))).await;
    let p = Arc::new(provider(
        &format!("{}/api", server.base),
        json!({"body": {"q": "{{prompt}}"}, "requestsPerSecond": 10}),
        shared(None),
    ));
    let started = Instant::now();
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { p.call(&format!("q{i}"), &Map::new(), &Map::new()).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().error, None);
    }
    // Five calls at 10/s: four gaps of 100 ms. Lower bounds only (shared machines).
    assert!(started.elapsed() >= Duration::from_millis(300));
    let arrivals: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(arrivals.len(), 5);
    let span = *arrivals.iter().max().unwrap() - *arrivals.iter().min().unwrap();
    assert!(span >= Duration::from_millis(300), "{span:?}");
}

#[tokio::test]
async fn a_cached_answer_is_reused_and_marked_cached_until_the_request_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(|_, _| openai_answer("LABEL-7")).await;
    let config = json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "sk-1"});
    let p = provider(
        "openai:chat:gpt-4o-mini",
        config.clone(),
        shared(Some(dir.path())),
    );
    let first = p.call("item 7", &Map::new(), &Map::new()).await;
    assert!(!first.cached);
    let second = p.call("item 7", &Map::new(), &Map::new()).await;
    assert_eq!(
        server.requests().len(),
        1,
        "the second call is answered from disk"
    );
    assert!(second.cached);
    assert_eq!(second.output, first.output);
    assert_eq!(second.cost, first.cost);
    assert_eq!(
        (second.token_usage.cached, second.token_usage.total),
        (15, 15)
    );

    // Another API key is the same request; a new process (a new provider) reads the same entry.
    let mut other_key = config.clone();
    other_key["apiKey"] = json!("sk-2");
    let again = provider(
        "openai:chat:gpt-4o-mini",
        other_key,
        shared(Some(dir.path())),
    );
    assert!(again.call("item 7", &Map::new(), &Map::new()).await.cached);
    assert_eq!(server.requests().len(), 1);

    // A different prompt, config or test option is a different request.
    assert!(!p.call("item 8", &Map::new(), &Map::new()).await.cached);
    let mut warmer = config.clone();
    warmer["temperature"] = json!(0.7);
    let warm = provider("openai:chat:gpt-4o-mini", warmer, shared(Some(dir.path())));
    assert!(!warm.call("item 7", &Map::new(), &Map::new()).await.cached);
    let options = vars(json!({"max_tokens": 5}));
    assert!(!p.call("item 7", &Map::new(), &options).await.cached);
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn errors_are_not_cached_and_corrupt_entries_are_ignored_then_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(|n, _| {
        if n == 0 {
            Reply::json(400, json!({"error": {"message": "bad"}}))
        } else {
            openai_answer("ok")
        }
    })
    .await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
        shared(Some(dir.path())),
    );
    assert!(p.call("x", &Map::new(), &Map::new()).await.error.is_some());
    assert!(!p.call("x", &Map::new(), &Map::new()).await.cached);
    assert_eq!(server.requests().len(), 2, "the error was not kept");

    let entries = files_under(dir.path());
    assert_eq!(entries.len(), 1);
    let shard = entries[0].parent().unwrap().file_name().unwrap();
    let name = entries[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(
        shard.to_str().unwrap(),
        &name[..2],
        "sharded by hash prefix"
    );
    std::fs::write(&entries[0], b"{\"format\": 1, \"output\": \"tru").unwrap();
    let r = p.call("x", &Map::new(), &Map::new()).await;
    assert_eq!((r.cached, r.output), (false, Some(json!("ok"))));
    assert_eq!(server.requests().len(), 3, "the corrupt entry was a miss");
    assert!(
        p.call("x", &Map::new(), &Map::new()).await.cached,
        "and was rewritten"
    );
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[tokio::test]
async fn without_a_cache_every_call_reaches_the_server() {
    assert!(ResponseCache::for_run(false).is_none(), "--no-cache");
    let server = Server::start(|_, _| openai_answer("ok")).await;
    let p = provider(
        "openai:chat:m",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
        shared(None),
    );
    for _ in 0..2 {
        assert!(!p.call("x", &Map::new(), &Map::new()).await.cached);
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_http_cache_key_is_the_rendered_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(|_, _| Reply::json(200, json!({"ok": 1}))).await;
    let p = provider(
        "http",
        json!({"url": format!("{}/api", server.base), "body": {"q": "{{prompt}}", "topic": "{{topic}}"}}),
        shared(Some(dir.path())),
    );
    let cats = vars(json!({"topic": "cats"}));
    assert!(!p.call("x", &cats, &Map::new()).await.cached);
    assert!(p.call("x", &cats, &Map::new()).await.cached);
    assert!(
        !p.call("x", &vars(json!({"topic": "dogs"})), &Map::new())
            .await
            .cached,
        "a var the body reads changes the request"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn embeddings_are_cached_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({"data": [{"embedding": [0.5, 0.25]}], "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
        )
    })
    .await;
    let p = provider(
        "openai:embedding:text-embedding-3-small",
        json!({"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}),
        shared(Some(dir.path())),
    );
    let (a, _) = p.embed("hello").await.unwrap();
    let (b, usage) = p.embed("hello").await.unwrap();
    assert_eq!(a, b);
    assert_eq!((usage.cached, usage.total), (3, 3));
    assert_eq!(server.requests().len(), 1);
}

/// A whole run twice over one cache: the second run's rows say `cached: true` in the
/// JSON report, and a `latency` assertion refuses a cached answer, as in promptfoo.
#[tokio::test]
async fn a_second_run_is_answered_from_the_cache() {
    let server = Server::start(|_, _| openai_answer("hi there")).await;
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let suite_path = dir.path().join("suite.yaml");
    std::fs::write(
        &suite_path,
        format!(
            "prompts: ['Say {{{{word}}}}']\nproviders:\n  - id: openai:chat:m\n    config: {{apiBaseUrl: '{}/v1', apiKey: k}}\ntests:\n  - vars: {{word: hi}}\n    assert:\n      - type: contains\n        value: hi\n  - vars: {{word: yo}}\n    assert:\n      - type: latency\n        threshold: 100000\n",
            server.base
        ),
    )
    .unwrap();
    let suite = Arc::new(suite::load(&suite_path).unwrap());
    let run_once = || {
        let suite = suite.clone();
        let shared = shared(Some(&cache_dir));
        async move {
            let providers: Vec<Provider> = suite
                .providers
                .iter()
                .map(|s| Provider::new(s.clone(), shared.clone()).unwrap())
                .collect();
            let options = RunOptions {
                concurrency: 2,
                delay_ms: 0,
                step_timeout: None,
                graders: Arc::new(GraderTable::prepare(&suite, None, &shared).unwrap()),
                test_providers: Arc::default(),
                comparison_order: Default::default(),
            };
            let providers = Arc::new(providers);
            let result = runner::run(
                suite.clone(),
                providers.clone(),
                options,
                Arc::new(AtomicBool::new(false)),
                Arc::new(|_, _| {}),
                &mut std::iter::empty(),
                &mut |_| {},
            )
            .await
            .unwrap();
            let rows: Vec<_> = result.rows.in_order().map(Result::unwrap).collect();
            let json: Vec<Json> = rows
                .iter()
                .map(|row| {
                    let mut out = Vec::new();
                    promptops_eval::report::json::row(
                        &mut out,
                        &suite,
                        &providers,
                        row,
                        "2026-01-01T00:00:00.000Z",
                        1,
                    )
                    .unwrap();
                    serde_json::from_slice(&out[2..]).unwrap()
                })
                .collect();
            (rows, json)
        }
    };

    let (rows, json) = run_once().await;
    assert!(rows.iter().all(|r| r.success()), "{:?}", rows[1].error);
    assert_eq!(json[0]["response"]["cached"], false);
    assert_eq!(server.requests().len(), 2);

    let (rows, json) = run_once().await;
    assert_eq!(server.requests().len(), 2, "nothing reached the server");
    assert!(rows[0].success());
    assert_eq!(json[0]["response"]["cached"], true);
    assert_eq!(json[0]["response"]["tokenUsage"]["cached"], 15);
    let error = rows[1].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("Latency assertion does not support cached results"),
        "{error}"
    );
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir).unwrap() {
        let shard = shard.unwrap().path();
        for entry in std::fs::read_dir(&shard).unwrap() {
            out.push(entry.unwrap().path());
        }
    }
    out
}
