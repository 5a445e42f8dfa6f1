//! Outbound webhooks: subscriptions (audited like every change), the deliveries owed
//! to them and the attempts made.
//!
//! Deliveries come from the change feed, not from handlers: [`Webhooks::enqueue_from_feed`]
//! reads the audit log after the dispatcher's cursor, turns each event a subscriber
//! cares about into a [`WebhookEvent`] ([`event_of`]) and stores one pending delivery
//! per matching subscription, then moves the cursor — all in one write transaction. So
//! a change committed while no dispatcher ran (a restart, a crash) is delivered when
//! one runs again, and a pending delivery is resumed from the database. Delivery ids
//! are derived from the subscription and the event, so two replicas reading the same
//! feed store each delivery once; a claim is a lease on the row, so they do not send the
//! same attempt twice.
//!
//! Delivery bookkeeping (claims, attempts) is not audited: it is the server's own
//! traffic, not a change anyone made, and it must not feed the feed it reads.

use crate::engine::{SqlStore, append_audit, get, parse_json, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::Webhooks;
use crate::model::Actor;
use promptops_api::webhooks::{TEST_EVENT, is_event_type};
use promptops_api::*;
use promptops_core::canonical::sha256_hex;
use promptops_core::clock::{now_rfc3339, rfc3339_at};
use serde_json::{Value as Json, json};
use sqlx::any::AnyRow;

/// A subscription to store: the server has checked the URL and sealed the secret.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// `wh_…`.
    pub id: String,
    pub project: String,
    pub url: String,
    /// Event types; empty: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// The signing secret as the server sealed it (never the secret itself).
    pub secret_sealed: String,
}

/// A delivery whose attempt is due, claimed by this dispatcher until its lease ends.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The exact body to send.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub url: String,
    pub secret_sealed: String,
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at this time (unix milliseconds).
    RetryAt(i64),
    /// No attempt left.
    Failed,
}

/// The id of the delivery of `event_id` to `webhook_id`: the same on every replica.
pub fn delivery_id(webhook_id: &str, event_id: &str) -> String {
    format!(
        "dlv_{}",
        &sha256_hex(format!("{webhook_id}\n{event_id}"))[..32]
    )
}

