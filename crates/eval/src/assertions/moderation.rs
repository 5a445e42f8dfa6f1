//! `moderation`: the output is sent to OpenAI's moderation endpoint (`POST
//! {base}/moderations`, answered by `results[].{flagged, categories, category_scores}`);
//! it fails when a flagged category (one of `value`, when a list is given) comes back.
//! promptfoo 0.123.1: `src/assertions/moderation.ts`, `src/matchers/moderation.ts`,
//! `src/providers/openai/moderation.ts`. Only OpenAI's API is spoken (not Azure's,
//! Replicate's LlamaGuard or others).

use super::model_graded::{Graded, Graders};
use super::service::{id_and_config, post_json};
use super::{Assertion, AssertionError, ComponentResult};
use crate::provider::Shared;
use serde_json::{Map, Value as Json, json};
use std::time::Duration;

const DEFAULT_MODEL: &str = "omni-moderation-latest";
/// The models that take `[{type: text, text}]` input (and images, which we never send).
const MULTIMODAL_MODELS: &[&str] = &["omni-moderation-latest", "omni-moderation-2024-09-26"];

/// A moderation endpoint, resolved from the grader provider before the run.
pub struct Moderator {
    id: String,
    model: String,
    url: String,
    headers: Vec<(String, String)>,
    http: reqwest::Client,
    timeout: Duration,
}

/// A category the service flagged, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub code: String,
    pub confidence: f64,
}

