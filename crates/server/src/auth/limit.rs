//! Login attempts are rate limited per user name, so a password cannot be guessed at
//! network speed (argon2's cost already slows each guess; this caps the count).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Attempts a name may make at once before it has to wait.
const BURST: u32 = 5;
/// One more attempt is allowed every this often.
const REFILL: Duration = Duration::from_secs(12);
/// How many names the limiter remembers before it prunes the ones at full allowance.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone)]
pub struct LoginLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let burst = NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(burst);
        LoginLimiter {
            limiter: Arc::new(RateLimiter::keyed(quota)),
        }
    }
}

impl LoginLimiter {
    /// `Ok` when `user` may try now; otherwise how long to wait.
    pub fn check(&self, user: &str) -> Result<(), Duration> {
        // Names that have waited long enough are forgotten, so the table stays as small
        // as the set of names tried recently.
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&user.to_lowercase())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_per_name() {
        let limiter = LoginLimiter::default();
        for _ in 0..BURST {
            assert!(limiter.check("alice").is_ok());
        }
        let wait = limiter.check("Alice").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= REFILL);
        assert!(limiter.check("bob").is_ok());
    }
}
