//! What the network-backed assertions (`classifier`, `moderation`, `webhook`) share: a
//! JSON POST with retries, and reading a grader provider given as an id or `{id, config}`.
//!
//! The retry rule is the one our model providers follow (`provider/retry.rs`): a 429 is
//! sent again up to 4 times (after `Retry-After` / `retry-after-ms`, else a backoff), a
//! connection failure up to 2 times; a timeout is not retried. promptfoo's
//! `fetchWithRetries` waits longer (5 s, doubling) and retries a failed connection 4 times.

use serde_json::{Map, Value as Json};
use std::time::Duration;

const MAX_RATE_LIMIT_RETRIES: u32 = 4;
const MAX_CONNECTION_RETRIES: u32 = 2;

/// An HTTP answer, whatever its status.
pub(super) struct Reply {
    pub status: u16,
    pub status_text: String,
    pub body: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs `body` as JSON to `url` with `headers`. `Err` when no answer came (the message
/// names the URL and the last failure).
pub(super) async fn post_json(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &Json,
    timeout: Duration,
) -> Result<Reply, String> {
    let mut rate_limited = 0;
    let mut failed = 0;
    loop {
        let mut request = http
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(resp) if resp.status().as_u16() == 429 && rate_limited < MAX_RATE_LIMIT_RETRIES => {
                let wait = retry_after(resp.headers()).unwrap_or_else(|| backoff(rate_limited));
                rate_limited += 1;
                drop(resp);
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => {
                let status = resp.status();
                let body = resp
                    .text()
                    .await
                    .map_err(|e| format!("reading the answer from {url}: {e}"))?;
                return Ok(Reply {
                    status: status.as_u16(),
                    status_text: status.canonical_reason().unwrap_or("").to_owned(),
                    body,
                });
            }
            Err(e) if e.is_timeout() => {
                return Err(format!(
                    "Request to {url} timed out after {} ms",
                    timeout.as_millis()
                ));
            }
            Err(_) if failed < MAX_CONNECTION_RETRIES => {
                tokio::time::sleep(backoff(failed)).await;
                failed += 1;
            }
            Err(e) => {
                return Err(format!(
                    "Request failed after {MAX_CONNECTION_RETRIES} retries: {}",
                    error_chain(&e)
                ));
            }
        }
    }
}

/// The error with its causes (reqwest's own message rarely says what went wrong).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((500u64 << attempt.min(4)).min(8_000))
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let wait = get("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| get("retry-after"))?;
    (wait.is_finite() && wait >= 0.0).then(|| Duration::from_secs_f64(wait.min(60.0)))
}

/// A grader provider given as an id string or `{id, config}`.
pub(super) fn id_and_config(spec: &Json) -> Result<(String, Map<String, Json>), String> {
    match spec {
        Json::String(id) => Ok((id.clone(), Map::new())),
        Json::Object(o) => {
            let Some(id) = o.get("id").and_then(Json::as_str) else {
                return Err(format!(
                    "a grader provider object needs an `id`, e.g. `{{id: huggingface:text-classification:<model>}}`; got {spec}"
                ));
            };
            let config = match o.get("config") {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(c)) => c.clone(),
                Some(_) => return Err(format!("provider `{id}`: `config` must be a mapping")),
            };
            Ok((id.to_owned(), config))
        }
        other => Err(format!(
            "a grader provider is an id string or `{{id, config}}`, not {other}"
        )),
    }
}

/// JavaScript's `String(value)` for the values error messages print.
pub(super) fn js_string(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => crate::js_number(n.as_f64().unwrap_or(0.0)),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Json::Object(_) => "[object Object]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_javascript_strings() {
        assert_eq!(
            js_string(&json!([[{"a": 1}], 2, null])),
            "[object Object],2,"
        );
        assert_eq!(js_string(&json!("x")), "x");
        assert_eq!(js_string(&json!(0.5)), "0.5");
    }

    #[test]
    fn specs() {
        assert_eq!(id_and_config(&json!("a:b")).unwrap().0, "a:b");
        let (id, config) = id_and_config(&json!({"id": "x", "config": {"k": 1}})).unwrap();
        assert_eq!((id.as_str(), config["k"].clone()), ("x", json!(1)));
        assert!(id_and_config(&json!({"config": {}})).is_err());
        assert!(id_and_config(&json!(3)).is_err());
    }

    #[test]
    fn waits() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(10), Duration::from_millis(8000));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }
}
