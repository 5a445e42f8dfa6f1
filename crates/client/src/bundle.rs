//! A bundle: everything one environment of a project serves, in one file an
//! application can ship with its code (a Lambda layer, a batch job's image, an
//! air-gapped site) and load without a registry.
//!
//! The file is text: three or four header lines, a blank line, then the payload (JSON:
//! the project, the environment, when it was made and every served prompt as resolve
//! answers it). Every byte is covered: the first line names the format, the `sha256`
//! line holds the payload's digest, the optional `ed25519` line a public key and its
//! signature of the format line and the digest; nothing may follow the payload.
//!
//! ```text
//! promptops-bundle/1
//! sha256 <64 hex>
//! ed25519 <public key, 64 hex> <signature, 128 hex>
//!
//! {"project":"demo","environment":"prod","created_at":"…","prompts":[…]}
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use promptops_api::Resolved;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

pub const FORMAT: &str = "promptops-bundle/1";

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    pub project: String,
    pub environment: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub prompts: Vec<Resolved>,
}

/// A bundle read and checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub contents: Contents,
    pub sha256: String,
    /// The public key that signed it (hex), when it is signed.
    pub signed_by: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a promptops bundle: the first line must be `{FORMAT}`")]
    NotABundle,
    #[error("line {line}: {problem}")]
    Header { line: usize, problem: String },
    #[error(
        "the bundle's content does not match its checksum (sha256 {expected}, content hashes to {actual}): it was changed or damaged after it was made"
    )]
    Checksum { expected: String, actual: String },
    #[error(
        "the bundle's signature does not verify with the public key it names: it was changed after it was signed"
    )]
    BadSignature,
    #[error("the bundle is not signed, and a signature by {0} is required")]
    Unsigned(String),
    #[error("the bundle is signed by {found}, not by the trusted key {trusted}")]
    OtherSigner { found: String, trusted: String },
    #[error("the bundle's content is not valid: {0}")]
    Content(String),
    #[error("signing key: {0}")]
    Key(String),
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// What is signed: the format line and the payload's digest.
fn signed_message(sha256: &str) -> String {
    format!("{FORMAT}\nsha256 {sha256}\n")
}

/// A signing key from its file: 64 hex characters (the 32-byte seed), white space
/// around it ignored.
pub fn signing_key_from_text(text: &str) -> Result<SigningKey, BundleError> {
    unhex::<32>(text.trim())
        .map(|seed| SigningKey::from_bytes(&seed))
        .ok_or_else(|| {
            BundleError::Key(
                "a signing key file holds 64 hex characters (make one with `promptops bundle --new-signing-key FILE`)".into(),
            )
        })
}

/// A new random signing key as its file's text, and the public key (hex).
pub fn new_signing_key() -> Result<(String, String), BundleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| BundleError::Key(format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((
        format!("{}\n", hex(&seed)),
        hex(key.verifying_key().as_bytes()),
    ))
}

