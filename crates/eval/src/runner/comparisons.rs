//! Grading a test's rows against each other (`select-best`, `max-score`) once they are all
//! in, and folding the verdicts into the rows as promptfoo 0.123.1 does
//! (`processComparisonAssertions`, `mergeSelectBestGradingResult`,
//! `mergeMaxScoreGradingResult` and `updateComparisonStats` in `src/evaluator.ts`).
//!
//! The order of the outputs matters (the grader names an index; the first of equal
//! `max-score`s wins), and promptfoo's depends on where it keeps the rows: read back from
//! its database they come failing rows first, then passing ones (its index on evaluation,
//! test and success); with `--no-write` they come in the order they finished. promptops
//! follows both ([`ComparisonOrder`]), ordering each group by `promptIdx` (the order a
//! test's rows finish in when one call runs at a time).

use super::{Outcome, Row};
use crate::assertions::compare::{self, Candidate};
use crate::assertions::{Assertion, ComponentResult, GradingResult};
use crate::graders::GraderTable;
use crate::suite::{AssertItem, MergedTest, Suite, TestStep};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The order a test's outputs are compared in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ComparisonOrder {
    /// Failing rows first, then passing ones, each by `promptIdx` (promptfoo reading its
    /// rows back from its database: its default).
    #[default]
    FailingFirst,
    /// By `promptIdx` (promptfoo with `--no-write`, which keeps rows in memory in the
    /// order they finish).
    Rows,
}

/// Whether the test has a comparison to grade after its rows (`select-best` or
/// `max-score` at the top level of its assertions).
pub(super) fn has_comparisons(test: &MergedTest) -> bool {
    first(test, "select-best").is_some() || first(test, "max-score").is_some()
}

fn first<'a>(test: &'a MergedTest, kind: &str) -> Option<&'a Assertion> {
    test.asserts.iter().find_map(|a| match a {
        AssertItem::One(a) if a.kind == kind && !a.inverse => Some(a),
        _ => None,
    })
}

/// Compares the rows of one test (all of them), `select-best` first, then `max-score`;
/// returns them by `promptIdx`. A comparison that cannot be made (too few outputs, an
/// error row for `max-score`) makes every row of the test an error row with the reason:
/// promptfoo stops the whole run there.
pub(super) async fn compare(
    mut rows: Vec<Row>,
    step: Arc<TestStep>,
    suite: &Suite,
    graders: &GraderTable,
    ordering: ComparisonOrder,
) -> Vec<Row> {
    rows.sort_by_key(|r| r.prompt_idx);
    let test = &step.test;
    if let Some(a) = first(test, "select-best") {
        let order = comparison_order(&rows, ordering);
        let graders = graders.for_assertion(a, &test.options);
        let verdicts = {
            let candidates = candidates(&rows, &order);
            compare::select_best(
                a,
                &candidates,
                &step.vars,
                test.options.get("rubricPrompt"),
                &suite.base_dir,
                &graders,
            )
            .await
        };
        match verdicts {
            Ok(verdicts) => {
                for (i, verdict) in order.into_iter().zip(verdicts) {
                    merge_select_best(&mut rows[i], verdict);
                }
            }
            Err(e) => return errors(rows, &e.0),
        }
    }
    if let Some(a) = first(test, "max-score") {
        let order = comparison_order(&rows, ordering);
        let verdicts = compare::max_score(a, &candidates(&rows, &order));
        match verdicts {
            Ok(verdicts) => {
                for (i, v) in order.into_iter().zip(verdicts) {
                    merge_max_score(&mut rows[i], v.result, v.named);
                }
            }
            Err(e) => return errors(rows, &e.0),
        }
    }
    rows
}

/// Where each compared output is in `rows` (which is by `promptIdx`).
fn comparison_order(rows: &[Row], ordering: ComparisonOrder) -> Vec<usize> {
    match ordering {
        ComparisonOrder::Rows => (0..rows.len()).collect(),
        ComparisonOrder::FailingFirst => {
            let (mut failing, passing): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| !rows[i].success());
            failing.extend(passing);
            failing
        }
    }
}

