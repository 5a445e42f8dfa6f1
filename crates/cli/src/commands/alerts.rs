//! `promptops alerts`: the registry project's alerts as a table (or JSON), an evaluation
//! on demand, and the alert settings.

use super::registry::Session;
use crate::Outcome;
use crate::cli::{AlertsAction, Format};
use crate::output::{self, BOLD, DIM, GREEN, RED};
use anstream::println;
use anyhow::{Result, bail};
use promptops_api::{Alert, AlertSettings, AlertState};
use serde_json::Value;

/// What `promptops alerts` lists.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    pub prompt: Option<&'a str>,
    pub env: Option<&'a str>,
    /// `firing`, `resolved` or `all`.
    pub state: &'a str,
}

pub fn list(session: &Session, filter: Filter<'_>) -> Result<Outcome> {
    let mut query = vec![("state", filter.state)];
    if let Some(p) = filter.prompt {
        query.push(("prompt", p));
    }
    if let Some(e) = filter.env {
        query.push(("env", e));
    }
    let alerts = match session.block(session.client.alerts(&session.project, &query)) {
        Ok(a) => a,
        Err(e) => return session.refused(e),
    };
    if session.format == Format::Json {
        output::json(&alerts);
        return Ok(Outcome::Ok);
    }
    if alerts.is_empty() {
        let which = match filter.state {
            "all" => String::new(),
            s => format!("{s} "),
        };
        println!("no {which}alerts in {}", session.project);
        return Ok(Outcome::Ok);
    }
    table(&alerts);
    Ok(Outcome::Ok)
}

/// One row per alert: id, state, kind, prompt, environment, version, since when, and
/// the sentence (or, once resolved, why).
fn table(alerts: &[Alert]) {
    println!(
        "{DIM}{:<5} {:<9} {:<22} {:<28} {:<10} {:<10} {:<24} what{DIM:#}",
        "id", "state", "kind", "prompt", "env", "version", "since"
    );
    for a in alerts {
        let (state, since, what) = match a.state {
            AlertState::Firing => (
                format!("{RED}{:<9}{RED:#} ", "firing"),
                a.fired_at.as_str(),
                a.summary.clone(),
            ),
            AlertState::Resolved => (
                format!("{GREEN}{:<9}{GREEN:#} ", "resolved"),
                a.resolved_at.as_deref().unwrap_or(&a.fired_at),
                format!(
                    "{} — resolved: {}",
                    a.summary,
                    a.resolution.as_deref().unwrap_or("")
                ),
            ),
        };
        println!(
            "{:<5} {state}{:<22} {:<28} {:<10} {:<10} {:<24} {what}",
            a.id,
            a.kind.as_str(),
            a.prompt_id,
            a.environment,
            a.version,
            since
        );
    }
}

pub fn action(session: &Session, action: &AlertsAction) -> Result<Outcome> {
    let c = &session.client;
    let project = session.project.as_str();
    match action {
        AlertsAction::Evaluate => {
            let done = match session.block(c.evaluate_alerts(project)) {
                Ok(d) => d,
                Err(e) => return session.refused(e),
            };
            if session.format == Format::Json {
                output::json(&done);
                return Ok(Outcome::Ok);
            }
            println!(
                "evaluated {} prompt × environment pair{}: {} fired, {} resolved, {} firing",
                done.evaluated,
                if done.evaluated == 1 { "" } else { "s" },
                done.fired.len(),
                done.resolved.len(),
                done.firing.len()
            );
            if !done.firing.is_empty() {
                table(&done.firing);
            }
            Ok(Outcome::Ok)
        }
        AlertsAction::Settings { set } => {
            let current = match session.block(c.alert_settings(project)) {
                Ok(s) => s,
                Err(e) => return session.refused(e),
            };
            let settings = if set.is_empty() {
                current
            } else {
                let changed = with_changes(&current, set)?;
                match session.block(c.set_alert_settings(project, &changed)) {
                    Ok(s) => s,
                    Err(e) => return session.refused(e),
                }
            };
            if session.format == Format::Json {
                output::json(&settings);
                return Ok(Outcome::Ok);
            }
            println!("{BOLD}alert settings of {project}{BOLD:#}");
            if let Value::Object(map) = serde_json::to_value(&settings)? {
                for (k, v) in map {
                    println!("  {k:<24} {v}");
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

/// `current` with each `KEY=VALUE` of `set` applied (values are JSON: `0.05`, `true`,
/// `300`).
fn with_changes(current: &AlertSettings, set: &[String]) -> Result<AlertSettings> {
    let mut value = serde_json::to_value(current)?;
    let Value::Object(map) = &mut value else {
        bail!("the settings are not an object");
    };
    for item in set {
        let Some((key, text)) = item.split_once('=') else {
            bail!("--set {item}: write KEY=VALUE (e.g. --set min_sample=300)");
        };
        let key = key.trim();
        if !map.contains_key(key) {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            bail!(
                "--set {item}: no setting `{key}`; the settings are {}",
                keys.join(", ")
            );
        }
        let parsed: Value = serde_json::from_str(text.trim())
            .map_err(|_| anyhow::anyhow!("--set {item}: `{text}` is not a number or true/false"))?;
        map.insert(key.to_owned(), parsed);
    }
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("--set: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_change_by_key() {
        let d = AlertSettings::default();
        let s = with_changes(&d, &["min_sample=300".into(), "drift=false".into()]).unwrap();
        assert_eq!((s.min_sample, s.drift, s.alpha), (300, false, d.alpha));
        for (bad, says) in [
            ("min_sample", "write KEY=VALUE"),
            ("alhpa=0.05", "no setting `alhpa`"),
            ("alpha=low", "`low` is not a number"),
            ("min_sample=-4", "--set: "),
        ] {
            let e = with_changes(&d, &[bad.into()]).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
