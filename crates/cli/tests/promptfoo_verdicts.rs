//! The suites in `bench/suites/` (every supported assertion type between them) through the
//! real bench mock LLM, compared with the verdicts promptfoo 0.123.1 gives on the same
//! suites (recorded from `bench/eval.sh --suites`; `compare-results.py` found them equal).

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// promptfoo's verdicts on `assertions.yaml`: per testIdx, the row's success and each
/// component's pass.
const ASSERTIONS: &[(bool, &[bool])] = &[
    (true, &[true; 13]),
    (false, &[false, false, false, false, false, false]),
    (true, &[false, true]),
    (true, &[true, true]),
    (true, &[true, true, false, true]),
    (true, &[true]),
    (false, &[false]),
    (false, &[false]),
    (true, &[true]),
    (false, &[false]),
    (true, &[true]),
    (false, &[false]),
    (false, &[false]),
    (false, &[true, false, true]),
];

/// promptfoo's verdicts on `structured.yaml`.
const STRUCTURED: &[(bool, &[bool])] = &[
    (false, &[true, true, false, false, false]),
    (false, &[true, true, false, false, false]),
    (false, &[false, false, true]),
    (false, &[true, true, false, false, true]),
    (false, &[false, true, true, false]),
    (false, &[true, false, true, true, true, false, true]),
    (false, &[true, false]),
    (false, &[false, true]),
    (false, &[true, true, false, true, false, true, false]),
    (false, &[true, true, false, false, false]),
    (false, &[true, false]),
    (false, &[false]),
    (false, &[false, true, false, false]),
];

#[path = "support/mock_llm.rs"]
mod mock_llm;

use mock_llm::{mock_or_skip, repo_root};

#[test]
fn every_assertion_type_agrees_with_promptfoo() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_mock, port)) = mock_or_skip(dir.path()) else {
        return;
    };
    for (suite, verdicts) in [
        ("assertions.yaml", ASSERTIONS),
        ("structured.yaml", STRUCTURED),
    ] {
        check_suite(dir.path(), port, suite, verdicts);
    }
}

