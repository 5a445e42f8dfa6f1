//! Assertions decided from the output alone (and the call's latency, cost and finish
//! reason). Reason texts follow promptfoo's, so reports and diffs read the same.

use super::{Assertion, AssertionError, ComponentResult, Observed, split_list};
use crate::js_number;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Evaluates a deterministic assertion. `Err` means the assertion itself is unusable
/// (promptfoo reports the row as an error).
pub fn check(a: &Assertion, obs: &Observed<'_>) -> Result<ComponentResult, AssertionError> {
    let out = obs.output;
    let not = if a.inverse { "not " } else { "" };
    let (cond, reason) = match a.kind.as_str() {
        "equals" => {
            let value = a.value.clone().unwrap_or(Json::Null);
            match &value {
                Json::Object(_) | Json::Array(_) => {
                    let same = serde_json::from_str::<Json>(out)
                        .is_ok_and(|parsed| json_equal(&parsed, &value));
                    (
                        same,
                        format!("Expected output \"{out}\" to {not}equal \"{value}\""),
                    )
                }
                _ => {
                    let expected = js_string(&value);
                    (
                        out == expected,
                        format!("Expected output \"{out}\" to {not}equal \"{expected}\""),
                    )
                }
            }
        }
        "contains" | "icontains" => {
            let needle = required_text(a)?;
            let found = if a.kind == "icontains" {
                out.to_lowercase().contains(&needle.to_lowercase())
            } else {
                out.contains(&needle)
            };
            (
                found,
                format!("Expected output to {not}contain \"{needle}\""),
            )
        }
        "contains-any" | "icontains-any" | "contains-all" | "icontains-all" => {
            let items = list_value(a)?;
            let fold = a.kind.starts_with('i');
            let haystack = if fold {
                out.to_lowercase()
            } else {
                out.to_owned()
            };
            let contains = |item: &String| {
                if fold {
                    haystack.contains(&item.to_lowercase())
                } else {
                    haystack.contains(item.as_str())
                }
            };
            if a.kind.ends_with("-any") {
                (
                    items.iter().any(contains),
                    format!(
                        "Expected output to {not}contain one of \"{}\"",
                        items.join(", ")
                    ),
                )
            } else {
                let missing: Vec<&String> = items.iter().filter(|i| !contains(i)).collect();
                let missing_text = missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    missing.is_empty(),
                    format!(
                        "Expected output to {not}contain all of [{}]. Missing: [{missing_text}]",
                        items.join(", ")
                    ),
                )
            }
        }
        "starts-with" => {
            let prefix = required_text(a)?;
            (
                out.starts_with(&prefix),
                format!("Expected output to {not}start with \"{prefix}\""),
            )
        }
        "regex" => {
            let pattern = a.value.as_ref().map(js_string).unwrap_or_default();
            match compiled_regex(&pattern) {
                Ok(re) => (
                    re.is_match(out).unwrap_or(false),
                    format!("Expected output to {not}match regex \"{pattern}\""),
                ),
                Err(e) => return Ok(result(a, false, 0.0, format!("Invalid regex pattern: {e}"))),
            }
        }
        "levenshtein" => {
            let expected = a.value.as_ref().map(js_string).unwrap_or_default();
            let threshold = a.threshold.unwrap_or(5.0);
            let distance = strsim::levenshtein(out, &expected) as f64;
            let verdict = if a.inverse {
                "less than or equal to"
            } else {
                "greater than"
            };
            (
                distance <= threshold,
                format!(
                    "Levenshtein distance {} is {verdict} threshold {}",
                    js_number(distance),
                    js_number(threshold)
                ),
            )
        }
        "word-count" => return word_count(a, out),
        "perplexity" | "perplexity-score" => return perplexity(a, obs.logprobs),
        "latency" => {
            let threshold = a.threshold.ok_or_else(|| {
                AssertionError("Latency assertion must have a threshold in milliseconds".into())
            })?;
            let latency = obs
                .latency_ms
                .ok_or_else(|| AssertionError("Latency assertion does not support cached results. Rerun the eval with --no-cache".into()))?;
            let verdict = if a.inverse {
                "less than or equal to"
            } else {
                "greater than"
            };
            (
                latency as f64 <= threshold,
                format!(
                    "Latency {latency}ms is {verdict} threshold {}ms",
                    js_number(threshold)
                ),
            )
        }
        "cost" => {
            let threshold = a
                .threshold
                .ok_or_else(|| AssertionError("Cost assertion must have a threshold".into()))?;
            let cost = obs.cost.ok_or_else(|| {
                AssertionError(
                    "Cost assertion does not support providers that do not return cost".into(),
                )
            })?;
            let usd = cost.as_usd_f64();
            (
                usd <= threshold,
                format!(
                    "Cost {} is greater than threshold {}",
                    to_precision_2(usd),
                    js_number(threshold)
                ),
            )
        }
        "finish-reason" => {
            let expected = a.value.as_ref().map(js_string).unwrap_or_default();
            match obs.finish_reason {
                None => {
                    return Ok(result(
                        a,
                        a.inverse,
                        if a.inverse { 1.0 } else { 0.0 },
                        "Provider did not supply stop/finish reason".into(),
                    ));
                }
                Some(actual) => (
                    expected.to_lowercase() == actual.to_lowercase(),
                    format!("Expected finish reason {not}\"{expected}\" but got \"{actual}\""),
                ),
            }
        }
        other => return Err(AssertionError(format!("Unknown assertion type: {other}"))),
    };
    let pass = cond != a.inverse;
    let reason = if pass {
        "Assertion passed".to_owned()
    } else {
        reason
    };
    Ok(result(a, pass, if pass { 1.0 } else { 0.0 }, reason))
}

