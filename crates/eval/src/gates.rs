//! A prompt's gates: the pass rate, cost per call and latency its own `metrics` allow,
//! checked against a run of its prompt-centric suite.

use crate::runner::RunResult;
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

/// What a run measured, as the gates judge it (and `eval --publish` records it).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub rows: usize,
    pub passed: usize,
    /// Passed rows over all rows (1.0 for an empty run).
    pub accuracy: f64,
    /// Mean cost of the calls made: `NoCalls`, `Unpriced` when any call's model has no
    /// price, else the mean in USD.
    pub cost_per_call: CostPerCall,
    /// 95th-percentile latency (nearest rank) of the calls made.
    pub p95_latency_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CostPerCall {
    NoCalls,
    Unpriced,
    Usd(f64),
}

pub fn measure(run: &RunResult) -> Measured {
    let rows = run.summary.rows();
    let passed = run.summary.successes;
    let accuracy = if rows == 0 {
        1.0
    } else {
        passed as f64 / rows as f64
    };
    let calls = &run.calls;
    let cost_per_call = if calls.count() == 0 {
        CostPerCall::NoCalls
    } else if calls.unpriced > 0 {
        CostPerCall::Unpriced
    } else {
        CostPerCall::Usd(calls.cost.as_usd_f64() / calls.count() as f64)
    };
    let mut latencies = calls.latencies_ms.clone();
    latencies.sort_unstable();
    Measured {
        rows,
        passed,
        accuracy,
        cost_per_call,
        p95_latency_ms: p95(&latencies),
    }
}

/// Checks every gate the prompt sets against what the run measured. Accuracy is always
/// checked: with no `baseline_accuracy`, every case must pass.
pub fn check(gates: &Gates, m: &Measured) -> Vec<GateResult> {
    let want = gates.baseline_accuracy.unwrap_or(1.0);
    let mut out = vec![GateResult {
        name: "accuracy",
        pass: m.accuracy + 1e-12 >= want,
        required: format!(">= {want:.2}"),
        measured: format!("{:.2} ({}/{})", m.accuracy, m.passed, m.rows),
    }];
    if let Some(limit) = gates.max_cost_per_call_usd {
        let (pass, measured) = match m.cost_per_call {
            CostPerCall::NoCalls => (false, "no calls were made".to_owned()),
            CostPerCall::Unpriced => (
                false,
                "unknown: the model has no price (add one with --prices)".to_owned(),
            ),
            CostPerCall::Usd(mean) => (mean <= limit, format!("{mean:.6}")),
        };
        out.push(GateResult {
            name: "cost_per_call_usd",
            pass,
            required: format!("<= {limit}"),
            measured,
        });
    }
    if let Some(limit) = gates.max_latency_ms {
        let (pass, measured) = match m.p95_latency_ms {
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
