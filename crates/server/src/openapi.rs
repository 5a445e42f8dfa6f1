//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::routes::*;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "promptops registry",
        description = "Versions, environment labels, promotion, rollback, eval runs and the audit log of prompts. Errors are application/problem+json. Writes name their actor in the X-Promptops-Actor header.",
    ),
    paths(
        health::healthz,
        projects::list, projects::create, projects::get, projects::set_environments, projects::prompts,
        prompts::publish, prompts::versions, prompts::version, prompts::diff,
        labels::labels, labels::history, labels::promote, labels::rollback, labels::resolve,
        evals::attach, evals::list, evals::report,
        audit::list, audit::verify, audit::head,
    ),
    components(schemas(crate::problem::Problem)),
    tags(
        (name = "prompts", description = "Immutable versions published from prompt files"),
        (name = "labels", description = "Environment labels: promotion, rollback, history"),
        (name = "delivery", description = "What an environment serves now"),
        (name = "evals", description = "Eval runs attached to the version they tested"),
        (name = "audit", description = "The hash-chained audit log"),
    )
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