/// Compiled patterns, so a suite's regex is compiled once rather than once per row.
/// Bounded: templated patterns (`{{ var }}`) can make every row's pattern different.
fn compiled_regex(pattern: &str) -> Result<Arc<fancy_regex::Regex>, fancy_regex::Error> {
    const MAX_CACHED: usize = 1024;
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<fancy_regex::Regex>>>> =
        LazyLock::new(Mutex::default);
    if let Some(re) = CACHE.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Arc::new(fancy_regex::Regex::new(pattern)?);
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), re.clone());
    }
    Ok(re)
}

fn result(a: &Assertion, pass: bool, score: f64, reason: String) -> ComponentResult {
    a.verdict(pass, score, reason, Default::default())
}

/// `contains` and `starts-with` need a non-empty string or a number.
fn required_text(a: &Assertion) -> Result<String, AssertionError> {
    match &a.value {
        Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Json::Number(n)) => Ok(js_string(&Json::Number(n.clone()))),
        _ => Err(AssertionError(format!(
            "\"{}\" assertion type must have a string or number value",
            a.kind
        ))),
    }
}

fn list_value(a: &Assertion) -> Result<Vec<String>, AssertionError> {
    match &a.value {
        Some(Json::String(s)) => split_list(s),
        Some(Json::Array(items)) => Ok(items.iter().map(js_string).collect()),
        _ => Err(AssertionError(format!(
            "\"{}\" assertion type must have an array or string value",
            a.kind
        ))),
    }
}

/// `perplexity`: exp(−mean log-probability) of the output tokens, passing at or under the
/// threshold (score 1 or 0); `perplexity-score`: 1 / (1 + perplexity) as the score,
/// passing at or over the threshold. Without a threshold (or with 0, which promptfoo
/// treats as none) both pass. Like promptfoo, neither honours `not-`, and a provider
/// that returned no log-probabilities makes the row an error.
fn perplexity(a: &Assertion, logprobs: Option<&[f64]>) -> Result<ComponentResult, AssertionError> {
    let Some(logprobs) = logprobs.filter(|l| !l.is_empty()) else {
        return Err(AssertionError(format!(
            "{} assertion does not support providers that do not return logProbs",
            if a.kind == "perplexity" {
                "Perplexity"
            } else {
                "perplexity-score"
            }
        )));
    };
    let mean = logprobs.iter().sum::<f64>() / logprobs.len() as f64;
    let perplexity = (-mean).exp();
    let threshold = a.threshold.filter(|t| *t != 0.0);
    if a.kind == "perplexity" {
        let pass = threshold.is_none_or(|t| perplexity <= t);
        let reason = match threshold {
            Some(t) if !pass => format!(
                "Perplexity {perplexity:.2} is greater than threshold {}",
                js_number(t)
            ),
            _ => "Assertion passed".to_owned(),
        };
        return Ok(result(a, pass, if pass { 1.0 } else { 0.0 }, reason));
    }
    let score = 1.0 / (1.0 + perplexity);
    let pass = threshold.is_none_or(|t| score >= t);
    let reason = match threshold {
        Some(t) if !pass => format!(
            "Perplexity score {score:.2} is less than threshold {}",
            js_number(t)
        ),
        _ => "Assertion passed".to_owned(),
    };
    Ok(result(a, pass, score, reason))
}

