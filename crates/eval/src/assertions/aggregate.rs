//! A test's verdict from its assertions' results, as promptfoo computes it:
//! weighted mean score; pass when nothing failed (weight-0 assertions never fail);
//! a test `threshold` replaces that with `score >= threshold`; the reason is the
//! **last** failing assertion's; named metrics are weighted means too, fed by each
//! result's `metric` and by the named scores a result carries (a script's, a set's);
//! nested results (a set's children, a script's `componentResults`) are listed after
//! their parent, one level flattened.

use super::ComponentResult;
use crate::js_number;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradingResult {
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    /// In config order, each result followed by the results nested in it; empty when
    /// the test has no assertions.
    pub component_results: Vec<ComponentResult>,
    pub named_scores: BTreeMap<String, f64>,
    /// The total weight behind each named score (promptfoo's `namedScoreWeights`).
    #[serde(default)]
    pub named_score_weights: BTreeMap<String, f64>,
    /// Tokens grader models used, over all the assertions.
    pub tokens_used: crate::provider::TokenUsage,
    /// The comparison assertion that decided last (`max-score`, or a `select-best` that
    /// graded a row without other results), reported as `gradingResult.assertion`.
    #[serde(default)]
    pub assertion: Option<std::sync::Arc<serde_json::Value>>,
    /// Scores a comparison adds to `gradingResult.namedScores` only (`max-score`'s
    /// `maxScore`, `assertionCount`, `totalWeight`): not the row's `namedScores`.
    #[serde(default)]
    pub comparison_named_scores: BTreeMap<String, f64>,
    /// `Some(pass)` when this is a `select-best` verdict standing alone (the row had no
    /// grading: an error row): it counts as one assertion, as promptfoo counts it.
    #[serde(default)]
    pub bare_comparison: Option<bool>,
}

impl GradingResult {
    /// The verdict of a test without assertions.
    pub fn no_assertions() -> GradingResult {
        GradingResult {
            pass: true,
            score: 1.0,
            reason: "No assertions".into(),
            component_results: Vec::new(),
            named_scores: BTreeMap::new(),
            named_score_weights: BTreeMap::new(),
            tokens_used: Default::default(),
            assertion: None,
            comparison_named_scores: BTreeMap::new(),
            bare_comparison: None,
        }
    }
}

/// Combines the results of a test's assertions (in config order). No results (every
/// assertion is a comparison, graded later, or an empty `assert-set`) is a pass with
/// score 0, as in promptfoo; a test with no assertions at all is
/// [`GradingResult::no_assertions`] instead.
pub fn aggregate(mut results: Vec<ComponentResult>, threshold: Option<f64>) -> GradingResult {
    let mut total_score = 0.0;
    let mut total_weight = 0.0;
    let mut failed_reason: Option<String> = None;
    let mut named: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut tokens_used = crate::provider::TokenUsage::default();
    for r in &mut results {
        tokens_used.prompt += r.tokens.prompt;
        tokens_used.completion += r.tokens.completion;
        tokens_used.total += r.tokens.total;
        tokens_used.num_requests += r.tokens.num_requests;
        if r.weight == 0.0 {
            r.pass = true;
        }
        total_score += r.score * r.weight;
        total_weight += r.weight;
        if !r.pass {
            failed_reason = Some(r.reason.clone());
        }
        if let Some(metric) = &r.metric {
            let entry = named.entry(metric.clone()).or_default();
            entry.0 += r.score * r.weight;
            entry.1 += r.weight;
        }
        // Named scores the result brings (a script's, a set's children's) count with
        // their own weights times the result's, except the result's own metric.
        for (name, score) in &r.named_scores {
            if Some(name) == r.metric.as_ref() {
                continue;
            }
            let weight = r.named_score_weights.get(name).copied().unwrap_or(1.0) * r.weight;
            let entry = named.entry(name.clone()).or_default();
            entry.0 += score * weight;
            entry.1 += weight;
        }
    }
    let score = if total_weight > 0.0 {
        total_score / total_weight
    } else {
        0.0
    };
    let (pass, reason) = match threshold {
        Some(t) => {
            let pass = score >= t;
            let sign = if pass { "≥" } else { "<" };
            (
                pass,
                format!(
                    "Aggregate score {score:.2} {sign} {} threshold",
                    js_number(t)
                ),
            )
        }
        None => match failed_reason {
            Some(reason) => (false, reason),
            None => (true, "All assertions passed".into()),
        },
    };
    let named_scores = named
        .iter()
        .map(|(k, (s, w))| (k.clone(), if *w > 0.0 { s / w } else { 0.0 }))
        .collect();
    let named_score_weights = named.into_iter().map(|(k, (_, w))| (k, w)).collect();
    GradingResult {
        pass,
        score,
        reason,
        component_results: flatten(results),
        named_scores,
        named_score_weights,
        tokens_used,
        assertion: None,
        comparison_named_scores: BTreeMap::new(),
        bare_comparison: None,
    }
}

