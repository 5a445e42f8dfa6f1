//! CSRF tokens. A signed-in form carries HMAC-SHA256(server secret, session id): only a
//! page of this site, rendered for this session, can know it. The sign-in form, before
//! any session, carries a random value also set as a `SameSite=Strict` cookie (a double
//! submit). A POST without the right token is refused with 403.

use aws_lc_rs::{constant_time, hmac};

/// The token of session `sid`.
pub fn token(secret: &[u8], sid: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, format!("promptops csrf\n{sid}").as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `presented` is the expected token (in constant time).
pub fn matches(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| {
        !expected.is_empty()
            && constant_time::verify_slices_are_equal(expected.as_bytes(), p.as_bytes()).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_its_session_and_secret() {
        let t = token(b"secret", "s1");
        assert!(matches(&t, Some(&t)));
        assert!(!matches(&t, Some(&token(b"secret", "s2"))));
        assert!(!matches(&t, Some(&token(b"other", "s1"))));
        assert!(!matches(&t, None));
        assert!(!matches("", Some("")));
    }
}
