//! `--baseline PREV.json`: compares this run's per-test outcomes with a previous results
//! file (ours, or promptfoo's own `-o out.json`: both have `results.results[]` rows).
//!
//! Rows are matched by a [`TestKey`]: the provider (its label, else its id), the prompt
//! (its label, else its raw text), the test's vars as canonical JSON (keys sorted), and
//! the test's description. Rows with the same key (repeats, duplicated tests) are paired
//! in test order: the first with the first, and so on. Row indexes are not part of the
//! key, so adding or removing a test does not shift the others.
//!
//! A row that passed before and fails or errors now is a regression; one that failed
//! or errored before and passes now is a fix. Keys only in this run are new tests, keys
//! only in the baseline are missing tests.

use super::describe;
use crate::provider::Provider;
use crate::runner::{Outcome, Row, RunResult};
use crate::spill::SpillError;
use crate::suite::{Suite, TestStep};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::path::Path;

mod stream;

/// What matches a row of this run with a row of the baseline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestKey {
    /// The provider's label, else its (reported) id.
    pub provider: String,
    /// The prompt's label, else its raw text.
    pub prompt: String,
    /// The vars as canonical JSON (keys sorted, no white space).
    pub vars: String,
    /// The test's description (empty when it has none).
    pub description: String,
}

/// A row of the baseline, as little as the comparison needs: a 100,000-row baseline
/// costs a few MB, not its document.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// The [`TestKey`]'s digest.
    key: KeyDigest,
    /// 0 for the first row with this key (in test order), 1 for the second, ...
    occurrence: usize,
    test_idx: usize,
    outcome: Outcome,
    /// Why it did not pass (kept for rows that did not: a fix reports it).
    reason: Option<Box<str>>,
}

/// A [`TestKey`] by its SHA-256 (first 16 bytes): the comparison matches digests.
type KeyDigest = [u8; 16];

impl TestKey {
    fn digest(&self) -> KeyDigest {
        // Each part with its length first, so no two keys run together the same way.
        let mut text = Vec::new();
        for part in [&self.provider, &self.prompt, &self.vars, &self.description] {
            text.extend_from_slice(&(part.len() as u64).to_le_bytes());
            text.extend_from_slice(part.as_bytes());
        }
        let full = promptops_core::canonical::sha256(&text);
        let mut out = [0; 16];
        out.copy_from_slice(&full.0[..16]);
        out
    }
}

/// A previous run's rows, read from its results file.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The file, as named on the command line.
    pub path: String,
    entries: Vec<Entry>,
}

/// A baseline file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BaselineError {
    pub path: String,
    pub message: String,
}

/// A test whose outcome changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: TestKey,
    /// The vars (as a tree; the key has them as text).
    pub vars: Json,
    /// This run's `testIdx`.
    pub test_idx: usize,
    pub before: Outcome,
    pub now: Outcome,
    /// Why it does not pass now (a regression), or why it did not pass before (a fix).
    pub reason: String,
}

/// `{description, provider, prompt, vars, testIdx, before, now, reason}`.
impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let name = |o: Outcome| match o {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        };
        let mut m = serializer.serialize_map(Some(8))?;
        m.serialize_entry("description", &self.key.description)?;
        m.serialize_entry("provider", &self.key.provider)?;
        m.serialize_entry("prompt", &self.key.prompt)?;
        m.serialize_entry("vars", &self.vars)?;
        m.serialize_entry("testIdx", &self.test_idx)?;
        m.serialize_entry("before", name(self.before))?;
        m.serialize_entry("now", name(self.now))?;
        m.serialize_entry("reason", &self.reason)?;
        m.end()
    }
}

impl Change {
    /// The test's description, else its vars, else `test <n>`.
    pub fn name(&self) -> String {
        if !self.key.description.is_empty() {
            return self.key.description.clone();
        }
        match &self.vars {
            Json::Object(vars) if !vars.is_empty() => describe::vars_text(vars),
            _ => format!("test {}", self.test_idx + 1),
        }
    }
}

/// This run against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The baseline file.
    pub baseline: String,
    /// Passed before; fail or error now. In test order.
    pub regressions: Vec<Change>,
    /// Failed or errored before; pass now. In test order.
    pub fixes: Vec<Change>,
    /// Rows of this run with no match in the baseline.
    pub new_tests: usize,
    /// Rows of the baseline with no match in this run.
    pub missing_tests: usize,
    /// Matched rows whose outcome is the same (or went between fail and error).
    pub unchanged: usize,
}

