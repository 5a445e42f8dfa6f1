//! Assertions written as code: `javascript` (an embedded QuickJS engine, in process) and
//! `python` (a `python3` subprocess). Both get the raw `output` and a `context` with the
//! prompt, vars and test, and may return a boolean, a number or `{pass, score, reason}`;
//! their results are read with promptfoo's rules.

mod javascript;
pub(crate) mod python;

pub use javascript::{JsError, run_javascript, transform, transform_response};
pub use python::run_python;

use super::{Assertion, ComponentResult};
use crate::js_number;
use serde_json::{Map, Value as Json};

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
    /// An object with boolean `pass`, number `score` and string `reason`.
    Grading {
        pass: bool,
        score: f64,
        reason: String,
    },
}

/// A script's result as an assertion verdict (`label`: `Custom function` or `Python code`,
/// as promptfoo words its reasons; `code` is appended to failure reasons).
pub fn verdict(a: &Assertion, returned: Returned, label: &str, code: &str) -> ComponentResult {
    let failure = |raw_pass: bool| {
        let head = format!("{label} returned {raw_pass}");
        if code.is_empty() {
            head
        } else {
            format!("{head}\n{code}")
        }
    };
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
        Returned::Grading {
            pass: raw,
            score,
            reason,
        } => {
            let pass = raw != a.inverse;
            let reason = if pass == raw {
                reason
            } else if pass {
                "Assertion passed".to_owned()
            } else {
                format!("{label} returned {raw}")
            };
            (pass, score, Some(reason))
        }
    };
    let reason = reason.unwrap_or_else(|| "Assertion passed".to_owned());
    a.verdict(pass, score, reason, Default::default())
}

/// promptfoo's `isGradingResult`: `pass`, `score` and `reason` of the right types.
fn grading_of(o: &Map<String, Json>) -> Option<Returned> {
    Some(Returned::Grading {
        pass: o.get("pass")?.as_bool()?,
        score: o.get("score")?.as_f64()?,
        reason: o.get("reason")?.as_str()?.to_owned(),
    })
}

/// A failure verdict (a script that threw or returned something unusable).
fn failed(a: &Assertion, reason: String) -> ComponentResult {
    a.verdict(false, 0.0, reason, Default::default())
}

/// `threshold` against a grading object's score (Python's rule), prefixing the reason.
fn apply_score_threshold(a: &Assertion, r: Returned, language: &str) -> Returned {
    match (r, a.threshold) {
        (Returned::Grading { score, reason, .. }, Some(t)) if score < t => {
            let head = format!(
                "{language} score {} is less than threshold {}",
                js_number(score),
                js_number(t)
            );
            Returned::Grading {
                pass: false,
                score,
                reason: if reason.is_empty() {
                    head
                } else {
                    format!("{head}: {reason}")
                },
            }
        }
        (r, _) => r,
    }
}
