//! Who may do what. Every route is declared once in [`ROUTES`] with the [`Permission`]
//! it needs; [`enforce`] runs before every handler, authenticates the caller (a session
//! token or an API key in `Authorization: Bearer …`), checks their role in the route's
//! project and hands the handler a [`Caller`]. A route missing from the table is
//! refused, so a new route cannot be forgotten open.

pub mod client;
pub mod limit;
pub mod secrets;
pub mod token;

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use promptops_api::{ALL_PROJECTS, User};
use promptops_core::clock::{epoch_seconds, now_rfc3339};
use promptops_core::role::Role;
use promptops_store::{Actor, Store};
use token::TokenKind;

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No credentials (health, the API description, login).
    Public,
    /// Any valid credentials (who am I, the projects I can see, revoking a key).
    Authenticated,
    /// A user's own session, not an API key: listing and creating keys (a leaked key
    /// cannot mint or enumerate others).
    UserSession,
    /// `viewer` in the route's project: read prompts, versions, labels, evals, requests.
    Read,
    /// `editor`: publish versions and eval runs.
    Publish,
    /// `editor`: ask for a promotion (the policy decides whether it moves), withdraw it.
    RequestPromotion,
    /// `approver`: approve or reject a promotion request.
    Decide,
    /// `approver`: move a label back to a version that was live before.
    Rollback,
    /// `admin` of the project: environments, policies, members.
    ManageProject,
    /// `admin` of every project (`*`): create projects, manage users.
    ManageServer,
    /// `viewer` of every project (`*`): read and verify the audit log.
    ReadAudit,
}

/// Where a permission's role must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Nothing,
    Credentials,
    /// A session token (an API key is refused).
    Session,
    /// This role in the project the path names.
    InProject(Role),
    /// This role in every project (`*`).
    Everywhere(Role),
}

impl Permission {
    pub fn need(self) -> Need {
        match self {
            Permission::Public => Need::Nothing,
            Permission::Authenticated => Need::Credentials,
            Permission::UserSession => Need::Session,
            Permission::Read => Need::InProject(Role::Viewer),
            Permission::Publish | Permission::RequestPromotion => Need::InProject(Role::Editor),
            Permission::Decide | Permission::Rollback => Need::InProject(Role::Approver),
            Permission::ManageProject => Need::InProject(Role::Admin),
            Permission::ManageServer => Need::Everywhere(Role::Admin),
            Permission::ReadAudit => Need::Everywhere(Role::Viewer),
        }
    }
}

/// What the middleware of one route knows: the app and the route's permission.
pub struct RouteGuard<S> {
    pub state: AppState<S>,
    pub permission: Permission,
}

// Not derived: a derive would demand `S: Clone`, and the store is behind an Arc.
impl<S> Clone for RouteGuard<S> {
    fn clone(&self) -> Self {
        RouteGuard {
            state: self.state.clone(),
            permission: self.permission,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// Set when the caller presented an API key: the key's prefix, project and role.
    pub key: Option<KeyScope>,
    /// The login session of a session token (`None` for an API key).
    pub session: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KeyScope {
    pub prefix: String,
    pub project: String,
    pub role: Role,
    /// Made for CI (`promptops key create --ci`).
    pub ci: bool,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match &self.key {
            Some(key) => Actor::via_key(&self.user.name, &key.prefix),
            None => Actor::new(&self.user.name),
        }
    }

    /// The caller's role in `project`. A key acts only in its project and never above
    /// its own role or its owner's current one.
    pub fn role_in(&self, project: &str) -> Option<Role> {
        let own = self.user.role_in(project);
        match &self.key {
            None => own,
            Some(key) if key.project == project => own.map(|r| r.min(key.role)),
            Some(_) => None,
        }
    }

    /// The caller's role in every project (`*`); keys never have one.
    pub fn global_role(&self) -> Option<Role> {
        match &self.key {
            None => self
                .user
                .roles
                .iter()
                .filter(|m| m.project == ALL_PROJECTS)
                .map(|m| m.role)
                .max(),
            Some(_) => None,
        }
    }

    fn describe(&self) -> String {
        match &self.key {
            Some(key) => format!("{} (key {})", self.user.name, key.prefix),
            None => self.user.name.clone(),
        }
    }
}

/// The handler's view of the caller (only routes that need credentials have one).
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| unauthorized("this route needs credentials"))
    }
}

pub fn unauthorized(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, detail)
}

pub fn forbidden(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, detail)
}

/// Runs before every routed handler (its route's layer, holding the route's
/// permission): authenticates and authorizes the caller. Nothing here logs a secret: only names and prefixes.
pub async fn enforce<S: Store>(
    State(RouteGuard { state, permission }): State<RouteGuard<S>>,
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = match params {
        Ok(p) => p,
        // Bad UTF-8 in a path segment: a problem like every other refusal.
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "{}; path segments must be percent-encoded UTF-8",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let path = matched.as_ref().map_or("", |m| m.as_str());
    let need = permission.need();
    if need == Need::Nothing {
        return next.run(request).await;
    }
    let principal = match authenticate(&state, request.headers().get(header::AUTHORIZATION)).await {
        Ok(p) => p,
        Err(e) => return with_challenge(e.into_response()),
    };
    let project = params
        .iter()
        .find(|(name, _)| *name == "project")
        .map(|(_, value)| value.to_owned());
    if let Err(e) = authorize(&principal, need, project.as_deref()) {
        tracing::info!(caller = %principal.describe(), path, "refused: {}", e.0.detail);
        return e.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn with_challenge(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"promptops\""),
        );
    }
    response
}

