//! `promptops eval --matrix` against a local server speaking OpenAI's chat-completions
//! format: `model-a` answers every case right, `model-b` half of them, and `model-c`
//! does not exist (404 `model_not_found`).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

/// Answers `LABEL-<n>` for "item <n>" as `model-a`; as `model-b`, `WRONG` for odd `n`;
/// any other model is not found.
fn openai_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        let h = h.trim_end().to_lowercase();
                        if h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let prompt = request["messages"][0]["content"].as_str().unwrap_or("");
                    let n: u32 = prompt
                        .split("item ")
                        .nth(1)
                        .unwrap_or("")
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                        .parse()
                        .unwrap_or(0);
                    let answer = |content: String| {
                        json!({
                            "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
                        })
                    };
                    let (status, body) = match request["model"].as_str().unwrap_or("") {
                        "model-a" => ("200 OK", answer(format!("LABEL-{n}"))),
                        "model-b" if n.is_multiple_of(2) => {
                            ("200 OK", answer(format!("LABEL-{n}")))
                        }
                        "model-b" => ("200 OK", answer("WRONG".into())),
                        other => (
                            "404 Not Found",
                            json!({"error": {
                                "message": format!("The model `{other}` does not exist or you do not have access to it."),
                                "type": "invalid_request_error", "param": null, "code": "model_not_found"
                            }}),
                        ),
                    };
                    let body = body.to_string();
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project whose prompt runs on `model-a` and declares all three models.
fn project(base: &str) -> (TempDir, String) {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "promptops.toml",
        "[project]\nname = \"matrix-test\"\n",
    );
    write(
        dir.path(),
        "prompts/support/label.yaml",
        "id: support.label\nversion: 1.2.0\nowner: support\ndescription: Labels an item.\nmodel:\n  provider: openai\n  name: model-a\n  params: {temperature: 0}\n  compatibility:\n    \"openai:model-a\": works\n    \"openai:model-b\": works\n    \"openai:model-c\": not-supported\ntemplate: 'Return the label for item {{ id }}.'\nvariables:\n  id: {type: string, required: true, description: The item.}\ncompliance:\n  risk_tier: low\n  intended_use: Tests.\n",
    );
    let mut cases = String::new();
    for i in 0..4 {
        cases.push_str(&format!(
            "  - description: item {i}\n    vars: {{id: '{i}'}}\n    assert: [{{type: equals, value: LABEL-{i}}}]\n"
        ));
    }
    write(
        dir.path(),
        "evals/support/label.yaml",
        &format!("prompt: support.label\ncases:\n{cases}"),
    );
    (dir, base.to_owned())
}

fn promptops(dir: &Path, base: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PROMPTOPS_FAILED_TEST_EXIT_CODE")
        .env_remove("PROMPTOPS_FORMAT")
        .env("OPENAI_BASE_URL", base)
        .env("OPENAI_API_KEY", "sk-test")
        .env("PROMPTOPS_CACHE", "0")
        .output()
        .expect("run promptops")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `(model, passed, total, verdict, declared, agrees)` of each row of the only prompt.
fn rows(json: &Value) -> Vec<(String, u64, u64, String, Value, Value)> {
    let prompts = json["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 1, "{json}");
    prompts[0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap().to_owned(),
                r["passed"].as_u64().unwrap(),
                r["passed"].as_u64().unwrap()
                    + r["failed"].as_u64().unwrap()
                    + r["errors"].as_u64().unwrap(),
                r["verdict"].as_str().unwrap().to_owned(),
                r["declared"].clone(),
                r["agrees"].clone(),
            )
        })
        .collect()
}

fn row(
    m: &str,
    passed: u64,
    verdict: &str,
    declared: &str,
    agrees: bool,
) -> (String, u64, u64, String, Value, Value) {
    (
        m.into(),
        passed,
        4,
        verdict.into(),
        json!(declared),
        json!(agrees),
    )
}

