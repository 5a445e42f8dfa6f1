//! Minute rollups grouped into the steps a metrics query asks for (minute, hour, day),
//! per version: calls, errors, latency percentiles, tokens and cost.

use super::Rollup;

pub const MINUTE_MS: i64 = 60_000;

/// The width of one point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Minute,
    Hour,
    Day,
}

impl Step {
    pub fn millis(self) -> i64 {
        match self {
            Step::Minute => MINUTE_MS,
            Step::Hour => 60 * MINUTE_MS,
            Step::Day => 24 * 60 * MINUTE_MS,
        }
    }

    /// `minute`/`1m`, `hour`/`1h`, `day`/`1d`.
    pub fn parse(text: &str) -> Option<Step> {
        match text {
            "minute" | "1m" | "m" => Some(Step::Minute),
            "hour" | "1h" | "h" => Some(Step::Hour),
            "day" | "1d" | "d" => Some(Step::Day),
            _ => None,
        }
    }
}

/// Groups minute rollups (sorted by version, then minute) into steps, per version, in
/// version then time order: each point is a rollup whose `bucket_ms` is its step's start.
pub fn points(rollups: &[Rollup], step: Step) -> Vec<Rollup> {
    let width = step.millis();
    let mut out: Vec<Rollup> = Vec::new();
    for r in rollups {
        let start_ms = r.bucket_ms.div_euclid(width) * width;
        match out.last_mut() {
            Some(p) if p.version == r.version && p.bucket_ms == start_ms => p.add(r),
            _ => out.push(Rollup {
                bucket_ms: start_ms,
                ..r.clone()
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Histogram;

    fn minute(version: Option<&str>, minute: i64, calls: u64, latency: &[u64]) -> Rollup {
        let mut h = Histogram::default();
        for l in latency {
            h.record(*l);
        }
        Rollup {
            version: version.map(str::to_owned),
            bucket_ms: minute * MINUTE_MS,
            calls,
            errors: 1,
            cost_nanos: 10,
            latency: h,
            ..Rollup::default()
        }
    }

    #[test]
    fn minutes_group_into_hours_per_version() {
        let rollups = [
            minute(Some("1.0.0"), 0, 2, &[10, 20]),
            minute(Some("1.0.0"), 59, 1, &[30]),
            minute(Some("1.0.0"), 60, 1, &[40]),
            minute(Some("2.0.0"), 5, 3, &[1, 2, 3]),
        ];
        let hours = points(&rollups, Step::Hour);
        assert_eq!(hours.len(), 3);
        assert_eq!(
            (
                hours[0].version.as_deref(),
                hours[0].bucket_ms,
                hours[0].calls
            ),
            (Some("1.0.0"), 0, 3)
        );
        assert_eq!(
            (
                hours[0].errors,
                hours[0].cost_nanos,
                hours[0].latency.count()
            ),
            (2, 20, 3)
        );
        assert_eq!((hours[1].bucket_ms, hours[1].calls), (60 * MINUTE_MS, 1));
        assert_eq!(
            (hours[2].version.as_deref(), hours[2].calls),
            (Some("2.0.0"), 3)
        );
        assert_eq!(points(&rollups, Step::Day).len(), 2);
        assert_eq!(points(&rollups, Step::Minute).len(), 4);
        assert_eq!(Step::parse("1h"), Some(Step::Hour));
        assert_eq!(Step::parse("week"), None);
    }
}
