//! Promotion requests as stored: reading them with their decisions, and closing them.

use crate::engine::{IdTable, SqlStore, WriteTx, append_audit, from_json, get, next_id, to_u64};
use crate::error::{Result, StoreError};
use crate::labels::PlannedMove;
use crate::model::*;
use promptops_api::*;
use promptops_core::clock::now_rfc3339;
use promptops_core::role::Role;
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

pub(crate) const REQUEST_COLUMNS: &str = "r.id, p.id AS prompt_id, r.project, r.environment, r.version, r.requested_by, r.requested_at, r.reason, r.status, r.closed_by, r.closed_at, r.closing_comment, r.move_id";

impl SqlStore {
    pub(crate) async fn decisions_in(
        conn: &mut AnyConnection,
        request: i64,
    ) -> Result<Vec<Decision>> {
        sqlx::query(
            "SELECT actor, role, teams, decision, comment, checklist, at FROM approvals WHERE request_id = $1 ORDER BY id",
        )
        .bind(request)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let role: String = get(r, "role")?;
            let verdict: String = get(r, "decision")?;
            Ok(Decision {
                actor: get(r, "actor")?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::corrupt(format!("unknown role `{role}`")))?,
                teams: from_json(&get::<String>(r, "teams")?, "approval teams")?,
                verdict: match verdict.as_str() {
                    "approve" => Verdict::Approve,
                    "reject" => Verdict::Reject,
                    other => {
                        return Err(StoreError::corrupt(format!("unknown decision `{other}`")));
                    }
                },
                comment: get(r, "comment")?,
                checklist: from_json(&get::<String>(r, "checklist")?, "approval checklist")?,
                at: get(r, "at")?,
            })
        })
        .collect()
    }

    pub(crate) async fn request_from_row(
        conn: &mut AnyConnection,
        row: &AnyRow,
    ) -> Result<PromotionRequest> {
        let id: i64 = get(row, "id")?;
        let status: String = get(row, "status")?;
        Ok(PromotionRequest {
            id: to_u64(id, "request id")?,
            project: get(row, "project")?,
            prompt_id: get(row, "prompt_id")?,
            environment: get(row, "environment")?,
            version: get(row, "version")?,
            requested_by: get(row, "requested_by")?,
            requested_at: get(row, "requested_at")?,
            reason: get(row, "reason")?,
            status: RequestStatus::parse(&status)
                .ok_or_else(|| StoreError::corrupt(format!("unknown request status `{status}`")))?,
            closed_by: get(row, "closed_by")?,
            closed_at: get(row, "closed_at")?,
            closing_comment: get(row, "closing_comment")?,
            move_id: get::<Option<i64>>(row, "move_id")?
                .map(|m| to_u64(m, "move id"))
                .transpose()?,
            decisions: Self::decisions_in(conn, id).await?,
        })
    }

    pub(crate) async fn request_in(
        conn: &mut AnyConnection,
        project: &str,
        id: u64,
    ) -> Result<PromotionRequest> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM promotion_requests r JOIN prompts p ON p.project = r.project AND p.prompt_key = r.prompt_key \
             WHERE r.project = $1 AND r.id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(i64::try_from(id).unwrap_or(i64::MAX))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found("promotion request", id.to_string()))?;
        Self::request_from_row(conn, &row).await
    }

    /// The request, which must still be open (409 with its state otherwise).
    pub(crate) async fn open_request_by_id(
        conn: &mut AnyConnection,
        project: &str,
        id: u64,
    ) -> Result<PromotionRequest> {
        let request = Self::request_in(conn, project, id).await?;
        if request.status != RequestStatus::Open {
            return Err(StoreError::conflict(
                format!(
                    "request {id} is {} already; nothing more can be done with it",
                    request.status.as_str()
                ),
                serde_json::to_value(&request).ok(),
            ));
        }
        Ok(request)
    }

    pub(crate) async fn open_request_in(
        conn: &mut AnyConnection,
        project: &str,
        key: &str,
        env: &str,
        version: &str,
    ) -> Result<Option<PromotionRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM promotion_requests r JOIN prompts p ON p.project = r.project AND p.prompt_key = r.prompt_key \
             WHERE r.project = $1 AND r.prompt_key = $2 AND r.environment = $3 AND r.version = $4 AND r.status = 'open'"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(key)
            .bind(env)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => Ok(Some(Self::request_from_row(conn, &row).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn close_request(
        tx: &mut WriteTx,
        request: &PromotionRequest,
        status: RequestStatus,
        actor: &Actor,
        comment: Option<&str>,
        move_id: Option<u64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE promotion_requests SET status = $1, closed_by = $2, closed_at = $3, closing_comment = $4, move_id = $5 WHERE id = $6 AND status = 'open'",
        )
        .bind(status.as_str())
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .bind(comment)
        .bind(move_id.map(|m| m as i64))
        .bind(request.id as i64)
        .execute(&mut **tx)
        .await?;
        append_audit(
            tx,
            actor,
            &format!("promotion.{}", status.as_str()),
            &format!(
                "request:{}/{}",
                request.project, request.id
            ),
            json!({"request": request.id, "id": request.prompt_id, "environment": request.environment, "version": request.version, "comment": comment, "move": move_id}),
        )
        .await
    }

    pub(crate) async fn open_request(
        tx: &mut WriteTx,
        project: &str,
        planned: &PlannedMove,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<u64> {
        let id: i64 = next_id(tx, IdTable::PromotionRequests).await?;
        sqlx::query(
            "INSERT INTO promotion_requests (id, project, prompt_key, environment, version, requested_by, requested_at, reason, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')",
        )
        .bind(id)
        .bind(project)
        .bind(&planned.key)
        .bind(&planned.environment)
        .bind(&planned.target)
        .bind(actor.as_str())
        .bind(now_rfc3339())
        .bind(reason)
        .execute(&mut **tx)
        .await?;
        append_audit(
            tx,
            actor,
            "promotion.requested",
            &format!("request:{project}/{id}"),
            json!({"request": id, "id": planned.id, "environment": planned.environment, "version": planned.target, "from": planned.current, "reason": reason}),
        )
        .await?;
        to_u64(id, "request id")
    }
}
