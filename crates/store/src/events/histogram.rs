//! Distributions of whole numbers (latencies in ms, output lengths in tokens) kept as
//! counts per logarithmic bucket, so minute rollups can be merged into hours and days and
//! still give percentiles: bucket `i` holds values in `[GROWTH^(i-1), GROWTH^i)` (bucket
//! 0 holds 0), so a percentile read back is the bucket's upper bound, at most 5% above
//! the true value. 400 buckets reach past three days of milliseconds (larger values all
//! land in the last one). The buckets, in order, are also what the alerts' rank and
//! distribution tests read ([`Histogram::bins`]).

use std::collections::BTreeMap;

/// Each bucket's upper bound is this factor above its lower bound.
const GROWTH: f64 = 1.05;
/// The last bucket takes everything longer (about 81 hours and up).
const LAST: u32 = 400;

/// Counts per bucket, sparse (most requests land in a few dozen buckets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<u32, u64>,
}

impl Histogram {
    pub fn record(&mut self, latency_ms: u64) {
        *self.counts.entry(bucket_of(latency_ms)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (bucket, n) in &other.counts {
            *self.counts.entry(*bucket).or_default() += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// `(bucket, count)` in bucket order: the binned sample `promptops_core::stats`
    /// tests (values in one bucket are ties).
    pub fn bins(&self) -> Vec<(u32, u64)> {
        self.counts.iter().map(|(b, n)| (*b, *n)).collect()
    }

    /// The latency below which `q` (0..=1) of the recorded ones fall, as the upper bound
    /// of its bucket (nearest-rank); `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, n) in &self.counts {
            seen += n;
            if seen >= rank {
                return Some(upper_bound(*bucket));
            }
        }
        self.counts.keys().last().map(|b| upper_bound(*b))
    }

    /// The stored form: `bucket:count` pairs joined by commas (`0:3,41:10`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.counts.len() * 8);
        for (i, (bucket, n)) in self.counts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&bucket.to_string());
            out.push(':');
            out.push_str(&n.to_string());
        }
        out
    }

    /// Reads [`Histogram::encode`]'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<Histogram> {
        let mut counts = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            let (bucket, n) = pair.split_once(':')?;
            let bucket: u32 = bucket.parse().ok().filter(|b| *b <= LAST)?;
            let n: u64 = n.parse().ok()?;
            *counts.entry(bucket).or_default() += n;
        }
        Some(Histogram { counts })
    }
}

fn bucket_of(latency_ms: u64) -> u32 {
    if latency_ms == 0 {
        return 0;
    }
    // The smallest i with GROWTH^i > latency (so 1 ms lands in bucket 1).
    let i = ((latency_ms as f64).ln() / GROWTH.ln()).floor() as u32 + 1;
    i.min(LAST)
}

fn upper_bound(bucket: u32) -> u64 {
    if bucket == 0 {
        return 0;
    }
    GROWTH.powi(bucket as i32).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentiles_of_known_latencies() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(ms);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((50..=53).contains(&p50), "{p50}");
        assert!((99..=104).contains(&p99), "{p99}");
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut zero = Histogram::default();
        zero.record(0);
        assert_eq!(zero.quantile(0.99), Some(0));
    }

    #[test]
    fn bad_stored_forms_are_refused() {
        for bad in ["x", "1:", ":2", "1:2:3", "999:1", "1:-2"] {
            assert_eq!(Histogram::decode(bad), None, "{bad}");
        }
        assert_eq!(Histogram::decode(""), Some(Histogram::default()));
    }

    proptest! {
        #[test]
        fn a_quantile_is_within_five_percent_above_the_true_one(
            latencies in proptest::collection::vec(1u64..3_600_000, 1..400),
            q in 0.01f64..1.0,
        ) {
            let mut h = Histogram::default();
            for l in &latencies { h.record(*l); }
            let mut sorted = latencies.clone();
            sorted.sort_unstable();
            let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
            let truth = sorted[rank - 1];
            let got = h.quantile(q).unwrap();
            prop_assert!(got >= truth.saturating_sub(1) && got as f64 <= truth as f64 * 1.05 + 1.0, "{got} vs {truth}");
        }

        #[test]
        fn encoding_round_trips_and_merging_adds(
            a in proptest::collection::vec(0u64..10_000_000, 0..100),
            b in proptest::collection::vec(0u64..10_000_000, 0..100),
        ) {
            let (mut ha, mut hb, mut both) = (Histogram::default(), Histogram::default(), Histogram::default());
            for l in &a { ha.record(*l); both.record(*l); }
            for l in &b { hb.record(*l); both.record(*l); }
            prop_assert_eq!(Histogram::decode(&ha.encode()), Some(ha.clone()));
            ha.merge(&hb);
            prop_assert_eq!(ha, both);
        }

        #[test]
        fn decoding_never_panics(text in ".{0,64}") {
            let _ = Histogram::decode(&text);
        }
    }
}