#[test]
fn the_matrix_judges_each_model_and_compares_with_the_declared_one() {
    let base = openai_server();
    let (dir, base) = project(&base);
    let o = promptops(
        dir.path(),
        &base,
        &["eval", "--matrix", "--no-progress-bar"],
    );
    let out = text(&o);
    // Measuring is not gating: without --fail-on-mismatch the matrix exits 0.
    assert_eq!(o.status.code(), Some(0), "{out}");
    let stdout = String::from_utf8_lossy(&o.stdout).replace(&base, "BASE");
    insta::assert_snapshot!("matrix_text", stdout);

    let o = promptops(dir.path(), &base, &["eval", "--matrix", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(json["format"], "promptops-compatibility-matrix/1");
    assert_eq!(
        json["thresholds"],
        json!({"works": 0.9, "needs_tuning": 0.6})
    );
    assert_eq!(json["prompts"][0]["prompt_id"], "support.label");
    assert_eq!(json["prompts"][0]["version"], "1.2.0");
    assert_eq!(
        rows(&json),
        [
            row("openai:model-a", 4, "works", "works", true),
            row("openai:model-b", 2, "not-supported", "works", false),
            row("openai:model-c", 0, "not-supported", "not-supported", true),
        ]
    );
    // The unknown model ran: its cases are errors, with the provider's reason.
    let c = &json["prompts"][0]["models"][2];
    assert_eq!(
        (c["errors"].as_u64(), c["ran"].as_bool()),
        (Some(4), Some(true)),
        "{c}"
    );
    assert!(c["note"].as_str().unwrap().contains("404"), "{c}");
}

#[test]
fn thresholds_come_from_flags_then_the_config_and_are_checked() {
    let base = openai_server();
    let (dir, base) = project(&base);
    let o = promptops(
        dir.path(),
        &base,
        &[
            "eval",
            "--matrix",
            "--json",
            "--works",
            "0.9",
            "--needs-tuning",
            "0.5",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        json["thresholds"],
        json!({"works": 0.9, "needs_tuning": 0.5})
    );
    assert_eq!(
        rows(&json)[1],
        row("openai:model-b", 2, "needs-tuning", "works", false)
    );

    // promptops.toml sets them when no flag does.
    write(
        dir.path(),
        "promptops.toml",
        "[eval.matrix]\nworks = 0.5\nneeds_tuning = 0.25\nmodels = [\"openai:model-b\"]\n",
    );
    let o = promptops(dir.path(), &base, &["eval", "--matrix", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        rows(&json),
        [row("openai:model-b", 2, "works", "works", true)]
    );

    for (args, toml, wanted) in [
        (
            &["--works", "0.5", "--needs-tuning", "0.8"][..],
            "",
            "compatibility thresholds (--works/--needs-tuning): needs_tuning (0.8) is above works (0.5)",
        ),
        (
            &["--works", "1.5"][..],
            "",
            "thresholds must be pass rates between 0 and 1 (works 1.5, needs_tuning 0.6)",
        ),
        (
            &[][..],
            "[eval.matrix]\nworks = -1\n",
            "compatibility thresholds ([eval.matrix] in promptops.toml): thresholds must be pass rates between 0 and 1",
        ),
    ] {
        write(dir.path(), "promptops.toml", toml);
        let mut all = vec!["eval", "--matrix"];
        all.extend_from_slice(args);
        let o = promptops(dir.path(), &base, &all);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains(wanted), "{out}");
        assert!(!out.contains("matrix: "), "ran before checking: {out}");
    }
}

#[test]
fn a_model_worse_than_declared_fails_only_when_asked() {
    let base = openai_server();
    let (dir, base) = project(&base);
    let args = [
        "eval",
        "--matrix",
        "--models",
        "openai:model-a,openai:model-b",
    ];
    let o = promptops(dir.path(), &base, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = promptops(
        dir.path(),
        &base,
        &[&args[..], &["--fail-on-mismatch"]].concat(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(100), "{out}");
    assert!(
        out.contains(
            "worse than declared: support.label@1.2.0 on openai:model-b: declared works, measured not-supported"
        ),
        "{out}"
    );
    // Better than declared is no failure.
    let o = promptops(
        dir.path(),
        &base,
        &[
            "eval",
            "--matrix",
            "--models",
            "openai:model-a,openai:model-c",
            "--fail-on-mismatch",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn models_promptops_cannot_call_are_not_supported_and_the_run_goes_on() {
    let base = openai_server();
    let (dir, base) = project(&base);
    let o = promptops(
        dir.path(),
        &base,
        &[
            "eval",
            "--matrix",
            "--json",
            "--models",
            "nope:x,openai:model-a",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &json["prompts"][0]["models"][0];
    assert_eq!(
        (
            first["model"].as_str(),
            first["verdict"].as_str(),
            first["errors"].as_u64(),
            first["ran"].as_bool()
        ),
        (Some("nope:x"), Some("not-supported"), Some(4), Some(false)),
        "{first}"
    );
    assert!(
        first["note"].as_str().unwrap().contains("nope:x"),
        "{first}"
    );
    assert_eq!(json["prompts"][0]["models"][1]["verdict"], "works");
    assert!(
        out.contains("warning") && out.contains("nope:x: cannot run"),
        "{out}"
    );
}

#[test]
fn a_promptfoo_config_runs_its_providers_and_writes_matrix_files() {
    let base = openai_server();
    let (dir, base) = project(&base);
    // Raw prompts (no prompt file: nothing declared) and the suite's own providers.
    write(
        dir.path(),
        "suite.yaml",
        "prompts: ['Return the label for item {{id}}.', 'promptops://support.label']\nproviders: [openai:chat:model-b, {id: openai:model-a, config: {temperature: 0}}]\ntests:\n  - vars: {id: '1'}\n    assert: [{type: equals, value: LABEL-1}]\n  - vars: {id: '2'}\n    assert: [{type: equals, value: LABEL-2}]\n",
    );
    let o = promptops(
        dir.path(),
        &base,
        &[
            "eval",
            "--matrix",
            "-c",
            "suite.yaml",
            "--json",
            "-o",
            "m.json",
            "-o",
            "m.html",
            "-o",
            "m.md",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(json, file);
    let prompts = json["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 2, "{json}");
    assert_eq!(prompts[0]["prompt"], "Return the label for item {{id}}.");
    assert_eq!(prompts[1]["prompt"], "support.label@1.2.0");
    // Suite providers first, then the prompt file's model (already there) and its
    // declared models.
    let models: Vec<&str> = prompts[0]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        ["openai:model-b", "openai:model-a", "openai:model-c"]
    );
    assert_eq!(prompts[0]["models"][0]["declared"], Value::Null);
    assert_eq!(prompts[0]["models"][0]["agrees"], Value::Null);
    assert_eq!(prompts[1]["models"][0]["declared"], "works");

    let html = std::fs::read_to_string(dir.path().join("m.html")).unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("Return the label for item {{id}}."), "{html}");
    assert!(
        html.contains("declared works, measured not-supported"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "{html}"
    );
    let md = std::fs::read_to_string(dir.path().join("m.md")).unwrap();
    assert!(md.contains("### support.label@1.2.0"), "{md}");

    // Other report formats are per-row reports, which a matrix does not write.
    let o = promptops(
        dir.path(),
        &base,
        &["eval", "--matrix", "-c", "suite.yaml", "-o", "m.csv"],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "m.csv: with --matrix, -o writes the matrix: use a file ending in .json, .html or .md"
        ),
        "{out}"
    );
}

#[test]
fn matrix_flags_need_matrix() {
    let dir = TempDir::new().unwrap();
    let o = promptops(
        dir.path(),
        "http://127.0.0.1:9",
        &["eval", "--models", "echo"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--matrix"), "{}", text(&o));
}

/// A stand-in for the registry's compatibility route (it lands with the server side):
/// records each request line and body and answers with the records, as
/// `Vec<CompatibilityRecord>`.
/// Each request the stand-in saw: its request line and JSON body.
type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

fn registry_stand_in() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_lowercase();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let records: Vec<Value> = sent["results"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let total = r["passed"].as_u64().unwrap() + r["failed"].as_u64().unwrap() + r["errors"].as_u64().unwrap();
                    json!({
                        "id": i + 1, "model": r["model"], "passed": r["passed"], "failed": r["failed"],
                        "errors": r["errors"], "pass_rate": r["passed"].as_f64().unwrap() / total as f64,
                        "verdict": r["verdict"], "thresholds": sent["thresholds"], "suite": sent["suite"],
                        "actor": "ci", "created_at": "2026-12-03T00:00:00Z"
                    })
                })
                .collect();
            record
                .lock()
                .unwrap()
                .push((request_line.trim_end().to_owned(), sent));
            let answer = Value::Array(records).to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            let _ = writer.write_all(reply.as_bytes());
        }
    });
    (base, seen)
}

#[test]
fn publish_records_each_version_with_the_models_that_ran() {
    let base = openai_server();
    let (dir, base) = project(&base);
    let (registry, seen) = registry_stand_in();
    let o = promptops(
        dir.path(),
        &base,
        &[
            "--registry",
            &registry,
            "--token",
            "pok_test",
            "eval",
            "--matrix",
            "--publish",
            "--works",
            "0.9",
            "--needs-tuning",
            "0.5",
            "--models",
            "openai:model-a,openai:model-b,openai:model-c,nope:x",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("recorded compatibility of support.label@1.2.0 on 3 models to"),
        "{out}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].0,
        "POST /v1/projects/matrix-test/prompts/support.label/versions/1.2.0/compatibility HTTP/1.1"
    );
    // `nope:x` could not be set up: not measured, so not sent.
    assert_eq!(
        seen[0].1,
        json!({
            "suite": "evals/support/label.yaml",
            "thresholds": {"works": 0.9, "needs_tuning": 0.5},
            "results": [
                {"model": "openai:model-a", "passed": 4, "failed": 0, "errors": 0, "verdict": "works"},
                {"model": "openai:model-b", "passed": 2, "failed": 2, "errors": 0, "verdict": "needs-tuning"},
                {"model": "openai:model-c", "passed": 0, "failed": 0, "errors": 4, "verdict": "not-supported"}
            ]
        })
    );
}
