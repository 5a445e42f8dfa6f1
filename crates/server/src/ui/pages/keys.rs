//! `/keys`: the visitor's API keys — list, create (the key is shown once, on the page
//! that made it, never again) and revoke. A session's page only: keys cannot mint keys.

use super::Done;
use super::{caller, crumbs, json};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::keys::{KeyPath, KeysQuery};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::forms::Form;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use minijinja::Value;
use promptops_api::CreateKey;
use promptops_store::Store;

async fn keys_page<S: Store>(
    state: &AppState<S>,
    session: &UiSession,
    created: Option<Value>,
    notice: Option<&str>,
    problem: Option<String>,
) -> UiResult {
    let axum::Json(keys) = crate::routes::keys::list(
        State(state.clone()),
        caller(session),
        ApiQuery(KeysQuery { all: false }),
    )
    .await?;
    let projects: Vec<_> = session
        .principal
        .user
        .roles
        .iter()
        .map(|m| m.project.clone())
        .collect();
    render(
        session,
        "keys.html",
        crate::ui::ctx! {
            keys => keys,
            created => created,
            projects => projects,
            notice => notice,
            problem => problem,
            crumbs => crumbs(None, vec![("API keys".into(), None)]),
        },
    )
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Query(done): Query<Done>,
) -> UiResult {
    keys_page(
        &state,
        &session,
        None,
        super::prompt::notice(done.done.as_deref()),
        None,
    )
    .await
}

pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    form: Form,
) -> UiResult {
    let body = CreateKey {
        name: form.text("name").unwrap_or_default(),
        project: form.text("project").unwrap_or_default(),
        role: form.text("role").unwrap_or_else(|| "viewer".into()),
        expires_in_days: form.text("expires_in_days").and_then(|d| d.parse().ok()),
        ci: form.get("ci").is_some(),
    };
    match crate::routes::keys::create(State(state.clone()), caller(&session), json(body)).await {
        Ok((_, axum::Json(created))) => {
            keys_page(
                &state,
                &session,
                Some(Value::from(minijinja::value::Serde(&created))),
                None,
                None,
            )
            .await
        }
        Err(e) => {
            keys_page(
                &state,
                &session,
                None,
                None,
                Some(format!("No key made: {}", e.0.detail)),
            )
            .await
        }
    }
}

pub async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(prefix): Path<String>,
) -> UiResult {
    let _revoked =
        crate::routes::keys::revoke(State(state), caller(&session), ApiPath(KeyPath { prefix }))
            .await?;
    Ok(Redirect::to("/keys?done=revoked").into_response())
}
