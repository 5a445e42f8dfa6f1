//! A prompt's gates: the pass rate, cost per call and latency its own `metrics` allow,
//! checked against a run of its prompt-centric suite.

use crate::runner::{Outcome, RunResult};
use crate::suite::Gates;

/// One gate's verdict, with the measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    /// `accuracy`, `cost_per_call_usd` or `p95_latency_ms`.
    pub name: &'static str,
    pub pass: bool,
    /// What was required, e.g. `>= 0.90`.
    pub required: String,
    /// What the run measured, e.g. `0.95 (19/20)`.
    pub measured: String,
}

/// Checks every gate the prompt sets. Accuracy is always checked: with no
/// `baseline_accuracy`, every case must pass.
pub fn check(gates: &Gates, run: &RunResult) -> Vec<GateResult> {
    let rows = run.rows.len();
    let passed = run
        .rows
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    let accuracy = if rows == 0 {
        1.0
    } else {
        passed as f64 / rows as f64
    };
    let want = gates.baseline_accuracy.unwrap_or(1.0);
    let mut out = vec![GateResult {
        name: "accuracy",
        pass: accuracy + 1e-12 >= want,
        required: format!(">= {want:.2}"),
        measured: format!("{accuracy:.2} ({passed}/{rows})"),
    }];
    if let Some(limit) = gates.max_cost_per_call_usd {
        let costs: Vec<Option<f64>> = run
            .rows
            .iter()
            .filter_map(|r| r.response.as_ref())
            .map(|r| r.cost.map(|c| c.as_usd_f64()))
            .collect();
        let (pass, measured) = if costs.is_empty() {
            (false, "no calls were made".to_owned())
        } else if costs.iter().any(Option::is_none) {
            (
                false,
                "unknown: the model has no price (add one with --prices)".to_owned(),
            )
        } else {
            let mean = costs.iter().flatten().sum::<f64>() / costs.len() as f64;
            (mean <= limit, format!("{mean:.6}"))
        };
        out.push(GateResult {
            name: "cost_per_call_usd",
            pass,
            required: format!("<= {limit}"),
            measured,
        });
    }
    if let Some(limit) = gates.max_latency_ms {
        let mut latencies: Vec<u64> = run
            .rows
            .iter()
            .filter(|r| r.response.is_some())
            .map(|r| r.latency_ms)
            .collect();
        latencies.sort_unstable();
        let (pass, measured) = match p95(&latencies) {
            Some(p) => (p as f64 <= limit, format!("{p}")),
            None => (false, "no calls were made".to_owned()),
        };
        out.push(GateResult {
            name: "p95_latency_ms",
            pass,
            required: format!("<= {limit}"),
            measured,
        });
    }
    out
}

/// The 95th percentile (nearest rank) of sorted values.
fn p95(sorted: &[u64]) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() as f64 * 0.95).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentile() {
        assert_eq!(p95(&[]), None);
        assert_eq!(p95(&[7]), Some(7));
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!(p95(&values), Some(19));
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(p95(&values), Some(95));
    }
}