impl Comparison {
    /// `1 regression, 2 fixes, 0 new, 1 missing`.
    pub fn counts_text(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        format!(
            "{}, {}, {} new, {} missing",
            n(self.regressions.len(), "regression", "regressions"),
            n(self.fixes.len(), "fix", "fixes"),
            self.new_tests,
            self.missing_tests
        )
    }
}

impl Baseline {
    /// Reads a results file; `path` is also the name errors use. The file is read as a
    /// stream, one row at a time (a 100,000-row results file is hundreds of MB).
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| BaselineError {
            path: name.clone(),
            message: format!("cannot read the baseline: {e}"),
        })?;
        Baseline::read(std::io::BufReader::new(file), &name)
    }

    /// Reads a results document (promptfoo's shape: `{results: {results: [rows]}}`).
    pub fn parse(text: &str, path: &str) -> Result<Baseline, BaselineError> {
        Baseline::read(text.as_bytes(), path)
    }

    fn read(reader: impl std::io::Read, path: &str) -> Result<Baseline, BaselineError> {
        let fail = |message: String| BaselineError {
            path: path.to_owned(),
            message: format!("{message}; {HINT}"),
        };
        let mut entries = Vec::new();
        let mut refused: Option<String> = None;
        let mut take = |i: usize, row: Json| match past_entry(&row, i) {
            Ok((key, test_idx, outcome, reason)) => {
                entries.push(Entry {
                    key: key.digest(),
                    occurrence: 0,
                    test_idx,
                    outcome,
                    reason: (outcome != Outcome::Pass).then(|| reason.into_boxed_str()),
                });
                Ok(())
            }
            Err(what) => {
                refused = Some(format!("results.results[{i}] {what}"));
                Err(())
            }
        };
        let mut de = serde_json::Deserializer::from_reader(reader);
        let found = serde::de::DeserializeSeed::deserialize(stream::Document(&mut take), &mut de)
            .and_then(|found| de.end().map(|()| found));
        let found = match (found, refused) {
            (_, Some(refusal)) => return Err(fail(refusal)),
            (Err(e), None) => return Err(fail(format!("not valid JSON: {e}"))),
            (Ok(found), None) => found,
        };
        if !found {
            return Err(fail(
                "not a results file: no `results.results` list".to_owned(),
            ));
        }
        number_occurrences(&mut entries);
        Ok(Baseline {
            path: path.to_owned(),
            entries,
        })
    }

    /// Compares this run with the baseline.
    pub fn compare(
        &self,
        suite: &Suite,
        providers: &[Provider],
        run: &RunResult,
    ) -> Result<Comparison, SpillError> {
        let mut before: HashMap<(KeyDigest, usize), &Entry> = self
            .entries
            .iter()
            .map(|e| ((e.key, e.occurrence), e))
            .collect();
        let mut comparison = Comparison {
            baseline: self.path.clone(),
            regressions: Vec::new(),
            fixes: Vec::new(),
            new_tests: 0,
            missing_tests: 0,
            unchanged: 0,
        };
        // This run's rows in test order, each numbered among the rows sharing its key.
        let mut seen: HashMap<KeyDigest, usize> = HashMap::new();
        for row in run.rows.in_order() {
            let row = row?;
            let step = suite.steps.get(row.step)?;
            let key = current_key(suite, providers, &row, &step);
            let digest = key.digest();
            let occurrence = seen.entry(digest).or_default();
            let matched = before.remove(&(digest, *occurrence));
            *occurrence += 1;
            let Some(was) = matched else {
                comparison.new_tests += 1;
                continue;
            };
            let change = |reason: &str| Change {
                key: key.clone(),
                vars: Json::Object(step.vars.clone()),
                test_idx: step.test_idx,
                before: was.outcome,
                now: row.outcome,
                reason: reason.to_owned(),
            };
            match (was.outcome, row.outcome) {
                (Outcome::Pass, Outcome::Fail | Outcome::Error) => {
                    comparison.regressions.push(change(describe::reason(&row)))
                }
                (Outcome::Fail | Outcome::Error, Outcome::Pass) => comparison
                    .fixes
                    .push(change(was.reason.as_deref().unwrap_or_default())),
                _ => comparison.unchanged += 1,
            }
        }
        comparison.missing_tests = before.len();
        Ok(comparison)
    }
}

const HINT: &str = "a baseline is a results file from `promptops eval -o FILE.json` or `promptfoo eval -o FILE.json`";

