//! Per-provider request pacing: `config.maxRequestsPerMinute` / `config.requestsPerSecond`
//! space one provider's calls out across all of a run's workers, so a suite run with a
//! high `-j` stays under a server's quota instead of living on 429 retries.
//!
//! A token bucket of capacity one: each call reserves the next free slot (one interval
//! after the previous reservation, or now if the bucket has refilled) and sleeps until
//! it. Capacity one, not a burst: a server counting requests in a sliding window would
//! see a burst of N as N requests in no time, which is exactly what trips its limit.
//! Reservation order is the order calls arrive in, so no worker starves, and waiting is
//! a tokio timer (no busy loop).

use serde_json::{Map, Value as Json};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The config keys that set a rate (promptfoo has no per-provider rate setting; it only
/// reacts to 429s, which promptops does too, see `retry`).
pub const RATE_KEYS: &[&str] = &["maxRequestsPerMinute", "requestsPerSecond"];

/// A rate setting that is not a positive number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`config.{key}` must be a number above 0 (requests per {unit}), not {value}")]
pub struct RateLimitError {
    pub key: &'static str,
    pub unit: &'static str,
    pub value: String,
}

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    /// The earliest time the next call may start.
    next_slot: Mutex<Instant>,
}

impl RateLimiter {
    /// At most `rate` calls per second, evenly spaced.
    pub fn per_second(rate: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// The limiter a provider config asks for, if any. When both keys are set the
    /// stricter rate wins.
    pub fn from_config(config: &Map<String, Json>) -> Result<Option<RateLimiter>, RateLimitError> {
        let mut rate: Option<f64> = None;
        for (key, unit, per_second) in [
            ("maxRequestsPerMinute", "minute", 1.0 / 60.0),
            ("requestsPerSecond", "second", 1.0),
        ] {
            let Some(value) = config.get(key).filter(|v| !v.is_null()) else {
                continue;
            };
            // YAML and env-substituted configs often carry numbers as strings.
            let number = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n: &f64| n.is_finite() && *n > 0.0)
                .ok_or_else(|| RateLimitError {
                    key,
                    unit,
                    value: value.to_string(),
                })?;
            let this = number * per_second;
            rate = Some(rate.map_or(this, |r| r.min(this)));
        }
        Ok(rate.map(RateLimiter::per_second))
    }

    /// The time between two calls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this call's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            // An idle limiter does not bank slots: capacity is one.
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn reads_either_key_and_the_stricter_wins() {
        let none = RateLimiter::from_config(&config(json!({"temperature": 0}))).unwrap();
        assert!(none.is_none());
        let per_minute = RateLimiter::from_config(&config(json!({"maxRequestsPerMinute": 120})))
            .unwrap()
            .unwrap();
        assert_eq!(per_minute.interval(), Duration::from_millis(500));
        let both = RateLimiter::from_config(&config(
            json!({"maxRequestsPerMinute": 600, "requestsPerSecond": "2"}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(both.interval(), Duration::from_millis(500));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [json!(0), json!(-1), json!("fast"), json!(true)] {
            let err =
                RateLimiter::from_config(&config(json!({"requestsPerSecond": bad}))).unwrap_err();
            assert!(err.to_string().contains("requestsPerSecond"), "{err}");
        }
    }

    #[tokio::test]
    async fn calls_are_spaced_by_the_interval() {
        let limiter = RateLimiter::per_second(50.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The first call goes at once, the next four each wait one interval (a lower
        // bound only: a busy machine may be slower, never faster).
        assert!(start.elapsed() >= Duration::from_millis(80));
    }
}
