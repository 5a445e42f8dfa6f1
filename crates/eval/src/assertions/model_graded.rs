//! Assertions graded by a model (`llm-rubric`, `factuality`, `model-graded-closedqa`,
//! `g-eval`, `conversation-relevance` and the RAG checks in `rag.rs`), by embeddings
//! (`similar`), or by another service (`classifier`, `moderation`, `webhook`). The grading
//! prompts are our own; how the grader's answer is read, and the pass/score rules, follow
//! promptfoo so verdicts agree.
//!
//! The runner awaits only this path and `python`, and sends every type for which
//! [`is_model_graded`] holds here; `classifier`, `moderation` and `webhook` are network
//! calls rather than models, but they are awaited too, so they are routed here as well.

use super::classifier::Classifier;
use super::extract::json_objects;
use super::moderation::Moderator;
use super::{Assertion, AssertionError, ComponentResult};
use crate::js_number;
use crate::provider::{Provider, TokenUsage};
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;

/// The providers a model-graded assertion may use.
#[derive(Clone, Default)]
pub struct Graders {
    pub text: Option<Arc<Provider>>,
    pub embedding: Option<Arc<Provider>>,
    /// For `classifier`: a HuggingFace classification endpoint.
    pub classifier: Option<Arc<Classifier>>,
    /// For `moderation`: OpenAI's moderation endpoint.
    pub moderation: Option<Arc<Moderator>>,
}

/// Which kind of grader an assertion type needs (see [`grader_role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraderRole {
    /// A chat model, and an embedding model for the types that embed.
    Text,
    /// `options.provider.classification`, or a `huggingface:*-classification:*` provider.
    Classification,
    /// `options.provider.moderation`, or `openai:moderation[:model]`.
    Moderation,
}

impl GraderRole {
    /// The key of this role in a `{text: ..., embedding: ..., moderation: ...}` provider map.
    pub fn key(self) -> &'static str {
        match self {
            GraderRole::Text => "text",
            GraderRole::Classification => "classification",
            GraderRole::Moderation => "moderation",
        }
    }
}

/// The grader an assertion type needs, if any (`webhook` is graded by the URL it names).
pub fn grader_role(kind: &str) -> Option<GraderRole> {
    match kind {
        "classifier" => Some(GraderRole::Classification),
        "moderation" => Some(GraderRole::Moderation),
        "webhook" => None,
        "select-best" => Some(GraderRole::Text),
        other if is_model_graded(other) => Some(GraderRole::Text),
        _ => None,
    }
}

/// What the assertion grades.
pub struct Graded<'a> {
    pub output: &'a str,
    /// The rendered prompt the output answers.
    pub prompt: &'a str,
    pub vars: &'a Map<String, Json>,
    /// Where `contextTransform` and `file://` rubric prompts are resolved from.
    pub base_dir: &'a std::path::Path,
    /// The test's `options.rubricPrompt` (from `defaultTest` too), if any.
    pub rubric_prompt: Option<&'a Json>,
}

/// Whether an assertion is awaited on the graded path (see the module note: this also
/// covers the network-backed `classifier`, `moderation` and `webhook`).
pub fn is_model_graded(kind: &str) -> bool {
    matches!(
        kind,
        "llm-rubric"
            | "factuality"
            | "model-graded-factuality"
            | "model-graded-closedqa"
            | "g-eval"
            | "conversation-relevance"
            | "classifier"
            | "moderation"
            | "webhook"
    ) || kind.starts_with("similar")
        || super::rag::is_rag(kind)
}

const RUBRIC_INSTRUCTIONS: &str = "You grade the output of an AI system against a rubric. \
Decide whether the output satisfies the rubric, judging only what the rubric asks for. \
Answer with nothing but a JSON object with three keys: \"reason\" (one or two sentences on why), \
\"pass\" (true if the rubric is satisfied, else false) and \"score\" (a number from 0.0 to 1.0, \
1.0 meaning fully satisfied).";

