use crate::auth::{Permission, RequestActor, authorize};
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_store::{AuditEvent, AuditHead, Store, Verification};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Events after this sequence number (default 0: from the start).
    pub after: Option<u64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// Audit events in sequence order.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", operation_id = "list_audit_events", params(ListQuery), responses((status = 200, body = Vec<AuditEvent>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    authorize(&actor, Permission::ReadAudit)?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(format!(
            "limit {limit}: use 1 to 1000"
        )));
    }
    Ok(Json(
        state
            .store
            .audit_events(q.after.unwrap_or(0), limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A head kept outside the database (`promptops audit head`): its sequence number…
    pub head_seq: Option<u64>,
    /// …and its hash. Given both, a truncated or rewritten tail is caught too.
    pub head_hash: Option<String>,
}

/// Re-computes the whole chain; names the first bad event when one does not hold.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", params(VerifyQuery), responses((status = 200, body = Verification)))]
pub async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<Json<Verification>> {
    authorize(&actor, Permission::ReadAudit)?;
    let kept = match (q.head_seq, q.head_hash) {
        (Some(seq), Some(hash)) => Some(AuditHead { seq, hash }),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "give both head_seq and head_hash, or neither",
            ));
        }
    };
    Ok(Json(state.store.audit_verify(kept.as_ref()).await?))
}

/// The newest event's sequence number and hash, to keep outside the database.
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses((status = 200, body = AuditHead), (status = 404, description = "the log is empty", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn head<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
) -> ApiResult<Json<AuditHead>> {
    authorize(&actor, Permission::ReadAudit)?;
    state
        .store
        .audit_head()
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the audit log is empty"))
}
