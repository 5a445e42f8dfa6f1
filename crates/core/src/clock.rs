//! Wall-clock time as the RFC 3339 text every report, registry row and audit event
//! carries (UTC, millisecond precision), without a date-time dependency.

/// The current UTC time as `2026-11-21T14:38:29.620Z`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_at(now.as_secs() as i64, now.subsec_millis())
}

/// Milliseconds since 1970 now (0 on a clock set before 1970).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `secs` after 1970-01-01T00:00:00Z as RFC 3339 UTC with milliseconds.
pub fn rfc3339_at(secs: i64, millis: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis.min(999)
    )
}

/// Seconds since 1970 of a UTC `YYYY-MM-DDTHH:MM:SS[.fff]Z` as [`now_rfc3339`] writes
/// it; `None` for anything else.
pub fn epoch_seconds(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let shaped = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && t.ends_with('Z');
    if !shaped {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Milliseconds since 1970 of any RFC 3339 time: `Z` or a `±HH:MM` offset, any number
/// of fraction digits (read to the millisecond), `T` or a space between date and time.
/// `None` for anything else.
pub fn epoch_millis(t: &str) -> Option<i64> {
    let t = t.trim();
    if t.len() < 20 || !t.is_char_boundary(19) {
        return None;
    }
    let (head, rest) = t.split_at(19);
    let head = head.replacen(' ', "T", 1);
    let secs = epoch_seconds(&format!("{head}Z"))?;
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            (&r[..digits], &r[digits..])
        }
        None => ("", rest),
    };
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let b = zone.as_bytes();
            if b.len() != 6 || b[3] != b':' || !matches!(b[0], b'+' | b'-') {
                return None;
            }
            let h: i64 = zone.get(1..3)?.parse().ok()?;
            let m: i64 = zone.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if b[0] == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
    };
    Some((secs - offset) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        assert_eq!(epoch_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(epoch_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(epoch_millis("1970-01-01T00:00:01.123456789Z"), Some(1123));
        assert_eq!(epoch_millis("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(epoch_millis("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(
            epoch_millis("2025-07-10 14:03:00Z"),
            epoch_millis("2025-07-10T14:03:00Z")
        );
        for bad in [
            "",
            "2025-07-10",
            "2025-07-10T14:03:00",
            "2025-07-10T14:03:00.Z",
            "2025-07-10T14:03:00+2:00",
            "2025-13-10T14:03:00Z",
            "2025-07-10T14:03:00é",
        ] {
            assert_eq!(epoch_millis(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn epoch_millis_never_panics_and_reads_what_rfc3339_at_writes(secs in -1_000_000_000_000i64..4_000_000_000_000, ms in 0u32..1000, junk in ".{0,40}") {
            let _ = epoch_millis(&junk);
            let text = rfc3339_at(secs / 1000, ms);
            proptest::prop_assert_eq!(epoch_millis(&text), Some((secs / 1000) * 1000 + i64::from(ms)));
        }
    }

    #[test]
    fn now_is_rfc3339_utc_with_milliseconds() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
        assert_eq!(&t[10..11], "T");
    }

    #[test]
    fn text_and_seconds_round_trip() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            epoch_seconds("2026-11-21T00:00:00.123Z"),
            Some(1_795_219_200)
        );
        for secs in [0, 951_782_400, 1_795_219_200, 4_102_444_799] {
            assert_eq!(epoch_seconds(&rfc3339_at(secs, 7)), Some(secs));
        }
        assert_eq!(epoch_seconds("garbage"), None);
        assert_eq!(epoch_seconds("2026-13-01T00:00:00Z"), None);
        assert_eq!(epoch_seconds("2026-11-21 00:00:00Z"), None);
    }
}
