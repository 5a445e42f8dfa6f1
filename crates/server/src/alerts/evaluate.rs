//! One evaluation of a project: for each prompt and environment whose label points at a
//! version, the windows each rule reads (summed minute rollups of the event store), the
//! rules' verdicts, and the alerts that fire or resolve because of them.
//!
//! Windows, in whole minutes (rollups are per minute and per version, so a minute that
//! holds calls of two versions is split by version, not by time):
//! - `cost_per_call`: the version's calls in the last `budget_hours`;
//! - `cost_per_day`: every call in the environment since 00:00 UTC;
//! - regressions: the label's last move from A to B at `t`; B's calls in the environment
//!   since `t` (the last `regression_hours` of them) against A's in the `baseline_hours`
//!   up to `t`;
//! - drift: the version's calls in the last `drift_recent_hours` against its own in the
//!   `drift_reference_hours` before that.

use super::ACTOR;
use super::rules::{self, Subject, Verdict};
use crate::telemetry::Telemetry;
use promptops_api::{Alert, AlertEvaluation, AlertKind, AlertSettings, AlertState, Label};
use promptops_core::clock::epoch_millis;
use promptops_store::alerts::{AlertFilter, NewAlert};
use promptops_store::events::{EventStore, MINUTE_MS, Rollup};
use promptops_store::{Actor, Store, StoreError};
use std::collections::HashMap;

