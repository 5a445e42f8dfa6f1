//! `webhook`: the output is POSTed as `{output, context: {prompt, vars}}` to the URL in
//! `value`, which answers `{pass, score?, reason?}`. promptfoo 0.123.1:
//! `src/assertions/webhook.ts`. The request times out after `WEBHOOK_TIMEOUT`
//! milliseconds (default 5000), as in promptfoo.

use super::model_graded::Graded;
use super::service::post_json;
use super::{Assertion, AssertionError, ComponentResult};
use serde_json::{Value as Json, json};
use std::sync::LazyLock;
use std::time::Duration;

const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// One client for every webhook call (graders get theirs from the run's `Shared`; a
/// webhook has no grader, so it keeps its own, which pools connections the same way).
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(reqwest::Client::new);

fn timeout() -> Duration {
    let ms = std::env::var("WEBHOOK_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    Duration::from_millis(ms)
}

pub async fn check(a: &Assertion, g: &Graded<'_>) -> Result<ComponentResult, AssertionError> {
    let url = match &a.value {
        Some(Json::String(url)) if !url.is_empty() => url,
        _ => {
            return Err(AssertionError(
                "\"webhook\" assertion type must have a URL value".into(),
            ));
        }
    };
    // The output goes as text: `Graded` carries the output as the assertions read it
    // (a structured output is JSON text), where promptfoo sends the raw value.
    let body = json!({
        "output": g.output,
        "context": {"prompt": g.prompt, "vars": g.vars},
    });
    let failed = |message: String| {
        a.verdict(
            false,
            0.0,
            format!("Webhook error: {message}"),
            Default::default(),
        )
    };
    let reply = match post_json(&CLIENT, url, &[], &body, timeout()).await {
        Ok(reply) => reply,
        Err(e) => return Ok(failed(e)),
    };
    if !reply.ok() {
        return Ok(failed(format!("Webhook response status: {}", reply.status)));
    }
    let answer: Json = match serde_json::from_str(&reply.body) {
        Ok(v) => v,
        Err(e) => return Ok(failed(format!("the response is not JSON: {e}"))),
    };
    let Some(Json::Bool(answer_pass)) = answer.get("pass") else {
        return Ok(failed(
            "Webhook response must be a JSON object with a boolean \"pass\" property".into(),
        ));
    };
    let pass = *answer_pass != a.inverse;
    let score = match answer.get("score").and_then(Json::as_f64) {
        None => {
            if pass {
                1.0
            } else {
                0.0
            }
        }
        Some(s) if a.inverse => 1.0 - s,
        Some(s) => s,
    };
    let reason = match answer.get("reason") {
        Some(Json::String(r)) if !r.is_empty() => r.clone(),
        _ if pass => "Assertion passed".to_owned(),
        _ => format!("Webhook returned {}", a.inverse),
    };
    Ok(a.verdict(pass, score, reason, Default::default()))
}
