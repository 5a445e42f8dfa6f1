//! Alerts and each project's alert settings, in the registry.
//!
//! The server's evaluator decides what fires and what resolves; this stores it. Firing
//! and resolving are audited writes (`alert.fired`, `alert.resolved`, by the evaluator's
//! actor), so an alert reaches webhooks through the change feed like every other change,
//! and the alert row and its audit event commit together. Under the write lock, firing
//! first looks for an alert already firing with the same (prompt, environment, version,
//! kind) — two evaluators (a replica's task and an `evaluate` call) never fire it twice —
//! and a unique index on firing alerts backs that up.

use crate::engine::{SqlStore, append_audit, get, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::Alerting;
use crate::model::Actor;
use promptops_api::{Alert, AlertKind, AlertSettings, AlertState};
use promptops_core::clock::now_rfc3339;
use serde_json::json;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// An alert to fire.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub prompt_id: String,
    pub environment: String,
    pub version: String,
    pub baseline_version: Option<String>,
    pub kind: AlertKind,
    pub measured: BTreeMap<String, f64>,
    pub test: Option<String>,
    pub p_value: Option<f64>,
    pub summary: String,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `None`: firing and resolved.
    pub state: Option<AlertState>,
    pub prompt_id: Option<String>,
    pub environment: Option<String>,
    /// At most this many, newest first.
    pub limit: u64,
}

const ALERT_COLUMNS: &str = "id, project, prompt_id, environment, version, baseline_version, \
    kind, state, fired_at, resolved_at, measured, test, p_value, summary, resolution";

fn alert_from_row(row: &AnyRow) -> Result<Alert> {
    let kind: String = get(row, "kind")?;
    let state: String = get(row, "state")?;
    let measured: String = get(row, "measured")?;
    Ok(Alert {
        id: to_u64(get(row, "id")?, "alert id")?,
        project: get(row, "project")?,
        prompt_id: get(row, "prompt_id")?,
        environment: get(row, "environment")?,
        version: get(row, "version")?,
        baseline_version: get(row, "baseline_version")?,
        kind: AlertKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt(format!("alert kind `{kind}`")))?,
        state: AlertState::parse(&state)
            .ok_or_else(|| StoreError::corrupt(format!("alert state `{state}`")))?,
        fired_at: get(row, "fired_at")?,
        resolved_at: get(row, "resolved_at")?,
        measured: crate::engine::from_json(&measured, "alert figures")?,
        test: get(row, "test")?,
        p_value: get(row, "p_value")?,
        summary: get(row, "summary")?,
        resolution: get(row, "resolution")?,
    })
}

/// What an alert's audit event (and so its webhook's `data`) carries.
fn audit_details(alert: &Alert) -> serde_json::Value {
    json!({
        "alert": alert.id,
        "prompt": alert.prompt_id,
        "environment": alert.environment,
        "version": alert.version,
        "baseline_version": alert.baseline_version,
        "kind": alert.kind.as_str(),
        "state": alert.state.as_str(),
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "measured": alert.measured,
        "test": alert.test,
        "p_value": alert.p_value,
        "summary": alert.summary,
        "resolution": alert.resolution,
    })
}

/// Refuses settings no rule can work with, naming the field and its range.
pub fn check_settings(s: &AlertSettings) -> Result<()> {
    let bad = |field: &str, value: String, range: &str| {
        Err(StoreError::invalid(format!(
            "alert settings: `{field}` is {value}; it must be {range}"
        )))
    };
    if !(10..=10_000_000).contains(&s.min_sample) {
        return bad(
            "min_sample",
            s.min_sample.to_string(),
            "10 to 10000000 calls",
        );
    }
    if !(s.alpha > 0.0 && s.alpha <= 0.5) {
        return bad(
            "alpha",
            s.alpha.to_string(),
            "above 0 and at most 0.5 (e.g. 0.01)",
        );
    }
    if !(0.0..=1.0).contains(&s.min_error_rate_increase) {
        return bad(
            "min_error_rate_increase",
            s.min_error_rate_increase.to_string(),
            "a fraction from 0 to 1 (0.01 is one percentage point)",
        );
    }
    if !(1.0..=1000.0).contains(&s.min_latency_p95_ratio) {
        return bad(
            "min_latency_p95_ratio",
            s.min_latency_p95_ratio.to_string(),
            "from 1 to 1000 (1.2: 20% slower)",
        );
    }
    if !(0.0..=1.0).contains(&s.min_drift_distance) {
        return bad(
            "min_drift_distance",
            s.min_drift_distance.to_string(),
            "from 0 to 1",
        );
    }
    for (field, hours) in [
        ("baseline_hours", s.baseline_hours),
        ("regression_hours", s.regression_hours),
        ("drift_recent_hours", s.drift_recent_hours),
        ("drift_reference_hours", s.drift_reference_hours),
        ("budget_hours", s.budget_hours),
    ] {
        if !(1..=2160).contains(&hours) {
            return bad(field, hours.to_string(), "1 to 2160 hours (90 days)");
        }
    }
    if !(1..=10_000_000).contains(&s.budget_min_calls) {
        return bad(
            "budget_min_calls",
            s.budget_min_calls.to_string(),
            "1 to 10000000 calls",
        );
    }
    Ok(())
}

