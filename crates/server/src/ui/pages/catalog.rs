//! `/p/{project}`: the project's prompts by module, with search and filters (tag,
//! owner, environment, risk tier, changed recently).

use super::crumbs;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use promptops_core::clock::{epoch_seconds, now_rfc3339};
use promptops_core::prompt::id::comparable;
use promptops_store::browse::CatalogEntry;
use promptops_store::{ChangeKind, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Rows per page: a thousand prompts stay quick to render and to read.
const PAGE: usize = 200;

/// Projects whose catalogue is kept in memory at most.
const CACHED_PROJECTS: usize = 64;

/// Each project's catalogue as read at an audit head: every change that could alter it
/// (a version, a label move) appends an audit event, so while the head stands the
/// catalogue does — on any replica, since the head is read from the shared database.
#[derive(Debug, Default)]
pub struct CatalogCache {
    kept: Mutex<HashMap<String, Kept>>,
}

/// A project's catalogue and the audit head it was read at.
type Kept = (u64, Arc<Vec<CatalogEntry>>);

/// Changes past which a kept catalogue is read again whole rather than patched.
const PATCH_AT_MOST: u64 = 500;

impl CatalogCache {
    pub async fn get<S: Store>(
        &self,
        store: &S,
        project: &str,
    ) -> promptops_store::Result<Arc<Vec<CatalogEntry>>> {
        let head = store.audit_head().await?.map_or(0, |h| h.seq);
        let kept = self.kept.lock().ok().and_then(|k| k.get(project).cloned());
        let entries = match kept {
            Some((at, entries)) if at == head => return Ok(entries),
            Some((at, entries)) if at < head && head - at <= PATCH_AT_MOST => {
                match touched(store, project, at, head).await? {
                    Some(ids) if ids.is_empty() => entries,
                    Some(ids) => {
                        Arc::new(patched(&entries, store.catalog(project, Some(&ids)).await?))
                    }
                    None => Arc::new(store.catalog(project, None).await?),
                }
            }
            _ => Arc::new(store.catalog(project, None).await?),
        };
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= CACHED_PROJECTS && !kept.contains_key(project) {
                kept.clear();
            }
            kept.insert(project.to_owned(), (head, entries.clone()));
        }
        Ok(entries)
    }
}

/// The prompts of `project` the changes in `(after, head]` touched (`None`: something
/// changed that a patch cannot follow, such as the project's environments).
async fn touched<S: Store>(
    store: &S,
    project: &str,
    after: u64,
    head: u64,
) -> promptops_store::Result<Option<Vec<String>>> {
    let mut ids = BTreeSet::new();
    for change in store.changes_after(after, head - after).await? {
        match change.kind {
            ChangeKind::VersionPublished {
                project: p, prompt, ..
            }
            | ChangeKind::LabelMoved {
                project: p, prompt, ..
            } if p == project => {
                ids.insert(prompt);
            }
            ChangeKind::ProjectChanged { project: p } if p == project => return Ok(None),
            _ => {}
        }
    }
    Ok(Some(ids.into_iter().collect()))
}

/// `entries` with `fresh` in place of (or beside) the entries of the same prompts, in
/// prompt order.
fn patched(entries: &[CatalogEntry], fresh: Vec<CatalogEntry>) -> Vec<CatalogEntry> {
    let key = |e: &CatalogEntry| comparable(&e.id);
    let mut out: Vec<CatalogEntry> = entries
        .iter()
        .filter(|e| !fresh.iter().any(|f| key(f) == key(e)))
        .cloned()
        .collect();
    out.extend(fresh);
    out.sort_by_key(key);
    out
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct Filters {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    tier: String,
    /// `1d`, `7d`, `30d` or `90d`.
    #[serde(default)]
    within: String,
    #[serde(default)]
    page: usize,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    id: &'a str,
    module: &'a str,
    description: Option<&'a str>,
    owner: Option<&'a str>,
    tags: Vec<&'a str>,
    tier: Option<&'a str>,
    latest: Option<&'a str>,
    versions: u64,
    changed_at: &'a str,
    labels: Vec<(&'a str, &'a str)>,
}

fn within_seconds(within: &str) -> Option<i64> {
    let days: i64 = within.strip_suffix('d')?.parse().ok()?;
    Some(days * 86_400)
}

fn keep(entry: &CatalogEntry, f: &Filters, since: Option<&str>) -> bool {
    let q = f.q.trim().to_lowercase();
    (q.is_empty()
        || entry.id.to_lowercase().contains(&q)
        || entry
            .description
            .as_deref()
            .is_some_and(|d| d.to_lowercase().contains(&q)))
        && (f.tag.is_empty() || entry.tags.contains(&f.tag))
        && (f.owner.is_empty() || entry.owner.as_deref() == Some(f.owner.as_str()))
        && (f.env.is_empty() || entry.labels.contains_key(&f.env))
        && (f.tier.is_empty() || entry.risk_tier.as_deref() == Some(f.tier.as_str()))
        && since.is_none_or(|s| entry.changed_at.as_str() >= s)
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
    Query(filters): Query<Filters>,
) -> UiResult {
    let p = state.store.project(&project).await?;
    let catalog = state.ui.catalogs.get(&*state.store, &project).await?;
    let since = within_seconds(&filters.within).map(|secs| {
        let now = epoch_seconds(&now_rfc3339()).unwrap_or(0);
        promptops_core::clock::rfc3339_at(now - secs, 0)
    });
    let mut owners = BTreeSet::new();
    let mut all_tags = BTreeSet::new();
    let mut tiers = BTreeSet::new();
    for e in catalog.iter() {
        owners.extend(e.owner.as_deref());
        all_tags.extend(e.tags.iter().map(String::as_str));
        tiers.extend(e.risk_tier.as_deref());
    }
    let matching: Vec<&CatalogEntry> = catalog
        .iter()
        .filter(|e| keep(e, &filters, since.as_deref()))
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = filters.page.min(pages - 1);
    let rows: Vec<Row> = matching
        .iter()
        .skip(page * PAGE)
        .take(PAGE)
        .map(|e| Row {
            id: &e.id,
            module: &e.module,
            description: e.description.as_deref(),
            owner: e.owner.as_deref(),
            tags: e.tags.iter().map(String::as_str).collect(),
            tier: e.risk_tier.as_deref(),
            latest: e.latest_version.as_deref(),
            versions: e.versions,
            changed_at: &e.changed_at,
            labels: p
                .environments
                .iter()
                .filter_map(|env| e.labels.get(env).map(|v| (env.as_str(), v.as_str())))
                .collect(),
        })
        .collect();
    let query_without_page = serde_urlencoded::to_string([
        ("q", &filters.q),
        ("tag", &filters.tag),
        ("owner", &filters.owner),
        ("env", &filters.env),
        ("tier", &filters.tier),
        ("within", &filters.within),
    ])
    .unwrap_or_default();
    render(
        &session,
        "catalog.html",
        crate::ui::ctx! {
            project => &project,
            environments => &p.environments,
            rows => rows,
            total => total,
            all => catalog.len(),
            page => page,
            pages => pages,
            query => query_without_page,
            filters => &filters,
            owners => owners,
            tags => all_tags,
            tiers => tiers,
            crumbs => crumbs(Some(&project), vec![]),
            can_manage => session.principal.role_in(&project).is_some_and(|r| r >= promptops_core::role::Role::Admin),
        },
    )
}
