//! What a page answers when something fails: an HTML page with the same status and
//! the same sentence the API would have answered.

use crate::problem::ApiError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use promptops_store::StoreError;

#[derive(Debug)]
pub enum UiError {
    /// What the API would have refused, and why.
    Api(ApiError),
    /// A template failed to render: a bug, reported as such.
    Template(minijinja::Error),
}

pub type UiResult<T = Response> = Result<T, UiError>;

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        UiError::Api(e.into())
    }
}

impl From<minijinja::Error> for UiError {
    fn from(e: minijinja::Error) -> Self {
        UiError::Template(e)
    }
}

impl UiError {
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::Api(e) => {
                StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            UiError::Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            UiError::Api(e) => e.0.detail.clone(),
            UiError::Template(e) => {
                tracing::error!(error = %e, "a page failed to render");
                "this page failed to render; the server log says why".into()
            }
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        error_page(status, &self.detail())
    }
}

/// A page saying `detail`, with `status`.
pub fn error_page(status: StatusCode, detail: &str) -> Response {
    let body = super::templates::render(
        "error.html",
        crate::ui::ctx! {
            status => status.as_u16(),
            title => status.canonical_reason().unwrap_or("Error"),
            detail => detail,
        },
    )
    .unwrap_or_else(|_| format!("{status}: {}", promptops_core::html::escape(detail)));
    (status, Html(body)).into_response()
}
