//! `/p/{project}/requests`: the approvals queue (requests waiting for me first), and
//! one request — its gates as they stand, the policy's checklist, the decisions so
//! far, and Approve or Reject with a comment. Separation of duties is the store's rule;
//! the page says it before the button would be refused.

use super::Done;
use super::prompt::notice;
use super::{caller, crumbs, json, version_href};
use crate::extract::ApiPath;
use crate::routes::requests::RequestPath;
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::forms::Form;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use promptops_api::{Approve, PromotionRequest, Reject, RequestStatus, Verdict, Withdraw};
use promptops_core::role::Role;
use promptops_store::Store;
use serde_json::Value as Json;

/// Closed requests the queue page still lists, newest first.
const CLOSED_SHOWN: usize = 20;

/// Why this visitor may not decide on `r` (`None`: they may).
fn cannot_decide(
    session: &UiSession,
    project: &str,
    r: &PromotionRequest,
    author: &str,
) -> Option<String> {
    let me = &session.principal.user.name;
    if r.status != RequestStatus::Open {
        return Some("This request is closed.".into());
    }
    // Separation of duties first: it is the reason that matters to an author.
    if me == author {
        return Some("You authored this — someone else must approve.".into());
    }
    if me == &r.requested_by {
        return Some("You requested this — someone else must approve.".into());
    }
    if !session
        .principal
        .role_in(project)
        .is_some_and(|role| role.includes(Role::Approver))
    {
        return Some("Deciding needs the approver role in this project.".into());
    }
    if r.decisions
        .iter()
        .any(|d| &d.actor == me && d.verdict == Verdict::Approve)
    {
        return Some("You have approved this already.".into());
    }
    None
}

pub async fn queue<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
) -> UiResult {
    let mut all = state.store.requests(&project, None).await?;
    all.reverse();
    let (open, closed): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|r| r.status == RequestStatus::Open);
    let mut mine = Vec::new();
    let mut others = Vec::new();
    for r in open {
        let author = state
            .store
            .version(&project, &r.prompt_id, &r.version)
            .await?
            .author;
        let why_not = cannot_decide(&session, &project, &r, &author);
        let row = crate::ui::ctx! { r => &r, author => author, why_not => &why_not };
        if why_not.is_none() {
            mine.push(row);
        } else {
            others.push(row);
        }
    }
    render(
        &session,
        "requests.html",
        crate::ui::ctx! {
            project => &project,
            mine => mine,
            others => others,
            closed => closed.into_iter().take(CLOSED_SHOWN).collect::<Vec<_>>(),
            crumbs => crumbs(Some(&project), vec![("Approvals".into(), None)]),
        },
    )
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, request)): Path<(String, u64)>,
    Query(done): Query<Done>,
) -> UiResult {
    let r = state.store.request(&project, request).await?;
    let version = state
        .store
        .version(&project, &r.prompt_id, &r.version)
        .await?;
    let gates = state.store.request_gates(&project, request).await?;
    let checklist: Vec<String> = gates
        .iter()
        .find(|g| g.gate == "checklist")
        .and_then(|g| g.detail.get("required"))
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let current = state
        .store
        .labels(&project, &r.prompt_id)
        .await?
        .into_iter()
        .find(|l| l.environment == r.environment)
        .map(|l| l.version);
    let me = &session.principal.user.name;
    render(
        &session,
        "request.html",
        crate::ui::ctx! {
            project => &project,
            r => &r,
            author => &version.author,
            changelog => super::prompt::changelog_text(version.changelog.as_ref()),
            version_href => version_href(&project, &r.prompt_id, &r.version),
            current => current,
            gates => gates,
            checklist => checklist,
            why_not => cannot_decide(&session, &project, &r, &version.author),
            may_withdraw => r.status == RequestStatus::Open && (&r.requested_by == me || session.principal.role_in(&project).is_some_and(|x| x.includes(Role::Admin))),
            notice => notice(done.done.as_deref()),
            crumbs => crumbs(Some(&project), vec![("Approvals".into(), Some(format!("/p/{}/requests", super::seg(&project)))), (format!("Request {request}"), None)]),
        },
    )
}

fn request_path(project: &str, request: u64) -> ApiPath<RequestPath> {
    ApiPath(RequestPath {
        project: project.to_owned(),
        request,
    })
}

fn back(project: &str, request: u64, done: &str) -> UiResult {
    Ok(Redirect::to(&format!(
        "/p/{}/requests/{request}?done={done}",
        super::seg(project)
    ))
    .into_response())
}

pub async fn approve<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, request)): Path<(String, u64)>,
    form: Form,
) -> UiResult {
    let body = Approve {
        comment: form.text("comment"),
        checklist: form.all("checklist"),
    };
    let _decided = crate::routes::requests::approve(
        State(state),
        caller(&session),
        request_path(&project, request),
        json(body),
    )
    .await?;
    back(&project, request, "approved")
}

pub async fn reject<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, request)): Path<(String, u64)>,
    form: Form,
) -> UiResult {
    let Some(comment) = form.text("comment") else {
        return Err(UiError::Api(crate::problem::ApiError::unprocessable(
            "a rejection needs a comment saying why: write one in Comment and press Reject again",
        )));
    };
    let _decided = crate::routes::requests::reject(
        State(state),
        caller(&session),
        request_path(&project, request),
        json(Reject { comment }),
    )
    .await?;
    back(&project, request, "rejected")
}

pub async fn withdraw<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, request)): Path<(String, u64)>,
    form: Form,
) -> UiResult {
    let body = Withdraw {
        comment: form.text("comment"),
    };
    let _withdrawn = crate::routes::requests::withdraw(
        State(state),
        caller(&session),
        request_path(&project, request),
        json(body),
    )
    .await?;
    back(&project, request, "withdrawn")
}
