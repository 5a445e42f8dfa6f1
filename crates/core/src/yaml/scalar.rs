//! Scalars as the YAML 1.2 core schema reads them (`1`, `1.5`, `true`, `~`, `0x1F`),
//! with the style and place they were written in.

use super::{Node, Style, Value};
use granit_parser::{ScalarStyle, Span};

pub(super) fn scalar_node(
    text: &str,
    style: ScalarStyle,
    forced_string: bool,
    span: &Span,
) -> Node {
    let (value, style) = match style {
        ScalarStyle::Plain if !forced_string => (resolve_plain(text), Style::Plain),
        ScalarStyle::Plain => (Value::Str(text.to_owned()), Style::Plain),
        ScalarStyle::SingleQuoted => (Value::Str(text.to_owned()), Style::SingleQuoted),
        ScalarStyle::DoubleQuoted => (Value::Str(text.to_owned()), Style::DoubleQuoted),
        ScalarStyle::Literal => (Value::Str(text.to_owned()), Style::Literal),
        ScalarStyle::Folded => (Value::Str(text.to_owned()), Style::Folded),
    };
    let scalar_text = if matches!(value, Value::Str(_)) {
        Box::default()
    } else {
        text.into()
    };
    Node {
        value,
        start: super::build::pos_of(&span.start),
        end: super::build::pos_of(&span.end),
        style,
        scalar_text,
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => text
                .parse::<f64>()
                .map_or_else(|_| Value::Str(text.to_owned()), Value::Float),
        };
    }
    if looks_like_float(digits)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

/// `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one digit before the exponent.
fn looks_like_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int_part = parts.next().unwrap_or("");
    let frac_part = parts.next();
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits_ok(int_part)
        && frac_part.is_none_or(digits_ok)
        && (int_part.len() + frac_part.map_or(0, str::len)) > 0
        && (frac_part.is_some() || exponent.is_some());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits_ok(e)
    });
    mantissa_ok && exponent_ok
}