/// The webhook event an audit event is, if it is one subscribers may receive: its
/// type, project and data. Its id derives from the audit event's hash, so it is the
/// same for every subscription and every retry (receivers dedupe on it).
pub fn event_of(event: &AuditEvent) -> Option<WebhookEvent> {
    let kind = match event.action.as_str() {
        "version.published" => "version.published",
        "label.overridden" => "label.overridden",
        "label.moved" if event.details.get("kind").and_then(Json::as_str) == Some("rollback") => {
            "label.rolled_back"
        }
        "label.moved" => "label.moved",
        "promotion.requested" => "approval.requested",
        "promotion.approved" => "approval.granted",
        "promotion.rejected" => "approval.rejected",
        "alert.fired" => "alert.fired",
        "alert.resolved" => "alert.resolved",
        _ => return None,
    };
    // prompt:{project}/…, label:{project}/…, request:{project}/…, alert:{project}/…
    let project = event.target.split_once(':')?.1.split('/').next()?;
    let mut data = match &event.details {
        Json::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(id) = data.remove("id") {
        data.insert("prompt".into(), id);
    }
    data.insert("actor".into(), json!(event.actor));
    data.insert("audit_seq".into(), json!(event.seq));
    Some(WebhookEvent {
        id: format!("evt_{}", event.hash.get(..32).unwrap_or(&event.hash)),
        kind: kind.to_owned(),
        created_at: event.at.clone(),
        project: project.to_owned(),
        data: Json::Object(data),
    })
}

/// Whether a subscription asking for `events` receives `kind`.
fn wants(events: &[String], kind: &str) -> bool {
    events.is_empty() || events.iter().any(|e| e == "*" || e == kind)
}

const WEBHOOK_COLUMNS: &str =
    "id, project, url, events, description, created_by, created_at, after_seq";

fn webhook_from_row(row: &AnyRow) -> Result<Webhook> {
    let events: Vec<String> = serde_json::from_str(&get::<String>(row, "events")?)
        .map_err(|e| StoreError::corrupt(format!("webhook events: {e}")))?;
    Ok(Webhook {
        id: get(row, "id")?,
        project: get(row, "project")?,
        url: get(row, "url")?,
        events: if events.is_empty() {
            vec!["*".into()]
        } else {
            events
        },
        description: get(row, "description")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
    })
}

/// Milliseconds since 1970 as RFC 3339.
fn ms_rfc3339(ms: i64) -> String {
    rfc3339_at(ms.div_euclid(1000), ms.rem_euclid(1000) as u32)
}

/// The audit target of a subscription, and the URL as the log keeps it: without the
/// credentials or query a URL may carry (`https://user:pass@…`, `?token=`).
fn logged_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = tail.split(['?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}{path}")
}

impl Webhooks for SqlStore {
    async fn create_webhook(&self, new: &NewWebhook, actor: &Actor) -> Result<Webhook> {
        if let Some(bad) = new.events.iter().find(|e| !is_event_type(e)) {
            return Err(StoreError::invalid(format!(
                "unknown event type `{}`; use one of {} or `*`",
                crate::engine::shown(bad),
                promptops_api::webhooks::EVENT_TYPES.join(", ")
            )));
        }
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM projects WHERE name = $1")
            .bind(&new.project)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::not_found("project", &new.project));
        }
        let mut events = new.events.clone();
        if events.iter().any(|e| e == "*") {
            events.clear();
        }
        events.sort();
        events.dedup();
        append_audit(
            &mut tx,
            actor,
            "webhook.created",
            &format!("webhook:{}/{}", new.project, new.id),
            json!({"id": new.id, "url": logged_url(&new.url), "events": events}),
        )
        .await?;
        let seq = tx.appended().unwrap_or(0);
        sqlx::query(
            "INSERT INTO webhooks (id, project, url, events, description, secret_sealed, created_by, created_at, after_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&new.id)
        .bind(&new.project)
        .bind(&new.url)
        .bind(json!(events).to_string())
        .bind(&new.description)
        .bind(&new.secret_sealed)
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        let created = Self::webhook_in(&mut tx, &new.project, &new.id).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE project = $1 ORDER BY created_at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    async fn webhook(&self, project: &str, id: &str) -> Result<Webhook> {
        let mut conn = self.pool.acquire().await?;
        Self::webhook_in(&mut conn, project, id).await
    }

    async fn delete_webhook(&self, project: &str, id: &str, actor: &Actor) -> Result<Webhook> {
        let mut tx = self.write_tx().await?;
        let hook = Self::webhook_in(&mut tx, project, id).await?;
        // The attempts and deliveries go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            "webhook.deleted",
            &format!("webhook:{project}/{id}"),
            json!({"id": id, "url": logged_url(&hook.url)}),
        )
        .await?;
        tx.commit().await?;
        Ok(hook)
    }

    async fn enqueue_from_feed(&self, limit: u64, now_ms: i64) -> Result<u64> {
        // Cheap checks first, without the write lock: no subscription (then registry
        // writes never wait behind the dispatcher), or nothing past the cursor. History
        // older than every subscription is nobody's: the read starts after it.
        let first = sqlx::query("SELECT MIN(after_seq) AS first FROM webhooks")
            .fetch_one(&self.pool)
            .await?;
        let Some(first) = get::<Option<i64>>(&first, "first")? else {
            return Ok(0);
        };
        let first = to_u64(first, "webhook after_seq")?;
        let cursor = self.webhook_cursor(&self.pool).await?.max(first);
        let head = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS head FROM audit_events")
            .fetch_one(&self.pool)
            .await?;
        if to_u64(get(&head, "head")?, "audit seq")? <= cursor {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        // Read again under the lock: another replica may have moved it meanwhile.
        let cursor = self.webhook_cursor(&mut *tx).await?.max(first);
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64::try_from(cursor).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        let hooks = sqlx::query("SELECT id, project, events, after_seq FROM webhooks")
            .fetch_all(&mut *tx)
            .await?;
        let mut subscribers = Vec::with_capacity(hooks.len());
        for h in &hooks {
            let events: Vec<String> = serde_json::from_str(&get::<String>(h, "events")?)
                .map_err(|e| StoreError::corrupt(format!("webhook events: {e}")))?;
            subscribers.push((
                get::<String>(h, "id")?,
                get::<String>(h, "project")?,
                events,
                to_u64(get(h, "after_seq")?, "webhook after_seq")?,
            ));
        }
        let mut last = cursor;
        let mut enqueued = 0;
        for row in &rows {
            let stored = crate::rows::stored_event(row)?;
            let seq = to_u64(stored.seq, "audit seq")?;
            last = seq;
            if subscribers.is_empty() {
                continue;
            }
            let Some(event) = stored.to_event().as_ref().and_then(event_of) else {
                continue;
            };
            let body = serde_json::to_string(&event)
                .map_err(|e| StoreError::corrupt(format!("webhook body: {e}")))?;
            for (id, project, events, after) in &subscribers {
                if *project != event.project || seq <= *after || !wants(events, &event.kind) {
                    continue;
                }
                enqueued += insert_delivery(&mut tx, id, &event, &body, false, now_ms).await?;
            }
        }
        sqlx::query(
            "INSERT INTO webhook_feed (id, seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
        )
        .bind(i64::try_from(last).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(enqueued)
    }

    async fn enqueue_test_delivery(
        &self,
        project: &str,
        webhook_id: &str,
        event: &WebhookEvent,
        now_ms: i64,
    ) -> Result<WebhookDelivery> {
        let mut tx = self.write_tx().await?;
        Self::webhook_in(&mut tx, project, webhook_id).await?;
        let body = serde_json::to_string(event)
            .map_err(|e| StoreError::corrupt(format!("webhook body: {e}")))?;
        insert_delivery(&mut tx, webhook_id, event, &body, true, now_ms).await?;
        tx.commit().await?;
        let id = delivery_id(webhook_id, &event.id);
        self.deliveries_where(project, webhook_id, Some(&id), 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::corrupt("the test delivery could not be read back"))
    }

    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u64,
    ) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.body, d.attempts, w.url, w.secret_sealed \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_ms <= $1 AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= $1) \
             ORDER BY d.next_attempt_ms, d.id LIMIT $2",
        )
        .bind(now_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = get(row, "id")?;
            // Only one dispatcher wins the row: the lease must still be free.
            let won = sqlx::query(
                "UPDATE webhook_deliveries SET lease_until_ms = $1 \
                 WHERE id = $2 AND status = 'pending' AND (lease_until_ms IS NULL OR lease_until_ms <= $3)",
            )
            .bind(now_ms.saturating_add(lease_ms))
            .bind(&id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if !won {
                continue;
            }
            claimed.push(DueDelivery {
                id,
                webhook_id: get(row, "webhook_id")?,
                event_id: get(row, "event_id")?,
                event_type: get(row, "event_type")?,
                body: get(row, "body")?,
                attempts: u32::try_from(get::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
                url: get(row, "url")?,
                secret_sealed: get(row, "secret_sealed")?,
            });
        }
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        delivery: &str,
        record: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // The subscription may have been deleted while the attempt ran.
        let live = sqlx::query("SELECT 1 AS one FROM webhook_deliveries WHERE id = $1")
            .bind(delivery)
            .fetch_optional(&mut *tx)
            .await?;
        if live.is_none() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(delivery)
        .bind(i64::from(record.attempt))
        .bind(&record.at)
        .bind(record.status_code.map(i64::from))
        .bind(&record.error)
        .bind(i64::try_from(record.duration_ms).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        let (status, next, delivered_at) = match outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None, Some(now_rfc3339())),
            AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
            AttemptOutcome::Failed => (DeliveryStatus::Failed, None, None),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_ms = $3, lease_until_ms = NULL, delivered_at = $4 WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(i64::from(record.attempt))
        .bind(next)
        .bind(delivered_at)
        .bind(delivery)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        project: &str,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut conn = self.pool.acquire().await?;
        Self::webhook_in(&mut conn, project, webhook_id).await?;
        drop(conn);
        self.deliveries_where(project, webhook_id, None, limit)
            .await
    }

    async fn next_delivery_due(&self) -> Result<Option<i64>> {
        // A claimed delivery is due again only when its lease ends.
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN lease_until_ms IS NOT NULL AND lease_until_ms > next_attempt_ms \
             THEN lease_until_ms ELSE next_attempt_ms END) AS due FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        get(&row, "due")
    }

    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64> {
        let cutoff = ms_rfc3339(before_ms);
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1)",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let gone = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(gone)
    }

    async fn sealed_webhook_secrets(&self) -> Result<Vec<(String, String)>> {
        sqlx::query("SELECT id, secret_sealed FROM webhooks ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((get(r, "id")?, get(r, "secret_sealed")?)))
            .collect()
    }

    async fn reseal_webhook_secret(&self, id: &str, old: &str, new: &str) -> Result<()> {
        sqlx::query("UPDATE webhooks SET secret_sealed = $1 WHERE id = $2 AND secret_sealed = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Stores a pending delivery of `event` to `webhook_id`, due now; 0 when it was
/// stored already (another replica read the same feed).
async fn insert_delivery(
    tx: &mut crate::engine::WriteTx,
    webhook_id: &str,
    event: &WebhookEvent,
    body: &str,
    test: bool,
    now_ms: i64,
) -> Result<u64> {
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, status, test, attempts, created_at, next_attempt_ms) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, 0, $7, $8) ON CONFLICT (webhook_id, event_id) DO NOTHING",
    )
    .bind(delivery_id(webhook_id, &event.id))
    .bind(webhook_id)
    .bind(&event.id)
    .bind(&event.kind)
    .bind(body)
    .bind(i64::from(test))
    .bind(ms_rfc3339(now_ms))
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

impl SqlStore {
    async fn webhook_cursor<'e, E>(&self, executor: E) -> Result<u64>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let row = sqlx::query("SELECT seq FROM webhook_feed WHERE id = 1")
            .fetch_optional(executor)
            .await?;
        match row {
            Some(r) => to_u64(get(&r, "seq")?, "webhook feed cursor"),
            None => Ok(0),
        }
    }

    async fn webhook_in(
        conn: &mut sqlx::AnyConnection,
        project: &str,
        id: &str,
    ) -> Result<Webhook> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE project = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(r) => webhook_from_row(&r),
            None => Err(StoreError::not_found(
                "webhook",
                format!("{project}/{}", crate::engine::shown(id)),
            )),
        }
    }

    /// Deliveries of one subscription, newest first, with their attempts.
    async fn deliveries_where(
        &self,
        project: &str,
        webhook_id: &str,
        only: Option<&str>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.body, d.status, d.test, d.created_at, d.next_attempt_ms, d.delivered_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE w.project = $1 AND d.webhook_id = $2 AND d.id = COALESCE($3, d.id) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $4",
        )
        .bind(project)
        .bind(webhook_id)
        .bind(only)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = get(row, "id")?;
            let status: String = get(row, "status")?;
            let attempts = sqlx::query(
                "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|a| {
                Ok(DeliveryAttempt {
                    attempt: u32::try_from(get::<i64>(a, "attempt")?).unwrap_or(u32::MAX),
                    at: get(a, "at")?,
                    status_code: get::<Option<i64>>(a, "status_code")?
                        .and_then(|c| u16::try_from(c).ok()),
                    error: get(a, "error")?,
                    duration_ms: to_u64(get(a, "duration_ms")?, "attempt duration")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
            let pending = status == "pending";
            out.push(WebhookDelivery {
                status: DeliveryStatus::parse(&status).ok_or_else(|| {
                    StoreError::corrupt(format!("unknown delivery status `{status}`"))
                })?,
                webhook_id: get(row, "webhook_id")?,
                event_id: get(row, "event_id")?,
                event_type: get(row, "event_type")?,
                test: get::<i64>(row, "test")? != 0,
                created_at: get(row, "created_at")?,
                next_attempt_at: if pending {
                    get::<Option<i64>>(row, "next_attempt_ms")?.map(ms_rfc3339)
                } else {
                    None
                },
                delivered_at: get(row, "delivered_at")?,
                body: parse_json(&get::<String>(row, "body")?, "delivery body")?,
                attempts,
                id,
            });
        }
        Ok(out)
    }
}

