//! Personal data in text: email addresses, phone numbers, payment card numbers (Luhn),
//! IBANs (ISO 13616 mod-97), IPv4 and IPv6 addresses, and national ids — US social
//! security numbers (the ranges the SSA never issues are refused), Singapore NRIC/FIN
//! (check letter), UK National Insurance numbers (no checksum exists: the prefixes HMRC
//! never issues are refused), Indian Aadhaar (Verhoeff), Chinese resident identity
//! numbers (ISO 7064 MOD 11-2), Spanish DNI/NIE (mod-23 letter) and Brazilian CPF (two
//! mod-11 digits). A shape alone is not enough where a checksum exists: order numbers,
//! timestamps and versions stay. What redaction, validation and the eval assertions all
//! read (one detector, not three).

use regex::Regex;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::LazyLock;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    Email,
    Phone,
    Card,
    Iban,
    Ipv4,
    Ipv6,
    UsSsn,
    SgNric,
    UkNino,
    InAadhaar,
    CnRic,
    EsDni,
    BrCpf,
}

impl PiiKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [PiiKind; 13] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::Ipv4,
        PiiKind::Ipv6,
        PiiKind::UsSsn,
        PiiKind::SgNric,
        PiiKind::UkNino,
        PiiKind::InAadhaar,
        PiiKind::CnRic,
        PiiKind::EsDni,
        PiiKind::BrCpf,
    ];

    /// The name reports and redaction markers use (`[REDACTED:email]`).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::UsSsn => "us-ssn",
            PiiKind::SgNric => "sg-nric",
            PiiKind::UkNino => "uk-nino",
            PiiKind::InAadhaar => "in-aadhaar",
            PiiKind::CnRic => "cn-ric",
            PiiKind::EsDni => "es-dni",
            PiiKind::BrCpf => "br-cpf",
        }
    }
}

/// One finding: what, and where in the text (byte range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiMatch {
    pub kind: PiiKind,
    pub range: Range<usize>,
}

