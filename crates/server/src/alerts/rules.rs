//! The alert rules, as pure functions: each takes the figures of the windows it reads
//! (rollups summed over the window: calls, errors, cost, the latency and output-length
//! histograms) and says whether its condition holds, does not, or cannot be told yet.
//! The statistics are `promptops_core::stats`; money stays in integer nano-dollars until
//! it is written into a sentence or the alert's figures.

use promptops_api::{AlertKind, AlertSettings};
use promptops_core::stats::{self, TestResult};
use promptops_store::events::Rollup;
use std::collections::BTreeMap;

pub const Z_TEST: &str = "two-proportion z-test (pooled, one-sided)";
pub const U_TEST: &str =
    "Mann–Whitney U test (one-sided, normal approximation with tie and continuity corrections)";
pub const KS_TEST: &str = "two-sample Kolmogorov–Smirnov test (two-sided, asymptotic)";

/// What a rule found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition holds: fire (or keep firing).
    Holds(Finding),
    /// It does not: resolve a firing alert, saying why.
    Clear(String),
    /// Not enough calls to tell: leave things as they are.
    Unknown,
}

/// The makings of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub measured: BTreeMap<String, f64>,
    pub test: Option<&'static str>,
    pub p_value: Option<f64>,
    pub summary: String,
}

/// What is being judged: a prompt's version as one environment serves it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub prompt_id: &'a str,
    pub environment: &'a str,
    pub version: &'a str,
}

impl Subject<'_> {
    fn name(&self) -> String {
        format!(
            "{}@{} in {}",
            self.prompt_id, self.version, self.environment
        )
    }
}

/// `metrics.max_cost_per_call_usd`: the mean cost per call of the version over the
/// budget window above the budget, once the window has `budget_min_calls` calls.
pub fn cost_per_call(
    s: Subject<'_>,
    budget_usd: f64,
    window: &Rollup,
    settings: &AlertSettings,
) -> Verdict {
    let budget = nanos(budget_usd);
    if window.calls < settings.budget_min_calls {
        return Verdict::Unknown;
    }
    let mean_usd = window.cost_nanos as f64 / window.calls as f64 / 1e9;
    let hours = plural(settings.budget_hours, "hour");
    // Integers: cost > budget × calls, exactly.
    if i128::from(window.cost_nanos) > i128::from(budget) * i128::from(window.calls) {
        Verdict::Holds(Finding {
            measured: figures(&[
                ("calls", window.calls as f64),
                ("cost_usd", window.cost_nanos as f64 / 1e9),
                ("cost_per_call_usd", mean_usd),
                ("budget_usd", budget_usd),
            ]),
            test: None,
            p_value: None,
            summary: format!(
                "{}: mean cost per call {} over the last {hours} ({} calls) is above metrics.max_cost_per_call_usd {}",
                s.name(),
                usd(mean_usd),
                window.calls,
                usd(budget_usd)
            ),
        })
    } else {
        Verdict::Clear(format!(
            "mean cost per call {} over the last {hours} is within the budget {}",
            usd(mean_usd),
            usd(budget_usd)
        ))
    }
}

/// `metrics.max_cost_per_day_usd`: what the environment's calls of the prompt (every
/// version) cost in the current UTC day above the budget of the version it serves.
pub fn cost_per_day(s: Subject<'_>, budget_usd: f64, today: &Rollup) -> Verdict {
    let spent_usd = today.cost_nanos as f64 / 1e9;
    if today.cost_nanos > nanos(budget_usd) {
        Verdict::Holds(Finding {
            measured: figures(&[
                ("calls", today.calls as f64),
                ("cost_usd", spent_usd),
                ("budget_usd", budget_usd),
            ]),
            test: None,
            p_value: None,
            summary: format!(
                "{} in {}: {} spent today (UTC, {} calls) is above metrics.max_cost_per_day_usd {} of {}",
                s.prompt_id,
                s.environment,
                usd(spent_usd),
                today.calls,
                usd(budget_usd),
                s.version
            ),
        })
    } else {
        Verdict::Clear(format!(
            "{} spent today (UTC) is within the budget {}",
            usd(spent_usd),
            usd(budget_usd)
        ))
    }
}

