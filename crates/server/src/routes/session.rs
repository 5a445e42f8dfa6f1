//! Logging in: a password buys a short-lived access token and a refresh token.

use crate::auth::client::ClientAddress;
use crate::auth::limit::{Busy, IpKey, Refusal};
use crate::auth::token::{ACCESS_SECONDS, Grant, REFRESH_SECONDS, TokenKind, now_seconds};
use crate::auth::{Caller, active_user, secrets, unauthorized};
use crate::extract::ApiJson;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_api::{Login, Logout, Refresh, Session, SessionsEnded, User, WhoAmI};
use promptops_core::clock::rfc3339_at;
use promptops_store::{NewSession, Rotation, Store};
use std::time::{Duration, Instant};

/// Forget sessions whose refresh token expired this long ago.
const KEEP_ENDED_SECONDS: u64 = REFRESH_SECONDS;

/// A new session's tokens: the access token and a refresh token with a fresh id.
fn session_tokens<S: Store>(
    state: &AppState<S>,
    user: User,
    sid: &str,
) -> ApiResult<(Json<Session>, String)> {
    let now = now_seconds();
    let refresh_id = secrets::random_token(16).map_err(internal)?;
    let sign = |kind, refresh_id: &str, secs| {
        let grant = Grant {
            user: &user.name,
            session: sid,
            refresh_id,
        };
        state
            .auth
            .signer
            .issue(&grant, kind, now, secs)
            .map_err(internal)
    };
    let access_token = sign(TokenKind::Access, "", ACCESS_SECONDS)?;
    let refresh_token = sign(TokenKind::Refresh, &refresh_id, REFRESH_SECONDS)?;
    Ok((
        Json(Session {
            access_token,
            refresh_token,
            token_type: "Bearer".into(),
            expires_in: ACCESS_SECONDS,
            user,
        }),
        secrets::key_hash(&refresh_id),
    ))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// 429 or 503 with `Retry-After`.
fn wait_response(status: StatusCode, detail: String, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = ApiError::new(status, format!("{detail}; wait {secs} s")).into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Logs in with a password. Failed logins are limited per client address and per
/// user name (see `docs/governance.md`): an address that keeps failing gets 429 for
/// every name; a name under attack admits only addresses that have not failed
/// recently, so nobody can lock a user out. A wrong password, an unknown user and a
/// disabled one get the same answer in the same time.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, security(()),
    responses((status = 200, body = Session),
              (status = 401, description = "wrong user or password (or the user is disabled)", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 429, description = "too many failed logins from this address, or for this name from this address", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 503, description = "too many logins at once; retry after `Retry-After`", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn login<S: Store>(
    State(state): State<AppState<S>>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let user = match check_password(&state, address, &body.user, body.password).await {
        Ok(user) => user,
        Err(refusal) => return refusal.into_result(),
    };
    let sid = secrets::random_token(16).map_err(internal)?;
    let (session, refresh_hash) = session_tokens(&state, user, &sid)?;
    begin_session(&state, &session.user.name, sid, refresh_hash).await?;
    Ok(session.into_response())
}

/// Why a password login was refused: wrong credentials (401), or a limit (429/503 with
/// `Retry-After`).
pub(crate) enum LoginRefusal {
    Wrong(ApiError),
    Limited(Response),
}

impl LoginRefusal {
    fn into_result(self) -> Result<Response, ApiError> {
        match self {
            LoginRefusal::Wrong(e) => Err(e),
            LoginRefusal::Limited(r) => Ok(r),
        }
    }

    /// The refusal as a response (the API's problem, or the limit's answer).
    pub(crate) fn into_response(self) -> Response {
        match self {
            LoginRefusal::Wrong(e) => e.into_response(),
            LoginRefusal::Limited(r) => r,
        }
    }
}

/// Checks a user name and password, as the API's login and the web UI's sign-in both
/// do. Failed logins are limited per client address and per user name (see
/// `docs/governance.md`): an address that keeps failing gets 429 for every name; a name
/// under attack admits only addresses that have not failed recently, so nobody can lock
/// a user out. A wrong password, an unknown user and a disabled one get the same answer
/// in the same time.
pub(crate) async fn check_password<S: Store>(
    state: &AppState<S>,
    address: Option<std::net::IpAddr>,
    name: &str,
    password: String,
) -> Result<User, LoginRefusal> {
    let limiter = &state.auth.login_limiter;
    let address = IpKey::of(address);
    match limiter.check(address, name, Instant::now()) {
        Ok(()) => {}
        Err(Refusal::Address(wait)) => {
            tracing::warn!("login refused: too many failures from one address");
            return Err(LoginRefusal::Limited(wait_response(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from your address".into(),
                wait,
            )));
        }
        Err(Refusal::Name(wait)) => {
            tracing::warn!("login refused: a name under attack, from an address that failed");
            return Err(LoginRefusal::Limited(wait_response(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins for this user name from your address".into(),
                wait,
            )));
        }
    }
    let record = state
        .store
        .user(name)
        .await
        .map_err(|e| LoginRefusal::Wrong(e.into()))?;
    let phc = record
        .as_ref()
        .map_or(secrets::DECOY_HASH.to_owned(), |r| r.password_hash.clone());
    // argon2 is deliberately slow: a bounded pool keeps a flood from taking the server.
    let matches = match state
        .auth
        .hash_pool
        .run(move || secrets::verify_password(&password, &phc))
        .await
    {
        Ok(m) => m,
        Err(Busy(wait)) => {
            return Err(LoginRefusal::Limited(wait_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many logins at once".into(),
                wait,
            )));
        }
    };
    match record {
        // A disabled user learns nothing from the right password.
        Some(r) if matches && !r.user.disabled => {
            limiter.succeeded(address);
            Ok(r.user)
        }
        Some(r) => {
            tracing::info!(user = %r.user.name, "login failed");
            limiter.failed(address, Some(&r.user.name), Instant::now());
            Err(LoginRefusal::Wrong(unauthorized(
                "wrong user name or password",
            )))
        }
        None => {
            // Not the name as typed: it may be a password pasted into the wrong field.
            tracing::info!("login failed: unknown user name");
            limiter.failed(address, None, Instant::now());
            Err(LoginRefusal::Wrong(unauthorized(
                "wrong user name or password",
            )))
        }
    }
}

/// Records a new login session (`refresh_hash`: SHA-256 of the id of its refresh token
/// in use), forgetting sessions whose refresh tokens expired long ago.
pub(crate) async fn begin_session<S: Store>(
    state: &AppState<S>,
    user: &str,
    sid: String,
    refresh_hash: String,
) -> ApiResult<()> {
    let forget_before = rfc3339_at(now_seconds().saturating_sub(KEEP_ENDED_SECONDS) as i64, 0);
    state
        .store
        .start_session(
            &NewSession {
                id: sid,
                user: user.to_owned(),
                refresh_hash,
            },
            &forget_before,
        )
        .await?;
    tracing::info!(user = %user, "logged in");
    Ok(())
}

/// Trades a refresh token for a new session's tokens. Each refresh token works once:
/// presenting one that was traded in already ends the session (someone copied it).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = Refresh, security(()),
    responses((status = 200, body = Session),
              (status = 401, description = "the refresh token is expired, forged, used before, or its session ended", body = crate::problem::Problem, content_type = "application/problem+json")))]
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
    let (session, next_hash) = session_tokens(&state, user, &claims.sid)?;
    let presented = secrets::key_hash(&claims.jti);
    match state
        .store
        .rotate_session(&claims.sid, &presented, &next_hash)
        .await?
    {
        Rotation::Rotated => Ok(session),
        Rotation::Reused => {
            tracing::warn!(user = %claims.sub, "a refresh token was used twice: the session is ended");
            Err(unauthorized(
                "this refresh token was used before, so it may have been copied: the session is ended; log in again",
            ))
        }
        Rotation::Ended(reason) => Err(unauthorized(format!(
            "this session has ended ({reason}); log in again (`promptops login`)"
        ))),
    }
}

/// Ends this session (its access and refresh tokens stop working at once), or with
/// `all`, every session of yours. API keys are not affected: revoke them apart.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = Logout,
    responses((status = 200, body = SessionsEnded)))]
pub async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    body: Option<ApiJson<Logout>>,
) -> ApiResult<Json<SessionsEnded>> {
    let all = body.is_some_and(|b| b.0.all);
    let only = if all { None } else { caller.session.as_deref() };
    let reason = if all {
        "ended by the user everywhere"
    } else {
        "logged out"
    };
    let sessions_ended = state
        .store
        .end_sessions(&caller.user.name, only, reason, &caller.actor())
        .await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

#[utoipa::path(get, path = "/v1/auth/whoami", tag = "auth", responses((status = 200, body = WhoAmI)))]
pub async fn whoami(Caller(caller): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        key: caller.key.as_ref().map(|k| k.prefix.clone()),
        key_project: caller.key.as_ref().map(|k| k.project.clone()),
        key_role: caller.key.as_ref().map(|k| k.role.to_string()),
        user: caller.user.clone(),
    })
}
