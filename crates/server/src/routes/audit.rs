use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use promptops_api::{AuditEvent, AuditHead, Verification};
use promptops_store::Store;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Events after this sequence number (default 0: from the start).
    #[param(maximum = 9223372036854775807_u64)]
    pub after: Option<u64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// Audit events in sequence order.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", operation_id = "list_audit_events", params(ListQuery), responses((status = 200, body = Vec<AuditEvent>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let after = q.after.unwrap_or(0);
    if i64::try_from(after).is_err() {
        return Err(ApiError::bad_request(format!(
            "after {after}: use a sequence number up to {}",
            i64::MAX
        )));
    }
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
    #[param(minimum = 1, maximum = 9223372036854775807_u64)]
    pub head_seq: Option<u64>,
    /// …and its hash. Given both, a truncated or rewritten tail is caught too.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub head_hash: Option<String>,
}

/// Re-computes the whole chain; names the first bad event when one does not hold.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", params(VerifyQuery), responses((status = 200, body = Verification)))]
pub async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<Json<Verification>> {
    let kept = match (q.head_seq, q.head_hash) {
        (Some(seq), Some(hash)) => {
            let hex = hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if seq == 0 || i64::try_from(seq).is_err() || !hex {
                return Err(ApiError::bad_request(
                    "head_seq must be a sequence number from 1 and head_hash 64 lower-case hex digits, as `promptops audit head` prints them",
                ));
            }
            Some(AuditHead { seq, hash })
        }
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
pub async fn head<S: Store>(State(state): State<AppState<S>>) -> ApiResult<Json<AuditHead>> {
    state
        .store
        .audit_head()
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the audit log is empty"))
}
