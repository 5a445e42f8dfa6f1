//! The multi-model compatibility matrix (`promptops eval --matrix`): a suite run once per
//! model, each prompt version's cases counted per model and turned into a verdict
//! (`works`, `needs-tuning`, `not-supported`) by [`CompatibilityThresholds::verdict`],
//! then set beside what the prompt file declares in `model.compatibility`.
//!
//! Which models run ([`select_models`]): the ones asked for, else the union of the
//! suite's providers, each prompt's own model and the models its `model.compatibility`
//! names, in that order, each once (`openai:chat:m` and `openai:m` are one model).
//! A model runs the suite with its provider swapped in and nothing else changed: the
//! same prompts, vars and assertions.

use crate::runner::Outcome;
use crate::suite::{ProviderSpec, provider_from_model, reported_string_id};
pub use promptops_api::{
    CompatibilityThresholds, CompatibilityVerdict, ModelResult, PublishCompatibility,
};
use promptops_core::html::escape;
use promptops_core::prompt::Prompt;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

/// The name a matrix gives a model: `provider:model`, as `model.compatibility` keys are
/// written (`openai:chat:gpt-4o-mini` → `openai:gpt-4o-mini`).
pub fn model_key(id: &str) -> String {
    reported_string_id(id.trim())
}

/// A model to run and the provider entry the suite runs it with (an id, or
/// `{id, label, config, …}` when it keeps a provider's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub key: String,
    pub entry: Json,
}

/// The models of a matrix run. `explicit` (`--models`) wins, each with the settings of
/// the suite's provider or the prompt's model of the same name when there is one, else
/// with the prompt's `model.params`. Without it: the suite's `providers` (a prompt suite
/// without any runs its prompt's model), then each prompt's own model, then the models
/// its `model.compatibility` names (sorted); each model once, the first entry kept.
pub fn select_models(
    explicit: &[String],
    providers: &[ProviderSpec],
    prompts: &[&Prompt],
) -> Vec<Model> {
    let suite_models = providers.iter().map(|spec| Model {
        key: model_key(&spec.id),
        entry: spec_entry(spec),
    });
    let own_models = prompts.iter().map(|p| {
        let entry = provider_from_model(p);
        let id = entry["id"].as_str().unwrap_or_default().to_owned();
        Model {
            key: model_key(&id),
            entry,
        }
    });
    // A declared model is called as the prompt is: with the prompt's own params.
    let declared_models = prompts.iter().flat_map(|p| {
        p.model.compatibility.keys().map(|key| Model {
            key: model_key(key),
            entry: with_params(key, p),
        })
    });
    let mut out: Vec<Model> = Vec::new();
    let mut push = |m: Model| {
        if !m.key.is_empty() && !out.iter().any(|o| o.key == m.key) {
            out.push(m);
        }
    };
    if explicit.is_empty() {
        let known: Vec<Model> = suite_models.chain(own_models).collect();
        known.into_iter().for_each(&mut push);
        declared_models.for_each(&mut push);
    } else {
        let known: Vec<Model> = suite_models.chain(own_models).collect();
        for id in explicit {
            let key = model_key(id);
            let found = known.iter().find(|m| m.key == key);
            push(match found {
                Some(m) => m.clone(),
                None => Model {
                    key,
                    entry: match prompts.first() {
                        Some(p) => with_params(id.trim(), p),
                        None => Json::String(id.trim().to_owned()),
                    },
                },
            });
        }
    }
    out
}

/// `--models a,b` and `[eval.matrix] models` as a list: split on commas, blanks dropped.
pub fn parse_model_list<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| s.as_ref().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `{id, config: <the prompt's model.params>}`, or the bare id when it has none.
fn with_params(id: &str, prompt: &Prompt) -> Json {
    if prompt.model.params.is_empty() {
        return Json::String(id.to_owned());
    }
    let config: Map<String, Json> = prompt
        .model
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({"id": id, "config": config})
}

