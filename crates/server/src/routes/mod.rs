//! The API, one module per resource, and the one table of its routes: each route's
//! permission and handler (its method, path and OpenAPI operation come from the
//! handler's `#[utoipa::path]`). The router, the permission checks and the OpenAPI
//! document are all built from [`declared`].

pub mod alerts;
pub mod assessments;
pub mod audit;
pub mod checkpoints;
pub mod delivery;
pub mod evals;
pub mod events;
pub mod evidence;
pub mod health;
pub mod keys;
pub mod labels;
pub mod langfuse;
pub mod policies;
pub mod projects;
pub mod prompts;
pub mod requests;
pub mod session;
pub mod users;
pub mod webhooks;

/// Path parameters shared by the prompt routes.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PromptPath {
    /// Project name.
    pub project: String,
    /// Prompt id (`module.name`).
    pub id: String,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    pub project: String,
    pub id: String,
    /// Semver version (`1.2.0`; a bare `2` means `2.0.0`).
    #[param(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub version: String,
}

use crate::auth::Permission;
use crate::route::{Route, declare_routes};
use axum::http::Method;
use promptops_store::Store;

declare_routes! {
    Public => health::healthz<S>,
    Public => health::metrics<S>,
    Public => session::login<S>,
    Public => session::refresh<S>,
    Authenticated => session::whoami,
    UserSession => session::logout<S>,
    ManageServer => users::list<S>,
    ManageServer => users::create<S>,
    ManageServer => users::get<S>,
    ManageServer => users::disable<S>,
    ManageServer => users::enable<S>,
    ManageServer => users::end_sessions<S>,
    UserSession => keys::list<S>,
    UserSession => keys::create<S>,
    Authenticated => keys::revoke<S>,
    Authenticated => projects::list<S>,
    ManageServer => projects::create<S>,
    Read => projects::get<S>,
    ManageProject => projects::set_environments<S>,
    Read => users::members<S>,
    ManageProject => users::set_role<S>,
    Read => projects::prompts<S>,
    Read => prompts::versions<S>,
    Publish => prompts::publish<S>,
    Read => prompts::version<S>,
    Read => prompts::diff<S>,
    Read => labels::labels<S>,
    Read => labels::history<S>,
    RequestPromotion => labels::promote<S>,
    Rollback => labels::rollback<S>,
    Read => evals::list<S>,
    Publish [large_body] => evals::attach<S>,
    Read => evals::report<S>,
    Read => assessments::list_redteam<S>,
    Publish [large_body] => assessments::attach_redteam<S>,
    Read => assessments::redteam_report<S>,
    Read => assessments::compatibility<S>,
    Publish => assessments::record_compatibility<S>,
    Read => delivery::resolve<S>,
    Read => delivery::served<S>,
    Read => delivery::watch<S>,
    Read => policies::list<S>,
    Read => policies::get<S>,
    ManageProject => policies::put<S>,
    Read => requests::list<S>,
    Read => requests::get<S>,
    Decide => requests::approve<S>,
    Decide => requests::reject<S>,
    RequestPromotion => requests::withdraw<S>,
    ManageProject => webhooks::list<S>,
    ManageProject => webhooks::create<S>,
    ManageProject => webhooks::remove<S>,
    ManageProject => webhooks::deliveries<S>,
    ManageProject => webhooks::test<S>,
    ReadAudit => audit::list<S>,
    ReadAudit => audit::verify<S>,
    ReadAudit => audit::head<S>,
    ReadAudit => checkpoints::list<S>,
    ManageServer => checkpoints::sign<S>,
    ReadAudit => checkpoints::key<S>,
    ReadAudit => checkpoints::inclusion<S>,
    ReadAudit => checkpoints::consistency<S>,
    ReadAudit => evidence::pack<S>,
    Ingest [large_body] => events::ingest<S>,
    Read => events::list<S>,
    Read => events::retention<S>,
    ManageProject => events::set_retention<S>,
    Read => events::metrics<S>,
    Read => alerts::list<S>,
    Read => alerts::settings<S>,
    ManageProject => alerts::set_settings<S>,
    EvaluateAlerts => alerts::evaluate<S>,
    Public => events::schema,
    Read [langfuse] => langfuse::list<S>,
    Publish [langfuse] => langfuse::create<S>,
    Read [langfuse] => langfuse::get<S>,
    RequestPromotion [langfuse] => langfuse::update_labels<S>,
    Read [langfuse] => langfuse::projects,
}

/// Every route: the documented ones, and the OpenAPI document itself.
pub fn declared<S: Store>() -> Vec<Route<S>> {
    let mut routes = documented::<S>();
    routes.insert(
        1,
        Route::undocumented(
            Permission::Public,
            Method::GET,
            "/openapi.json",
            axum::routing::get(crate::openapi::serve),
        ),
    );
    routes
}

/// Method, path and permission of every route: what the permission matrix is made of.
pub fn table() -> Vec<(Method, String, Permission)> {
    declared::<promptops_store::SqlStore>()
        .into_iter()
        .map(|r| (r.method, r.path, r.permission))
        .collect()
}
