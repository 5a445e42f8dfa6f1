//! `promptops dashboard -o report.html`: one self-contained HTML file (no script, no
//! network: inline CSS and SVG) with every prompt of the project over a window — a
//! summary table, the alerts firing or fired in the window, then per prompt and version
//! the calls, the error rate, p95 latency and cost per step — for the people who prefer a
//! file to a terminal.

use super::registry::Session;
use crate::Outcome;
use anstream::eprintln;
use anyhow::{Context, Result};
use promptops_api::{Alert, AlertState, MetricsPoint, PromptMetrics, VersionSeries};
use promptops_core::chart::{Line, colour, line_chart};
use promptops_core::html::escape as esc;
use std::fmt::Write as _;
use std::path::Path;

/// What the dashboard covers.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub env: Option<&'a str>,
    pub days: u32,
}

pub fn dashboard(session: &Session, scope: Scope<'_>, output: &Path) -> Result<Outcome> {
    let c = &session.client;
    let project = session.project.as_str();
    let prompts = match session.block(c.prompts(project)) {
        Ok(p) => p,
        Err(e) => return session.refused(e),
    };
    let days = scope.days.clamp(1, 366);
    let now = promptops_core::clock::now_rfc3339();
    let to_ms = promptops_core::clock::epoch_millis(&now).unwrap_or(0);
    let from = promptops_core::clock::rfc3339_at((to_ms - i64::from(days) * 86_400_000) / 1000, 0);
    let step = if days <= 2 { "hour" } else { "day" };
    let mut data = Vec::new();
    for p in &prompts {
        let mut query = vec![
            ("from", from.as_str()),
            ("to", now.as_str()),
            ("step", step),
        ];
        if let Some(env) = scope.env {
            query.push(("env", env));
        }
        match session.block(c.metrics(project, &p.id, &query)) {
            Ok(m) => data.push(m),
            Err(e) => return session.refused(e),
        }
    }
    let mut query = vec![("state", "all"), ("limit", "200")];
    if let Some(env) = scope.env {
        query.push(("env", env));
    }
    let alerts = match session.block(c.alerts(project, &query)) {
        // Firing ones, and the others fired in the window.
        Ok(all) => all
            .into_iter()
            .filter(|a| a.state == AlertState::Firing || a.fired_at.as_str() >= from.as_str())
            .collect::<Vec<_>>(),
        Err(e) => return session.refused(e),
    };
    let html = render(project, scope.env, &now, &data, &alerts);
    std::fs::write(output, html).with_context(|| format!("cannot write {}", output.display()))?;
    let calls: u64 = data
        .iter()
        .flat_map(|m| &m.series)
        .map(|s| s.totals.calls)
        .sum();
    eprintln!(
        "wrote {} ({} prompts, {calls} calls over {days} day{})",
        output.display(),
        data.len(),
        if days == 1 { "" } else { "s" }
    );
    Ok(Outcome::Ok)
}

