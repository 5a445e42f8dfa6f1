//! `/p/{project}/prompts/{id}`: what each environment serves, the versions with their
//! authors and changelogs, label history, pending requests, latest eval results, the
//! latest version's compatibility matrix (measured beside declared) and newest red-team
//! summary; and the forms to request a promotion and compare versions.

use super::Done;
use super::{caller, crumbs, json, prompt_href, prompt_path, seg};
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::forms::Form;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use promptops_api::{EvalRun, PromoteRequest, RequestStatus, Version};
use promptops_core::role::Role;
use promptops_store::Store;
use serde_json::Value as Json;

/// How many versions the page lists (newest first); older ones stay reachable by URL
/// and through the diff form.
const VERSIONS_SHOWN: usize = 50;

/// The fixed sentence for a `?done=` code (never text from the URL itself).
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "moved" => Some("The label moved."),
        "published" => Some("Published."),
        "approved" => Some("Approved."),
        "rejected" => Some("Rejected: the request is closed."),
        "withdrawn" => Some("The request was withdrawn."),
        "requested" => Some("Promotion requested: it waits for approval."),
        "created" => Some("Created."),
        "deleted" => Some("Deleted."),
        "revoked" => Some("Revoked."),
        _ => None,
    }
}

#[derive(serde::Serialize)]
struct VersionRow<'a> {
    version: &'a str,
    author: &'a str,
    created_at: &'a str,
    changelog: Option<String>,
    serving: Vec<&'a str>,
    eval: Option<EvalRun>,
}

/// A changelog as one line of text, whatever its shape in the file.
pub fn changelog_text(changelog: Option<&Json>) -> Option<String> {
    match changelog? {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Some(other.to_string()),
    }
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> UiResult {
    let p = state.store.project(&project).await?;
    let mut versions: Vec<Version> = state.store.versions(&project, &id).await?;
    versions.reverse();
    let id = versions.first().map_or(id, |v| v.id.clone());
    let labels = state.store.labels(&project, &id).await?;
    let mut history = state.store.label_history(&project, &id, None).await?;
    history.reverse();
    history.truncate(50);
    let pending: Vec<_> = state
        .store
        .requests(&project, Some(RequestStatus::Open))
        .await?
        .into_iter()
        .filter(|r| r.prompt_id == id)
        .collect();
    let mut rows = Vec::new();
    for v in versions.iter().take(VERSIONS_SHOWN) {
        let runs = state.store.eval_runs(&project, &id, &v.version).await?;
        rows.push(VersionRow {
            version: &v.version,
            author: &v.author,
            created_at: &v.created_at,
            changelog: changelog_text(v.changelog.as_ref()),
            serving: labels
                .iter()
                .filter(|l| l.version == v.version)
                .map(|l| l.environment.as_str())
                .collect(),
            eval: runs.into_iter().last(),
        });
    }
    let latest = versions.first();
    let latest_runs = match latest {
        Some(v) => state.store.eval_runs(&project, &id, &v.version).await?,
        None => Vec::new(),
    };
    // The latest version's matrix (measured beside declared) and newest red-team run.
    let (matrix, redteam) = match latest {
        Some(v) => (
            state
                .store
                .compatibility(&project, &id, &v.version)
                .await?
                .models,
            state
                .store
                .redteam_runs(&project, &id, &v.version)
                .await?
                .pop(),
        ),
        None => (Vec::new(), None),
    };
    let environments: Vec<_> = p
        .environments
        .iter()
        .map(|env| {
            let label = labels.iter().find(|l| &l.environment == env);
            crate::ui::ctx! { name => env, label => label }
        })
        .collect();
    let role = session.principal.role_in(&project);
    render(
        &session,
        "prompt.html",
        crate::ui::ctx! {
            project => &project,
            id => &id,
            description => latest.and_then(|v| v.content.get("description")).and_then(Json::as_str),
            owner => latest.and_then(|v| v.content.get("owner")).and_then(Json::as_str),
            environments => environments,
            env_names => &p.environments,
            versions => rows,
            all_versions => versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(),
            more_versions => versions.len().saturating_sub(VERSIONS_SHOWN),
            history => history,
            pending => pending,
            latest_runs => latest_runs.into_iter().rev().take(10).collect::<Vec<_>>(),
            latest => latest.map(|v| v.version.as_str()),
            matrix => matrix,
            redteam => redteam,
            can_edit => role.is_some_and(|r| r.includes(Role::Editor)),
            notice => notice(done.done.as_deref()),
            crumbs => crumbs(Some(&project), vec![(id.clone(), None)]),
        },
    )
}

/// Asks for a promotion through the environment's policy, as `promptops promote` does:
/// the label moves when every gate holds; otherwise a request waits for approval.
pub async fn promote<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let (Some(environment), Some(version)) = (form.text("environment"), form.text("version"))
    else {
        return Err(UiError::Api(crate::problem::ApiError::unprocessable(
            "choose an environment and a version to promote",
        )));
    };
    let body = PromoteRequest {
        environment,
        version,
        reason: form.text("reason"),
        ..PromoteRequest::default()
    };
    let answer = crate::routes::labels::promote(
        State(state),
        caller(&session),
        prompt_path(&project, &id),
        json(body),
    )
    .await;
    match answer {
        Ok(_) => {
            Ok(Redirect::to(&format!("{}?done=moved", prompt_href(&project, &id))).into_response())
        }
        Err(e) => match e
            .0
            .request
            .as_ref()
            .and_then(|r| r.get("id"))
            .and_then(Json::as_u64)
        {
            // Gates unmet, a request opened: approvers take it from here.
            Some(request) => Ok(Redirect::to(&format!(
                "/p/{}/requests/{request}?done=requested",
                seg(&project)
            ))
            .into_response()),
            None => Err(e.into()),
        },
    }
}
