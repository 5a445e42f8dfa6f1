//! `g-eval`: the grader first turns each criterion into a few evaluation steps, then
//! scores the output against the criterion and its steps from 0 to 10; the score is
//! divided by 10 and must reach the threshold (default 0.7). Several criteria are
//! averaged. promptfoo 0.123.1: `src/assertions/geval.ts`, `matchesGEval` in
//! `src/matchers/llmGrading.ts`. The two prompts are our own; their answers are read as
//! promptfoo reads them.

use super::model_graded::{Graded, add, call_grader, render_custom_prompt};
use super::{Assertion, AssertionError, ComponentResult};
use crate::provider::{Provider, TokenUsage};
use serde_json::{Map, Value as Json, json};
use std::sync::LazyLock;

const MAX_SCORE: f64 = 10.0;

const STEPS_INSTRUCTIONS: &str = "You will be given a criterion for judging a text. Write 3 or 4 \
short evaluation steps, each applicable to any text, that together decide whether the text \
meets the criterion.\n\nReply with one line of minified JSON and nothing else, of the form \
{\"steps\":[\"<first step>\",\"<second step>\",\"<third step>\"]} (no code fences, no comments).";

const SCORE_INSTRUCTIONS: &str = "You will be given a prompt, the reply an AI system gave to it, \
a criterion and the steps for judging the criterion. Follow the steps and rate how well the \
reply meets the criterion with a whole number from 0 (not at all) to {max} (fully and \
clearly).\n\nReply with one line of minified JSON and nothing else, of the form \
{\"score\":<0 to {max}>,\"reason\":\"<a short reason that cites the prompt and the reply \
but not the score>\"} (no code fences, no comments).";

/// `\{"steps".+\}` and `\{.+\}`: promptfoo takes the first match, on a single line.
static STEPS_JSON: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r#"\{"steps"[^\n\r\u2028\u2029]+\}"#).expect("a valid pattern")
});
static ANY_JSON: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\{[^\n\r\u2028\u2029]+\}").expect("a valid pattern"));

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    grader: &Provider,
) -> Result<ComponentResult, AssertionError> {
    let criteria: Vec<String> = match &a.value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) if items.iter().all(Json::is_string) => items
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect(),
        _ => {
            return Err(AssertionError(
                "G-Eval assertion type must have a string or array of strings value".into(),
            ));
        }
    };
    let threshold = a.threshold.unwrap_or(0.7);
    let several = matches!(a.value, Some(Json::Array(_)));
    if criteria.is_empty() {
        return Ok(a.verdict(
            false,
            0.0,
            "G-Eval assertion requires at least one criterion string in the value array.".into(),
            TokenUsage::default(),
        ));
    }
    if g.prompt.is_empty() {
        return Err(AssertionError("No source text to estimate reply".into()));
    }
    let custom = a.raw.get("rubricPrompt").or(g.rubric_prompt);
    let mut tokens = TokenUsage::default();
    let mut scored = Vec::with_capacity(criteria.len());
    for (i, criterion) in criteria.iter().enumerate() {
        match grade_one(criterion, g, grader, custom, &mut tokens).await? {
            Ok(result) => scored.push(result),
            // A grader failure fails the assertion, never inverted.
            Err(reason) => {
                let reason = if several {
                    format!(
                        "G-Eval criterion {}/{} ({}) failed: {reason}",
                        i + 1,
                        criteria.len(),
                        Json::String(criterion.clone())
                    )
                } else {
                    reason
                };
                return Ok(a.verdict(false, 0.0, reason, tokens));
            }
        }
    }
    let score = scored.iter().map(|(s, _)| s).sum::<f64>() / scored.len() as f64;
    let reason = scored
        .iter()
        .map(|(_, r)| r.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    let pass = (score >= threshold) != a.inverse;
    let score = if a.inverse { 1.0 - score } else { score };
    Ok(a.verdict(pass, score, reason, tokens))
}

