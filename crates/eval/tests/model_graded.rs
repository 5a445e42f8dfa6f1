//! Model-graded assertions against a local server speaking the OpenAI chat and
//! embeddings formats: what the grader is sent, and how its answer is read.

mod support;

use promptops_eval::assertions::Assertion;
use promptops_eval::assertions::model_graded::{Graded, Graders, check};
use promptops_eval::pricing::PriceTable;
use promptops_eval::provider::{Provider, Shared};
use promptops_eval::suite::provider_spec;
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Reply, Server};

fn chat_reply(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49}}),
    )
}

fn grader(server: &Server, id: &str) -> Arc<Provider> {
    let shared = Shared::new(
        Arc::new(PriceTable::default()),
        Map::new(),
        Duration::from_secs(5),
    )
    .unwrap();
    let spec = provider_spec(
        &json!({"id": id, "config": {"apiBaseUrl": format!("{}/v1", server.base), "apiKey": "k"}}),
    )
    .unwrap();
    Arc::new(Provider::new(spec, shared).unwrap())
}

async fn grade(
    kind: &str,
    value: Json,
    answer: &'static str,
    threshold: Option<f64>,
) -> (
    promptops_eval::assertions::ComponentResult,
    Vec<support::Request>,
) {
    let server = Server::start(move |_, _| chat_reply(answer)).await;
    let graders = Graders {
        text: Some(grader(&server, "openai:chat:grader")),
        embedding: None,
        ..Graders::default()
    };
    let mut a = Assertion::new(kind, Some(value));
    if let Some(t) = threshold {
        a = a.with_threshold(t);
    }
    let vars = Map::new();
    let g = Graded {
        output: "The refund window is 30 days.",
        prompt: "What is the refund window?",
        vars: &vars,
        base_dir: std::path::Path::new("."),
        rubric_prompt: None,
    };
    let r = check(&a, &g, &graders).await.unwrap();
    (r, server.requests())
}

#[tokio::test]
async fn llm_rubric_sends_output_and_rubric_and_reads_the_verdict() {
    let (r, requests) = grade(
        "llm-rubric",
        json!("States the refund window"),
        r#"{"reason": "It does.", "pass": true, "score": 0.9}"#,
        None,
    )
    .await;
    assert!(r.pass);
    assert_eq!(r.score, 0.9);
    assert_eq!(r.reason, "It does.");
    assert_eq!((r.tokens.total, r.tokens.num_requests), (49, 1));
    let body = requests[0].json();
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(
        body["messages"][1]["content"],
        "<Output>\nThe refund window is 30 days.\n</Output>\n<Rubric>\nStates the refund window\n</Rubric>"
    );
}

#[tokio::test]
async fn llm_rubric_answer_rules() {
    // Prose around the JSON is fine; a missing `pass` means pass; the score decides under a threshold.
    let (r, _) = grade(
        "llm-rubric",
        json!("x"),
        r#"Verdict: {"reason": "ok", "score": 0.4} done"#,
        None,
    )
    .await;
    assert!(r.pass && r.score == 0.4);
    let (r, _) = grade(
        "llm-rubric",
        json!("x"),
        r#"{"reason": "meh", "pass": true, "score": 0.4}"#,
        Some(0.5),
    )
    .await;
    assert!(!r.pass);
    let (r, _) = grade(
        "llm-rubric",
        json!("x"),
        r#"{"pass": "yes", "score": "0.7"}"#,
        None,
    )
    .await;
    assert!(r.pass && r.score == 0.7 && r.reason == "Grading passed");
    // No JSON at all: a failure, and `not-` does not turn it into a pass.
    let (r, _) = grade("llm-rubric", json!("x"), "LABEL-NONE", None).await;
    assert_eq!(
        (r.pass, r.reason.as_str()),
        (false, "Could not extract JSON from llm-rubric response")
    );
    let (r, _) = grade("not-llm-rubric", json!("x"), "LABEL-NONE", None).await;
    assert!(!r.pass);
    // A real verdict is inverted by `not-`.
    let (r, _) = grade(
        "not-llm-rubric",
        json!("x"),
        r#"{"pass": false, "score": 0.2, "reason": "rude"}"#,
        None,
    )
    .await;
    assert!(r.pass && (r.score - 0.8).abs() < 1e-9);
}

