//! API keys: for CI and running apps. A key acts for its owner in one project with at
//! most the role it was made with (and never more than its owner holds now). The key
//! itself is in the answer to its creation and nowhere else, ever.

use crate::auth::{Caller, forbidden, secrets};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::shown;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{ApiKey, CreateKey, CreatedKey};
use promptops_core::clock::{epoch_seconds, now_rfc3339, rfc3339_at};
use promptops_core::role::Role;
use promptops_store::{NewApiKey, Store};
use serde::Deserialize;

/// The longest a key may live.
const MAX_DAYS: u32 = 3650;

#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 403, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "unknown role `{}`; use one of {}",
            body.role,
            Role::NAMES.join(", ")
        ))
    })?;
    match caller.role_in(&body.project) {
        Some(own) if own.includes(role) => {}
        own => {
            return Err(forbidden(format!(
                "a key can have at most your own role in `{}`; you are {}",
                body.project,
                own.map_or("nothing there".to_owned(), |r| r.to_string())
            )));
        }
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_DAYS).contains(&days) => {
            let now = epoch_seconds(&now_rfc3339()).unwrap_or(0);
            Some(rfc3339_at(now + i64::from(days) * 86_400, 0))
        }
        Some(days) => {
            return Err(ApiError::unprocessable(format!(
                "expires_in_days = {days}: use 1 to {MAX_DAYS}"
            )));
        }
    };
    let secret = secrets::new_api_key()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let new = NewApiKey {
        prefix: secret.prefix,
        name: body.name,
        secret_hash: secret.hash,
        owner: caller.user.name.clone(),
        project: body.project,
        role,
        expires_at,
        ci: body.ci,
    };
    let api_key = state.store.create_key(&new, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: secret.key,
            api_key,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// Every user's keys (admins of every project only).
    #[serde(default)]
    pub all: bool,
}

/// Your keys (or, for a server admin with `all=true`, everyone's). Never the secrets.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(KeysQuery), responses((status = 200, body = Vec<ApiKey>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<KeysQuery>,
) -> ApiResult<Json<Vec<ApiKey>>> {
    let owner = if q.all {
        if caller.global_role() != Some(Role::Admin) {
            return Err(forbidden(
                "listing every user's keys needs the admin role in every project (`*`)",
            ));
        }
        None
    } else {
        Some(caller.user.name.as_str())
    };
    Ok(Json(state.store.api_keys(owner).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// The key's prefix (`po_…`, as listed).
    pub prefix: String,
}

/// Revokes a key at once (its owner, or an admin of its project). To anyone else a
/// key does not exist (404): its owner and project are not theirs to learn.
#[utoipa::path(post, path = "/v1/keys/{prefix}/revoke", tag = "keys", params(KeyPath),
    responses((status = 200, body = ApiKey), (status = 403, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 404, description = "no such key, or not one you may revoke", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<KeyPath>,
) -> ApiResult<Json<ApiKey>> {
    let not_found = || ApiError::not_found(format!("API key `{}` not found", shown(&p.prefix)));
    let record = state
        .store
        .api_key(&p.prefix)
        .await?
        .ok_or_else(not_found)?;
    let owner = record.key.owner == caller.user.name;
    let admin = caller.role_in(&record.key.project) == Some(Role::Admin);
    if !owner && !admin {
        return Err(not_found());
    }
    if !admin && caller.key.is_some() {
        return Err(forbidden(
            "revoke your keys from a session (`promptops login`), not with a key",
        ));
    }
    Ok(Json(
        state.store.revoke_key(&p.prefix, &caller.actor()).await?,
    ))
}
