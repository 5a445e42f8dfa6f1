//! Rows as the API's types, and the column lists the mappers read: shared by the
//! writes that return what they wrote and the reads.

use crate::audit::StoredEvent;
use crate::engine::{from_json, get, parse_json, to_u64};
use crate::error::{Result, StoreError};
use promptops_api::*;
use sqlx::any::AnyRow;

pub(crate) const VERSION_COLUMNS: &str = "p.id, v.version, v.ordinal, v.content_hash, v.content, v.source, v.parent, v.author, v.changelog, v.created_at";

pub(crate) fn version_from_row(row: &AnyRow) -> Result<Version> {
    let changelog: Option<String> = get(row, "changelog")?;
    Ok(Version {
        id: get(row, "id")?,
        version: get(row, "version")?,
        revision: to_u64(get(row, "ordinal")?, "version ordinal")?,
        content_hash: get(row, "content_hash")?,
        content: parse_json(&get::<String>(row, "content")?, "version content")?,
        source: get(row, "source")?,
        parent: get(row, "parent")?,
        author: get(row, "author")?,
        changelog: changelog
            .map(|c| parse_json(&c, "version changelog"))
            .transpose()?,
        created_at: get(row, "created_at")?,
        overrides: Vec::new(),
    })
}

pub(crate) fn move_from_row(id: &str, row: &AnyRow) -> Result<LabelMove> {
    let kind: String = get(row, "kind")?;
    Ok(LabelMove {
        id: to_u64(get(row, "id")?, "label move id")?,
        prompt_id: id.to_owned(),
        environment: get(row, "environment")?,
        from_version: get(row, "from_version")?,
        to_version: get(row, "to_version")?,
        kind: MoveKind::parse(&kind)
            .ok_or_else(|| StoreError::corrupt(format!("unknown label move kind `{kind}`")))?,
        actor: get(row, "actor")?,
        reason: get(row, "reason")?,
        moved_at: get(row, "moved_at")?,
        override_reason: get(row, "override_reason")?,
        overridden_gates: get::<Option<String>>(row, "overridden_gates")?
            .map(|g| parse_json(&g, "overridden gates"))
            .transpose()?,
        request: get::<Option<i64>>(row, "request_id")?
            .map(|r| to_u64(r, "request id"))
            .transpose()?,
    })
}

pub(crate) fn eval_from_row(id: &str, row: &AnyRow) -> Result<EvalRun> {
    Ok(EvalRun {
        id: to_u64(get(row, "id")?, "eval run id")?,
        prompt_id: id.to_owned(),
        version: get(row, "version")?,
        passed: to_u64(get(row, "passed")?, "passed")?,
        failed: to_u64(get(row, "failed")?, "failed")?,
        errors: to_u64(get(row, "errors")?, "errors")?,
        summary: parse_json(&get::<String>(row, "summary")?, "eval summary")?,
        measured: get::<Option<String>>(row, "measured")?
            .map(|text| from_json(&text, "eval run figures"))
            .transpose()?,
        actor: get(row, "actor")?,
        via_key: get(row, "via_key")?,
        ci_key: get::<i64>(row, "ci_key")? != 0,
        created_at: get(row, "created_at")?,
    })
}

/// The columns [`eval_from_row`] reads.
pub(crate) const EVAL_COLUMNS: &str =
    "id, version, passed, failed, errors, summary, measured, actor, via_key, ci_key, created_at";

pub(crate) fn stored_event(row: &AnyRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq: get(row, "seq")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        details: get(row, "details")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}
