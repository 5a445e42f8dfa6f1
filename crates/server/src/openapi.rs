//! The OpenAPI 3.1 document: the title, tags and shared parts here, and each route's
//! operation from its handler's annotation, gathered from the route table.
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "promptops registry",
        description = "Versions, environment labels, gated promotion with approvals, rollback, eval runs, red-team reports, compatibility results, policies, users, API keys and the audit log of prompts. Every route but /healthz, /openapi.json and /v1/auth/login|refresh needs `Authorization: Bearer <session token or API key>`. Errors are application/problem+json. The Langfuse-compatible prompt API under /api/public takes Basic credentials (public key = an API key's prefix, secret key = the whole key), acts in the key's project and answers errors as Langfuse does ({message, error}).",
    ),
    components(schemas(promptops_api::Problem, promptops_api::langfuse::LangfuseError)),
    tags(
        (name = "prompts", description = "Immutable versions published from prompt files"),
        (name = "labels", description = "Environment labels: promotion, rollback, history"),
        (name = "delivery", description = "What an environment serves now"),
        (name = "evals", description = "Eval runs attached to the version they tested"),
        (name = "assessments", description = "Red-team reports and compatibility results per model, recorded with the version they assessed"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "auth", description = "Log in, refresh a session, who am I"),
        (name = "users", description = "Users and their roles in projects"),
        (name = "keys", description = "API keys for CI and running apps"),
        (name = "policies", description = "Each environment's gate policy"),
        (name = "requests", description = "Promotion requests, approvals and rejections"),
        (name = "alerts", description = "Cost budgets, regressions of newly promoted versions and output drift, from reported executions"),
        (name = "langfuse", description = "The Langfuse-compatible prompt API: apps on the Langfuse SDKs fetch governed prompts by changing their base URL and keys (docs/langfuse.md)"),
    )
)]
pub struct ApiDoc;

/// Every operation needs a bearer credential unless it says `security(())`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from /v1/auth/login or an API key (`po_…`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The Langfuse-compatible API: the public key is an API key's prefix (`po_…`), the secret key the whole key",
                    ))
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// Documents the refusals every operation can give, as problem+json, without repeating
/// them on each handler: 400 (unreadable query or path), 404, 422 (a value the API does
/// not accept), 503 (database unreachable); and on operations with a body, 400 (not
/// JSON), 413 (too large) and 415 (not `application/json`).
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            // The Langfuse-compatible routes answer errors in Langfuse's shape.
            let (content_type, schema) = if path.starts_with("/api/public/") {
                ("application/json", "LangfuseError")
            } else {
                ("application/problem+json", "Problem")
            };
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                add_problems(op, content_type, schema);
            }
        }
    }
}

fn add_problems(op: &mut Operation, content_type: &str, schema: &str) {
    let mut statuses = vec![
        ("400", "The query string or path is not readable"),
        ("404", "Not found"),
        ("422", "A value the API does not accept"),
        ("503", "The database does not answer; nothing was changed"),
    ];
    // `security(())` marks the public operations; every other needs credentials (the
    // bearer scheme, or the one it names).
    let public = op.security.as_ref().is_some_and(|reqs| {
        reqs.iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    });
    if !public {
        statuses.push((
            "401",
            "No credentials, or an expired, forged or revoked token or key",
        ));
        statuses.push((
            "403",
            "The caller's role in the project does not allow this",
        ));
    }
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
                            content_type,
                            Content::new(Some(Ref::from_schema_name(schema))),
                        )
                        .build(),
                )
            });
    }
}

/// The whole document: every declared route's operation, with the refusals every
/// operation can give and the bearer scheme added.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for route in crate::routes::declared::<promptops_store::SqlStore>() {
        if let Some(part) = route.doc {
            doc.merge(part);
        }
    }
    ProblemResponses.modify(&mut doc);
    BearerAuth.modify(&mut doc);
    doc
}

/// The document as JSON text (made once).
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        document()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json(),
    )
}
