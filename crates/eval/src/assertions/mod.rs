//! Assertions on a model's output, with promptfoo's semantics (see
//! `docs/research/promptfoo-compat.md` §4–5): the same pass/fail, score, reason text and
//! weighting, so an existing suite gives the same verdicts here.

mod aggregate;
pub mod classifier;
pub mod compare;
mod conversation;
mod deterministic;
mod extract;
mod geval;
pub mod model_graded;
pub mod moderation;
mod overlap;
mod rag;
mod refusal;
mod safety;
pub mod scoring;
pub mod script;
mod service;
mod split;
mod sql;
mod structured;
mod tools_call;
mod webhook;

pub use aggregate::{GradingResult, aggregate};
pub use extract::json_objects;
pub use refusal::is_refusal_text;
pub use split::split_list;

use serde_json::Value as Json;
use std::sync::Arc;

/// Every assertion type promptfoo knows (without `not-`), and promptops' own safety
/// types (`pii`, `secrets`, `canary-leak`, `prompt-injection`): a type outside this list
/// is a typo; a type in it that promptops does not evaluate yet is reported as such.
const KNOWN_TYPES: &[&str] = &[
    "answer-relevance",
    "assert-set",
    "bleu",
    "canary-leak",
    "classifier",
    "contains",
    "contains-all",
    "contains-any",
    "contains-html",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "gleu",
    "guardrails",
    "icontains",
    "icontains-all",
    "icontains-any",
    "is-html",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "max-score",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "pi",
    "pii",
    "prompt-injection",
    "python",
    "regex",
    "rouge-n",
    "ruby",
    "secrets",
    "select-best",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "starts-with",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "webhook",
    "word-count",
];

/// The types promptops evaluates today.
const SUPPORTED_TYPES: &[&str] = &[
    "answer-relevance",
    "bleu",
    "canary-leak",
    "classifier",
    "contains",
    "contains-all",
    "contains-any",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "icontains",
    "icontains-all",
    "icontains-any",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "max-score",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "pii",
    "prompt-injection",
    "python",
    "regex",
    "rouge-n",
    "secrets",
    "select-best",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "starts-with",
    "webhook",
    "word-count",
];

pub fn is_known_type(kind: &str) -> bool {
    KNOWN_TYPES.contains(&kind)
}

pub fn is_supported_type(kind: &str) -> bool {
    SUPPORTED_TYPES.contains(&kind)
}

/// The closest known type to a misspelt one.
pub fn suggest_type(kind: &str) -> Option<&'static str> {
    promptops_core::diagnostic::did_you_mean(kind, KNOWN_TYPES.iter().copied())
}

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
    pub raw: Arc<Json>,
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
        let raw = Arc::new(raw);
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

    /// This assertion's verdict (`tokens`: what a grader model used for it).
    pub fn verdict(
        &self,
        pass: bool,
        score: f64,
        reason: String,
        tokens: crate::provider::TokenUsage,
    ) -> ComponentResult {
        ComponentResult {
            pass,
            score,
            reason,
            assertion: self.raw.clone(),
            weight: self.weight,
            metric: self.metric.clone(),
            tokens,
            named_scores: Default::default(),
            named_score_weights: Default::default(),
            component_results: Vec::new(),
        }
    }

    pub fn with_threshold(mut self, threshold: f64) -> Assertion {
        self.threshold = Some(threshold);
        Arc::make_mut(&mut self.raw)["threshold"] = crate::number(threshold);
        self
    }

    pub fn with_weight(mut self, weight: f64) -> Assertion {
        self.weight = weight;
        Arc::make_mut(&mut self.raw)["weight"] = crate::number(weight);
        self
    }

    pub fn with_metric(mut self, metric: &str) -> Assertion {
        self.metric = Some(metric.to_owned());
        Arc::make_mut(&mut self.raw)["metric"] = Json::String(metric.to_owned());
        self
    }
}