/// A row of a results file: `provider{id,label}`, `prompt{raw,label}`, `vars`,
/// `description`, `testIdx`, `success`, `failureReason`, `error`, `gradingResult.reason`.
fn past_entry(row: &Json, index: usize) -> Result<(TestKey, usize, Outcome, String), &'static str> {
    let Json::Object(row) = row else {
        return Err("is not an object");
    };
    let str_at = |v: Option<&Json>, key: &str| {
        v.and_then(|o| o.get(key))
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let provider = match row.get("provider") {
        Some(Json::String(id)) => id.clone(),
        p => str_at(p, "label")
            .or_else(|| str_at(p, "id"))
            .ok_or("has no `provider.id`")?,
    };
    let prompt = row.get("prompt");
    let prompt = str_at(prompt, "label")
        .or_else(|| str_at(prompt, "raw"))
        .unwrap_or_default();
    let test_case = row.get("testCase");
    let vars = row
        .get("vars")
        .or_else(|| test_case.and_then(|t| t.get("vars")))
        .cloned()
        .unwrap_or_else(|| Json::Object(Map::new()));
    let description = row
        .get("description")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| str_at(test_case, "description"))
        .unwrap_or_default();
    let success = row
        .get("success")
        .and_then(Json::as_bool)
        .ok_or("has no `success` (true or false)")?;
    let outcome = match (success, row.get("failureReason").and_then(Json::as_u64)) {
        (true, _) => Outcome::Pass,
        (false, Some(2)) => Outcome::Error,
        (false, _) => Outcome::Fail,
    };
    let reason = row
        .get("error")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| str_at(row.get("gradingResult"), "reason"))
        .unwrap_or_default();
    let key = TestKey {
        provider,
        prompt,
        vars: promptops_core::canonical::value_json(&vars),
        description,
    };
    let test_idx = row
        .get("testIdx")
        .and_then(Json::as_u64)
        .map_or(index, |i| i as usize);
    Ok((key, test_idx, outcome, reason))
}

/// The key of one of this run's rows.
fn current_key(suite: &Suite, providers: &[Provider], row: &Row, step: &TestStep) -> TestKey {
    let template = &suite.prompts[row.prompt];
    TestKey {
        provider: providers[row.provider].display_name().to_owned(),
        prompt: if template.label.is_empty() {
            template.raw.clone()
        } else {
            template.label.clone()
        },
        vars: promptops_core::canonical::value_json(&Json::Object(step.vars.clone())),
        description: step.test.description.clone().unwrap_or_default(),
    }
}

