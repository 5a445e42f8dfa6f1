//! Credentials that must never be committed inside a prompt file.
//!
//! Only patterns with a distinctive shape are matched, so a finding is worth an error:
//! provider API keys, cloud keys, tokens and private keys.

use regex::{Regex, RegexSet};
use std::sync::LazyLock;

const PATTERNS: &[(&str, &str)] = &[
    ("Anthropic API key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    (
        "OpenAI API key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
    ),
    ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    ),
    ("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("Stripe secret key", r"\b[sr]k_live_[0-9A-Za-z]{20,}"),
    ("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
    ("private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    (
        "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    ),
];

static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(PATTERNS.iter().map(|(_, p)| *p)).unwrap_or_else(|_| RegexSet::empty())
});
static EACH: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .filter_map(|(kind, p)| Regex::new(p).ok().map(|r| (*kind, r)))
        .collect()
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMatch {
    pub kind: &'static str,
    /// Byte offset of the match in the scanned text.
    pub offset: usize,
    /// The first few characters, safe to print.
    pub preview: String,
}

/// Every secret-shaped string in `text`.
pub fn scan(text: &str) -> Vec<SecretMatch> {
    let hits = SET.matches(text);
    if !hits.matched_any() {
        return Vec::new();
    }
    let mut out: Vec<SecretMatch> = hits
        .iter()
        .filter_map(|i| EACH.get(i))
        .flat_map(|(kind, re)| {
            re.find_iter(text).map(move |m| SecretMatch {
                kind,
                offset: m.start(),
                preview: redact(m.as_str()),
            })
        })
        .collect();
    out.sort_by_key(|m| m.offset);
    // An Anthropic key also matches the OpenAI shape; keep the first kind per offset.
    out.dedup_by_key(|m| m.offset);
    out
}

/// Every secret-shaped string in `text` as `(byte range, kind)`, in order, not
/// overlapping (the first match at a place wins).
pub fn spans(text: &str) -> Vec<(std::ops::Range<usize>, &'static str)> {
    if !SET.is_match(text) {
        return Vec::new();
    }
    let mut out: Vec<(std::ops::Range<usize>, &'static str)> = EACH
        .iter()
        .flat_map(|(kind, re)| re.find_iter(text).map(move |m| (m.range(), *kind)))
        .collect();
    out.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut kept: Vec<(std::ops::Range<usize>, &'static str)> = Vec::with_capacity(out.len());
    for (range, kind) in out {
        if kept.last().is_none_or(|(last, _)| range.start >= last.end) {
            kept.push((range, kind));
        }
    }
    kept
}

fn redact(secret: &str) -> String {
    let shown: String = secret.chars().take(6).collect();
    format!("{shown}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_and_never_prints_it_whole() {
        let cases = [
            (
                "key sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
                "Anthropic API key",
            ),
            (
                "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789",
                "OpenAI API key",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub token"),
            ("xoxb-1234567890-abcdefghij", "Slack token"),
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "Google API key"),
            ("sk_live_abcdefghijklmnopqrstuvwx", "Stripe secret key"),
            (
                "hf_abcdefghijklmnopqrstuvwxyz0123456789",
                "Hugging Face token",
            ),
            ("-----BEGIN RSA PRIVATE KEY-----\nMII", "private key"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "JSON Web Token",
            ),
        ];
        for (text, kind) in cases {
            let found = scan(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].kind, kind, "{text}");
            assert!(found[0].preview.chars().count() <= 7);
        }
    }

    #[test]
    fn ordinary_text_is_not_a_secret() {
        for text in [
            "sk-mock",
            "ask-for-help",
            "Use the API key from your vault",
            "AKIA",
            "eyJ",
        ] {
            assert!(scan(text).is_empty(), "{text}");
        }
    }
}
