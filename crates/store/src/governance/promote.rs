//! Carrying out a promotion whose gates hold (with its request closed).

use crate::engine::{SqlStore, WriteTx};
use crate::error::Result;
use crate::labels::{GovernedMove, PlannedMove};
use crate::model::*;
use promptops_api::*;

impl SqlStore {
    pub(crate) async fn complete(
        tx: &mut WriteTx,
        project: &str,
        planned: &PlannedMove,
        actor: &Actor,
        request: Option<&PromotionRequest>,
        reason: Option<&str>,
    ) -> Result<LabelMove> {
        let moved = Self::insert_move(
            tx,
            project,
            planned,
            actor,
            reason,
            Some(&GovernedMove {
                override_reason: None,
                overridden_gates: None,
                request: request.map(|r| r.id),
            }),
        )
        .await?;
        if let Some(r) = request {
            Self::close_request(tx, r, RequestStatus::Completed, actor, None, Some(moved.id))
                .await?;
        }
        Ok(moved)
    }
}
