//! How the reports name and describe a row, so every format words it the same way.

use super::Context;
use crate::provider::Provider;
use crate::runner::{Outcome, Row};
use crate::suite::{PromptTemplate, TestStep};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// `PASS`, `FAIL` or `ERROR`.
pub fn status(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Error => "ERROR",
    }
}

/// What identifies a test to a reader: its description, else its vars, else nothing.
pub fn test_label(step: &TestStep) -> Option<String> {
    if let Some(d) = step.test.description.as_deref().filter(|d| !d.is_empty()) {
        return Some(d.to_owned());
    }
    (!step.vars.is_empty()).then(|| vars_text(&step.vars))
}

/// `test 3: <description or vars>` (promptfoo's JUnit test name, 1-based).
pub fn test_name(step: &TestStep) -> String {
    match test_label(step) {
        Some(label) => format!("test {}: {label}", step.test_idx + 1),
        None => format!("test {}", step.test_idx + 1),
    }
}

/// `topic=sky, n=3`: strings as they are, anything else as JSON.
pub fn vars_text(vars: &Map<String, Json>) -> String {
    vars.iter()
        .map(|(k, v)| format!("{k}={}", value_text(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON value as text: a string as it is, anything else as compact JSON.
pub fn value_text(v: &Json) -> Cow<'_, str> {
    match v {
        Json::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// The provider's answer as text (empty when there is none).
pub fn output_text(row: &Row) -> Cow<'_, str> {
    match row.response.as_ref().and_then(|r| r.output.as_ref()) {
        Some(v) => value_text(v),
        None => Cow::Borrowed(""),
    }
}

/// Why the row did not pass: the error, or the (last) failing assertion's reason.
pub fn reason(row: &Row) -> &str {
    row.error.as_deref().unwrap_or("")
}

/// At most `n` characters, with `…` when cut.
pub fn truncate(s: &str, n: usize) -> Cow<'_, str> {
    match s.char_indices().nth(n) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
    }
}

/// White space runs (new lines included) as one space, trimmed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Passed rows as a percentage of `total` (100 when there are none).
pub fn pass_rate(passed: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        passed as f64 * 100.0 / total as f64
    }
}

/// One prompt × provider column of the run (promptfoo's `promptIdx` order).
pub struct Slot<'a> {
    pub index: usize,
    pub provider: &'a Provider,
    pub prompt: &'a PromptTemplate,
    /// 1-based position of the prompt in the suite.
    pub prompt_number: usize,
}

/// Every prompt × provider pair that runs, provider-major as `promptIdx` numbers them
/// (a provider's `prompts:` filter leaves pairs out).
pub fn slots<'a>(cx: &Context<'a>) -> Vec<Slot<'a>> {
    cx.suite
        .columns
        .iter()
        .enumerate()
        .map(|(index, c)| Slot {
            index,
            provider: &cx.providers[c.provider],
            prompt: &cx.suite.prompts[c.prompt],
            prompt_number: c.prompt + 1,
        })
        .collect()
}

/// The cost of a slot's rows, or `None` when no row has a known price (an unknown
/// price is not a cost of zero).
pub fn slot_cost(cx: &Context, slot: usize) -> Option<crate::pricing::NanoUsd> {
    let p = &cx.summary.per_prompt[slot];
    (p.priced > 0).then_some(p.cost)
}

/// The run's cost, or `None` when no row has a known price.
pub fn total_cost(cx: &Context) -> Option<crate::pricing::NanoUsd> {
    (cx.summary.priced > 0).then_some(cx.summary.cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(one_line("  a\n\tb  c \r\n"), "a b c");
        assert_eq!(pass_rate(0, 0), 100.0);
        assert_eq!(pass_rate(1, 4), 25.0);
    }
}
