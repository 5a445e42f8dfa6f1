//! What the store takes in: changes to make, as the server has checked them, and the
//! records it keeps beside what the API shows (password and key hashes, sessions).
//! What it hands out are the API's own types ([`promptops_api`]).

use promptops_api::{ApiKey, EvalMeasure, User, Verdict};
use promptops_core::role::Role;
use serde_json::Value as Json;

/// Who made a change: the user, and the API key they acted through if any. Stored
/// rows name the user (so separation of duties compares people, not keys); the audit
/// event also names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    /// The prefix of the API key the request carried.
    pub via_key: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            via_key: None,
        }
    }

    pub fn via_key(name: impl Into<String>, key_prefix: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            via_key: Some(key_prefix.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// A version to publish: the server has validated `source` and computed the rest
/// from it with the same functions as the CLI (`canonical_json`, `content_hash`).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub prompt_id: String,
    pub version: semver::Version,
    pub content_hash: String,
    /// Canonical JSON of the prompt.
    pub content: String,
    /// The prompt file as pushed.
    pub source: String,
    /// The `parent` the file names; when it names none, the prompt's latest version.
    pub parent: Option<semver::Version>,
    pub changelog: Option<Json>,
}

/// A request to move an environment's label.
#[derive(Debug, Clone)]
pub struct LabelMoveRequest {
    pub prompt_id: String,
    pub environment: String,
    pub target: MoveTarget,
    /// Where the caller saw the label before asking (`Some(None)`: not set yet). When
    /// it has moved since, the move is refused with the current state (409).
    pub expected_from: Option<Option<String>>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MoveTarget {
    /// Promote this version.
    Promote(semver::Version),
    /// Roll back to the version that was live before the current one.
    RollbackPrevious,
    /// Roll back to this version, which must have been live in the environment.
    RollbackTo(semver::Version),
}

/// An eval run to attach to the version it tested.
#[derive(Debug, Clone)]
pub struct NewEvalRun {
    pub prompt_id: String,
    pub version: semver::Version,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// What the client said about the run (failures, its own gate verdicts): shown,
    /// never gated on.
    pub summary: Json,
    /// The full JSON report.
    pub report: Option<Json>,
    /// The figures the server derived from the counts and the report's rows: the only
    /// ones gates read.
    pub measured: EvalMeasure,
    /// Whether the key it was attached with was made for CI.
    pub ci_key: bool,
}

// ----- identity and access -----------------------------------------------------------

/// A user to create: the password is already hashed (argon2id, by the server).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub password_hash: String,
    pub teams: Vec<String>,
}

/// A login session: what a refresh token buys new access tokens from, until it ends.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Random, never reused (it is in every token of the session).
    pub id: String,
    pub user: String,
    /// SHA-256 of the id of the refresh token in use.
    pub refresh_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub user: String,
    pub created_at: String,
    pub refreshed_at: String,
    pub refresh_hash: String,
    pub ended_at: Option<String>,
    pub ended_reason: Option<String>,
}

/// What trading in a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the one in use: the session now expects the next one.
    Rotated,
    /// The token had been traded in already: someone kept a copy. The session is
    /// ended (and audited), so neither copy works any more.
    Reused,
    /// The session had ended (logout, disabled user, reuse) or never existed.
    Ended(String),
}

/// A user as stored, with the hash the server checks a password against.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

/// An API key to create: the server made the secret and keeps only its hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub prefix: String,
    pub name: String,
    pub secret_hash: String,
    pub owner: String,
    pub project: String,
    pub role: Role,
    pub expires_at: Option<String>,
    /// Made for CI: eval runs attached with it count where a policy asks for CI.
    pub ci: bool,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub key: ApiKey,
    pub secret_hash: String,
}

// ----- policies, requests, approvals ---------------------------------------------------

/// How a promotion is asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromoteMode {
    /// Move when every gate holds; otherwise open (or reuse) a request when the policy
    /// asks for approvals, and report the unmet gates.
    Apply,
    /// Judge the gates and change nothing.
    DryRun,
    /// An admin moves the label whatever the gates say; the reason is kept for ever.
    Override { reason: String },
}

/// A promotion to judge against the environment's policy.
#[derive(Debug, Clone)]
pub struct Promote {
    pub prompt_id: String,
    pub environment: String,
    pub version: semver::Version,
    /// As in [`LabelMoveRequest::expected_from`].
    pub expected_from: Option<Option<String>>,
    pub reason: Option<String>,
    pub mode: PromoteMode,
}

/// Who decides on a request, as the server authenticated them.
#[derive(Debug, Clone)]
pub struct Decider {
    pub actor: Actor,
    pub role: Role,
    pub teams: Vec<String>,
}

/// An approval or rejection to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub checklist: Vec<String>,
}
