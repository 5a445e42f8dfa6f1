//! A served prompt as an application holds it: what the registry answered, and the
//! prompt itself parsed once with the CLI's own reader, so `render` is the CLI's
//! renderer (`promptops render`) to the byte.

use super::SdkError;
use promptops_api::Resolved;
use promptops_core::render::{self, Inputs, Rendered};
use promptops_core::validate::{FileReport, Rules, check_source};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What an environment serves for one prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    inner: Arc<Parsed>,
}

#[derive(Debug)]
struct Parsed {
    resolved: Resolved,
    report: FileReport,
}

impl Prompt {
    /// Checks an answer: its content must be a valid prompt whose hash is the one
    /// announced (a copy damaged on disk or in transit is refused).
    pub fn from_resolved(resolved: Resolved) -> Result<Prompt, SdkError> {
        // The canonical content is JSON, which is YAML: the CLI's reader parses it.
        let text = serde_json::to_vec(&resolved.content)
            .map_err(|e| SdkError::invalid(&resolved.id, e.to_string()))?;
        let path = format!("{}@{}", resolved.id, resolved.version);
        let report = check_source(&path, None, &text, &Rules::default());
        let Some(prompt) = report.valid_prompt() else {
            let first = report
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map(|d| d.message.clone())
                .unwrap_or_else(|| "not a prompt".into());
            return Err(SdkError::invalid(&resolved.id, first));
        };
        let hash = promptops_core::canonical::content_hash(prompt).to_string();
        if hash != resolved.content_hash {
            return Err(SdkError::invalid(
                &resolved.id,
                format!(
                    "its content hashes to {hash}, not to the {} it was served with",
                    resolved.content_hash
                ),
            ));
        }
        Ok(Prompt {
            inner: Arc::new(Parsed { resolved, report }),
        })
    }

    /// A prompt file's source (`name` is what errors call it, e.g. its path), read and
    /// checked exactly as `promptops validate` and the registry read it, then held as
    /// the registry would serve it (environment `local`): rendering it is rendering
    /// what the registry would serve for that file. For rendering local prompt files,
    /// and for the shared rendering corpus (`sdk/fixtures/render.json`) every SDK runs.
    pub fn from_source(name: &str, source: &[u8]) -> Result<Prompt, SdkError> {
        let report = check_source(name, None, source, &Rules::default());
        let Some(prompt) = report.valid_prompt() else {
            let errors: Vec<String> = report
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect();
            let detail = if errors.is_empty() {
                format!("{name}: not a prompt file")
            } else {
                errors.join("\n")
            };
            return Err(SdkError::invalid(name, detail));
        };
        let canonical = promptops_core::canonical::canonical_json(prompt);
        let content: Json = serde_json::from_str(&canonical)
            .map_err(|e| SdkError::invalid(name, format!("its canonical form: {e}")))?;
        Prompt::from_resolved(Resolved {
            id: prompt.id.clone(),
            environment: "local".into(),
            version: prompt.version.to_string(),
            content_hash: promptops_core::canonical::content_hash(prompt).to_string(),
            model: content.get("model").cloned().unwrap_or(Json::Null),
            variables: content.get("variables").cloned().unwrap_or(Json::Null),
            content,
        })
    }

    pub fn id(&self) -> &str {
        &self.inner.resolved.id
    }

    pub fn version(&self) -> &str {
        &self.inner.resolved.version
    }

    pub fn content_hash(&self) -> &str {
        &self.inner.resolved.content_hash
    }

    /// The environment that serves it.
    pub fn environment(&self) -> &str {
        &self.inner.resolved.environment
    }

    /// `{provider, name, params}`.
    pub fn model(&self) -> &Json {
        &self.inner.resolved.model
    }

    /// Declared variables: name → `{type, required, default}`.
    pub fn variables(&self) -> &Json {
        &self.inner.resolved.variables
    }

    /// The registry's answer, as it came.
    pub fn resolved(&self) -> &Resolved {
        &self.inner.resolved
    }

    /// Renders the prompt with `vars` (a map or a struct): text for a template prompt,
    /// messages for a chat prompt. Variables are checked against their declared types
    /// and defaults applied, exactly as `promptops render` does.
    pub fn render<V: Serialize>(&self, vars: V) -> Result<Rendered, SdkError> {
        let prompt = self
            .inner
            .report
            .valid_prompt()
            .ok_or_else(|| SdkError::invalid(self.id(), "not a prompt".into()))?;
        let values = match serde_json::to_value(vars) {
            Ok(Json::Object(map)) => map.into_iter().collect::<BTreeMap<_, _>>(),
            Ok(Json::Null) => BTreeMap::new(),
            Ok(other) => {
                return Err(SdkError::Render(format!(
                    "variables must be a map of names to values, not {other}"
                )));
            }
            Err(e) => return Err(SdkError::Render(format!("variables: {e}"))),
        };
        let inputs = Inputs {
            text: BTreeMap::new(),
            values,
        };
        let bound = render::bind(prompt, &self.inner.report.used_variables, &inputs).map_err(
            |problems| {
                SdkError::Render(
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            },
        )?;
        render::render(prompt, &bound.values).map_err(|e| SdkError::Render(e.to_string()))
    }
}
