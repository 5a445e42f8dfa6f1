//! `/p/{project}/prompts/{id}/diff?from=&to=`: two versions side by side — the prompt
//! text, the metadata changes with their semver impact, the eval delta, and the files
//! as pushed.

use super::{crumbs, prompt_href};
use crate::routes::prompts::stored_prompt;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use promptops_api::EvalRun;
use promptops_core::diff::body_text;
use promptops_store::Store;
use similar::{DiffOp, TextDiff};

#[derive(Debug, serde::Deserialize)]
pub struct Pair {
    from: String,
    to: String,
}

/// One row of a side-by-side diff: a line on either side (or both), and how it changed.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Row {
    pub old_no: Option<usize>,
    pub old: Option<String>,
    pub new_no: Option<usize>,
    pub new: Option<String>,
    /// `same`, `changed`, `removed` or `added`.
    pub kind: &'static str,
}

/// `old` and `new` line by line, changed lines facing each other.
pub fn side_by_side(old: &str, new: &str) -> Vec<Row> {
    let diff = TextDiff::from_lines(old, new);
    let (a, b) = (diff.old_slices(), diff.new_slices());
    let line = |s: &str| s.trim_end_matches(['\n', '\r']).to_owned();
    let mut rows = Vec::new();
    for op in diff.ops() {
        let (oi, ol, ni, nl) = match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => (old_index, len, new_index, len),
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        let equal = matches!(op, DiffOp::Equal { .. });
        for k in 0..ol.max(nl) {
            let left = (k < ol).then(|| line(a[oi + k]));
            let right = (k < nl).then(|| line(b[ni + k]));
            let kind = match (equal, &left, &right) {
                (true, _, _) => "same",
                (false, Some(_), Some(_)) => "changed",
                (false, Some(_), None) => "removed",
                _ => "added",
            };
            rows.push(Row {
                old_no: left.as_ref().map(|_| oi + k + 1),
                new_no: right.as_ref().map(|_| ni + k + 1),
                old: left,
                new: right,
                kind,
            });
        }
    }
    rows
}

fn pass_rate(run: Option<&EvalRun>) -> Option<f64> {
    let r = run?;
    let total = r.passed + r.failed + r.errors;
    (total > 0).then(|| r.passed as f64 / total as f64)
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
    Query(pair): Query<Pair>,
) -> UiResult {
    let from = crate::extract::parse_version(&pair.from)?.to_string();
    let to = crate::extract::parse_version(&pair.to)?.to_string();
    let old = state.store.version(&project, &id, &from).await?;
    let new = state.store.version(&project, &id, &to).await?;
    let id = new.id.clone();
    let (old_p, new_p) = (stored_prompt(&old)?, stored_prompt(&new)?);
    let changes = promptops_core::diff::diff(
        &old_p,
        &new_p,
        &format!("{id}@{from}"),
        &format!("{id}@{to}"),
    );
    let old_run = state.store.eval_runs(&project, &id, &from).await?.pop();
    let new_run = state.store.eval_runs(&project, &id, &to).await?.pop();
    let (old_rate, new_rate) = (pass_rate(old_run.as_ref()), pass_rate(new_run.as_ref()));
    render(
        &session,
        "diff.html",
        crate::ui::ctx! {
            project => &project,
            id => &id,
            from => &from,
            to => &to,
            text => side_by_side(&body_text(&old_p.body), &body_text(&new_p.body)),
            source => side_by_side(&old.source, &new.source),
            changes => &changes.changes,
            verdict => &changes.verdict,
            old_run => old_run,
            new_run => new_run,
            old_rate => old_rate,
            new_rate => new_rate,
            delta => old_rate.zip(new_rate).map(|(a, b)| b - a),
            crumbs => crumbs(Some(&project), vec![(id.clone(), Some(prompt_href(&project, &id))), (format!("{from} → {to}"), None)]),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_face_each_other() {
        let rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n");
        let kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["same", "changed", "same", "added"]);
        assert_eq!(rows[1].old.as_deref(), Some("b"));
        assert_eq!(rows[1].new.as_deref(), Some("B"));
        assert_eq!(rows[3].old_no, None);
        assert_eq!(rows[3].new_no, Some(4));
    }
}