impl Moderator {
    /// `spec` is the provider for the moderation role (`Null`: OpenAI's default model).
    pub fn from_spec(spec: &Json, shared: &Shared) -> Result<Moderator, String> {
        let (id, config) = if spec.is_null() {
            (format!("openai:moderation:{DEFAULT_MODEL}"), Map::new())
        } else {
            id_and_config(spec)?
        };
        let model = match id.split_once(':') {
            Some(("openai", "moderation")) => DEFAULT_MODEL.to_owned(),
            Some(("openai", rest)) => match rest.strip_prefix("moderation:") {
                Some(model) if !model.is_empty() => model.to_owned(),
                _ => return Err(not_a_moderator(&id)),
            },
            _ => return Err(not_a_moderator(&id)),
        };
        let setting = |key: &str| config.get(key).and_then(Json::as_str).map(str::to_owned);
        let api_key = setting("apiKey")
            .or_else(|| setting("apiKeyEnvar").and_then(|name| shared.env_var(&name)))
            .or_else(|| shared.env_var("OPENAI_API_KEY"))
            .ok_or_else(|| {
                format!("provider `{id}`: no API key; set OPENAI_API_KEY or `config.apiKey`")
            })?;
        // promptfoo's order: config apiHost, config apiBaseUrl, OPENAI_API_HOST (a host),
        // then OPENAI_API_BASE_URL / OPENAI_BASE_URL (URLs).
        let base = setting("apiHost")
            .map(|host| format!("https://{host}/v1"))
            .or_else(|| setting("apiBaseUrl"))
            .or_else(|| {
                shared
                    .env_var("OPENAI_API_HOST")
                    .map(|host| format!("https://{host}/v1"))
            })
            .or_else(|| shared.env_var("OPENAI_API_BASE_URL"))
            .or_else(|| shared.env_var("OPENAI_BASE_URL"))
            .unwrap_or_else(|| "https://api.openai.com/v1".into());
        let mut headers = vec![("authorization".to_owned(), format!("Bearer {api_key}"))];
        if let Some(org) = setting("organization").or_else(|| shared.env_var("OPENAI_ORGANIZATION"))
        {
            headers.push(("openai-organization".into(), org));
        }
        if let Some(Json::Object(extra)) = config.get("headers") {
            for (name, value) in extra {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                headers.push((name.to_ascii_lowercase(), value));
            }
        }
        Ok(Moderator {
            id,
            model,
            url: format!("{}/moderations", base.trim_end_matches('/')),
            headers,
            http: shared.http.clone(),
            timeout: shared.timeout,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The flagged categories (each with its highest score over the results), in the
    /// order the service listed them. `Err` is the reason a grader failure gives.
    pub async fn moderate(&self, text: &str) -> Result<Vec<Flag>, String> {
        let input = if MULTIMODAL_MODELS.contains(&self.model.as_str()) {
            json!([{"type": "text", "text": text}])
        } else {
            json!(text)
        };
        let body = json!({"model": self.model, "input": input});
        let reply = post_json(&self.http, &self.url, &self.headers, &body, self.timeout)
            .await
            .map_err(|e| format!("API call error: {e}"))?;
        if !reply.ok() {
            return Err(format!(
                "API error: {} {}: {}",
                reply.status, reply.status_text, reply.body
            ));
        }
        let data: Json = serde_json::from_str(&reply.body).map_err(|e| {
            format!(
                "API call error: the answer is not JSON ({e}): {}",
                reply.body
            )
        })?;
        Ok(flags(&data))
    }
}

fn not_a_moderator(id: &str) -> String {
    format!(
        "Provider {id} is not a valid moderation provider for 'moderation check'; use `openai:moderation` (or `options.provider.moderation`)"
    )
}

/// The categories set to `true` in flagged results, each with its highest score.
fn flags(data: &Json) -> Vec<Flag> {
    let mut out: Vec<Flag> = Vec::new();
    let results = data
        .get("results")
        .and_then(Json::as_array)
        .map_or(&[][..], Vec::as_slice);
    for result in results {
        if result.get("flagged") != Some(&Json::Bool(true)) {
            continue;
        }
        let Some(categories) = result.get("categories").and_then(Json::as_object) else {
            continue;
        };
        for (code, flagged) in categories {
            if flagged != &Json::Bool(true) {
                continue;
            }
            let confidence = result
                .get("category_scores")
                .and_then(|s| s.get(code))
                .and_then(Json::as_f64)
                .unwrap_or(0.0);
            match out.iter_mut().find(|f| &f.code == code) {
                Some(f) if confidence > f.confidence => f.confidence = confidence,
                Some(_) => {}
                None => out.push(Flag {
                    code: code.clone(),
                    confidence,
                }),
            }
        }
    }
    out
}

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    // promptfoo checks the value as written: absent, or a list whose first item is text.
    let categories: Vec<&str> = match a.raw.get("value") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) if items.first().is_some_and(Json::is_string) => {
            items.iter().filter_map(Json::as_str).collect()
        }
        Some(_) => {
            return Err(AssertionError(
                "moderation assertion value must be a string array if set".into(),
            ));
        }
    };
    let (pass, reason) = if g.output.is_empty() {
        (true, "No output to moderate".to_owned())
    } else {
        let moderator = graders.moderation.as_deref().ok_or_else(|| {
            AssertionError("`moderation` needs a moderation provider (`openai:moderation`)".into())
        })?;
        match moderator.moderate(g.output).await {
            // A failed call fails the assertion, never inverted (promptfoo's grader error).
            Err(e) => {
                return Ok(a.verdict(
                    false,
                    0.0,
                    format!("Moderation API error: {e}"),
                    Default::default(),
                ));
            }
            Ok(flags) if flags.is_empty() => (true, "No moderation flags detected".to_owned()),
            Ok(flags) => {
                let relevant: Vec<&str> = flags
                    .iter()
                    .map(|f| f.code.as_str())
                    .filter(|code| categories.is_empty() || categories.contains(code))
                    .collect();
                if relevant.is_empty() {
                    (true, "No relevant moderation flags detected".to_owned())
                } else {
                    (
                        false,
                        format!("Moderation flags detected: {}", relevant.join(", ")),
                    )
                }
            }
        }
    };
    let score = if pass { 1.0 } else { 0.0 };
    let (pass, score) = if a.inverse {
        (!pass, 1.0 - score)
    } else {
        (pass, score)
    };
    Ok(a.verdict(pass, score, reason, Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::PriceTable;
    use std::sync::Arc;

    fn shared(env: Json) -> Shared {
        Shared::new(
            Arc::new(PriceTable::default()),
            env.as_object().unwrap().clone(),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    #[test]
    fn flagged_categories_keep_their_best_score() {
        let data = json!({"results": [
            {"flagged": true, "categories": {"harassment": true, "violence": false, "hate": true}, "category_scores": {"harassment": 0.5, "violence": 0.9, "hate": 0.7}},
            {"flagged": false, "categories": {"sexual": true}, "category_scores": {"sexual": 0.99}},
            {"flagged": true, "categories": {"harassment": true}, "category_scores": {"harassment": 0.75}},
        ]});
        assert_eq!(
            flags(&data),
            [
                Flag {
                    code: "harassment".into(),
                    confidence: 0.75
                },
                Flag {
                    code: "hate".into(),
                    confidence: 0.7
                },
            ]
        );
        assert!(flags(&json!({"results": []})).is_empty());
        assert!(flags(&json!({})).is_empty());
    }

    #[test]
    fn endpoints() {
        let env = json!({"OPENAI_API_KEY": "k", "OPENAI_API_HOST": "proxy.example"});
        let m = Moderator::from_spec(&Json::Null, &shared(env)).unwrap();
        assert_eq!(m.url, "https://proxy.example/v1/moderations");
        assert_eq!(m.model, DEFAULT_MODEL);
        let env = json!({"OPENAI_API_KEY": "k", "OPENAI_ORGANIZATION": "org"});
        let m = Moderator::from_spec(
            &json!({"id": "openai:moderation:text-moderation-latest", "config": {"apiBaseUrl": "http://h/v1/", "headers": {"X-A": "b"}}}),
            &shared(env),
        )
        .unwrap();
        assert_eq!(
            (m.url.as_str(), m.model.as_str()),
            ("http://h/v1/moderations", "text-moderation-latest")
        );
        assert!(
            m.headers
                .contains(&("openai-organization".into(), "org".into()))
        );
        assert!(m.headers.contains(&("x-a".into(), "b".into())));
        let e = Moderator::from_spec(&Json::Null, &shared(json!({})))
            .err()
            .unwrap();
        assert!(e.contains("OPENAI_API_KEY"), "{e}");
        let e = Moderator::from_spec(
            &json!("openai:chat:gpt-4o-mini"),
            &shared(json!({"OPENAI_API_KEY": "k"})),
        )
        .err()
        .unwrap();
        assert!(e.contains("not a valid moderation provider"), "{e}");
    }
}