/// A loaded provider written back as a config entry, with everything that changes how
/// it answers (config, label, prompt filter, transform, delay).
fn spec_entry(spec: &ProviderSpec) -> Json {
    let mut o = Map::new();
    o.insert("id".into(), Json::String(spec.id.clone()));
    if !spec.label.is_empty() {
        o.insert("label".into(), Json::String(spec.label.clone()));
    }
    if !spec.config.is_empty() {
        o.insert("config".into(), Json::Object(spec.config.clone()));
    }
    if let Some(p) = &spec.prompts {
        o.insert("prompts".into(), json!(p));
    }
    if let Some(t) = &spec.transform {
        o.insert("transform".into(), Json::String(t.clone()));
    }
    if let Some(d) = spec.delay_ms {
        o.insert("delay".into(), json!(d));
    }
    if o.len() == 1 {
        return Json::String(spec.id.clone());
    }
    Json::Object(o)
}

/// The suite config (promptfoo's or a prompt suite's) with `model` as its only provider;
/// everything else is left as written.
pub fn with_model(config: &mut Json, model: &Model) {
    if let Json::Object(o) = config {
        o.remove("targets");
        o.insert("providers".into(), Json::Array(vec![model.entry.clone()]));
    }
}

/// The counts of one prompt on one model, as rows finish.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// The first error, on one line (an unknown model's 404, a refused request).
    pub first_error: Option<String>,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome, error: Option<&str>) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Error => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = error.map(|e| one_line(e, 200));
                }
            }
        }
    }
}

/// The text on one line (an API error's status line and its body), at most `max` chars.
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// One model's row of a prompt's matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRow {
    pub model: String,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// Passed over all cases (errors count as cases); `None` with no cases.
    pub pass_rate: Option<f64>,
    pub verdict: CompatibilityVerdict,
    /// What the prompt file's `model.compatibility` says of this model.
    pub declared: Option<CompatibilityVerdict>,
    /// Whether the verdict is the declared one (`None`: nothing declared).
    pub agrees: Option<bool>,
    /// False when the model could not be set up at all (an id promptops cannot call, a
    /// missing API key): its cases count as errors, and it is not published.
    pub ran: bool,
    /// Why the model could not run, or its first error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl MatrixRow {
    /// The row of a model whose cases ran (`tally`), judged by `thresholds`.
    pub fn measured(
        model: &str,
        tally: &Tally,
        declared: Option<CompatibilityVerdict>,
        thresholds: &CompatibilityThresholds,
    ) -> MatrixRow {
        let total = tally.passed + tally.failed + tally.errors;
        let verdict = thresholds.verdict(tally.passed, tally.failed, tally.errors);
        MatrixRow {
            model: model.to_owned(),
            passed: tally.passed,
            failed: tally.failed,
            errors: tally.errors,
            pass_rate: (total > 0).then(|| tally.passed as f64 / total as f64),
            verdict,
            declared,
            agrees: declared.map(|d| d == verdict),
            ran: true,
            note: tally.first_error.clone(),
        }
    }

    /// The row of a model that could not be set up: its `cases` all errors.
    pub fn not_run(
        model: &str,
        cases: u64,
        reason: &str,
        declared: Option<CompatibilityVerdict>,
        thresholds: &CompatibilityThresholds,
    ) -> MatrixRow {
        let tally = Tally {
            errors: cases,
            first_error: Some(one_line(reason, 300)),
            ..Tally::default()
        };
        MatrixRow {
            ran: false,
            ..MatrixRow::measured(model, &tally, declared, thresholds)
        }
    }

    /// `declared works, measured needs-tuning`, when they differ.
    pub fn disagreement(&self) -> Option<String> {
        match (self.declared, self.agrees) {
            (Some(d), Some(false)) => Some(format!(
                "declared {}, measured {}",
                d.as_str(),
                self.verdict.as_str()
            )),
            _ => None,
        }
    }

    /// Whether the measurement is worse than what the prompt file declares (declared
    /// `works`, measured `needs-tuning`: the file promises more than the model gives).
    pub fn worse_than_declared(&self) -> bool {
        self.declared.is_some_and(|d| rank(self.verdict) < rank(d))
    }

    /// `9/10`.
    pub fn passed_of_total(&self) -> String {
        format!(
            "{}/{}",
            self.passed,
            self.passed + self.failed + self.errors
        )
    }

    /// `90.0%`, or `-` with no cases.
    pub fn rate_text(&self) -> String {
        self.pass_rate
            .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
    }

    /// `✓`, `✗`, or `—` when nothing is declared.
    pub fn agrees_mark(&self) -> &'static str {
        match self.agrees {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "—",
        }
    }
}

