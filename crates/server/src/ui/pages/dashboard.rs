//! `/p/{project}/dashboard`: from execution events — calls, errors, latency p50/p95,
//! tokens and cost over time per version, the alerts — and the eval pass-rate trend.
//! The figures are the metrics API's (`GET …/prompts/{id}/metrics`), for the busiest
//! prompts of the window.

use super::crumbs;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::alerts::AlertsQuery;
use crate::routes::events::MetricsQuery;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use promptops_api::{AlertState, PromptMetrics, VersionSeries};
use promptops_core::chart::{Line, line_chart};
use promptops_core::clock::{epoch_millis, now_rfc3339, rfc3339_at};
use promptops_store::Store;

/// Prompts charted at most (the busiest of the window).
const PROMPTS_SHOWN: u64 = 12;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Filters {
    #[serde(default)]
    env: String,
    /// 1, 7 or 30.
    days: Option<u32>,
}

fn version_name(s: &VersionSeries) -> String {
    s.version
        .clone()
        .unwrap_or_else(|| "unknown version".into())
}

fn chart(
    m: &PromptMetrics,
    title: &str,
    unit: &str,
    value: impl Fn(&promptops_api::MetricsPoint) -> Option<f64>,
) -> String {
    let lines: Vec<Line> = m
        .series
        .iter()
        .map(|s| Line {
            name: version_name(s),
            points: s
                .points
                .iter()
                .filter_map(|p| Some((p.at.clone()?, value(p)?)))
                .collect(),
        })
        .collect();
    line_chart(title, unit, &lines)
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
    Query(f): Query<Filters>,
) -> UiResult {
    let p = state.store.project(&project).await?;
    let days = f.days.unwrap_or(7).clamp(1, 90);
    let env = (!f.env.is_empty()).then(|| f.env.clone());
    let now = now_rfc3339();
    let to_ms = epoch_millis(&now).unwrap_or(0);
    let from_ms = to_ms - i64::from(days) * 86_400_000;
    let from = rfc3339_at(from_ms / 1000, 0);
    let step = if days <= 2 { "hour" } else { "day" };
    let pipeline = state.telemetry.pipeline(&*state.store).await?;
    let active = pipeline
        .store()
        .active_prompts(&project, env.as_deref(), (from_ms, to_ms), PROMPTS_SHOWN)
        .await?;
    let mut prompts = Vec::new();
    let mut summary = Vec::new();
    for id in &active {
        let axum::Json(m) = crate::routes::events::metrics(
            State(state.clone()),
            super::prompt_path(&project, id),
            ApiQuery(MetricsQuery {
                env: env.clone(),
                from: Some(from.clone()),
                to: Some(now.clone()),
                step: Some(step.into()),
            }),
        )
        .await?;
        for s in &m.series {
            summary.push(crate::ui::ctx! { id => id, version => version_name(s), t => &s.totals });
        }
        let legend: Vec<_> = m.series.iter().map(version_name).collect();
        let charts = vec![
            chart(&m, "Calls", "", |p| Some(p.calls as f64)),
            chart(&m, "Error rate", "%", |p| Some(p.error_rate * 100.0)),
            chart(&m, "p50 latency", " ms", |p| {
                p.latency_ms.p50.map(|v| v as f64)
            }),
            chart(&m, "p95 latency", " ms", |p| {
                p.latency_ms.p95.map(|v| v as f64)
            }),
            chart(&m, "Tokens (in + out)", "", |p| {
                Some((p.input_tokens + p.output_tokens) as f64)
            }),
            chart(&m, "Cost ($)", "", |p| Some(p.cost_usd)),
        ];
        prompts.push(crate::ui::ctx! { id => id, legend => legend, charts => charts });
    }
    let axum::Json(alerts) = crate::routes::alerts::list(
        State(state.clone()),
        ApiPath(crate::routes::projects::ProjectPath {
            project: project.clone(),
        }),
        ApiQuery(AlertsQuery {
            state: Some("all".into()),
            prompt: None,
            env: env.clone(),
            limit: Some(50),
        }),
    )
    .await?;
    let alerts: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.state == AlertState::Firing || a.fired_at.as_str() >= from.as_str())
        .collect();
    // The pass rate of each eval run over time, a line per prompt (the six with the
    // newest runs).
    let mut runs = state.store.recent_eval_runs(&project, None, 500).await?;
    runs.reverse();
    let mut trend: Vec<Line> = Vec::new();
    for r in &runs {
        let total = r.passed + r.failed + r.errors;
        if total == 0 {
            continue;
        }
        let point = (r.created_at.clone(), r.passed as f64 * 100.0 / total as f64);
        match trend.iter_mut().find(|l| l.name == r.prompt_id) {
            Some(line) => line.points.push(point),
            None => trend.push(Line {
                name: r.prompt_id.clone(),
                points: vec![point],
            }),
        }
    }
    trend.sort_by_key(|l| std::cmp::Reverse(l.points.last().map(|p| p.0.clone())));
    trend.truncate(6);
    let trend_legend: Vec<String> = trend.iter().map(|l| l.name.clone()).collect();
    let trend_chart = (!trend.is_empty()).then(|| line_chart("Eval pass rate", "%", &trend));
    render(
        &session,
        "dashboard.html",
        crate::ui::ctx! {
            project => &project,
            environments => &p.environments,
            filters => &f,
            days => days,
            from => &from,
            to => &now,
            summary => summary,
            prompts => prompts,
            alerts => alerts,
            trend_chart => trend_chart,
            trend_legend => trend_legend,
            crumbs => crumbs(Some(&project), vec![("Dashboard".into(), None)]),
        },
    )
}