/// The public key (hex) of a signing key.
pub fn public_key(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

/// Writes `contents` as a bundle, signed with `key` when given.
pub fn write(contents: &Contents, key: Option<&SigningKey>) -> Result<Vec<u8>, BundleError> {
    let payload = serde_json::to_vec(contents).map_err(|e| BundleError::Content(e.to_string()))?;
    let sha256 = promptops_core::canonical::sha256_hex(&payload);
    let mut out = signed_message(&sha256);
    if let Some(key) = key {
        let signature = key.sign(signed_message(&sha256).as_bytes());
        let _ = writeln!(
            out,
            "ed25519 {} {}",
            public_key(key),
            hex(&signature.to_bytes())
        );
    }
    out.push('\n');
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Reads and checks a bundle: its format, its checksum, its signature when it has one
/// and, when `trusted` (a public key, hex) is given, that it is signed by that key.
pub fn read(bytes: &[u8], trusted: Option<&str>) -> Result<Bundle, BundleError> {
    let mut rest = bytes;
    let mut line_no = 0;
    let mut next_line = |rest: &mut &[u8]| -> Result<String, BundleError> {
        line_no += 1;
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(BundleError::Header {
                line: line_no,
                problem: "the header ends before the blank line that starts the content".into(),
            })?;
        let line = std::str::from_utf8(&rest[..end]).map_err(|_| BundleError::Header {
            line: line_no,
            problem: "not text".into(),
        })?;
        *rest = &rest[end + 1..];
        Ok(line.to_owned())
    };
    if next_line(&mut rest).ok().as_deref() != Some(FORMAT) {
        return Err(BundleError::NotABundle);
    }
    let header = |line: usize, problem: &str| BundleError::Header {
        line,
        problem: problem.to_owned(),
    };
    let sha_line = next_line(&mut rest)?;
    let expected = sha_line
        .strip_prefix("sha256 ")
        .filter(|h| unhex::<32>(h).is_some() && *h == h.to_ascii_lowercase())
        .ok_or_else(|| header(2, "expected `sha256 <64 lowercase hex>`"))?
        .to_owned();
    let mut signature = None;
    let third = next_line(&mut rest)?;
    if let Some(sig) = third.strip_prefix("ed25519 ") {
        let (key, sig) = sig
            .split_once(' ')
            .ok_or_else(|| header(3, "expected `ed25519 <public key> <signature>`"))?;
        let key_bytes =
            unhex::<32>(key).ok_or_else(|| header(3, "the public key is not 64 hex characters"))?;
        let sig_bytes =
            unhex::<64>(sig).ok_or_else(|| header(3, "the signature is not 128 hex characters"))?;
        if key != key.to_ascii_lowercase() || sig != sig.to_ascii_lowercase() {
            return Err(header(3, "hex must be lowercase"));
        }
        signature = Some((key.to_owned(), key_bytes, sig_bytes));
        if !next_line(&mut rest)?.is_empty() {
            return Err(header(4, "expected the blank line that starts the content"));
        }
    } else if !third.is_empty() {
        return Err(header(
            3,
            "expected `ed25519 …` or the blank line that starts the content",
        ));
    }
    let actual = promptops_core::canonical::sha256_hex(rest);
    if actual != expected {
        return Err(BundleError::Checksum { expected, actual });
    }
    let signed_by = match signature {
        Some((key_hex, key, sig)) => {
            let key = VerifyingKey::from_bytes(&key).map_err(|_| BundleError::BadSignature)?;
            key.verify_strict(
                signed_message(&expected).as_bytes(),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| BundleError::BadSignature)?;
            Some(key_hex)
        }
        None => None,
    };
    if let Some(trusted) = trusted {
        let trusted = trusted.trim().to_ascii_lowercase();
        match &signed_by {
            None => return Err(BundleError::Unsigned(trusted)),
            Some(found) if *found != trusted => {
                return Err(BundleError::OtherSigner {
                    found: found.clone(),
                    trusted,
                });
            }
            Some(_) => {}
        }
    }
    let contents: Contents =
        serde_json::from_slice(rest).map_err(|e| BundleError::Content(e.to_string()))?;
    Ok(Bundle {
        contents,
        sha256: expected,
        signed_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn contents() -> Contents {
        Contents {
            project: "demo".into(),
            environment: "prod".into(),
            created_at: "2026-12-03T08:00:00.000Z".into(),
            prompts: vec![Resolved {
                id: "support.answer".into(),
                environment: "prod".into(),
                version: "1.0.0".into(),
                content_hash: "ab".repeat(32),
                model: json!({"provider": "openai", "name": "gpt-4o-mini"}),
                variables: json!({}),
                content: json!({"template": "Hello\nworld"}),
            }],
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn a_bundle_reads_back_signed_or_not() {
        let plain = write(&contents(), None).unwrap();
        let b = read(&plain, None).unwrap();
        assert_eq!(b.contents, contents());
        assert_eq!(b.signed_by, None);
        let signed = write(&contents(), Some(&key())).unwrap();
        let b = read(&signed, Some(&public_key(&key()))).unwrap();
        assert_eq!(b.signed_by, Some(public_key(&key())));
        assert_eq!(
            read(&plain, Some(&public_key(&key()))).unwrap_err(),
            BundleError::Unsigned(public_key(&key()))
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(matches!(
            read(&signed, Some(&public_key(&other))),
            Err(BundleError::OtherSigner { .. })
        ));
    }

    #[test]
    fn signing_keys_round_trip_through_their_file() {
        let (text, public) = new_signing_key().unwrap();
        let key = signing_key_from_text(&text).unwrap();
        assert_eq!(public_key(&key), public);
        assert!(signing_key_from_text("not hex").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any one flipped bit anywhere in a signed bundle is refused.
        #[test]
        fn every_flipped_bit_is_refused(signed in any::<bool>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = write(&contents(), signed.then(key).as_ref()).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let trusted = signed.then(|| public_key(&key()));
            prop_assert!(read(&bytes, trusted.as_deref()).is_err(), "byte {} bit {} accepted", i, bit);
        }

        /// Whatever bytes are given, reading answers (never panics).
        #[test]
        fn arbitrary_input_is_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), prefix in any::<bool>()) {
            let mut input = if prefix { format!("{FORMAT}\n").into_bytes() } else { Vec::new() };
            input.extend(bytes);
            let _ = read(&input, None);
        }
    }
}
