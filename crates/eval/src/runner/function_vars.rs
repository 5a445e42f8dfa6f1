//! Vars computed by a function file, as promptfoo 0.123.1's `renderPrompt` runs them
//! (`docs/research/promptfoo-compat.md` §1.3): for every prompt a row renders,
//! - `file://x.js` (or `.ts`, `.mjs`, …) is called as `(varName, prompt, vars, provider)`
//!   and its answer's `output` becomes the var;
//! - `file://x.py` has `get_var(var_name, prompt, vars)` called (a `:name` suffix picks
//!   another function) and its answer's `output`, trimmed, becomes the var.
//!
//! `prompt` is the prompt's raw text and `vars` the step's vars with the other file vars
//! loaded. An answer with `error`, or without a non-empty string `output`, fails the row
//! with the file named. The report keeps the `file://` string, as for other file vars.

use crate::assertions::script::{call_file, python};
use crate::provider::Provider;
use crate::suite::{PromptTemplate, TestStep};
use serde_json::{Map, Value as Json};
use std::path::Path;

/// The step with its function vars computed for this prompt, or `None` when it has none
/// (the common case costs one prefix test per var).
pub(super) async fn computed(
    test: &TestStep,
    prompt: &PromptTemplate,
    provider: &Provider,
    base_dir: &Path,
) -> Result<Option<TestStep>, String> {
    let functions: Vec<(&String, &str)> = test
        .vars
        .iter()
        .filter(|(name, _)| !test.loaded.contains_key(*name))
        .filter_map(|(name, value)| crate::suite::function_file(value).map(|path| (name, path)))
        .collect();
    if functions.is_empty() {
        return Ok(None);
    }
    let mut vars = test.vars.clone();
    vars.extend(test.loaded.clone());
    let mut about = Map::new();
    about.insert("id".into(), Json::String(provider.spec.reported_id.clone()));
    if !provider.spec.label.is_empty() {
        about.insert("label".into(), Json::String(provider.spec.label.clone()));
    }
    let mut loaded = test.loaded.clone();
    for (name, path) in functions {
        let value = Json::String(call(path, name, &prompt.raw, &vars, &about, base_dir).await?);
        vars.insert(name.clone(), value.clone());
        loaded.insert(name.clone(), value);
    }
    Ok(Some(TestStep {
        test_idx: test.test_idx,
        vars: test.vars.clone(),
        loaded,
        test: test.test.clone(),
    }))
}

/// Runs one function file for the var `name` and returns the var's value.
async fn call(
    path: &str,
    name: &str,
    prompt: &str,
    vars: &Map<String, Json>,
    provider: &Map<String, Json>,
    base_dir: &Path,
) -> Result<String, String> {
    let is_python = path
        .rsplit_once(':')
        .map_or(path, |(file, _)| file)
        .to_ascii_lowercase()
        .ends_with(".py");
    let answer = if is_python {
        let args = vec![
            Json::String(name.to_owned()),
            Json::String(prompt.to_owned()),
            Json::Object(vars.clone()),
        ];
        python::call_with(&format!("file://{path}"), args, "get_var", base_dir)
            .await
            .map_err(|e| format!("Error running Python script {path}: {e}"))?
    } else {
        let (file, function) = split_function(path);
        let args = Json::Array(vec![
            Json::String(name.to_owned()),
            Json::String(prompt.to_owned()),
            Json::Object(vars.clone()),
            Json::Object(provider.clone()),
        ]);
        let answer = call_file(&base_dir.join(file), function, &args, base_dir)
            .await
            .map_err(|e| format!("Error running {path}: {e}"))?;
        answer.get("value").cloned().unwrap_or(Json::Null)
    };
    output_of(&answer, path, is_python)
}

/// `x.js:fn` → (`x.js`, `fn`); a plain path names the default export.
fn split_function(path: &str) -> (&str, &str) {
    match path.rsplit_once(':') {
        Some((file, function)) if !function.is_empty() && !function.contains(['/', '\\']) => {
            (file, function)
        }
        _ => (path, ""),
    }
}

/// The var's value from a function's answer, with promptfoo's refusals: an `error` is
/// the row's error; a missing or empty `output` is refused; Python's is trimmed.
fn output_of(answer: &Json, path: &str, trim: bool) -> Result<String, String> {
    if let Some(error) = answer.get("error").filter(|e| crate::js_truthy(e)) {
        let error = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned);
        return Err(format!("Error running {path}: {error}"));
    }
    match answer.get("output") {
        Some(Json::String(s)) if !s.is_empty() => {
            Ok(if trim { s.trim().to_owned() } else { s.clone() })
        }
        Some(other) if crate::js_truthy(other) && !trim => Ok(other.to_string()),
        Some(other) if crate::js_truthy(other) => {
            Err(format!("{path}: `output` must be a string, got {other}"))
        }
        _ => Err(format!(
            "Expected {path} to return {{ output: string }} but got {answer}; return an object whose `output` is the var's text"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_are_taken_as_promptfoo_takes_them() {
        assert_eq!(
            output_of(&json!({"output": " hi \n"}), "v.py", true).unwrap(),
            "hi"
        );
        assert_eq!(
            output_of(&json!({"output": " hi \n"}), "v.js", false).unwrap(),
            " hi \n"
        );
        let refused = output_of(&json!({"output": ""}), "v.js", false).unwrap_err();
        assert!(
            refused.contains("to return { output: string }"),
            "{refused}"
        );
        let failed = output_of(&json!({"error": "no db"}), "v.py", true).unwrap_err();
        assert_eq!(failed, "Error running v.py: no db");
        assert!(
            output_of(&json!("text"), "v.js", false).is_err(),
            "a bare string is not {{ output }}"
        );
        assert!(output_of(&json!({"output": 3}), "v.py", true).is_err());
        assert_eq!(split_function("lib/v.js:make"), ("lib/v.js", "make"));
        assert_eq!(split_function("lib/v.js"), ("lib/v.js", ""));
    }
}
