//! The statistical tests alerts rest on, as pure functions over counts: a two-proportion
//! z-test (error rates), a Mann–Whitney U test (latency distributions) and a two-sample
//! Kolmogorov–Smirnov test (output-length distributions).
//!
//! Distributions arrive as **binned counts**: `(bin, count)` pairs, where bins are
//! ordered keys (the event store's log-bucket indices). Observations in one bin are
//! ties: they share a mid-rank in the U test and a step of the empirical CDF in the KS
//! test. Nothing here panics: empty or degenerate input gives `None` or a p-value of 1
//! (no evidence), and every p-value is in `[0, 1]`.
//!
//! The reference values in the tests were computed with SciPy 1.17.1 (`scipy.stats`),
//! on the binned samples expanded to one value per observation; each test names the
//! call.

use std::collections::BTreeMap;

/// A test's statistic and its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// `z` for the z-test, `U` of the first sample for Mann–Whitney, `D` for KS.
    pub statistic: f64,
    /// The normal approximation's `z` (Mann–Whitney) or `sqrt(n·m/(n+m))·D` (KS); the
    /// statistic itself for the z-test.
    pub standardized: f64,
    pub p_value: f64,
}

/// The upper tail of the standard normal distribution, `P(Z > z)`.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    (0.5 * libm::erfc(z / std::f64::consts::SQRT_2)).clamp(0.0, 1.0)
}

/// One-sided, pooled **two-proportion z-test** of "the rate of `x` is higher than the
/// rate of `y`", each given as (successes, trials): `z = (p_x − p_y) / sqrt(p(1−p)(1/n_x
/// + 1/n_y))` with `p` the pooled rate, and the p-value `P(Z > z)`. `None` when a side
/// has no trials. When every trial on both sides is alike (the pooled rate is 0 or 1)
/// there is no variation to test: `z = 0`, p-value 1.
pub fn two_proportion_greater(x: (u64, u64), y: (u64, u64)) -> Option<TestResult> {
    let ((sx, nx), (sy, ny)) = (x, y);
    if nx == 0 || ny == 0 || sx > nx || sy > ny {
        return None;
    }
    let (nx, ny) = (nx as f64, ny as f64);
    let (px, py) = (sx as f64 / nx, sy as f64 / ny);
    let pooled = (sx + sy) as f64 / (nx + ny);
    let se = (pooled * (1.0 - pooled) * (1.0 / nx + 1.0 / ny)).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return Some(TestResult {
            statistic: 0.0,
            standardized: 0.0,
            p_value: 1.0,
        });
    }
    let z = (px - py) / se;
    Some(TestResult {
        statistic: z,
        standardized: z,
        p_value: normal_sf(z),
    })
}

/// One-sided **Mann–Whitney U test** of "values of `x` tend to be larger than values of
/// `y`", on binned counts. Ranks are taken over both samples together; the observations
/// of one bin are tied and each gets the bin's mid-rank. `U_x = R_x − n_x(n_x+1)/2`
/// (`R_x`: the sum of `x`'s ranks), compared with its mean `n_x·n_y/2` through the
/// normal approximation with the tie correction — variance `n_x·n_y/12 · ((N+1) −
/// Σ(t³−t)/(N(N−1)))`, `t` the size of each tie group, `N = n_x + n_y` — and a
/// continuity correction of ½: `z = (U_x − n_x·n_y/2 − ½) / σ`, p-value `P(Z > z)`
/// (SciPy's `mannwhitneyu(x, y, alternative='greater', method='asymptotic')`).
/// `None` when a side is empty; p-value 1 when every observation is tied.
pub fn mann_whitney_greater(x: &[(u32, u64)], y: &[(u32, u64)]) -> Option<TestResult> {
    let merged = merge(x, y);
    let (nx, ny) = totals(&merged);
    if nx == 0 || ny == 0 {
        return None;
    }
    let (nx, ny) = (nx as f64, ny as f64);
    let n = nx + ny;
    let mut below = 0.0; // observations in lower bins
    let mut rank_sum_x = 0.0;
    let mut ties = 0.0;
    for (cx, cy) in merged.values() {
        let t = (cx + cy) as f64;
        // Ranks below+1 ..= below+t share their mean.
        let mid_rank = below + (t + 1.0) / 2.0;
        rank_sum_x += *cx as f64 * mid_rank;
        ties += t * t * t - t;
        below += t;
    }
    let u = rank_sum_x - nx * (nx + 1.0) / 2.0;
    let mean = nx * ny / 2.0;
    let variance = nx * ny / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(TestResult {
            statistic: u,
            standardized: 0.0,
            p_value: 1.0,
        });
    }
    let z = (u - mean - 0.5) / variance.sqrt();
    Some(TestResult {
        statistic: u,
        standardized: z,
        p_value: normal_sf(z),
    })
}