fn candidates<'a>(rows: &'a [Row], order: &[usize]) -> Vec<Candidate<'a>> {
    order
        .iter()
        .map(|&i| Candidate {
            output: crate::report::describe::output_text(&rows[i]).into_owned(),
            grading: rows[i].grading.as_ref(),
        })
        .collect()
}

fn errors(mut rows: Vec<Row>, reason: &str) -> Vec<Row> {
    for row in &mut rows {
        row.outcome = Outcome::Error;
        row.failure_reason = 2;
        row.score = 0.0;
        row.grading = None;
        row.error = Some(reason.to_owned());
    }
    rows
}

/// A row that passed and now fails takes the comparison's reason as its error.
fn settle(row: &mut Row, was_success: bool, pass: bool, reason: &str) {
    if was_success && !pass {
        row.outcome = Outcome::Fail;
        row.failure_reason = 1;
        row.error = Some(reason.to_owned());
    }
}

fn merge_select_best(row: &mut Row, verdict: ComponentResult) {
    let was_success = row.success();
    let pass = match row.grading.as_mut() {
        Some(g) => {
            g.pass = g.pass && verdict.pass;
            if !verdict.pass {
                g.reason = verdict.reason.clone();
                g.score = verdict.score;
                row.score = verdict.score;
            }
            add_tokens(g, &verdict);
            let pass = g.pass;
            g.component_results.push(verdict.clone());
            pass
        }
        None => {
            // A row without results (an error) gets the verdict as its grading.
            let pass = was_success && verdict.pass;
            if !verdict.pass {
                row.score = verdict.score;
            }
            let mut g = GradingResult::no_assertions();
            g.pass = pass;
            g.score = verdict.score;
            g.reason = verdict.reason.clone();
            g.tokens_used = verdict.tokens;
            g.assertion = Some(verdict.assertion.clone());
            g.bare_comparison = Some(verdict.pass);
            row.grading = Some(g);
            pass
        }
    };
    settle(row, was_success, pass, &verdict.reason);
}

fn merge_max_score(row: &mut Row, verdict: ComponentResult, named: BTreeMap<String, f64>) {
    let was_success = row.success();
    let Some(g) = row.grading.as_mut() else {
        return;
    };
    let previous = g.pass;
    g.pass = previous && verdict.pass;
    if !verdict.pass {
        g.score = verdict.score;
        row.score = verdict.score;
        if previous {
            g.reason = verdict.reason.clone();
        }
    }
    g.comparison_named_scores.extend(named);
    g.assertion = Some(verdict.assertion.clone());
    let pass = g.pass;
    g.component_results.push(verdict.clone());
    settle(row, was_success, pass, &verdict.reason);
}

