//! Retrieval-augmented-generation checks graded by a model: `answer-relevance` (does the
//! answer address the question?), `context-faithfulness` (is every claim backed by the
//! retrieved context?), `context-recall` (does the context hold the expected facts?) and
//! `context-relevance` (how much of the context does the question need?).
//! Our own grading prompts; the scoring and pass rules follow promptfoo so verdicts agree.

use super::model_graded::{
    Graded, Graders, add, ask, ask_text, cosine, render_custom_prompt, text_grader,
};
use super::{Assertion, AssertionError, ComponentResult};
use crate::js_number;
use crate::provider::TokenUsage;
use serde_json::{Value as Json, json};
use std::sync::LazyLock;

const QUESTION_INSTRUCTIONS: &str = "Read the answer below and write the single question it most \
directly answers. Reply with the question only, on one line, with no preamble.";

const STATEMENT_INSTRUCTIONS: &str = "Break the answer below into short, self-contained factual \
statements, each understandable without the others (replace pronouns with what they refer to). \
Write one statement per line, with no numbering, bullets or commentary.";

const VERDICT_INSTRUCTIONS: &str = "For each numbered statement, decide whether it can be \
directly inferred from the context alone. For each statement write one line: the statement, then \
`verdict: yes` if the context supports it or `verdict: no` if it does not. Judge only against the \
context, never against outside knowledge.";

const RECALL_INSTRUCTIONS: &str = "Split the expected answer below into sentences. For each \
sentence write one line: the sentence followed by [Attributed] if the context contains the \
information in it, or [Not Attributed] if it does not. Write nothing else.";

/// What the context-relevance grader answers when no sentence of the context is needed;
/// promptfoo looks for these words in the answer.
const INSUFFICIENT: &str = "Insufficient Information";

const RELEVANCE_INSTRUCTIONS: &str = "You will be given a query and a context. Copy out the \
sentences of the context that are needed to answer the query, exactly as they are written, one \
per line, and nothing else. If no sentence is needed, or the query cannot be answered from the \
context, reply with exactly: Insufficient Information";

/// How many candidate questions answer-relevance asks the grader for.
const QUESTIONS: usize = 3;

pub fn is_rag(kind: &str) -> bool {
    matches!(
        kind,
        "answer-relevance" | "context-faithfulness" | "context-recall" | "context-relevance"
    )
}

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    match a.kind.as_str() {
        "answer-relevance" => answer_relevance(a, g, graders).await,
        "context-faithfulness" => context_faithfulness(a, g, graders).await,
        "context-recall" => context_recall(a, g, graders).await,
        "context-relevance" => context_relevance(a, g, graders).await,
        other => Err(AssertionError(format!("Unknown assertion type: {other}"))),
    }
}

/// A scored result, inverted for `not-` (promptfoo's rule: a grader failure is never
/// inverted).
fn scored(
    a: &Assertion,
    pass: bool,
    score: f64,
    reason: String,
    tokens: TokenUsage,
) -> ComponentResult {
    if a.inverse {
        a.verdict(!pass, 1.0 - score, reason, tokens)
    } else {
        a.verdict(pass, score, reason, tokens)
    }
}

fn grader_failure(a: &Assertion, reason: String, tokens: TokenUsage) -> ComponentResult {
    a.verdict(false, 0.0, reason, tokens)
}