/// One criterion's normalised score and reason; `Ok(Err(reason))` is a grader failure.
async fn grade_one(
    criterion: &str,
    g: &Graded<'_>,
    grader: &Provider,
    custom: Option<&Json>,
    tokens: &mut TokenUsage,
) -> Result<Result<(f64, String), String>, AssertionError> {
    let id = &grader.spec.id;
    // A custom `rubricPrompt: {steps: ..., evaluate: ...}` replaces either prompt.
    let custom_part = |key: &str| custom.and_then(Json::as_object).and_then(|o| o.get(key));

    let steps_prompt = match custom_part("steps") {
        Some(c) => render_custom_prompt(c, &vars(&[("criteria", criterion)]), g.base_dir)?,
        None => json!([
            {"role": "system", "content": STEPS_INSTRUCTIONS},
            {"role": "user", "content": format!("<Criterion>\n{criterion}\n</Criterion>")},
        ])
        .to_string(),
    };
    let (answer, t) = call_grader(grader, &steps_prompt).await;
    add(tokens, t);
    let answer = match answer {
        Err(e) => return Ok(Err(e)),
        Ok(None) => {
            return Ok(Err(format!(
                "G-Eval step-generation call to {id} returned no output"
            )));
        }
        Ok(Some(a)) => a,
    };
    let steps = match parse_steps(&answer) {
        Ok(steps) => steps,
        Err(e) => return Ok(Err(e)),
    };

    let steps_text = steps.join("\n- ");
    let max = crate::js_number(MAX_SCORE);
    let eval_prompt = match custom_part("evaluate") {
        Some(c) => render_custom_prompt(
            c,
            &vars(&[
                ("criteria", criterion),
                ("steps", &steps_text),
                ("maxScore", &max),
                ("input", g.prompt),
                ("output", g.output),
            ]),
            g.base_dir,
        )?,
        None => json!([
            {"role": "system", "content": SCORE_INSTRUCTIONS.replace("{max}", &max)},
            {"role": "user", "content": format!(
                "<Criterion>\n{criterion}\n</Criterion>\n<Steps>\n- {steps_text}\n</Steps>\n<Prompt>\n{}\n</Prompt>\n<Reply>\n{}\n</Reply>",
                g.prompt, g.output
            )},
        ])
        .to_string(),
    };
    let (answer, t) = call_grader(grader, &eval_prompt).await;
    add(tokens, t);
    let answer = match answer {
        Err(e) => return Ok(Err(e)),
        Ok(None) => {
            return Ok(Err(format!(
                "G-Eval evaluation call to {id} returned no output"
            )));
        }
        Ok(Some(a)) => a,
    };
    Ok(parse_score(&answer))
}

fn vars(pairs: &[(&str, &str)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Json::String((*v).to_owned())))
        .collect()
}

/// The steps from the first `{"steps"...}` on one line.
fn parse_steps(answer: &str) -> Result<Vec<String>, String> {
    let Some(found) = STEPS_JSON.find(answer) else {
        return Err(format!(
            "LLM-proposed evaluation steps are not in JSON format: {answer}"
        ));
    };
    let parsed: Json = serde_json::from_str(found.as_str()).map_err(|e| {
        format!("LLM-proposed evaluation steps are not in JSON format: {e}\n\n{answer}")
    })?;
    let Some(Json::Array(items)) = parsed.get("steps") else {
        return Err(format!(
            "G-Eval steps response has invalid or missing steps: {}",
            js_json(parsed.get("steps"))
        ));
    };
    if items.is_empty() {
        return Err("LLM does not propose any evaluation step".into());
    }
    if !items
        .iter()
        .all(|s| s.as_str().is_some_and(|s| !s.trim().is_empty()))
    {
        return Err(format!(
            "G-Eval steps response contains invalid steps: {}",
            Json::Array(items.clone())
        ));
    }
    Ok(items
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect())
}