/// Two-sided **two-sample Kolmogorov–Smirnov test** on binned counts: `D` is the largest
/// distance between the two empirical CDFs, read at the end of each bin; the p-value is
/// the asymptotic Kolmogorov distribution's tail at `λ = sqrt(n·m/(n+m))·D` (SciPy's
/// `kstwobign.sf`). Binning only merges steps, so `D` never exceeds the unbinned one.
/// `None` when a side is empty.
pub fn kolmogorov_smirnov(x: &[(u32, u64)], y: &[(u32, u64)]) -> Option<TestResult> {
    let merged = merge(x, y);
    let (nx, ny) = totals(&merged);
    if nx == 0 || ny == 0 {
        return None;
    }
    let (mut fx, mut fy, mut d) = (0u64, 0u64, 0.0f64);
    for (cx, cy) in merged.values() {
        fx += cx;
        fy += cy;
        d = d.max((fx as f64 / nx as f64 - fy as f64 / ny as f64).abs());
    }
    let (n, m) = (nx as f64, ny as f64);
    let lambda = (n * m / (n + m)).sqrt() * d;
    Some(TestResult {
        statistic: d,
        standardized: lambda,
        p_value: kolmogorov_sf(lambda),
    })
}

/// `P(K > λ)` for the Kolmogorov distribution (the limit of `sqrt(n)·D_n`):
/// `2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}`, which converges fast for λ ≥ 1; below that, one
/// minus the CDF's other series `sqrt(2π)/λ · Σ_{k≥1} e^{−(2k−1)²π²/(8λ²)}`.
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    let p = if lambda < 1.0 {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        let cdf: f64 = (1..=20)
            .map(|k| {
                let odd = (2 * k - 1) as f64;
                (-odd * odd * pi2 / (8.0 * lambda * lambda)).exp()
            })
            .sum::<f64>()
            * (2.0 * std::f64::consts::PI).sqrt()
            / lambda;
        1.0 - cdf
    } else {
        2.0 * (1..=100)
            .map(|k| {
                let k = k as f64;
                let sign = if k as u64 % 2 == 1 { 1.0 } else { -1.0 };
                sign * (-2.0 * k * k * lambda * lambda).exp()
            })
            .sum::<f64>()
    };
    p.clamp(0.0, 1.0)
}

/// Both samples' counts per bin, in bin order.
fn merge(x: &[(u32, u64)], y: &[(u32, u64)]) -> BTreeMap<u32, (u64, u64)> {
    let mut merged: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for (bin, c) in x {
        merged.entry(*bin).or_default().0 += c;
    }
    for (bin, c) in y {
        merged.entry(*bin).or_default().1 += c;
    }
    merged
}

