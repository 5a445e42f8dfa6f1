//! Assertions on a model's output, with promptfoo's semantics (see
//! `docs/research/promptfoo-compat.md` §4–5): the same pass/fail, score, reason text and
//! weighting, so an existing suite gives the same verdicts here.

mod aggregate;
mod deterministic;
mod split;

pub use aggregate::{GradingResult, aggregate};
pub use deterministic::check;
pub use split::split_list;

use serde_json::Value as Json;

/// One assertion as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    /// The type without its `not-` prefix (`contains`).
    pub kind: String,
    /// Whether the type had a `not-` prefix.
    pub inverse: bool,
    pub value: Option<Json>,
    pub threshold: Option<f64>,
    /// Weight in the test's score; 1 unless set. Weight 0 never fails the test.
    pub weight: f64,
    pub metric: Option<String>,
    /// The assertion as written, echoed in reports (`componentResults[].assertion`).
    pub raw: Json,
}

impl Assertion {
    /// An assertion of `type_name` (which may start with `not-`) with a value.
    pub fn new(type_name: &str, value: Option<Json>) -> Assertion {
        let (kind, inverse) = match type_name.strip_prefix("not-") {
            Some(rest) => (rest.to_owned(), true),
            None => (type_name.to_owned(), false),
        };
        let mut raw = serde_json::json!({ "type": type_name });
        if let Some(v) = &value {
            raw["value"] = v.clone();
        }
        Assertion {
            kind,
            inverse,
            value,
            threshold: None,
            weight: 1.0,
            metric: None,
            raw,
        }
    }

    pub fn with_threshold(mut self, threshold: f64) -> Assertion {
        self.threshold = Some(threshold);
        self.raw["threshold"] = crate::number(threshold);
        self
    }

    pub fn with_weight(mut self, weight: f64) -> Assertion {
        self.weight = weight;
        self.raw["weight"] = crate::number(weight);
        self
    }

    pub fn with_metric(mut self, metric: &str) -> Assertion {
        self.metric = Some(metric.to_owned());
        self.raw["metric"] = Json::String(metric.to_owned());
        self
    }
}

/// What a provider call produced, as assertions see it.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    /// The output as text (non-string outputs are JSON-encoded first).
    pub output: &'a str,
    pub latency_ms: Option<u64>,
    pub cost: Option<crate::pricing::NanoUsd>,
    /// The normalised finish reason (`stop`, `length`, `tool_calls`, `content_filter`).
    pub finish_reason: Option<&'a str>,
}

/// One assertion's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentResult {
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    pub assertion: Json,
    pub weight: f64,
    pub metric: Option<String>,
}

/// An assertion that cannot be evaluated (a missing threshold, a value of the wrong
/// kind). promptfoo turns these into an error row, not a failed assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssertionError(pub String);
