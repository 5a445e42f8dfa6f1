//! The web UI at `/`: server-rendered pages for the people who review, approve, audit
//! and watch costs. Every page is declared once in [`declared`] with the same
//! [`Permission`] its API counterpart needs; [`guard::guard`] signs the visitor in from
//! the session cookie, checks the CSRF token of every POST and the permission in the
//! path's project before the handler runs. Actions call the API's own handlers, so the
//! UI never shows or does more than the API would for the same user, and everything it
//! does lands in the same audit log. Templates and assets are compiled into the binary.

/// A template context: each value serialized as it is (`ctx! { name => value, … }`).
macro_rules! ctx {
    ($($key:ident => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = std::collections::BTreeMap::<&'static str, minijinja::Value>::new();
        $( map.insert(stringify!($key), minijinja::Value::from(minijinja::value::Serde(&$value))); )*
        minijinja::Value::from(map)
    }};
}
pub(crate) use ctx;

mod assets;
mod cookies;
mod csrf;
mod error;
mod forms;
mod guard;
mod page;
pub mod pages;
mod playground;
mod session;
mod templates;

pub use guard::UiSession;

/// What the UI keeps between visits.
#[derive(Debug, Default)]
pub struct UiState {
    /// The audit chain's verification, carried forward (see [`pages::audit`]).
    pub chain: pages::audit::ChainStatus,
    /// Each project's catalogue, while the audit head stands.
    pub catalogs: pages::catalog::CatalogCache,
}

/// Verifies the whole audit chain once in the background, so the first visit to the
/// audit log only checks what came after.
pub fn start<S: Store>(state: &AppState<S>) {
    let (store, ui) = (state.store.clone(), state.ui.clone());
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(e) = ui.chain.check(&*store, true).await {
                tracing::warn!(error = %e, "the audit chain could not be verified at start");
            }
        });
    }
}

use crate::auth::Permission;
use crate::state::AppState;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};
use promptops_store::Store;

/// One page or form action of the UI.
pub struct UiRoute<S> {
    pub permission: Permission,
    pub method: Method,
    pub path: &'static str,
    pub handler: MethodRouter<AppState<S>>,
}

fn page<S>(permission: Permission, path: &'static str, h: MethodRouter<AppState<S>>) -> UiRoute<S> {
    UiRoute {
        permission,
        method: Method::GET,
        path,
        handler: h,
    }
}

fn action<S>(
    permission: Permission,
    path: &'static str,
    h: MethodRouter<AppState<S>>,
) -> UiRoute<S> {
    UiRoute {
        permission,
        method: Method::POST,
        path,
        handler: h,
    }
}

/// Every route of the UI with the permission it needs (the API route it mirrors needs
/// the same one).
pub fn declared<S: Store>() -> Vec<UiRoute<S>> {
    use Permission::*;
    use pages::*;
    vec![
        page(Public, "/login", get(session::form)),
        action(Public, "/login", post(session::sign_in::<S>)),
        action(UserSession, "/logout", post(session::sign_out::<S>)),
        page(Public, "/assets/{name}", get(assets::serve)),
        page(Authenticated, "/", get(projects::page::<S>)),
        page(Read, "/p/{project}", get(catalog::page::<S>)),
        page(Read, "/p/{project}/prompts/{id}", get(prompt::page::<S>)),
        action(
            RequestPromotion,
            "/p/{project}/prompts/{id}/promote",
            post(prompt::promote::<S>),
        ),
        page(
            Read,
            "/p/{project}/prompts/{id}/v/{version}",
            get(version::page::<S>),
        ),
        page(Read, "/p/{project}/prompts/{id}/diff", get(diff::page::<S>)),
        page(
            ReadAudit,
            "/p/{project}/prompts/{id}/v/{version}/evidence.json",
            get(version::evidence::<S>),
        ),
        page(
            Read,
            "/p/{project}/redteam/{run}/report.json",
            get(version::redteam_report::<S>),
        ),
        page(
            Publish,
            "/p/{project}/prompts/{id}/edit",
            get(editor::page::<S>),
        ),
        action(
            Publish,
            "/p/{project}/prompts/{id}/edit",
            post(editor::submit::<S>),
        ),
        action(
            Publish,
            "/p/{project}/prompts/{id}/check",
            post(editor::live_check::<S>),
        ),
        action(
            Publish,
            "/p/{project}/prompts/{id}/playground",
            post(editor::playground::<S>),
        ),
        page(Read, "/p/{project}/requests", get(requests::queue::<S>)),
        page(
            Read,
            "/p/{project}/requests/{request}",
            get(requests::page::<S>),
        ),
        action(
            Decide,
            "/p/{project}/requests/{request}/approve",
            post(requests::approve::<S>),
        ),
        action(
            Decide,
            "/p/{project}/requests/{request}/reject",
            post(requests::reject::<S>),
        ),
        action(
            RequestPromotion,
            "/p/{project}/requests/{request}/withdraw",
            post(requests::withdraw::<S>),
        ),
        page(Read, "/p/{project}/dashboard", get(dashboard::page::<S>)),
        page(ReadAudit, "/audit", get(audit::page::<S>)),
        page(ReadAudit, "/audit/head.json", get(audit::head::<S>)),
        page(UserSession, "/keys", get(keys::page::<S>)),
        action(UserSession, "/keys", post(keys::create::<S>)),
        action(
            Authenticated,
            "/keys/{prefix}/revoke",
            post(keys::revoke::<S>),
        ),
        page(
            ManageProject,
            "/p/{project}/webhooks",
            get(webhooks::page::<S>),
        ),
        action(
            ManageProject,
            "/p/{project}/webhooks",
            post(webhooks::create::<S>),
        ),
        action(
            ManageProject,
            "/p/{project}/webhooks/{webhook}/delete",
            post(webhooks::remove::<S>),
        ),
    ]
}

/// Method, path and permission of every UI route.
pub fn table() -> Vec<(Method, String, Permission)> {
    declared::<promptops_store::SqlStore>()
        .into_iter()
        .map(|r| (r.method, r.path.to_owned(), r.permission))
        .collect()
}

/// The UI's routes, each behind [`guard::guard`] with its permission.
pub fn routes<S: Store>(state: &AppState<S>) -> Vec<(&'static str, MethodRouter<AppState<S>>)> {
    declared::<S>()
        .into_iter()
        .map(|r| {
            let guard = guard::UiGuard {
                state: state.clone(),
                permission: r.permission,
            };
            let handler = r.handler.route_layer(axum::middleware::from_fn_with_state(
                guard,
                guard::guard::<S>,
            ));
            (r.path, handler)
        })
        .collect()
}