async fn answer_relevance(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let text = text_grader(a, graders)?;
    let embedder = graders.embedding.as_deref().ok_or_else(|| {
        AssertionError(match &graders.text {
            Some(p) => format!(
                "Provider {} is not a valid embedding provider; give `options.provider` as {{text: <chat model>, embedding: <embedding model>}}",
                p.spec.id
            ),
            None => "answer-relevance needs an embedding provider".into(),
        })
    })?;
    let query = match g.vars.get("query") {
        Some(Json::String(q)) => q.as_str(),
        _ => g.prompt,
    };
    let messages = json!([
        {"role": "system", "content": QUESTION_INSTRUCTIONS},
        {"role": "user", "content": format!("<Answer>\n{}\n</Answer>", g.output)},
    ]);
    let mut tokens = TokenUsage::default();
    let mut questions = Vec::with_capacity(QUESTIONS);
    for _ in 0..QUESTIONS {
        let (answer, t) = ask(text, messages.clone()).await;
        add(&mut tokens, t);
        match answer {
            Ok(q) => questions.push(q),
            Err(e) => return Ok(grader_failure(a, e, tokens)),
        }
    }
    let (query_vec, t) = match embedder.embed(query).await {
        Ok(v) => v,
        Err(e) => return Ok(grader_failure(a, e, tokens)),
    };
    add(&mut tokens, t);
    let mut total = 0.0;
    for q in &questions {
        let (v, t) = match embedder.embed(q).await {
            Ok(v) => v,
            Err(e) => return Ok(grader_failure(a, e, tokens)),
        };
        add(&mut tokens, t);
        total += cosine(&query_vec, &v);
    }
    let similarity = total / questions.len() as f64;
    let threshold = a.threshold.unwrap_or(0.5);
    let pass = similarity >= threshold - f64::EPSILON;
    let verdict = if pass { "greater" } else { "less" };
    let reason = format!(
        "Relevance {similarity:.2} is {verdict} than threshold {}",
        js_number(threshold)
    );
    Ok(scored(a, pass, similarity, reason, tokens))
}

/// The retrieved context as given: one text, or chunks.
enum Context {
    Text(String),
    Chunks(Vec<String>),
}

impl Context {
    /// The context as one text (chunks separated by a blank line), as graders see it.
    fn joined(&self) -> String {
        match self {
            Context::Text(t) => t.clone(),
            Context::Chunks(c) => c.join("\n\n"),
        }
    }
}

/// The retrieved context as one text (see [`resolve_context`]).
async fn context_of(
    a: &Assertion,
    g: &Graded<'_>,
    fallback: Option<&str>,
) -> Result<String, AssertionError> {
    resolve_context(a, g, fallback).await.map(|c| c.joined())
}

/// The retrieved context: `vars.context` (text or a list of texts), or what the
/// assertion's `contextTransform` makes of the output; `fallback` when neither is set.
async fn resolve_context(
    a: &Assertion,
    g: &Graded<'_>,
    fallback: Option<&str>,
) -> Result<Context, AssertionError> {
    let mut context: Option<Json> = match g.vars.get("context") {
        Some(Json::String(s)) => Some(Json::String(s.clone())),
        Some(Json::Array(items)) => {
            if let Some(i) = items.iter().position(|v| !v.is_string()) {
                return Err(AssertionError(format!(
                    "Invalid context: expected an array of strings, but found {} at index {i}",
                    json_type(&items[i])
                )));
            }
            Some(Json::Array(items.clone()))
        }
        _ => fallback.map(|f| Json::String(f.to_owned())),
    };
    if let Some(Json::String(code)) = a.raw.get("contextTransform") {
        let ctx = json!({"vars": g.vars, "prompt": {"label": g.prompt}});
        let output = Json::String(g.output.to_owned());
        let transformed = super::script::transform(code, &output, &ctx, g.base_dir)
            .await
            .map_err(|e| {
                AssertionError(format!(
                    "Failed to transform context using expression '{code}': {e}"
                ))
            })?;
        let ok = transformed.is_string()
            || transformed
                .as_array()
                .is_some_and(|items| items.iter().all(Json::is_string));
        if !ok {
            return Err(AssertionError(format!(
                "contextTransform must return a string or array of strings. Got {}. Check your transform expression: {code}",
                json_type(&transformed)
            )));
        }
        context = Some(transformed);
    }
    let resolved = match context {
        Some(Json::String(s)) if !s.is_empty() => Context::Text(s),
        Some(Json::Array(items))
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.is_empty())) =>
        {
            Context::Chunks(
                items
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect(),
            )
        }
        _ => {
            return Err(AssertionError(
                "Context is required for context-based assertions. Provide either a \"context\" variable (string or array of strings) in your test case or use \"contextTransform\" to extract context from the provider response.".into(),
            ));
        }
    };
    Ok(resolved)
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "object",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) | Json::Object(_) => "object",
    }
}

