//! `/p/{project}/prompts/{id}/v/{version}`: one version — its text or chat, variables,
//! model, metrics, compliance metadata and its completeness for the risk tier, eval
//! runs with per-case results, its red-team runs (per-risk figures and the newest run's
//! attacks), the approvals of its promotions and its audit events.

use super::Done;
use super::prompt::{changelog_text, notice};
use super::{crumbs, prompt_href};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use promptops_api::RedteamCase;
use promptops_core::validate::Rules;
use promptops_store::Store;
use promptops_store::browse::AuditQuery;
use serde_json::Value as Json;

/// Eval runs shown with their per-case rows (the newest); older runs show counts.
const RUNS_WITH_CASES: usize = 3;
/// Rows of a run shown on the page; the whole report is at the API.
const CASES_SHOWN: usize = 200;
/// Attacks of the newest red-team run shown on the page; the whole report is one link
/// away (`/p/{project}/redteam/{run}/report.json`).
const ATTACKS_SHOWN: usize = 200;

/// One attack of a red-team report, as the page shows it.
#[derive(serde::Serialize)]
struct Attack {
    id: String,
    risk: String,
    technique: String,
    goal: String,
    succeeded: bool,
    pii_leak: bool,
    error: Option<String>,
    reason: String,
    output: String,
}

/// The first attacks of a stored report and how many it has.
fn attacks(report: &Json) -> (Vec<Attack>, usize) {
    let cases = report
        .get("cases")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let shown = cases
        .iter()
        .take(ATTACKS_SHOWN)
        .filter_map(|c| serde_json::from_value::<RedteamCase>(c.clone()).ok())
        .map(|c| Attack {
            id: c.id,
            risk: c.risk,
            technique: serde_json::to_value(c.technique)
                .ok()
                .and_then(|t| t.as_str().map(str::to_owned))
                .unwrap_or_default(),
            goal: c.goal,
            succeeded: c.succeeded,
            pii_leak: c.pii_leak,
            error: c.error,
            reason: c.reason,
            output: c.output.unwrap_or_default(),
        })
        .collect();
    (shown, cases.len())
}

/// A red-team run's whole report, for a signed-in browser (the API route takes a
/// bearer credential, not the session cookie); the same permission as the API's.
pub async fn redteam_report<S: Store>(
    State(state): State<AppState<S>>,
    Path((project, run)): Path<(String, u64)>,
) -> UiResult {
    let report = state.store.redteam_report(&project, run).await?;
    let mut r = axum::Json(report).into_response();
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"promptops-redteam-report.json\""),
    );
    Ok(r)
}

/// The version's evidence pack, for a signed-in auditor: the API's own handler, with a
/// checkpoint signed for it (ReadAudit, as the API route).
pub async fn evidence<S: Store>(
    State(state): State<AppState<S>>,
    Path((project, id, version)): Path<(String, String, String)>,
) -> UiResult {
    let file = format!(
        "attachment; filename=\"evidence-{}-{}.json\"",
        id.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_"
        ),
        version.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_"
        )
    );
    let path = crate::routes::VersionPath {
        project,
        id,
        version,
    };
    let pack = crate::routes::evidence::pack(State(state), crate::extract::ApiPath(path)).await?;
    let mut r = pack.into_response();
    if let Ok(value) = HeaderValue::from_str(&file) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(r)
}

#[derive(serde::Serialize)]
struct Case {
    n: usize,
    description: Option<String>,
    vars: String,
    passed: bool,
    output: String,
    reason: Option<String>,
}

fn cases(report: &Json) -> (Vec<Case>, usize) {
    let rows = report
        .pointer("/results/results")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let shown = rows
        .iter()
        .take(CASES_SHOWN)
        .enumerate()
        .map(|(i, r)| {
            let text = |p: &str| r.pointer(p).and_then(Json::as_str).map(str::to_owned);
            let output = r
                .pointer("/response/output")
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .unwrap_or_default();
            Case {
                n: i + 1,
                description: text("/testCase/description").or_else(|| text("/description")),
                vars: r.get("vars").map(Json::to_string).unwrap_or_default(),
                passed: r.get("success").and_then(Json::as_bool).unwrap_or(false),
                output,
                reason: text("/error").or_else(|| text("/gradingResult/reason")),
            }
        })
        .collect();
    (shown, rows.len())
}

