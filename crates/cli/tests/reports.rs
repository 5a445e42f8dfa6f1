//! `promptops eval -o` in every report format at once, and `--baseline` against a
//! previous run, through the real binary with the `echo` provider.

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
        .env_remove("PROMPTOPS_FORMAT")
        .output()
        .expect("run promptops")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// One passing test, one failing test whose description and reason need escaping in
/// every format, and one error row (a latency assertion without its threshold).
const SUITE: &str = r#"description: reports
prompts: ['Echo {{word}}']
providers: [echo]
tests:
  - description: greets
    vars: {word: hello}
    assert: [{type: contains, value: hello}]
  - description: 'shouts <loud> & "quotes" | pipe'
    vars: {word: '=LOUD'}
    assert: [{type: equals, value: "Echo <quiet> & | x"}]
  - vars: {word: slow}
    assert: [{type: latency}]
"#;

#[test]
fn every_format_at_once() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(d, "suite.yaml", SUITE);
    let o = promptops(
        d,
        &[
            "eval",
            "-c",
            "suite.yaml",
            "-o",
            "out.json",
            "-o",
            "out.junit.xml",
            "-o",
            "out.csv",
            "-o",
            "summary.MD",
            "-o",
            "report.html",
        ],
    );
    assert_eq!(o.status.code(), Some(100), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 passed, 1 failed, 1 errors"),
        "{}",
        text(&o)
    );

    // JSON: promptfoo's shape, as before.
    let json: Value = serde_json::from_str(&read(d, "out.json")).unwrap();
    assert_eq!(json["results"]["results"].as_array().unwrap().len(), 3);
    assert_eq!(json["results"]["stats"]["errors"], 1);
    assert!(json.get("baselineComparison").is_none());

    // JUnit.
    let xml = read(d, "out.junit.xml");
    check_well_formed(&xml);
    assert!(
        xml.contains(
            r#"<testsuites name="promptops" tests="3" failures="1" errors="1" skipped="0""#
        ),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testsuite name="[echo] prompt 1" tests="3" failures="1" errors="1""#),
        "{xml}"
    );
    assert!(xml.contains(r#"name="test 1: greets""#), "{xml}");
    assert!(
        xml.contains(r#"name="test 2: shouts &lt;loud&gt; &amp; &quot;quotes&quot; | pipe""#),
        "{xml}"
    );
    assert!(xml.contains(r#"name="test 3: word=slow""#), "{xml}");
    assert!(
        xml.contains(r#"<failure message="Expected output &quot;Echo =LOUD&quot; to equal &quot;Echo &lt;quiet&gt; &amp; | x&quot;" type="assertion">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<error message="Error: Latency assertion must have a threshold in milliseconds" type="error">"#),
        "{xml}"
    );

    // CSV: one line per test.
    let csv = read(d, "out.csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "Description",
            "word",
            "[echo] Echo {{word}}",
            "Status",
            "Score",
            "Named Scores",
            "Grader Reason",
            "Comment"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert_eq!(&rows[0][2], "[PASS] Echo hello");
    assert_eq!(&rows[0][3], "PASS");
    assert_eq!(&rows[1][0], r#"shouts <loud> & "quotes" | pipe"#);
    assert_eq!(&rows[1][1], "'=LOUD", "a formula is neutralised");
    assert_eq!(
        &rows[1][2],
        "[FAIL] Expected output \"Echo =LOUD\" to equal \"Echo <quiet> & | x\"\n---\nEcho =LOUD"
    );
    assert_eq!(&rows[1][3], "FAIL");
    assert_eq!(&rows[1][4], "0.00");
    assert_eq!(&rows[2][0], "");
    assert!(
        rows[2][2].starts_with("[ERROR] Error: Latency assertion"),
        "{csv}"
    );
    assert_eq!(&rows[2][3], "ERROR");

    // Markdown.
    let md = read(d, "summary.MD");
    assert!(
        md.starts_with("## ❌ promptops eval: 1 passed, 1 failed, 1 errors (33.33% pass rate)"),
        "{md}"
    );
    assert!(
        md.contains("| echo | Echo {{word}} | 33.33% | 1 | 1 | 1 | 0.33 | 0 | $0.00 |"),
        "{md}"
    );
    assert!(md.contains("### Failing tests (2)"), "{md}");
    assert!(
        md.contains(r#"- **FAIL** · test 2: shouts \<loud\> \& "quotes" \| pipe · `[echo]` Echo {{word}}: Expected output "Echo =LOUD" to equal "Echo \<quiet\> \& \| x""#),
        "{md}"
    );
    assert!(md.contains("- **ERROR** · test 3: word=slow"), "{md}");

    // HTML.
    let html = read(d, "report.html");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<title>promptops eval: reports</title>"));
    assert!(html.contains("1 passed, 1 failed, 1 errors (33.33% pass rate)"));
    assert!(html.contains("shouts &lt;loud&gt; &amp; &quot;quotes&quot; | pipe"));
    assert!(html.contains("Echo &lt;quiet&gt; &amp; | x"));
    assert!(!html.contains("<loud>") && !html.contains("<quiet>"));
    assert!(
        !html.contains("<link") && !html.contains(" src="),
        "self-contained"
    );
    assert_eq!(html.matches("<tr class=\"FAIL\">").count(), 1);
    assert_eq!(html.matches("<tr class=\"ERROR\">").count(), 1);
    assert_eq!(html.matches("<tr class=\"PASS\">").count(), 1);
}

#[test]
fn unknown_extensions_are_refused_before_the_run() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "suite.yaml", SUITE);
    let o = promptops(
        dir.path(),
        &[
            "eval",
            "-c",
            "suite.yaml",
            "-o",
            "out.json",
            "-o",
            "out.txt",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "out.txt: unsupported output format; use a file ending in .json, .junit.xml or .xml, .csv, .md, .html"
        ),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("out.json").exists(), "nothing ran");
}

/// A suite of tests `(description, word, expected output)` checked with `equals`.
fn equals_suite(tests: &[(&str, &str, &str)]) -> String {
    let mut s = String::from("prompts: ['{{word}}']\nproviders: [echo]\ntests:\n");
    for (description, word, expected) in tests {
        s.push_str(&format!(
            "  - description: {description}\n    vars: {{word: {word}}}\n    assert: [{{type: equals, value: {expected}}}]\n"
        ));
    }
    s
}

#[test]
fn baseline_lists_regressions_and_fixes() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // Before: `stable` and `regresses` pass, `gets-fixed` fails, `dropped` passes.
    write(
        d,
        "v1.yaml",
        &equals_suite(&[
            ("stable", "a", "a"),
            ("regresses", "b", "b"),
            ("gets-fixed", "c", "not-c"),
            ("dropped", "d", "d"),
        ]),
    );
    let o = promptops(d, &["eval", "-c", "v1.yaml", "-o", "prev.json"]);
    assert_eq!(o.status.code(), Some(100), "{}", text(&o));

    // After: `regresses` now expects something else, `gets-fixed` expects the output,
    // `dropped` is gone and `added` is new (tests reordered too).
    write(
        d,
        "v2.yaml",
        &equals_suite(&[
            ("added", "e", "e"),
            ("gets-fixed", "c", "c"),
            ("regresses", "b", "not-b"),
            ("stable", "a", "a"),
        ]),
    );
    let o = promptops(
        d,
        &[
            "eval",
            "-c",
            "v2.yaml",
            "--baseline",
            "prev.json",
            "-o",
            "now.md",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(100),
        "a failing test fails the run: {}",
        text(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in\n{stdout}"))
    };
    let summary = at("3 passed, 1 failed, 0 errors");
    let compared = at("compared with prev.json: 1 regression, 1 fix, 1 new, 1 missing");
    let regressed = at(
        "REGRESSED [echo] regresses (was PASS, now FAIL)\n          Expected output \"b\" to equal \"not-b\"",
    );
    let fixed = at("FIXED     [echo] gets-fixed (was FAIL, now PASS)");
    assert!(
        summary < compared && compared < regressed && regressed < fixed,
        "{stdout}"
    );

    let md = read(d, "now.md");
    assert!(
        md.contains("### Compared with `prev.json`: 1 regression, 1 fix, 1 new, 1 missing"),
        "{md}"
    );
    assert!(
        md.contains("**Regressions (passed before, not now): 1**\n\n- PASS → **FAIL** · regresses · `[echo]` {{word}}: Expected output \"b\" to equal \"not-b\""),
        "{md}"
    );
    assert!(
        md.contains("- FAIL → **PASS** · gets-fixed · `[echo]` {{word}}: Expected output \"c\" to equal \"not-c\""),
        "{md}"
    );

    // `--format json`: promptfoo's document, plus `baselineComparison`.
    let o = promptops(
        d,
        &[
            "eval",
            "-c",
            "v2.yaml",
            "--baseline",
            "prev.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(100), "{}", text(&o));
    let doc: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(doc["results"]["results"].as_array().unwrap().len(), 4);
    assert_eq!(doc["results"]["version"], 3);
    let c = &doc["baselineComparison"];
    assert_eq!(c["baseline"], "prev.json");
    assert_eq!(c["regressions"][0]["description"], "regresses");
    assert_eq!(c["regressions"][0]["provider"], "echo");
    assert_eq!(
        c["regressions"][0]["vars"],
        serde_json::json!({"word": "b"})
    );
    assert_eq!(c["regressions"][0]["before"], "pass");
    assert_eq!(c["regressions"][0]["now"], "fail");
    assert_eq!(c["fixes"][0]["description"], "gets-fixed");
    assert_eq!(c["newTests"], 1);
    assert_eq!(c["missingTests"], 1);
    assert_eq!(c["unchanged"], 1);

    // Fixes alone: everything passes, so the run exits 0. The baseline may be the
    // file `-o` rewrites (it is read first).
    write(
        d,
        "v3.yaml",
        &equals_suite(&[("gets-fixed", "c", "c"), ("stable", "a", "a")]),
    );
    let o = promptops(
        d,
        &[
            "eval",
            "-c",
            "v3.yaml",
            "--baseline",
            "prev.json",
            "-o",
            "prev.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("compared with prev.json: 0 regressions, 1 fix, 0 new, 2 missing"),
        "{}",
        text(&o)
    );
    let rewritten: Value = serde_json::from_str(&read(d, "prev.json")).unwrap();
    assert_eq!(rewritten["results"]["results"].as_array().unwrap().len(), 2);
}

#[test]
fn unusable_baselines_exit_1_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(d, "suite.yaml", &equals_suite(&[("one", "a", "a")]));
    write(d, "empty.json", "{}");
    write(d, "broken.json", "{\"results\": ");
    for (file, want) in [
        ("missing.json", "missing.json: cannot read the baseline"),
        (
            "empty.json",
            "empty.json: not a results file: no `results.results` list",
        ),
        (
            "broken.json",
            "broken.json: not valid JSON: EOF while parsing a value at line 1 column 12",
        ),
    ] {
        let o = promptops(
            d,
            &[
                "eval",
                "-c",
                "suite.yaml",
                "--baseline",
                file,
                "-o",
                "out.json",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "want {want:?}: {}",
            text(&o)
        );
        assert!(!d.join("out.json").exists(), "the run did not start");
    }
}

/// Well-formed enough for a CI parser: a declaration, every tag closed in order, only
/// quoted attributes, known entities, and no character XML 1.0 forbids.
fn check_well_formed(xml: &str) {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    assert!(xml.chars().all(allowed), "a character XML forbids:\n{xml}");
    let entities = |s: &str| {
        for (i, _) in s.match_indices('&') {
            let end = s[i..].find(';').map_or(s.len(), |e| i + e + 1);
            assert!(
                [
                    "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#9;", "&#13;"
                ]
                .contains(&&s[i..end]),
                "unknown entity {:?}",
                &s[i..end]
            );
        }
    };
    let mut rest = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("an XML declaration");
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    while let Some(lt) = rest.find('<') {
        entities(&rest[..lt]);
        let gt = lt + rest[lt..].find('>').expect("an unclosed tag");
        let tag = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "</{name}> closes the wrong tag");
            continue;
        }
        if open.is_empty() {
            roots += 1;
        }
        let empty = tag.ends_with('/');
        let (name, mut attrs) = tag
            .trim_end_matches('/')
            .split_once(' ')
            .unwrap_or((tag.trim_end_matches('/'), ""));
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "tag name {name:?}"
        );
        while !attrs.trim().is_empty() {
            let (key, value) = attrs
                .trim_start()
                .split_once("=\"")
                .expect("a quoted attribute");
            assert!(
                key.chars().all(|c| c.is_ascii_alphanumeric()),
                "attribute {key:?}"
            );
            let end = value.find('"').expect("a closing quote");
            assert!(!value[..end].contains('<'), "`<` in an attribute");
            entities(&value[..end]);
            attrs = &value[end + 1..];
        }
        if !empty {
            open.push(name);
        }
    }
    assert!(rest.trim().is_empty(), "text after the root");
    assert!(open.is_empty(), "unclosed: {open:?}");
    assert_eq!(roots, 1, "one root element");
}
