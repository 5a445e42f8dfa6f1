//! The hash-chained audit log, as the API answers it.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

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

/// The outcome of re-computing the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    /// Events checked.
    pub events: u64,
    /// The newest event, as stored.
    pub head: Option<AuditHead>,
    /// The first event that does not hold, when one does not.
    pub first_bad: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BrokenLink {
    pub seq: u64,
    pub problem: String,
}
