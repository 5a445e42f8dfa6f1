//! Webhook secrets at rest. A subscription's secret must stay usable (every delivery
//! is signed with it), so it cannot be hashed like an API key: it is sealed with
//! AES-256-GCM under a key derived (HKDF-SHA256) from the server's signing secret —
//! which lives in the environment or an owner-only key file, never in the database —
//! with the subscription's id as associated data (a sealed secret copied onto another
//! row does not open). A database backup alone can neither read nor use them.
//!
//! During a signing-secret rotation the previous secret still opens what it sealed, and
//! the dispatcher seals each such secret again under the current one when it starts
//! ([`super::reseal`]), so removing the previous secret later loses no webhook.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;

/// What a sealed secret starts with (the scheme's version).
const MARK: &str = "v1:";
/// HKDF's `info`: this key is for webhook secrets and nothing else.
const INFO: &[u8] = b"promptops webhook secret sealing v1";
const SALT: &[u8] = b"promptops";

/// Seals and opens webhook secrets.
pub struct Sealer {
    current: LessSafeKey,
    previous: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer { <keys redacted> }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the system's random number source failed")]
    Random,
    #[error(
        "the webhook's secret cannot be opened: it was sealed under another signing secret (was the server's signing secret replaced?); delete the webhook and add it again"
    )]
    Open,
}

fn key_from(secret: &[u8]) -> LessSafeKey {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret);
    let mut bytes = [0u8; 32];
    // Expanding 32 bytes from SHA-256 cannot fail (the limit is 255 × 32).
    if let Ok(okm) = prk.expand(&[INFO], Len) {
        let _ = okm.fill(&mut bytes);
    }
    // AES-256 takes any 32 bytes.
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).unwrap_or_else(|_| unreachable!());
    LessSafeKey::new(unbound)
}

impl Sealer {
    /// Keys derived from the signing secret (and the one being rotated out).
    pub fn new(secret: &[u8], previous: Option<&[u8]>) -> Sealer {
        Sealer {
            current: key_from(secret),
            previous: previous.map(key_from),
        }
    }

    /// `secret` sealed for the subscription `id`.
    pub fn seal(&self, id: &str, secret: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = secret.as_bytes().to_vec();
        self.current
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = String::with_capacity(MARK.len() + 2 * (NONCE_LEN + data.len()));
        out.push_str(MARK);
        for b in nonce.iter().chain(&data) {
            out.push_str(&format!("{b:02x}"));
        }
        Ok(out)
    }

    /// The secret `sealed` holds for the subscription `id`.
    pub fn open(&self, id: &str, sealed: &str) -> Result<String, SealError> {
        self.open_with(id, sealed).map(|(secret, _)| secret)
    }

    /// What `sealed` holds, and whether it was sealed under the previous signing
    /// secret (so it should be sealed again under the current one).
    pub fn open_with(&self, id: &str, sealed: &str) -> Result<(String, bool), SealError> {
        let bytes = sealed
            .strip_prefix(MARK)
            .and_then(unhex)
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(SealError::Open)?;
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        for (key, previous) in
            std::iter::once((&self.current, false)).chain(self.previous.as_ref().map(|k| (k, true)))
        {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
            let mut data = data.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(id.as_bytes()), &mut data) {
                let secret = String::from_utf8(plain.to_vec()).map_err(|_| SealError::Open)?;
                return Ok((secret, previous));
            }
        }
        Err(SealError::Open)
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_id() {
        let sealer = Sealer::new(b"signing secret one, long enough....", None);
        let sealed = sealer.seal("wh_1", "whsec_abc").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("whsec"));
        assert_ne!(
            sealed,
            sealer.seal("wh_1", "whsec_abc").unwrap(),
            "nonces differ"
        );
        assert_eq!(sealer.open("wh_1", &sealed).unwrap(), "whsec_abc");
        assert!(sealer.open("wh_2", &sealed).is_err());
        let other = Sealer::new(b"signing secret two, long enough....", None);
        assert!(other.open("wh_1", &sealed).is_err());
        let rotated = Sealer::new(
            b"signing secret two, long enough....",
            Some(b"signing secret one, long enough...."),
        );
        assert_eq!(
            rotated.open_with("wh_1", &sealed).unwrap(),
            ("whsec_abc".to_owned(), true)
        );
        assert_eq!(
            sealer.open_with("wh_1", &sealed).unwrap(),
            ("whsec_abc".to_owned(), false)
        );
        assert!(sealer.open("wh_1", "v1:zz").is_err());
        assert!(sealer.open("wh_1", "").is_err());
    }
}