/// The body of a test delivery: a `webhook.test` event naming the subscription.
pub fn test_event(project: &str, webhook_id: &str, event_id: String, at: String) -> WebhookEvent {
    WebhookEvent {
        id: event_id,
        kind: TEST_EVENT.to_owned(),
        created_at: at,
        project: project.to_owned(),
        data: json!({"webhook": webhook_id, "message": "a test delivery from promptops"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(action: &str, target: &str, details: Json) -> AuditEvent {
        AuditEvent {
            seq: 9,
            at: "2026-12-03T00:00:00.000Z".into(),
            actor: "ann".into(),
            action: action.into(),
            target: target.into(),
            details,
            prev_hash: String::new(),
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn audit_events_become_the_webhook_events_subscribers_get() {
        let cases = [
            (
                "version.published",
                "prompt:acme/a.b@1.0.0",
                json!({"id": "a.b"}),
                Some("version.published"),
            ),
            (
                "label.moved",
                "label:acme/a.b/prod",
                json!({"id": "a.b", "kind": "promote"}),
                Some("label.moved"),
            ),
            (
                "label.moved",
                "label:acme/a.b/prod",
                json!({"id": "a.b", "kind": "rollback"}),
                Some("label.rolled_back"),
            ),
            (
                "label.overridden",
                "label:acme/a.b/prod",
                json!({"id": "a.b"}),
                Some("label.overridden"),
            ),
            (
                "promotion.requested",
                "request:acme/3",
                json!({"id": "a.b"}),
                Some("approval.requested"),
            ),
            (
                "promotion.approved",
                "request:acme/3",
                json!({"id": "a.b"}),
                Some("approval.granted"),
            ),
            (
                "promotion.rejected",
                "request:acme/3",
                json!({"id": "a.b"}),
                Some("approval.rejected"),
            ),
            ("promotion.withdrawn", "request:acme/3", json!({}), None),
            ("key.created", "key:po_1", json!({}), None),
            ("webhook.created", "webhook:acme/wh_1", json!({}), None),
        ];
        for (action, target, details, want) in cases {
            let got = event_of(&audit(action, target, details));
            assert_eq!(got.as_ref().map(|e| e.kind.as_str()), want, "{action}");
            if let Some(e) = got {
                assert_eq!(e.project, "acme");
                assert_eq!(e.id, format!("evt_{}", "ab".repeat(16)));
                assert_eq!(e.data["actor"], "ann");
                assert_eq!(e.data["audit_seq"], 9);
                if action != "promotion.withdrawn" {
                    assert_eq!(e.data["prompt"], "a.b");
                }
                assert!(e.kind != "label.moved" || e.data["kind"] == "promote");
            }
        }
    }

    #[test]
    fn logged_urls_keep_no_credentials() {
        assert_eq!(
            logged_url("https://u:p@hooks.example.com:8443/x/y?token=s#f"),
            "https://hooks.example.com:8443/x/y"
        );
        assert_eq!(logged_url("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
        assert_eq!(delivery_id("wh_1", "evt_1"), delivery_id("wh_1", "evt_1"));
        assert_ne!(delivery_id("wh_1", "evt_1"), delivery_id("wh_2", "evt_1"));
        assert!(wants(&[], "label.moved"));
        assert!(wants(&["label.moved".into()], "label.moved"));
        assert!(!wants(&["label.moved".into()], "version.published"));
    }
}