const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Firing alerts read per evaluation at most (one per prompt × environment × version ×
/// kind: far more than a project has).
const FIRING_LIMIT: u64 = 100_000;

/// A verdict on one kind, with the version it was compared with.
struct Judged {
    kind: AlertKind,
    baseline: Option<String>,
    verdict: Verdict,
}

/// Evaluates every rule for every prompt and environment of `project` as of `now_ms`,
/// fires what holds and is not firing yet, and resolves what fires and no longer holds
/// (or whose version the environment no longer serves).
pub async fn evaluate<S: Store>(
    store: &S,
    telemetry: &Telemetry,
    project: &str,
    now_ms: i64,
) -> Result<AlertEvaluation, StoreError> {
    let settings = store.alert_settings(project).await?;
    let firing = |limit| AlertFilter {
        state: Some(AlertState::Firing),
        limit,
        ..AlertFilter::default()
    };
    let firing_before = store.alerts(project, &firing(FIRING_LIMIT)).await?;
    let mut labels = Vec::new();
    for prompt in store.prompts(project).await? {
        for label in store.labels(project, &prompt.id).await? {
            labels.push((prompt.id.clone(), label));
        }
    }
    // A project that serves nothing has nothing to judge: the event store is not opened
    // (a server that never receives events never creates it).
    let events = match labels.is_empty() {
        true => None,
        false => Some(telemetry.pipeline(store).await?.store()),
    };
    let actor = Actor::new(ACTOR);
    let mut out = AlertEvaluation {
        evaluated: 0,
        fired: Vec::new(),
        resolved: Vec::new(),
        firing: Vec::new(),
    };
    // (prompt, environment) → the version served.
    let mut served: HashMap<(String, String), String> = HashMap::new();
    for (prompt_id, label) in &labels {
        let Some(events) = events else { break };
        out.evaluated += 1;
        served.insert(
            (prompt_id.clone(), label.environment.clone()),
            label.version.clone(),
        );
        let judged = judge(
            store,
            events,
            (project, prompt_id, label),
            &settings,
            now_ms,
        )
        .await?;
        for j in judged {
            let current = firing_before.iter().find(|a| {
                a.prompt_id == *prompt_id
                    && a.environment == label.environment
                    && a.version == label.version
                    && a.kind == j.kind
            });
            match (j.verdict, current) {
                (Verdict::Holds(f), None) => {
                    let new = NewAlert {
                        prompt_id: prompt_id.clone(),
                        environment: label.environment.clone(),
                        version: label.version.clone(),
                        baseline_version: j.baseline,
                        kind: j.kind,
                        measured: f.measured,
                        test: f.test.map(str::to_owned),
                        p_value: f.p_value,
                        summary: f.summary,
                    };
                    if let Some(a) = store.fire_alert(project, &new, &actor).await? {
                        out.fired.push(a);
                    }
                }
                (Verdict::Clear(why), Some(a)) => {
                    resolve(store, project, a, &why, &actor, &mut out.resolved).await?;
                }
                _ => {}
            }
        }
    }
    for a in &firing_before {
        let why = match served.get(&(a.prompt_id.clone(), a.environment.clone())) {
            Some(v) if *v == a.version => continue,
            Some(v) => format!("{} now serves {} {v}", a.environment, a.prompt_id),
            None => format!("{} no longer serves {}", a.environment, a.prompt_id),
        };
        resolve(store, project, a, &why, &actor, &mut out.resolved).await?;
    }
    out.firing = store.alerts(project, &firing(FIRING_LIMIT)).await?;
    Ok(out)
}

async fn resolve<S: Store>(
    store: &S,
    project: &str,
    alert: &Alert,
    why: &str,
    actor: &Actor,
    resolved: &mut Vec<Alert>,
) -> Result<(), StoreError> {
    // Already resolved by another evaluator: nothing to add.
    if let Some(a) = store.resolve_alert(project, alert.id, why, actor).await? {
        resolved.push(a);
    }
    Ok(())
}

/// The verdicts on one label's version, one per kind that applies.
async fn judge<S: Store>(
    store: &S,
    events: &EventStore,
    (project, prompt_id, label): (&str, &str, &Label),
    settings: &AlertSettings,
    now_ms: i64,
) -> Result<Vec<Judged>, StoreError> {
    let subject = Subject {
        prompt_id,
        environment: &label.environment,
        version: &label.version,
    };
    let window = Window {
        events,
        project,
        prompt_id,
        environment: &label.environment,
    };
    let mut out = Vec::new();
    let judged = |kind, baseline: Option<&str>, verdict| Judged {
        kind,
        baseline: baseline.map(str::to_owned),
        verdict,
    };

    // Budgets: the served version's own file.
    let version = store.version(project, prompt_id, &label.version).await?;
    let budget = |name: &str| {
        version
            .content
            .get("metrics")
            .and_then(|m| m.get(name))
            .and_then(|v| v.as_f64())
            .filter(|b| b.is_finite() && *b >= 0.0)
    };
    let now_end = minute(now_ms) + MINUTE_MS;
    if let Some(b) = budget("max_cost_per_call_usd") {
        let from = minute(now_ms - i64::from(settings.budget_hours) * HOUR_MS);
        let w = window.sum(Some(&label.version), (from, now_end)).await?;
        out.push(judged(
            AlertKind::CostPerCall,
            None,
            rules::cost_per_call(subject, b, &w, settings),
        ));
    }
    if let Some(b) = budget("max_cost_per_day_usd") {
        let day = now_ms.div_euclid(DAY_MS) * DAY_MS;
        let w = window.sum(None, (day, now_end)).await?;
        out.push(judged(
            AlertKind::CostPerDay,
            None,
            rules::cost_per_day(subject, b, &w),
        ));
    }

    if settings.regression {
        let last = store
            .label_history(project, prompt_id, Some(&label.environment))
            .await?
            .pop();
        let replaced = last.as_ref().and_then(|m| {
            let from = m.from_version.as_deref()?;
            let at = epoch_millis(&m.moved_at)?;
            (from != m.to_version && m.to_version == label.version).then_some((from, at))
        });
        if let Some((from, moved_ms)) = replaced {
            let since = moved_ms.max(now_ms - i64::from(settings.regression_hours) * HOUR_MS);
            let new = window
                .sum(Some(&label.version), (minute(since), now_end))
                .await?;
            let old = window
                .sum(
                    Some(from),
                    (
                        minute(moved_ms - i64::from(settings.baseline_hours) * HOUR_MS),
                        minute(moved_ms) + MINUTE_MS,
                    ),
                )
                .await?;
            out.push(judged(
                AlertKind::ErrorRateRegression,
                Some(from),
                rules::error_rate_regression(subject, from, &new, &old, settings),
            ));
            out.push(judged(
                AlertKind::LatencyRegression,
                Some(from),
                rules::latency_regression(subject, from, &new, &old, settings),
            ));
        }
    } else {
        for kind in [AlertKind::ErrorRateRegression, AlertKind::LatencyRegression] {
            out.push(judged(
                kind,
                None,
                Verdict::Clear("regression alerts were turned off for the project".into()),
            ));
        }
    }

    if settings.drift {
        let split = minute(now_ms - i64::from(settings.drift_recent_hours) * HOUR_MS);
        let recent = window.sum(Some(&label.version), (split, now_end)).await?;
        let reference = window
            .sum(
                Some(&label.version),
                (
                    split - i64::from(settings.drift_reference_hours) * HOUR_MS,
                    split,
                ),
            )
            .await?;
        out.push(judged(
            AlertKind::OutputDrift,
            None,
            rules::output_drift(subject, &recent, &reference, settings),
        ));
    } else {
        out.push(judged(
            AlertKind::OutputDrift,
            None,
            Verdict::Clear("drift alerts were turned off for the project".into()),
        ));
    }
    Ok(out)
}

/// The start of the minute `ms` falls in.
fn minute(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// One prompt's rollups in one environment.
struct Window<'a> {
    events: &'a EventStore,
    project: &'a str,
    prompt_id: &'a str,
    environment: &'a str,
}

impl Window<'_> {
    /// The rollups of `version` (`None`: every version) in `[from, to)`, summed.
    async fn sum(&self, version: Option<&str>, range: (i64, i64)) -> Result<Rollup, StoreError> {
        let rollups = self
            .events
            .rollups(self.project, self.prompt_id, Some(self.environment), range)
            .await?;
        let mut total = Rollup::default();
        for r in rollups
            .iter()
            .filter(|r| version.is_none() || r.version.as_deref() == version)
        {
            total.add(r);
        }
        Ok(total)
    }
}
