//! Prompt-centric suites (`evals/<module>/<name>.yaml`) and `promptops://` prompts: run
//! by `promptops eval` with no `-c`, each prompt gated on its own `metrics`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

fn promptops(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PROMPTOPS_FAILED_TEST_EXIT_CODE")
        .env_remove("OPENAI_API_KEY")
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

/// A fresh starter project (`promptops init`).
fn project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = promptops(dir.path(), &["init", "."]);
    assert!(o.status.success(), "{}", text(&o));
    dir
}

fn write(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

#[test]
fn the_starter_suite_runs_offline_and_meets_its_gates() {
    let dir = project();
    let o = promptops(dir.path(), &["eval", "-o", "out.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("PASS  support.answer@1.0.0 accuracy 1.00 (2/2) (required >= 0.90)"),
        "{out}"
    );
    assert!(
        out.contains("cost_per_call_usd 0.000000 (required <= 0.002)"),
        "{out}"
    );
    assert!(out.contains("p95_latency_ms"), "{out}");
    // The prompt's messages reach the provider as a chat prompt, its default filled in.
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    let rendered = report["results"]["results"][0]["response"]["output"]
        .as_str()
        .unwrap()
        .to_owned();
    let messages: Value = serde_json::from_str(&rendered).expect("a chat prompt");
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("support agent for Acme"),
        "{rendered}"
    );
    assert_eq!(
        report["results"]["prompts"][0]["label"],
        "promptops://support.answer@1.0.0"
    );
}

#[test]
fn the_accuracy_gate_follows_baseline_accuracy() {
    let dir = project();
    let suite = |accuracy: f64| {
        format!(
            "prompt: support.answer\nproviders: [echo]\nmetrics: {{baseline_accuracy: {accuracy}}}\ncases:\n  - vars: {{article: a, question: q}}\n    assert: [{{type: icontains, value: 'Article:'}}]\n  - vars: {{article: a, question: q}}\n    assert: [{{type: icontains, value: 'not there'}}]\n"
        )
    };
    write(dir.path(), "evals/support/answer.yaml", &suite(0.5));
    let o = promptops(dir.path(), &["eval"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "half passing meets 0.5: {}",
        text(&o)
    );
    write(dir.path(), "evals/support/answer.yaml", &suite(0.9));
    let o = promptops(dir.path(), &["eval"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(100), "{out}");
    assert!(
        out.contains("FAIL  support.answer@1.0.0 accuracy 0.50 (1/2) (required >= 0.90)"),
        "{out}"
    );
}

#[test]
fn declared_variables_are_enforced_per_case() {
    let dir = project();
    write(
        dir.path(),
        "evals/support/answer.yaml",
        "prompt: support.answer\nproviders: [echo]\ncases:\n  - description: no question\n    vars: {article: a}\n    assert: [{type: contains, value: a}]\n",
    );
    let o = promptops(dir.path(), &["eval", "-o", "out.json"]);
    assert_eq!(o.status.code(), Some(100), "{}", text(&o));
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    let error = report["results"]["results"][0]["error"].as_str().unwrap();
    assert!(error.contains("variable `question` is required"), "{error}");
}

#[test]
fn suites_name_prompts_that_exist() {
    let dir = project();
    write(
        dir.path(),
        "evals/support/answer.yaml",
        "prompt: support.anser\nproviders: [echo]\ncases: []\n",
    );
    let o = promptops(dir.path(), &["eval"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("evals/support/answer.yaml: prompt"), "{out}");
    assert!(out.contains("did you mean `support.answer`?"), "{out}");
    write(
        dir.path(),
        "evals/support/answer.yaml",
        "prompt: support.answer\nprovider: [echo]\ncases: []\n",
    );
    let o = promptops(dir.path(), &["eval"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("unknown key `provider` in a prompt suite; did you mean `providers`?"),
        "{out}"
    );
}

#[test]
fn promptfoo_suites_can_use_promptops_prompts() {
    let dir = project();
    write(
        dir.path(),
        "suite.yaml",
        "prompts: ['promptops://support.answer']\nproviders: [echo]\ntests:\n  - vars: {article: 'Refunds within 30 days.', question: 'Refund?', company: Initech}\n    assert:\n      - {type: icontains, value: 'support agent for Initech'}\n      - {type: javascript, value: \"JSON.parse(output)[1].content === 'Refund?'\"}\n",
    );
    let o = promptops(dir.path(), &["eval", "-c", "suite.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn several_suites_write_one_report_each() {
    let dir = project();
    write(
        dir.path(),
        "prompts/support/greet.yaml",
        "id: support.greet\nversion: 1.0.0\nowner: support\ndescription: Greets.\nmodel: openai:gpt-4o-mini\ntemplate: 'Hello {{ name }}'\nvariables:\n  name: {type: string, required: true, description: Who.}\ncompliance:\n  risk_tier: low\n  intended_use: Greeting.\n",
    );
    write(
        dir.path(),
        "evals/support/greet.yaml",
        "prompt: support.greet\nproviders: [echo]\ncases:\n  - vars: {name: Ada}\n    assert: [{type: equals, value: Hello Ada}]\n",
    );
    let o = promptops(dir.path(), &["eval", "-o", "out.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for id in ["support.answer", "support.greet"] {
        let path = dir.path().join(format!("out.{id}.json"));
        assert!(path.is_file(), "{} missing: {out}", path.display());
    }
    assert!(
        out.contains("PASS  support.greet@1.0.0 accuracy 1.00 (1/1)"),
        "{out}"
    );
}