impl SqlStore {
    async fn alert_in(conn: &mut sqlx::AnyConnection, project: &str, id: u64) -> Result<Alert> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE project = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(i64::try_from(id).unwrap_or(i64::MAX))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found("alert", id.to_string()))?;
        alert_from_row(&row)
    }
}

impl Alerting for SqlStore {
    async fn alert_settings(&self, project: &str) -> Result<AlertSettings> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT settings FROM alert_settings WHERE project = $1")
                .bind(project)
                .fetch_optional(&self.pool)
                .await?;
        match text {
            None => Ok(AlertSettings::default()),
            Some(text) => crate::engine::from_json(&text, "alert settings"),
        }
    }

    async fn set_alert_settings(
        &self,
        project: &str,
        settings: &AlertSettings,
        actor: &Actor,
    ) -> Result<AlertSettings> {
        check_settings(settings)?;
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM projects WHERE name = $1")
            .bind(project)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::not_found("project", project));
        }
        let stored: Option<String> =
            sqlx::query_scalar("SELECT settings FROM alert_settings WHERE project = $1")
                .bind(project)
                .fetch_optional(&mut *tx)
                .await?;
        let current: AlertSettings = match stored {
            None => AlertSettings::default(),
            Some(text) => crate::engine::from_json(&text, "alert settings")?,
        };
        if current == *settings {
            // The same settings again change nothing, and record nothing.
            tx.rollback().await?;
            return Ok(current);
        }
        let value = serde_json::to_value(settings)
            .map_err(|e| StoreError::invalid(format!("alert settings: {e}")))?;
        sqlx::query(
            "INSERT INTO alert_settings (project, settings, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (project) DO UPDATE SET \
             settings = excluded.settings, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(project)
        .bind(value.to_string())
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "alerts.settings_changed",
            &format!("project:{project}"),
            json!({"settings": value}),
        )
        .await?;
        tx.commit().await?;
        Ok(settings.clone())
    }

    async fn alerts(&self, project: &str, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE project = $1 AND ($2 = '' OR state = $2) \
             AND ($3 = '' OR prompt_id = $3) AND ($4 = '' OR environment = $4) \
             ORDER BY id DESC LIMIT $5"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(filter.state.map_or("", AlertState::as_str))
            .bind(filter.prompt_id.as_deref().unwrap_or(""))
            .bind(filter.environment.as_deref().unwrap_or(""))
            .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(alert_from_row)
            .collect()
    }

    async fn fire_alert(
        &self,
        project: &str,
        new: &NewAlert,
        actor: &Actor,
    ) -> Result<Option<Alert>> {
        let mut tx = self.write_tx().await?;
        let firing = sqlx::query(
            "SELECT id FROM alerts WHERE project = $1 AND prompt_id = $2 AND environment = $3 \
             AND version = $4 AND kind = $5 AND state = 'firing'",
        )
        .bind(project)
        .bind(&new.prompt_id)
        .bind(&new.environment)
        .bind(&new.version)
        .bind(new.kind.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if firing.is_some() {
            tx.rollback().await?;
            return Ok(None);
        }
        let id: i64 = get(
            &sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM alerts")
                .fetch_one(&mut *tx)
                .await?,
            "next",
        )?;
        // JSON has no NaN or infinity: a figure that is not finite is left out.
        let measured: BTreeMap<&String, &f64> =
            new.measured.iter().filter(|(_, v)| v.is_finite()).collect();
        sqlx::query(
            "INSERT INTO alerts (id, project, prompt_id, environment, version, baseline_version, \
             kind, state, fired_at, measured, test, p_value, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'firing', $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(project)
        .bind(&new.prompt_id)
        .bind(&new.environment)
        .bind(&new.version)
        .bind(&new.baseline_version)
        .bind(new.kind.as_str())
        .bind(now_rfc3339())
        .bind(json!(measured).to_string())
        .bind(&new.test)
        .bind(new.p_value.filter(|p| p.is_finite()))
        .bind(&new.summary)
        .execute(&mut *tx)
        .await?;
        let alert = Self::alert_in(&mut tx, project, to_u64(id, "alert id")?).await?;
        append_audit(
            &mut tx,
            actor,
            "alert.fired",
            &format!("alert:{project}/{}", alert.id),
            audit_details(&alert),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(alert))
    }

    async fn resolve_alert(
        &self,
        project: &str,
        id: u64,
        resolution: &str,
        actor: &Actor,
    ) -> Result<Option<Alert>> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE alerts SET state = 'resolved', resolved_at = $1, resolution = $2 \
             WHERE project = $3 AND id = $4 AND state = 'firing'",
        )
        .bind(now_rfc3339())
        .bind(resolution)
        .bind(project)
        .bind(i64::try_from(id).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let alert = Self::alert_in(&mut tx, project, id).await?;
        append_audit(
            &mut tx,
            actor,
            "alert.resolved",
            &format!("alert:{project}/{id}"),
            audit_details(&alert),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(alert))
    }
}
