//! What the registry stores, as the store hands it out (and the API serialises it).

use promptops_core::policy::GateOutcome;
use promptops_core::role::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

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

/// The environments a new project gets, in promotion order.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub name: String,
    /// In promotion order.
    pub environments: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptSummary {
    pub id: String,
    pub module: String,
    pub latest_version: Option<String>,
    pub versions: u64,
    pub created_at: String,
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

/// An immutable version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    pub id: String,
    pub version: String,
    pub content_hash: String,
    /// The canonical content (the normalised prompt).
    #[schema(value_type = Object)]
    pub content: Json,
    /// The prompt file as it was pushed.
    pub source: String,
    pub parent: Option<String>,
    pub author: String,
    /// The file's `changelog`, whatever its shape (text, a list, a mapping).
    #[schema(value_type = Option<Value>)]
    pub changelog: Option<Json>,
    pub created_at: String,
    /// Every time an admin moved a label to this version over unmet gates (only on a
    /// single version's answer, `GET …/versions/{version}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideNote>,
}

/// An emergency override that brought a version to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverrideNote {
    pub environment: String,
    pub actor: String,
    pub reason: String,
    pub moved_at: String,
    pub move_id: u64,
}

/// What publishing gave: the new version, or the existing one with the same content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Published {
    pub created: bool,
    pub version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MoveKind {
    Promote,
    Rollback,
}

impl MoveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveKind::Promote => "promote",
            MoveKind::Rollback => "rollback",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<MoveKind> {
        match s {
            "promote" => Some(MoveKind::Promote),
            "rollback" => Some(MoveKind::Rollback),
            _ => None,
        }
    }
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

/// One move of a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabelMove {
    pub id: u64,
    pub prompt_id: String,
    pub environment: String,
    pub from_version: Option<String>,
    pub to_version: String,
    pub kind: MoveKind,
    pub actor: String,
    pub reason: Option<String>,
    pub moved_at: String,
    /// Set when an admin moved the label over unmet gates: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// The gates the override went past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub overridden_gates: Option<Json>,
    /// The promotion request this move completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
}

/// Where an environment's label points now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Label {
    pub environment: String,
    pub version: String,
    pub moved_at: String,
    pub moved_by: String,
    /// Set when the version got here by an emergency override: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
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

/// An eval run's figures as the server measured them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct EvalMeasure {
    /// Passed cases over all cases (from the counts); `None` for an empty run.
    pub pass_rate: Option<f64>,
    /// Rows in the report (`None`: no report was attached).
    pub rows: Option<u64>,
    /// Rows that called the provider.
    pub calls: Option<u64>,
    /// Mean cost of those calls in USD; `None` when unknown (no report, no calls, or
    /// a call without a price).
    pub cost_per_call_usd: Option<f64>,
    /// 95th-percentile latency of those calls (nearest rank).
    pub p95_latency_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvalRun {
    pub id: u64,
    pub prompt_id: String,
    pub version: String,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    #[schema(value_type = Object)]
    pub summary: Json,
    /// What the server measured (absent on runs stored before it measured them).
    pub measured: Option<EvalMeasure>,
    /// The user who attached it.
    pub actor: String,
    /// The API key it was attached with (`None`: a user's session).
    pub via_key: Option<String>,
    /// Whether that key was made for CI.
    pub ci_key: bool,
    pub created_at: String,
}

/// One event of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: Json,
    pub prev_hash: String,
    pub hash: String,
}

/// The newest event's sequence number and hash: kept outside the database, it lets
/// `audit verify` also catch a truncated or rewritten tail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

// ----- identity and access -----------------------------------------------------------

/// The project name that grants a role in every project (and the server-wide rights).
pub const ALL_PROJECTS: &str = "*";

/// A user to create: the password is already hashed (argon2id, by the server).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub password_hash: String,
    pub teams: Vec<String>,
}

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

/// Names that start with this are the system's own actors (`promptops-bootstrap`);
/// no user may take one.
pub const SYSTEM_ACTOR_PREFIX: &str = "promptops-";

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

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub key: ApiKey,
    pub secret_hash: String,
}

// ----- policies, requests, approvals ---------------------------------------------------

/// One revision of an environment's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyRevision {
    pub project: String,
    pub environment: String,
    pub revision: u64,
    /// The policy file as written (YAML).
    pub source: String,
    /// SHA-256 of `source`.
    pub source_hash: String,
    pub author: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Open,
    Completed,
    Rejected,
    Withdrawn,
    Overridden,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Completed => "completed",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Withdrawn => "withdrawn",
            RequestStatus::Overridden => "overridden",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        match s {
            "open" => Some(RequestStatus::Open),
            "completed" => Some(RequestStatus::Completed),
            "rejected" => Some(RequestStatus::Rejected),
            "withdrawn" => Some(RequestStatus::Withdrawn),
            "overridden" => Some(RequestStatus::Overridden),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
}

/// An approval or a rejection of a promotion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub actor: String,
    #[schema(value_type = String, example = "approver")]
    pub role: Role,
    pub teams: Vec<String>,
    pub verdict: Verdict,
    pub comment: Option<String>,
    /// The checklist items the decider ticked.
    pub checklist: Vec<String>,
    pub at: String,
}

/// A promotion waiting for (or done with) approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromotionRequest {
    pub id: u64,
    pub project: String,
    pub prompt_id: String,
    pub environment: String,
    pub version: String,
    pub requested_by: String,
    pub requested_at: String,
    pub reason: Option<String>,
    pub status: RequestStatus,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    pub closing_comment: Option<String>,
    /// The label move that completed it.
    pub move_id: Option<u64>,
    pub decisions: Vec<Decision>,
}

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
pub struct PromoteRequest {
    pub prompt_id: String,
    pub environment: String,
    pub version: semver::Version,
    /// As in [`LabelMoveRequest::expected_from`].
    pub expected_from: Option<Option<String>>,
    pub reason: Option<String>,
    pub mode: PromoteMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionOutcome {
    /// The label moved.
    Moved,
    /// An admin moved the label over unmet gates.
    Overridden,
    /// A gate is unmet; nothing moved (a request may have been opened).
    Blocked,
    /// Every gate holds after this approval, and the policy leaves the move to the
    /// requester (`completion: requester`): they run `promote` again.
    Ready,
    /// A dry run: what the gates say now.
    DryRun,
}

/// What a promotion (or an approval that completed one) did, with every gate's verdict.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Promotion {
    pub outcome: PromotionOutcome,
    pub prompt_id: String,
    pub environment: String,
    pub version: String,
    /// The policy revision the gates came from (none: the environment has no policy).
    pub policy_revision: Option<u64>,
    #[schema(value_type = Vec<Object>)]
    pub gates: Vec<GateOutcome>,
    #[serde(rename = "move")]
    pub label_move: Option<LabelMove>,
    pub request: Option<PromotionRequest>,
}

impl Promotion {
    /// The gates that did not hold.
    pub fn unmet(&self) -> impl Iterator<Item = &GateOutcome> {
        self.gates.iter().filter(|g| !g.passed)
    }
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
