//! `/audit`: the audit log newest first, filtered by actor, action and target; the
//! chain's verification status; and the head to keep elsewhere (`/audit/head.json`).
//!
//! Re-computing 100,000 hashes on every visit would take longer than the page may, so
//! the status is kept: the whole chain is verified once (at start, or when asked), and
//! each visit verifies only the events since — and that the last verified event is
//! still the one verified, so a rewrite behind it still shows.

use super::crumbs;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use promptops_api::{AuditHead, Verification};
use promptops_core::clock::now_rfc3339;
use promptops_store::Store;
use promptops_store::browse::AuditQuery;
use std::sync::Mutex;

const PAGE: u64 = 100;

/// The last verification of the whole chain, carried forward visit by visit.
#[derive(Debug, Default)]
pub struct ChainStatus {
    last: Mutex<Option<Checked>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    pub ok: bool,
    /// Events verified in all.
    pub events: u64,
    pub head: Option<AuditHead>,
    pub first_bad: Option<promptops_api::BrokenLink>,
    /// When the whole chain was last re-computed from its first event.
    pub full_at: String,
}

impl ChainStatus {
    fn get(&self) -> Option<Checked> {
        self.last.lock().map(|g| g.clone()).unwrap_or(None)
    }

    fn set(&self, checked: Checked) {
        if let Ok(mut g) = self.last.lock() {
            *g = Some(checked);
        }
    }

    /// Verifies what is new since the last check (everything when `full` or never
    /// checked), keeps and returns the outcome.
    pub async fn check<S: Store>(&self, store: &S, full: bool) -> promptops_store::Result<Checked> {
        let last = if full {
            None
        } else {
            self.get().filter(|c| c.ok)
        };
        let start = last.as_ref().and_then(|c| c.head.clone());
        let v: Verification = store.audit_verify_after(start.as_ref(), None).await?;
        let checked = match last {
            Some(prev) if v.ok => Checked {
                ok: true,
                events: prev.events + v.events,
                head: v.head.or(prev.head),
                first_bad: None,
                full_at: prev.full_at,
            },
            Some(prev) => Checked {
                ok: false,
                events: prev.events + v.events,
                head: None,
                first_bad: v.first_bad,
                full_at: prev.full_at,
            },
            None => Checked {
                ok: v.ok,
                events: v.events,
                head: v.head,
                first_bad: v.first_bad,
                full_at: now_rfc3339(),
            },
        };
        self.set(checked.clone());
        Ok(checked)
    }
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    before: Option<u64>,
    #[serde(default)]
    verify: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Query(f): Query<Filters>,
) -> UiResult {
    let status = state
        .ui
        .chain
        .check(&*state.store, f.verify == "full")
        .await?;
    let events = state
        .store
        .audit_page(&AuditQuery {
            before: f.before,
            actor: some(&f.actor),
            action_prefix: some(&f.action),
            target_prefix: some(&f.target),
            targets: Vec::new(),
            limit: PAGE,
        })
        .await?;
    let older = (events.len() as u64 == PAGE)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let query = serde_urlencoded::to_string([
        ("actor", &f.actor),
        ("action", &f.action),
        ("target", &f.target),
    ])
    .unwrap_or_default();
    render(
        &session,
        "audit.html",
        crate::ui::ctx! {
            events => events,
            status => status,
            filters => &f,
            older => older,
            query => query,
            crumbs => crumbs(None, vec![("Audit log".into(), None)]),
        },
    )
}

/// The chain's head as JSON, to keep outside the database (`promptops audit verify
/// --head-seq/--head-hash` checks against it).
pub async fn head<S: Store>(State(state): State<AppState<S>>) -> UiResult {
    let axum::Json(head) = crate::routes::audit::head(State(state)).await?;
    let mut r = axum::Json(head).into_response();
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"promptops-audit-head.json\""),
    );
    Ok(r)
}