/// The page for `metrics` (one per prompt).
pub fn render(
    project: &str,
    env: Option<&str>,
    generated: &str,
    metrics: &[PromptMetrics],
    alerts: &[Alert],
) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let env_text = env.map_or("every environment".to_owned(), |e| {
        format!("environment {e}")
    });
    let (from, to) = metrics
        .first()
        .map_or(("", ""), |m| (m.from.as_str(), m.to.as_str()));
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>promptops · {p} · dashboard</title><style>{CSS}</style></head><body>\
         <header><h1>{p}</h1><p>{e} · {f} to {t} · generated {g}</p></header><main>",
        p = esc(project),
        e = esc(&env_text),
        f = esc(from),
        t = esc(to),
        g = esc(generated),
    );
    out.push_str("<section><h2>Summary</h2><table><thead><tr><th scope=\"col\">Prompt</th><th scope=\"col\">Version</th><th scope=\"col\">Calls</th><th scope=\"col\">Error rate</th><th scope=\"col\">p50 ms</th><th scope=\"col\">p95 ms</th><th scope=\"col\">Tokens in / out</th><th scope=\"col\">Cost</th><th scope=\"col\">Cost per call</th></tr></thead><tbody>");
    let mut any = false;
    for m in metrics {
        for s in &m.series {
            any = true;
            let t = &s.totals;
            let _ = write!(
                out,
                "<tr><td><a href=\"#{anchor}\">{id}</a></td><td>{v}</td><td class=\"n\">{calls}</td><td class=\"n{bad}\">{rate:.1}%</td><td class=\"n\">{p50}</td><td class=\"n\">{p95}</td><td class=\"n\">{i} / {o}</td><td class=\"n\">${cost:.4}</td><td class=\"n\">${per:.6}</td></tr>",
                anchor = anchor(&m.prompt_id),
                id = esc(&m.prompt_id),
                v = esc(version_name(s)),
                calls = t.calls,
                bad = if t.error_rate > 0.05 { " bad" } else { "" },
                rate = t.error_rate * 100.0,
                p50 = ms(t.latency_ms.p50),
                p95 = ms(t.latency_ms.p95),
                i = t.input_tokens,
                o = t.output_tokens,
                cost = t.cost_usd,
                per = t.cost_per_call_usd,
            );
        }
    }
    if !any {
        out.push_str("<tr><td colspan=\"9\">No calls reported in this window. Applications report them to <code>POST /v1/projects/");
        out.push_str(&esc(project));
        out.push_str("/events</code>.</td></tr>");
    }
    out.push_str("</tbody></table></section>");
    alerts_section(&mut out, alerts);
    for m in metrics.iter().filter(|m| !m.series.is_empty()) {
        let _ = write!(
            out,
            "<section id=\"{}\"><h2>{}</h2><p class=\"legend\">",
            anchor(&m.prompt_id),
            esc(&m.prompt_id)
        );
        for (i, s) in m.series.iter().enumerate() {
            let _ = write!(
                out,
                "<span><i style=\"background:{}\"></i>{}</span>",
                colour(i),
                esc(version_name(s))
            );
        }
        out.push_str("</p><div class=\"charts\">");
        chart(&mut out, "Calls", &m.series, |p| Some(p.calls as f64), "");
        chart(
            &mut out,
            "Error rate",
            &m.series,
            |p| Some(p.error_rate * 100.0),
            "%",
        );
        chart(
            &mut out,
            "p95 latency",
            &m.series,
            |p| p.latency_ms.p95.map(|v| v as f64),
            " ms",
        );
        chart(&mut out, "Cost ($)", &m.series, |p| Some(p.cost_usd), "");
        out.push_str("</div></section>");
    }
    out.push_str("</main></body></html>\n");
    out
}

