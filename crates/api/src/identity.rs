//! Users, roles, sessions and API keys on the wire. Secrets appear in exactly two
//! answers — a new session's tokens and a new key — and in no request's `Debug`.

use promptops_core::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The project name that grants a role in every project (and the server-wide rights).
pub const ALL_PROJECTS: &str = "*";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub name: String,
    /// Teams approval rules can ask for (`security`).
    pub teams: Vec<String>,
    pub disabled: bool,
    pub created_at: String,
    pub created_by: String,
    /// The user's role in each project (`*`: every project).
    pub roles: Vec<Membership>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub project: String,
    #[schema(value_type = String, example = "editor")]
    pub role: Role,
}

impl User {
    /// The user's role in `project`: the higher of the project's and `*`'s.
    pub fn role_in(&self, project: &str) -> Option<Role> {
        self.roles
            .iter()
            .filter(|m| m.project == project || m.project == ALL_PROJECTS)
            .map(|m| m.role)
            .max()
    }
}

/// An API key as listed: never the secret, never its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// The public start of the key (`po_…`), which identifies it.
    pub prefix: String,
    pub name: String,
    pub owner: String,
    pub project: String,
    #[schema(value_type = String, example = "editor")]
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    /// Why it stopped working when not revoked by hand (`user disabled`).
    pub revoked_reason: Option<String>,
    pub last_used_at: Option<String>,
    /// Made for CI (`promptops key create --ci`).
    pub ci: bool,
}

/// Names that start with this are the system's own actors (`promptops-bootstrap`,
/// `promptops-security`); no user may take one.
pub const SYSTEM_ACTOR_PREFIX: &str = "promptops-";

// ----- requests ------------------------------------------------------------------------

#[derive(Clone, Serialize, Deserialize, ToSchema)]
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

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refresh { refresh_token: <redacted> }")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logout {
    /// End every session of yours, on every device (default: only this one).
    #[serde(default)]
    pub all: bool,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    pub name: String,
    /// At least 12 characters. Never stored or logged: only its argon2id hash is kept.
    pub password: String,
    #[serde(default)]
    pub teams: Vec<String>,
    /// Roles to grant: `{project, role}` (`*` for every project).
    #[serde(default)]
    pub roles: Vec<Membership>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CreateUser {{ name: {:?}, password: <redacted>, teams: {:?} }}",
            self.name, self.teams
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    /// `viewer`, `editor`, `approver` or `admin`; `null` takes the role away.
    #[schema(value_type = Option<String>)]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What the key is for (`ci`, `support-bot`).
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    pub name: String,
    pub project: String,
    /// `viewer` (apps reading prompts), `ingest` (apps reporting executions, nothing
    /// else), `editor` (CI), `approver` or `admin`; at most your own role in the project.
    pub role: String,
    /// Days until the key stops working (default: never).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Made for CI: eval runs attached with it count where a policy asks for
    /// `attached_by: ci`.
    #[serde(default)]
    pub ci: bool,
}

// ----- answers ---------------------------------------------------------------------------

/// A session: send `access_token` as `Authorization: Bearer …`; trade `refresh_token`
/// for a new session at `/v1/auth/refresh` before the access token expires.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token works.
    pub expires_in: u64,
    pub user: User,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session {{ user: {:?}, tokens: <redacted>, expires_in: {} }}",
            self.user.name, self.expires_in
        )
    }
}

/// How many sessions were ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

/// Who the credentials belong to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub user: User,
    /// The API key the request carried, if any.
    pub key: Option<String>,
    pub key_project: Option<String>,
    pub key_role: Option<String>,
}

/// The new key. `key` is shown this once: store it in a secret manager.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    pub api_key: ApiKey,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CreatedKey {{ key: <redacted>, api_key: {:?} }}",
            self.api_key
        )
    }
}

// A project member as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user: String,
    pub role: String,
    pub teams: Vec<String>,
    pub disabled: bool,
}
