//! `promptops eval` with promptfoo provider ids other than OpenAI's, end to end: a
//! promptfoo config naming `google:` and `bedrock:converse:` providers, run against one
//! local server that answers each in its own wire format.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

fn promptops(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PROMPTOPS_CACHE", "0");
    for var in [
        "PROMPTOPS_FAILED_TEST_EXIT_CODE",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_HOST",
        "GOOGLE_API_BASE_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_BEARER_TOKEN_BEDROCK",
    ] {
        command.env_remove(var);
    }
    command.output().expect("run promptops")
}

/// One request as the server saw it: path, lower-case headers, body.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, Value)>>>;

/// Answers `LABEL-<n>` for "item <n>": Gemini's `generateContent` answer on
/// `…:generateContent`, Bedrock's Converse answer on `/model/…/converse`.
fn server() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let record = record.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
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
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let text = request["contents"][0]["parts"][0]["text"]
                        .as_str()
                        .or_else(|| request["messages"][0]["content"][0]["text"].as_str())
                        .unwrap_or_default();
                    let n: String = text
                        .split("item ")
                        .nth(1)
                        .unwrap_or("")
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let label = format!("LABEL-{n}");
                    let answer = if path.ends_with(":generateContent") {
                        json!({
                            "candidates": [{"content": {"role": "model", "parts": [{"text": label}]}, "finishReason": "STOP"}],
                            "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 2, "totalTokenCount": 8}
                        })
                    } else {
                        json!({
                            "output": {"message": {"role": "assistant", "content": [{"text": label}]}},
                            "stopReason": "end_turn",
                            "usage": {"inputTokens": 7, "outputTokens": 2, "totalTokens": 9}
                        })
                    }
                    .to_string();
                    record.lock().unwrap().push((path, headers, request));
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

#[test]
fn a_promptfoo_config_with_gemini_and_bedrock_providers_runs_against_their_wire_formats() {
    let (base, seen) = server();
    let dir = TempDir::new().unwrap();
    let suite = format!(
        r#"description: other providers
prompts:
  - 'Return the label for item {{{{id}}}}.'
providers:
  - id: google:gemini-2.5-flash
    config:
      apiBaseUrl: {base}
      apiKey: AIza-e2e-key
      temperature: 0
  - id: bedrock:converse:amazon.nova-lite-v1:0
    config:
      endpoint: {base}
      region: eu-central-1
      accessKeyId: AKIDE2E
      secretAccessKey: e2e-secret
      sessionToken: e2e-session-token
tests:
  - vars: {{id: '7'}}
    assert:
      - type: equals
        value: LABEL-7
"#
    );
    std::fs::write(dir.path().join("promptfooconfig.yaml"), suite).unwrap();
    let o = promptops(
        dir.path(),
        &[
            "eval",
            "-c",
            "promptfooconfig.yaml",
            "--no-cache",
            "-o",
            "out.json",
        ],
    );
    let shown = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{shown}");
    assert!(shown.contains("2 passed, 0 failed, 0 errors"), "{shown}");

    let out: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    let rows = out["results"]["results"].as_array().unwrap();
    let row = |provider: &str| {
        rows.iter()
            .find(|r| r["provider"]["id"] == provider)
            .unwrap_or_else(|| panic!("no row for {provider}"))
    };
    let gemini = row("google:gemini-2.5-flash");
    assert_eq!(gemini["response"]["output"], "LABEL-7");
    assert_eq!(gemini["response"]["tokenUsage"]["total"], 8);
    assert!(gemini["response"]["cost"].as_f64().unwrap() > 0.0);
    let bedrock = row("bedrock:converse:amazon.nova-lite-v1:0");
    assert_eq!(bedrock["response"]["output"], "LABEL-7");
    assert_eq!(bedrock["response"]["tokenUsage"]["total"], 9);

    // Credentials never reach the report.
    let report = out.to_string();
    for secret in ["AIza-e2e-key", "e2e-secret", "e2e-session-token"] {
        assert!(!report.contains(secret), "{secret} is in the report");
    }

    let seen = seen.lock().unwrap();
    let (path, headers, body) = seen
        .iter()
        .find(|(p, _, _)| p.ends_with(":generateContent"))
        .unwrap();
    assert_eq!(path, "/v1beta/models/gemini-2.5-flash:generateContent");
    let header = |headers: &[(String, String)], name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header(headers, "x-goog-api-key").as_deref(),
        Some("AIza-e2e-key")
    );
    assert_eq!(body["generationConfig"], json!({"temperature": 0}));
    let (path, headers, _) = seen
        .iter()
        .find(|(p, _, _)| p.ends_with("/converse"))
        .unwrap();
    assert_eq!(path, "/model/amazon.nova-lite-v1%3A0/converse");
    let auth = header(headers, "authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDE2E/")
            && auth.contains("/eu-central-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        header(headers, "x-amz-security-token").as_deref(),
        Some("e2e-session-token")
    );
}