fn add_tokens(g: &mut GradingResult, verdict: &ComponentResult) {
    let t = &mut g.tokens_used;
    t.prompt += verdict.tokens.prompt;
    t.completion += verdict.tokens.completion;
    t.total += verdict.tokens.total;
    t.cached += verdict.tokens.cached;
    t.num_requests += verdict.tokens.num_requests;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::aggregate;
    use crate::report::Summary;
    use serde_json::json;

    fn row(prompt_idx: usize, outcome: Outcome, grading: Option<GradingResult>) -> Row {
        let error = match (&grading, outcome) {
            (_, Outcome::Error) => Some("API error: 500".to_owned()),
            (Some(g), Outcome::Fail) => Some(g.reason.clone()),
            _ => None,
        };
        Row {
            step: 0,
            provider: 0,
            prompt: prompt_idx,
            prompt_idx,
            rendered_prompt: String::new(),
            response: None,
            latency_ms: 0,
            score: grading.as_ref().map_or(0.0, |g| g.score),
            grading,
            error,
            failure_reason: match outcome {
                Outcome::Pass => 0,
                Outcome::Fail => 1,
                Outcome::Error => 2,
            },
            outcome,
            step_data: None,
            vars: None,
        }
    }

    fn graded(pass: bool) -> GradingResult {
        let a = Assertion::new("contains", Some(json!("x")));
        let reason = if pass {
            "Assertion passed"
        } else {
            "Expected output to contain \"x\""
        };
        aggregate(
            vec![a.verdict(
                pass,
                f64::from(u8::from(pass)),
                reason.into(),
                Default::default(),
            )],
            None,
        )
    }

    fn verdict(pass: bool) -> ComponentResult {
        let reason = if pass {
            "Output selected as the best: c"
        } else {
            "Output not selected: c"
        };
        Assertion::new("select-best", Some(json!("c"))).verdict(
            pass,
            f64::from(u8::from(pass)),
            reason.into(),
            Default::default(),
        )
    }

    #[test]
    fn select_best_verdicts_merge_as_promptfoo_merges_them() {
        // A passing row not selected fails with the comparison's reason.
        let mut r = row(0, Outcome::Pass, Some(graded(true)));
        merge_select_best(&mut r, verdict(false));
        assert_eq!(
            (r.outcome, r.failure_reason, r.score),
            (Outcome::Fail, 1, 0.0)
        );
        assert_eq!(r.error.as_deref(), Some("Output not selected: c"));
        assert_eq!(r.grading.as_ref().unwrap().component_results.len(), 2);
        // A failing row that is selected keeps its error and its grading reason.
        let mut r = row(1, Outcome::Fail, Some(graded(false)));
        merge_select_best(&mut r, verdict(true));
        let g = r.grading.as_ref().unwrap();
        assert_eq!((r.outcome, g.pass), (Outcome::Fail, false));
        assert_eq!(g.reason, "Expected output to contain \"x\"");
        assert_eq!(r.error.as_deref(), Some("Expected output to contain \"x\""));
        // An error row gets the verdict as its grading, and it counts as an assertion.
        let mut r = row(2, Outcome::Error, None);
        merge_select_best(&mut r, verdict(true));
        let g = r.grading.as_ref().unwrap();
        assert_eq!((r.outcome, g.pass, g.score), (Outcome::Error, false, 1.0));
        assert_eq!(g.bare_comparison, Some(true));
        let mut summary = Summary::new(3);
        summary.add(&r);
        assert_eq!(
            (
                summary.per_prompt[2].assert_pass,
                summary.per_prompt[2].assert_fail
            ),
            (1, 0)
        );
    }

    #[test]
    fn max_score_verdicts_merge_into_the_grading_only() {
        let ms = Assertion::new("max-score", None);
        let named = BTreeMap::from([("maxScore".to_owned(), 1.0)]);
        let mut r = row(0, Outcome::Pass, Some(graded(true)));
        merge_max_score(
            &mut r,
            ms.verdict(
                false,
                0.0,
                "Not selected (score: 1.000, max: 1.000)".into(),
                Default::default(),
            ),
            named.clone(),
        );
        let g = r.grading.as_ref().unwrap();
        assert_eq!((r.outcome, r.score, g.score), (Outcome::Fail, 0.0, 0.0));
        assert_eq!(g.reason, "Not selected (score: 1.000, max: 1.000)");
        assert_eq!(g.comparison_named_scores, named);
        assert!(
            g.named_scores.is_empty(),
            "the row's named scores are unchanged"
        );
        assert_eq!(g.assertion.as_deref(), Some(&json!({"type": "max-score"})));
        // A failing row keeps its reason.
        let mut r = row(1, Outcome::Fail, Some(graded(false)));
        merge_max_score(
            &mut r,
            ms.verdict(false, 0.0, "Not selected".into(), Default::default()),
            named,
        );
        assert_eq!(
            r.grading.unwrap().reason,
            "Expected output to contain \"x\""
        );
    }

    #[test]
    fn outputs_are_compared_failing_first_or_in_row_order() {
        let rows = [
            row(0, Outcome::Pass, Some(graded(true))),
            row(1, Outcome::Fail, Some(graded(false))),
            row(2, Outcome::Pass, Some(graded(true))),
            row(3, Outcome::Error, None),
        ];
        assert_eq!(
            comparison_order(&rows, ComparisonOrder::FailingFirst),
            [1, 3, 0, 2]
        );
        assert_eq!(comparison_order(&rows, ComparisonOrder::Rows), [0, 1, 2, 3]);
    }
}
