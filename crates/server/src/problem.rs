//! Errors as `application/problem+json` (RFC 9457): [`ApiError`] carries the API's
//! [`Problem`] and answers it with its status; typed store errors map to statuses here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_core::diagnostic::Diagnostic;
use promptops_store::StoreError;

pub use promptops_api::Problem;

#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError(Box::new(Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            current: None,
            errors: Vec::new(),
            gates: None,
            request: None,
        }))
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    /// A prompt file the validator rejects.
    pub fn invalid_prompt(diagnostics: Vec<Diagnostic>) -> ApiError {
        ApiError::invalid_file(
            "prompt file",
            "https://promptops.dev/problems/invalid-prompt",
            "promptops validate",
            diagnostics,
        )
    }

    /// A policy file that does not parse.
    pub fn invalid_policy(diagnostics: Vec<Diagnostic>) -> ApiError {
        ApiError::invalid_file(
            "policy",
            "https://promptops.dev/problems/invalid-policy",
            "promptops policy check",
            diagnostics,
        )
    }

    /// A file refused with its findings: 422 naming the first, with every error in `errors`.
    fn invalid_file(
        what: &str,
        kind: &str,
        command: &str,
        diagnostics: Vec<Diagnostic>,
    ) -> ApiError {
        let errors: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        let first = errors
            .first()
            .map(|d| format!("{}:{}:{}: {}", d.path, d.line, d.column, d.message))
            .unwrap_or_default();
        let mut e = ApiError::unprocessable(format!(
            "the {what} does not validate ({} error{}; first: {first}); run `{command}` and fix them",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ));
        e.0.kind = kind.into();
        e.0.errors = errors
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .collect();
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::Invalid { detail } => ApiError::unprocessable(detail),
            StoreError::Forbidden { detail } => ApiError::new(StatusCode::FORBIDDEN, detail),
            StoreError::Conflict { detail, current } => {
                let mut e = ApiError::new(StatusCode::CONFLICT, detail);
                e.0.current = current;
                e
            }
            // The database's own words name tables, databases and hosts: they go to the
            // server's log, never to the client.
            StoreError::Database(_) => {
                tracing::error!("database error: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable or refused the request; nothing was changed; retry later (the server's log has the details)",
                )
            }
            // Our own words about our own rows: safe to show, and what an admin needs.
            StoreError::Corrupt { .. } | StoreError::Migration { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A client-supplied value as quoted back in an error (core's, for every layer).
pub use promptops_core::diagnostic::shown;