const FACTUALITY_INSTRUCTIONS: &str = "You compare a submitted answer with an expert answer to the same question, \
looking only at the facts they state (ignore style, grammar and punctuation). Choose one category: \
A: the submission is a subset of the expert answer and consistent with it; \
B: the submission is a superset of the expert answer and consistent with it; \
C: the submission contains the same details as the expert answer; \
D: the submission disagrees with the expert answer; \
E: they differ, but the differences do not matter for factuality. \
Answer with nothing but a JSON object: {\"category\": \"<A, B, C, D or E>\", \"reason\": \"<why>\"}.";

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    match a.kind.as_str() {
        "llm-rubric" => llm_rubric(a, g, text_grader(a, graders)?).await,
        "factuality" | "model-graded-factuality" => {
            factuality(a, g, text_grader(a, graders)?).await
        }
        "model-graded-closedqa" => closed_qa(a, g, text_grader(a, graders)?).await,
        "g-eval" => super::geval::check(a, g, text_grader(a, graders)?).await,
        "conversation-relevance" => super::conversation::check(a, g, graders).await,
        "classifier" => super::classifier::check(a, g, graders).await,
        "moderation" => super::moderation::check(a, g, graders).await,
        "webhook" => super::webhook::check(a, g).await,
        kind if kind.starts_with("similar") => similar(a, g, graders).await,
        kind if super::rag::is_rag(kind) => super::rag::check(a, g, graders).await,
        other => Err(AssertionError(format!("Unknown assertion type: {other}"))),
    }
}

pub(super) fn text_grader<'g>(
    a: &Assertion,
    graders: &'g Graders,
) -> Result<&'g Provider, AssertionError> {
    graders.text.as_deref().ok_or_else(|| {
        AssertionError(format!(
            "`{}` needs a grader model: set `defaultTest.options.provider`, the assertion's `provider`, or --grader",
            a.kind
        ))
    })
}

fn result(
    a: &Assertion,
    pass: bool,
    score: f64,
    reason: String,
    tokens: TokenUsage,
) -> ComponentResult {
    a.verdict(pass, score, reason, tokens)
}

/// Calls the grader with a chat prompt (sent as JSON, as suites' chat prompts are).
pub(super) async fn ask(grader: &Provider, messages: Json) -> (Result<String, String>, TokenUsage) {
    ask_text(grader, &messages.to_string()).await
}

/// A custom `rubricPrompt` (text, `file://`, or a chat as JSON) rendered as promptfoo
/// renders it: with `output`, `rubric` and the test's vars; a chat has every string
/// rendered and is sent as compact JSON.
fn custom_rubric_prompt(
    custom: &Json,
    output: &str,
    rubric: &str,
    g: &Graded<'_>,
) -> Result<String, AssertionError> {
    let mut vars = g.vars.clone();
    vars.insert("output".into(), Json::String(output.to_owned()));
    vars.insert("rubric".into(), Json::String(rubric.to_owned()));
    render_custom_prompt(custom, &vars, g.base_dir)
}

/// A `rubricPrompt: file://rubric.js[:fn]` is a function called without arguments whose
/// result (text, or a chat as JSON) is the prompt, as promptfoo's `loadRubricPrompt`
/// reads it; any other value is used as it is.
async fn function_prompt<'a>(
    custom: &'a Json,
    base_dir: &std::path::Path,
) -> Result<std::borrow::Cow<'a, Json>, AssertionError> {
    let Some(reference) = custom
        .as_str()
        .and_then(|s| s.strip_prefix("file://"))
        .filter(|r| {
            let file = r.rsplit_once(':').map_or(*r, |(f, _)| f);
            super::script::is_javascript_file(r) || super::script::is_javascript_file(file)
        })
    else {
        return Ok(std::borrow::Cow::Borrowed(custom));
    };
    let (file, name) = match reference.rsplit_once(':') {
        Some((f, n)) if super::script::is_javascript_file(f) => (f, n),
        _ => (reference, ""),
    };
    let answer = super::script::call_file(&base_dir.join(file), name, &json!([]), base_dir)
        .await
        .map_err(|e| AssertionError(format!("rubricPrompt file://{reference}: {e}")))?;
    match answer.get("value") {
        Some(value @ (Json::String(_) | Json::Object(_) | Json::Array(_))) => {
            Ok(std::borrow::Cow::Owned(value.clone()))
        }
        _ => Err(AssertionError(format!(
            "rubricPrompt file://{reference}: the function must return text or a chat (a list of messages), not {}",
            answer["type"].as_str().unwrap_or("undefined")
        ))),
    }
}

