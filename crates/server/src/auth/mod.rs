//! Who may do what. Every route is declared once in [`ROUTES`] with the [`Permission`]
//! it needs; [`enforce`] runs before every handler, authenticates the caller (a session
//! token or an API key in `Authorization: Bearer …`), checks their role in the route's
//! project and hands the handler a [`Caller`]. A route missing from the table is
//! refused, so a new route cannot be forgotten open.

mod authenticate;
pub mod client;
pub mod limit;
pub mod secrets;
pub mod token;

use crate::problem::ApiError;
use crate::state::AppState;
pub use authenticate::{
    active_user, authenticate, authenticate_langfuse, check_cached_key, enforce, live_session,
};
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
    /// `editor` in the route's project, or an `ingest` key: report prompt executions.
    Ingest,
    /// `approver`: evaluate the project's alert rules now (they run every minute anyway).
    EvaluateAlerts,
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
            // Editors and above, and `ingest` keys (see `Role::includes`).
            Permission::Ingest => Need::InProject(Role::Ingest),
            Permission::Decide | Permission::Rollback | Permission::EvaluateAlerts => {
                Need::InProject(Role::Approver)
            }
            Permission::ManageProject => Need::InProject(Role::Admin),
            Permission::ManageServer => Need::Everywhere(Role::Admin),
            Permission::ReadAudit => Need::Everywhere(Role::Viewer),
        }
    }
}

/// What the middleware of one route knows: the app, the route's permission, and
/// whether it is a Langfuse-compatible route (Basic credentials, the key's project).
pub struct RouteGuard<S> {
    pub state: AppState<S>,
    pub permission: Permission,
    pub langfuse: bool,
}

// Not derived: a derive would demand `S: Clone`, and the store is behind an Arc.
impl<S> Clone for RouteGuard<S> {
    fn clone(&self) -> Self {
        RouteGuard {
            state: self.state.clone(),
            permission: self.permission,
            langfuse: self.langfuse,
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
            // A key is its own role while its owner still holds that role's rights; an
            // `ingest` key needs an owner who may report (an editor or above).
            Some(key) if key.project == project => own.and_then(|r| match key.role {
                Role::Ingest => r.includes(Role::Ingest).then_some(Role::Ingest),
                role => Some(r.min(role)),
            }),
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
pub struct Caller(pub std::sync::Arc<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<std::sync::Arc<Principal>>()
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
    let needed = match wanted {
        Role::Ingest => "the editor role (or an `ingest` key)".to_owned(),
        role => format!("the {role} role"),
    };
    match held {
        Some(role) if role.includes(wanted) => Ok(()),
        Some(role) => Err(forbidden(format!(
            "this needs {needed} in {scope}; {} is {role} there",
            principal.describe()
        ))),
        None => Err(forbidden(format!(
            "this needs {needed} in {scope}; {} has no role there (an admin can grant one: `promptops user grant`)",
            principal.describe()
        ))),
    }
}