/// A newly promoted version's error rate against the replaced one's: fires when the
/// one-sided pooled two-proportion z-test gives p < alpha, the rate rose by at least
/// `min_error_rate_increase`, and both sides have `min_sample` calls.
pub fn error_rate_regression(
    s: Subject<'_>,
    baseline_version: &str,
    new: &Rollup,
    old: &Rollup,
    settings: &AlertSettings,
) -> Verdict {
    if new.calls < settings.min_sample || old.calls < settings.min_sample {
        return Verdict::Unknown;
    }
    let Some(t) = stats::two_proportion_greater((new.errors, new.calls), (old.errors, old.calls))
    else {
        return Verdict::Unknown;
    };
    let (rate, base) = (rate(new.errors, new.calls), rate(old.errors, old.calls));
    let compared = format!(
        "error rate {} ({}/{}) against {} ({}/{}) for {baseline_version}",
        pct(rate),
        new.errors,
        new.calls,
        pct(base),
        old.errors,
        old.calls
    );
    if t.p_value < settings.alpha && rate - base >= settings.min_error_rate_increase {
        Verdict::Holds(Finding {
            measured: figures(&[
                ("calls", new.calls as f64),
                ("errors", new.errors as f64),
                ("error_rate", rate),
                ("baseline_calls", old.calls as f64),
                ("baseline_errors", old.errors as f64),
                ("baseline_error_rate", base),
                ("increase", rate - base),
                ("z", t.statistic),
            ]),
            test: Some(Z_TEST),
            p_value: Some(t.p_value),
            summary: format!(
                "{} fails more than {baseline_version} did before it: {compared}; {}",
                s.name(),
                verdict_of(&t, settings.alpha, Z_TEST)
            ),
        })
    } else {
        Verdict::Clear(format!(
            "{compared}; {}",
            verdict_of(&t, settings.alpha, Z_TEST)
        ))
    }
}

/// A newly promoted version's latency against the replaced one's: fires when the
/// one-sided Mann–Whitney U test (new slower) gives p < alpha, the ratio of p95s is at
/// least `min_latency_p95_ratio`, and both sides have `min_sample` timed calls.
pub fn latency_regression(
    s: Subject<'_>,
    baseline_version: &str,
    new: &Rollup,
    old: &Rollup,
    settings: &AlertSettings,
) -> Verdict {
    let (n_new, n_old) = (new.latency.count(), old.latency.count());
    if n_new < settings.min_sample || n_old < settings.min_sample {
        return Verdict::Unknown;
    }
    let (Some(t), Some(p95), Some(base95)) = (
        stats::mann_whitney_greater(&new.latency.bins(), &old.latency.bins()),
        new.latency.quantile(0.95),
        old.latency.quantile(0.95),
    ) else {
        return Verdict::Unknown;
    };
    // A p95 of 0 ms (every call instant) counts as 1 ms, so the ratio stays finite.
    let ratio = p95.max(1) as f64 / base95.max(1) as f64;
    let compared = format!(
        "p95 latency {p95} ms ({n_new} calls) against {base95} ms ({n_old} calls) for {baseline_version}, {ratio:.2}×"
    );
    if t.p_value < settings.alpha && ratio >= settings.min_latency_p95_ratio {
        Verdict::Holds(Finding {
            measured: figures(&[
                ("calls", n_new as f64),
                ("p50_ms", new.latency.quantile(0.5).unwrap_or(0) as f64),
                ("p95_ms", p95 as f64),
                ("baseline_calls", n_old as f64),
                (
                    "baseline_p50_ms",
                    old.latency.quantile(0.5).unwrap_or(0) as f64,
                ),
                ("baseline_p95_ms", base95 as f64),
                ("p95_ratio", ratio),
                ("u", t.statistic),
                ("z", t.standardized),
            ]),
            test: Some(U_TEST),
            p_value: Some(t.p_value),
            summary: format!(
                "{} is slower than {baseline_version} was before it: {compared}; {}",
                s.name(),
                verdict_of(&t, settings.alpha, U_TEST)
            ),
        })
    } else {
        Verdict::Clear(format!(
            "{compared}; {}",
            verdict_of(&t, settings.alpha, U_TEST)
        ))
    }
}

