//! Alerts on production behaviour: cost over a prompt's budgets, a newly promoted
//! version doing worse than the one it replaced, output drift. The rules, the tests
//! and the settings are described in `docs/observability.md#alerts`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What an alert is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Mean cost per call over the budget window above `metrics.max_cost_per_call_usd`.
    CostPerCall,
    /// The current UTC day's cost in the environment above `metrics.max_cost_per_day_usd`.
    CostPerDay,
    /// A newly promoted version fails more often than the one it replaced.
    ErrorRateRegression,
    /// A newly promoted version is slower than the one it replaced.
    LatencyRegression,
    /// The version's output lengths moved away from its own earlier ones.
    OutputDrift,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::CostPerCall,
        AlertKind::CostPerDay,
        AlertKind::ErrorRateRegression,
        AlertKind::LatencyRegression,
        AlertKind::OutputDrift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CostPerCall => "cost_per_call",
            AlertKind::CostPerDay => "cost_per_day",
            AlertKind::ErrorRateRegression => "error_rate_regression",
            AlertKind::LatencyRegression => "latency_regression",
            AlertKind::OutputDrift => "output_drift",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Whether the condition still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        match s {
            "firing" => Some(AlertState::Firing),
            "resolved" => Some(AlertState::Resolved),
            _ => None,
        }
    }
}

/// One alert: fired once per (prompt, environment, version, kind) while its condition
/// holds, resolved when it no longer does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    pub id: u64,
    pub project: String,
    pub prompt_id: String,
    pub environment: String,
    /// The version the environment served when it fired.
    pub version: String,
    /// Regressions: the version it replaced, which it was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_version: Option<String>,
    pub kind: AlertKind,
    pub state: AlertState,
    /// RFC 3339.
    pub fired_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    /// The figures that made it fire, by name (per kind: `calls`, `error_rate`,
    /// `baseline_error_rate`, `p95_ms`, `cost_per_call_usd`, `budget_usd`, …).
    pub measured: BTreeMap<String, f64>,
    /// The statistical test behind it (regressions and drift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// What happened, in one sentence.
    pub summary: String,
    /// Why it resolved, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// A project's alert settings: what the regression and drift rules need (budgets come
/// from each version's own `metrics`). A field left out of a `PUT` takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Compare a newly promoted version with the one it replaced (error rate, latency).
    pub regression: bool,
    /// Compare a version's output lengths now with its own earlier ones.
    pub drift: bool,
    /// Calls each side of a comparison needs at least (regressions and drift).
    #[schema(minimum = 10)]
    pub min_sample: u64,
    /// The significance level: a test fires below this p-value.
    pub alpha: f64,
    /// The smallest error-rate increase that fires (0.01: one percentage point).
    pub min_error_rate_increase: f64,
    /// The smallest ratio of p95 latencies (new over old) that fires.
    pub min_latency_p95_ratio: f64,
    /// The smallest Kolmogorov–Smirnov distance (0 to 1) that fires a drift alert.
    pub min_drift_distance: f64,
    /// Hours of the replaced version's calls before the move that form the baseline.
    pub baseline_hours: u32,
    /// Hours of the new version's calls (since the move, the most recent) compared.
    pub regression_hours: u32,
    /// Drift: the recent window, in hours…
    pub drift_recent_hours: u32,
    /// …compared with this many hours just before it.
    pub drift_reference_hours: u32,
    /// `cost_per_call`: the mean is taken over this many recent hours…
    pub budget_hours: u32,
    /// …once at least this many calls were made in them.
    pub budget_min_calls: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            regression: true,
            drift: true,
            min_sample: 200,
            alpha: 0.01,
            min_error_rate_increase: 0.01,
            min_latency_p95_ratio: 1.2,
            min_drift_distance: 0.1,
            baseline_hours: 24,
            regression_hours: 24,
            drift_recent_hours: 1,
            drift_reference_hours: 24,
            budget_hours: 1,
            budget_min_calls: 10,
        }
    }
}

/// What an evaluation did: the alerts it fired and resolved, and every alert firing
/// after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertEvaluation {
    /// Prompt × environment pairs looked at (those whose label points at a version).
    pub evaluated: u64,
    pub fired: Vec<Alert>,
    pub resolved: Vec<Alert>,
    pub firing: Vec<Alert>,
}