fn word_count(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let count = out.split_whitespace().count() as f64;
    let bound = |v: Option<&Json>| -> Option<f64> {
        match v? {
            Json::Number(n) => n.as_f64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let (cond, reason) = match &a.value {
        Some(Json::Object(o)) => {
            let (min, max) = (bound(o.get("min")), bound(o.get("max")));
            match (min, max) {
                (Some(lo), Some(hi)) => (
                    count >= lo && count <= hi,
                    format!(
                        "Word count {} is not between {} and {}",
                        js_number(count),
                        js_number(lo),
                        js_number(hi)
                    ),
                ),
                (Some(lo), None) => (
                    count >= lo,
                    format!(
                        "Word count {} is less than minimum {}",
                        js_number(count),
                        js_number(lo)
                    ),
                ),
                (None, Some(hi)) => (
                    count <= hi,
                    format!(
                        "Word count {} is greater than maximum {}",
                        js_number(count),
                        js_number(hi)
                    ),
                ),
                (None, None) => {
                    return Err(AssertionError(
                        "word-count assertion needs `min`, `max` or a number".into(),
                    ));
                }
            }
        }
        other => {
            let expected = bound(other.as_ref()).ok_or_else(|| {
                AssertionError("word-count assertion must have a number value or {min, max}".into())
            })?;
            (
                count == expected,
                format!(
                    "Word count {} does not equal expected {}",
                    js_number(count),
                    js_number(expected)
                ),
            )
        }
    };
    let pass = cond != a.inverse;
    let reason = if pass {
        "Assertion passed".to_owned()
    } else {
        reason
    };
    Ok(result(a, pass, if pass { 1.0 } else { 0.0 }, reason))
}

/// JavaScript's `String(value)` for JSON values.
fn js_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.as_f64().map_or_else(|| n.to_string(), js_number),
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) => items.iter().map(js_string).collect::<Vec<_>>().join(","),
        Json::Object(_) => "[object Object]".into(),
    }
}

