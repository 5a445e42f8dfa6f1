//! Keeping cached prompts current, one background task per environment read: it
//! follows the environment's watch stream (Server-Sent Events) and fetches a prompt
//! again as soon as a move is announced for it; every `refresh_every` it revalidates
//! every cached prompt of the environment with its ETag (a 304 costs a few bytes), in
//! case a push was missed. It reconnects with `Last-Event-ID` (so moves made while it
//! was away are replayed) and backs off while the registry is down. It holds the
//! client weakly: dropping the last clone of the client ends it.

use super::{Client, Fetch, Shared, read};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use promptops_api::WatchEvent;
use std::sync::{Arc, Weak};
use std::time::Duration;

const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Starts following `env` unless it is followed already (or no runtime is running).
pub(super) fn follow(client: &Client, env: &str) {
    let Some(remote) = &client.shared.remote else {
        return;
    };
    {
        let mut followed = client
            .shared
            .followed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if followed.iter().any(|e| e == env) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        followed.push(env.to_owned());
    }
    let weak = Arc::downgrade(&client.shared);
    let (env, watch, every) = (env.to_owned(), remote.watch, remote.refresh_every);
    tokio::spawn(async move {
        let mut last_event: Option<u64> = None;
        let mut backoff = BACKOFF_FIRST;
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            if !watch {
                tick.tick().await;
                if !revalidate(&weak, &env).await {
                    return;
                }
                continue;
            }
            let Some(response) = connect(&weak, &env, last_event).await else {
                if weak.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            };
            backoff = BACKOFF_FIRST;
            // Whatever moved before this connection (or while it was down without an
            // event id to resume from) is caught by revalidating now.
            if last_event.is_none() && !revalidate(&weak, &env).await {
                return;
            }
            let mut events = response.bytes_stream().eventsource();
            loop {
                tokio::select! {
                    next = events.next() => match next {
                        Some(Ok(event)) if event.event == "label" => {
                            if let Ok(e) = serde_json::from_str::<WatchEvent>(&event.data) {
                                last_event = Some(e.seq);
                                if !moved(&weak, &env, &e).await {
                                    return;
                                }
                            }
                        }
                        Some(Ok(_)) => {}
                        // Ended or broken: reconnect (resuming after the last event).
                        Some(Err(_)) | None => break,
                    },
                    _ = tick.tick() => {
                        if !revalidate(&weak, &env).await {
                            return;
                        }
                    }
                }
            }
        }
    });
}

/// Opens the watch stream; `None` when the registry does not answer it.
async fn connect(
    weak: &Weak<Shared>,
    env: &str,
    last_event: Option<u64>,
) -> Option<reqwest::Response> {
    let shared = weak.upgrade()?;
    let remote = shared.remote.as_ref()?;
    let project = remote.project().await.ok()?;
    let mut req = remote.http.get(format!(
        "{}/v1/projects/{}/environments/{}/watch",
        remote.url,
        crate::seg(&project),
        crate::seg(env)
    ));
    if let Some(key) = &remote.api_key {
        req = req.bearer_auth(key);
    }
    if let Some(id) = last_event {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.ok()?;
    resp.status().is_success().then_some(resp)
}

/// A move was announced: fetch the prompt again if it is cached and changed. Returns
/// false once the client is gone.
async fn moved(weak: &Weak<Shared>, env: &str, e: &WatchEvent) -> bool {
    let Some(shared) = weak.upgrade() else {
        return false;
    };
    let client = Client { shared };
    let current = client.cached(env, &e.id);
    if current
        .as_ref()
        .is_some_and(|p| p.content_hash() != e.content_hash)
    {
        refetch(&client, env, &e.id, None).await;
    }
    true
}

/// Revalidates every cached prompt of `env` with its ETag. Returns false once the
/// client is gone.
async fn revalidate(weak: &Weak<Shared>, env: &str) -> bool {
    let Some(shared) = weak.upgrade() else {
        return false;
    };
    let client = Client { shared };
    let cached: Vec<(String, String)> = read(&client.shared.cache)
        .get(env)
        .map(|m| {
            m.values()
                .map(|p| (p.id().to_owned(), p.content_hash().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for (id, hash) in cached {
        refetch(&client, env, &id, Some(&hash)).await;
    }
    true
}

async fn refetch(client: &Client, env: &str, id: &str, etag: Option<&str>) {
    let Some(remote) = &client.shared.remote else {
        return;
    };
    match tokio::time::timeout(remote.timeout * 4, remote.fetch(env, id, etag)).await {
        Ok(Ok(Some(prompt))) => client.remember(&prompt),
        // Unchanged, or the registry cannot say now: the cached copy stays.
        Ok(Ok(None)) | Ok(Err(Fetch::Failed(_))) | Err(_) => {}
        // No longer served (or no longer ours to read): keep serving the last good copy
        // rather than failing the application; the next `get` after a restart says why.
        Ok(Err(Fetch::NotFound(_) | Fetch::Refused(_) | Fetch::Invalid(_))) => {}
    }
}
