//! Outbound webhooks: the dispatcher that turns committed changes into signed HTTP
//! deliveries, with retries.
//!
//! One background task per server follows the change feed like delivery's follower
//! does — woken by this process's commits, by an attempt finishing, by a test delivery,
//! or by a poll (other replicas' commits) — and each time:
//! 1. stores a pending delivery for each new event each subscription matches
//!    ([`Webhooks::enqueue_from_feed`]: in the database, so nothing is lost to a restart);
//! 2. claims the deliveries that are due (a lease, so replicas do not send one twice)
//!    and sends each on a task of its own: `POST` of the stored body with
//!    `Promptops-Event`, `Promptops-Delivery` and `Promptops-Signature`;
//! 3. records the attempt: a 2xx is delivered; otherwise the delivery is due again
//!    after the next wait of `webhook_retry_ms` (±20% jitter), or failed when none is
//!    left.
//!
//! A delivery claimed by a process that died is taken up again when its lease ends.

pub mod seal;
pub mod send;

use crate::{AuthConfig, Settings};
use promptops_api::webhooks::{DELIVERY_HEADER, EVENT_HEADER, SECRET_MARK, SIGNATURE_HEADER};
use promptops_core::clock::rfc3339_at;
use promptops_store::Store;
use promptops_store::webhooks::{AttemptOutcome, AttemptRecord, DueDelivery};
use seal::Sealer;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Events read from the feed per step.
const FEED_BATCH: u64 = 500;
/// Deliveries claimed per step.
const CLAIM_BATCH: u64 = 64;
/// How long the delivery log keeps a finished delivery (as Stripe's does).
pub const LOG_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often old log entries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The webhooks of one server: the store, the secrets' sealer, the HTTP client and
/// the retry schedule.
pub struct Hooks<S> {
    store: Arc<S>,
    pub sealer: Sealer,
    client: reqwest::Client,
    retry: Vec<Duration>,
    timeout: Duration,
    poll: Duration,
    pub allow_private: bool,
    wake: Arc<Notify>,
    /// Attempts by how they ended, for `/metrics`.
    pub attempts: AttemptCounts,
}

/// Delivery attempts made by this process, by outcome.
#[derive(Debug, Default)]
pub struct AttemptCounts {
    pub delivered: std::sync::atomic::AtomicU64,
    /// Not delivered, with an attempt left.
    pub retried: std::sync::atomic::AtomicU64,
    /// Not delivered, and the last attempt.
    pub failed: std::sync::atomic::AtomicU64,
}

impl<S> std::fmt::Debug for Hooks<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

pub use promptops_core::clock::now_millis as now_ms;

/// A new subscription secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> Result<String, crate::auth::secrets::SecretError> {
    Ok(format!(
        "{SECRET_MARK}{}",
        crate::auth::secrets::random_token(32)?
    ))
}

/// `wait` give or take up to 20%, so retries of many deliveries do not arrive at a
/// recovering receiver all at once.
fn jittered(wait: Duration) -> Duration {
    let mut r = [0u8; 2];
    if getrandom::fill(&mut r).is_err() {
        return wait;
    }
    let unit = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX); // 0..=1
    wait.mul_f64(0.8 + 0.4 * unit)
}

impl<S: Store> Hooks<S> {
    pub fn new(store: Arc<S>, auth: &AuthConfig, settings: &Settings) -> Hooks<S> {
        let timeout = Duration::from_millis(settings.webhook_timeout_ms.max(1));
        Hooks {
            store,
            sealer: Sealer::new(&auth.jwt_secret, auth.previous_jwt_secret.as_deref()),
            client: send::client(timeout, settings.webhook_allow_private),
            retry: settings
                .webhook_retry_ms
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            timeout,
            poll: Duration::from_millis(settings.feed_poll_ms.max(10)),
            allow_private: settings.webhook_allow_private,
            wake: Arc::new(Notify::new()),
            attempts: AttemptCounts::default(),
        }
    }

    /// Makes the dispatcher look now (a test delivery was stored).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How long a claim lasts: longer than any attempt can take.
    fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }

    /// One step: new events into deliveries, due deliveries sent. When the next
    /// delivery is due (none: nothing pending).
    async fn step(self: &Arc<Self>) -> Option<i64> {
        let now = now_ms();
        if let Err(e) = self.store.enqueue_from_feed(FEED_BATCH, now).await {
            tracing::warn!("webhooks: cannot read the change feed: {e}");
        }
        let lease = i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX);
        match self
            .store
            .claim_due_deliveries(now, lease, CLAIM_BATCH)
            .await
        {
            Ok(due) => {
                for delivery in due {
                    tokio::spawn(attempt(self.clone(), delivery));
                }
            }
            Err(e) => tracing::warn!("webhooks: cannot claim due deliveries: {e}"),
        }
        self.store.next_delivery_due().await.ok().flatten()
    }
}

/// Starts the dispatcher; it holds the hooks only weakly and ends with the server.
pub fn start<S: Store>(hooks: &Arc<Hooks<S>>) {
    tokio::spawn(dispatch(Arc::downgrade(hooks)));
}