/// The normalised score and the reason from the first `{...}` on one line.
fn parse_score(answer: &str) -> Result<(f64, String), String> {
    let Some(found) = ANY_JSON.find(answer) else {
        return Err(format!(
            "LLM-proposed evaluation result is not in JSON format: {answer}"
        ));
    };
    let result: Json = serde_json::from_str(found.as_str()).map_err(|e| {
        format!("LLM-proposed evaluation result is not in JSON format: {e}\n\n{answer}")
    })?;
    let raw_score = result.get("score");
    let score = match raw_score {
        Some(Json::Number(n)) => n.as_f64(),
        // JavaScript's `Number(text)` for the decimal forms a grader writes.
        Some(Json::String(s)) if !s.trim().is_empty() => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite());
    let Some(score) = score else {
        return Err(format!(
            "G-Eval result has invalid or missing score: {}",
            js_json(raw_score)
        ));
    };
    if !(0.0..=MAX_SCORE).contains(&score) {
        return Err(format!(
            "G-Eval result score {} is outside the expected 0-{} range",
            crate::js_number(score),
            crate::js_number(MAX_SCORE)
        ));
    }
    let reason = match result.get("reason") {
        Some(Json::String(r)) if !r.trim().is_empty() => r.clone(),
        other => {
            return Err(format!(
                "G-Eval result has invalid or missing reason: {}",
                js_json(other)
            ));
        }
    };
    Ok((score / MAX_SCORE, reason))
}

/// `JSON.stringify` of a value that may be missing, as a message prints it.
fn js_json(value: Option<&Json>) -> String {
    value.map_or_else(|| "undefined".to_owned(), Json::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_answers() {
        assert_eq!(
            parse_steps("Sure:\n{\"steps\": [\"a\", \"b\"]}\nDone").unwrap(),
            ["a", "b"]
        );
        // promptfoo's pattern wants `{"steps"` with no space, on one line.
        assert!(parse_steps("{ \"steps\": [\"a\"] }").is_err());
        assert!(parse_steps("{\"steps\":\n[\"a\"]}").is_err());
        assert_eq!(
            parse_steps("{\"steps\": []}").unwrap_err(),
            "LLM does not propose any evaluation step"
        );
        assert_eq!(
            parse_steps("{\"steps\": \"a\"}").unwrap_err(),
            "G-Eval steps response has invalid or missing steps: \"a\""
        );
        assert_eq!(
            parse_steps("{\"steps\": [\"a\", \" \"]}").unwrap_err(),
            "G-Eval steps response contains invalid steps: [\"a\",\" \"]"
        );
        assert!(
            parse_steps("{\"steps\": [oops]}")
                .unwrap_err()
                .starts_with("LLM-proposed evaluation steps are not in JSON format: ")
        );
    }

    #[test]
    fn score_answers() {
        assert_eq!(
            parse_score("{\"score\": 7, \"reason\": \"ok\"}").unwrap(),
            (0.7, "ok".into())
        );
        assert_eq!(
            parse_score("{\"score\": \"10\", \"reason\": \"ok\"}").unwrap(),
            (1.0, "ok".into())
        );
        assert_eq!(
            parse_score("{\"score\": 11, \"reason\": \"x\"}").unwrap_err(),
            "G-Eval result score 11 is outside the expected 0-10 range"
        );
        assert_eq!(
            parse_score("{\"score\": null, \"reason\": \"x\"}").unwrap_err(),
            "G-Eval result has invalid or missing score: null"
        );
        assert_eq!(
            parse_score("{\"reason\": \"x\"}").unwrap_err(),
            "G-Eval result has invalid or missing score: undefined"
        );
        assert_eq!(
            parse_score("{\"score\": 3, \"reason\": \"\"}").unwrap_err(),
            "G-Eval result has invalid or missing reason: \"\""
        );
        assert_eq!(
            parse_score("no json").unwrap_err(),
            "LLM-proposed evaluation result is not in JSON format: no json"
        );
    }
}
