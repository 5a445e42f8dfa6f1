//! Which model grades which assertion, resolved before the run so a bad grader is a
//! config error, not a thousand error rows. As in promptfoo: the assertion's own
//! `provider`, else the test's `options.provider` (usually from `defaultTest`), else
//! `--grader`, else a default OpenAI grader when `OPENAI_API_KEY` is set.

use crate::assertions::Assertion;
use crate::assertions::model_graded::{Graders, is_model_graded};
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
                for a in children.into_iter().filter(|a| is_model_graded(&a.kind)) {
                    let spec = table.spec_for(a, &step.test.options);
                    let key = spec.to_string();
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        table.by_spec.entry(key)
                    {
                        slot.insert(
                            build(&spec, shared)
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
        self.by_spec
            .get(&self.spec_for(a, options).to_string())
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
            })
        }
        // `{text: ..., embedding: ...}` picks a provider per role.
        Json::Object(o)
            if !o.contains_key("id") && (o.contains_key("text") || o.contains_key("embedding")) =>
        {
            Ok(Graders {
                text: o.get("text").map(make).transpose()?,
                embedding: o.get("embedding").map(make).transpose()?,
            })
        }
        other => {
            let p = make(other)?;
            let embedding = p.is_embedding().then(|| p.clone());
            Ok(Graders {
                text: Some(p),
                embedding,
            })
        }
    }
}
