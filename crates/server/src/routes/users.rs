//! Users (server admins only) and project members (project admins).

use crate::auth::{Caller, secrets};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{CreateUser, Member, SessionsEnded, SetRole, User};
use promptops_core::role::Role;
use promptops_store::{NewUser, Store};
use serde::Deserialize;

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::unprocessable(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Hashes a password on the bounded pool logins use (503 when it is full).
pub async fn hash_password<S>(state: &AppState<S>, password: String) -> ApiResult<String> {
    state
        .auth
        .hash_pool
        .run(move || secrets::hash_password(&password))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy hashing passwords; retry in a second",
            )
        })?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    pub user: String,
}

#[utoipa::path(get, path = "/v1/users", tag = "users", responses((status = 200, body = Vec<User>)))]
pub async fn list<S: Store>(State(state): State<AppState<S>>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.store.users().await?))
}

/// Creates a user with a password, teams and roles.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 409, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    check_password(&body.password)?;
    let new = NewUser {
        name: body.name,
        password_hash: hash_password(&state, body.password).await?,
        teams: body.teams,
    };
    let user = state
        .store
        .create_user(&new, &body.roles, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/v1/users/{user}", tag = "users", params(UserPath), responses((status = 200, body = User)))]
pub async fn get<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<UserPath>,
) -> ApiResult<Json<User>> {
    let record = state
        .store
        .user(&p.user)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user `{}` not found", p.user)))?;
    Ok(Json(record.user))
}

/// Ends every session of a user (their tokens stop working at once; their API keys
/// are not touched: revoke those apart, or disable the user).
#[utoipa::path(post, path = "/v1/users/{user}/sessions/end", tag = "users", params(UserPath),
    responses((status = 200, body = SessionsEnded), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn end_sessions<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<UserPath>,
) -> ApiResult<Json<SessionsEnded>> {
    let sessions_ended = state
        .store
        .end_sessions(&p.user, None, "ended by an admin", &caller.actor())
        .await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

/// Disables a user: their sessions end and their keys are revoked at once, for good
/// (enabling them again gives back only the password).
#[utoipa::path(post, path = "/v1/users/{user}/disable", tag = "users", params(UserPath), responses((status = 200, body = User)))]
pub async fn disable<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<UserPath>,
) -> ApiResult<Json<User>> {
    if p.user == caller.user.name {
        return Err(ApiError::unprocessable(
            "you cannot disable yourself; another admin can",
        ));
    }
    Ok(Json(
        state
            .store
            .set_user_disabled(&p.user, true, &caller.actor())
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/users/{user}/enable", tag = "users", params(UserPath), responses((status = 200, body = User)))]
pub async fn enable<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<UserPath>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        state
            .store
            .set_user_disabled(&p.user, false, &caller.actor())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// A project, or `*` for every project (server admins only).
    pub project: String,
    pub user: String,
}

/// Who holds a role in the project (including through `*`).
#[utoipa::path(get, path = "/v1/projects/{project}/members", tag = "users", params(crate::routes::projects::ProjectPath),
    responses((status = 200, body = Vec<Member>)))]
pub async fn members<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<crate::routes::projects::ProjectPath>,
) -> ApiResult<Json<Vec<Member>>> {
    let users = state.store.users().await?;
    Ok(Json(
        users
            .into_iter()
            .filter_map(|u| {
                u.role_in(&p.project).map(|role| Member {
                    role: role.to_string(),
                    user: u.name,
                    teams: u.teams,
                    disabled: u.disabled,
                })
            })
            .collect(),
    ))
}

/// Grants (or with `null`, takes away) a user's role in the project.
#[utoipa::path(put, path = "/v1/projects/{project}/members/{user}", tag = "users", params(MemberPath), request_body = SetRole,
    responses((status = 200, body = User)))]
pub async fn set_role<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<MemberPath>,
    ApiJson(body): ApiJson<SetRole>,
) -> ApiResult<Json<User>> {
    let role = body
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "unknown role `{r}`; use one of {}",
                    Role::NAMES.join(", ")
                ))
            })
        })
        .transpose()?;
    Ok(Json(
        state
            .store
            .set_role(&p.project, &p.user, role, &caller.actor())
            .await?,
    ))
}
