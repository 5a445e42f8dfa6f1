//! `SdkError` → the Python exceptions of `promptops.errors` (defined in Python, so they
//! carry docstrings, attributes and type hints; this module only raises them).

use promptops_client::sdk::SdkError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The exception `class_name` of `promptops.errors` with `message` and keyword
/// attributes. Falls back to `RuntimeError` only if that module cannot be imported
/// (the native module loaded outside its package).
fn raise(class_name: &str, message: String, attrs: &[(&str, Option<&str>)]) -> PyErr {
    Python::attach(|py| {
        let made = (|| -> PyResult<PyErr> {
            let class = py.import("promptops.errors")?.getattr(class_name)?;
            let kwargs = PyDict::new(py);
            for (name, value) in attrs {
                kwargs.set_item(name, value)?;
            }
            let exc = class.call((message.clone(),), Some(&kwargs))?;
            Ok(PyErr::from_value(exc))
        })();
        made.unwrap_or_else(|import_failed| {
            pyo3::exceptions::PyRuntimeError::new_err(format!(
                "{message} (and promptops.errors could not be loaded: {import_failed})"
            ))
        })
    })
}

pub fn sdk_error(e: SdkError) -> PyErr {
    let message = e.to_string();
    match &e {
        SdkError::NotFound {
            id, environment, ..
        } => raise(
            "NotFound",
            message,
            &[("id", Some(id)), ("environment", Some(environment))],
        ),
        SdkError::Unauthorized(_) => raise("Unauthorized", message, &[]),
        SdkError::Unavailable {
            id, environment, ..
        } => raise(
            "Unavailable",
            message,
            &[("id", Some(id)), ("environment", Some(environment))],
        ),
        SdkError::InvalidPrompt { id, .. } => raise("InvalidPrompt", message, &[("id", Some(id))]),
        SdkError::Render(_) => raise("RenderError", message, &[]),
        SdkError::Bundle { path, .. } => raise("BundleError", message, &[("path", Some(path))]),
        SdkError::Config(_) => raise("ConfigError", message, &[]),
    }
}

/// A `RenderError` for variables that cannot be passed (the message as `SdkError`
/// words render errors).
pub fn render(detail: String) -> PyErr {
    sdk_error(SdkError::Render(detail))
}

pub fn config(detail: String) -> PyErr {
    sdk_error(SdkError::Config(detail))
}