/// A custom grading prompt (text, `file://`, or a chat as JSON) rendered with `vars`; a
/// chat has every string rendered and is sent as compact JSON.
pub(super) fn render_custom_prompt(
    custom: &Json,
    vars: &Map<String, Json>,
    base_dir: &std::path::Path,
) -> Result<String, AssertionError> {
    let render = |text: &str| {
        promptops_core::template::render_with(
            text,
            vars,
            promptops_core::template::Undefined::Lenient,
        )
        .map_err(|e| AssertionError(format!("rubricPrompt: {}", e.message)))
    };
    let text = match custom {
        Json::String(s) => match s.strip_prefix("file://") {
            Some(file) => std::fs::read_to_string(base_dir.join(file))
                .map_err(|e| AssertionError(format!("rubricPrompt {s}: {e}")))?,
            None => s.clone(),
        },
        structured => structured.to_string(),
    };
    let parsed = text
        .trim_start()
        .starts_with(['[', '{'])
        .then(|| serde_json::from_str::<Json>(&text).ok())
        .flatten();
    match parsed {
        Some(mut chat) => {
            render_strings(&mut chat, &render)?;
            Ok(chat.to_string())
        }
        None => render(&text),
    }
}

fn render_strings(
    value: &mut Json,
    render: &impl Fn(&str) -> Result<String, AssertionError>,
) -> Result<(), AssertionError> {
    match value {
        Json::String(s) => *s = render(s)?,
        Json::Array(items) => {
            for item in items {
                render_strings(item, render)?;
            }
        }
        Json::Object(map) => {
            for item in map.values_mut() {
                render_strings(item, render)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sends a grading prompt (text, or a chat as JSON text) to the grader.
pub(super) async fn ask_text(
    grader: &Provider,
    prompt: &str,
) -> (Result<String, String>, TokenUsage) {
    let (answer, tokens) = call_grader(grader, prompt).await;
    (
        answer.and_then(|a| a.ok_or_else(|| "No output".to_owned())),
        tokens,
    )
}

/// Like [`ask_text`], telling an empty answer (`Ok(None)`) from a failed call.
pub(super) async fn call_grader(
    grader: &Provider,
    prompt: &str,
) -> (Result<Option<String>, String>, TokenUsage) {
    let response = grader.call(prompt, &Map::new(), &Map::new()).await;
    let tokens = response.token_usage;
    let answer = match (response.error, response.output) {
        (Some(e), _) => Err(e),
        (None, Some(Json::String(s))) if !s.is_empty() => Ok(Some(s)),
        (None, Some(Json::String(_)) | None | Some(Json::Null)) => Ok(None),
        (None, Some(other)) => Ok(Some(other.to_string())),
    };
    (answer, tokens)
}

/// The output as the grader sees it: JSON re-serialised compactly when it is JSON.
fn output_for_grader(output: &str) -> String {
    serde_json::from_str::<Json>(output).map_or_else(|_| output.to_owned(), |v| v.to_string())
}

async fn llm_rubric(
    a: &Assertion,
    g: &Graded<'_>,
    grader: &Provider,
) -> Result<ComponentResult, AssertionError> {
    let custom = match a.raw.get("rubricPrompt").or(g.rubric_prompt) {
        Some(c) => Some(function_prompt(c, g.base_dir).await?),
        None => None,
    };
    let custom = custom.as_deref();
    let rubric = match (&a.value, custom) {
        (Some(Json::String(s)), _) => s.clone(),
        (Some(other), _) => other.to_string(),
        // A custom prompt may carry the whole rubric itself.
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(AssertionError(
                "llm-rubric needs a `value` (the rubric to grade against) or a `rubricPrompt`"
                    .into(),
            ));
        }
    };
    let output = output_for_grader(g.output);
    let prompt = match custom {
        Some(custom) => custom_rubric_prompt(custom, &output, &rubric, g)?,
        None => {
            let user = format!("<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n</Rubric>");
            json!([{"role": "system", "content": RUBRIC_INSTRUCTIONS}, {"role": "user", "content": user}])
                .to_string()
        }
    };
    let (answer, tokens) = ask_text(grader, &prompt).await;
    // A grader that fails or answers without JSON fails the assertion, never inverted.
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return Ok(result(a, false, 0.0, e, tokens)),
    };
    let Some(verdict) = json_objects(&answer).into_iter().next() else {
        return Ok(result(
            a,
            false,
            0.0,
            "Could not extract JSON from llm-rubric response".into(),
            tokens,
        ));
    };
    let mut pass = match verdict.get("pass") {
        None | Some(Json::Null) => true,
        Some(Json::Bool(b)) => *b,
        Some(other) => {
            let text = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned)
                .to_lowercase();
            matches!(text.trim(), "true" | "yes" | "pass" | "y")
        }
    };
    let score = match verdict.get("score") {
        Some(Json::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Json::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .unwrap_or(if pass { 1.0 } else { 0.0 }),
        _ => {
            if pass {
                1.0
            } else {
                0.0
            }
        }
    };
    if let Some(t) = a.threshold {
        pass = pass && score >= t;
    }
    let reason = verdict
        .get("reason")
        .and_then(Json::as_str)
        .filter(|r| !r.is_empty())
        .map_or_else(
            || {
                if pass {
                    "Grading passed".to_owned()
                } else {
                    format!(
                        "Score {} below threshold {}",
                        js_number(score),
                        a.threshold.map_or("undefined".into(), js_number)
                    )
                }
            },
            str::to_owned,
        );
    let (pass, score) = if a.inverse {
        (!pass, (1.0 - score).clamp(0.0, 1.0))
    } else {
        (pass, score)
    };
    Ok(result(a, pass, score, reason, tokens))
}

async fn factuality(
    a: &Assertion,
    g: &Graded<'_>,
    grader: &Provider,
) -> Result<ComponentResult, AssertionError> {
    let expert = match &a.value {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => {
            return Err(AssertionError(
                "factuality needs a `value`: the expert answer".into(),
            ));
        }
    };
    let user = format!(
        "<question>{}</question>\n<expert_answer>{expert}</expert_answer>\n<submitted_answer>{}</submitted_answer>",
        g.prompt, g.output
    );
    let messages = json!([{"role": "system", "content": FACTUALITY_INSTRUCTIONS}, {"role": "user", "content": user}]);
    let (answer, tokens) = ask(grader, messages).await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return Ok(result(a, false, 0.0, e, tokens)),
    };
    let (category, reason) = match json_objects(&answer)
        .into_iter()
        .find(|o| o.get("category").is_some_and(Json::is_string))
    {
        Some(obj) => {
            let raw = obj["category"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_uppercase();
            if raw.len() != 1 || !"ABCDE".contains(raw.as_str()) {
                return Ok(result(
                    a,
                    false,
                    0.0,
                    format!("Invalid category value: {raw}"),
                    tokens,
                ));
            }
            let reason = obj
                .get("reason")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned();
            (raw.chars().next().unwrap_or('D'), reason)
        }
        None => match legacy_category(&answer) {
            Some(found) => found,
            None => {
                return Ok(result(
                    a,
                    false,
                    0.0,
                    format!("Factuality checker output did not match expected format: {answer}"),
                    tokens,
                ));
            }
        },
    };
    let score = if category == 'D' { 0.0 } else { 1.0 };
    let reason = if reason.is_empty() {
        format!("Category {category}")
    } else {
        reason
    };
    Ok(result(a, score > 0.0, score, reason, tokens))
}

/// An older answer form: `(A) because ...`.
fn legacy_category(answer: &str) -> Option<(char, String)> {
    static LEGACY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\(?([a-eA-E])\)").expect("a valid pattern")
    });
    let m = LEGACY.captures(answer)?;
    let letter = m.get(1)?.as_str().to_uppercase().chars().next()?;
    let rest = answer[m.get(0)?.end()..].trim().to_owned();
    Some((letter, rest))
}

