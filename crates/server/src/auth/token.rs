//! Signed session tokens (JWT, HS256): a short-lived access token for requests and a
//! longer-lived refresh token that only buys new access tokens.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

/// How long an access token works.
pub const ACCESS_SECONDS: u64 = 15 * 60;
/// How long a refresh token works.
pub const REFRESH_SECONDS: u64 = 7 * 24 * 3600;
/// How long a web UI sign-in lasts (a working day); the session can be ended sooner.
pub const BROWSER_SECONDS: u64 = 8 * 3600;
const ISSUER: &str = "promptops";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
    /// The web UI's session cookie: only ever read from the cookie, never accepted as
    /// a bearer token (and an access token is never accepted as the cookie).
    Browser,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub typ: TokenKind,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
    /// The session the token belongs to: it works only while the session is live.
    #[serde(default)]
    pub sid: String,
    /// A refresh token's own id: the session knows which one is in use.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired; log in again (`promptops login`)")]
    Expired,
    #[error("the token's signature does not match this registry's key")]
    BadSignature,
    #[error("the token is malformed")]
    Malformed,
    #[error("a {found:?} token was given where a {wanted:?} token is needed")]
    WrongKind { wanted: TokenKind, found: TokenKind },
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Signs and checks tokens with the registry's secret. During a rotation the previous
/// secret still verifies (never signs), so sessions survive the switch until they
/// expire or are refreshed.
#[derive(Clone)]
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    previous: Option<DecodingKey>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<secret>)")
    }
}

/// Whom a token is for: the user, their session and (refresh tokens) the token's id.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub user: &'a str,
    pub session: &'a str,
    pub refresh_id: &'a str,
}

pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            previous: None,
        }
    }

    /// Also accepts tokens signed with `previous` (a secret being rotated out).
    pub fn with_previous(mut self, previous: Option<&[u8]>) -> Signer {
        self.previous = previous.map(DecodingKey::from_secret);
        self
    }

    /// A token of session `sid` for `user` that expires `seconds` from `now` (`jti`:
    /// a refresh token's id, empty for access tokens).
    pub fn issue(
        &self,
        grant: &Grant<'_>,
        typ: TokenKind,
        now: u64,
        seconds: u64,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub: grant.user.to_owned(),
            typ,
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + seconds,
            sid: grant.session.to_owned(),
            jti: grant.refresh_id.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// The claims of a valid, unexpired token of kind `wanted`.
    pub fn verify(&self, token: &str, wanted: TokenKind) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let classify = |e: jsonwebtoken::errors::Error| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed,
            }
        };
        let data = match decode::<Claims>(token, &self.decoding, &validation).map_err(classify) {
            Err(TokenError::BadSignature) if self.previous.is_some() => {
                let previous = self.previous.as_ref().ok_or(TokenError::BadSignature)?;
                decode::<Claims>(token, previous, &validation).map_err(classify)?
            }
            other => other?,
        };
        if data.claims.sid.is_empty() {
            // A token from before sessions could be ended: it cannot be, so refuse it.
            return Err(TokenError::Malformed);
        }
        if data.claims.typ != wanted {
            return Err(TokenError::WrongKind {
                wanted,
                found: data.claims.typ,
            });
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_what_they_should() {
        let signer = Signer::new(b"secret one");
        let now = now_seconds();
        let alice = Grant {
            user: "alice",
            session: "s1",
            refresh_id: "",
        };
        let access = signer.issue(&alice, TokenKind::Access, now, 60).unwrap();
        assert_eq!(
            signer.verify(&access, TokenKind::Access).unwrap().sub,
            "alice"
        );
        assert!(matches!(
            signer.verify(&access, TokenKind::Refresh),
            Err(TokenError::WrongKind { .. })
        ));
        let expired = signer
            .issue(&alice, TokenKind::Access, now - 120, 60)
            .unwrap();
        assert_eq!(
            signer.verify(&expired, TokenKind::Access).unwrap_err(),
            TokenError::Expired
        );
        let other = Signer::new(b"secret two")
            .issue(&alice, TokenKind::Access, now, 60)
            .unwrap();
        assert_eq!(
            signer.verify(&other, TokenKind::Access).unwrap_err(),
            TokenError::BadSignature
        );
        // While "secret two" is being rotated out, its tokens still verify.
        let rotating = Signer::new(b"secret one").with_previous(Some(b"secret two"));
        assert_eq!(
            rotating.verify(&other, TokenKind::Access).unwrap().sid,
            "s1"
        );
        // A token without a session (made before sessions could end) is refused.
        let sessionless = Grant {
            session: "",
            ..alice
        };
        let old = signer
            .issue(&sessionless, TokenKind::Access, now, 60)
            .unwrap();
        assert_eq!(
            signer.verify(&old, TokenKind::Access).unwrap_err(),
            TokenError::Malformed
        );
        assert_eq!(
            signer.verify("garbage", TokenKind::Access).unwrap_err(),
            TokenError::Malformed
        );
    }
}
