//! `classifier`: the output is sent to a HuggingFace classification model (the
//! Inference API's wire format, `POST {inputs}` answered by `[[{label, score}]]`), and the
//! expected class's score (or the best score, with no `value`) must reach the threshold
//! (default 1). promptfoo 0.123.1: `src/assertions/classifier.ts`,
//! `src/matchers/classification.ts`, `src/providers/huggingface.ts`.

use super::model_graded::{Graded, Graders};
use super::service::{id_and_config, js_string, post_json};
use super::{Assertion, AssertionError, ComponentResult};
use crate::js_number;
use crate::provider::Shared;
use serde_json::{Map, Value as Json, json};
use std::time::Duration;

const HF_INFERENCE_URL: &str = "https://router.huggingface.co/hf-inference";

/// The two HuggingFace tasks promptfoo calls classification.
#[derive(Debug, Clone, PartialEq)]
enum Task {
    /// `huggingface:text-classification:<model>`: one score per label.
    Text,
    /// `huggingface:token-classification:<model>`: entities, the best score per group.
    Token,
}

/// A classification endpoint, resolved from the grader provider before the run.
pub struct Classifier {
    id: String,
    task: Task,
    url: String,
    api_key: Option<String>,
    config: Map<String, Json>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Classifier {
    /// `spec` is the provider for the classification role (`Null` when none is set).
    pub fn from_spec(spec: &Json, shared: &Shared) -> Result<Classifier, String> {
        if spec.is_null() {
            return Err("no classification provider is configured: set the assertion's `provider` (or `options.provider.classification`) to `huggingface:text-classification:<model>`".into());
        }
        let (id, config) = id_and_config(spec)?;
        let parts: Vec<&str> = id.split(':').collect();
        let (task, model) = match parts.as_slice() {
            ["huggingface" | "hf", task, model @ ..] if !model.is_empty() => {
                let task = match *task {
                    "text-classification" => Task::Text,
                    "token-classification" => Task::Token,
                    _ => return Err(not_a_classifier(&id)),
                };
                (task, model.join(":"))
            }
            _ => return Err(not_a_classifier(&id)),
        };
        let url = config
            .get("apiEndpoint")
            .and_then(Json::as_str)
            .map_or_else(
                || format!("{HF_INFERENCE_URL}/models/{model}"),
                str::to_owned,
            );
        let api_key = config
            .get("apiKey")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .or_else(|| shared.env_var("HF_TOKEN"))
            .or_else(|| shared.env_var("HF_API_TOKEN"));
        Ok(Classifier {
            id,
            task,
            url,
            api_key,
            config,
            http: shared.http.clone(),
            timeout: shared.timeout,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The score of each label, in the order the service gave them.
    pub async fn classify(&self, text: &str) -> Result<Vec<(String, f64)>, String> {
        let body = match self.task {
            Task::Text => json!({"inputs": text, "parameters": {}}),
            Task::Token => json!({
                "inputs": text,
                "parameters": {"aggregation_strategy": self.config.get("aggregation_strategy").and_then(Json::as_str).unwrap_or("simple")},
                "options": {
                    "use_cache": self.config.get("use_cache").cloned().unwrap_or(Json::Bool(true)),
                    "wait_for_model": self.config.get("wait_for_model").cloned().unwrap_or(Json::Bool(false)),
                },
            }),
        };
        let mut headers = Vec::new();
        if let Some(key) = &self.api_key {
            headers.push(("authorization".to_owned(), format!("Bearer {key}")));
        }
        let reply = post_json(&self.http, &self.url, &headers, &body, self.timeout)
            .await
            .map_err(|e| format!("API call error: {e}"))?;
        let data: Json = serde_json::from_str(&reply.body).map_err(|e| {
            format!(
                "API call error: {} {}: not JSON ({e}). Output:\n{}",
                reply.status, reply.status_text, reply.body
            )
        })?;
        if let Some(error) = data.as_object().and_then(|o| o.get("error")) {
            return Err(format!("API call error: {}", js_string(error)));
        }
        match self.task {
            Task::Text => label_scores(&data),
            Task::Token => entity_scores(&data),
        }
        .ok_or_else(|| format!("Malformed response data: {}", js_string(&data)))
    }
}

fn not_a_classifier(id: &str) -> String {
    format!(
        "Provider {id} is not a valid classification provider for 'classification check'; use `huggingface:text-classification:<model>`"
    )
}

/// `[{label, score}, ...]` or the same nested once (`[[...]]`, one row).
fn label_scores(data: &Json) -> Option<Vec<(String, f64)>> {
    let items = match data.as_array()?.as_slice() {
        [Json::Array(row)] => row,
        _ => data.as_array()?,
    };
    if items.is_empty() {
        return None;
    }
    let mut scores: Vec<(String, f64)> = Vec::new();
    for item in items {
        let label = item.get("label")?.as_str()?;
        let score = item.get("score")?.as_f64().filter(|s| s.is_finite())?;
        set(&mut scores, label, score, false);
    }
    Some(scores)
}

/// `[{entity_group, score}, ...]`: the best score of each group.
fn entity_scores(data: &Json) -> Option<Vec<(String, f64)>> {
    let mut scores: Vec<(String, f64)> = Vec::new();
    for item in data.as_array()? {
        let group = item
            .get("entity_group")
            .map_or_else(|| "undefined".to_owned(), js_string);
        let score = item.get("score").and_then(Json::as_f64).unwrap_or(0.0);
        set(&mut scores, &group, score, true);
    }
    Some(scores)
}

/// Sets a label's score; a label seen again is overwritten in place (or kept when
/// `keep_max` and the new score is lower).
fn set(scores: &mut Vec<(String, f64)>, label: &str, score: f64, keep_max: bool) {
    match scores.iter_mut().find(|(l, _)| l == label) {
        Some((_, s)) if !keep_max || score > *s => *s = score,
        Some(_) => {}
        None => scores.push((label.to_owned(), score)),
    }
}

pub async fn check(
    a: &Assertion,
    g: &Graded<'_>,
    graders: &Graders,
) -> Result<ComponentResult, AssertionError> {
    let expected = match &a.value {
        None => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(AssertionError(
                "\"classifier\" assertion type must have a string value or be undefined".into(),
            ));
        }
    };
    let classifier = graders.classifier.as_deref().ok_or_else(|| {
        AssertionError(
            "`classifier` needs a provider such as `huggingface:text-classification:<model>` (the assertion's `provider`)".into(),
        )
    })?;
    let threshold = a.threshold.unwrap_or(1.0);
    let scores = match classifier.classify(g.output).await {
        Ok(scores) if scores.is_empty() => {
            return Ok(grader_failure(
                a,
                "No classification scores returned".into(),
            ));
        }
        Ok(scores) => scores,
        // A failed call fails the assertion, never inverted (promptfoo's grader error).
        Err(e) => return Ok(grader_failure(a, e)),
    };
    let score = match expected {
        None => scores
            .iter()
            .map(|(_, s)| *s)
            .fold(f64::NEG_INFINITY, f64::max),
        Some(label) => scores
            .iter()
            .find(|(l, _)| l == label)
            .map_or(0.0, |(_, s)| *s),
    };
    let pass = score >= threshold - f64::EPSILON;
    let op = if pass { ">=" } else { "<" };
    let t = js_number(threshold);
    let reason = match expected {
        None => format!("Maximum classification score {score:.2} {op} {t}"),
        Some(label) => format!("Classification {label} has score {score:.2} {op} {t}"),
    };
    let (pass, score) = if a.inverse {
        (!pass, 1.0 - score)
    } else {
        (pass, score)
    };
    Ok(a.verdict(pass, score, reason, Default::default()))
}

fn grader_failure(a: &Assertion, reason: String) -> ComponentResult {
    a.verdict(false, 0.0, reason, Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::PriceTable;
    use std::sync::Arc;

    fn shared(env: Map<String, Json>) -> Shared {
        Shared::new(Arc::new(PriceTable::default()), env, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn provider_ids() {
        let c = Classifier::from_spec(
            &json!("huggingface:text-classification:org/model:v2"),
            &shared(Map::new()),
        )
        .unwrap();
        assert_eq!(c.url, format!("{HF_INFERENCE_URL}/models/org/model:v2"));
        assert_eq!((c.task.clone(), c.api_key.clone()), (Task::Text, None));
        let env = json!({"HF_API_TOKEN": "t"}).as_object().unwrap().clone();
        let c = Classifier::from_spec(
            &json!({"id": "hf:token-classification:m", "config": {"apiEndpoint": "http://x/y"}}),
            &shared(env),
        )
        .unwrap();
        assert_eq!(
            (c.url.as_str(), c.api_key.as_deref()),
            ("http://x/y", Some("t"))
        );
        for bad in [
            json!("openai:chat:gpt-4o-mini"),
            json!("huggingface:text-generation:m"),
            json!("huggingface:text-classification"),
        ] {
            let e = Classifier::from_spec(&bad, &shared(Map::new()))
                .err()
                .unwrap();
            assert!(e.contains("not a valid classification provider"), "{e}");
        }
        assert!(Classifier::from_spec(&Json::Null, &shared(Map::new())).is_err());
    }

    #[test]
    fn answers() {
        let nested =
            json!([[{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]]);
        assert_eq!(
            label_scores(&nested).unwrap(),
            [("POSITIVE".to_owned(), 0.9), ("NEGATIVE".to_owned(), 0.1)]
        );
        assert_eq!(
            label_scores(&json!([{"label": "a", "score": 1}]))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(label_scores(&json!([])), None);
        assert_eq!(label_scores(&json!([{"label": "a"}])), None);
        assert_eq!(label_scores(&json!({"label": "a", "score": 1})), None);
        let entities = json!([
            {"entity_group": "PER", "score": 0.5},
            {"entity_group": "PER", "score": 0.75},
            {"entity_group": "LOC", "score": 0.25},
        ]);
        assert_eq!(
            entity_scores(&entities).unwrap(),
            [("PER".to_owned(), 0.75), ("LOC".to_owned(), 0.25)]
        );
    }
}
