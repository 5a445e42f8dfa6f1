//! What runs before every UI handler: who the visitor is (the session cookie), whether
//! a POST carries the session's CSRF token, and whether they hold the route's
//! permission in the path's project — the same check the API makes. It also stamps
//! every answer with the UI's security headers and its server time.

use super::cookies;
use super::csrf;
use super::error::error_page;
use super::forms::Form;
use crate::auth::token::TokenKind;
use crate::auth::{Need, Permission, Principal, active_user, authorize, live_session};
use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use promptops_store::Store;
use std::sync::Arc;
use std::time::Instant;

/// The largest form the UI accepts (a prompt file and its sample variables).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// Scripts and styles only from this origin (no inline script, no inline style), no
/// framing, forms only to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct UiGuard<S> {
    pub state: AppState<S>,
    pub permission: Permission,
}

// Not derived: a derive would demand `S: Clone`.
impl<S> Clone for UiGuard<S> {
    fn clone(&self) -> Self {
        UiGuard {
            state: self.state.clone(),
            permission: self.permission,
        }
    }
}

/// The signed-in visitor, as handlers and templates see them.
#[derive(Clone)]
pub struct UiSession {
    pub principal: Arc<Principal>,
    /// The CSRF token every form of theirs carries.
    pub csrf: String,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<UiSession>()
            .cloned()
            .ok_or_else(|| error_page(StatusCode::UNAUTHORIZED, "sign in first"))
    }
}

pub async fn guard<S: Store>(
    State(guard): State<UiGuard<S>>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let mut response = guarded(guard, params, request, next).await;
    let headers = response.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(headers, "content-security-policy", CSP);
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, "cache-control", "no-store");
    }
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={took:.2}")) {
        headers.insert("server-timing", v);
    }
    response
}

async fn guarded<S: Store>(
    UiGuard { state, permission }: UiGuard<S>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    request: Request,
    next: Next,
) -> Response {
    let need = permission.need();
    if need == Need::Nothing {
        return next.run(request).await;
    }
    let Ok(params) = params else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "path segments must be percent-encoded UTF-8",
        );
    };
    let session = match signed_in(&state, request.headers()).await {
        Ok(s) => s,
        Err(why) if request.method() == Method::GET => {
            tracing::debug!("to sign-in: {}", why.0.detail);
            return to_sign_in(request.uri());
        }
        Err(why) => {
            return error_page(
                StatusCode::FORBIDDEN,
                &format!("{}; sign in again and resend the form", why.0.detail),
            );
        }
    };
    let request = match with_form(request, &session.csrf).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let project = params
        .iter()
        .find(|(name, _)| *name == "project")
        .map(|(_, value)| value.to_owned());
    if let Err(e) = authorize(&session.principal, need, project.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, &e.0.detail);
    }
    let mut request = request;
    request.extensions_mut().insert(session.principal.clone());
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// `/login?next=…`: back here after signing in.
fn to_sign_in(uri: &axum::http::Uri) -> Response {
    let here = uri.path_and_query().map_or("/", |p| p.as_str());
    let next = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
    Redirect::to(&format!("/login?{next}")).into_response()
}

/// The visitor of the session cookie, if it holds a live session of an active user.
pub async fn signed_in<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<UiSession, ApiError> {
    let token = cookies::read(headers, cookies::SESSION)
        .ok_or_else(|| crate::auth::unauthorized("not signed in"))?;
    let claims = state
        .auth
        .signer
        .verify(token, TokenKind::Browser)
        .map_err(|e| crate::auth::unauthorized(e.to_string()))?;
    live_session(state, &claims.sid, &claims.sub).await?;
    let user = active_user(state, &claims.sub).await?;
    let csrf = csrf::token(&state.auth.csrf_secret.0, &claims.sid);
    Ok(UiSession {
        principal: Arc::new(Principal {
            user,
            key: None,
            session: Some(claims.sid),
        }),
        csrf,
    })
}

/// A POST's form, read here once: refused (403) without the session's CSRF token
/// (the `csrf` field, or an `X-CSRF-Token` header), else handed on as a [`Form`].
async fn with_form(request: Request, expected: &str) -> Result<Request, Response> {
    if request.method() != Method::POST {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the form is over {} MiB", FORM_LIMIT / (1024 * 1024)),
        )
    })?;
    let form = Form::parse(&bytes);
    let header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok());
    if !csrf::matches(expected, form.get("csrf").or(header)) {
        tracing::info!("a form without its CSRF token was refused");
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "this form is missing its CSRF token or it does not match your session; reload the page and send it again",
        ));
    }
    parts.extensions.insert(form);
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
