//! What the registry stores, as the store hands it out (and the API serialises it).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// Who made a change: a user or API key name (authentication arrives with the
/// governance issue; every write already carries one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    pub fn new(name: impl Into<String>) -> Actor {
        Actor(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
}

/// Where an environment's label points now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Label {
    pub environment: String,
    pub version: String,
    pub moved_at: String,
    pub moved_by: String,
}

/// An eval run to attach to the version it tested.
#[derive(Debug, Clone)]
pub struct NewEvalRun {
    pub prompt_id: String,
    pub version: semver::Version,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// Pass rate, cost per call, p95 latency, failures, gate verdicts.
    pub summary: Json,
    /// The full JSON report.
    pub report: Option<Json>,
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
    pub actor: String,
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
