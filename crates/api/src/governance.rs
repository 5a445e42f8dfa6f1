//! Policies, promotion requests, approvals and promotions on the wire.

use crate::registry::LabelMove;
use promptops_core::policy::GateOutcome;
use promptops_core::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

/// A request with its gates as they stand now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: PromotionRequest,
    #[schema(value_type = Vec<Object>)]
    pub gates: Vec<GateOutcome>,
}

// ----- requests ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutPolicy {
    /// The policy file (YAML; see docs/policy.md).
    pub source: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    pub comment: Option<String>,
    /// The items of the policy's checklist the approver has done (all are needed).
    #[serde(default)]
    pub checklist: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// Why (required).
    pub comment: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    pub comment: Option<String>,
}