fn non_empty_lines(text: &str) -> Vec<&str> {
    text.split('\n').filter(|l| !l.trim().is_empty()).collect()
}

async fn context_faithfulness(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let Some(Json::String(query)) = g.vars.get("query") else {
        return Err(AssertionError(
            "context-faithfulness assertion requires a \"query\" variable with the user question"
                .into(),
        ));
    };
    let context = context_of(a, g, None).await?;
    let text = text_grader(a, graders)?;
    let mut tokens = TokenUsage::default();
    let messages = json!([
        {"role": "system", "content": STATEMENT_INSTRUCTIONS},
        {"role": "user", "content": format!("<Question>\n{query}\n</Question>\n<Answer>\n{}\n</Answer>", g.output)},
    ]);
    let (answer, t) = ask(text, messages).await;
    add(&mut tokens, t);
    let statements_text = match answer {
        Ok(s) => s,
        Err(e) => return Ok(grader_failure(a, e, tokens)),
    };
    let statements = non_empty_lines(&statements_text);
    if statements.is_empty() {
        return Ok(grader_failure(
            a,
            "Could not extract context-faithfulness statements".into(),
            tokens,
        ));
    }
    let numbered: String = statements
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}\n", i + 1, s.trim()))
        .collect();
    let messages = json!([
        {"role": "system", "content": VERDICT_INSTRUCTIONS},
        {"role": "user", "content": format!("<Context>\n{context}\n</Context>\n<Statements>\n{numbered}</Statements>")},
    ]);
    let (answer, t) = ask(text, messages).await;
    add(&mut tokens, t);
    let verdicts = match answer {
        Ok(v) => v,
        Err(e) => return Ok(grader_failure(a, e, tokens)),
    };
    let Some(score) = faithfulness_score(&verdicts, statements.len()) else {
        return Ok(grader_failure(
            a,
            "Could not parse context-faithfulness verdicts".into(),
            tokens,
        ));
    };
    let threshold = a.threshold.unwrap_or(0.5);
    let pass = score >= threshold - f64::EPSILON;
    let op = if pass { ">=" } else { "<" };
    let reason = format!("Faithfulness {score:.2} is {op} {}", js_number(threshold));
    Ok(scored(a, pass, score, reason, tokens))
}

/// The share of statements the grader found supported. Two answer forms are read:
/// a `Final verdict for each statement in order:` list, or `verdict: yes/no` lines;
/// a statement the grader skipped counts as unsupported.
fn faithfulness_score(answer: &str, statements: usize) -> Option<f64> {
    const FINAL: &str = "final verdict for each statement in order:";
    let lower = answer.trim().to_lowercase();
    let n = statements as f64;
    let score = if let Some(at) = lower.find(FINAL) {
        let verdicts: Vec<&str> = lower[at + FINAL.len()..]
            .split('.')
            .filter(|v| !v.trim().is_empty())
            .collect();
        static VERDICT: LazyLock<regex::Regex> =
            LazyLock::new(|| regex::Regex::new(r"\b(?:yes|no)\b").expect("a valid pattern"));
        if verdicts.is_empty() || !verdicts.iter().all(|v| VERDICT.is_match(v)) {
            return None;
        }
        let unsupported = verdicts.iter().filter(|v| !v.contains("yes")).count();
        1.0 - (unsupported as f64 + statements.saturating_sub(verdicts.len()) as f64) / n
    } else {
        let no = lower.matches("verdict: no").count();
        let yes = lower.matches("verdict: yes").count();
        if no + yes == 0 {
            return None;
        }
        1.0 - (no as f64 + statements.saturating_sub(no + yes) as f64) / n
    };
    Some(score.clamp(0.0, 1.0))
}