/// Each result followed by the results nested in it (which keep them too), one level
/// deep; a nested result without an assertion of its own shows its parent's.
fn flatten(results: Vec<ComponentResult>) -> Vec<ComponentResult> {
    if results.iter().all(|r| r.component_results.is_empty()) {
        return results;
    }
    let mut flat = Vec::with_capacity(results.len());
    for r in results {
        let children: Vec<ComponentResult> = r
            .component_results
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if c.assertion.is_null() {
                    c.assertion = r.assertion.clone();
                }
                c
            })
            .collect();
        flat.push(r);
        flat.extend(children);
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    fn r(pass: bool, weight: f64, reason: &str) -> ComponentResult {
        ComponentResult {
            pass,
            score: if pass { 1.0 } else { 0.0 },
            reason: reason.into(),
            assertion: std::sync::Arc::new(json!({})),
            weight,
            metric: None,
            tokens: Default::default(),
            named_scores: Default::default(),
            named_score_weights: Default::default(),
            component_results: Vec::new(),
        }
    }

    #[test]
    fn all_pass_and_no_assertions() {
        let g = aggregate(vec![r(true, 1.0, "ok"), r(true, 1.0, "ok")], None);
        assert_eq!(
            (g.pass, g.score, g.reason.as_str()),
            (true, 1.0, "All assertions passed")
        );
        let g = GradingResult::no_assertions();
        assert_eq!(
            (g.pass, g.score, g.reason.as_str()),
            (true, 1.0, "No assertions")
        );
        // Assertions that all left the list (comparisons, an empty set) are not "none".
        let g = aggregate(vec![], None);
        assert_eq!(
            (g.pass, g.score, g.reason.as_str()),
            (true, 0.0, "All assertions passed")
        );
        let g = aggregate(vec![], Some(0.5));
        assert_eq!(
            (g.pass, g.reason.as_str()),
            (false, "Aggregate score 0.00 < 0.5 threshold")
        );
    }

    #[test]
    fn weighted_score_and_last_failing_reason() {
        let g = aggregate(
            vec![
                r(false, 1.0, "first"),
                r(true, 2.0, "ok"),
                r(false, 1.0, "last"),
            ],
            None,
        );
        assert!(!g.pass);
        assert_eq!(g.score, 0.5);
        assert_eq!(g.reason, "last");
    }

    #[test]
    fn weight_zero_never_fails() {
        let g = aggregate(vec![r(false, 0.0, "ignored"), r(true, 1.0, "ok")], None);
        assert!(g.pass && g.component_results[0].pass);
        assert_eq!(g.score, 1.0);
        let g = aggregate(vec![r(false, 0.0, "ignored")], None);
        assert_eq!((g.pass, g.score), (true, 0.0));
    }

    #[test]
    fn threshold_replaces_all_must_pass() {
        let g = aggregate(vec![r(false, 1.0, "x"), r(true, 3.0, "ok")], Some(0.7));
        assert_eq!(
            (g.pass, g.reason.as_str()),
            (true, "Aggregate score 0.75 ≥ 0.7 threshold")
        );
        let g = aggregate(vec![r(true, 1.0, "ok"), r(true, 1.0, "ok")], Some(1.5));
        assert_eq!(
            (g.pass, g.reason.as_str()),
            (false, "Aggregate score 1.00 < 1.5 threshold")
        );
    }

    #[test]
    fn named_scores_are_weighted_means() {
        let mut a = r(true, 3.0, "ok");
        a.metric = Some("accuracy".into());
        let mut b = r(false, 1.0, "no");
        b.metric = Some("accuracy".into());
        let g = aggregate(vec![a, b], None);
        assert_eq!(g.named_scores["accuracy"], 0.75);
    }

    #[test]
    fn named_scores_a_result_carries_are_merged_with_their_weights() {
        // A script's GradingResult: {namedScores: {tone: 0.5, length: 1}, namedScoreWeights: {tone: 2}}.
        let mut script = r(true, 2.0, "ok");
        script.metric = Some("length".into());
        script.named_scores = [("tone".to_owned(), 0.5), ("length".to_owned(), 0.0)].into();
        script.named_score_weights = [("tone".to_owned(), 2.0)].into();
        let mut other = r(true, 1.0, "ok");
        other.metric = Some("tone".into());
        let g = aggregate(vec![script, other], None);
        // tone: (0.5 * 2*2 + 1 * 1) / (4 + 1); length: the result's own metric only.
        assert_eq!(g.named_scores["tone"], 0.6);
        assert_eq!(g.named_score_weights["tone"], 5.0);
        assert_eq!(g.named_scores["length"], 1.0);
        assert_eq!(g.named_score_weights["length"], 2.0);
    }

    #[test]
    fn nested_results_are_flattened_one_level_after_their_parent() {
        let mut grandchild = r(false, 1.0, "deep");
        grandchild.assertion = std::sync::Arc::new(json!({"type": "own"}));
        let mut child = r(false, 1.0, "child");
        child.assertion = std::sync::Arc::new(Json::Null);
        child.component_results = vec![grandchild];
        let mut parent = r(true, 1.0, "parent");
        parent.assertion = std::sync::Arc::new(json!({"type": "javascript"}));
        parent.component_results = vec![child, r(true, 1.0, "second")];
        let g = aggregate(vec![r(true, 1.0, "first"), parent], None);
        let reasons: Vec<&str> = g
            .component_results
            .iter()
            .map(|c| c.reason.as_str())
            .collect();
        assert_eq!(reasons, ["first", "parent", "child", "second"]);
        // A nested result shows its parent's assertion; it keeps its own children.
        assert_eq!(g.component_results[2].assertion["type"], "javascript");
        assert_eq!(g.component_results[2].component_results.len(), 1);
        // Only the top-level results score.
        assert!(g.pass && g.score == 1.0);
    }
}