fn rank(v: CompatibilityVerdict) -> u8 {
    match v {
        CompatibilityVerdict::NotSupported => 0,
        CompatibilityVerdict::NeedsTuning => 1,
        CompatibilityVerdict::Works => 2,
    }
}

/// What a prompt file declares of a model (`model.compatibility`, keys compared as
/// [`model_key`]s).
pub fn declared(prompt: Option<&Prompt>, model: &str) -> Option<CompatibilityVerdict> {
    prompt?
        .model
        .compatibility
        .iter()
        .find(|(k, _)| model_key(k) == model)
        .map(|(_, c)| (*c).into())
}

/// The matrix of one prompt of one suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptMatrix {
    /// The suite file that was run.
    pub suite: String,
    /// `id@version` for a prompt file, else the suite's label for the prompt.
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub models: Vec<MatrixRow>,
}

impl PromptMatrix {
    /// What `--publish` sends for this version: the models that ran (a model that could
    /// not be set up was not measured). `None` for a prompt that is not a prompt file.
    pub fn publication(
        &self,
        thresholds: &CompatibilityThresholds,
    ) -> Option<PublishCompatibility> {
        self.prompt_id.as_ref()?;
        let results: Vec<ModelResult> = self
            .models
            .iter()
            .filter(|r| r.ran && names_a_model(&r.model))
            .map(|r| ModelResult {
                model: r.model.clone(),
                passed: r.passed,
                failed: r.failed,
                errors: r.errors,
                verdict: r.verdict,
            })
            .collect();
        (!results.is_empty()).then(|| PublishCompatibility {
            suite: self.suite.clone(),
            thresholds: *thresholds,
            results,
        })
    }
}

/// Whether `key` is a `provider:model` id the registry records; a provider without a
/// model (`echo`, a script) is shown but not recorded.
pub fn names_a_model(key: &str) -> bool {
    key.split_once(':')
        .is_some_and(|(provider, model)| !provider.is_empty() && !model.is_empty())
}

/// A whole matrix run: every prompt of every suite run, on every model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    pub thresholds: CompatibilityThresholds,
    pub prompts: Vec<PromptMatrix>,
}

impl Matrix {
    /// Rows measured worse than declared, as `prompt model: declared …, measured …`.
    pub fn worse_than_declared(&self) -> Vec<String> {
        self.prompts
            .iter()
            .flat_map(|p| {
                p.models
                    .iter()
                    .filter(|r| r.worse_than_declared())
                    .map(|r| {
                        format!(
                            "{} on {}: {}",
                            p.prompt,
                            r.model,
                            r.disagreement().unwrap_or_default()
                        )
                    })
            })
            .collect()
    }

    /// The machine-readable form (`--json`, `-o matrix.json`).
    pub fn to_json(&self) -> Json {
        let mut v = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Json::Object(o) = &mut v {
            o.insert("format".into(), json!(MATRIX_FORMAT));
        }
        v
    }