fn pattern(p: &str) -> Regex {
    Regex::new(p).expect("a constant pattern")
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"));
/// 13 to 19 digits, optionally grouped by spaces or dashes.
static CARD: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d(?:[ -]?\d){12,18}\b"));
/// An international number (`+` and 8 to 15 digits) or a grouped national one
/// (`(555) 123-4567`, `555-123-4567`, `030 1234 5678`).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?:\+\d(?:[ .-]?\(?\d\)?){7,14}\b)|(?:\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}\b)|(?:\b\d{3}[.-]\d{3}[.-]\d{4}\b)",
    )
});
/// Two letters, two check digits, then 11 to 30 letters and digits, in groups of four
/// or not.
static IBAN: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"));
/// Anything with at least two colons between hex groups; `Ipv6Addr` decides.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"(?i)(?:\b[0-9a-f]{1,4})?(?::[0-9a-f]{0,4}){2,7}(?::(?:\d{1,3}\.){3}\d{1,3})?")
});
static SSN: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b(\d{3})-(\d{2})-(\d{4})\b"));
static NRIC: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b[STFG]\d{7}[A-Z]\b"));
/// HMRC's letters: neither D, F, I, Q, U nor V; not O second.
static NINO: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
});
static AADHAAR: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}\b"));
static CN_RIC: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d{17}[\dXx]\b"));
static ES_DNI: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b[XYZ]?\d{7,8}-?[A-Z]\b"));
static BR_CPF: LazyLock<Regex> = LazyLock::new(|| pattern(r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"));

/// Every piece of personal data in `text`, in order of position (overlaps kept: the
/// caller decides, as redaction keeps the earliest and longest).
pub fn scan(text: &str) -> Vec<PiiMatch> {
    let mut out = Vec::new();
    let mut add = |kind, range| out.push(PiiMatch { kind, range });
    for m in EMAIL.find_iter(text) {
        add(PiiKind::Email, m.range());
    }
    for m in CARD.find_iter(text).filter(|m| luhn(m.as_str())) {
        add(PiiKind::Card, m.range());
    }
    for m in IBAN.find_iter(text).filter(|m| iban(m.as_str())) {
        add(PiiKind::Iban, m.range());
    }
    for m in PHONE.find_iter(text) {
        add(PiiKind::Phone, m.range());
    }
    for m in IPV4
        .find_iter(text)
        .filter(|m| m.as_str().parse::<Ipv4Addr>().is_ok() && standalone(text, m.range()))
    {
        add(PiiKind::Ipv4, m.range());
    }
    for m in IPV6.find_iter(text).filter(|m| ipv6(m.as_str())) {
        add(PiiKind::Ipv6, m.range());
    }
    for c in SSN.captures_iter(text) {
        if let (Some(all), Some(area), Some(group), Some(serial)) =
            (c.get(0), c.get(1), c.get(2), c.get(3))
            && us_ssn(area.as_str(), group.as_str(), serial.as_str())
        {
            add(PiiKind::UsSsn, all.range());
        }
    }
    for m in NRIC.find_iter(text).filter(|m| sg_nric(m.as_str())) {
        add(PiiKind::SgNric, m.range());
    }
    for c in NINO.captures_iter(text) {
        if let (Some(all), Some(prefix)) = (c.get(0), c.get(1))
            && !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix.as_str())
        {
            add(PiiKind::UkNino, all.range());
        }
    }
    for m in AADHAAR.find_iter(text).filter(|m| verhoeff(m.as_str())) {
        add(PiiKind::InAadhaar, m.range());
    }
    for m in CN_RIC.find_iter(text).filter(|m| cn_ric(m.as_str())) {
        add(PiiKind::CnRic, m.range());
    }
    for m in ES_DNI.find_iter(text).filter(|m| es_dni(m.as_str())) {
        add(PiiKind::EsDni, m.range());
    }
    for m in BR_CPF.find_iter(text).filter(|m| br_cpf(m.as_str())) {
        add(PiiKind::BrCpf, m.range());
    }
    out.sort_by_key(|m| (m.range.start, std::cmp::Reverse(m.range.end)));
    out
}

/// The Luhn checksum of the digits in `text` holds (and there are at least 13).
pub fn luhn(text: &str) -> bool {
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

/// ISO 13616: the country's length is not checked (it changes), the mod-97 is.
pub fn iban(text: &str) -> bool {
    let compact: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    // Move the first four characters to the end, letters become 10..35, then mod 97.
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Not part of a longer dotted number (`1.2.3.4` inside `1.2.3.4.5` is a version).
fn standalone(text: &str, range: Range<usize>) -> bool {
    let before = text[..range.start]
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>();
    let after = text[range.end..].chars().take(2).collect::<Vec<_>>();
    let dotted = |c: &[char]| c.first() == Some(&'.') && c.get(1).is_some_and(char::is_ascii_digit);
    !dotted(&before) && !dotted(&after)
}

/// An IPv6 address of at least three written groups (`a::b`, `::1` and `::` are too
/// common in code to count; link-local `fe80::1` is not personal data anyway).
fn ipv6(text: &str) -> bool {
    let groups = text.split(':').filter(|g| !g.is_empty()).count();
    groups >= 3
        && text
            .parse::<Ipv6Addr>()
            .is_ok_and(|a| !a.is_loopback() && !a.is_unspecified())
}

/// A US SSN the SSA could have issued: area not 000, 666 or 900–999; group not 00;
/// serial not 0000.
fn us_ssn(area: &str, group: &str, serial: &str) -> bool {
    let area: u32 = area.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != "00" && serial != "0000"
}

/// A Singapore NRIC/FIN whose check letter matches its digits (S/T for citizens and
/// permanent residents, F/G for foreigners; the M series, whose check is not published
/// the same way, is not recognised).
pub fn sg_nric(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() != 9 {
        return false;
    }
    let digits: Option<Vec<u32>> = chars[1..8].iter().map(|c| c.to_digit(10)).collect();
    let Some(digits) = digits else { return false };
    const WEIGHTS: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    let mut sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    let (offset, letters): (u32, &[u8; 11]) = match chars[0] {
        'S' => (0, b"JZIHGFEDCBA"),
        'T' => (4, b"JZIHGFEDCBA"),
        'F' => (0, b"XWUTRQPNMLK"),
        'G' => (4, b"XWUTRQPNMLK"),
        _ => return false,
    };
    sum += offset;
    chars[8] == letters[(sum % 11) as usize] as char
}

/// The digits of `text`, ignoring separators; `None` when another character is there.
fn digits(text: &str) -> Option<Vec<u32>> {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .map(|c| c.to_digit(10))
        .collect()
}

/// The Verhoeff checksum of the digits in `text` holds (Aadhaar's last digit).
pub fn verhoeff(text: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let Some(digits) = digits(text) else {
        return false;
    };
    let mut check = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        check = D[usize::from(check)][usize::from(P[i % 8][*d as usize])];
    }
    !digits.is_empty() && check == 0
}

/// A Chinese resident identity number whose last character is its ISO 7064 MOD 11-2
/// check (`X` for ten).
pub fn cn_ric(text: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let chars: Vec<char> = text.chars().collect();
    if chars.len() != 18 {
        return false;
    }
    let Some(body) = digits(&text[..17]) else {
        return false;
    };
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    chars[17].to_ascii_uppercase() == check
}

/// A Spanish DNI (8 digits) or NIE (X, Y or Z and 7 digits) with its mod-23 letter.
pub fn es_dni(text: &str) -> bool {
    let text = text.replace('-', "");
    let (prefix, rest) = match text.chars().next() {
        Some(c @ ('X' | 'Y' | 'Z')) => (u64::from(c as u8 - b'X'), &text[1..]),
        _ => (0, text.as_str()),
    };
    let Some(letter) = rest.chars().last() else {
        return false;
    };
    let number = &rest[..rest.len() - letter.len_utf8()];
    let expected_len = if text.starts_with(['X', 'Y', 'Z']) {
        7
    } else {
        8
    };
    if number.len() != expected_len {
        return false;
    }
    let Ok(n) = number.parse::<u64>() else {
        return false;
    };
    let n = prefix * 10u64.pow(expected_len as u32) + n;
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize] as char == letter
}

/// A Brazilian CPF whose two mod-11 check digits hold (and not all one digit).
pub fn br_cpf(text: &str) -> bool {
    let Some(d) = digits(text) else {
        return false;
    };
    if d.len() != 11 || d.iter().all(|x| *x == d[0]) {
        return false;
    }
    [9usize, 10].iter().all(|&n| {
        let total: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        (total * 10) % 11 % 10 == d[n]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<PiiKind> {
        scan(text).into_iter().map(|m| m.kind).collect()
    }

    #[test]
    fn true_positives_are_found_with_their_kind() {
        for (text, kind) in [
            ("write to jane.doe+x@example.co.uk", PiiKind::Email),
            ("card 4111 1111 1111 1111", PiiKind::Card),
            ("card 5500-0000-0000-0004", PiiKind::Card),
            ("call +44 20 7946 0958", PiiKind::Phone),
            ("call (555) 123-4567", PiiKind::Phone),
            ("pay GB82 WEST 1234 5698 7654 32 now", PiiKind::Iban),
            ("pay DE89370400440532013000", PiiKind::Iban),
            ("from 203.0.113.42 at noon", PiiKind::Ipv4),
            ("from 2001:db8::8a2e:370:7334", PiiKind::Ipv6),
            ("ssn 123-45-6789", PiiKind::UsSsn),
            ("nric S1234567D", PiiKind::SgNric),
            ("fin F1234567N", PiiKind::SgNric),
            ("nric T1234567J", PiiKind::SgNric),
            ("NI number AB 12 34 56 C", PiiKind::UkNino),
            ("ni AB123456C", PiiKind::UkNino),
            ("aadhaar 2345 6789 0124", PiiKind::InAadhaar),
            ("身份证 11010519491231002X", PiiKind::CnRic),
            ("DNI 12345678Z", PiiKind::EsDni),
            ("NIE X1234567L", PiiKind::EsDni),
            ("CPF 529.982.247-25", PiiKind::BrCpf),
            ("cpf 52998224725", PiiKind::BrCpf),
        ] {
            assert!(kinds(text).contains(&kind), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn false_positives_are_not() {
        for text in [
            // A failed Luhn check; a failed mod-97; an impossible address; SSNs the SSA
            // never issues; a wrong NRIC check letter.
            "order 4111 1111 1111 1112",
            "ref GB82 WEST 1234 5698 7654 33",
            "version 999.1.2.3 and 1.2.3.4.5",
            "ids 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000",
            "nric S1234567A",
            // National ids whose check fails, or prefixes never issued.
            "ni GB123456C, ni QQ123456C, ni AB123456E",
            "aadhaar 2345 6789 0125, 1234 5678 9012",
            "ric 110105194912310021",
            "DNI 12345678A, NIE X1234567A",
            "CPF 529.982.247-26, 111.111.111-11",
            // Dates, times, versions, loopback, code.
            "on 2025-07-10 at 14:03, v1.2.3, 42 items",
            "listen on ::1 and ::",
            "std::vec::Vec and a::b and fe80::1",
            "user@localhost",
        ] {
            let found: Vec<_> = kinds(text)
                .into_iter()
                .filter(|k| *k != PiiKind::Phone)
                .collect();
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }

    #[test]
    fn checksums_hold_for_known_values() {
        assert!(iban("GB82WEST12345698765432"));
        assert!(iban("NL91 ABNA 0417 1643 00"));
        assert!(!iban("NL91 ABNA 0417 1643 01"));
        assert!(!iban("GB82"));
        assert!(luhn("4012888888881881"));
        assert!(!luhn("4012888888881882"));
        assert!(!luhn("1234"));
        assert!(sg_nric("S1234567D"));
        assert!(!sg_nric("S1234567E"));
        assert!(!sg_nric("X1234567D"));
        assert!(verhoeff("2363") && !verhoeff("2364") && !verhoeff(""));
        assert!(cn_ric("11010519491231002x"));
        assert!(es_dni("12345678-Z") && !es_dni("1234567Z") && !es_dni("X12345678L"));
        assert!(br_cpf("529.982.247-25") && !br_cpf("529.982.247"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_scans_without_panicking_and_ranges_are_in_it(text in "\\PC{0,120}") {
            for m in scan(&text) {
                proptest::prop_assert!(m.range.end <= text.len());
                proptest::prop_assert!(text.get(m.range.clone()).is_some());
            }
        }
    }
}
