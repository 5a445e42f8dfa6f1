//! Logging in: a password buys a short-lived access token and a refresh token.

use crate::auth::token::{ACCESS_SECONDS, REFRESH_SECONDS, TokenKind, now_seconds};
use crate::auth::{Caller, active_user, secrets, unauthorized};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_store::{Store, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login {{ user: {:?}, password: <redacted> }}", self.user)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

/// A session: send `access_token` as `Authorization: Bearer …`; trade `refresh_token`
/// for a new session at `/v1/auth/refresh` before the access token expires.
#[derive(Serialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token works.
    pub expires_in: u64,
    pub user: User,
}

fn session<S: Store>(state: &AppState<S>, user: User) -> ApiResult<Json<Session>> {
    let now = now_seconds();
    let sign = |kind, secs| {
        state
            .auth
            .signer
            .issue(&user.name, kind, now, secs)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    };
    Ok(Json(Session {
        access_token: sign(TokenKind::Access, ACCESS_SECONDS)?,
        refresh_token: sign(TokenKind::Refresh, REFRESH_SECONDS)?,
        token_type: "Bearer",
        expires_in: ACCESS_SECONDS,
        user,
    }))
}

/// Logs in with a password. Attempts are limited per user name (429 with
/// `Retry-After` beyond 5 in a row); a wrong password and an unknown user get the same
/// answer in the same time.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, security(()),
    responses((status = 200, body = Session),
              (status = 401, description = "wrong user or password, or the user is disabled", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 429, description = "too many attempts for this user name", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn login<S: Store>(
    State(state): State<AppState<S>>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    if let Err(wait) = state.auth.login_limiter.check(&body.user) {
        let secs = wait.as_secs().max(1);
        tracing::warn!("login refused: too many attempts for one user name");
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many login attempts for `{}`; wait {secs} s", body.user),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let record = state.store.user(&body.user).await?;
    let password = body.password;
    let phc = record
        .as_ref()
        .map_or(secrets::DECOY_HASH.to_owned(), |r| r.password_hash.clone());
    // argon2 is deliberately slow: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let user = match record {
        Some(r) if matches => r.user,
        Some(r) => {
            tracing::info!(user = %r.user.name, "login failed: wrong password");
            return Err(unauthorized("wrong user name or password"));
        }
        None => {
            // Not the name as typed: it may be a password pasted into the wrong field.
            tracing::info!("login failed: unknown user name");
            return Err(unauthorized("wrong user name or password"));
        }
    };
    if user.disabled {
        return Err(unauthorized(format!("user `{}` is disabled", user.name)));
    }
    tracing::info!(user = %user.name, "logged in");
    Ok(session(&state, user)?.into_response())
}

/// Trades a refresh token for a new session (the user must still be enabled).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = Refresh, security(()),
    responses((status = 200, body = Session),
              (status = 401, description = "the refresh token is expired, forged or of a disabled user", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn refresh<S: Store>(
    State(state): State<AppState<S>>,
    ApiJson(body): ApiJson<Refresh>,
) -> ApiResult<Json<Session>> {
    let claims = state
        .auth
        .signer
        .verify(&body.refresh_token, TokenKind::Refresh)
        .map_err(|e| unauthorized(e.to_string()))?;
    let user = active_user(&state, &claims.sub).await?;
    session(&state, user)
}

/// Who the credentials belong to.
#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    pub user: User,
    /// The API key the request carried, if any.
    pub key: Option<String>,
    pub key_project: Option<String>,
    pub key_role: Option<String>,
}

#[utoipa::path(get, path = "/v1/auth/whoami", tag = "auth", responses((status = 200, body = WhoAmI)))]
pub async fn whoami(Caller(caller): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        key: caller.key.as_ref().map(|k| k.prefix.clone()),
        key_project: caller.key.as_ref().map(|k| k.project.clone()),
        key_role: caller.key.as_ref().map(|k| k.role.to_string()),
        user: caller.user,
    })
}