fn totals(merged: &BTreeMap<u32, (u64, u64)>) -> (u64, u64) {
    merged
        .values()
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    #[track_caller]
    fn check(got: f64, want: f64, rel: f64) {
        assert!(close(got, want, rel), "got {got:e}, want {want:e}");
    }

    #[test]
    fn normal_tail_matches_scipy() {
        // scipy.stats.norm.sf(z)
        for (z, want) in [
            (0.0, 0.5),
            (1.0, 0.158_655_253_931_457_07),
            (1.96, 0.024_997_895_148_220_435),
            (3.0, 0.001_349_898_031_630_093_3),
            (5.0, 2.866_515_718_791_933e-7),
            (10.0, 7.619_853_024_160_47e-24),
            (-2.0, 0.977_249_868_051_820_8),
        ] {
            check(normal_sf(z), want, 2e-7);
        }
        assert_eq!(normal_sf(f64::INFINITY), 0.0);
        assert_eq!(normal_sf(f64::NEG_INFINITY), 1.0);
        assert_eq!(normal_sf(f64::NAN), 1.0);
    }

    #[test]
    fn two_proportions_match_the_formula_through_scipy() {
        // z by the pooled formula, p = scipy.stats.norm.sf(z):
        // 40/400 vs 4/400: z = 5.582905262390826, p = 1.182668031340366e-08
        let r = two_proportion_greater((40, 400), (4, 400)).unwrap();
        check(r.statistic, 5.582_905_262_390_826, 1e-12);
        check(r.p_value, 1.182_668_031_340_366e-8, 1e-6);
        // 12/200 vs 5/200: z = 1.7350188119991932, p = 0.04136873660177275
        let r = two_proportion_greater((12, 200), (5, 200)).unwrap();
        check(r.statistic, 1.735_018_811_999_193_2, 1e-12);
        check(r.p_value, 0.041_368_736_601_772_75, 1e-6);
        // The other way round: p = 0.9586312633982272
        let r = two_proportion_greater((5, 200), (12, 200)).unwrap();
        check(r.p_value, 0.958_631_263_398_227_2, 1e-6);
    }

    #[test]
    fn two_proportions_degenerate_cases() {
        assert_eq!(two_proportion_greater((0, 0), (1, 10)), None);
        assert_eq!(two_proportion_greater((1, 10), (0, 0)), None);
        assert_eq!(two_proportion_greater((11, 10), (0, 10)), None);
        // No errors anywhere, or errors everywhere: nothing to test.
        assert_eq!(
            two_proportion_greater((0, 500), (0, 500)).unwrap().p_value,
            1.0
        );
        assert_eq!(
            two_proportion_greater((500, 500), (20, 20))
                .unwrap()
                .p_value,
            1.0
        );
    }

    #[test]
    fn mann_whitney_matches_scipy_with_ties() {
        // scipy.stats.mannwhitneyu([1,2,2,3,5], [1,1,2,4], alternative='greater',
        //   method='asymptotic', use_continuity=True): U = 13.0, p = 0.26308423887807164
        let x = [(1, 1), (2, 2), (3, 1), (5, 1)];
        let y = [(1, 2), (2, 1), (4, 1)];
        let r = mann_whitney_greater(&x, &y).unwrap();
        assert_eq!(r.statistic, 13.0);
        check(r.p_value, 0.263_084_238_878_071_64, 1e-6);
        // Bins 10,11,12,14 × 30,50,40,10 against 9,10,11,12 × 20,60,45,5 (same call):
        // U = 13025.0, p = 1.0485464176097066e-15; swapped: U = 3875.0, p = 0.999999999999999
        let x = [(10, 30), (11, 50), (12, 40), (14, 10)];
        let y = [(9, 20), (10, 60), (11, 45), (12, 5)];
        let r = mann_whitney_greater(&x, &y).unwrap();
        assert_eq!(r.statistic, 13025.0);
        check(r.p_value, 1.048_546_417_609_706_6e-15, 1e-5);
        let r = mann_whitney_greater(&y, &x).unwrap();
        assert_eq!(r.statistic, 3875.0);
        check(r.p_value, 0.999_999_999_999_999, 1e-9);
    }

    #[test]
    fn mann_whitney_degenerate_cases() {
        assert_eq!(mann_whitney_greater(&[], &[(1, 3)]), None);
        assert_eq!(mann_whitney_greater(&[(1, 0)], &[(1, 3)]), None);
        // Everything in one bin: every observation tied.
        assert_eq!(
            mann_whitney_greater(&[(7, 300)], &[(7, 200)])
                .unwrap()
                .p_value,
            1.0
        );
        // One observation each: N(N−1) is not zero, the variance is.
        let r = mann_whitney_greater(&[(2, 1)], &[(1, 1)]).unwrap();
        assert!((0.0..=1.0).contains(&r.p_value));
    }

    #[test]
    fn kolmogorov_smirnov_matches_scipy() {
        // D = scipy.stats.ks_2samp(x, y).statistic, p = scipy.stats.kstwobign.sf(sqrt(en)·D):
        // the bins of the Mann–Whitney case: D = 0.38461538461538464, p = 8.89637407780505e-09
        let x = [(10, 30), (11, 50), (12, 40), (14, 10)];
        let y = [(9, 20), (10, 60), (11, 45), (12, 5)];
        let r = kolmogorov_smirnov(&x, &y).unwrap();
        check(r.statistic, 0.384_615_384_615_384_64, 1e-12);
        check(r.p_value, 8.896_374_077_805_05e-9, 1e-6);
        // 50,52,54 × 30,100,70 against 51,53,55 × 60,90,50: D = 0.35, p = 4.579469691291106e-11
        let x = [(50, 30), (52, 100), (54, 70)];
        let y = [(51, 60), (53, 90), (55, 50)];
        let r = kolmogorov_smirnov(&x, &y).unwrap();
        check(r.statistic, 0.35, 1e-12);
        check(r.p_value, 4.579_469_691_291_106e-11, 1e-6);
        // The same sample twice: D = 0, p = 1.
        let same = [(50, 100), (52, 100), (54, 100)];
        let r = kolmogorov_smirnov(&same, &same).unwrap();
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        assert_eq!(kolmogorov_smirnov(&[], &same), None);
    }

    #[test]
    fn kolmogorov_tail_matches_scipy() {
        // scipy.stats.kstwobign.sf(λ), on both sides of the switch between the series.
        for (lambda, want) in [
            (0.2, 0.999_999_999_999_495),
            (0.5, 0.963_945_243_664_875_1),
            (0.8, 0.544_142_411_574_198_1),
            (1.0, 0.269_999_671_677_354_56),
            (1.18, 0.123_453_809_429_765_7),
            (1.36, 0.049_485_876_755_377_876),
            (2.0, 0.000_670_925_255_779_695_3),
            (3.0, 3.045_995_948_942_526e-8),
        ] {
            check(kolmogorov_sf(lambda), want, 1e-9);
        }
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert_eq!(kolmogorov_sf(-1.0), 1.0);
        assert_eq!(kolmogorov_sf(f64::INFINITY), 0.0);
    }

    fn binned() -> impl Strategy<Value = Vec<(u32, u64)>> {
        proptest::collection::vec((0u32..40, 0u64..500), 0..12)
    }

    proptest! {
        #[test]
        fn p_values_are_probabilities(x in binned(), y in binned(), sx in 0u64..1000, nx in 0u64..1000, sy in 0u64..1000, ny in 0u64..1000) {
            for r in [mann_whitney_greater(&x, &y), kolmogorov_smirnov(&x, &y), two_proportion_greater((sx, nx), (sy, ny))].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
                prop_assert!(!r.statistic.is_nan(), "{r:?}");
            }
        }

        #[test]
        fn a_sample_against_itself_shows_nothing(x in binned()) {
            if let Some(r) = kolmogorov_smirnov(&x, &x) {
                prop_assert_eq!(r.statistic, 0.0);
                prop_assert_eq!(r.p_value, 1.0);
            }
            if let Some(r) = mann_whitney_greater(&x, &x) {
                // U is exactly its mean; the continuity correction leans to "no".
                prop_assert!(r.p_value >= 0.5, "{r:?}");
            }
        }

        #[test]
        fn ks_is_symmetric_and_u_statistics_add_up(x in binned(), y in binned()) {
            let (a, b) = (kolmogorov_smirnov(&x, &y), kolmogorov_smirnov(&y, &x));
            prop_assert_eq!(a.map(|r| r.statistic), b.map(|r| r.statistic));
            if let (Some(ux), Some(uy)) = (mann_whitney_greater(&x, &y), mann_whitney_greater(&y, &x)) {
                let nx: u64 = x.iter().map(|(_, c)| c).sum();
                let ny: u64 = y.iter().map(|(_, c)| c).sum();
                prop_assert!((ux.statistic + uy.statistic - (nx * ny) as f64).abs() < 1e-6 * (nx * ny) as f64 + 1e-9);
            }
        }

        #[test]
        fn equal_rates_never_look_higher(s in 0u64..1000, n in 1u64..1000) {
            let s = s.min(n);
            let r = two_proportion_greater((s, n), (s, n)).unwrap();
            prop_assert!(r.p_value >= 0.5, "{r:?}");
        }
    }
}
