//! Alerts on what applications report: a version over its cost budgets, a newly
//! promoted version doing worse than the one it replaced (error rate, latency), output
//! lengths drifting. [`rules`] decides, as pure functions over rollups;
//! [`evaluate()`](evaluate::evaluate) reads the windows each rule needs from the event
//! store, asks the rules, and fires or resolves alerts through the store (audited, so
//! they reach webhooks by the change feed). A background task evaluates every project
//! every `alert_interval_secs`; `POST …/alerts/evaluate` does it on demand.
//!
//! The evaluator only reads the event store and writes the registry when an alert
//! changes state, so it never holds up ingest; running it on two replicas at once is
//! safe (the store fires each alert once).

pub mod evaluate;
pub mod rules;

pub use evaluate::evaluate;

use crate::state::AppState;
use promptops_store::Store;
use std::sync::Weak;
use std::time::Duration;

/// The actor alerts are fired and resolved by, in the audit log.
pub const ACTOR: &str = "promptops-alerts";

/// Evaluates every project every `every`, the first time one interval from now. The
/// task holds the app weakly and ends when the app is dropped.
pub fn start<S: Store>(state: &AppState<S>, every: Duration) {
    let store = std::sync::Arc::downgrade(&state.store);
    let telemetry = std::sync::Arc::downgrade(&state.telemetry);
    tokio::spawn(run(store, telemetry, every));
}

async fn run<S: Store>(
    store: Weak<S>,
    telemetry: Weak<crate::telemetry::Telemetry>,
    every: Duration,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let (Some(store), Some(telemetry)) = (store.upgrade(), telemetry.upgrade()) else {
            return;
        };
        let projects = match store.projects().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "alerts: cannot list projects; trying again next interval");
                continue;
            }
        };
        for project in projects {
            let now = promptops_core::clock::now_millis();
            match evaluate(&*store, &telemetry, &project.name, now).await {
                Ok(done) => {
                    for a in &done.fired {
                        tracing::warn!(project = %project.name, alert = a.id, kind = a.kind.as_str(), "alert fired: {}", a.summary);
                    }
                    for a in &done.resolved {
                        tracing::info!(project = %project.name, alert = a.id, kind = a.kind.as_str(), "alert resolved: {}", a.resolution.as_deref().unwrap_or(""));
                    }
                }
                Err(e) => {
                    tracing::warn!(project = %project.name, error = %e, "alerts: evaluation failed; trying again next interval")
                }
            }
        }
    }
}
