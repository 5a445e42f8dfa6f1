//! Signed audit checkpoints and the proofs that tie events to them (see
//! [`crate::checkpoints`]).

use crate::checkpoints::CheckpointError;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::{Checkpoint, CheckpointKey, ConsistencyProofDoc, InclusionProofDoc};
use promptops_store::Store;
use serde::Deserialize;

impl From<CheckpointError> for ApiError {
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Store(e) => e.into(),
            CheckpointError::Empty | CheckpointError::NoSuchSize(_) => {
                ApiError::not_found(e.to_string())
            }
            e @ (CheckpointError::Broken { .. }
            | CheckpointError::Rewritten { .. }
            | CheckpointError::Hash(_)) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        }
    }
}

/// Every signed checkpoint, smallest first.
#[utoipa::path(get, path = "/v1/audit/checkpoints", tag = "audit", operation_id = "list_audit_checkpoints",
    responses((status = 200, body = Vec<Checkpoint>)))]
pub async fn list<S: Store>(State(state): State<AppState<S>>) -> ApiResult<Json<Vec<Checkpoint>>> {
    Ok(Json(state.store.checkpoints().await?))
}

/// Signs a checkpoint of the log as it stands now (when it grew since the last one) and
/// answers the newest checkpoint.
#[utoipa::path(post, path = "/v1/audit/checkpoints", tag = "audit", operation_id = "sign_audit_checkpoint",
    responses((status = 200, body = Checkpoint),
              (status = 404, description = "the log is empty", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "the log does not extend the last checkpoint: not signed", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn sign<S: Store>(State(state): State<AppState<S>>) -> ApiResult<Json<Checkpoint>> {
    Ok(Json(state.checkpoints.sign_now(&*state.store).await?))
}

/// The public key this server signs checkpoints with.
#[utoipa::path(get, path = "/v1/audit/checkpoints/key", tag = "audit",
    responses((status = 200, body = CheckpointKey)))]
pub async fn key<S: Store>(State(state): State<AppState<S>>) -> Json<CheckpointKey> {
    Json(CheckpointKey {
        algorithm: "ed25519".into(),
        public_key: state.checkpoints.public_key().to_owned(),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's sequence number.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub seq: u64,
    /// The size of a signed checkpoint.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub size: u64,
}

/// The proof that event `seq` is in the log checkpoint `size` signed.
#[utoipa::path(get, path = "/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = InclusionProofDoc),
              (status = 404, description = "no checkpoint of that size, or the event is beyond it", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn inclusion<S: Store>(
    State(state): State<AppState<S>>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionProofDoc>> {
    state
        .checkpoints
        .inclusion(&*state.store, q.seq, q.size)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "event {} is not within checkpoint {} (events 1 to {})",
                q.seq, q.size, q.size
            ))
        })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older checkpoint's size.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub from: u64,
    /// The newer checkpoint's size.
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub to: u64,
}

/// The proof that checkpoint `to`'s log extends checkpoint `from`'s.
#[utoipa::path(get, path = "/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProofDoc),
              (status = 404, description = "no checkpoint of one of the sizes, or `from` is beyond `to`", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn consistency<S: Store>(
    State(state): State<AppState<S>>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProofDoc>> {
    if !state
        .store
        .checkpoints()
        .await?
        .iter()
        .any(|c| c.size == q.from)
    {
        return Err(ApiError::not_found(format!(
            "no checkpoint covers {} events",
            q.from
        )));
    }
    state
        .checkpoints
        .consistency(&*state.store, q.from, q.to)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "checkpoint {} is not older than checkpoint {}",
                q.from, q.to
            ))
        })
}
