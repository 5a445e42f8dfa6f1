//! Request extractors whose rejections are problem+json with a useful detail, instead
//! of axum's plain-text ones.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body. A string holding a NUL character (`\u0000`) is refused here, for
/// every route: PostgreSQL cannot store one, and no name or prompt needs one.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`; send `Content-Type: application/json`",
            ));
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(rejection) => {
                let status = rejection.status();
                let hint = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "; send a smaller body"
                } else {
                    ""
                };
                return Err(ApiError::new(
                    status,
                    format!("{}{hint}", rejection.body_text()),
                ));
            }
        };
        // serde would also read a struct from an array (`[null]`): every body here is
        // an object, and anything else is refused as the schema says.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(ApiError::unprocessable(
                "the body must be a JSON object; see /openapi.json for the request's shape",
            ));
        }
        if let Some(at) = escaped_nul(&bytes) {
            return Err(ApiError::bad_request(format!(
                "the body holds a NUL character (`\\u0000`) at byte {at}; no value may contain one"
            )));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// An optional JSON body: none when the request has no `Content-Type`.
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Where a JSON text escapes a NUL character (`\u0000`), if it does. In valid JSON a
/// backslash appears only inside strings and always escapes the next character, so
/// skipping each escaped character finds exactly the NULs a parser would produce.
pub fn escaped_nul(json: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return Some(i);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// Refuses a path or query that decodes to a NUL character.
fn nul_in_uri(text: &str, what: &str) -> Result<(), ApiError> {
    if text.contains("%00") {
        return Err(ApiError::bad_request(format!(
            "the {what} holds a NUL character (`%00`); no value may contain one"
        )));
    }
    Ok(())
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let hint = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "; send a smaller body",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "; send `Content-Type: application/json`",
        StatusCode::BAD_REQUEST => "; the body must be valid JSON",
        _ => "; see /openapi.json for the request's shape",
    };
    ApiError::new(status, format!("{}{hint}", rejection.body_text()))
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        nul_in_uri(parts.uri.path(), "path")?;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        nul_in_uri(parts.uri.query().unwrap_or(""), "query string")?;
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text())
}

/// A semver version from a path or body, or a 422 that says what is wrong with it.
pub fn parse_version(text: &str) -> Result<semver::Version, ApiError> {
    promptops_core::prompt::parse_version_text(text).map_err(|(message, hint)| {
        ApiError::unprocessable(format!("invalid version `{text}`: {message}; {hint}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_nuls_and_only_those() {
        assert_eq!(escaped_nul(br#"{"a":"x\u0000"}"#), Some(7));
        assert_eq!(
            escaped_nul(br#"{"a":"\\u0000"}"#),
            None,
            "an escaped backslash, then text"
        );
        assert_eq!(escaped_nul(br#"{"a":"\\\u0000"}"#), Some(8));
        assert_eq!(escaped_nul(br#"{"a":"\u00001"}"#), Some(6));
        assert_eq!(escaped_nul(br#"{"a":"\u0001"}"#), None);
        assert_eq!(escaped_nul(br#"{"\u0000":1}"#), Some(2), "keys too");
        assert_eq!(escaped_nul(b"\\"), None);
        assert_eq!(escaped_nul(b"\\u000"), None);
    }
}