async fn context_recall(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let Some(Json::String(expected)) = &a.value else {
        return Err(AssertionError(
            "context-recall assertion requires a string value (expected answer or fact to verify)"
                .into(),
        ));
    };
    let context = context_of(a, g, Some(g.prompt)).await?;
    let text = text_grader(a, graders)?;
    let messages = json!([
        {"role": "system", "content": RECALL_INSTRUCTIONS},
        {"role": "user", "content": format!("<Context>\n{context}\n</Context>\n<ExpectedAnswer>\n{expected}\n</ExpectedAnswer>")},
    ]);
    let (answer, tokens) = ask(text, messages).await;
    let answer = match answer {
        Ok(v) => v,
        Err(e) => return Ok(grader_failure(a, e, tokens)),
    };
    let classified: Vec<String> = non_empty_lines(&answer)
        .into_iter()
        .map(str::to_lowercase)
        .filter(|l| l.contains("[attributed]") || l.contains("[not attributed]"))
        .collect();
    if classified.is_empty() {
        return Ok(grader_failure(
            a,
            "Grader returned no [Attributed]/[Not Attributed] classifications".into(),
            tokens,
        ));
    }
    let attributed = classified
        .iter()
        .filter(|l| !l.contains("[not attributed]") && l.contains("[attributed]"))
        .count();
    let score = attributed as f64 / classified.len() as f64;
    let threshold = a.threshold.unwrap_or(0.5);
    let pass = score >= threshold - f64::EPSILON;
    let op = if pass { ">=" } else { "<" };
    let reason = format!("Recall {score:.2} is {op} {}", js_number(threshold));
    Ok(scored(a, pass, score, reason, tokens))
}

async fn context_relevance(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let Some(Json::String(query)) = g.vars.get("query") else {
        return Err(AssertionError(
            "context-relevance assertion requires a \"query\" variable with the user question"
                .into(),
        ));
    };
    let context = resolve_context(a, g, None).await?;
    let text = text_grader(a, graders)?;
    let joined = context.joined();
    let prompt = match a.raw.get("rubricPrompt").or(g.rubric_prompt) {
        Some(custom) => {
            let vars = [("context", &joined), ("query", query)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Json::String(v.clone())))
                .collect();
            render_custom_prompt(custom, &vars, g.base_dir)?
        }
        None => json!([
            {"role": "system", "content": RELEVANCE_INSTRUCTIONS},
            {"role": "user", "content": format!("<Query>\n{query}\n</Query>\n<Context>\n{joined}\n</Context>")},
        ])
        .to_string(),
    };
    let (answer, tokens) = ask_text(text, &prompt).await;
    let answer = match answer {
        Ok(v) => v,
        Err(e) => return Ok(grader_failure(a, e, tokens)),
    };
    let Some(score) = relevance_score(&context, &joined, &answer) else {
        return Ok(grader_failure(
            a,
            "Grader output does not quote the provided context".into(),
            tokens,
        ));
    };
    let threshold = a.threshold.unwrap_or(0.5);
    let pass = score >= threshold - f64::EPSILON;
    let op = if pass { ">=" } else { "<" };
    let reason = format!(
        "Context relevance {score:.2} is {op} {}",
        js_number(threshold)
    );
    Ok(scored(a, pass, score, reason, tokens))
}

/// The share of the context's units (its chunks, or its lines or sentences) that the
/// grader copied out, at most 1; `None` when what it copied is not from the context.
fn relevance_score(context: &Context, joined: &str, answer: &str) -> Option<f64> {
    let (pre_segmented, units) = match context {
        Context::Chunks(chunks) => (true, chunks.iter().filter(|c| !c.trim().is_empty()).count()),
        Context::Text(t) => (non_empty_lines(t).len() > 1, sentences(t).len()),
    };
    let insufficient = answer.contains(INSUFFICIENT);
    let mut extracted: Vec<String> = Vec::new();
    if !insufficient {
        let found: Vec<String> = if pre_segmented {
            non_empty_lines(answer)
                .into_iter()
                .map(str::to_owned)
                .collect()
        } else {
            sentences(answer)
        };
        for s in found {
            if !extracted.contains(&s) {
                extracted.push(s);
            }
        }
    }
    let context_normalized = normalize(joined);
    if !extracted.is_empty()
        && !extracted
            .iter()
            .any(|s| context_normalized.contains(&normalize(strip_list_marker(s))))
    {
        return None;
    }
    let numerator = extracted.len().min(units);
    Some(if units > 0 {
        numerator as f64 / units as f64
    } else {
        0.0
    })
}

