//! The figures an eval gate reads, measured by the server from what a run carries —
//! its counts and its report's rows — never taken from the client's own summary.
//! A run whose counts disagree with its rows is refused: one of them is not true.

use promptops_api::EvalMeasure;
use serde_json::Value as Json;

/// Why a run's figures cannot be trusted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    #[error(
        "the report is not a promptops/promptfoo results document (no `results.results` array of rows); attach the JSON `promptops eval -o out.json` wrote"
    )]
    NotAReport,
    #[error(
        "the counts posted (passed {posted:?}) disagree with the report's {rows} rows (passed {counted:?}); post the report with the counts it gives"
    )]
    CountsDisagree {
        posted: (u64, u64, u64),
        counted: (u64, u64, u64),
        rows: u64,
    },
}

/// Passed, failed and errored cases as a run states them.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
}

impl Counts {
    fn total(self) -> u64 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.errors)
    }

    fn triple(self) -> (u64, u64, u64) {
        (self.passed, self.failed, self.errors)
    }
}

/// What the server measures of a run: the pass rate from the counts; cost per call and
/// p95 latency from the report's rows (unknown without a report).
pub fn measure(counts: Counts, report: Option<&Json>) -> Result<EvalMeasure, MeasureError> {
    let total = counts.total();
    let pass_rate = (total > 0).then(|| counts.passed as f64 / total as f64);
    let Some(report) = report else {
        return Ok(EvalMeasure {
            pass_rate,
            ..EvalMeasure::default()
        });
    };
    let rows = report
        .pointer("/results/results")
        .and_then(Json::as_array)
        .ok_or(MeasureError::NotAReport)?;
    let mut counted = Counts {
        passed: 0,
        failed: 0,
        errors: 0,
    };
    let mut latencies = Vec::new();
    let mut costs = Vec::new();
    for row in rows {
        if row.get("success").and_then(Json::as_bool) == Some(true) {
            counted.passed += 1;
        } else if row.get("failureReason").and_then(Json::as_u64) == Some(2) {
            counted.errors += 1;
        } else {
            counted.failed += 1;
        }
        // A row with a response is a call to the provider (an error answer included).
        if let Some(response) = row.get("response").filter(|r| r.is_object()) {
            latencies.push(row.get("latencyMs").and_then(Json::as_f64).unwrap_or(0.0));
            costs.push(response.get("cost").and_then(Json::as_f64));
        }
    }
    if counted.triple() != counts.triple() {
        return Err(MeasureError::CountsDisagree {
            posted: counts.triple(),
            counted: counted.triple(),
            rows: rows.len() as u64,
        });
    }
    let cost_per_call_usd = if costs.is_empty() || costs.iter().any(Option::is_none) {
        None
    } else {
        Some(costs.iter().flatten().sum::<f64>() / costs.len() as f64)
    };
    latencies.sort_by(f64::total_cmp);
    Ok(EvalMeasure {
        pass_rate,
        rows: Some(rows.len() as u64),
        calls: Some(latencies.len() as u64),
        cost_per_call_usd,
        p95_latency_ms: p95(&latencies),
    })
}

/// The 95th percentile by nearest rank, as `promptops eval`'s gates compute it.
fn p95(sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (0.95 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counts(passed: u64, failed: u64, errors: u64) -> Counts {
        Counts {
            passed,
            failed,
            errors,
        }
    }

    fn report(rows: Vec<Json>) -> Json {
        json!({"results": {"results": rows}})
    }

    fn row(success: bool, reason: u64, latency: u64, cost: Option<f64>) -> Json {
        let mut response = json!({"output": "x"});
        if let Some(c) = cost {
            response["cost"] = json!(c);
        }
        json!({"success": success, "failureReason": reason, "latencyMs": latency, "response": response})
    }

    #[test]
    fn the_pass_rate_comes_from_the_counts_not_the_summary() {
        // The forgery: 0 of 100 passed, "pass_rate: 1.0" in the summary.
        let m = measure(counts(0, 100, 0), None).unwrap();
        assert_eq!(m.pass_rate, Some(0.0));
        assert_eq!(m.cost_per_call_usd, None, "no rows, no cost");
        assert_eq!(measure(counts(0, 0, 0), None).unwrap().pass_rate, None);
    }

    #[test]
    fn cost_and_latency_come_from_the_rows() {
        let mut rows: Vec<Json> = (1..=20)
            .map(|i| row(true, 0, i * 10, Some(0.002)))
            .collect();
        rows.push(row(false, 1, 500, Some(0.004)));
        let m = measure(counts(20, 1, 0), Some(&report(rows))).unwrap();
        assert_eq!(m.rows, Some(21));
        assert_eq!(m.calls, Some(21));
        assert!((m.cost_per_call_usd.unwrap() - (0.002 * 20.0 + 0.004) / 21.0).abs() < 1e-12);
        assert_eq!(m.p95_latency_ms, Some(200.0));
    }

    #[test]
    fn counts_that_disagree_with_the_rows_are_refused() {
        let rows = vec![row(false, 1, 5, None), row(false, 2, 5, None)];
        let e = measure(counts(2, 0, 0), Some(&report(rows.clone()))).unwrap_err();
        assert!(matches!(
            e,
            MeasureError::CountsDisagree {
                counted: (0, 1, 1),
                ..
            }
        ));
        assert!(measure(counts(0, 1, 1), Some(&report(rows))).is_ok());
    }

    #[test]
    fn an_unpriced_call_makes_the_cost_unknown() {
        let rows = vec![row(true, 0, 5, Some(0.1)), row(true, 0, 5, None)];
        let m = measure(counts(2, 0, 0), Some(&report(rows))).unwrap();
        assert_eq!(m.cost_per_call_usd, None);
    }

    #[test]
    fn a_report_without_rows_is_refused() {
        assert_eq!(
            measure(counts(1, 0, 0), Some(&json!({"summary": 1}))),
            Err(MeasureError::NotAReport)
        );
    }
}
