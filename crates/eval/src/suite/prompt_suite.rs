//! Prompt-centric suites: `evals/<module>/<name>.yaml` names one of the project's prompt
//! files (`prompt: <id>`) and lists `cases`; the prompt's own `metrics` become the gates
//! the run must meet. The file is turned into a promptfoo config and loaded as one.
//!
//! ```yaml
//! prompt: support.answer          # a prompt id from the prompts folder
//! providers: [openai:gpt-4o-mini] # optional: defaults to the prompt's `model`
//! metrics: {baseline_accuracy: 0.9}  # optional: overrides the prompt's metrics
//! cases:
//!   - description: answers from the article
//!     vars: {question: "How long do refunds take?", article: "..."}
//!     assert: [{type: icontains, value: 30 days}]
//! ```

use super::load::{REGISTRY_SCHEME, err, err_at, from_config, read_data_file};
use super::{PromptLibrary, Suite, SuiteError};
use serde_json::{Map, Value as Json, json};
use std::path::Path;

/// The keys a prompt-centric suite may have.
const KEYS: &[&str] = &[
    "prompt",
    "description",
    "providers",
    "targets",
    "cases",
    "tests",
    "defaultTest",
    "evaluateOptions",
    "env",
    "metrics",
];

/// What a prompt must meet, from its `metrics` (overridden by the suite's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    pub prompt_id: String,
    pub prompt_version: String,
    /// Lowest pass rate (0..1); every case must pass when unset.
    pub baseline_accuracy: Option<f64>,
    /// Highest mean cost per provider call, in USD.
    pub max_cost_per_call_usd: Option<f64>,
    /// Highest 95th-percentile latency, in milliseconds.
    pub max_latency_ms: Option<f64>,
}

/// Whether a config is a prompt-centric suite (it names one `prompt`, not `prompts`).
pub fn is_prompt_suite(config: &Json) -> bool {
    config.get("prompt").is_some() && config.get("prompts").is_none()
}

/// Loads a prompt-centric suite and the gates its prompt must meet.
pub fn load_prompt_suite(
    path: &Path,
    library: &dyn PromptLibrary,
) -> Result<(Suite, Gates), SuiteError> {
    prompt_suite_from_json(read_data_file(path)?, path, library)
}

/// A prompt-centric suite from its config as read by `read_config`.
pub fn prompt_suite_from_json(
    config: Json,
    path: &Path,
    library: &dyn PromptLibrary,
) -> Result<(Suite, Gates), SuiteError> {
    let file = path.display().to_string();
    let Json::Object(config) = config else {
        return Err(err(
            path,
            "a prompt suite is a mapping with `prompt` and `cases`",
        ));
    };
    for key in config.keys() {
        if !KEYS.contains(&key.as_str()) {
            let hint = promptops_core::diagnostic::did_you_mean(key, KEYS.iter().copied())
                .map_or(String::new(), |k| format!("; did you mean `{k}`?"));
            return Err(err_at(
                format!("{file}: {key}"),
                format!("unknown key `{key}` in a prompt suite{hint}"),
            ));
        }
    }
    let Some(Json::String(id)) = config.get("prompt") else {
        return Err(err_at(
            format!("{file}: prompt"),
            "`prompt` must be the id of a prompt file, e.g. `prompt: support.answer`",
        ));
    };
    let registry = library
        .prompt(id)
        .map_err(|e| err_at(format!("{file}: prompt"), e))?;
    let prompt = &registry.prompt;

    let providers = match config.get("providers").or_else(|| config.get("targets")) {
        Some(p) => p.clone(),
        None => json!([provider_from_model(prompt)]),
    };
    let cases = match (config.get("cases"), config.get("tests")) {
        (Some(c), _) | (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(err_at(
                format!("{file}: cases"),
                "a prompt suite needs `cases`: a list of {description, vars, assert}",
            ));
        }
    };
    let mut promptfoo = Map::new();
    let description = config
        .get("description")
        .cloned()
        .unwrap_or_else(|| json!(format!("{id} ({})", path.display())));
    promptfoo.insert("description".into(), description);
    promptfoo.insert(
        "prompts".into(),
        json!([format!("{REGISTRY_SCHEME}{}", prompt.id)]),
    );
    promptfoo.insert("providers".into(), providers);
    promptfoo.insert("tests".into(), cases);
    for key in ["defaultTest", "evaluateOptions", "env"] {
        if let Some(v) = config.get(key) {
            promptfoo.insert(key.into(), v.clone());
        }
    }
    let suite = from_config(promptfoo, None, path, Some(library))?;

    let metric = |name: &str| -> Result<Option<f64>, SuiteError> {
        let value = config
            .get("metrics")
            .and_then(|m| m.get(name))
            .or_else(|| prompt.metrics.get(name));
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                err_at(
                    format!("{file}: metrics.{name}"),
                    format!("`{name}` must be a number, not {v}"),
                )
            }),
        }
    };
    let gates = Gates {
        prompt_id: prompt.id.clone(),
        prompt_version: prompt.version.to_string(),
        baseline_accuracy: metric("baseline_accuracy")?,
        max_cost_per_call_usd: metric("max_cost_per_call_usd")?,
        max_latency_ms: metric("max_latency_ms")?,
    };
    Ok((suite, gates))
}

/// The provider a prompt's `model` names, with its params as config
/// (`openai` → the Chat Completions API, `anthropic` → the Messages API).
pub(crate) fn provider_from_model(prompt: &promptops_core::prompt::Prompt) -> Json {
    let model = &prompt.model;
    let id = match model.provider.as_deref() {
        Some("openai") => format!("openai:chat:{}", model.name),
        Some("anthropic") => format!("anthropic:messages:{}", model.name),
        Some(other) => format!("{other}:{}", model.name),
        // `model: openai:gpt-4o-mini` short form already carries the provider.
        None => model.name.clone(),
    };
    let config: Map<String, Json> = model
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({"id": id, "config": config})
}