/// Seals again, under the current signing secret, every webhook secret still sealed
/// under the previous one (a rotation is under way).
pub async fn reseal<S: Store>(hooks: &Hooks<S>) {
    let sealed = match hooks.store.sealed_webhook_secrets().await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!("webhooks: cannot read the sealed secrets to re-seal them: {e}");
            return;
        }
    };
    for (id, old) in sealed {
        match hooks.sealer.open_with(&id, &old) {
            Ok((secret, true)) => {
                let resealed = match hooks.sealer.seal(&id, &secret) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("webhooks: cannot re-seal the secret of {id}: {e}");
                        continue;
                    }
                };
                if let Err(e) = hooks
                    .store
                    .reseal_webhook_secret(&id, &old, &resealed)
                    .await
                {
                    tracing::warn!("webhooks: cannot store the re-sealed secret of {id}: {e}");
                }
            }
            Ok((_, false)) => {}
            Err(e) => tracing::warn!("webhooks: webhook {id}: {e}"),
        }
    }
}

async fn dispatch<S: Store>(weak: Weak<Hooks<S>>) {
    let Some((mut committed, wake)) = weak
        .upgrade()
        .map(|h| (h.store.committed(), h.wake.clone()))
    else {
        return;
    };
    if let Some(hooks) = weak.upgrade() {
        reseal(&hooks).await;
    }
    let mut pruned_at: Option<Instant> = None;
    loop {
        let Some(hooks) = weak.upgrade() else {
            return;
        };
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(Instant::now());
            let before = now_ms()
                .saturating_sub(i64::try_from(LOG_RETENTION.as_millis()).unwrap_or(i64::MAX));
            if let Err(e) = hooks.store.prune_deliveries(before).await {
                tracing::warn!("webhooks: cannot prune the delivery log: {e}");
            }
        }
        let next_due = hooks.step().await;
        let mut wait = hooks.poll;
        if let Some(due) = next_due {
            let until = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
            wait = wait.min(Duration::from_millis(until.max(5)));
        }
        let woken = wake.notified();
        tokio::pin!(woken);
        // Registered before waiting, so a wake sent in between is not lost.
        woken.as_mut().enable();
        // Only the weak reference is kept while waiting, so the server can end.
        drop(hooks);
        tokio::select! {
            () = woken => {},
            changed = committed.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(wait) => {},
        }
    }
}

/// Sends one attempt of `delivery` and records what happened.
async fn attempt<S: Store>(hooks: Arc<Hooks<S>>, delivery: DueDelivery) {
    let number = delivery.attempts.saturating_add(1);
    let started = Instant::now();
    let at_ms = now_ms();
    let answer = match hooks
        .sealer
        .open(&delivery.webhook_id, &delivery.secret_sealed)
    {
        Ok(secret) => {
            let t = at_ms.div_euclid(1000);
            let signature =
                promptops_api::webhooks::signature_header(&secret, t, delivery.body.as_bytes());
            let headers = [
                (EVENT_HEADER, delivery.event_type.clone()),
                (DELIVERY_HEADER, delivery.id.clone()),
                (SIGNATURE_HEADER, signature),
            ];
            send::post(
                &hooks.client,
                &delivery.url,
                hooks.allow_private,
                &headers,
                delivery.body.clone(),
                hooks.timeout,
            )
            .await
        }
        Err(e) => send::Answer {
            status: None,
            error: Some(e.to_string()),
        },
    };
    let outcome = if answer.delivered() {
        AttemptOutcome::Delivered
    } else {
        match hooks
            .retry
            .get(usize::try_from(number - 1).unwrap_or(usize::MAX))
        {
            Some(wait) => {
                let wait = i64::try_from(jittered(*wait).as_millis()).unwrap_or(i64::MAX);
                AttemptOutcome::RetryAt(now_ms().saturating_add(wait))
            }
            None => AttemptOutcome::Failed,
        }
    };
    let counter = match outcome {
        AttemptOutcome::Delivered => &hooks.attempts.delivered,
        AttemptOutcome::RetryAt(_) => &hooks.attempts.retried,
        AttemptOutcome::Failed => &hooks.attempts.failed,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let record = AttemptRecord {
        attempt: number,
        at: rfc3339_at(at_ms.div_euclid(1000), at_ms.rem_euclid(1000) as u32),
        status_code: answer.status,
        error: answer.error,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    if let Err(e) = hooks
        .store
        .record_attempt(&delivery.id, &record, outcome)
        .await
    {
        // The claim ends with its lease: the attempt is made again then.
        tracing::warn!(
            "webhooks: cannot record attempt {number} of delivery {}: {e}",
            delivery.id
        );
    }
    if outcome == AttemptOutcome::Failed {
        tracing::warn!(
            "webhooks: delivery {} ({} to webhook {}) failed after {number} attempts",
            delivery.id,
            delivery.event_type,
            delivery.webhook_id
        );
    }
    hooks.wake();
}