/// A version's output lengths in the recent window against its own in the reference
/// window before it: fires when the two-sample KS test gives p < alpha and D is at least
/// `min_drift_distance`, with `min_sample` calls reporting output tokens on each side.
pub fn output_drift(
    s: Subject<'_>,
    recent: &Rollup,
    reference: &Rollup,
    settings: &AlertSettings,
) -> Verdict {
    let (n_recent, n_ref) = (
        recent.output_lengths.count(),
        reference.output_lengths.count(),
    );
    if n_recent < settings.min_sample || n_ref < settings.min_sample {
        return Verdict::Unknown;
    }
    let (Some(t), Some(median), Some(base_median)) = (
        stats::kolmogorov_smirnov(
            &recent.output_lengths.bins(),
            &reference.output_lengths.bins(),
        ),
        recent.output_lengths.quantile(0.5),
        reference.output_lengths.quantile(0.5),
    ) else {
        return Verdict::Unknown;
    };
    let compared = format!(
        "median output {median} tokens in the last {} ({n_recent} calls) against {base_median} in the {} before ({n_ref} calls), D = {:.3}",
        plural(settings.drift_recent_hours, "hour"),
        plural(settings.drift_reference_hours, "hour"),
        t.statistic
    );
    if t.p_value < settings.alpha && t.statistic >= settings.min_drift_distance {
        Verdict::Holds(Finding {
            measured: figures(&[
                ("calls", n_recent as f64),
                ("median_output_tokens", median as f64),
                (
                    "p95_output_tokens",
                    recent.output_lengths.quantile(0.95).unwrap_or(0) as f64,
                ),
                ("reference_calls", n_ref as f64),
                ("reference_median_output_tokens", base_median as f64),
                (
                    "reference_p95_output_tokens",
                    reference.output_lengths.quantile(0.95).unwrap_or(0) as f64,
                ),
                ("d", t.statistic),
            ]),
            test: Some(KS_TEST),
            p_value: Some(t.p_value),
            summary: format!(
                "{}: output lengths drifted: {compared}; {}",
                s.name(),
                verdict_of(&t, settings.alpha, KS_TEST)
            ),
        })
    } else {
        Verdict::Clear(format!(
            "{compared}; {}",
            verdict_of(&t, settings.alpha, KS_TEST)
        ))
    }
}

/// The kinds a version is judged on, given what it declares and the settings.
pub fn kinds(settings: &AlertSettings) -> Vec<AlertKind> {
    let mut kinds = vec![AlertKind::CostPerCall, AlertKind::CostPerDay];
    if settings.regression {
        kinds.extend([AlertKind::ErrorRateRegression, AlertKind::LatencyRegression]);
    }
    if settings.drift {
        kinds.push(AlertKind::OutputDrift);
    }
    kinds
}

fn verdict_of(t: &TestResult, alpha: f64, test: &str) -> String {
    let short = test.split(" (").next().unwrap_or(test);
    let relation = if t.p_value < alpha { "<" } else { "≥" };
    format!("{short} p = {} {relation} {alpha}", p_value(t.p_value))
}

fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// A budget in USD as nano-dollars (budgets are finite and non-negative: `validate`).
fn nanos(usd: f64) -> i64 {
    (usd * 1e9).round().clamp(0.0, i64::MAX as f64) as i64
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Dollars with enough digits to tell small amounts apart ($0.00021, $12.40).
pub fn usd(amount: f64) -> String {
    if amount == 0.0 {
        "$0".to_owned()
    } else if amount.abs() >= 1.0 {
        format!("${amount:.2}")
    } else {
        // Two significant digits, without trailing zeros.
        let digits = (-amount.abs().log10().floor()) as usize + 1;
        let text = format!("{amount:.digits$}");
        format!("${}", text.trim_end_matches('0'))
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

fn plural(n: u32, unit: &str) -> String {
    if n == 1 {
        unit.to_owned()
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_store::events::Histogram;

    const S: Subject<'static> = Subject {
        prompt_id: "support.answer",
        environment: "prod",
        version: "1.1.0",
    };

    fn sample(calls: u64, errors: u64, latency_ms: &[(u64, u64)]) -> Rollup {
        let mut latency = Histogram::default();
        for (ms, n) in latency_ms {
            for _ in 0..*n {
                latency.record(*ms);
            }
        }
        Rollup {
            calls,
            errors,
            latency,
            ..Rollup::default()
        }
    }

    fn lengths(tokens: &[(u64, u64)]) -> Rollup {
        let mut h = Histogram::default();
        let mut calls = 0;
        for (t, n) in tokens {
            calls += n;
            for _ in 0..*n {
                h.record(*t);
            }
        }
        Rollup {
            calls,
            output_lengths: h,
            ..Rollup::default()
        }
    }

    #[test]
    fn error_rate_regression_needs_significance_effect_and_sample() {
        let settings = AlertSettings::default();
        let old = sample(400, 4, &[]);
        // 10% against 1%: z = 5.58, p = 1.2e-8 (see core::stats' reference values).
        let Verdict::Holds(f) =
            error_rate_regression(S, "1.0.0", &sample(400, 40, &[]), &old, &settings)
        else {
            panic!("a tenfold error rate fires");
        };
        assert_eq!(f.test, Some(Z_TEST));
        assert!(f.p_value.unwrap() < 1e-7);
        assert_eq!(f.measured["error_rate"], 0.1);
        assert_eq!(f.measured["baseline_error_rate"], 0.01);
        assert!(
            f.summary
                .starts_with("support.answer@1.1.0 in prod fails more than 1.0.0"),
            "{}",
            f.summary
        );
        assert!(
            f.summary.contains("10.0% (40/400) against 1.0% (4/400)"),
            "{}",
            f.summary
        );
        // The same rate: clear.
        assert!(matches!(
            error_rate_regression(S, "1.0.0", &sample(400, 4, &[]), &old, &settings),
            Verdict::Clear(_)
        ));
        // Significant but smaller than the minimum effect: 0.6% against 0.1% on 20,000
        // calls each is p ≈ 1e-17, yet half a percentage point.
        let big_old = sample(20_000, 20, &[]);
        assert!(matches!(
            error_rate_regression(S, "1.0.0", &sample(20_000, 120, &[]), &big_old, &settings),
            Verdict::Clear(_)
        ));
        // Below the minimum sample on either side: not yet known.
        assert_eq!(
            error_rate_regression(S, "1.0.0", &sample(199, 100, &[]), &old, &settings),
            Verdict::Unknown
        );
        assert_eq!(
            error_rate_regression(
                S,
                "1.0.0",
                &sample(400, 40, &[]),
                &sample(150, 0, &[]),
                &settings
            ),
            Verdict::Unknown
        );
    }

    #[test]
    fn latency_regression_needs_significance_and_ratio() {
        let settings = AlertSettings::default();
        let old = sample(400, 0, &[(90, 100), (100, 200), (110, 100)]);
        let slow = sample(400, 0, &[(270, 100), (300, 200), (330, 100)]);
        let Verdict::Holds(f) = latency_regression(S, "1.0.0", &slow, &old, &settings) else {
            panic!("three times slower fires");
        };
        assert_eq!(f.test, Some(U_TEST));
        assert!(f.measured["p95_ratio"] > 2.5, "{:?}", f.measured);
        assert!(f.p_value.unwrap() < 1e-50);
        // Slower for sure, but by 10%: under the 1.2 ratio.
        let bit_slower = sample(400, 0, &[(99, 100), (110, 200), (121, 100)]);
        assert!(matches!(
            latency_regression(S, "1.0.0", &bit_slower, &old, &settings),
            Verdict::Clear(_)
        ));
        // Faster: clear.
        assert!(matches!(
            latency_regression(S, "1.0.0", &old, &slow, &settings),
            Verdict::Clear(_)
        ));
        // Untimed calls do not count toward the sample.
        let untimed = sample(400, 0, &[(300, 50)]);
        assert_eq!(
            latency_regression(S, "1.0.0", &untimed, &old, &settings),
            Verdict::Unknown
        );
    }

    #[test]
    fn drift_compares_length_distributions() {
        let settings = AlertSettings::default();
        let reference = lengths(&[(100, 150), (120, 150), (140, 100)]);
        let longer = lengths(&[(300, 150), (360, 150), (420, 100)]);
        let Verdict::Holds(f) = output_drift(S, &longer, &reference, &settings) else {
            panic!("triple length fires");
        };
        assert_eq!(f.measured["d"], 1.0);
        assert_eq!(f.test, Some(KS_TEST));
        let same = lengths(&[(100, 300), (120, 300), (140, 200)]);
        assert!(matches!(
            output_drift(S, &same, &reference, &settings),
            Verdict::Clear(_)
        ));
        assert_eq!(
            output_drift(S, &lengths(&[(300, 20)]), &reference, &settings),
            Verdict::Unknown
        );
    }

    #[test]
    fn budgets_compare_in_nano_dollars() {
        let settings = AlertSettings::default();
        let window = |calls, cost_nanos| Rollup {
            calls,
            cost_nanos,
            ..Rollup::default()
        };
        // 20 calls at exactly $0.002: not above the budget.
        assert!(matches!(
            cost_per_call(S, 0.002, &window(20, 40_000_000), &settings),
            Verdict::Clear(_)
        ));
        // One nano-dollar more is.
        let Verdict::Holds(f) = cost_per_call(S, 0.002, &window(20, 40_000_001), &settings) else {
            panic!("over budget");
        };
        assert!(
            f.summary
                .contains("above metrics.max_cost_per_call_usd $0.002"),
            "{}",
            f.summary
        );
        // Fewer calls than budget_min_calls: not yet known.
        assert_eq!(
            cost_per_call(S, 0.002, &window(9, 900_000_000), &settings),
            Verdict::Unknown
        );
        let Verdict::Holds(f) = cost_per_day(S, 10.0, &window(5000, 12_400_000_000)) else {
            panic!("over the day's budget");
        };
        assert!(f.summary.contains("$12.40 spent today"), "{}", f.summary);
        assert!(matches!(
            cost_per_day(S, 10.0, &window(5000, 9_000_000_000)),
            Verdict::Clear(_)
        ));
    }

    #[test]
    fn dollars_read_well() {
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(12.4), "$12.40");
        assert_eq!(usd(0.002), "$0.002");
        assert_eq!(usd(0.00021), "$0.00021");
        assert_eq!(usd(0.0031), "$0.0031");
    }
}