/// Whether `principal` holds what `need` asks, in `project` (the route's, if any).
pub fn authorize(principal: &Principal, need: Need, project: Option<&str>) -> Result<(), ApiError> {
    let (held, wanted, scope) = match need {
        Need::Nothing | Need::Credentials => return Ok(()),
        Need::Session if principal.key.is_some() => {
            return Err(forbidden(
                "an API key cannot do this; log in as a user (`promptops login`)",
            ));
        }
        Need::Session => return Ok(()),
        Need::InProject(role) => {
            let project = project.unwrap_or(ALL_PROJECTS);
            (
                principal.role_in(project),
                role,
                format!("project `{project}`"),
            )
        }
        Need::Everywhere(role) => (
            principal.global_role(),
            role,
            "every project (`*`)".to_owned(),
        ),
    };
    match held {
        Some(role) if role.includes(wanted) => Ok(()),
        Some(role) => Err(forbidden(format!(
            "this needs the {wanted} role in {scope}; {} is {role} there",
            principal.describe()
        ))),
        None => Err(forbidden(format!(
            "this needs the {wanted} role in {scope}; {} has no role there (an admin can grant one: `promptops user grant`)",
            principal.describe()
        ))),
    }
}

/// Who the `Authorization` header says the caller is.
pub async fn authenticate<S: Store>(
    state: &AppState<S>,
    header: Option<&HeaderValue>,
) -> Result<Principal, ApiError> {
    let Some(header) = header else {
        return Err(unauthorized(
            "credentials needed: send `Authorization: Bearer <token or API key>` (`promptops login`, or PROMPTOPS_TOKEN)",
        ));
    };
    let text = header
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    let presented = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthorized("the Authorization header must be `Bearer <token or API key>`")
        })?;
    if presented.starts_with(secrets::KEY_MARK) {
        authenticate_key(state, presented).await
    } else {
        let claims = state
            .auth
            .signer
            .verify(presented, TokenKind::Access)
            .map_err(|e| unauthorized(e.to_string()))?;
        live_session(state, &claims.sid, &claims.sub).await?;
        let user = active_user(state, &claims.sub).await?;
        Ok(Principal {
            user,
            key: None,
            session: Some(claims.sid),
        })
    }
}

/// Refuses a token whose session has ended (logout, "end all sessions", a disabled
/// user, a reused refresh token).
pub async fn live_session<S: Store>(
    state: &AppState<S>,
    sid: &str,
    user: &str,
) -> Result<(), ApiError> {
    match state.store.session(sid).await? {
        Some(s) if s.user == user && s.ended_at.is_none() => Ok(()),
        Some(s) if s.user == user => Err(unauthorized(format!(
            "this session has ended ({}); log in again (`promptops login`)",
            s.ended_reason.unwrap_or_else(|| "ended".into())
        ))),
        _ => Err(unauthorized(
            "this session is unknown to the registry; log in again (`promptops login`)",
        )),
    }
}

/// The user, if they exist and are not disabled.
pub async fn active_user<S: Store>(state: &AppState<S>, name: &str) -> Result<User, ApiError> {
    let record = state
        .store
        .user(name)
        .await?
        .ok_or_else(|| unauthorized(format!("user `{name}` no longer exists")))?;
    if record.user.disabled {
        return Err(unauthorized(format!("user `{name}` is disabled")));
    }
    Ok(record.user)
}

/// Keys are used often: their last use is written at most once a minute.
const TOUCH_EVERY_SECONDS: i64 = 60;

async fn authenticate_key<S: Store>(
    state: &AppState<S>,
    presented: &str,
) -> Result<Principal, ApiError> {
    let invalid = || unauthorized("the API key is not valid (unknown, mistyped or deleted)");
    let prefix = secrets::key_prefix(presented).ok_or_else(invalid)?;
    let record = state.store.api_key(prefix).await?.ok_or_else(invalid)?;
    if !secrets::same_secret(&secrets::key_hash(presented), &record.secret_hash) {
        return Err(invalid());
    }
    let key = record.key;
    if let Some(when) = &key.revoked_at {
        let why = key
            .revoked_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Err(unauthorized(format!(
            "API key {} was revoked at {when}{why}",
            key.prefix
        )));
    }
    let now = now_rfc3339();
    if let Some(expiry) = &key.expires_at
        && *expiry <= now
    {
        return Err(unauthorized(format!(
            "API key {} expired at {expiry}; create a new one (`promptops key create`)",
            key.prefix
        )));
    }
    let user = active_user(state, &key.owner).await?;
    let stale = key
        .last_used_at
        .as_deref()
        .is_none_or(|last| seconds_between(last, &now).is_none_or(|s| s >= TOUCH_EVERY_SECONDS));
    if stale {
        // Best effort: a failed note of last use must not fail the request.
        if let Err(e) = state.store.touch_key(&key.prefix, &now).await {
            tracing::warn!(key = %key.prefix, "could not record the key's last use: {e}");
        }
    }
    Ok(Principal {
        user,
        key: Some(KeyScope {
            prefix: key.prefix,
            project: key.project,
            role: key.role,
            ci: key.ci,
        }),
        session: None,
    })
}

/// Seconds from `a` to `b`, both RFC 3339 UTC as the store writes them.
fn seconds_between(a: &str, b: &str) -> Option<i64> {
    Some(epoch_seconds(b)? - epoch_seconds(a)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_between_store_timestamps() {
        assert_eq!(
            seconds_between("2026-11-21T00:00:00Z", "2026-11-21T00:01:30.5Z"),
            Some(90)
        );
        assert_eq!(seconds_between("garbage", "2026-11-21T00:01:30Z"), None);
    }
}
