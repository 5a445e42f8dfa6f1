//! From a YAML tree to a [`Prompt`], checking the shape of every field on the way and
//! collecting a finding for each problem (never stopping at the first).

use super::{
    Body, Compatibility, Compliance, Message, ModelBinding, Prompt, RiskTier, Role, VarType,
    Variable, id,
};
mod body;
mod meta;
mod model;

use crate::diagnostic::{Code, Findings, Pos, did_you_mean};
use crate::yaml::{self, Entry, Node, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The top-level keys of a prompt file.
pub const FIELDS: &[&str] = &[
    "id",
    "version",
    "parent",
    "owner",
    "description",
    "model",
    "template",
    "messages",
    "variables",
    "tags",
    "metrics",
    "changelog",
    "created",
    "updated",
    "compliance",
];
const MODEL_FIELDS: &[&str] = &["provider", "name", "params", "compatibility"];
const VARIABLE_FIELDS: &[&str] = &["type", "required", "default", "description"];
const MESSAGE_FIELDS: &[&str] = &["role", "content", "name"];
/// MAS FEAT compliance fields.
pub const COMPLIANCE_FIELDS: &[&str] = &[
    "risk_tier",
    "intended_use",
    "accountable_owner",
    "decision_role",
    "customer_facing",
    "data_sources",
    "fairness_assessment",
    "explainability_notes",
    "human_oversight",
    "regulatory_tags",
    "content_capture",
];
/// How a prompt's inputs and outputs are kept when applications report its calls.
pub const CONTENT_CAPTURES: &[&str] = &["none", "hashed", "full"];
const DECISION_ROLES: &[&str] = &["informational", "assistive", "automated_decision"];

/// Decodes a prompt file's root node. `None` when the root is not a mapping (reported).
pub fn decode(root: &Node, f: &mut Findings) -> Option<Prompt> {
    let Some(entries) = root.as_map() else {
        f.push_hint(
            root.start,
            Code::NotAMapping,
            format!("a prompt file is a mapping of fields, found {}", root.kind_name()),
            "start with `id: <module>.<name>`, `version: 1.0.0`, `owner: ...`, `model: ...` and a `template`",
        );
        return None;
    };
    let mut d = Decoder {
        f,
        root_pos: root.start,
    };
    let get = |key: &str| entries.iter().find(|e| e.key == key);

    let mut extra = BTreeMap::new();
    for e in entries {
        if !FIELDS.contains(&e.key.as_str()) {
            d.unknown_key(e, FIELDS, "prompt field");
            extra.insert(e.key.clone(), yaml::to_json(&e.value));
        }
    }

    let id = d.required_string(
        get("id"),
        "id",
        "add `id: <module>.<name>` matching the file's path under prompts/",
    );
    if let (Some(id_value), Some(e)) = (&id, get("id"))
        && let Some(problem) = id::syntax_problem(id_value)
    {
        d.f.push(
            e.value.start,
            Code::IdMismatch,
            format!("malformed id: {problem}"),
        );
    }

    let version = match get("version") {
        None => {
            d.missing(
                "version",
                "add `version: 1.0.0` (semver; a bare integer `N` means `N.0.0`)",
            );
            None
        }
        Some(e) => d.version(&e.value, "version"),
    };
    let parent = get("parent").and_then(|e| {
        let parent = d.version(&e.value, "parent")?;
        if let Some(v) = &version
            && parent >= *v {
                d.f.push_hint(
                    e.value.start,
                    Code::ParentNotLower,
                    format!("`parent` {parent} is not lower than `version` {v}"),
                    "`parent` names the version this one derives from, so it must be older; raise `version` or fix `parent`",
                );
            }
        Some(parent)
    });

    let owner = d.required_string(
        get("owner"),
        "owner",
        "add `owner: <team or person>` so someone answers for this prompt",
    );
    let description = get("description").and_then(|e| d.string(e));
    let description_missing = match get("description") {
        None => true,
        Some(_) => description.as_deref().is_some_and(|t| t.trim().is_empty()),
    };
    if description_missing {
        d.f.push_hint(
            d.root_pos,
            Code::MissingDescription,
            "`description` is missing",
            "add `description:` saying what the prompt does; reviewers and `promptops list` show it",
        );
    }

    let model = match get("model") {
        None => {
            d.missing(
                "model",
                "add `model: <provider>:<name>`, e.g. `model: openai:gpt-4o-mini`",
            );
            None
        }
        Some(e) => d.model(&e.value),
    };

    let body = d.body(get("template"), get("messages"));
    let variables = get("variables").and_then(|e| d.variables(&e.value));
    let tags = get("tags").map(|e| d.string_list(e)).unwrap_or_default();
    let metrics = get("metrics")
        .map(|e| d.metrics(&e.value))
        .unwrap_or_default();
    let compliance = get("compliance").and_then(|e| d.compliance(&e.value));
    let changelog = get("changelog")
        .filter(|e| !e.value.is_null())
        .map(|e| yaml::to_json(&e.value));
    let created = get("created").and_then(|e| d.scalar_text(e));
    let updated = get("updated").and_then(|e| d.scalar_text(e));

    Some(Prompt {
        id: id.unwrap_or_default(),
        version: version.unwrap_or_else(|| semver::Version::new(0, 0, 0)),
        parent,
        owner: owner.unwrap_or_default(),
        description,
        model: model.unwrap_or_else(|| ModelBinding {
            provider: None,
            name: String::new(),
            params: BTreeMap::new(),
            compatibility: BTreeMap::new(),
            extra: BTreeMap::new(),
        }),
        body,
        variables,
        tags,
        metrics,
        compliance,
        changelog,
        created,
        updated,
        extra,
    })
}

/// Parses a version string: semver, or a bare integer `N` meaning `N.0.0`.
pub fn parse_version_text(text: &str) -> Result<semver::Version, (String, String)> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(|n| semver::Version::new(n, 0, 0))
            .map_err(|_| {
                (
                    format!("`{text}` is too large for a version"),
                    "use MAJOR.MINOR.PATCH".into(),
                )
            });
    }
    match semver::Version::parse(text) {
        Ok(v) => Ok(v),
        Err(e) => {
            let hint = if let Some(rest) = text.strip_prefix(['v', 'V']) {
                format!("drop the leading `v`: `{rest}`")
            } else if text.split('.').count() == 2
                && text.split('.').all(|p| p.parse::<u64>().is_ok())
            {
                format!("write all three parts: `{text}.0`")
            } else {
                "use MAJOR.MINOR.PATCH, e.g. `1.4.0`, or a bare integer".into()
            };
            Err((format!("`{text}` is not a semver version ({e})"), hint))
        }
    }
}

