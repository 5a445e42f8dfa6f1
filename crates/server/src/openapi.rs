//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::routes::*;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

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
    modifiers(&ProblemResponses),
    tags(
        (name = "prompts", description = "Immutable versions published from prompt files"),
        (name = "labels", description = "Environment labels: promotion, rollback, history"),
        (name = "delivery", description = "What an environment serves now"),
        (name = "evals", description = "Eval runs attached to the version they tested"),
        (name = "audit", description = "The hash-chained audit log"),
    )
)]
pub struct ApiDoc;

/// Documents the refusals every operation can give, as problem+json, without repeating
/// them on each handler: 400 (unreadable query or path), 404, 422 (a value the API does
/// not accept), 503 (database unreachable); and on operations with a body, 400 (not
/// JSON), 413 (too large) and 415 (not `application/json`).
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                add_problems(op);
            }
        }
    }
}

fn add_problems(op: &mut Operation) {
    let mut statuses = vec![
        ("400", "The query string or path is not readable"),
        ("404", "Not found"),
        ("422", "A value the API does not accept"),
        ("503", "The database does not answer; nothing was changed"),
    ];
    if op.request_body.is_some() {
        statuses.push(("413", "The body is too large"));
        statuses.push(("415", "The body is not application/json"));
    }
    for (status, description) in statuses {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/problem+json",
                            Content::new(Some(Ref::from_schema_name("Problem"))),
                        )
                        .build(),
                )
            });
    }
}

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
