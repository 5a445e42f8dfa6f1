//! The background tasks of delivery, each holding the caches only weakly (they end with
//! the server):
//! - the follower reads the change feed as soon as anything is committed here, heard
//!   of from another replica, or every poll interval (the fallback when Redis is away);
//!   it refreshes each moved label's answer (memory and Redis), tells watchers, and
//!   announces how far it got to the other replicas;
//! - the prober checks the database and Redis twice a second, so a source that comes
//!   back is used again without a restart;
//! - the subscriber listens to the other replicas' announcements on Redis; each time it
//!   (re)connects it catches up from the feed, so nothing announced while it was away
//!   is missed.

use super::{DB_TIMEOUT, Delivery, LabelEvent};
use futures_util::StreamExt;
use promptops_store::{ChangeKind, Store};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the prober checks the sources.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Starts the tasks for `delivery`; `poll` is the feed's polling interval.
pub fn start<S: Store>(delivery: &Arc<Delivery<S>>, poll: Duration) {
    let weak = Arc::downgrade(delivery);
    tokio::spawn(follow(weak.clone(), poll));
    tokio::spawn(probe(weak.clone()));
    if delivery.redis().is_some() {
        tokio::spawn(subscribe(weak));
    }
}

async fn follow<S: Store>(weak: Weak<Delivery<S>>, poll: Duration) {
    let Some((mut committed, wake)) = weak
        .upgrade()
        .map(|d| (d.store().committed(), d.wake.clone()))
    else {
        return;
    };
    loop {
        let Some(delivery) = weak.upgrade() else {
            return;
        };
        if delivery.db_up() {
            let before = delivery.applied();
            delivery.catch_up().await;
            tell_moves(&delivery).await;
            let after = delivery.applied();
            if after > before
                && let Some(redis) = delivery.redis().filter(|_| delivery.redis_up())
                && let Err(e) = redis.announce(after).await
            {
                tracing::debug!("delivery: cannot announce on redis: {e}");
            }
        }
        let woken = wake.notified();
        tokio::pin!(woken);
        // Registered before waiting, so a wake sent in between is not lost.
        woken.as_mut().enable();
        drop(delivery);
        tokio::select! {
            () = woken => {},
            changed = committed.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(poll) => {},
        }
    }
}

/// Refreshes each moved label's answer and tells watchers, in feed order.
async fn tell_moves<S: Store>(delivery: &Delivery<S>) {
    for change in delivery.take_moves() {
        let ChangeKind::LabelMoved {
            project,
            prompt,
            environment,
            to,
            ..
        } = &change.kind
        else {
            continue;
        };
        let read = tokio::time::timeout(DB_TIMEOUT, delivery.store().version(project, prompt, to));
        let content_hash = match read.await {
            Ok(Ok(v)) => v.content_hash,
            Ok(Err(e)) => {
                tracing::warn!("delivery: {prompt}@{to} of a label move cannot be read: {e}");
                continue;
            }
            Err(_) => {
                delivery.set_db_up(false);
                continue;
            }
        };
        delivery.tell(LabelEvent {
            seq: change.seq,
            project: project.clone(),
            environment: environment.clone(),
            prompt: prompt.clone(),
            version: to.clone(),
            content_hash,
        });
        delivery.refresh(project, environment, prompt).await;
    }
}

async fn probe<S: Store>(weak: Weak<Delivery<S>>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(delivery) = weak.upgrade() else {
            return;
        };
        let db = tokio::time::timeout(DB_TIMEOUT, delivery.store().ping()).await;
        delivery.set_db_up(matches!(db, Ok(Ok(()))));
        if let Some(redis) = delivery.redis() {
            delivery.set_redis_up(redis.ping().await.is_ok());
        }
    }
}

async fn subscribe<S: Store>(weak: Weak<Delivery<S>>) {
    loop {
        let Some((client, channel)) = weak
            .upgrade()
            .and_then(|d| d.redis().map(|r| (r.client().clone(), r.channel())))
        else {
            return;
        };
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    if let Some(d) = weak.upgrade() {
                        // Whatever was announced while we were away is in the feed.
                        d.set_redis_up(true);
                        d.wake.notify_one();
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(delivery) = weak.upgrade() else {
                            return;
                        };
                        if let Ok(seq) = message.get_payload::<u64>() {
                            delivery.heard_of(seq);
                        }
                    }
                }
            }
            Err(e) => tracing::debug!("delivery: redis subscription: {e}"),
        }
        if let Some(d) = weak.upgrade() {
            d.set_redis_up(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