struct Decoder<'f> {
    f: &'f mut Findings,
    root_pos: Pos,
}

impl Decoder<'_> {
    fn missing(&mut self, field: &str, hint: &str) {
        self.f.push_hint(
            self.root_pos,
            Code::MissingField,
            format!("missing required field `{field}`"),
            hint,
        );
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.f.push(
            node.start,
            Code::WrongType,
            format!("`{what}` must be {expected}, found {}", node.kind_name()),
        );
    }

    fn unknown_key(&mut self, e: &Entry, known: &[&str], kind: &str) {
        match did_you_mean(&e.key, known.iter().copied()) {
            Some(near) => self.f.push_hint(
                e.key_pos,
                Code::UnknownKey,
                format!("unknown {kind} `{}`", e.key),
                format!("did you mean `{near}`?"),
            ),
            None => self.f.push_hint(
                e.key_pos,
                Code::UnknownKey,
                format!("unknown {kind} `{}`", e.key),
                format!("known keys here: {}", known.join(", ")),
            ),
        }
    }

    fn string(&mut self, e: &Entry) -> Option<String> {
        match &e.value.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(&e.value, &e.key, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, e: Option<&Entry>, field: &str, hint: &str) -> Option<String> {
        let Some(e) = e else {
            self.missing(field, hint);
            return None;
        };
        let s = self.string(e)?;
        if s.trim().is_empty() {
            self.f.push_hint(
                e.value.start,
                Code::MissingField,
                format!("`{field}` is empty"),
                hint,
            );
        }
        Some(s)
    }

    /// Dates and other free scalars: any scalar, kept as written.
    fn scalar_text(&mut self, e: &Entry) -> Option<String> {
        match &e.value.value {
            Value::Seq(_) | Value::Map(_) => {
                self.wrong_type(&e.value, &e.key, "a date or text");
                None
            }
            Value::Null => None,
            _ => Some(e.value.raw().to_owned()),
        }
    }

    fn string_list(&mut self, e: &Entry) -> Vec<String> {
        match &e.value.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| match &item.value {
                    Value::Str(s) => Some(s.clone()),
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(item.raw().to_owned()),
                    _ => {
                        self.wrong_type(item, &format!("{} item", e.key), "a string");
                        None
                    }
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.f.push_hint(
                    e.value.start,
                    Code::WrongType,
                    format!(
                        "`{}` must be a list of strings, found {}",
                        e.key,
                        e.value.kind_name()
                    ),
                    format!("write `{}: [a, b]`", e.key),
                );
                Vec::new()
            }
        }
    }

    fn version(&mut self, node: &Node, field: &str) -> Option<semver::Version> {
        let text = match &node.value {
            Value::Int(_) | Value::Float(_) | Value::Str(_) => node.raw(),
            _ => {
                self.wrong_type(node, field, "a semver version like `1.2.0`");
                return None;
            }
        };
        match parse_version_text(text) {
            Ok(v) => Some(v),
            Err((message, hint)) => {
                self.f.push_hint(
                    node.start,
                    Code::BadVersion,
                    format!("`{field}`: {message}"),
                    hint,
                );
                None
            }
        }
    }

    fn enum_error(&mut self, node: &Node, what: &str, allowed: &[&str]) {
        let given = node.raw();
        let hint = match did_you_mean(given, allowed.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("use one of: {}", allowed.join(", ")),
        };
        self.f.push_hint(
            node.start,
            Code::InvalidValue,
            format!("{what} is `{given}`, not one of {}", allowed.join(", ")),
            hint,
        );
    }
}
