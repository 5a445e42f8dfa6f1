//! A small finished run for the report tests: two providers × two prompts × three tests
//! (one passes, one fails with a reason full of characters that need escaping, one is
//! an error), built by hand so no provider is called.

use super::{Context, Summary, baseline::Comparison};
use crate::assertions::{ComponentResult, aggregate};
use crate::pricing::NanoUsd;
use crate::provider::{Provider, Response, Shared, TokenUsage};
use crate::runner::{Outcome, Row, RunResult};
use crate::suite::Suite;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;

pub const SUITE: &str = r#"description: 'fixture <suite> & "co"'
prompts:
  - 'Say {{word}}'
  - 'Shout {{word}}'
providers:
  - echo
  - id: echo
    label: second|echo
tests:
  - description: passes
    vars: {word: hello}
  - description: 'fails <b>&</b> | pipe'
    vars: {word: "a\u0001b", n: 2}
  - vars: {word: '=cmd'}
"#;

/// A failing reason with markup, a control character and a line break.
pub const FAIL_REASON: &str = "Expected \"<x>\" & 'y' | z\u{1}\nsecond line";
pub const ERROR_TEXT: &str = "provider error: <boom> & \u{0}\u{1b}";

pub struct Fixture {
    pub suite: Suite,
    pub providers: Vec<Provider>,
    pub run: RunResult,
    pub summary: Summary,
    pub runtime: Json,
    pub comparison: Option<Comparison>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_suite(SUITE, |step, _| match step {
            0 => Outcome::Pass,
            1 => Outcome::Fail,
            _ => Outcome::Error,
        })
    }

    /// A run of `yaml` whose row (step, promptIdx) has `outcome(step, promptIdx)`.
    pub fn with_suite(yaml: &str, outcome: impl Fn(usize, usize) -> Outcome) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suite.yaml");
        std::fs::write(&path, yaml).unwrap();
        let suite = crate::suite::load(&path).unwrap();
        let shared = Shared::new(
            Arc::new(crate::pricing::PriceTable::shipped()),
            Default::default(),
            Duration::from_secs(1),
        )
        .unwrap();
        let providers: Vec<Provider> = suite
            .providers
            .iter()
            .map(|s| Provider::new(s.clone(), shared.clone()).unwrap())
            .collect();
        let mut rows = Vec::new();
        for step in 0..suite.steps.len() {
            for (prompt_idx, column) in suite.columns.iter().enumerate() {
                rows.push(row(
                    &suite,
                    step,
                    column.provider,
                    column.prompt,
                    prompt_idx,
                    outcome(step, prompt_idx),
                ));
            }
        }
        // Completion order is not test order.
        rows.reverse();
        let run = RunResult::from_rows(rows, suite.columns.len(), Duration::from_millis(1234));
        let summary = run.summary.clone();
        Fixture {
            suite,
            providers,
            run,
            summary,
            runtime: json!({"maxConcurrency": 4}),
            comparison: None,
            _dir: dir,
        }
    }

    pub fn cx(&self) -> Context<'_> {
        Context {
            suite: &self.suite,
            providers: &self.providers,
            run: &self.run,
            summary: &self.summary,
            started_at: "2026-11-21T14:38:29.620Z",
            runtime: &self.runtime,
            comparison: self.comparison.as_ref(),
        }
    }

    /// The report of `kind` as text.
    pub fn render(&self, kind: super::Kind) -> String {
        let mut out = Vec::new();
        super::write(kind, &mut out, &self.cx()).unwrap();
        String::from_utf8(out).unwrap()
    }
}

fn row(
    suite: &Suite,
    step: usize,
    provider: usize,
    prompt: usize,
    prompt_idx: usize,
    outcome: Outcome,
) -> Row {
    let step_data = suite.steps.get(step).unwrap();
    let word = crate::report::describe::value_text(&step_data.vars["word"]).into_owned();
    let rendered = format!("Say {word}");
    let response = Response {
        output: Some(Json::String(format!("<echo> {word} & more"))),
        token_usage: TokenUsage {
            prompt: 10,
            completion: 5,
            total: 15,
            cached: 0,
            num_requests: 1,
        },
        cost: Some(NanoUsd(2_000)),
        ..Response::default()
    };
    let component = |pass: bool| ComponentResult {
        pass,
        score: if pass { 1.0 } else { 0.0 },
        reason: if pass {
            "Assertion passed".into()
        } else {
            FAIL_REASON.into()
        },
        assertion: Arc::new(json!({"type": "equals", "value": "x"})),
        weight: 1.0,
        metric: Some("accuracy".into()),
        tokens: TokenUsage::default(),
        named_scores: Default::default(),
        named_score_weights: Default::default(),
        component_results: Vec::new(),
    };
    let base = Row {
        step,
        provider,
        prompt,
        prompt_idx,
        rendered_prompt: rendered,
        response: None,
        latency_ms: 40 + step as u64,
        grading: None,
        error: None,
        outcome,
        failure_reason: 0,
        score: 0.0,
        step_data: None,
        vars: None,
    };
    match outcome {
        Outcome::Pass => {
            let grading = aggregate(vec![component(true)], None);
            Row {
                score: grading.score,
                grading: Some(grading),
                response: Some(response),
                ..base
            }
        }
        Outcome::Fail => {
            let grading = aggregate(vec![component(true), component(false)], None);
            Row {
                score: grading.score,
                error: Some(grading.reason.clone()),
                grading: Some(grading),
                response: Some(response),
                failure_reason: 1,
                ..base
            }
        }
        Outcome::Error => Row {
            error: Some(ERROR_TEXT.into()),
            failure_reason: 2,
            ..base
        },
    }
}
