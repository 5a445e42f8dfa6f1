//! `promptops metrics` and `promptops log tail` against the real `promptops serve`,
//! with events reported over HTTP as an application would.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};
use support::{As, project, serve};
use tempfile::TempDir;

fn report(url: &str, key: &str, body: String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/v1/projects/demo/events"))
            .bearer_auth(key)
            .header("Content-Type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 202);
}

fn event(id: &str, latency: u64, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |e| format!(r#","error":"{e}""#));
    format!(
        r#"{{"id":"{id}","prompt_id":"support.answer","version":"1.0.0","environment":"prod","model":"gpt-4o-mini","input_tokens":1000,"output_tokens":100,"latency_ms":{latency}{error}}}"#
    )
}

#[test]
fn metrics_table_and_a_tail_that_follows() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server = serve(&repo, &[]);
    let admin = As::login(&repo, &server.url, "admin", support::ADMIN_PASSWORD);
    admin.ok(&["push"]);
    let key = admin
        .ok(&["key", "create", "--name", "app", "--role", "editor"])
        .trim()
        .to_owned();
    report(
        &server.url,
        &key,
        [
            event("a", 100, None),
            event("b", 300, None),
            event("c", 900, Some("upstream timeout")),
        ]
        .join("\n"),
    );
    // Stored a moment after the answer.
    let started = Instant::now();
    let metrics = loop {
        let m = admin.json(&["metrics", "support.answer", "--env", "prod"]);
        if m["series"][0]["totals"]["calls"] == 3 || started.elapsed() > Duration::from_secs(20) {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let totals = &metrics["series"][0]["totals"];
    assert_eq!(
        (totals["calls"].as_u64(), totals["errors"].as_u64()),
        (Some(3), Some(1)),
        "{metrics}"
    );
    let table = admin.ok(&[
        "metrics",
        "support.answer",
        "--env",
        "prod",
        "--step",
        "hour",
    ]);
    let total_row = table
        .lines()
        .find(|l| l.starts_with("1.0.0"))
        .unwrap_or_default()
        .to_owned();
    let cells: Vec<&str> = total_row.split_whitespace().collect();
    assert_eq!(cells[..4], ["1.0.0", "total", "3", "1"], "{table}");
    assert!(
        table.lines().count() >= 4,
        "a row per hour after the totals:\n{table}"
    );

    // The last two, oldest first, then stop.
    let tail = admin.ok(&["log", "tail", "-n", "2", "--no-follow"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 2, "{tail}");
    assert!(
        lines[0].contains("support.answer@1.0.0 prod ok 300 ms 1000→100 tok $0.000210"),
        "{tail}"
    );
    assert!(lines[1].contains("error upstream timeout"), "{tail}");
    let json: Value = serde_json::from_str(
        admin
            .ok(&["log", "tail", "-n", "1", "--no-follow", "--format", "json"])
            .trim(),
    )
    .unwrap();
    assert_eq!(json["id"], "c");

    // Following: an event reported now shows up.
    let mut child = admin.spawn(&["log", "tail", "-n", "0", "--prompt", "support.answer"]);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    report(&server.url, &key, event("d", 42, None));
    let seen = rx.recv_timeout(Duration::from_secs(20));
    child.kill().unwrap();
    let _ = child.wait();
    let seen = seen.expect("the followed event");
    assert!(
        seen.contains("support.answer@1.0.0 prod ok 42 ms"),
        "{seen}"
    );

    // The HTML report: self-contained, a section per prompt with calls.
    let html = repo.join("dashboard.html");
    admin.ok(&[
        "dashboard",
        "-o",
        html.to_str().unwrap(),
        "--env",
        "prod",
        "--days",
        "2",
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("id=\"p-support-answer\"") && page.contains("<circle"),
        "a section with a point per hour that had calls: {page}"
    );
    assert!(
        page.contains("<td>1.0.0</td>"),
        "the version's summary row: {page}"
    );
    assert!(!page.contains("<script"));

    // Refusals say what to do.
    let refused = admin.refused(&["metrics", "support.answer", "--step", "week"]);
    assert!(
        refused.contains("use `minute`, `hour` or `day`"),
        "{refused}"
    );
}

/// Requests a collector received: path and body.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A bare HTTP/1.1 receiver on a free port that answers 200 to every POST and keeps
/// what it got; its base URL.
fn collector(got: Received) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let got = got.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = request_line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("")
                        .to_owned();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    got.lock().unwrap().push((path, body));
                    reader
                        .get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    url
}

#[test]
fn serve_exports_executions_over_otlp() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let got = Received::default();
    let endpoint = collector(got.clone());
    let server = serve(&repo, &["--otlp-endpoint", &endpoint]);
    let admin = As::login(&repo, &server.url, "admin", support::ADMIN_PASSWORD);
    admin.ok(&["push"]);
    let key = admin
        .ok(&["key", "create", "--name", "app", "--role", "editor"])
        .trim()
        .to_owned();
    report(&server.url, &key, event("otlp-1", 250, None));
    // Spans leave in batches (every 5 s by default).
    let started = Instant::now();
    let traces = loop {
        let traces: Vec<Vec<u8>> = got
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path == "/v1/traces")
            .map(|(_, body)| body.clone())
            .collect();
        let has = |needle: &str| {
            traces
                .iter()
                .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        };
        if has("gen_ai.prompt.name") && has("otlp-1") {
            break traces;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no execution span reached the collector: {} trace requests\n{}",
            traces.len(),
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!traces.is_empty());
    assert!(
        server
            .log_text()
            .contains("exporting traces and metrics over OTLP/HTTP"),
        "{}",
        server.log_text()
    );

    // A URL that cannot be a collector's stops `serve` with the reason.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--otlp-endpoint",
            "collector:4318",
        ])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("otlp_endpoint `collector:4318`") && err.contains("http://127.0.0.1:4318"),
        "{err}"
    );
}