/// Units for sentence-level scores: the non-empty lines of a text of two or more such
/// lines, else its sentences (split after `.`, `!` or `?` and whitespace); bare list
/// markers (`1.`) are dropped.
fn sentences(text: &str) -> Vec<String> {
    let lines = non_empty_lines(text);
    let pieces: Vec<&str> = if lines.len() > 1 {
        lines
    } else {
        split_after_sentence_ends(text)
    };
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !LIST_MARKER_ONLY.is_match(s))
        .map(str::to_owned)
        .collect()
}

/// Splits at each whitespace run that follows `.`, `!` or `?`.
fn split_after_sentence_ends(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut previous = None;
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() && matches!(previous, Some('.' | '!' | '?')) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !d.is_whitespace() {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            pieces.push(&text[start..i]);
            start = end;
            previous = None;
            continue;
        }
        previous = Some(c);
    }
    pieces.push(&text[start..]);
    pieces
}

static LIST_MARKER_ONLY: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^\d+[.)]$").expect("a valid pattern"));
static LIST_MARKER: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^\s*(?:\d+[.)]|[-*])\s*").expect("a valid pattern"));

fn strip_list_marker(s: &str) -> &str {
    LIST_MARKER.find(s).map_or(s, |m| &s[m.end()..])
}

/// Lower-cased, whitespace runs as one space, trimmed.
fn normalize(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentence_units() {
        assert_eq!(
            sentences("Paris is the capital. France is in Europe!  Is it?"),
            ["Paris is the capital.", "France is in Europe!", "Is it?"]
        );
        assert_eq!(sentences("1. One. 2. Two."), ["One.", "Two."]);
        assert_eq!(
            sentences("a. b\nc"),
            ["a. b", "c"],
            "two lines are two units"
        );
        assert_eq!(sentences("\nOne line. Two.\n"), ["One line.", "Two."]);
    }

    #[test]
    fn relevance_scores() {
        let text = Context::Text(
            "Paris is the capital of France. It has the Louvre. Rain is common.".into(),
        );
        let joined = text.joined();
        let score = relevance_score(&text, &joined, "Paris is the capital of France.").unwrap();
        assert!((score - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            relevance_score(&text, &joined, "Insufficient Information"),
            Some(0.0)
        );
        assert_eq!(
            relevance_score(&text, &joined, "Berlin is in Germany."),
            None
        );
        // Copied lines are counted once and never above the number of units.
        let chunks = Context::Chunks(vec!["a b".into(), "c d".into()]);
        let joined = chunks.joined();
        assert_eq!(
            relevance_score(&chunks, &joined, "1. a  B\n1. a  B\nc d\nextra"),
            Some(1.0)
        );
    }

    #[test]
    fn faithfulness_answer_forms() {
        let s = faithfulness_score("1. x verdict: yes\n2. y verdict: no", 2).unwrap();
        assert!((s - 0.5).abs() < 1e-12);
        // A skipped statement counts against the answer.
        let s = faithfulness_score("verdict: yes", 2).unwrap();
        assert!((s - 0.5).abs() < 1e-12);
        let s = faithfulness_score(
            "Final verdict for each statement in order: Yes. Yes. No.",
            3,
        )
        .unwrap();
        assert!((s - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(faithfulness_score("no idea", 2), None);
        assert_eq!(
            faithfulness_score("Final verdict for each statement in order: maybe.", 1),
            None
        );
    }
}