fn check_suite(dir: &Path, port: u16, suite: &str, verdicts: &[(bool, &[bool])]) {
    let text = std::fs::read_to_string(repo_root().join("bench/suites").join(suite))
        .unwrap()
        .replace("{{MOCK_PORT}}", &port.to_string());
    std::fs::write(dir.join(suite), text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args([
            "eval",
            "-c",
            suite,
            "-j",
            "4",
            "-o",
            "out.json",
            "--no-table",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(100),
        "{suite}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_slice(&std::fs::read(dir.join("out.json")).unwrap()).unwrap();
    let mut rows: Vec<&Value> = out["results"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    rows.sort_by_key(|r| r["testIdx"].as_u64());
    assert_eq!(rows.len(), verdicts.len(), "{suite}");
    for (row, (success, components)) in rows.iter().zip(verdicts) {
        let name = row["description"].as_str().unwrap_or_default();
        assert_eq!(
            row["success"], *success,
            "{suite}: {name}: {}",
            row["error"]
        );
        let got: Vec<bool> = row["gradingResult"]["componentResults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["pass"].as_bool().unwrap())
            .collect();
        assert_eq!(&got, components, "{suite}: {name}");
    }
}

/// The seed governance repository's two promptfoo suites, as their users wrote them
/// (`plugins:`, `metrics:`, `thresholds:` and all), give promptfoo's verdicts: every
/// target answer is the mock's `LABEL-NONE`, so every row fails, assertion by assertion.
#[test]
fn seed_repository_suites_agree_with_promptfoo() {
    let seed = repo_root().join("../shared/data/seed-governance-repo/prompts");
    if !seed.is_dir() {
        if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some() {
            panic!("{} is required here", seed.display());
        }
        eprintln!("skipped: {} not found", seed.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((_mock, port)) = mock_or_skip(dir.path()) else {
        return;
    };
    // promptfoo's component verdicts per testIdx (docs/research/promptfoo-compat.md §7.1),
    // the same for both providers.
    let cases: [(&str, &[&[bool]]); 2] = [
        (
            "support-agent-v1",
            &[
                &[false, false],
                &[false, false],
                &[false],
                &[false],
                &[false, false],
                &[false, false, false],
            ],
        ),
        (
            "rag-pipeline-fallback",
            &[&[false, false, false], &[false, false, false]],
        ),
    ];
    for (name, verdicts) in cases {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        for file in ["prompt.txt", "test-cases.json"] {
            std::fs::copy(seed.join(name).join(file), work.join(file)).unwrap();
        }
        let suite = std::fs::read_to_string(seed.join(name).join("evalsuite.mock.yml"))
            .unwrap()
            .replace("{{MOCK_PORT}}", &port.to_string());
        std::fs::write(work.join("suite.yml"), suite).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
            .args([
                "eval",
                "-c",
                "suite.yml",
                "-o",
                "out.json",
                "--no-table",
                "--no-cache",
            ])
            .current_dir(&work)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(100),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out: Value =
            serde_json::from_slice(&std::fs::read(work.join("out.json")).unwrap()).unwrap();
        let rows = out["results"]["results"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            verdicts.len() * 2,
            "{name}: one row per test and provider"
        );
        for row in rows {
            let t = row["testIdx"].as_u64().unwrap() as usize;
            let got: Vec<bool> = row["gradingResult"]["componentResults"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["pass"].as_bool().unwrap())
                .collect();
            assert_eq!(row["success"], false, "{name} test {t}");
            assert_eq!(got, verdicts[t], "{name} test {t}");
            assert_eq!(row["response"]["output"], "LABEL-NONE", "{name} test {t}");
        }
    }
}

/// (testIdx, promptIdx, provider id, output, success, score, error ("" for none), grading
/// reason, component passes).
type FilterRow = (
    u64,
    u64,
    &'static str,
    &'static str,
    bool,
    f64,
    &'static str,
    &'static str,
    &'static [bool],
);
/// (provider, label, named scores as compact JSON, (assert passes, fails), (test passes, fails)).
type FilterPrompt = (
    &'static str,
    &'static str,
    &'static str,
    (u64, u64),
    (u64, u64),
);

/// promptfoo's rows for `bench/suites/filters.yaml`, by (testIdx, promptIdx); the same
/// with `--no-write`.
#[rustfmt::skip]
const FILTER_ROWS: &[FilterRow] = &[
    (0, 1, "echo", "ECHO: bye 1", true, 1.0, "", "All assertions passed", &[true]),
    (0, 3, "openai:chat:mock-model", " bye 1", true, 1.0, "", "All assertions passed", &[true]),
    (0, 6, "echo", "ECHO: bye 1", true, 1.0, "", "All assertions passed", &[true]),
    (1, 2, "openai:chat:mock-model", " hello 2", true, 1.0, "", "All assertions passed", &[true]),
    (1, 3, "openai:chat:mock-model", " bye 2", false, 0.0, "Expected output to contain \"hello\"", "Expected output to contain \"hello\"", &[false]),
    (1, 4, "openai:chat:mock-model", " third 2", false, 0.0, "Expected output to contain \"hello\"", "Expected output to contain \"hello\"", &[false]),
    (1, 5, "echo", "ECHO: hello 2", true, 1.0, "", "All assertions passed", &[true]),
    (1, 6, "echo", "ECHO: bye 2", false, 0.0, "Expected output to contain \"hello\"", "Expected output to contain \"hello\"", &[false]),
    (1, 7, "echo", "ECHO: third 2", false, 0.0, "Expected output to contain \"hello\"", "Expected output to contain \"hello\"", &[false]),
    (2, 0, "echo", "ECHO: hello 3", false, 0.0, "Output not selected: GRADE-PASS the friendliest", "Output not selected: GRADE-PASS the friendliest", &[true, false]),
    (2, 1, "echo", "ECHO: bye 3", true, 1.0, "", "All assertions passed", &[true, true]),
    (3, 0, "echo", "ECHO: hello 4", true, 1.0, "", "All assertions passed", &[true, true, true]),
    (3, 2, "openai:chat:mock-model", " hello 4", false, 0.0, "Expected output to contain \"ECHO\"", "Expected output to contain \"ECHO\"", &[true, false, false]),
    (4, 1, "echo", "ECHO: bye 5", true, 1.0, "", "All assertions passed", &[true, true]),
    (4, 3, "openai:chat:mock-model", " bye 5", false, 0.0, "Output not selected: GRADE-FAIL the shortest", "Output not selected: GRADE-FAIL the shortest", &[true, false]),
    (5, 0, "echo", "ECHO: hello 6", true, 1.0, "", "accuracy 1 over 2 assertions", &[true, false]),
    (6, 0, "echo", " hello 7", true, 1.0, "", "All assertions passed", &[true]),
    (7, 2, "openai:chat:mock-model", "ECHO: hello 8", true, 1.0, "", "All assertions passed", &[true]),
    (9, 4, "openai:chat:mock-model", " third 10", true, 1.0, "", "All assertions passed", &[true]),
    (9, 7, "echo", "ECHO: third 10", true, 1.0, "", "All assertions passed", &[true]),
];

/// promptfoo's `results.prompts` for `filters.yaml`: provider, label, named scores
/// (derived metrics included), assertion passes and failures, test passes and failures.
#[rustfmt::skip]
const FILTER_PROMPTS: &[FilterPrompt] = &[
    ("first", "g1", "{\"accuracy\":1,\"doubled\":0,\"hit_rate\":0,\"style\":0,\"unknown\":0}", (6, 2), (3, 1)),
    ("first", "grp:two", "{\"doubled\":0.6666666666666666,\"hit_rate\":0.3333333333333333,\"hits\":1,\"unknown\":0}", (5, 0), (3, 0)),
    ("openai:chat:mock-model", "g1", "{\"doubled\":0.6666666666666666,\"hit_rate\":0.3333333333333333,\"hits\":1,\"unknown\":0}", (3, 2), (2, 1)),
    ("openai:chat:mock-model", "grp:two", "{\"doubled\":0.6666666666666666,\"hit_rate\":0.3333333333333333,\"hits\":1,\"unknown\":0}", (2, 2), (1, 2)),
    ("openai:chat:mock-model", "ECHO: third {{n}}", "{\"doubled\":1,\"hit_rate\":0.5,\"hits\":1,\"unknown\":0}", (1, 1), (1, 1)),
    ("third", "g1", "{\"doubled\":2,\"hit_rate\":1,\"hits\":1,\"unknown\":0}", (1, 0), (1, 0)),
    ("third", "grp:two", "{\"doubled\":1,\"hit_rate\":0.5,\"hits\":1,\"unknown\":0}", (1, 1), (1, 1)),
    ("third", "ECHO: third {{n}}", "{\"doubled\":1,\"hit_rate\":0.5,\"hits\":1,\"unknown\":0}", (1, 1), (1, 1)),
];

/// Comparisons whose outcome depends on the order promptfoo sees a test's outputs in
/// (the mock grader answers "1" for GRADE-PASS, "0" for GRADE-FAIL, nothing usable without
/// a marker).
const ORDER_SUITE: &str = "prompts: ['ECHO: a {{n}}', 'ECHO: b {{n}}', 'ECHO: c {{n}}']
providers: [echo]
defaultTest:
  options:
    provider: {id: openai:chat:mock-grader, config: {apiBaseUrl: 'http://127.0.0.1:{{MOCK_PORT}}/v1', apiKey: sk-x}}
tests:
  - vars: {n: 1}
    assert:
      - {type: not-contains, value: 'c 1'}
      - {type: select-best, value: 'GRADE-PASS pick'}
  - vars: {n: 2}
    assert:
      - {type: contains, value: 'b 2', weight: 2}
      - {type: contains, value: 'a 2'}
      - {type: max-score, value: {method: sum, weights: {contains: 1}}}
  - vars: {n: 3}
    assert:
      - {type: select-best, value: 'no marker'}
  - vars: {n: 4}
    threshold: 0.5
    assert:
      - {type: select-best, value: 'GRADE-FAIL'}
";

/// promptfoo's rows for [`ORDER_SUITE`], which reads its rows back from its database for
/// the comparisons: failing rows first, so the grader's "output 1" in test 0 is `a`.
#[rustfmt::skip]
const ORDER_ROWS: &[FilterRow] = &[
    (0, 0, "echo", "ECHO: a 1", true, 1.0, "", "All assertions passed", &[true, true]),
    (0, 1, "echo", "ECHO: b 1", false, 0.0, "Output not selected: GRADE-PASS pick", "Output not selected: GRADE-PASS pick", &[true, false]),
    (0, 2, "echo", "ECHO: c 1", false, 0.0, "Expected output to not contain \"c 1\"", "Output not selected: GRADE-PASS pick", &[false, false]),
    (1, 0, "echo", "ECHO: a 2", false, 0.3333333333333333, "Expected output to contain \"b 2\"", "Expected output to contain \"b 2\"", &[false, true, true]),
    (1, 1, "echo", "ECHO: b 2", false, 0.0, "Expected output to contain \"a 2\"", "Expected output to contain \"a 2\"", &[true, false, false]),
    (1, 2, "echo", "ECHO: c 2", false, 0.0, "Expected output to contain \"a 2\"", "Expected output to contain \"a 2\"", &[false, false, false]),
    (2, 0, "echo", "ECHO: a 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (2, 1, "echo", "ECHO: b 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (2, 2, "echo", "ECHO: c 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (3, 0, "echo", "ECHO: a 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Aggregate score 0.00 < 0.5 threshold", &[true]),
    (3, 1, "echo", "ECHO: b 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Output not selected: GRADE-FAIL", &[false]),
    (3, 2, "echo", "ECHO: c 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Output not selected: GRADE-FAIL", &[false]),
];

/// The same with `--no-write`: rows in the order they finished, so "output 1" is `b`.
#[rustfmt::skip]
const ORDER_ROWS_NO_WRITE: &[FilterRow] = &[
    (0, 0, "echo", "ECHO: a 1", false, 0.0, "Output not selected: GRADE-PASS pick", "Output not selected: GRADE-PASS pick", &[true, false]),
    (0, 1, "echo", "ECHO: b 1", true, 1.0, "", "All assertions passed", &[true, true]),
    (0, 2, "echo", "ECHO: c 1", false, 0.0, "Expected output to not contain \"c 1\"", "Output not selected: GRADE-PASS pick", &[false, false]),
    (1, 0, "echo", "ECHO: a 2", false, 0.3333333333333333, "Expected output to contain \"b 2\"", "Expected output to contain \"b 2\"", &[false, true, true]),
    (1, 1, "echo", "ECHO: b 2", false, 0.0, "Expected output to contain \"a 2\"", "Expected output to contain \"a 2\"", &[true, false, false]),
    (1, 2, "echo", "ECHO: c 2", false, 0.0, "Expected output to contain \"a 2\"", "Expected output to contain \"a 2\"", &[false, false, false]),
    (2, 0, "echo", "ECHO: a 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (2, 1, "echo", "ECHO: b 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (2, 2, "echo", "ECHO: c 3", false, 0.0, "Invalid select-best verdict: NaN", "Invalid select-best verdict: NaN", &[false]),
    (3, 0, "echo", "ECHO: a 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Aggregate score 0.00 < 0.5 threshold", &[true]),
    (3, 1, "echo", "ECHO: b 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Output not selected: GRADE-FAIL", &[false]),
    (3, 2, "echo", "ECHO: c 4", false, 0.0, "Aggregate score 0.00 < 0.5 threshold", "Output not selected: GRADE-FAIL", &[false]),
];

/// `bench/suites/filters.yaml` (test `prompts:`/`providers:` filters, a provider's
/// `prompts:`, a test's `provider:`, `select-best`, `max-score`, `assertScoringFunction`,
/// `derivedMetrics`) gives promptfoo 0.123.1's rows (recorded with `promptfoo eval -j 4`,
/// with and without `--no-write`, the same in every run): the same (testIdx, promptIdx)
/// pairs, outputs, verdicts, reasons and per-prompt metrics. [`ORDER_SUITE`] gives
/// promptfoo's verdicts in both of its comparison orders.
#[test]
fn filters_overrides_and_comparisons_agree_with_promptfoo() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_mock, port)) = mock_or_skip(dir.path()) else {
        return;
    };
    let suites = repo_root().join("bench/suites");
    let text = std::fs::read_to_string(suites.join("filters.yaml")).unwrap();
    let port = port.to_string();
    std::fs::write(
        dir.path().join("filters.yaml"),
        text.replace("{{MOCK_PORT}}", &port),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("order.yaml"),
        ORDER_SUITE.replace("{{MOCK_PORT}}", &port),
    )
    .unwrap();
    std::fs::copy(suites.join("scoring.js"), dir.path().join("scoring.js")).unwrap();
    let run = |suite: &str, extra: &[&str]| -> Value {
        let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
            .args([
                "eval",
                "-c",
                suite,
                "-j",
                "4",
                "-o",
                "out.json",
                "--no-table",
            ])
            .args(["-o", "out.csv", "-o", "out.junit.xml", "--no-cache"])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(100),
            "{suite}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap()
    };

    let out = run("filters.yaml", &[]);
    check_rows(&out, FILTER_ROWS);
    let rows = out["results"]["results"].as_array().unwrap();
    // A test's own provider is reported in its test case (credentials redacted); the row
    // keeps the suite's provider.
    let overridden = rows.iter().find(|r| r["testIdx"] == 6).unwrap();
    assert_eq!(overridden["provider"]["id"], "echo");
    assert_eq!(
        overridden["testCase"]["provider"]["id"],
        "openai:chat:mock-model"
    );
    assert_eq!(
        overridden["testCase"]["provider"]["config"]["apiKey"],
        "[REDACTED]"
    );
    // max-score's figures are in the grading result only.
    let best = rows
        .iter()
        .find(|r| r["testIdx"] == 3 && r["promptIdx"] == 0)
        .unwrap();
    assert_eq!(best["gradingResult"]["namedScores"]["maxScore"], 1);
    assert_eq!(best["gradingResult"]["assertion"]["type"], "max-score");
    assert_eq!(best["namedScores"], serde_json::json!({}));

    let prompts = out["results"]["prompts"].as_array().unwrap();
    assert_eq!(
        prompts.len(),
        FILTER_PROMPTS.len(),
        "one per provider × prompt pair that runs"
    );
    for (p, want) in prompts.iter().zip(FILTER_PROMPTS) {
        let (provider, label, named, asserts, tests) = *want;
        let at = format!("[{provider}] {label}");
        let m = &p["metrics"];
        assert_eq!(
            (p["provider"].as_str(), p["label"].as_str()),
            (Some(provider), Some(label))
        );
        let named: Value = serde_json::from_str(named).unwrap();
        assert_eq!(m["namedScores"], named, "{at}");
        assert_eq!(
            (m["assertPassCount"].as_u64(), m["assertFailCount"].as_u64()),
            (Some(asserts.0), Some(asserts.1)),
            "{at}"
        );
        assert_eq!(
            (m["testPassCount"].as_u64(), m["testFailCount"].as_u64()),
            (Some(tests.0), Some(tests.1)),
            "{at}"
        );
    }
    // The CSV has a line per test that has rows (the filtered-out test has none), and the
    // JUnit report a suite per provider × prompt pair with rows.
    let csv = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.records().count(), 9, "{csv}");
    let junit = std::fs::read_to_string(dir.path().join("out.junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 8, "{junit}");
    assert_eq!(
        junit.matches("<testcase ").count(),
        FILTER_ROWS.len(),
        "{junit}"
    );

    check_rows(&run("filters.yaml", &["--no-write"]), FILTER_ROWS);
    check_rows(&run("order.yaml", &[]), ORDER_ROWS);
    check_rows(&run("order.yaml", &["--no-write"]), ORDER_ROWS_NO_WRITE);
}

/// The report's rows are `want`'s, by (testIdx, promptIdx).
fn check_rows(out: &Value, want: &[FilterRow]) {
    let mut rows: Vec<&Value> = out["results"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    rows.sort_by_key(|r| (r["testIdx"].as_u64(), r["promptIdx"].as_u64()));
    let got: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["testIdx"].as_u64().unwrap(),
                r["promptIdx"].as_u64().unwrap(),
            )
        })
        .collect();
    let keys: Vec<(u64, u64)> = want.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(got, keys, "the rows that exist");
    for (row, want) in rows.iter().zip(want) {
        let (test, prompt, provider, output, success, score, error, reason, components) = *want;
        let at = format!("testIdx {test}, promptIdx {prompt}");
        assert_eq!(row["provider"]["id"], provider, "{at}");
        assert_eq!(row["response"]["output"], output, "{at}");
        assert_eq!(row["success"], success, "{at}");
        assert_eq!(row["score"].as_f64(), Some(score), "{at}");
        assert_eq!(row["error"].as_str().unwrap_or_default(), error, "{at}");
        assert_eq!(row["gradingResult"]["reason"], reason, "{at}");
        let passes: Vec<bool> = row["gradingResult"]["componentResults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["pass"].as_bool().unwrap())
            .collect();
        assert_eq!(passes, components, "{at}");
    }
}
