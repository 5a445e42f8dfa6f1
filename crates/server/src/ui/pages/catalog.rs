//! `/p/{project}`: the project's prompts by module, with search and filters (tag,
//! owner, environment, risk tier, changed recently).

use super::crumbs;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, Query, State};
use promptops_core::clock::{epoch_seconds, now_rfc3339};
use promptops_store::Store;
use promptops_store::browse::CatalogEntry;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// Rows per page: a thousand prompts stay quick to render and to read.
const PAGE: usize = 200;

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

fn text<'a>(content: Option<&'a Json>, path: &[&str]) -> Option<&'a str> {
    let mut v = content?;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
}

fn tags(content: Option<&Json>) -> Vec<&str> {
    content
        .and_then(|c| c.get("tags"))
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default()
}

fn within_seconds(within: &str) -> Option<i64> {
    let days: i64 = within.strip_suffix('d')?.parse().ok()?;
    Some(days * 86_400)
}

fn keep(entry: &CatalogEntry, f: &Filters, since: Option<&str>) -> bool {
    let c = entry.latest_content.as_ref();
    let q = f.q.trim().to_lowercase();
    (q.is_empty()
        || entry.id.to_lowercase().contains(&q)
        || text(c, &["description"]).is_some_and(|d| d.to_lowercase().contains(&q)))
        && (f.tag.is_empty() || tags(c).contains(&f.tag.as_str()))
        && (f.owner.is_empty() || text(c, &["owner"]) == Some(f.owner.as_str()))
        && (f.env.is_empty() || entry.labels.contains_key(&f.env))
        && (f.tier.is_empty() || text(c, &["compliance", "risk_tier"]) == Some(f.tier.as_str()))
        && since.is_none_or(|s| entry.changed_at.as_str() >= s)
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path(project): Path<String>,
    Query(filters): Query<Filters>,
) -> UiResult {
    let p = state.store.project(&project).await?;
    let catalog = state.store.catalog(&project).await?;
    let since = within_seconds(&filters.within).map(|secs| {
        let now = epoch_seconds(&now_rfc3339()).unwrap_or(0);
        promptops_core::clock::rfc3339_at(now - secs, 0)
    });
    let mut owners = BTreeSet::new();
    let mut all_tags = BTreeSet::new();
    let mut tiers = BTreeSet::new();
    for e in &catalog {
        let c = e.latest_content.as_ref();
        owners.extend(text(c, &["owner"]));
        all_tags.extend(tags(c));
        tiers.extend(text(c, &["compliance", "risk_tier"]));
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
        .map(|e| {
            let c = e.latest_content.as_ref();
            Row {
                id: &e.id,
                module: &e.module,
                description: text(c, &["description"]),
                owner: text(c, &["owner"]),
                tags: tags(c),
                tier: text(c, &["compliance", "risk_tier"]),
                latest: e.latest_version.as_deref(),
                versions: e.versions,
                changed_at: &e.changed_at,
                labels: p
                    .environments
                    .iter()
                    .filter_map(|env| e.labels.get(env).map(|v| (env.as_str(), v.as_str())))
                    .collect(),
            }
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
