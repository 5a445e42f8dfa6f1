//! Signing in and out of the web UI. A password checked exactly as the API's login
//! checks it (the same limiter, the same answer for every failure) starts a session
//! in the same table: `promptops` "end all sessions" and disabling a user end UI
//! sessions too. The cookie holds a `browser` token good for one working day.

use super::cookies;
use super::csrf;
use super::error::{UiResult, error_page};
use super::forms::Form;
use super::guard::UiSession;
use super::templates;
use crate::auth::client::ClientAddress;
use crate::auth::secrets;
use crate::auth::token::{BROWSER_SECONDS, Grant, TokenKind, now_seconds};
use crate::problem::ApiError;
use crate::routes::session::{LoginRefusal, begin_session, check_password};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use promptops_store::Store;

#[derive(Debug, serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a path of this site only (never another origin).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

/// The sign-in form, with a fresh double-submit CSRF token.
pub async fn form(Query(q): Query<Next>, headers: HeaderMap) -> UiResult {
    sign_in_page(&headers, q.next.as_deref(), None, StatusCode::OK)
}

fn sign_in_page(
    headers: &HeaderMap,
    next: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> UiResult {
    let token = secrets::random_token(16)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let body = templates::render(
        "login.html",
        crate::ui::ctx! {
            csrf => &token,
            next => local_path(next),
            problem => problem,
        },
    )?;
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookies::set(
            cookies::SIGN_IN,
            &token,
            "/login",
            3600,
            cookies::over_tls(headers),
        ),
    );
    Ok(response)
}

/// Checks the password; on success sets the session cookie and goes where the visitor
/// was headed.
pub async fn sign_in<S: Store>(
    State(state): State<AppState<S>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> UiResult {
    let form = Form::parse(&body);
    let next = form.get("next").map(str::to_owned);
    if !csrf::matches(
        cookies::read(&headers, cookies::SIGN_IN).unwrap_or(""),
        form.get("csrf"),
    ) {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "the sign-in form is missing its CSRF token or it does not match; reload the sign-in page and try again",
        ));
    }
    let (Some(name), Some(password)) = (form.text("user"), form.get("password")) else {
        return sign_in_page(
            &headers,
            next.as_deref(),
            Some("enter your user name and password"),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let user = match check_password(&state, address, &name, password.to_owned()).await {
        Ok(user) => user,
        Err(LoginRefusal::Wrong(e)) => {
            return sign_in_page(
                &headers,
                next.as_deref(),
                Some(&e.0.detail),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(refusal @ LoginRefusal::Limited(_)) => {
            let response = refusal.into_response();
            let status = response.status();
            let wait = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("a few")
                .to_owned();
            let mut page = sign_in_page(
                &headers,
                next.as_deref(),
                Some(&format!("too many attempts; wait {wait} s and try again")),
                status,
            )?;
            if let Some(v) = response.headers().get(header::RETRY_AFTER) {
                page.headers_mut().insert(header::RETRY_AFTER, v.clone());
            }
            return Ok(page);
        }
    };
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    let sid = secrets::random_token(16).map_err(|e| internal(e.to_string()))?;
    // A browser session has no refresh token: this hash matches none ever issued.
    let unused =
        secrets::key_hash(&secrets::random_token(16).map_err(|e| internal(e.to_string()))?);
    begin_session(&state, &user.name, sid.clone(), unused).await?;
    let grant = Grant {
        user: &user.name,
        session: &sid,
        refresh_id: "",
    };
    let token = state
        .auth
        .signer
        .issue(&grant, TokenKind::Browser, now_seconds(), BROWSER_SECONDS)
        .map_err(|e| internal(e.to_string()))?;
    let secure = cookies::over_tls(&headers);
    let mut response = Redirect::to(&local_path(next.as_deref())).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookies::set(cookies::SESSION, &token, "/", BROWSER_SECONDS, secure),
    );
    h.append(
        header::SET_COOKIE,
        cookies::set(cookies::SIGN_IN, "", "/login", 0, secure),
    );
    Ok(response)
}

/// Ends this session (its cookie stops working everywhere at once) and clears it.
pub async fn sign_out<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    headers: HeaderMap,
) -> UiResult {
    let p = &session.principal;
    state
        .store
        .end_sessions(&p.user.name, p.session.as_deref(), "signed out", &p.actor())
        .await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookies::set(cookies::SESSION, "", "/", 0, cookies::over_tls(&headers)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/p/shop")), "/p/shop");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
