//! Rollups made into the metrics answer: per version, a point per step and the totals,
//! with calls, errors, latency percentiles, tokens and cost (per call too).

use promptops_api::{MetricsPoint, Percentiles, VersionSeries};
use promptops_core::clock::rfc3339_at;
use promptops_store::events::{Rollup, Step, points};

/// The series of each version (unknown version last), in version order.
pub fn series(rollups: &[Rollup], step: Step) -> Vec<VersionSeries> {
    let points = points(rollups, step);
    let mut out: Vec<VersionSeries> = Vec::new();
    for p in &points {
        match out.last_mut() {
            Some(s) if s.version == p.version => s.points.push(point(p, true)),
            _ => out.push(VersionSeries {
                version: p.version.clone(),
                totals: point(p, false),
                points: vec![point(p, true)],
            }),
        }
    }
    for s in &mut out {
        let of_version: Vec<&Rollup> = points.iter().filter(|p| p.version == s.version).collect();
        s.totals = totals(&of_version);
    }
    out.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => semver_key(x).cmp(&semver_key(y)),
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, None) => std::cmp::Ordering::Equal,
    });
    out
}

fn semver_key(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v).ok()
}

fn totals(points: &[&Rollup]) -> MetricsPoint {
    let mut sum = Rollup::default();
    for p in points {
        sum.add(p);
    }
    point(&sum, false)
}

fn point(p: &Rollup, dated: bool) -> MetricsPoint {
    let cost_usd = p.cost_nanos as f64 / 1e9;
    MetricsPoint {
        at: dated.then(|| rfc3339_at(p.bucket_ms.div_euclid(1000), 0)),
        calls: p.calls,
        errors: p.errors,
        error_rate: if p.calls == 0 {
            0.0
        } else {
            p.errors as f64 / p.calls as f64
        },
        latency_ms: Percentiles {
            p50: p.latency.quantile(0.50),
            p95: p.latency.quantile(0.95),
            p99: p.latency.quantile(0.99),
        },
        input_tokens: p.input_tokens,
        output_tokens: p.output_tokens,
        cost_usd,
        cost_per_call_usd: if p.calls == 0 {
            0.0
        } else {
            cost_usd / p.calls as f64
        },
    }
}