#[tokio::test]
async fn factuality_categories() {
    for (answer, pass) in [
        (r#"{"category": "C", "reason": "same"}"#, true),
        (r#"{"category": "b", "reason": "more"}"#, true),
        (r#"{"category": "D", "reason": "contradicts"}"#, false),
        ("(E) differs only in wording", true),
    ] {
        let (r, _) = grade("factuality", json!("30 days"), answer, None).await;
        assert_eq!(r.pass, pass, "{answer}: {}", r.reason);
    }
    let (r, _) = grade("factuality", json!("30 days"), r#"{"category": "Z"}"#, None).await;
    assert_eq!(r.reason, "Invalid category value: Z");
    let (r, requests) = grade("factuality", json!("30 days"), "no idea", None).await;
    assert!(
        r.reason
            .starts_with("Factuality checker output did not match expected format")
    );
    let user = requests[0].json()["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.contains("<question>What is the refund window?</question>")
            && user.contains("<expert_answer>30 days</expert_answer>")
    );
}

#[tokio::test]
async fn closed_qa_reads_the_last_line() {
    let (r, requests) = grade(
        "model-graded-closedqa",
        json!("mentions a number"),
        "It mentions 30.\nY",
        None,
    )
    .await;
    assert!(r.pass);
    assert_eq!(
        requests[0].json()["messages"].as_array().unwrap().len(),
        1,
        "one system message"
    );
    let (r, _) = grade(
        "model-graded-closedqa",
        json!("mentions a number"),
        "No number.\nN",
        None,
    )
    .await;
    assert!(
        !r.pass
            && r.reason
                .starts_with("The submission does not meet the criterion")
    );
    let (r, _) = grade("model-graded-closedqa", json!("x"), "unsure", None).await;
    assert!(
        r.reason
            .starts_with("Model grader produced a malformed response")
    );
}

#[tokio::test]
async fn similar_uses_embeddings() {
    // Texts sharing the word "refund" get vectors close together; others are orthogonal.
    let server = Server::start(|_, req| {
        let input = req.json()["input"].as_str().unwrap_or_default().to_lowercase();
        let v = if input.contains("refund") { vec![1.0, 0.1] } else { vec![0.0, 1.0] };
        Reply::json(200, json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": v}], "model": "e", "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
    })
    .await;
    let embedder = grader(&server, "openai:embedding:e");
    let graders = Graders {
        text: Some(embedder.clone()),
        embedding: Some(embedder),
        ..Graders::default()
    };
    let vars = Map::new();
    let g = Graded {
        output: "Refunds take 30 days.",
        prompt: "p",
        vars: &vars,
        base_dir: std::path::Path::new("."),
        rubric_prompt: None,
    };
    let r = check(
        &Assertion::new("similar", Some(json!("refund policy"))).with_threshold(0.9),
        &g,
        &graders,
    )
    .await
    .unwrap();
    assert!(r.pass, "{}", r.reason);
    let r = check(
        &Assertion::new("similar", Some(json!("weather today"))).with_threshold(0.9),
        &g,
        &graders,
    )
    .await
    .unwrap();
    assert!(
        !r.pass
            && r.reason
                .starts_with("Similarity 0.10 is less than threshold 0.9"),
        "{}",
        r.reason
    );
    let r = check(
        &Assertion::new("similar", Some(json!(["weather", "refund"]))).with_threshold(0.9),
        &g,
        &graders,
    )
    .await
    .unwrap();
    assert!(r.pass, "any value may match");
    assert_eq!(server.requests()[0].path, "/v1/embeddings");
    assert_eq!(server.requests()[0].json()["model"], "e");

    // A chat model cannot embed: the assertion is unusable (an error row), not a failure.
    let chat = Server::start(|_, _| chat_reply("x")).await;
    let graders = Graders {
        text: Some(grader(&chat, "openai:chat:g")),
        embedding: None,
        ..Graders::default()
    };
    let err = check(&Assertion::new("similar", Some(json!("x"))), &g, &graders)
        .await
        .unwrap_err();
    assert!(
        err.0.contains("is not a valid embedding provider"),
        "{}",
        err.0
    );
}

fn embedding_reply(input: &str) -> Reply {
    // Texts about refunds point one way, everything else another.
    let v = if input.to_lowercase().contains("refund") {
        vec![1.0, 0.1]
    } else {
        vec![0.0, 1.0]
    };
    Reply::json(
        200,
        json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": v}], "model": "e", "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
    )
}

/// A grader server: chat answers come from `chat` (given the system message), embeddings
/// from [`embedding_reply`].
async fn rag_server(chat: fn(&str) -> &'static str) -> Server {
    Server::start(move |_, req| {
        let body = req.json();
        if req.path.ends_with("/embeddings") {
            embedding_reply(body["input"].as_str().unwrap_or_default())
        } else {
            let system = body["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            chat_reply(chat(&system))
        }
    })
    .await
}

async fn rag(
    kind: &str,
    value: Option<Json>,
    vars: Json,
    server: &Server,
    threshold: Option<f64>,
) -> Result<promptops_eval::assertions::ComponentResult, String> {
    let graders = Graders {
        text: Some(grader(server, "openai:chat:grader")),
        embedding: Some(grader(server, "openai:embedding:e")),
        ..Graders::default()
    };
    let mut a = Assertion::new(kind, value);
    if let Some(t) = threshold {
        a = a.with_threshold(t);
    }
    let vars = vars.as_object().cloned().unwrap_or_default();
    let g = Graded {
        output: "Refunds take 30 days. Shipping is free.",
        prompt: "What is the refund window?",
        vars: &vars,
        base_dir: std::path::Path::new("."),
        rubric_prompt: None,
    };
    check(&a, &g, &graders).await.map_err(|e| e.0)
}

#[tokio::test]
async fn answer_relevance_compares_generated_questions_with_the_query() {
    let on_topic = rag_server(|_| "How long is the refund window?").await;
    let r = rag("answer-relevance", None, json!({}), &on_topic, None)
        .await
        .unwrap();
    assert!(r.pass && r.score > 0.99, "{}", r.reason);
    assert_eq!(r.reason, "Relevance 1.00 is greater than threshold 0.5");
    // Three questions, then the query and each question embedded.
    let paths: Vec<String> = on_topic.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("/chat/completions"))
            .count(),
        3
    );
    assert_eq!(
        paths.iter().filter(|p| p.ends_with("/embeddings")).count(),
        4
    );
    assert_eq!(r.tokens.num_requests, 7);

    let off_topic = rag_server(|_| "What is the weather like?").await;
    let r = rag(
        "answer-relevance",
        None,
        json!({"query": "refund window?"}),
        &off_topic,
        None,
    )
    .await
    .unwrap();
    assert!(!r.pass, "{}", r.reason);
    assert!(
        r.reason
            .starts_with("Relevance 0.10 is less than threshold 0.5"),
        "{}",
        r.reason
    );
    let r = rag(
        "not-answer-relevance",
        None,
        json!({"query": "refund window?"}),
        &off_topic,
        None,
    )
    .await
    .unwrap();
    assert!(
        r.pass && (r.score - 0.9).abs() < 0.01,
        "{} {}",
        r.pass,
        r.score
    );
}

fn faithfulness_grader(system: &str) -> &'static str {
    if system.starts_with("Break the answer") {
        "Refunds take 30 days.\nShipping is free."
    } else {
        "1. Refunds take 30 days. verdict: yes\n2. Shipping is free. verdict: no"
    }
}

#[tokio::test]
async fn context_faithfulness_counts_supported_statements() {
    let server = rag_server(faithfulness_grader).await;
    let vars = json!({"query": "What is the refund window?", "context": ["Refunds are accepted for 30 days.", "Shipping costs $5."]});
    let r = rag("context-faithfulness", None, vars.clone(), &server, None)
        .await
        .unwrap();
    assert_eq!((r.pass, r.score), (true, 0.5));
    assert_eq!(r.reason, "Faithfulness 0.50 is >= 0.5");
    // The verdict request carries the joined context and the numbered statements.
    let second = server.requests()[1].json();
    let user = second["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.contains("Refunds are accepted for 30 days.\n\nShipping costs $5."),
        "{user}"
    );
    assert!(user.contains("2. Shipping is free."), "{user}");
    let r = rag(
        "context-faithfulness",
        None,
        vars.clone(),
        &server,
        Some(0.8),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.pass, r.reason.as_str()),
        (false, "Faithfulness 0.50 is < 0.8")
    );
    // Unusable set-ups are errors, named.
    let err = rag(
        "context-faithfulness",
        None,
        json!({"context": "c"}),
        &server,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.contains("\"query\" variable"), "{err}");
    let err = rag(
        "context-faithfulness",
        None,
        json!({"query": "q"}),
        &server,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.starts_with("Context is required"), "{err}");
    let err = rag(
        "context-faithfulness",
        None,
        json!({"query": "q", "context": ["a", 3]}),
        &server,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.contains("found number at index 1"), "{err}");
}

#[tokio::test]
async fn context_recall_counts_attributed_sentences() {
    let server = rag_server(
        |_| "Refunds take 30 days. [Attributed]\nShipping is free. [Not Attributed]\nThanks!",
    )
    .await;
    let vars = json!({"context": "Refunds are accepted for 30 days."});
    let value = Some(json!("Refunds take 30 days. Shipping is free."));
    let r = rag("context-recall", value.clone(), vars.clone(), &server, None)
        .await
        .unwrap();
    assert_eq!(
        (r.pass, r.score, r.reason.as_str()),
        (true, 0.5, "Recall 0.50 is >= 0.5")
    );
    let r = rag("not-context-recall", value.clone(), vars, &server, None)
        .await
        .unwrap();
    assert_eq!((r.pass, r.score), (false, 0.5));
    // Without a context var the rendered prompt is the context.
    let r = rag(
        "context-recall",
        value.clone(),
        json!({}),
        &server,
        Some(0.9),
    )
    .await
    .unwrap();
    assert!(!r.pass);
    let user = server.requests().last().unwrap().json()["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.contains("What is the refund window?"), "{user}");
    let silent = rag_server(|_| "I am not sure.").await;
    let r = rag(
        "not-context-recall",
        value,
        json!({"context": "c"}),
        &silent,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.pass, r.reason.as_str()),
        (
            false,
            "Grader returned no [Attributed]/[Not Attributed] classifications"
        ),
        "a grader failure is never inverted"
    );
}

#[tokio::test]
async fn llm_rubric_with_a_custom_rubric_prompt_needs_no_value() {
    let server =
        Server::start(move |_, _| chat_reply(r#"{"reason": "Polite.", "pass": true, "score": 1}"#))
            .await;
    let graders = Graders {
        text: Some(grader(&server, "openai:chat:grader")),
        embedding: None,
        ..Graders::default()
    };
    let a = Assertion::new("llm-rubric", None);
    let vars: Map<String, Json> = [("tone".to_owned(), json!("polite"))].into_iter().collect();
    let custom = json!([
        {"role": "system", "content": "Grade whether the answer is {{ tone }}. Reply as JSON."},
        {"role": "user", "content": "Answer: {{ output }}"}
    ]);
    let g = Graded {
        output: "Thank you for asking.",
        prompt: "p",
        vars: &vars,
        base_dir: std::path::Path::new("."),
        rubric_prompt: Some(&custom),
    };
    let r = check(&a, &g, &graders).await.unwrap();
    assert!(r.pass, "{}", r.reason);
    let body = server.requests()[0].json();
    assert_eq!(
        body["messages"][0]["content"],
        "Grade whether the answer is polite. Reply as JSON."
    );
    assert_eq!(
        body["messages"][1]["content"],
        "Answer: Thank you for asking."
    );

    // Without a value or a rubricPrompt there is nothing to grade against.
    let bare = Graded {
        rubric_prompt: None,
        ..g
    };
    assert!(check(&a, &bare, &graders).await.is_err());
}