/// Numbers rows that share a key, in test order (a stable sort keeps file order for
/// equal `testIdx`).
fn number_occurrences(entries: &mut [Entry]) {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].test_idx);
    let mut seen: HashMap<KeyDigest, usize> = HashMap::new();
    for i in order {
        let n = seen.entry(entries[i].key).or_default();
        entries[i].occurrence = *n;
        *n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::Fixture;
    use serde_json::json;

    /// A promptfoo-shaped results document with rows `(description, vars, success, failureReason, error)`.
    fn results(rows: &[(&str, Json, bool, u8, &str)]) -> String {
        let rows: Vec<Json> = rows
            .iter()
            .enumerate()
            .map(|(i, (description, vars, success, reason, error))| {
                let mut row = json!({
                    "description": description,
                    "provider": {"id": "echo", "label": ""},
                    "prompt": {"raw": "rendered text", "label": "Say {{word}}", "config": {}},
                    "vars": vars,
                    "success": success,
                    "failureReason": reason,
                    "testIdx": i,
                    "gradingResult": if *reason == 2 { Json::Null } else { json!({"reason": "from grading"}) },
                });
                if !error.is_empty() {
                    row["error"] = json!(error);
                }
                row
            })
            .collect();
        json!({"evalId": "eval-x", "results": {"version": 3, "results": rows}}).to_string()
    }

    /// The fixture with one provider and one prompt, and an outcome per step.
    fn run(yaml_tests: &str, outcomes: &'static [Outcome]) -> Fixture {
        let yaml =
            format!("prompts: ['Say {{{{word}}}}']\nproviders: [echo]\ntests:\n{yaml_tests}");
        Fixture::with_suite(&yaml, move |step, _| outcomes[step])
    }

    #[test]
    fn regressions_fixes_new_and_missing_tests() {
        let before = Baseline::parse(
            &results(&[
                ("a", json!({"word": "x", "n": 1}), true, 0, ""),
                ("b", json!({"word": "y"}), false, 1, "Expected y"),
                ("c", json!({"word": "z"}), true, 0, ""),
                ("gone", json!({"word": "w"}), true, 0, ""),
                ("e", json!({"word": "v"}), false, 2, "boom"),
            ]),
            "prev.json",
        )
        .unwrap();
        // Tests reordered, `gone` removed, `new` added; vars keys in another order.
        let now = run(
            "  - {description: new, vars: {word: q}}\n  - {description: c, vars: {word: z}}\n  - {description: b, vars: {word: y}}\n  - {description: a, vars: {n: 1, word: x}}\n  - {description: e, vars: {word: v}}\n",
            &[
                Outcome::Pass,
                Outcome::Error,
                Outcome::Pass,
                Outcome::Fail,
                Outcome::Fail,
            ],
        );
        let c = before
            .compare(&now.suite, &now.providers, &now.run)
            .unwrap();
        assert_eq!(c.baseline, "prev.json");
        let names = |v: &[Change]| v.iter().map(Change::name).collect::<Vec<_>>();
        assert_eq!(
            names(&c.regressions),
            ["c", "a"],
            "in this run's test order"
        );
        assert_eq!(c.regressions[0].before, Outcome::Pass);
        assert_eq!(c.regressions[0].now, Outcome::Error);
        assert_eq!(
            c.regressions[0].reason,
            crate::report::test_support::ERROR_TEXT
        );
        assert_eq!(names(&c.fixes), ["b"]);
        assert_eq!(
            c.fixes[0].reason, "Expected y",
            "the reason it failed before"
        );
        assert_eq!((c.new_tests, c.missing_tests, c.unchanged), (1, 1, 1));
        assert_eq!(c.counts_text(), "2 regressions, 1 fix, 1 new, 1 missing");
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["regressions"][0]["description"], "c");
        assert_eq!(j["regressions"][0]["provider"], "echo");
        assert_eq!(j["regressions"][0]["prompt"], "Say {{word}}");
        assert_eq!(j["regressions"][0]["vars"], json!({"word": "z"}));
        assert_eq!(j["regressions"][0]["testIdx"], 1);
        assert_eq!(j["regressions"][0]["before"], "pass");
        assert_eq!(j["regressions"][0]["now"], "error");
        assert_eq!(j["newTests"], 1);
        assert_eq!(j["missingTests"], 1);
    }

    #[test]
    fn repeated_keys_pair_in_test_order() {
        let before = Baseline::parse(
            &results(&[
                ("same", json!({"word": "x"}), true, 0, ""),
                ("same", json!({"word": "x"}), false, 1, "second failed"),
            ]),
            "prev.json",
        )
        .unwrap();
        let now = run(
            "  - {description: same, vars: {word: x}}\n  - {description: same, vars: {word: x}}\n  - {description: same, vars: {word: x}}\n",
            &[Outcome::Pass, Outcome::Pass, Outcome::Fail],
        );
        let c = before
            .compare(&now.suite, &now.providers, &now.run)
            .unwrap();
        assert!(c.regressions.is_empty());
        assert_eq!(c.fixes.len(), 1);
        assert_eq!(c.fixes[0].test_idx, 1);
        assert_eq!((c.new_tests, c.missing_tests, c.unchanged), (1, 0, 1));
    }

    #[test]
    fn the_key_uses_label_else_id_and_nameless_tests_are_named_by_vars() {
        let doc = json!({"results": {"results": [
            {"provider": {"id": "openai:gpt-4o", "label": "fast"}, "prompt": {"raw": "hi"}, "success": true, "testCase": {"vars": {"b": [1, {"y": 2, "x": 1}], "a": null}}},
            {"provider": "echo", "success": false}
        ]}});
        let b = Baseline::parse(&doc.to_string(), "p.json").unwrap();
        let key = TestKey {
            provider: "fast".into(),
            prompt: "hi".into(),
            vars: r#"{"a":null,"b":[1,{"x":1,"y":2}]}"#.into(),
            description: String::new(),
        };
        assert_eq!(b.entries[0].key, key.digest());
        let (second, ..) = past_entry(&doc["results"]["results"][1], 1).unwrap();
        assert_eq!(second.provider, "echo");
        assert_eq!(b.entries[1].outcome, Outcome::Fail);
        let change = Change {
            key,
            vars: doc["results"]["results"][0]["testCase"]["vars"].clone(),
            test_idx: 4,
            before: Outcome::Pass,
            now: Outcome::Fail,
            reason: String::new(),
        };
        assert_eq!(change.name(), r#"b=[1,{"y":2,"x":1}], a=null"#);
    }

    #[test]
    fn unusable_files_are_errors_naming_the_file_and_the_problem() {
        let err = Baseline::load(Path::new("/nonexistent/prev.json")).unwrap_err();
        assert_eq!(err.path, "/nonexistent/prev.json");
        assert!(
            err.message.starts_with("cannot read the baseline: "),
            "{err}"
        );
        for (text, want) in [
            (
                "{not json",
                "not valid JSON: key must be a string at line 1 column 2",
            ),
            ("[1, 2]", "not a results file: no `results.results` list"),
            (r#"{"results": {"results": {}}}"#, "not a results file"),
            (
                r#"{"results": {"results": [7]}}"#,
                "results.results[0] is not an object",
            ),
            (
                r#"{"results": {"results": [{"provider": {"id": "echo"}}]}}"#,
                "results.results[0] has no `success` (true or false)",
            ),
            (
                r#"{"results": {"results": [{"success": true}]}}"#,
                "results.results[0] has no `provider.id`",
            ),
        ] {
            let err = Baseline::parse(text, "prev.json").unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("prev.json: "), "{message}");
            assert!(message.contains(want), "want {want:?} in {message}");
            assert!(message.contains("promptfoo eval -o FILE.json"), "{message}");
        }
    }

    #[test]
    fn our_own_json_report_is_a_baseline_that_matches_itself() {
        let f = Fixture::new();
        let text = f.render(crate::report::Kind::Json);
        let b = Baseline::parse(&text, "self.json").unwrap();
        let c = b.compare(&f.suite, &f.providers, &f.run).unwrap();
        assert_eq!(
            (
                c.regressions.len(),
                c.fixes.len(),
                c.new_tests,
                c.missing_tests,
                c.unchanged
            ),
            (0, 0, 0, 0, 12)
        );
    }

    #[test]
    fn promptfoos_example_output_is_a_baseline() {
        // A copy of `bench/example-promptfoo-output.json` (promptfoo 0.123.1, mock model).
        let text = include_str!("testdata/promptfoo-output.json");
        let b = Baseline::parse(text, "example.json").unwrap();
        assert_eq!(b.entries.len(), 3);
        let doc: Json = serde_json::from_str(text).unwrap();
        let (key, ..) = past_entry(&doc["results"]["results"][0], 0).unwrap();
        assert_eq!(key.provider, "openai:chat:mock-model");
        assert_eq!(
            key.prompt,
            "Return the label for item {{id}}. Context: {{text}}"
        );
        assert_eq!(b.entries[0].key, key.digest());
        let outcomes: Vec<Outcome> = b.entries.iter().map(|e| e.outcome).collect();
        assert!(
            outcomes.contains(&Outcome::Pass)
                && outcomes.contains(&Outcome::Fail)
                && outcomes.contains(&Outcome::Error)
        );
    }

    proptest::proptest! {
        /// The streaming reader never panics, whatever the bytes.
        #[test]
        fn any_text_is_read_or_refused(text in ".{0,200}") {
            let _ = Baseline::parse(&text, "any.json");
        }

        /// Rows are found among any other keys, before or after them, at any depth of
        /// the skipped values.
        #[test]
        fn rows_are_found_wherever_the_keys_around_them_are(
            n in 0usize..20,
            before in proptest::collection::vec(("[a-z]{1,6}", 0u8..3), 0..4),
            after in proptest::collection::vec(("[a-z]{1,6}", 0u8..3), 0..4),
        ) {
            let filler = |kind: u8| match kind {
                0 => json!(1),
                1 => json!({"results": [{"success": "not a row"}], "x": [[]]}),
                _ => json!(["results", {"results": 7}]),
            };
            let mut inner = Map::new();
            for (k, kind) in &before {
                inner.insert(format!("{k}_"), filler(*kind));
            }
            let rows: Vec<Json> = (0..n)
                .map(|i| json!({"provider": "echo", "success": i % 2 == 0, "vars": {"i": i}}))
                .collect();
            inner.insert("results".into(), Json::Array(rows));
            for (k, kind) in &after {
                inner.insert(format!("{k}_"), filler(*kind));
            }
            let doc = json!({"config": filler(1), "results": inner, "z": filler(2)});
            let b = Baseline::parse(&doc.to_string(), "p.json").unwrap();
            proptest::prop_assert_eq!(b.entries.len(), n);
        }
    }
}
