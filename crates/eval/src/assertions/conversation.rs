//! `conversation-relevance`: is each assistant turn relevant to the conversation so far?
//! The turns are the `_conversation` var (`[{input, output}, ...]`), or else the prompt
//! and the output as one turn. A sliding window (`config.windowSize`, default 5) ending
//! at each turn is judged `yes`/`no`; the score is the share of relevant windows, which
//! must reach the threshold (default 0.5). promptfoo 0.123.1:
//! `src/external/assertions/deepeval.ts`, `src/external/matchers/deepeval.ts`. Our own
//! prompts; the answers are read as promptfoo reads them.

use super::extract::json_objects;
use super::model_graded::{Graded, Graders, add, ask_text, render_custom_prompt, text_grader};
use super::{Assertion, AssertionError, ComponentResult};
use crate::provider::TokenUsage;
use serde_json::{Value as Json, json};

const DEFAULT_WINDOW: usize = 5;
const DEFAULT_THRESHOLD: f64 = 0.5;
/// The reason a window gets when the grader says `no` without one; such windows do not
/// go into the summary of irrelevancies.
const NO_REASON: &str = "Response is not relevant to the conversation context";

const VERDICT_INSTRUCTIONS: &str = "You will be given a conversation between a user and an AI \
assistant as a JSON list of messages. Decide whether the LAST assistant message is relevant to \
the conversation, using the earlier messages as context. Answer \"no\" only when it has nothing \
to do with what the user said; a vague answer to a vague message (a greeting, say) is still \
relevant.\n\nReply with a JSON object and nothing else: {\"verdict\": \"yes\"} when it is \
relevant, or {\"verdict\": \"no\", \"reason\": \"<what makes it irrelevant>\"} when it is not.";

