//! Sending a request again after 429 and 5xx answers: `Retry-After` (or
//! `retry-after-ms`) when the server gives one, else exponential backoff with jitter.

use std::time::Duration;

/// Retries after a 429.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 4;
/// Retries after a 5xx or a connection failure.
pub const MAX_SERVER_ERROR_RETRIES: u32 = 2;

/// Whether a status is worth another attempt.
pub fn retryable(status: u16) -> bool {
    status == 429 || status == 408 || status == 409 || status >= 500
}

/// A provider's answer, whatever its status.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

/// Sends the request `build` makes, again after 429 (up to [`MAX_RATE_LIMIT_RETRIES`]
/// times) and after 5xx, 408, 409 or a connection failure (up to
/// [`MAX_SERVER_ERROR_RETRIES`]); timeouts are not retried. The last answer is returned
/// whatever its status; `Err` only when no answer came at all.
pub async fn send(build: impl Fn() -> reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let mut rate_limited = 0;
    let mut server_errors = 0;
    loop {
        match build().send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let attempt = if code == 429 {
                    &mut rate_limited
                } else {
                    &mut server_errors
                };
                let budget = if code == 429 {
                    MAX_RATE_LIMIT_RETRIES
                } else {
                    MAX_SERVER_ERROR_RETRIES
                };
                if retryable(code) && *attempt < budget {
                    let wait = delay(Some(resp.headers()), *attempt);
                    *attempt += 1;
                    drop(resp);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let status = resp.status();
                let headers = resp.headers().clone();
                let text = resp.text().await.unwrap_or_default();
                return Ok(Answer {
                    status,
                    headers,
                    text,
                });
            }
            Err(e) if server_errors < MAX_SERVER_ERROR_RETRIES && !e.is_timeout() => {
                tokio::time::sleep(delay(None, server_errors)).await;
                server_errors += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long to wait before attempt `attempt + 1` (0-based retries so far).
pub fn delay(headers: Option<&reqwest::header::HeaderMap>, attempt: u32) -> Duration {
    if let Some(h) = headers {
        let number = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
        };
        if let Some(ms) = number("retry-after-ms") {
            return Duration::from_millis(ms.clamp(0.0, 60_000.0) as u64);
        }
        if let Some(s) = number("retry-after") {
            return Duration::from_millis((s * 1000.0).clamp(0.0, 60_000.0) as u64);
        }
    }
    let base_ms = 500.0 * 2f64.powi(attempt as i32);
    let jitter = 0.75 + 0.25 * pseudo_random();
    Duration::from_millis((base_ms * jitter).min(8_000.0) as u64)
}

/// A cheap random fraction in [0, 1) for jitter (not for anything that needs randomness).
fn pseudo_random() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_wins() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("0"));
        assert_eq!(delay(Some(&h), 3), Duration::ZERO);
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(delay(Some(&h), 0), Duration::from_millis(250));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = delay(None, 0);
        assert!(
            first >= Duration::from_millis(375) && first <= Duration::from_millis(500),
            "{first:?}"
        );
        assert!(delay(None, 10) <= Duration::from_secs(8));
        assert!(retryable(429) && retryable(503) && !retryable(400));
    }
}
