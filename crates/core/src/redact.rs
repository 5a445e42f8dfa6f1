//! Redaction of what must not be stored in clear when a prompt's inputs and outputs are
//! kept (`content_capture: full`): secrets (the shapes [`crate::secrets`] knows), email
//! addresses, phone numbers and payment card numbers (Luhn-checked, so order numbers and
//! timestamps stay). Each is replaced by `[REDACTED:<kind>]`.

use regex::Regex;
use std::ops::Range;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
        .expect("a constant pattern")
});
/// 13 to 19 digits, optionally grouped by spaces or dashes.
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("a constant pattern"));
/// An international number (`+` and 8 to 15 digits) or a grouped national one
/// (`(555) 123-4567`, `555-123-4567`, `030 1234 5678`).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d(?:[ .-]?\(?\d\)?){7,14}\b)|(?:\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}\b)|(?:\b\d{3}[.-]\d{3}[.-]\d{4}\b)")
        .expect("a constant pattern")
});

/// `text` with every secret, email, card number and phone number replaced.
pub fn redact(text: &str) -> String {
    let mut spans: Vec<(Range<usize>, &str)> = crate::secrets::spans(text);
    spans.extend(EMAIL.find_iter(text).map(|m| (m.range(), "email")));
    spans.extend(
        CARD.find_iter(text)
            .filter(|m| luhn(m.as_str()))
            .map(|m| (m.range(), "card")),
    );
    spans.extend(PHONE.find_iter(text).map(|m| (m.range(), "phone")));
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, kind) in spans {
        if range.start < at {
            continue;
        }
        out.push_str(&text[at..range.start]);
        out.push_str("[REDACTED:");
        out.push_str(kind);
        out.push(']');
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The Luhn checksum of the digits in `text` holds.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                *d
            }
        })
        .sum();
    digits.len() >= 13 && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn personal_data_and_secrets_are_replaced_and_the_rest_kept() {
        for (text, expected) in [
            (
                "mail jane.doe+x@example.co.uk now",
                "mail [REDACTED:email] now",
            ),
            ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
            ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
            ("call +44 20 7946 0958 today", "call [REDACTED:phone] today"),
            ("call (555) 123-4567", "call [REDACTED:phone]"),
            ("call 555-123-4567", "call [REDACTED:phone]"),
            (
                "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD here",
                "key [REDACTED:OpenAI API key] here",
            ),
            // Not personal data: a failed Luhn check, short numbers, dates, versions.
            ("order 4111 1111 1111 1112", "order 4111 1111 1111 1112"),
            (
                "in 2025-07-10 v1.2.3 at 14:03, 42 items",
                "in 2025-07-10 v1.2.3 at 14:03, 42 items",
            ),
            ("user@localhost", "user@localhost"),
        ] {
            assert_eq!(redact(text), expected, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn redaction_never_panics_and_is_stable(text in "\\PC{0,80}") {
            let once = redact(&text);
            proptest::prop_assert_eq!(redact(&once), once.clone());
        }
    }
}
