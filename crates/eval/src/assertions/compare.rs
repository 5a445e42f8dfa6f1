//! Assertions that compare the outputs of one test across its prompts × providers, as
//! promptfoo 0.123.1 grades them once every row of the test is in (`matchesSelectBest`
//! and `selectMaxScore` in `src/matchers/comparison.ts`):
//!
//! * `select-best`: the grader model is shown every output and the criterion (the
//!   value) and answers with the index of the best; that output passes (score 1), the
//!   others fail (`Output not selected: <criterion>`). A grader error, no answer or an
//!   index out of range fails them all.
//! * `max-score`: each output's score is the mean (or, with `method: sum`, the sum) of
//!   its other assertions' scores, weighted per assertion type by `weights`; the first
//!   highest passes when it reaches `threshold` (if any), the others fail.
//!
//! The grading prompt for `select-best` is our own (a custom `rubricPrompt` replaces it,
//! rendered with the vars, `criteria` and `outputs`); how its answer is read follows
//! promptfoo. Merging the verdicts into the rows is the runner's job.

use super::model_graded::{Graders, ask_text, render_custom_prompt, text_grader};
use super::{Assertion, AssertionError, ComponentResult, GradingResult};
use crate::js_number;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// Whether a type compares a test's rows instead of grading one (promptfoo skips every
/// `select-*` type and `max-score` when grading a row).
pub fn is_comparison(kind: &str) -> bool {
    kind.starts_with("select-") || kind == "max-score"
}

/// One output being compared, with its row's grading so far (`None`: an error row).
pub struct Candidate<'a> {
    pub output: String,
    pub grading: Option<&'a GradingResult>,
}

const SELECT_BEST_INSTRUCTIONS: &str = "You are shown several outputs of an AI system, numbered from 0, \
and a criterion. Decide which single output satisfies the criterion best. \
Answer with that output's number only: no words, no punctuation.";

/// `select-best`: one verdict per candidate, in order.
pub async fn select_best(
    a: &Assertion,
    candidates: &[Candidate<'_>],
    vars: &Map<String, Json>,
    rubric_prompt: Option<&Json>,
    base_dir: &std::path::Path,
    graders: &Graders,
) -> Result<Vec<ComponentResult>, AssertionError> {
    let Some(Json::String(criteria)) = &a.value else {
        return Err(AssertionError(
            "select-best must have a string value".into(),
        ));
    };
    if candidates.len() < 2 {
        return Err(AssertionError(
            "select-best assertion must have at least two outputs to compare between".into(),
        ));
    }
    let grader = text_grader(a, graders)?;
    let custom = a.raw.get("rubricPrompt").or(rubric_prompt);
    let prompt = match custom {
        Some(custom) => {
            let mut scope = vars.clone();
            scope.insert("criteria".into(), Json::String(criteria.clone()));
            let outputs = candidates
                .iter()
                .map(|c| serde_json::from_str(&c.output).unwrap_or(Json::String(c.output.clone())))
                .collect();
            scope.insert("outputs".into(), Json::Array(outputs));
            render_custom_prompt(custom, &scope, base_dir)?
        }
        None => {
            let mut text = format!("{SELECT_BEST_INSTRUCTIONS}\n\nCriterion: {criteria}\n");
            for (i, c) in candidates.iter().enumerate() {
                text.push_str(&format!(
                    "\n<output number=\"{i}\">\n{}\n</output>\n",
                    c.output
                ));
            }
            json!([{"role": "system", "content": text}]).to_string()
        }
    };
    let (answer, tokens) = ask_text(grader, &prompt).await;
    let all_fail = |reason: String| {
        candidates
            .iter()
            .map(|_| a.verdict(false, 0.0, reason.clone(), tokens))
            .collect()
    };
    let answer = match answer {
        Ok(text) => text,
        Err(e) => return Ok(all_fail(e)),
    };
    // The first run of digits is the index, as promptfoo reads it.
    let digits: String = answer
        .trim()
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let verdict = digits.parse::<f64>().ok();
    let index = verdict
        .filter(|v| *v < candidates.len() as f64)
        .map(|v| v as usize);
    let Some(index) = index else {
        let shown = verdict.map_or("NaN".to_owned(), js_number);
        return Ok(all_fail(format!("Invalid select-best verdict: {shown}")));
    };
    Ok((0..candidates.len())
        .map(|i| {
            if i == index {
                a.verdict(
                    true,
                    1.0,
                    format!("Output selected as the best: {criteria}"),
                    tokens,
                )
            } else {
                a.verdict(
                    false,
                    0.0,
                    format!("Output not selected: {criteria}"),
                    tokens,
                )
            }
        })
        .collect())
}

/// `max-score`'s value, checked: `{method, weights, threshold}`, all optional.
pub fn check_max_score_value(value: Option<&Json>) -> Result<(), String> {
    match value {
        None | Some(Json::Null) => Ok(()),
        Some(Json::Object(o)) => {
            match o.get("method") {
                None | Some(Json::Null) => {}
                Some(Json::String(m)) if m == "average" || m == "sum" => {}
                Some(other) => {
                    return Err(format!(
                        "max-score `method` is `average` (the default) or `sum`, not {other}"
                    ));
                }
            }
            if let Some(w) = o.get("weights")
                && !w.is_object()
            {
                return Err(
                    "max-score `weights` maps assertion types to weights, e.g. `{contains: 2}`"
                        .into(),
                );
            }
            Ok(())
        }
        Some(other) => Err(format!(
            "max-score's value is `{{method, weights, threshold}}` (all optional), not {other}"
        )),
    }
}

/// One candidate's `max-score` verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxScoreVerdict {
    pub result: ComponentResult,
    /// What it adds to the row's `gradingResult.namedScores`: `maxScore`,
    /// `assertionCount`, `totalWeight`.
    pub named: BTreeMap<String, f64>,
}

