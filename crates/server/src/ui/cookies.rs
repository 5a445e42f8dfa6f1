//! The two cookies the UI sets, read from and written to headers by hand: one `Cookie`
//! header split and two fixed `Set-Cookie` shapes do not need a cookie crate (which
//! would bring a date library with it).

use axum::http::{HeaderMap, HeaderValue, header};

/// The signed-in session (a `browser` token: see [`crate::auth::token::TokenKind`]).
pub const SESSION: &str = "promptops_session";
/// The sign-in form's CSRF token, before there is a session to derive one from.
pub const SIGN_IN: &str = "promptops_sign_in";

/// The value of cookie `name` in the request, if sent.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Whether the browser reached us over TLS, as the proxy in front says (the server
/// itself speaks plain HTTP): then cookies are marked `Secure`.
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for `name=value`, `HttpOnly` and `SameSite=Strict` always, living
/// `max_age` seconds (0 deletes it). Values are tokens we made: no escaping needed.
pub fn set(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any `Cookie` header is read without panicking, and a session cookie among
        /// arbitrary others is found with its value intact.
        #[test]
        fn any_cookie_header_reads_and_finds_ours(
            junk in "[ -~]{0,200}",
            value in "[A-Za-z0-9_.-]{1,80}",
            before in prop::bool::ANY,
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&junk) {
                h.append(header::COOKIE, v);
                let _ = read(&h, SESSION);
            }
            let mut h = HeaderMap::new();
            let ours = format!("{SESSION}={value}");
            let clean: String = junk.chars().filter(|c| *c != ';' && *c != '=').collect();
            let text = if before { format!("{ours}; other={clean}") } else { format!("other={clean}; {ours}") };
            h.append(header::COOKIE, HeaderValue::from_str(&text).unwrap());
            prop_assert_eq!(read(&h, SESSION), Some(value.as_str()));
        }
    }

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; promptops_session=tok; b=2"),
        );
        assert_eq!(read(&h, SESSION), Some("tok"));
        assert_eq!(read(&h, "b"), Some("2"));
        assert_eq!(read(&h, "missing"), None);
        let v = set(SESSION, "x", "/", 60, true);
        assert_eq!(
            v.to_str().unwrap(),
            "promptops_session=x; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
