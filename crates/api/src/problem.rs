//! Errors as `application/problem+json` (RFC 9457).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

// A status, a short title, a `detail` that says what to do, and extra members where
// they help (`current` for a conflict, `errors` for a file that fails validation,
// `gates` and `request` for a blocked promotion).
/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `about:blank`, or a promptops problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// On 409: the state that won.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Json>,
    // A policy file's findings come here too.
    /// On 422 for a prompt file: the validator's findings, as `promptops validate` gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Json>,
    /// On 409 for a blocked promotion: every gate, met and unmet, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub gates: Option<Json>,
    /// On 409 for a blocked promotion: the request that waits for approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub request: Option<Json>,
}
