//! Which model grades which assertion, resolved before the run so a bad grader is a
//! config error, not a thousand error rows. As in promptfoo: the assertion's own
//! `provider`, else the test's `options.provider` (usually from `defaultTest`), else
//! `--grader`, else a default OpenAI grader when `OPENAI_API_KEY` is set.
//!
//! `classifier` and `moderation` are graded by a classification or moderation service
//! rather than a chat model: the same provider setting picks it, either directly
//! (`huggingface:text-classification:<model>`, `openai:moderation`) or through the
//! `classification` / `moderation` entry of a `{text: ..., moderation: ...}` map;
//! `moderation` defaults to OpenAI's. `webhook` needs no grader.

use crate::assertions::Assertion;
use crate::assertions::classifier::Classifier;
use crate::assertions::model_graded::{GraderRole, Graders, grader_role};
use crate::assertions::moderation::Moderator;
use crate::provider::{Provider, Shared};
use crate::suite::{AssertItem, Suite, provider_spec};
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use std::sync::Arc;

const DEFAULT_TEXT_GRADER: &str = "openai:chat:gpt-4o-mini";
const DEFAULT_EMBEDDING_GRADER: &str = "openai:embedding:text-embedding-3-small";

pub struct GraderTable {
    by_spec: HashMap<String, Graders>,
    cli: Option<Json>,
}

impl GraderTable {
    /// Builds every grader the suite's model-graded assertions need.
    pub fn prepare(
        suite: &Suite,
        cli: Option<Json>,
        shared: &Shared,
    ) -> Result<GraderTable, String> {
        let mut table = GraderTable {
            by_spec: HashMap::new(),
            cli,
        };
        for step in suite.steps.iter() {
            let step = step.map_err(|e| e.to_string())?;
            for item in &step.test.asserts {
                let children: Vec<&Assertion> = match item {
                    AssertItem::One(a) => vec![a],
                    AssertItem::Set { assertions, .. } => assertions.iter().collect(),
                };
                for a in children {
                    let Some(role) = grader_role(&a.kind) else {
                        continue;
                    };
                    let spec = table.spec_for(a, &step.test.options);
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        table.by_spec.entry(key(role, &spec))
                    {
                        slot.insert(
                            build_role(role, &spec, shared)
                                .map_err(|e| format!("grader for `{}`: {e}", a.kind))?,
                        );
                    }
                }
            }
        }
        Ok(table)
    }

    /// The graders for an assertion of a test with `options`.
    pub fn for_assertion(&self, a: &Assertion, options: &Map<String, Json>) -> Graders {
        let Some(role) = grader_role(&a.kind) else {
            return Graders::default();
        };
        self.by_spec
            .get(&key(role, &self.spec_for(a, options)))
            .cloned()
            .unwrap_or_default()
    }

    fn spec_for(&self, a: &Assertion, options: &Map<String, Json>) -> Json {
        a.raw
            .get("provider")
            .or_else(|| options.get("provider"))
            .or(self.cli.as_ref())
            .cloned()
            .unwrap_or(Json::Null)
    }
}

/// The table key of a role's graders (text graders keep the bare spec).
fn key(role: GraderRole, spec: &Json) -> String {
    match role {
        GraderRole::Text => spec.to_string(),
        other => format!("{}:{spec}", other.key()),
    }
}

/// `{text: ..., embedding: ..., classification: ..., moderation: ...}`: a provider per role.
fn is_role_map(o: &Map<String, Json>) -> bool {
    !o.contains_key("id")
        && ["text", "embedding", "classification", "moderation"]
            .iter()
            .any(|k| o.contains_key(*k))
}

fn build_role(role: GraderRole, spec: &Json, shared: &Shared) -> Result<Graders, String> {
    let own = match spec {
        Json::Object(o) if role != GraderRole::Text && is_role_map(o) => {
            o.get(role.key()).cloned().ok_or_else(|| {
                format!(
                    "Invalid provider definition for output type '{}': {spec}; add a `{}` entry",
                    role.key(),
                    role.key()
                )
            })?
        }
        other => other.clone(),
    };
    match role {
        GraderRole::Text => build(spec, shared),
        GraderRole::Classification => Ok(Graders {
            classifier: Some(Arc::new(Classifier::from_spec(&own, shared)?)),
            ..Graders::default()
        }),
        GraderRole::Moderation => Ok(Graders {
            moderation: Some(Arc::new(Moderator::from_spec(&own, shared)?)),
            ..Graders::default()
        }),
    }
}

fn build(spec: &Json, shared: &Shared) -> Result<Graders, String> {
    let make = |s: &Json| -> Result<Arc<Provider>, String> {
        Ok(Arc::new(Provider::new(provider_spec(s)?, shared.clone())?))
    };
    match spec {
        Json::Null => {
            if shared.env_var("OPENAI_API_KEY").is_none() {
                return Err("no grader model is configured: set `defaultTest.options.provider`, the assertion's `provider`, or --grader (or OPENAI_API_KEY for the default OpenAI grader)".into());
            }
            Ok(Graders {
                text: Some(make(&json!(DEFAULT_TEXT_GRADER))?),
                embedding: Some(make(&json!(DEFAULT_EMBEDDING_GRADER))?),
                ..Graders::default()
            })
        }
        // `{text: ..., embedding: ...}` picks a provider per role.
        Json::Object(o) if is_role_map(o) => Ok(Graders {
            text: o.get("text").map(make).transpose()?,
            embedding: o.get("embedding").map(make).transpose()?,
            ..Graders::default()
        }),
        other => {
            let p = make(other)?;
            let embedding = p.is_embedding().then(|| p.clone());
            Ok(Graders {
                text: Some(p),
                embedding,
                ..Graders::default()
            })
        }
    }
}