/// What a provider call produced, as assertions see it.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    /// The output as text (non-string outputs are JSON-encoded first).
    pub output: &'a str,
    /// The output as the provider returned it (a string, or tool calls as JSON).
    pub raw_output: Option<&'a Json>,
    pub latency_ms: Option<u64>,
    pub cost: Option<crate::pricing::NanoUsd>,
    /// The normalised finish reason (`stop`, `length`, `tool_calls`, `content_filter`).
    pub finish_reason: Option<&'a str>,
    /// The output tokens' log-probabilities, when the provider returned them.
    pub logprobs: Option<&'a [f64]>,
    /// The provider's `config` (its `tools`, for `is-valid-openai-tools-call`).
    pub provider_config: Option<&'a serde_json::Map<String, Json>>,
    /// What script assertions get as `context`.
    pub context: script::ScriptContext<'a>,
    /// Where `file://` references in assertion values are resolved from.
    pub base_dir: Option<&'a std::path::Path>,
}

impl Observed<'_> {
    fn raw_or_text(&self) -> Json {
        self.raw_output
            .cloned()
            .unwrap_or_else(|| Json::String(self.output.to_owned()))
    }

    fn base_dir(&self) -> &std::path::Path {
        self.base_dir.unwrap_or(std::path::Path::new("."))
    }
}

/// Evaluates an assertion that needs no model, no network and no subprocess (everything
/// but the types [`model_graded::is_model_graded`] routes, and the scripts
/// [`check_script`] runs). `Err` means the assertion itself is unusable
/// (promptfoo reports the row as an error).
pub fn check(a: &Assertion, obs: &Observed<'_>) -> Result<ComponentResult, AssertionError> {
    match a.kind.as_str() {
        "is-json" => structured::is_json(a, obs.output),
        "contains-json" => structured::contains_json(a, obs.output),
        "is-xml" => structured::is_xml(a, obs.output),
        "is-sql" => sql::is_sql(a, obs.output),
        "contains-sql" => sql::contains_sql(a, obs.output),
        "contains-xml" => structured::contains_xml(a, obs.output),
        "rouge-n" => overlap::rouge_n(a, obs.output),
        "bleu" => overlap::bleu(a, obs.output),
        "is-refusal" => Ok(refusal::check(a, obs.raw_output, obs.output)),
        "pii" | "secrets" | "canary-leak" | "prompt-injection" => safety::check(a, obs.output),
        "is-valid-openai-tools-call" => Ok(tools_call::check(
            a,
            &obs.raw_or_text(),
            obs.provider_config,
        )),
        "javascript" | "python" => Err(AssertionError(format!(
            "{} assertions are run by `check_script`",
            a.kind
        ))),
        _ => deterministic::check(a, obs),
    }
}

/// Whether an assertion is code ([`check_script`] runs it).
pub fn is_script(kind: &str) -> bool {
    matches!(kind, "javascript" | "python")
}

/// Evaluates a `javascript` or `python` assertion (a file may run as a subprocess, so
/// it is awaited). `Err`: a `javascript` file that cannot be loaded or throws, which
/// makes the row an error as in promptfoo.
pub async fn check_script(
    a: &Assertion,
    obs: &Observed<'_>,
) -> Result<ComponentResult, AssertionError> {
    let output = obs.raw_or_text();
    if a.kind == "python" {
        return Ok(script::run_python(a, &output, &obs.context, obs.base_dir()).await);
    }
    script::run_javascript(a, &output, &obs.context, obs.base_dir()).await
}

/// One assertion's verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ComponentResult {
    pub pass: bool,
    pub score: f64,
    pub reason: String,
    pub assertion: Arc<Json>,
    pub weight: f64,
    pub metric: Option<String>,
    /// Tokens a grader model used for this assertion.
    pub tokens: crate::provider::TokenUsage,
    /// Named scores this result brings besides its `metric`: what a script's
    /// GradingResult returned (`namedScores`), or an `assert-set`'s children's.
    #[serde(default)]
    pub named_scores: std::collections::BTreeMap<String, f64>,
    /// Their weights (`namedScoreWeights`); a name without one weighs 1.
    #[serde(default)]
    pub named_score_weights: std::collections::BTreeMap<String, f64>,
    /// Results nested in this one (an `assert-set`'s children, or the
    /// `componentResults` a script returned): reports list them after it, one level
    /// flattened, as promptfoo does.
    #[serde(default)]
    pub component_results: Vec<ComponentResult>,
}

/// An assertion that cannot be evaluated (a missing threshold, a value of the wrong
/// kind). promptfoo turns these into an error row, not a failed assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssertionError(pub String);