/// The alerts table: firing first, then the newest.
fn alerts_section(out: &mut String, alerts: &[Alert]) {
    out.push_str("<section><h2>Alerts</h2>");
    if alerts.is_empty() {
        out.push_str("<p>No alert fired in this window.</p></section>");
        return;
    }
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        (b.state == AlertState::Firing)
            .cmp(&(a.state == AlertState::Firing))
            .then_with(|| b.fired_at.cmp(&a.fired_at))
    });
    out.push_str("<table><thead><tr><th scope=\"col\">State</th><th scope=\"col\">Kind</th><th scope=\"col\">Prompt</th><th scope=\"col\">Env</th><th scope=\"col\">Version</th><th scope=\"col\">Fired</th><th scope=\"col\">What</th></tr></thead><tbody>");
    for a in sorted {
        let _ = write!(
            out,
            "<tr><td class=\"{class}\">{state}</td><td>{kind}</td><td><a href=\"#{anchor}\">{id}</a></td><td>{env}</td><td>{v}</td><td>{at}</td><td class=\"what\">{what}</td></tr>",
            class = if a.state == AlertState::Firing {
                "bad"
            } else {
                ""
            },
            state = a.state.as_str(),
            kind = a.kind.as_str(),
            anchor = anchor(&a.prompt_id),
            id = esc(&a.prompt_id),
            env = esc(&a.environment),
            v = esc(&a.version),
            at = esc(a.fired_at.get(..16).unwrap_or(&a.fired_at)),
            what = esc(a.resolution.as_deref().map_or(a.summary.as_str(), |r| r)),
        );
    }
    out.push_str("</tbody></table></section>");
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafafa}\
header{background:#1b1f24;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d1d9}\
main{padding:16px 24px;max-width:1200px}section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:12px 16px;margin:0 0 16px}\
h2{font-size:17px;margin:0 0 8px}table{border-collapse:collapse;width:100%;overflow-x:auto;display:block}\
th,td{padding:4px 10px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}\
td.bad{color:#b42318;font-weight:600}td.what{white-space:normal;min-width:320px}a{color:#0b5cad}.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px}figure{margin:0}figcaption{font-weight:600;font-size:13px;margin-bottom:2px}\
svg{width:100%;height:auto;background:#fff}svg text{font-size:10px;fill:#57606a}";

/// One small line chart: a line per version over the steps, with the y-axis' top value.
fn chart(
    out: &mut String,
    title: &str,
    series: &[VersionSeries],
    value: impl Fn(&MetricsPoint) -> Option<f64>,
    unit: &str,
) {
    let lines: Vec<Line> = series
        .iter()
        .map(|s| Line {
            name: version_name(s).to_owned(),
            points: s
                .points
                .iter()
                .filter_map(|p| Some((p.at.clone()?, value(p)?)))
                .collect(),
        })
        .collect();
    out.push_str(&line_chart(title, unit, &lines));
}

fn version_name(s: &VersionSeries) -> &str {
    s.version.as_deref().unwrap_or("unknown version")
}

fn ms(v: Option<u64>) -> String {
    v.map_or("–".to_owned(), |v| v.to_string())
}

/// An element id for a prompt (ids are `module.name`; anything else is replaced).
fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("p-{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_api::Percentiles;

    fn point(at: &str, calls: u64) -> MetricsPoint {
        MetricsPoint {
            at: Some(at.into()),
            calls,
            errors: 1,
            error_rate: 1.0 / calls as f64,
            latency_ms: Percentiles {
                p50: Some(100),
                p95: Some(400),
                p99: Some(900),
            },
            input_tokens: 10,
            output_tokens: 2,
            cost_usd: 0.01,
            cost_per_call_usd: 0.01 / calls as f64,
        }
    }

    #[test]
    fn the_page_is_whole_escaped_and_has_a_line_per_version() {
        let series = |v: &str| VersionSeries {
            version: Some(v.into()),
            totals: MetricsPoint {
                at: None,
                ..point("", 10)
            },
            points: vec![
                point("2026-12-01T00:00:00.000Z", 4),
                point("2026-12-02T00:00:00.000Z", 6),
            ],
        };
        let m = PromptMetrics {
            prompt_id: "support.answer".into(),
            environment: Some("prod".into()),
            from: "2026-11-26T00:00:00.000Z".into(),
            to: "2026-12-03T00:00:00.000Z".into(),
            step: "day".into(),
            series: vec![series("1.0.0"), series("<b>2.0.0</b>")],
        };
        let alert: Alert = serde_json::from_value(serde_json::json!({
            "id": 1, "project": "shop & co", "prompt_id": "support.answer", "environment": "prod",
            "version": "2.0.0", "baseline_version": "1.0.0", "kind": "error_rate_regression",
            "state": "firing", "fired_at": "2026-12-02T10:00:00.000Z", "measured": {},
            "summary": "fails more: 10% <against> 1%"
        }))
        .unwrap();
        let page = render(
            "shop & co",
            Some("prod"),
            "2026-12-03T00:00:00.000Z",
            &[m],
            &[alert],
        );
        assert!(page.contains("<td class=\"bad\">firing</td><td>error_rate_regression</td>"));
        assert!(page.contains("fails more: 10% &lt;against&gt; 1%"));
        assert!(page.starts_with("<!doctype html>") && page.ends_with("</html>\n"));
        assert!(page.contains("<h1>shop &amp; co</h1>"));
        assert!(page.contains("&lt;b&gt;2.0.0&lt;/b&gt;") && !page.contains("<b>2.0.0"));
        assert_eq!(
            page.matches("<polyline").count(),
            8,
            "4 charts × 2 versions"
        );
        assert!(
            page.contains("href=\"#p-support-answer\"") && page.contains("id=\"p-support-answer\"")
        );
        assert!(
            !page.contains("<script") && !page.contains("http"),
            "self-contained"
        );
        let empty = render("shop", None, "now", &[], &[]);
        assert!(empty.contains("No calls reported"));
        assert!(empty.contains("No alert fired in this window."));
    }
}

#[cfg(test)]
mod axis {
    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(promptops_core::chart::short(1234.0), "1.2k");
        assert_eq!(promptops_core::chart::short(40.0), "40");
        assert_eq!(promptops_core::chart::short(0.0102), "0.010");
        assert_eq!(promptops_core::chart::short(0.00042), "0.00042");
    }
}
