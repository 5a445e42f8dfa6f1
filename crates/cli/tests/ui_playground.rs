//! The web UI's playground against a local server speaking OpenAI's chat completions
//! wire format: `serve` offers `openai:chat:gpt-4o-mini` (PROMPTOPS_PLAYGROUND_PROVIDERS,
//! OPENAI_BASE_URL), an editor signs in through the form and runs a draft.

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use support::{ADMIN_PASSWORD, As, project, serve_with_env};
use tempfile::TempDir;

type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Value)>>>;

/// Answers every chat completion with `echo: <last message>` and fixed usage.
fn openai() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let last = request["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_owned();
            record.lock().unwrap().push((headers, request));
            let answer = json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("echo: {last}")}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128}
            })
            .to_string();
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (base, seen)
}

/// The value of `name="csrf"` on a page.
fn csrf(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_playground_runs_a_draft_against_a_configured_provider() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let (base, log) = openai();
    let seen = log.clone();
    let server = serve_with_env(
        &repo,
        &[],
        &[
            ("PROMPTOPS_PLAYGROUND_PROVIDERS", "openai:chat:gpt-4o-mini"),
            ("OPENAI_BASE_URL", &base),
            ("OPENAI_API_KEY", "sk-playground-test"),
        ],
    );
    let admin = As::login(&repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.ok(&["push"]);
    let source = std::fs::read_to_string(repo.join("prompts/support/answer.yaml")).unwrap();
    let url = server.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // Sign in through the form (its cookie and its token).
        let form = browser.get(format!("{url}/login")).send().await.unwrap();
        let pre = form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let token = csrf(&form.text().await.unwrap());
        let signed = browser
            .post(format!("{url}/login"))
            .header("cookie", &pre)
            .form(&[
                ("user", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status().as_u16(), 303);
        let session = signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("promptops_session="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let editor = browser
            .get(format!("{url}/p/demo/prompts/support.answer/edit"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(editor.contains(">Run</button>"), "{editor}");
        let token = csrf(&editor);
        let vars =
            "company=Initech\narticle=Refunds take 5 days.\nquestion=How long do refunds take?";
        let run = |provider: &'static str| {
            browser
                .post(format!("{url}/p/demo/prompts/support.answer/playground"))
                .header("cookie", &session)
                .header("hx-request", "true")
                .form(&[
                    ("csrf", token.as_str()),
                    ("source", source.as_str()),
                    ("vars", vars),
                    ("provider", provider),
                ])
                .send()
        };
        let result = run("openai:chat:gpt-4o-mini").await.unwrap();
        assert_eq!(result.status().as_u16(), 200);
        let html = result.text().await.unwrap();
        assert!(html.contains("echo: How long do refunds take?"), "{html}");
        assert!(html.contains("120 in, 8 out (128 total)"), "{html}");
        // gpt-4o-mini at the shipped prices: a cost, not "unknown".
        assert!(html.contains("<dt>Cost</dt><dd>$0.0000"), "{html}");
        assert!(html.contains(" ms</dd>"), "{html}");
        // What the provider received: the rendered chat and the server's key.
        let seen = seen.lock().unwrap().clone();
        let (headers, request) = seen.last().unwrap();
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "authorization" && v == "Bearer sk-playground-test"),
            "{headers:?}"
        );
        assert_eq!(request["model"], "gpt-4o-mini");
        assert!(
            request["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("support agent for Initech"),
            "{request}"
        );
        // A provider the server does not offer is not called.
        assert_eq!(seen.len(), 1);
        let refused = run("openai:chat:gpt-4o")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            refused.contains("is not one of the playground&#x27;s providers"),
            "{refused}"
        );
        assert_eq!(
            log.lock().unwrap().len(),
            1,
            "an unlisted provider was called"
        );
    });
    drop(server);
}
