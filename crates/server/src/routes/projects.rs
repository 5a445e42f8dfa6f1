use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{CreateProject, Project, PromptSummary, SetEnvironments};
use promptops_store::Store;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    pub project: String,
}

/// The projects the caller holds a role in.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", operation_id = "list_projects", responses((status = 200, body = Vec<Project>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Project>>> {
    let mut projects = state.store.projects().await?;
    projects.retain(|p| caller.role_in(&p.name).is_some());
    Ok(Json(projects))
}

/// Creates a project (pushing to a project that does not exist creates it too, with
/// the default environments).
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = Project), (status = 409, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    let project = state
        .store
        .create_project(&body.name, body.environments.as_deref(), &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(project)))
}

#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects", params(ProjectPath),
    responses((status = 200, body = Project), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn get<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<Project>> {
    Ok(Json(state.store.project(&p.project).await?))
}

/// Replaces the project's environments (their order is the promotion order).
#[utoipa::path(put, path = "/v1/projects/{project}/environments", tag = "projects", params(ProjectPath), request_body = SetEnvironments,
    responses((status = 200, body = Project), (status = 409, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn set_environments<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<SetEnvironments>,
) -> ApiResult<Json<Project>> {
    Ok(Json(
        state
            .store
            .set_environments(&p.project, &body.environments, &caller.actor())
            .await?,
    ))
}

/// The project's prompts with their latest version.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts", tag = "prompts", params(ProjectPath),
    responses((status = 200, body = Vec<PromptSummary>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn prompts<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<Vec<PromptSummary>>> {
    Ok(Json(state.store.prompts(&p.project).await?))
}
