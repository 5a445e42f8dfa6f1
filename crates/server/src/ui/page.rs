//! A page for the signed-in visitor: the template's context gains `me` (their name,
//! roles and CSRF token) for the header and every form.

use super::error::UiResult;
use super::guard::UiSession;
use super::templates;
use axum::response::{Html, IntoResponse};
use minijinja::{Value, context};

pub fn render(session: &UiSession, template: &str, page: Value) -> UiResult {
    let p = &session.principal;
    let roles: Vec<String> = p
        .user
        .roles
        .iter()
        .map(|m| format!("{} in {}", m.role, m.project))
        .collect();
    let me = context! {
        name => &p.user.name,
        roles => roles,
        csrf => &session.csrf,
        audit => p.global_role().is_some(),
    };
    let body = templates::render(template, context! { me => me, ..page })?;
    Ok(Html(body).into_response())
}