/// The compliance fields the version's risk tier requires, each with whether it is set.
pub(crate) fn completeness(content: &Json) -> Option<(String, Vec<(String, bool)>)> {
    let compliance = content.get("compliance")?;
    let tier = compliance.get("risk_tier")?.as_str()?.to_owned();
    let rules = Rules::default();
    let required = rules
        .required_compliance
        .iter()
        .find(|(t, _)| {
            serde_json::to_value(t).ok().as_ref().and_then(Json::as_str) == Some(tier.as_str())
        })
        .map(|(_, fields)| fields.clone())
        .unwrap_or_default();
    let set = |field: &str| match compliance.get(field) {
        None | Some(Json::Null) => false,
        Some(Json::String(s)) => !s.trim().is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    Some((tier, required.iter().map(|f| (f.clone(), set(f))).collect()))
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id, version)): Path<(String, String, String)>,
    Query(done): Query<Done>,
) -> UiResult {
    let version = crate::extract::parse_version(&version)?.to_string();
    let v = state.store.version(&project, &id, &version).await?;
    let id = v.id.clone();
    let labels = state.store.labels(&project, &id).await?;
    let runs = state.store.eval_runs(&project, &id, &version).await?;
    let mut shown_runs = Vec::new();
    for (i, run) in runs.iter().rev().enumerate() {
        let (rows, total) = if i < RUNS_WITH_CASES {
            match state.store.eval_report(&project, run.id).await {
                Ok(report) => cases(&report),
                Err(_) => (Vec::new(), 0),
            }
        } else {
            (Vec::new(), 0)
        };
        shown_runs.push(crate::ui::ctx! { run => run, cases => rows, total => total });
    }
    let mut redteam_runs = state.store.redteam_runs(&project, &id, &version).await?;
    redteam_runs.reverse();
    let (redteam_attacks, redteam_total) = match redteam_runs.first() {
        Some(run) => match state.store.redteam_report(&project, run.id).await {
            Ok(report) => attacks(&report),
            Err(_) => (Vec::new(), 0),
        },
        None => (Vec::new(), 0),
    };
    let requests: Vec<_> = state
        .store
        .requests(&project, None)
        .await?
        .into_iter()
        .filter(|r| r.prompt_id == id && r.version == version)
        .collect();
    let mut targets = vec![format!("prompt:{project}/{id}@{version}")];
    targets.extend(
        requests
            .iter()
            .map(|r| format!("request:{project}/{}", r.id)),
    );
    // The audit log is for those who may read it through the API (a role in every
    // project): the page shows no more than the API would.
    let may_audit = crate::auth::authorize(
        &session.principal,
        crate::auth::Permission::ReadAudit.need(),
        None,
    )
    .is_ok();
    let events = if may_audit {
        state
            .store
            .audit_page(&AuditQuery {
                targets,
                limit: 100,
                ..AuditQuery::default()
            })
            .await?
    } else {
        Vec::new()
    };
    let content = &v.content;
    render(
        &session,
        "version.html",
        crate::ui::ctx! {
            project => &project,
            id => &id,
            v => &v,
            changelog => changelog_text(v.changelog.as_ref()),
            serving => labels.iter().filter(|l| l.version == version).map(|l| l.environment.as_str()).collect::<Vec<_>>(),
            messages => content.get("messages"),
            template => content.get("template"),
            variables => content.get("variables"),
            model => content.get("model"),
            metrics => content.get("metrics"),
            compliance => content.get("compliance"),
            completeness => completeness(content),
            tags => content.get("tags"),
            runs => shown_runs,
            redteam_runs => redteam_runs,
            redteam_attacks => redteam_attacks,
            redteam_total => redteam_total,
            requests => requests,
            events => events,
            may_audit => may_audit,
            notice => notice(done.done.as_deref()),
            crumbs => crumbs(Some(&project), vec![(id.clone(), Some(prompt_href(&project, &id))), (version.clone(), None)]),
        },
    )
}
