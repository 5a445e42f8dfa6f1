//! Rendering a prompt: bind the caller's variables to the declared ones (types checked,
//! defaults applied), then render every template with the one template engine.

use crate::prompt::{Body, Prompt, Role, VarType};
use crate::template;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Variables as the caller gave them.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// From the command line (`--var k=v`): text, converted to the declared type.
    pub text: BTreeMap<String, String>,
    /// From a JSON or YAML file: typed values, checked against the declared type.
    pub values: BTreeMap<String, Json>,
}

/// A variable the caller got wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarProblem {
    pub name: String,
    pub message: String,
}

impl fmt::Display for VarProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "variable `{}`: {}", self.name, self.message)
    }
}

/// The variables to render with, and the names given that the prompt does not declare.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub values: BTreeMap<String, Json>,
    pub ignored: Vec<String>,
}

/// Matches inputs to the prompt's variables. `used` are the variables its templates read
/// (needed when it declares none: those are then required and untyped).
pub fn bind(
    prompt: &Prompt,
    used: &BTreeSet<String>,
    inputs: &Inputs,
) -> Result<Bound, Vec<VarProblem>> {
    let specs: Vec<(&str, Option<VarType>, bool, Option<&Json>)> = match &prompt.variables {
        Some(declared) => declared
            .iter()
            .map(|(n, v)| (n.as_str(), Some(v.ty), v.required, v.default.as_ref()))
            .collect(),
        None => used
            .iter()
            .map(|n| (n.as_str(), None, true, None))
            .collect(),
    };
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, ty, required, default) in &specs {
        let problem = |message: String| VarProblem {
            name: (*name).to_owned(),
            message,
        };
        let value = if let Some(text) = inputs.text.get(*name) {
            match ty {
                Some(ty) => coerce_text(*ty, text).map_err(problem),
                None => Ok(Json::String(text.clone())),
            }
        } else if let Some(value) = inputs.values.get(*name) {
            match ty {
                Some(ty) if !ty.accepts(value) => {
                    Err(problem(format!("expects a {ty}, got {}", json_kind(value))))
                }
                _ => Ok(value.clone()),
            }
        } else if let Some(default) = default {
            Ok((*default).clone())
        } else if *required {
            let ty = ty.map_or("text".to_owned(), |t| format!("a {t}"));
            Err(problem(format!(
                "is required ({ty}); pass it with --var {name}=..."
            )))
        } else {
            Ok(empty_value(*ty))
        };
        match value {
            Ok(v) => {
                values.insert((*name).to_owned(), v);
            }
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let declared: BTreeSet<&str> = specs.iter().map(|s| s.0).collect();
    let ignored = inputs
        .text
        .keys()
        .chain(inputs.values.keys())
        .filter(|n| !declared.contains(n.as_str()))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Bound { values, ignored })
}

/// An optional variable without a default renders as its type's empty value, so
/// `{% if context %}` works under strict undefined-variable checking.
fn empty_value(ty: Option<VarType>) -> Json {
    match ty {
        Some(VarType::String) | None => Json::String(String::new()),
        Some(VarType::List) => Json::Array(Vec::new()),
        Some(VarType::Object) => Json::Object(serde_json::Map::new()),
        Some(VarType::Boolean) => Json::Bool(false),
        Some(VarType::Number) => Json::Null,
    }
}

/// Converts command-line text to a declared type.
pub fn coerce_text(ty: VarType, text: &str) -> Result<Json, String> {
    match ty {
        VarType::String => Ok(Json::String(text.to_owned())),
        VarType::Number => {
            let t = text.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Json::from(i));
            }
            t.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or_else(|| format!("expects a number, got `{text}`"))
        }
        VarType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Json::Bool(true)),
            "false" | "no" | "0" => Ok(Json::Bool(false)),
            _ => Err(format!("expects true or false, got `{text}`")),
        },
        VarType::List | VarType::Object => {
            let parsed: Json = serde_json::from_str(text).map_err(|e| {
                let example = if ty == VarType::List {
                    r#"'["a", "b"]'"#
                } else {
                    r#"'{"k": "v"}'"#
                };
                format!("expects a JSON {ty} such as {example}: {e}")
            })?;
            if ty.accepts(&parsed) {
                Ok(parsed)
            } else {
                Err(format!("expects a JSON {ty}, got {}", json_kind(&parsed)))
            }
        }
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rendered {
    Text(String),
    Messages(Vec<RenderedMessage>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedMessage {
    pub role: &'static str,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct RenderError {
    /// `template` or `messages[N].content`.
    pub location: String,
    pub message: String,
}

/// Renders the prompt's template or messages with bound variables.
pub fn render(prompt: &Prompt, vars: &BTreeMap<String, Json>) -> Result<Rendered, RenderError> {
    let fail = |location: String| {
        move |e: template::TemplateError| RenderError {
            location,
            message: e.message,
        }
    };
    match &prompt.body {
        Body::Template(t) => template::render(t, vars)
            .map(Rendered::Text)
            .map_err(fail("template".into())),
        Body::Messages(ms) => ms
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let content = template::render(&m.content, vars)
                    .map_err(fail(format!("messages[{i}].content")))?;
                Ok(RenderedMessage {
                    role: Role::as_str(m.role),
                    content,
                    name: m.name.clone(),
                })
            })
            .collect::<Result<_, _>>()
            .map(Rendered::Messages),
    }
}