    /// A Markdown table per prompt (a PR comment).
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "## Compatibility matrix\n\nworks ≥ {:.0}% · needs-tuning ≥ {:.0}% · below: not-supported\n",
            self.thresholds.works * 100.0,
            self.thresholds.needs_tuning * 100.0
        );
        for p in &self.prompts {
            out.push_str(&format!(
                "\n### {}\n\n| model | passed/total | pass rate | verdict | declared | agrees |\n|---|---|---|---|---|---|\n",
                md_cell(&p.prompt)
            ));
            for r in &p.models {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    md_cell(&r.model),
                    r.passed_of_total(),
                    r.rate_text(),
                    r.verdict.as_str(),
                    r.declared.map_or("—", |d| d.as_str()),
                    match r.disagreement() {
                        Some(d) => format!("✗ {d}"),
                        None => r.agrees_mark().to_owned(),
                    }
                ));
            }
        }
        out
    }

    /// A self-contained HTML page (no scripts, no external resources; all text escaped).
    pub fn to_html(&self) -> String {
        let mut body = String::new();
        for p in &self.prompts {
            body.push_str(&format!(
                "<section><h2>{}</h2><p class=\"suite\">suite {}</p>\n<table><thead><tr><th>model</th><th>passed/total</th><th>pass rate</th><th>verdict</th><th>declared</th><th>agrees</th></tr></thead><tbody>\n",
                escape(&p.prompt),
                escape(&p.suite)
            ));
            for r in &p.models {
                let note = r
                    .note
                    .as_deref()
                    .map(|n| format!("<div class=\"note\">{}</div>", escape(n)))
                    .unwrap_or_default();
                let agrees = match r.disagreement() {
                    Some(d) => format!("✗ {}", escape(&d)),
                    None => r.agrees_mark().to_owned(),
                };
                body.push_str(&format!(
                    "<tr class=\"{}\"><td>{}{note}</td><td>{}</td><td>{}</td><td class=\"v {}\">{}</td><td>{}</td><td>{agrees}</td></tr>\n",
                    if r.agrees == Some(false) { "mismatch" } else { "" },
                    escape(&r.model),
                    r.passed_of_total(),
                    r.rate_text(),
                    r.verdict.as_str(),
                    r.verdict.as_str(),
                    r.declared.map_or("—", |d| d.as_str()),
                ));
            }
            body.push_str("</tbody></table></section>\n");
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compatibility matrix</title>\n<style>{HTML_STYLE}</style></head>\n<body><h1>Compatibility matrix</h1>\n<p>works ≥ {:.0}% · needs-tuning ≥ {:.0}% · below: not-supported</p>\n{body}</body></html>\n",
            self.thresholds.works * 100.0,
            self.thresholds.needs_tuning * 100.0
        )
    }
}

/// The `format` of a matrix written as JSON.
pub const MATRIX_FORMAT: &str = "promptops-compatibility-matrix/1";

