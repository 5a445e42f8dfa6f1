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
