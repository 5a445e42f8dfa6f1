//! Redaction of what must not be stored in clear when a prompt's inputs and outputs are
//! kept (`content_capture: full`): secrets (the shapes [`crate::secrets`] knows) and the
//! personal data [`crate::pii`] finds (emails, phones, Luhn-checked cards, mod-97 IBANs,
//! IP addresses, US SSNs, Singapore NRICs — checksums first, so order numbers and
//! timestamps stay). Each is replaced by `[REDACTED:<kind>]`.

use crate::pii;
use std::ops::Range;

/// `text` with every secret and every piece of personal data [`pii::scan`] finds
/// replaced by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> String {
    let mut spans: Vec<(Range<usize>, &str)> = crate::secrets::spans(text);
    spans.extend(
        pii::scan(text)
            .into_iter()
            .map(|m| (m.range, m.kind.as_str())),
    );
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