const SUMMARY_INSTRUCTIONS: &str = "You will be given a relevance score from 0 to 1 for the \
assistant's messages in a conversation (higher is better) and the reasons some of its messages \
were found irrelevant. Summarise those reasons in one or two sentences that justify the score, \
naming the messages concerned.\n\nReply with a JSON object and nothing else: \
{\"reason\": \"<the summary>\"}.";

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let grader = text_grader(a, graders)?;
    let turns: Vec<(Json, Json)> = match g.vars.get("_conversation") {
        Some(Json::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|t| {
                (
                    t.get("input").cloned().unwrap_or(Json::Null),
                    t.get("output").cloned().unwrap_or(Json::Null),
                )
            })
            .collect(),
        None | Some(Json::Null) | Some(Json::Array(_)) => vec![(
            Json::String(g.prompt.to_owned()),
            Json::String(g.output.to_owned()),
        )],
        Some(other) => {
            return Err(AssertionError(format!(
                "conversation-relevance: the `_conversation` var must be a list of {{input, output}} turns, not {other}"
            )));
        }
    };
    let window = a
        .raw
        .get("config")
        .and_then(|c| c.get("windowSize"))
        .and_then(Json::as_u64)
        .filter(|w| *w > 0)
        .map_or(DEFAULT_WINDOW, |w| w as usize);
    let threshold = a.threshold.unwrap_or(DEFAULT_THRESHOLD);
    let custom = a.raw.get("rubricPrompt").or(g.rubric_prompt);

    let mut tokens = TokenUsage::default();
    let mut relevant = 0usize;
    let mut irrelevancies: Vec<String> = Vec::new();
    for end in 0..turns.len() {
        let slice = &turns[end.saturating_sub(window - 1)..=end];
        let prompt = match custom {
            Some(c) => {
                let mut vars = g.vars.clone();
                let messages = slice
                    .iter()
                    .map(|(i, o)| json!({"input": i, "output": o}))
                    .collect();
                vars.insert("messages".into(), Json::Array(messages));
                render_custom_prompt(c, &vars, g.base_dir)?
            }
            None => {
                let messages: Vec<Json> = slice
                    .iter()
                    .flat_map(|(i, o)| {
                        [
                            json!({"role": "user", "content": as_text(i)}),
                            json!({"role": "assistant", "content": as_text(o)}),
                        ]
                    })
                    .collect();
                let listed = serde_json::to_string_pretty(&messages).unwrap_or_default();
                json!([
                    {"role": "system", "content": VERDICT_INSTRUCTIONS},
                    {"role": "user", "content": format!("<Messages>\n{listed}\n</Messages>")},
                ])
                .to_string()
            }
        };
        let (answer, t) = ask_text(grader, &prompt).await;
        add(&mut tokens, t);
        // A grader failure in any window fails the assertion, never inverted.
        let verdict = match answer.and_then(|text| read_verdict(&text)) {
            Ok(v) => v,
            Err(e) => return Ok(a.verdict(false, 0.0, e, tokens)),
        };
        match verdict {
            (true, _) => relevant += 1,
            (false, reason) if reason != NO_REASON => irrelevancies.push(reason),
            (false, _) => {}
        }
    }
    let total = turns.len();
    let score = relevant as f64 / total as f64;
    let pass = (score >= threshold - f64::EPSILON) != a.inverse;
    let fallback = format!("{relevant} out of {total} conversation windows were relevant");
    let reason = if !irrelevancies.is_empty() && score < 1.0 {
        let listed = irrelevancies
            .iter()
            .map(|r| format!("- {r}"))
            .collect::<Vec<_>>()
            .join("\n");
        let prompt = json!([
            {"role": "system", "content": SUMMARY_INSTRUCTIONS},
            {"role": "user", "content": format!("<Score>{}</Score>\n<Irrelevancies>\n{listed}\n</Irrelevancies>", crate::js_number(score))},
        ])
        .to_string();
        let (answer, t) = ask_text(grader, &prompt).await;
        match answer {
            Ok(text) => {
                add(&mut tokens, t);
                json_objects(&text)
                    .into_iter()
                    .next()
                    .and_then(|o| o.get("reason").and_then(Json::as_str).map(str::to_owned))
                    .filter(|r| !r.is_empty())
                    .unwrap_or(fallback)
            }
            Err(_) => fallback,
        }
    } else {
        fallback
    };
    let score = if a.inverse { 1.0 - score } else { score };
    Ok(a.verdict(pass, score, reason, tokens))
}

fn as_text(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// (relevant, reason) from the grader's first JSON object; `Err` is a grader failure.
fn read_verdict(answer: &str) -> Result<(bool, String), String> {
    let Some(object) = json_objects(answer).into_iter().next() else {
        return Err("Error parsing output: No JSON object found in response".into());
    };
    let relevant = match object.get("verdict").and_then(Json::as_str) {
        Some("yes") => true,
        Some("no") => false,
        _ => {
            return Err(
                "Error parsing output: Conversation relevance grader returned an invalid verdict"
                    .into(),
            );
        }
    };
    let reason = object
        .get("reason")
        .and_then(Json::as_str)
        .filter(|r| !r.is_empty())
        .map_or_else(
            || {
                if relevant {
                    "Response is relevant to the conversation context".to_owned()
                } else {
                    NO_REASON.to_owned()
                }
            },
            str::to_owned,
        );
    Ok((relevant, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(
            read_verdict("{\"verdict\": \"yes\"}").unwrap(),
            (
                true,
                "Response is relevant to the conversation context".into()
            )
        );
        assert_eq!(
            read_verdict("Here: {\"verdict\": \"no\", \"reason\": \"off topic\"}").unwrap(),
            (false, "off topic".into())
        );
        assert_eq!(
            read_verdict("{\"verdict\": \"Yes\"}").unwrap_err(),
            "Error parsing output: Conversation relevance grader returned an invalid verdict"
        );
        assert_eq!(
            read_verdict("yes").unwrap_err(),
            "Error parsing output: No JSON object found in response"
        );
    }
}
