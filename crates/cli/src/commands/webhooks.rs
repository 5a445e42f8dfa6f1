//! `promptops webhook`: subscriptions of the registry project, their test deliveries
//! and delivery log.

use super::registry::Session;
use crate::Outcome;
use crate::cli::{Format, WebhookAction};
use crate::output::{self, GREEN, RED};
use anstream::{eprintln, println};
use anyhow::Result;
use promptops_api::{CreateWebhook, DeliveryStatus, WebhookDelivery};
use std::time::{Duration, Instant};

pub fn webhook(session: &Session, action: &WebhookAction) -> Result<Outcome> {
    let c = &session.client;
    let project = session.project.as_str();
    match action {
        WebhookAction::Add {
            url,
            events,
            description,
        } => {
            let new = CreateWebhook {
                url: url.clone(),
                events: events.clone(),
                description: description.clone(),
            };
            match session.block(c.create_webhook(project, &new)) {
                Ok(created) => {
                    if session.format == Format::Json {
                        output::json(&created);
                    } else {
                        println!("{}", created.secret);
                        eprintln!(
                            "{GREEN}created{GREEN:#} webhook {} → {} ({}); the secret above signs every delivery (Promptops-Signature) and is shown this once: keep it in the receiver's secret store",
                            created.webhook.id,
                            created.webhook.url,
                            created.webhook.events.join(", ")
                        );
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
        WebhookAction::List => match session.block(c.webhooks(project)) {
            Ok(hooks) => {
                if session.format == Format::Json {
                    output::json(&hooks);
                } else if hooks.is_empty() {
                    println!(
                        "no webhooks in {project} (`promptops webhook add https://… --event label.moved`)"
                    );
                } else {
                    for h in &hooks {
                        println!(
                            "{:<20} {}  events {}  by {} {}{}",
                            h.id,
                            h.url,
                            h.events.join(","),
                            h.created_by,
                            h.created_at,
                            h.description
                                .as_deref()
                                .map(|d| format!("  ({d})"))
                                .unwrap_or_default()
                        );
                    }
                }
                Ok(Outcome::Ok)
            }
            Err(e) => session.refused(e),
        },
        WebhookAction::Remove { id } => match session.block(c.delete_webhook(project, id)) {
            Ok(h) => {
                if session.format == Format::Json {
                    output::json(&h);
                } else {
                    println!(
                        "removed webhook {id} ({}): nothing more is sent to it",
                        h.url
                    );
                }
                Ok(Outcome::Ok)
            }
            Err(e) => session.refused(e),
        },
        WebhookAction::Test { id, wait } => {
            let pending = match session.block(c.test_webhook(project, id)) {
                Ok(d) => d,
                Err(e) => return session.refused(e),
            };
            let deadline = Instant::now() + Duration::from_secs(*wait);
            let mut latest = pending.clone();
            while latest.status == DeliveryStatus::Pending
                && latest.attempts.is_empty()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(200));
                match session.block(c.webhook_deliveries(project, id, 50)) {
                    Ok(log) => {
                        if let Some(d) = log.into_iter().find(|d| d.id == pending.id) {
                            latest = d;
                        }
                    }
                    Err(e) => return session.refused(e),
                }
            }
            if session.format == Format::Json {
                output::json(&latest);
            } else {
                print_delivery(&latest);
            }
            Ok(match latest.status {
                DeliveryStatus::Delivered => Outcome::Ok,
                DeliveryStatus::Pending if *wait == 0 => Outcome::Ok,
                _ => Outcome::Findings,
            })
        }
        WebhookAction::Deliveries { id, limit } => {
            match session.block(c.webhook_deliveries(project, id, *limit)) {
                Ok(log) => {
                    if session.format == Format::Json {
                        output::json(&log);
                    } else if log.is_empty() {
                        println!("no deliveries yet (`promptops webhook test {id}` sends one)");
                    } else {
                        for d in &log {
                            print_delivery(d);
                        }
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
    }
}

fn print_delivery(d: &WebhookDelivery) {
    let status = match d.status {
        DeliveryStatus::Delivered => format!("{GREEN}delivered{GREEN:#}"),
        DeliveryStatus::Failed => format!("{RED}failed{RED:#}"),
        DeliveryStatus::Pending => match &d.next_attempt_at {
            Some(at) => format!("pending (next attempt {at})"),
            None => "pending".to_owned(),
        },
    };
    println!(
        "{}  {:<18} {}  {}  {}{}",
        d.id,
        d.event_type,
        d.event_id,
        d.created_at,
        status,
        if d.test { "  (test)" } else { "" }
    );
    for a in &d.attempts {
        println!(
            "    attempt {} at {}: {} in {} ms{}",
            a.attempt,
            a.at,
            a.status_code
                .map_or("no answer".to_owned(), |s| format!("HTTP {s}")),
            a.duration_ms,
            a.error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        );
    }
}
