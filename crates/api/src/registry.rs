//! Prompts, versions, labels, eval runs and what an environment serves: the registry's
//! resources and the requests that change them.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

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

/// An immutable version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    pub id: String,
    pub version: String,
    /// The version's place in its prompt's publication order: 1 for the first, never
    /// reused (what the Langfuse-compatible API calls its `version`).
    #[serde(default)]
    pub revision: u64,
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

    pub fn parse(s: &str) -> Option<MoveKind> {
        match s {
            "promote" => Some(MoveKind::Promote),
            "rollback" => Some(MoveKind::Rollback),
            _ => None,
        }
    }
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

// ----- requests ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// In promotion order (default `dev`, `staging`, `prod`).
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEnvironments {
    pub environments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The prompt file's text (YAML), exactly as in the repository.
    #[schema(min_length = 1)]
    pub source: String,
    /// Its path in the repository (`prompts/support/greet.yaml`), for messages; by
    /// default the path the id gives.
    pub path: Option<String>,
}

/// `expected_from`: the version the caller saw the label at (`null`: not set). When the
/// label has moved since, the move is refused with 409 and the current state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub environment: String,
    #[schema(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub version: String,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub expected_from: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Judge the gates and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Admins only: move even though gates are unmet. The reason is required and kept
    /// on the move, the environment and the audit log for ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub environment: String,
    /// A version that was live in the environment before; by default the one served
    /// before the current one.
    #[schema(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub expected_from: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Tells an absent `expected_from` (no check) from an explicit `null` (expect unset).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An eval run of one version, as `promptops eval --publish` sends it. Gates read only
/// what the server measures: the pass rate from the counts, cost and latency from the
/// report's rows (which must agree with the counts).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishEval {
    #[schema(maximum = 9223372036854775807_u64)]
    pub passed: u64,
    #[schema(maximum = 9223372036854775807_u64)]
    pub failed: u64,
    #[schema(maximum = 9223372036854775807_u64)]
    pub errors: u64,
    /// The client's own account (failures, its gate verdicts): kept and shown, never
    /// gated on.
    #[schema(value_type = Object)]
    pub summary: Json,
    /// The full JSON report (`-o out.json`'s content).
    #[schema(value_type = Option<Object>)]
    pub report: Option<Json>,
}

// ----- answers ---------------------------------------------------------------------------

/// What an environment serves now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resolved {
    pub id: String,
    pub environment: String,
    pub version: String,
    pub content_hash: String,
    /// `{provider, name, params}`.
    #[schema(value_type = Object)]
    pub model: Json,
    /// Declared variables: name → `{type, required, default}`.
    #[schema(value_type = Object)]
    pub variables: Json,
    /// The whole canonical content (template or messages included).
    #[schema(value_type = Object)]
    pub content: Json,
}

/// One label move, as the watch stream sends it (`event: label`, `id:` the feed
/// position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchEvent {
    /// The prompt id.
    pub id: String,
    /// The version the environment serves now.
    pub version: String,
    pub content_hash: String,
    pub environment: String,
    /// The change-feed position (also the event's `id:`).
    pub seq: u64,
}

/// The diff's form (documentation only: the query keeps the text to name a bad value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiffFormat {
    Json,
    Unified,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionDiff {
    pub id: String,
    pub from: String,
    pub to: String,
    /// Unified diff of the prompt text, metadata changes by dotted path with their
    /// semver impact, and whether the bump fits.
    #[schema(value_type = Object)]
    pub diff: Json,
    /// Unified diff of the two files as pushed.
    pub source_diff: String,
}

// Liveness and the database's reachability.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub backend: String,
    pub version: String,
}
