//! `/`: the projects the visitor has a role in (what `GET /v1/projects` answers them).

use super::{caller, crumbs};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::State;
use promptops_api::RequestStatus;
use promptops_store::Store;

#[derive(serde::Serialize)]
struct Row {
    name: String,
    environments: Vec<String>,
    role: Option<String>,
    prompts: usize,
    modules: usize,
    pending: usize,
}

pub async fn page<S: Store>(State(state): State<AppState<S>>, session: UiSession) -> UiResult {
    let axum::Json(projects) =
        crate::routes::projects::list(State(state.clone()), caller(&session)).await?;
    let mut rows = Vec::with_capacity(projects.len());
    for p in projects {
        let prompts = state.ui.catalogs.get(&*state.store, &p.name).await?;
        let mut modules: Vec<&str> = prompts.iter().map(|p| p.module.as_str()).collect();
        modules.sort_unstable();
        modules.dedup();
        let pending = state
            .store
            .requests(&p.name, Some(RequestStatus::Open))
            .await?
            .len();
        rows.push(Row {
            role: session.principal.role_in(&p.name).map(|r| r.to_string()),
            modules: modules.len(),
            prompts: prompts.len(),
            pending,
            environments: p.environments,
            name: p.name,
        });
    }
    render(
        &session,
        "projects.html",
        crate::ui::ctx! { projects => rows, crumbs => crumbs(None, vec![]) },
    )
}