async fn closed_qa(
    a: &Assertion,
    g: &Graded<'_>,
    grader: &Provider,
) -> Result<ComponentResult, AssertionError> {
    let criterion = a.value.as_ref().map_or_else(String::new, |v| {
        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
    });
    // One system message, no user turn: the whole task is in the instructions.
    let system = format!(
        "You check whether a submission meets a criterion.\n[Task]: {}\n[Submission]: {}\n[Criterion]: {criterion}\n\
Reason step by step about whether the submission meets the criterion, then write Y if it does or N if it does not, \
alone on the last line.",
        g.prompt, g.output
    );
    let (answer, tokens) = ask(grader, json!([{"role": "system", "content": system}])).await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return Ok(result(a, false, 0.0, e, tokens)),
    };
    let trimmed = answer.trim_end();
    let (pass, reason) = if trimmed.ends_with('Y') {
        (
            true,
            format!("The submission meets the criterion:\n{answer}"),
        )
    } else if trimmed.ends_with('N') {
        (
            false,
            format!("The submission does not meet the criterion:\n{answer}"),
        )
    } else {
        (
            false,
            format!("Model grader produced a malformed response:\n{answer}"),
        )
    };
    Ok(result(
        a,
        pass,
        if pass { 1.0 } else { 0.0 },
        reason,
        tokens,
    ))
}