/// `max-score`: one verdict per candidate, in order.
pub fn max_score(
    a: &Assertion,
    candidates: &[Candidate<'_>],
) -> Result<Vec<MaxScoreVerdict>, AssertionError> {
    if candidates.len() < 2 {
        return Err(AssertionError(
            "max-score assertion must have at least two outputs to compare between".into(),
        ));
    }
    let options = a.value.as_ref().and_then(Json::as_object);
    let sum = options.and_then(|o| o.get("method")).and_then(Json::as_str) == Some("sum");
    let weights = options
        .and_then(|o| o.get("weights"))
        .and_then(Json::as_object);
    let threshold = options
        .and_then(|o| o.get("threshold"))
        .and_then(Json::as_f64);
    let mut scores = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter().enumerate() {
        let relevant: Vec<&ComponentResult> = c
            .grading
            .map(|g| {
                g.component_results
                    .iter()
                    .filter(|r| {
                        // Components that are an `assert-set`'s own summary have no
                        // assertion in promptfoo's results; its children count.
                        r.assertion
                            .get("type")
                            .and_then(Json::as_str)
                            .is_some_and(|t| !is_comparison(t) && t != "assert-set")
                    })
                    .collect()
            })
            .unwrap_or_default();
        if relevant.is_empty() {
            return Err(AssertionError(match c.grading {
                Some(_) => "max-score requires at least one other assertion (besides max-score or select-best) to aggregate scores from".into(),
                None => format!(
                    "max-score cannot compare the outputs: output {i} has no assertion results (its row is an error)"
                ),
            }));
        }
        let mut total = 0.0;
        let mut total_weight = 0.0;
        for r in &relevant {
            let kind = r
                .assertion
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or("unknown");
            let weight = weights
                .and_then(|w| w.get(kind))
                .map_or(1.0, |w| w.as_f64().unwrap_or(f64::NAN));
            let score = if r.score.is_nan() { 0.0 } else { r.score };
            total += score * weight;
            total_weight += weight;
        }
        let score = if sum {
            total
        } else if total_weight > 0.0 {
            total / total_weight
        } else {
            0.0
        };
        scores.push((score, relevant.len(), total_weight));
    }
    let mut max = f64::NEG_INFINITY;
    let mut winner = 0;
    for (i, (score, _, _)) in scores.iter().enumerate() {
        if *score > max {
            max = *score;
            winner = i;
        }
    }
    let meets = threshold.is_none_or(|t| max >= t);
    Ok(scores
        .iter()
        .enumerate()
        .map(|(i, (score, count, total_weight))| {
            let selected = i == winner && meets;
            let reason = if selected {
                format!("Selected as highest scoring output (score: {score:.3})")
            } else if *score == max && !meets {
                format!(
                    "Not selected - score {score:.3} below threshold {}",
                    threshold.map_or("undefined".to_owned(), js_number)
                )
            } else {
                format!("Not selected (score: {score:.3}, max: {max:.3})")
            };
            let named = BTreeMap::from([
                ("maxScore".to_owned(), *score),
                ("assertionCount".to_owned(), *count as f64),
                ("totalWeight".to_owned(), *total_weight),
            ]);
            MaxScoreVerdict {
                result: a.verdict(
                    selected,
                    if selected { 1.0 } else { 0.0 },
                    reason,
                    Default::default(),
                ),
                named,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::aggregate;

    fn graded(scores: &[(&str, f64)]) -> GradingResult {
        aggregate(
            scores
                .iter()
                .map(|(kind, s)| {
                    Assertion::new(kind, None).verdict(
                        *s > 0.5,
                        *s,
                        String::new(),
                        Default::default(),
                    )
                })
                .collect(),
            None,
        )
    }

    #[test]
    fn max_score_picks_the_first_highest_by_weighted_mean_or_sum() {
        let a = graded(&[("contains", 0.0), ("equals", 1.0)]);
        let b = graded(&[("contains", 1.0), ("equals", 0.0)]);
        let c = graded(&[("contains", 0.0), ("equals", 0.0)]);
        fn cands<'a>(gs: [&'a GradingResult; 3]) -> Vec<Candidate<'a>> {
            gs.into_iter()
                .map(|g| Candidate {
                    output: String::new(),
                    grading: Some(g),
                })
                .collect()
        }
        let ms = Assertion::new("max-score", None);
        let got = max_score(&ms, &cands([&a, &b, &c])).unwrap();
        let reasons: Vec<&str> = got.iter().map(|v| v.result.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Selected as highest scoring output (score: 0.500)",
                "Not selected (score: 0.500, max: 0.500)",
                "Not selected (score: 0.000, max: 0.500)"
            ]
        );
        assert_eq!(got[0].named["assertionCount"], 2.0);
        // Weights per type move the winner; a threshold can leave everyone out.
        let weighted = Assertion::new(
            "max-score",
            Some(json!({"method": "sum", "weights": {"contains": 3}, "threshold": 5})),
        );
        let got = max_score(&weighted, &cands([&a, &b, &c])).unwrap();
        assert!(got.iter().all(|v| !v.result.pass));
        assert_eq!(
            got[1].result.reason,
            "Not selected - score 3.000 below threshold 5"
        );
        assert_eq!(got[1].named["totalWeight"], 4.0);
    }

    #[test]
    fn max_score_needs_other_assertions_and_two_outputs() {
        let only = graded(&[("max-score", 1.0)]);
        let one = [Candidate {
            output: String::new(),
            grading: Some(&only),
        }];
        let ms = Assertion::new("max-score", None);
        assert!(max_score(&ms, &one).is_err());
        let two = [
            Candidate {
                output: String::new(),
                grading: Some(&only),
            },
            Candidate {
                output: String::new(),
                grading: None,
            },
        ];
        let e = max_score(&ms, &two).unwrap_err();
        assert!(
            e.0.starts_with("max-score requires at least one other assertion"),
            "{e}"
        );
        assert!(check_max_score_value(Some(&json!("sum"))).is_err());
        assert!(check_max_score_value(Some(&json!({"method": "median"}))).is_err());
        assert!(check_max_score_value(Some(&json!({"method": "sum", "weights": {}}))).is_ok());
    }
}
