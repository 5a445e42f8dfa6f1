//! promptops eval engine: promptfoo-compatible suites and prompt-centric suites
//! (`suite`), providers, the runner, assertions with promptfoo's semantics, gates on a
//! prompt's own metrics, reports, and the pricing table with integer money.

pub mod assertions;
pub mod derived;
pub mod gates;
pub mod graders;
pub mod journal;
pub mod matrix;
pub(crate) mod nunjucks;
/// The price table and integer money live in `core` (the server prices events too).
pub use promptops_core::pricing;
pub mod provider;
pub mod redteam;
pub mod report;
pub mod runner;
pub mod spill;
pub mod suite;
pub mod tokens;

/// A float as JSON (integral values as integers, like JSON.stringify does).
pub(crate) fn number(x: f64) -> serde_json::Value {
    promptops_core::yaml::number_json(x)
}

/// JavaScript's truthiness of a JSON value (`if (x)` in promptfoo's code).
pub(crate) fn js_truthy(value: &serde_json::Value) -> bool {
    use serde_json::Value as Json;
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|x| x != 0.0 && !x.is_nan()),
        Json::String(s) => !s.is_empty(),
        Json::Array(_) | Json::Object(_) => true,
    }
}

/// JavaScript's `String(number)` for the numbers reasons print (`5`, `0.75`, `1e-7`).
pub(crate) fn js_number(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e21 {
        format!("{}", x as i64)
    } else if x != 0.0 && x.abs() < 1e-6 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_print_like_javascript() {
        for (x, want) in [
            (5.0, "5"),
            (0.75, "0.75"),
            (1e-7, "1e-7"),
            (2.5e-7, "2.5e-7"),
            (0.000001, "0.000001"),
        ] {
            assert_eq!(super::js_number(x), want);
        }
    }
}