async fn similar(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let embedder = graders.embedding.as_deref().ok_or_else(|| {
        AssertionError(match &graders.text {
            Some(p) => format!("Provider {} is not a valid embedding provider", p.spec.id),
            None => "`similar` needs an embedding provider: set `defaultTest.options.provider` to e.g. `openai:embedding:text-embedding-3-small`".into(),
        })
    })?;
    let expected: Vec<String> = match &a.value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect(),
        _ => {
            return Err(AssertionError(
                "`similar` needs a `value`: the text (or texts) to compare with".into(),
            ));
        }
    };
    let threshold = a.threshold.unwrap_or(0.75);
    let metric = a.kind.split(':').nth(1).unwrap_or("cosine");
    let mut tokens = TokenUsage::default();
    let (output_vec, t) = embedder.embed(g.output).await.map_err(AssertionError)?;
    add(&mut tokens, t);
    const EPSILON: f64 = 1e-9;
    let mut best: Option<(bool, f64, String)> = None;
    for text in &expected {
        let (vector, t) = embedder.embed(text).await.map_err(AssertionError)?;
        add(&mut tokens, t);
        let sim = match metric {
            "dot" => dot(&output_vec, &vector),
            "euclidean" => 1.0 / (1.0 + euclidean(&output_vec, &vector)),
            _ => cosine(&output_vec, &vector),
        };
        let pass = if a.inverse {
            sim <= threshold + EPSILON
        } else {
            sim >= threshold - EPSILON
        };
        let reason = match (pass, a.inverse) {
            (true, _) => "Assertion passed".to_owned(),
            (false, false) => format!(
                "Similarity {sim:.2} is less than threshold {}",
                js_number(threshold)
            ),
            (false, true) => format!(
                "Similarity {sim:.2} is greater than or equal to threshold {}",
                js_number(threshold)
            ),
        };
        let score = if a.inverse { 1.0 - sim } else { sim };
        let candidate = (pass, score, reason);
        // Not inverted: any value may pass. Inverted: every value must.
        best = match best {
            None => Some(candidate),
            Some(prev) if a.inverse => Some(if prev.0 && !candidate.0 {
                candidate
            } else {
                prev
            }),
            Some(prev) => Some(if candidate.0 && !prev.0 {
                candidate
            } else {
                prev
            }),
        };
    }
    let (pass, score, mut reason) = best.unwrap_or((false, 0.0, String::new()));
    if expected.len() > 1 && !pass && !a.inverse {
        reason = "None of the provided values met the similarity threshold".into();
    }
    Ok(result(a, pass, score, reason, tokens))
}

pub(super) fn add(total: &mut TokenUsage, t: TokenUsage) {
    total.prompt += t.prompt;
    total.completion += t.completion;
    total.total += t.total;
    total.num_requests += t.num_requests;
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(super) fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let norm = dot(a, a).sqrt() * dot(b, b).sqrt();
    if norm == 0.0 { 0.0 } else { dot(a, b) / norm }
}

fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_metrics() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(euclidean(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
    }

    #[test]
    fn legacy_factuality_answers() {
        assert_eq!(
            legacy_category("(C) they agree"),
            Some(('C', "they agree".into()))
        );
        assert_eq!(legacy_category("LABEL-NONE"), None);
    }
}
