//! `/p/{project}/webhooks`: the project's webhook subscriptions (admins), with the
//! latest deliveries of each; subscribe (the signing secret is shown once) and delete.

use super::Done;
use super::{caller, crumbs, json};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::projects::ProjectPath;
use crate::routes::webhooks::{DeliveriesQuery, WebhookPath};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::forms::Form;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use minijinja::Value;
use promptops_api::CreateWebhook;
use promptops_store::Store;

async fn hooks_page<S: Store>(
    state: &AppState<S>,
    session: &UiSession,
    project: &str,
    created: Option<Value>,
    notice: Option<&str>,
    problem: Option<String>,
) -> UiResult {
    let axum::Json(hooks) = crate::routes::webhooks::list(
        State(state.clone()),
        ApiPath(ProjectPath {
            project: project.to_owned(),
        }),
    )
    .await?;
    let mut rows = Vec::with_capacity(hooks.len());
    for h in hooks {
        let axum::Json(deliveries) = crate::routes::webhooks::deliveries(
            State(state.clone()),
            ApiPath(WebhookPath {
                project: project.to_owned(),
                webhook: h.id.clone(),
            }),
            ApiQuery(DeliveriesQuery { limit: Some(5) }),
        )
        .await?;
        rows.push(crate::ui::ctx! { h => h, deliveries => deliveries });
    }
    render(
        session,
        "webhooks.html",
        crate::ui::ctx! {
            project => project,
            hooks => rows,
            created => created,
            events => promptops_api::webhooks::EVENT_TYPES,
            notice => notice,
            problem => problem,
            crumbs => crumbs(Some(project), vec![("Webhooks".into(), None)]),
        },
    )
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
    Query(done): Query<Done>,
) -> UiResult {
    hooks_page(
        &state,
        &session,
        &project,
        None,
        super::prompt::notice(done.done.as_deref()),
        None,
    )
    .await
}

pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
    form: Form,
) -> UiResult {
    let mut events = form.all("events");
    if events.is_empty() {
        events.push("*".into());
    }
    let body = CreateWebhook {
        url: form.text("url").unwrap_or_default(),
        events,
        description: form.text("description"),
    };
    let made = crate::routes::webhooks::create(
        State(state.clone()),
        caller(&session),
        ApiPath(ProjectPath {
            project: project.clone(),
        }),
        json(body),
    )
    .await;
    match made {
        Ok((_, axum::Json(created))) => {
            hooks_page(
                &state,
                &session,
                &project,
                Some(Value::from(minijinja::value::Serde(&created))),
                None,
                None,
            )
            .await
        }
        Err(e) => {
            hooks_page(
                &state,
                &session,
                &project,
                None,
                None,
                Some(format!("Not subscribed: {}", e.0.detail)),
            )
            .await
        }
    }
}

pub async fn remove<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, webhook)): Path<(String, String)>,
) -> UiResult {
    let _removed = crate::routes::webhooks::remove(
        State(state),
        caller(&session),
        ApiPath(WebhookPath {
            project: project.clone(),
            webhook,
        }),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/p/{}/webhooks?done=deleted",
        super::seg(&project)
    ))
    .into_response())
}
