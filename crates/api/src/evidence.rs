//! The evidence pack of one prompt version: everything a reviewer, an enterprise buyer
//! or a regulator asks about it, in one document that verifies offline.
//!
//! What ties it together: the version's content hashes to `content_hash`; the audit
//! events about the version (its publication names that hash) each come with an
//! inclusion proof against a checkpoint the server signed; earlier checkpoints come
//! with consistency proofs to that one. `promptops audit verify --checkpoints --pack`
//! checks all of it without the server.

use crate::assessments::{CompatibilityMatrix, RedteamRun};
use crate::checkpoints::{Checkpoint, ConsistencyProofDoc, InclusionProofDoc};
use crate::{AuditEvent, EvalRun, LabelMove, PromotionRequest, Version, VersionDiff};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `format` of an evidence pack this version of promptops writes and reads.
pub const EVIDENCE_FORMAT: &str = "promptops-evidence/1";

/// The compliance fields the version's risk tier requires, and which are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Completeness {
    /// `None`: the prompt declares no risk tier.
    pub risk_tier: Option<String>,
    pub required: Vec<String>,
    pub missing: Vec<String>,
}

/// The audit events about the version, with what proves them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvidence {
    /// The events, in sequence order, whole (so their hashes can be recomputed).
    pub events: Vec<AuditEvent>,
    /// One inclusion proof per event, against `checkpoint`.
    pub proofs: Vec<InclusionProofDoc>,
    /// The newest signed checkpoint, covering every event above.
    pub checkpoint: Checkpoint,
    /// Earlier checkpoints…
    pub earlier: Vec<Checkpoint>,
    /// …each with the proof that `checkpoint`'s log extends it.
    pub consistency: Vec<ConsistencyProofDoc>,
}

/// One version's evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidencePack {
    /// Always [`EVIDENCE_FORMAT`].
    pub format: String,
    /// RFC 3339.
    pub generated_at: String,
    pub project: String,
    /// The version: content, its hash, the file as pushed, author, changelog, lineage.
    pub version: Version,
    /// The parent version's diff to this one (`None`: no parent).
    pub diff_from_parent: Option<VersionDiff>,
    pub completeness: Completeness,
    pub eval_runs: Vec<EvalRun>,
    pub redteam: Vec<RedteamRun>,
    pub compatibility: Option<CompatibilityMatrix>,
    /// Promotion requests of this version, with decisions, checklists and comments.
    pub requests: Vec<PromotionRequest>,
    /// Every move of the prompt's labels to or from this version.
    pub label_history: Vec<LabelMove>,
    pub audit: AuditEvidence,
}
