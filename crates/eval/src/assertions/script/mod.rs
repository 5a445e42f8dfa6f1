//! Assertions written as code: `javascript` (an embedded QuickJS engine, in process, or
//! `node` for files that need Node.js) and `python` (a `python3` subprocess). Both get
//! the raw `output` and a `context` with the prompt, vars and test, and may return a
//! boolean, a number or a GradingResult (`{pass, score, reason}`, with `namedScores` and
//! `componentResults` kept); their results are read with promptfoo's rules. The same
//! runtimes run transforms and prompt functions.

mod javascript;
mod modules;
mod node;
pub(crate) mod python;

pub use javascript::{
    Input, JsError, call_filter, check_function_file, run_javascript, transform, transform_response,
};
pub(crate) use javascript::{call_file, is_javascript_file};
pub use python::run_python;

use super::{Assertion, ComponentResult};
use crate::js_number;
use crate::provider::TokenUsage;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;

/// promptfoo's `transform` in the runtime its code is written for: a `file://x.py[:fn]`
/// reference calls the Python function (`get_transform` unless named) with `(value,
/// context)`; anything else is JavaScript (inline, or a file's function).
pub async fn run_transform(
    code: &str,
    input: Input,
    value: &Json,
    context: &Json,
    base_dir: &Path,
) -> Result<Json, String> {
    let is_python = code.strip_prefix("file://").is_some_and(|spec| {
        spec.rsplit_once(':')
            .filter(|(file, _)| file.ends_with(".py"))
            .map_or(spec, |(file, _)| file)
            .ends_with(".py")
    });
    if is_python {
        return python::call_with(
            code,
            vec![value.clone(), context.clone()],
            "get_transform",
            base_dir,
        )
        .await;
    }
    javascript::transform_input(code, input, value, context, base_dir)
        .await
        .map_err(|e| e.to_string())
}

/// What a script assertion sees besides the output.
#[derive(Debug, Clone, Default)]
pub struct ScriptContext<'a> {
    pub prompt: &'a str,
    pub vars: Option<&'a Map<String, Json>>,
    /// The test step (reported as promptfoo's `testCase`).
    pub test: Option<&'a crate::suite::TestStep>,
    pub provider_id: &'a str,
    pub provider_label: &'a str,
}

impl ScriptContext<'_> {
    /// The `context` argument, as JSON.
    pub fn to_json(&self, a: &Assertion) -> Json {
        serde_json::json!({
            "prompt": self.prompt,
            "vars": self.vars.cloned().unwrap_or_default(),
            "test": self.test.map_or(Json::Null, crate::suite::TestStep::test_case),
            "config": a.raw.get("config").cloned().unwrap_or(Json::Object(Map::new())),
            "provider": {"id": self.provider_id, "label": self.provider_label},
        })
    }
}

/// A value a script returned, by JavaScript type.
#[derive(Debug, Clone, PartialEq)]
pub enum Returned {
    Bool(bool),
    Number(f64),
    /// A GradingResult: an object with boolean `pass`, number `score` and string `reason`.
    Grading(Box<ScriptGrading>),
}

/// A GradingResult a script returned, with what promptfoo keeps of it besides the
/// verdict: named scores (and their weights), nested results, grader tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScriptGrading {
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    pub named_scores: BTreeMap<String, f64>,
    pub named_score_weights: BTreeMap<String, f64>,
    /// `componentResults`, whose entries without an `assertion` show the script's.
    pub component_results: Vec<ComponentResult>,
    pub tokens: TokenUsage,
    /// An `assertion` object the script returned (reported in place of the configured one).
    pub assertion: Option<Json>,
}

impl Returned {
    /// A GradingResult of just a verdict.
    pub fn grading(pass: bool, score: f64, reason: impl Into<String>) -> Returned {
        Returned::Grading(Box::new(ScriptGrading {
            pass,
            score,
            reason: reason.into(),
            ..ScriptGrading::default()
        }))
    }
}

/// A script's result as an assertion verdict (`label`: `Custom function` or `Python code`,
/// as promptfoo words its reasons; `code` is appended to failure reasons).
pub fn verdict(a: &Assertion, returned: Returned, label: &str, code: &str) -> ComponentResult {
    let failure = |raw_pass: bool| append(format!("{label} returned {raw_pass}"), code);
    let (pass, score, reason) = match returned {
        Returned::Bool(b) => {
            let pass = b != a.inverse;
            (
                pass,
                if pass { 1.0 } else { 0.0 },
                (!pass).then(|| failure(b)),
            )
        }
        Returned::Number(n) => {
            let raw = match a.threshold {
                None => n > 0.0,
                Some(t) => n >= t,
            };
            let pass = raw != a.inverse;
            (pass, n, (!pass).then(|| failure(raw)))
        }
        Returned::Grading(g) => {
            let g = *g;
            let raw = g.pass;
            let pass = raw != a.inverse;
            let reason = if pass == raw {
                g.reason
            } else if pass {
                "Assertion passed".to_owned()
            } else {
                format!("{label} returned {raw}")
            };
            let mut result = a.verdict(pass, g.score, reason, g.tokens);
            if let Some(assertion) = g.assertion {
                result.assertion = std::sync::Arc::new(assertion);
            }
            result.named_scores = g.named_scores;
            result.named_score_weights = g.named_score_weights;
            result.component_results = g.component_results;
            return result;
        }
    };
    let reason = reason.unwrap_or_else(|| "Assertion passed".to_owned());
    a.verdict(pass, score, reason, Default::default())
}

