//! The one canonical form of a prompt version and its SHA-256 content hash.
//!
//! Canonical content is the normalised [`Prompt`] as JSON with object keys sorted and
//! no insignificant white space. Formatting, key order, comments, quoting style and
//! equivalent spellings (`version: 2` and `2.0.0`, `1.0` and `1`) do not change it;
//! any change of content does. Every place that needs a version's hash calls
//! [`content_hash`].

use crate::prompt::Prompt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of 64 characters, not 32 formatted bytes: API keys are hashed on
        // every request that has not been seen since the last key change.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            text[2 * i] = HEX[usize::from(b >> 4)];
            text[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl ContentHash {
    /// The digest of a 64-character lowercase or uppercase hex text; `None` otherwise.
    pub fn from_hex(text: &str) -> Option<ContentHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(ContentHash(out))
    }
}

impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The canonical JSON text of a prompt.
pub fn canonical_json(prompt: &Prompt) -> String {
    let value = serde_json::to_value(prompt).unwrap_or(Value::Null);
    value_json(&value)
}

/// The canonical JSON text of any value: object keys sorted, no white space. Two values
/// that are equal as JSON get the same text (eval reports use it to match tests by vars).
pub fn value_json(value: &Value) -> String {
    let mut out = String::new();
    write_sorted(value, &mut out);
    out
}

/// SHA-256 of the canonical JSON.
pub fn content_hash(prompt: &Prompt) -> ContentHash {
    ContentHash(Sha256::digest(canonical_json(prompt).as_bytes()).into())
}

/// SHA-256 of any bytes.
pub fn sha256(text: impl AsRef<[u8]>) -> ContentHash {
    ContentHash(Sha256::digest(text.as_ref()).into())
}

/// SHA-256 of any text, as lowercase hex: the one hex digest of promptops (policy
/// sources, migrations, API key hashes, the audit chain, eval cache keys). The same
/// text always gives the same 64 characters.
pub fn sha256_hex(text: impl AsRef<[u8]>) -> String {
    ContentHash(Sha256::digest(text.as_ref()).into()).to_string()
}

/// Writes JSON with object keys in byte order, whatever map type serde_json was built
/// with (a feature elsewhere in the build could make it keep insertion order).
fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_sorted(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
