//! Secrets: password hashes (argon2id), API keys (random, shown once, kept as SHA-256),
//! and comparisons that take the same time whatever the input.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use promptops_core::canonical::ContentHash;
use subtle::ConstantTimeEq;

/// What every API key starts with, so a leaked one is recognisable (and scannable).
pub const KEY_MARK: &str = "po_";
/// Characters after the mark that identify the key (stored in clear, shown in lists).
const PREFIX_CHARS: usize = 12;
/// Random bytes in a key's secret part.
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the system's random number source failed: {0}")]
    Random(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex of random bytes: a signing secret or a generated password.
pub fn random_token(bytes: usize) -> Result<String, SecretError> {
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes.div_ceil(16) {
        out.push_str(&hex(&random_bytes::<16>()?));
    }
    out.truncate(bytes * 2);
    Ok(out)
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), OWASP's parameters.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| SecretError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// A hash that no password matches, checked when the user does not exist so that an
/// unknown name costs as much time as a wrong password.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8dyuWxhoyc6jx0t5P2kOzk8Ni2i4uZ1/tALaAiHLMD4";

/// Whether `password` matches the PHC string (argon2 compares in constant time).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new API key: the whole key (shown once), its public prefix and the hash to keep.
pub struct NewKeySecret {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

pub fn new_api_key() -> Result<NewKeySecret, SecretError> {
    let id = random_token(PREFIX_CHARS / 2)?;
    let secret = random_token(SECRET_BYTES)?;
    let prefix = format!("{KEY_MARK}{id}");
    let key = format!("{prefix}_{secret}");
    let hash = key_hash(&key);
    Ok(NewKeySecret { key, prefix, hash })
}

/// The prefix a presented key claims (`None`: not shaped like one of ours).
pub fn key_prefix(presented: &str) -> Option<&str> {
    let len = KEY_MARK.len() + PREFIX_CHARS;
    (presented.starts_with(KEY_MARK)
        && presented.len() > len + 1
        && presented.is_char_boundary(len))
    .then(|| &presented[..len])
}

/// SHA-256 of the whole key, hex: keys are long random strings, so a fast hash is
/// enough (nothing to brute-force) and keeps every request cheap.
pub fn key_hash(key: &str) -> String {
    promptops_core::canonical::sha256_hex(key)
}

/// Equality of two secrets (or their hashes) in time that depends only on the length.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Equality of two digests in constant time.
pub fn same_digest(a: &ContentHash, b: &ContentHash) -> bool {
    bool::from(a.0.ct_eq(&b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsE", &phc));
        assert!(!verify_password("anything", DECOY_HASH));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let a = new_api_key().unwrap();
        let b = new_api_key().unwrap();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&a.prefix));
        assert_eq!(key_prefix(&a.key), Some(a.prefix.as_str()));
        assert_eq!(a.hash, key_hash(&a.key));
        assert!(!a.hash.contains(&a.key[a.prefix.len() + 1..]));
        assert_eq!(key_prefix("po_short"), None);
        assert_eq!(key_prefix("eyJhbGciOi.jwt.token"), None);
        assert!(same_secret(&a.hash, &key_hash(&a.key)));
        assert!(!same_secret(&a.hash, &b.hash));
    }
}