/// Deep equality with numbers compared by value (`1` equals `1.0`), as JSON.parse sees them.
fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// JavaScript's `Number.prototype.toPrecision(2)`.
fn to_precision_2(x: f64) -> String {
    if x == 0.0 {
        return "0.0".into();
    }
    let exponent = x.abs().log10().floor() as i32;
    if !(-6..21).contains(&exponent) {
        let mantissa = x / 10f64.powi(exponent);
        let sign = if exponent < 0 { "-" } else { "+" };
        return format!("{mantissa:.1}e{sign}{}", exponent.abs());
    }
    let decimals = (1 - exponent).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::NanoUsd;
    use serde_json::json;

    fn obs(output: &str) -> Observed<'_> {
        Observed {
            output,
            latency_ms: Some(120),
            cost: Some(NanoUsd(2_500)),
            finish_reason: Some("stop"),
            ..Default::default()
        }
    }

    /// (type, value, threshold, output, expected pass, expected reason or "" for "Assertion passed")
    #[track_caller]
    fn case(
        kind: &str,
        value: Json,
        threshold: Option<f64>,
        output: &str,
        pass: bool,
        reason: &str,
    ) {
        let mut a = Assertion::new(kind, (!value.is_null()).then_some(value));
        if let Some(t) = threshold {
            a = a.with_threshold(t);
        }
        let r = check(&a, &obs(output)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(r.pass, pass, "{kind} on {output:?}: {}", r.reason);
        assert_eq!(r.score, if pass { 1.0 } else { 0.0 }, "{kind}");
        let want = if reason.is_empty() {
            "Assertion passed"
        } else {
            reason
        };
        assert_eq!(r.reason, want, "{kind} on {output:?}");
    }

    #[test]
    fn equals() {
        case("equals", json!("LABEL-1"), None, "LABEL-1", true, "");
        case(
            "equals",
            json!("LABEL-1-WRONG"),
            None,
            "LABEL-1",
            false,
            "Expected output \"LABEL-1\" to equal \"LABEL-1-WRONG\"",
        );
        case(
            "equals",
            json!("a"),
            None,
            "a ",
            false,
            "Expected output \"a \" to equal \"a\"",
        );
        case("equals", json!(5), None, "5", true, "");
        case("equals", json!(1.5), None, "1.5", true, "");
        case(
            "equals",
            json!({"item": 1}),
            None,
            "{\"item\":1.0}",
            true,
            "",
        );
        case(
            "equals",
            json!({"item": 1}),
            None,
            "not json",
            false,
            "Expected output \"not json\" to equal \"{\"item\":1}\"",
        );
        case(
            "not-equals",
            json!("x"),
            None,
            "x",
            false,
            "Expected output \"x\" to not equal \"x\"",
        );
        case("not-equals", json!("x"), None, "y", true, "");
    }

    #[test]
    fn contains_family() {
        case("contains", json!("LAB"), None, "LABEL-7", true, "");
        case(
            "contains",
            json!("7"),
            None,
            "LABEL-8",
            false,
            "Expected output to contain \"7\"",
        );
        case("contains", json!(7), None, "LABEL-7", true, "");
        case("icontains", json!("label"), None, "LABEL-7", true, "");
        case(
            "not-icontains",
            json!("label"),
            None,
            "LABEL-7",
            false,
            "Expected output to not contain \"label\"",
        );
        case("contains-any", json!("x, LAB"), None, "LABEL", true, "");
        case(
            "contains-any",
            json!(["x", "y"]),
            None,
            "LABEL",
            false,
            "Expected output to contain one of \"x, y\"",
        );
        case("icontains-any", json!(["lab"]), None, "LABEL", true, "");
        case("contains-all", json!(["LA", "EL"]), None, "LABEL", true, "");
        case(
            "contains-all",
            json!(["LA", "zz", "qq"]),
            None,
            "LABEL",
            false,
            "Expected output to contain all of [LA, zz, qq]. Missing: [zz, qq]",
        );
        case("icontains-all", json!("la, bel"), None, "LABEL", true, "");
        case("starts-with", json!("LAB"), None, "LABEL", true, "");
        case(
            "starts-with",
            json!("EL"),
            None,
            "LABEL",
            false,
            "Expected output to start with \"EL\"",
        );
        case("not-starts-with", json!("EL"), None, "LABEL", true, "");
    }

    #[test]
    fn regex_uses_javascript_features() {
        case("regex", json!("^LABEL-[0-9]+$"), None, "LABEL-12", true, "");
        case(
            "regex",
            json!("^LABEL-[0-9]+$"),
            None,
            "LABEL-x",
            false,
            "Expected output to match regex \"^LABEL-[0-9]+$\"",
        );
        case("regex", json!("(?=.*a)(?=.*b)"), None, "ba", true, "");
        case("regex", json!("(\\w)\\1"), None, "hello", true, "");
        case("not-regex", json!("\\d"), None, "abc", true, "");
        let r = check(&Assertion::new("regex", Some(json!("("))), &obs("x")).unwrap();
        assert!(
            !r.pass && r.reason.starts_with("Invalid regex pattern:"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn levenshtein_and_word_count() {
        case("levenshtein", json!("kitten"), None, "sitting", true, "");
        case(
            "levenshtein",
            json!("kitten"),
            Some(2.0),
            "sitting",
            false,
            "Levenshtein distance 3 is greater than threshold 2",
        );
        case(
            "not-levenshtein",
            json!("kitten"),
            Some(2.0),
            "sitting",
            true,
            "",
        );
        case("word-count", json!(3), None, " one two  three ", true, "");
        case(
            "word-count",
            json!("2"),
            None,
            "one two three",
            false,
            "Word count 3 does not equal expected 2",
        );
        case(
            "word-count",
            json!({"min": 1, "max": 2}),
            None,
            "a b c",
            false,
            "Word count 3 is not between 1 and 2",
        );
        case("word-count", json!({"max": 5}), None, "a b c", true, "");
        case(
            "word-count",
            json!({"min": 4}),
            None,
            "a b c",
            false,
            "Word count 3 is less than minimum 4",
        );
    }

    #[test]
    fn perplexity_from_the_tokens_log_probabilities() {
        // Mean log-probability ln(0.5): perplexity 2, score 1/3.
        let half = [0.5f64.ln(), 0.5f64.ln()];
        let observed = Observed {
            output: "ab",
            logprobs: Some(&half),
            ..Default::default()
        };
        let check_with = |kind: &str, threshold: Option<f64>| {
            let mut a = Assertion::new(kind, None);
            if let Some(t) = threshold {
                a = a.with_threshold(t);
            }
            check(&a, &observed).unwrap()
        };
        assert!(check_with("perplexity", Some(2.5)).pass);
        let r = check_with("perplexity", Some(1.5));
        assert!(!r.pass);
        assert_eq!(r.reason, "Perplexity 2.00 is greater than threshold 1.5");
        let r = check_with("perplexity-score", None);
        assert!(r.pass && (r.score - 1.0 / 3.0).abs() < 1e-12);
        let r = check_with("perplexity-score", Some(0.5));
        assert!(!r.pass);
        assert_eq!(r.reason, "Perplexity score 0.33 is less than threshold 0.5");
        assert!(
            check_with("not-perplexity", Some(2.5)).pass,
            "`not-` is not honoured"
        );
        let e = check(&Assertion::new("perplexity", None), &obs("x")).unwrap_err();
        assert_eq!(
            e.0,
            "Perplexity assertion does not support providers that do not return logProbs"
        );
    }

    #[test]
    fn latency_cost_and_finish_reason() {
        case("latency", Json::Null, Some(200.0), "x", true, "");
        case(
            "latency",
            Json::Null,
            Some(100.0),
            "x",
            false,
            "Latency 120ms is greater than threshold 100ms",
        );
        case("cost", Json::Null, Some(0.001), "x", true, "");
        case(
            "cost",
            Json::Null,
            Some(0.000001),
            "x",
            false,
            "Cost 0.0000025 is greater than threshold 0.000001",
        );
        case("finish-reason", json!("STOP"), None, "x", true, "");
        case(
            "finish-reason",
            json!("length"),
            None,
            "x",
            false,
            "Expected finish reason \"length\" but got \"stop\"",
        );
        // Unusable assertions are errors, not failures.
        assert!(check(&Assertion::new("latency", None), &obs("x")).is_err());
        let no_cost = Observed {
            output: "x",
            ..Default::default()
        };
        assert!(check(&Assertion::new("cost", None).with_threshold(1.0), &no_cost).is_err());
        assert!(check(&Assertion::new("contains", Some(json!(""))), &obs("x")).is_err());
        assert!(check(&Assertion::new("no-such-type", None), &obs("x")).is_err());
        let r = check(
            &Assertion::new("finish-reason", Some(json!("stop"))),
            &no_cost,
        )
        .unwrap();
        assert_eq!(
            (r.pass, r.reason.as_str()),
            (false, "Provider did not supply stop/finish reason")
        );
    }

    #[test]
    fn to_precision_matches_javascript() {
        for (x, want) in [
            (0.0000025, "0.0000025"),
            (0.123, "0.12"),
            (1.5, "1.5"),
            (12.0, "12"),
            (0.00000001234, "1.2e-8"),
        ] {
            assert_eq!(to_precision_2(x), want, "{x}");
        }
    }
}