const HTML_STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5rem}\
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.suite{color:#666;font-size:.9em}.note{color:#777;font-size:.85em}\
.v.works{color:#176f2c}.v.needs-tuning{color:#8a5a00}.v.not-supported{color:#a11}\
tr.mismatch{background:#fff3f3}";

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompatibilityVerdict::*;

    fn prompt(yaml_model: &str) -> Prompt {
        let source = format!(
            "id: support.answer\nversion: 1.2.0\nowner: team-support\ndescription: answers\nmodel:\n{yaml_model}\ntemplate: \"Hi {{{{ name }}}}\"\nvariables:\n  name: {{type: string}}\n"
        );
        let report = promptops_core::validate::check_source(
            "prompts/support/answer.yaml",
            None,
            source.as_bytes(),
            &Default::default(),
        );
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report.prompt.expect("a valid prompt")
    }

    fn spec(id: &str) -> ProviderSpec {
        crate::suite::provider_spec(&Json::String(id.into())).unwrap()
    }

    fn keys(models: &[Model]) -> Vec<&str> {
        models.iter().map(|m| m.key.as_str()).collect()
    }

    #[test]
    fn model_keys_are_provider_and_model() {
        for (id, key) in [
            ("openai:chat:gpt-4o-mini", "openai:gpt-4o-mini"),
            ("openai:gpt-4o-mini", "openai:gpt-4o-mini"),
            (
                "anthropic:messages:claude-3-5-haiku",
                "anthropic:claude-3-5-haiku",
            ),
            (" echo ", "echo"),
        ] {
            assert_eq!(model_key(id), key, "{id}");
        }
    }

    #[test]
    fn without_a_list_models_are_the_suite_then_the_prompt_then_its_declared_ones() {
        let p = prompt(
            "  provider: openai\n  name: gpt-4o-mini\n  params: {temperature: 0.2}\n  compatibility:\n    \"openai:gpt-4o\": works\n    \"anthropic:claude-3-5-haiku\": needs-tuning\n    \"openai:gpt-4o-mini\": works",
        );
        let models = select_models(&[], &[spec("echo"), spec("openai:chat:gpt-4o")], &[&p]);
        assert_eq!(
            keys(&models),
            [
                "echo",
                "openai:gpt-4o",
                "openai:gpt-4o-mini",
                "anthropic:claude-3-5-haiku"
            ]
        );
        // The suite's own entry is kept for a model it already runs; the prompt's model
        // and declared models are called with the prompt's params.
        assert_eq!(models[1].entry, json!("openai:chat:gpt-4o"));
        assert_eq!(
            models[2].entry,
            json!({"id": "openai:chat:gpt-4o-mini", "config": {"temperature": 0.2}})
        );
        assert_eq!(
            models[3].entry,
            json!({"id": "anthropic:claude-3-5-haiku", "config": {"temperature": 0.2}})
        );
    }

    #[test]
    fn a_list_wins_and_keeps_known_settings() {
        let p = prompt("  provider: openai\n  name: gpt-4o-mini\n  params: {temperature: 0}");
        let mut configured = spec("openai:chat:gpt-4o");
        configured.config.insert("seed".into(), json!(7));
        let asked = parse_model_list(&["openai:gpt-4o, echo", " ,openai:gpt-4o-mini", "echo"]);
        let models = select_models(&asked, &[configured], &[&p]);
        assert_eq!(
            keys(&models),
            ["openai:gpt-4o", "echo", "openai:gpt-4o-mini"]
        );
        assert_eq!(
            models[0].entry,
            json!({"id": "openai:chat:gpt-4o", "config": {"seed": 7}})
        );
        assert_eq!(
            models[1].entry,
            json!({"id": "echo", "config": {"temperature": 0}})
        );
        // Without a prompt file (a promptfoo config of raw prompts), the id as given.
        let models = select_models(&["echo".into()], &[], &[]);
        assert_eq!(models[0].entry, json!("echo"));
    }

    #[test]
    fn the_config_keeps_everything_but_its_providers() {
        let mut config = json!({"prompt": "a", "targets": ["x"], "cases": [{"vars": {"q": 1}, "assert": [{"type": "equals", "value": "1"}]}]});
        let model = Model {
            key: "echo".into(),
            entry: json!("echo"),
        };
        with_model(&mut config, &model);
        assert_eq!(
            config,
            json!({"prompt": "a", "providers": ["echo"], "cases": [{"vars": {"q": 1}, "assert": [{"type": "equals", "value": "1"}]}]})
        );
    }

    fn row(
        passed: u64,
        failed: u64,
        errors: u64,
        declared: Option<CompatibilityVerdict>,
    ) -> MatrixRow {
        let tally = Tally {
            passed,
            failed,
            errors,
            first_error: None,
        };
        MatrixRow::measured("m", &tally, declared, &CompatibilityThresholds::default())
    }

    /// One row: counts and what is declared → verdict, agrees mark, the words, and
    /// whether it is worse than declared.
    fn check(
        (p, f, e): (u64, u64, u64),
        declared: Option<CompatibilityVerdict>,
        want: (CompatibilityVerdict, &str, Option<&str>, bool),
    ) {
        let r = row(p, f, e, declared);
        let got = (
            r.verdict,
            r.agrees_mark(),
            r.disagreement(),
            r.worse_than_declared(),
        );
        assert_eq!(
            got,
            (want.0, want.1, want.2.map(str::to_owned), want.3),
            "{p}/{f}/{e} declared {declared:?}"
        );
    }

    #[test]
    fn rows_judge_and_compare() {
        check((10, 0, 0), Some(Works), (Works, "✓", None, false));
        check((9, 1, 0), None, (Works, "—", None, false));
        let words = Some("declared works, measured needs-tuning");
        check((7, 3, 0), Some(Works), (NeedsTuning, "✗", words, true));
        let words = Some("declared needs-tuning, measured not-supported");
        check(
            (5, 5, 0),
            Some(NeedsTuning),
            (NotSupported, "✗", words, true),
        );
        // Better than declared disagrees, but is no broken promise.
        let words = Some("declared needs-tuning, measured works");
        check((10, 0, 0), Some(NeedsTuning), (Works, "✗", words, false));
        check(
            (0, 0, 4),
            Some(NotSupported),
            (NotSupported, "✓", None, false),
        );
        check((6, 0, 4), None, (NeedsTuning, "—", None, false));
        let r = row(6, 0, 4, None);
        assert_eq!(
            (r.passed_of_total(), r.rate_text()),
            ("6/10".into(), "60.0%".into())
        );
        assert_eq!(row(0, 0, 0, None).rate_text(), "-");
    }

    #[test]
    fn thresholds_change_verdicts() {
        let strict = CompatibilityThresholds {
            works: 1.0,
            needs_tuning: 0.5,
        };
        let tally = Tally {
            passed: 1,
            failed: 1,
            ..Tally::default()
        };
        assert_eq!(
            MatrixRow::measured("m", &tally, None, &strict).verdict,
            NeedsTuning
        );
        assert_eq!(
            MatrixRow::measured("m", &tally, None, &CompatibilityThresholds::default()).verdict,
            NotSupported
        );
    }

    #[test]
    fn declared_verdicts_are_found_by_model_key() {
        let p = prompt(
            "  name: gpt-4o-mini\n  provider: openai\n  compatibility:\n    \"openai:chat:gpt-4o\": needs-tuning",
        );
        assert_eq!(declared(Some(&p), "openai:gpt-4o"), Some(NeedsTuning));
        assert_eq!(declared(Some(&p), "openai:gpt-4o-mini"), None);
        assert_eq!(declared(None, "openai:gpt-4o"), None);
    }

    #[test]
    fn only_models_that_ran_are_published() {
        let t = CompatibilityThresholds::default();
        let ran = MatrixRow::measured(
            "openai:a",
            &Tally {
                passed: 2,
                ..Tally::default()
            },
            None,
            &t,
        );
        let not_run = MatrixRow::not_run("nope:x", 2, "provider `nope:x`: unknown", None, &t);
        assert_eq!(
            (not_run.errors, not_run.verdict, not_run.ran),
            (2, NotSupported, false)
        );
        let mut p = PromptMatrix {
            suite: "evals/support/answer.yaml".into(),
            prompt: "support.answer@1.2.0".into(),
            prompt_id: Some("support.answer".into()),
            version: Some("1.2.0".into()),
            models: vec![ran, not_run],
        };
        let sent = serde_json::to_value(p.publication(&t).unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({
                "suite": "evals/support/answer.yaml",
                "thresholds": {"works": 0.9, "needs_tuning": 0.6},
                "results": [{"model": "openai:a", "passed": 2, "failed": 0, "errors": 0, "verdict": "works"}]
            })
        );
        p.prompt_id = None;
        assert_eq!(p.publication(&t), None);
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let t = CompatibilityThresholds::default();
        let m = Matrix {
            thresholds: t,
            prompts: vec![PromptMatrix {
                suite: "s<1>.yaml".into(),
                prompt: "<script>alert(1)</script>".into(),
                prompt_id: None,
                version: None,
                models: vec![MatrixRow::not_run(
                    "a&b",
                    1,
                    "\"bad\" <id>",
                    Some(Works),
                    &t,
                )],
            }],
        };
        let html = m.to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;") && html.contains("a&amp;b"),
            "{html}"
        );
        assert!(
            html.contains("declared works, measured not-supported"),
            "{html}"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        let md = m.to_markdown();
        assert!(md.contains("| a&b | 0/1 | 0.0% | not-supported | works | ✗ declared works, measured not-supported |"), "{md}");
    }
}