/// `reason`, then `code` on its own line when there is any.
fn append(reason: String, code: &str) -> String {
    if code.is_empty() {
        reason
    } else {
        format!("{reason}\n{code}")
    }
}

/// promptfoo's `isGradingResult`: `pass`, `score` and `reason` of the right types, and
/// the optional keys (`namedScores`, `namedScoreWeights`, `tokensUsed`,
/// `componentResults`, `assertion`, `comment`) of theirs.
fn grading_of(o: &Map<String, Json>) -> Option<Returned> {
    let optional = |key: &str, fits: fn(&Json) -> bool| o.get(key).is_none_or(fits);
    let object_or_null = |v: &Json| v.is_object() || v.is_null();
    let fits = optional("namedScores", object_or_null)
        && optional("namedScoreWeights", object_or_null)
        && optional("tokensUsed", object_or_null)
        && optional("componentResults", Json::is_array)
        && optional("assertion", object_or_null)
        && optional("comment", Json::is_string);
    if !fits {
        return None;
    }
    let mut g = ScriptGrading {
        pass: o.get("pass")?.as_bool()?,
        score: o.get("score")?.as_f64()?,
        reason: o.get("reason")?.as_str()?.to_owned(),
        ..ScriptGrading::default()
    };
    g.named_scores = numbers(o.get("namedScores"));
    g.named_score_weights = numbers(o.get("namedScoreWeights"));
    g.tokens = tokens(o.get("tokensUsed"));
    g.component_results = o
        .get("componentResults")
        .and_then(Json::as_array)
        .map(|items| items.iter().map(nested_result).collect())
        .unwrap_or_default();
    g.assertion = o.get("assertion").filter(|v| v.is_object()).cloned();
    Some(Returned::Grading(Box::new(g)))
}

/// The numeric entries of an object (`namedScores`, `namedScoreWeights`).
fn numbers(value: Option<&Json>) -> BTreeMap<String, f64> {
    value
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// A `tokensUsed` object as token usage.
fn tokens(value: Option<&Json>) -> TokenUsage {
    let count = |key: &str| {
        value
            .and_then(|v| v.get(key))
            .and_then(Json::as_f64)
            .map_or(0, |n| n.max(0.0) as u64)
    };
    TokenUsage {
        total: count("total"),
        prompt: count("prompt"),
        completion: count("completion"),
        cached: count("cached"),
        num_requests: count("numRequests"),
    }
}

/// One entry of a script's `componentResults`, kept as given (a missing `pass` is a
/// failure, as in promptfoo's counts; without an `assertion` it shows its parent's).
fn nested_result(item: &Json) -> ComponentResult {
    let assertion = item
        .get("assertion")
        .filter(|v| v.is_object())
        .cloned()
        .unwrap_or(Json::Null);
    ComponentResult {
        pass: item.get("pass").and_then(Json::as_bool).unwrap_or(false),
        score: item.get("score").and_then(Json::as_f64).unwrap_or(0.0),
        reason: item
            .get("reason")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        metric: assertion
            .get("metric")
            .and_then(Json::as_str)
            .map(str::to_owned),
        assertion: std::sync::Arc::new(assertion),
        weight: 1.0,
        tokens: tokens(item.get("tokensUsed")),
        named_scores: numbers(item.get("namedScores")),
        named_score_weights: numbers(item.get("namedScoreWeights")),
        component_results: item
            .get("componentResults")
            .and_then(Json::as_array)
            .map(|items| items.iter().map(nested_result).collect())
            .unwrap_or_default(),
    }
}

/// Python's (and Ruby's) snake_case keys as promptfoo maps them: `pass_`,
/// `named_scores`, `component_results`, `tokens_used`, also inside component results.
fn snake_to_camel(o: &Map<String, Json>) -> Map<String, Json> {
    let mut o = o.clone();
    for (snake, camel) in [
        ("pass_", "pass"),
        ("named_scores", "namedScores"),
        ("component_results", "componentResults"),
        ("tokens_used", "tokensUsed"),
    ] {
        if !o.contains_key(camel)
            && let Some(v) = o.get(snake).cloned()
        {
            o.insert(camel.to_owned(), v);
        }
    }
    if let Some(Json::Array(items)) = o.get_mut("componentResults") {
        for item in items {
            if let Json::Object(m) = item {
                *m = snake_to_camel(m);
            }
        }
    }
    o
}

/// A failure verdict (a script that threw or returned something unusable).
fn failed(a: &Assertion, reason: String) -> ComponentResult {
    a.verdict(false, 0.0, reason, Default::default())
}

/// `threshold` against a grading object's score (Python's rule), prefixing the reason.
fn apply_score_threshold(a: &Assertion, r: Returned, language: &str) -> Returned {
    match (r, a.threshold) {
        (Returned::Grading(mut g), Some(t)) if g.score < t => {
            let head = format!(
                "{language} score {} is less than threshold {}",
                js_number(g.score),
                js_number(t)
            );
            g.pass = false;
            g.reason = if g.reason.is_empty() {
                head
            } else {
                format!("{head}: {}", g.reason)
            };
            Returned::Grading(g)
        }
        (r, _) => r,
    }
}
