//! The policy expression language: minijinja expressions evaluated against a prompt's
//! canonical content JSON. Undefined values chain (`compliance.risk_tier` on a prompt
//! without `compliance` is undefined, hence false), evaluation is bounded by fuel, and
//! expressions are short enough that the parser's recursion cannot exhaust the stack.

use minijinja::{Environment, UndefinedBehavior};
use std::sync::LazyLock;

/// Instructions one evaluation may execute.
const FUEL: u64 = 100_000;

/// The longest expression accepted, in bytes. Real conditions are a line; the bound
/// keeps nesting (`- - - … 1`) far below what would exhaust a thread's stack.
pub const MAX_LEN: usize = 1000;

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(FUEL));
    env
});

/// Checks that `source` compiles; the error says why not.
pub fn check(source: &str) -> Result<(), String> {
    bounded(source)?;
    ENV.compile_expression(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Evaluates `source` with `context` as its variables and judges the result truthy or
/// falsy. Compile and evaluation errors are returned, never taken as false.
pub fn eval(source: &str, context: &serde_json::Value) -> Result<bool, String> {
    bounded(source)?;
    let expression = ENV.compile_expression(source).map_err(|e| describe(&e))?;
    let value = expression
        .eval(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(|e| describe(&e))?;
    Ok(value.is_true())
}

/// The variables `source` reads, attribute chains included (`redteam.pii_leaks`,
/// `redteam.risks.LLM01.attack_success_rate`; a subscript ends the chain:
/// `compatibility["openai:gpt-4o"]` reads `compatibility`), sorted. Empty when it does
/// not compile.
pub fn variables(source: &str) -> Vec<String> {
    if bounded(source).is_err() {
        return Vec::new();
    }
    let Ok(expression) = ENV.compile_expression(source) else {
        return Vec::new();
    };
    let mut names: Vec<String> = expression.undeclared_variables(true).into_iter().collect();
    names.sort();
    names
}

fn bounded(source: &str) -> Result<(), String> {
    if source.trim().is_empty() {
        return Err("the expression is empty".into());
    }
    if source.len() > MAX_LEN {
        return Err(format!(
            "the expression is {} bytes long, more than the {MAX_LEN} allowed",
            source.len()
        ));
    }
    Ok(())
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn undefined_chains_to_false() {
        let p = json!({"id": "a.b"});
        assert_eq!(eval("compliance.risk_tier == \"high\"", &p), Ok(false));
        assert_eq!(eval("not deprecated", &p), Ok(true));
        assert_eq!(eval("deprecated", &json!({"deprecated": true})), Ok(true));
        assert_eq!(eval("'x' in tags", &json!({"tags": ["x"]})), Ok(true));
        for falsy in [
            "false", "none", "0", "0.0", "''", "[]", "{}", "tags", "metrics",
        ] {
            assert_eq!(
                eval(falsy, &json!({"tags": [], "metrics": {}})),
                Ok(false),
                "{falsy}"
            );
        }
        assert_eq!(
            eval(
                "metrics.baseline_accuracy >= 0.9",
                &json!({"metrics": {"baseline_accuracy": 0.95}})
            ),
            Ok(true)
        );
    }

    #[test]
    fn errors_are_errors() {
        assert!(check("a ==").is_err());
        assert!(check("").is_err());
        assert!(check("a b").is_err());
        assert!(eval("1 / 0", &json!({})).is_err());
        assert!(eval("x | nosuchfilter", &json!({})).is_err());
    }

    #[test]
    fn fuel_and_length_bound_the_work() {
        let e = eval("range(1000000) | list | length > 0", &json!({}));
        assert!(e.is_err(), "{e:?}");
        assert!(check(&"-".repeat(MAX_LEN + 1)).is_err());
        // The longest accepted nesting compiles on a small stack.
        let deep = format!("{}1", "-".repeat(MAX_LEN - 1));
        let ok = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || eval(&deep, &json!({})).is_ok())
            .map(|h| h.join());
        assert!(matches!(ok, Ok(Ok(true))));
    }

    #[test]
    fn variables_follow_attribute_chains() {
        assert_eq!(
            variables("redteam.risks.LLM01.attack_success_rate <= 0.02 and redteam.pii_leaks == 0"),
            [
                "redteam.pii_leaks",
                "redteam.risks.LLM01.attack_success_rate"
            ]
        );
        assert_eq!(
            variables("compatibility[\"openai:gpt-4o-mini\"] == \"works\" and not deprecated"),
            ["compatibility", "deprecated"]
        );
        assert!(variables("a ==").is_empty());
    }

    /// Comparing different kinds does not fail: undefined and none sort below numbers,
    /// numbers below strings (docs/policy.md warns about it).
    #[test]
    fn cross_kind_comparisons_follow_minijinja() {
        let p = json!({"n": null, "s": "a"});
        assert_eq!(eval("missing < 0.8", &p), Ok(true));
        assert_eq!(eval("n < 0.8", &p), Ok(true));
        assert_eq!(eval("s > 1", &p), Ok(true));
        assert_eq!(eval("missing is defined and missing < 0.8", &p), Ok(false));
    }
}
