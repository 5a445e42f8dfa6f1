//! From a YAML tree to a [`Prompt`], checking the shape of every field on the way and
//! collecting a finding for each problem (never stopping at the first).

use super::{
    Body, Compatibility, Compliance, Message, ModelBinding, Prompt, RiskTier, Role, VarType,
    Variable, id,
};
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
];
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

    fn model(&mut self, node: &Node) -> Option<ModelBinding> {
        match &node.value {
            Value::Str(s) => self.model_from_text(node, s),
            Value::Map(entries) => {
                let mut binding = ModelBinding {
                    provider: None,
                    name: String::new(),
                    params: BTreeMap::new(),
                    compatibility: BTreeMap::new(),
                    extra: BTreeMap::new(),
                };
                for e in entries {
                    match e.key.as_str() {
                        "provider" => binding.provider = self.string(e),
                        "name" => binding.name = self.string(e).unwrap_or_default(),
                        "params" => binding.params = self.model_params(&e.value),
                        "compatibility" => binding.compatibility = self.compatibility(&e.value),
                        _ => {
                            self.unknown_key(e, MODEL_FIELDS, "model field");
                            binding.extra.insert(e.key.clone(), yaml::to_json(&e.value));
                        }
                    }
                }
                if binding
                    .provider
                    .as_deref()
                    .is_some_and(|p| p.trim().is_empty())
                {
                    self.f.push_hint(
                        node.get("provider").map_or(node.start, |e| e.value.start),
                        Code::BadModel,
                        "`provider` is empty",
                        "name the provider (`openai`, `anthropic`, ...) or remove the key",
                    );
                }
                if binding.name.trim().is_empty() {
                    self.f.push_hint(
                        node.start,
                        Code::BadModel,
                        "the model mapping has no `name`",
                        "add `name: <model>` (and `provider: <provider>`)",
                    );
                }
                Some(binding)
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadModel,
                    format!("`model` must be `provider:name`, `name` or a mapping, found {}", node.kind_name()),
                    "e.g. `model: anthropic:claude-3-5-sonnet` or `model: {provider: openai, name: gpt-4o, params: {temperature: 0}}`",
                );
                None
            }
        }
    }

    fn model_from_text(&mut self, node: &Node, text: &str) -> Option<ModelBinding> {
        let text = text.trim();
        let (provider, name) = match text.split_once(':') {
            Some((p, n)) => (Some(p.to_owned()), n.to_owned()),
            None => (None, text.to_owned()),
        };
        if name.is_empty() || provider.as_deref() == Some("") || text.contains(char::is_whitespace)
        {
            self.f.push_hint(
                node.start,
                Code::BadModel,
                format!("`{text}` is not a model: expected `provider:name` or `name`"),
                "e.g. `openai:gpt-4o-mini` or `claude-3-5-sonnet`",
            );
            return None;
        }
        Some(ModelBinding {
            provider,
            name,
            params: BTreeMap::new(),
            compatibility: BTreeMap::new(),
            extra: BTreeMap::new(),
        })
    }

    fn model_params(&mut self, node: &Node) -> BTreeMap<String, Json> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "model.params",
                "a mapping (temperature, max_tokens, ...)",
            );
            return BTreeMap::new();
        };
        for e in entries {
            let range = match e.key.as_str() {
                "temperature" => Some((0.0, 2.0)),
                "top_p" => Some((0.0, 1.0)),
                "presence_penalty" | "frequency_penalty" => Some((-2.0, 2.0)),
                _ => None,
            };
            if let Some((lo, hi)) = range {
                match e.value.as_f64() {
                    Some(x) if (lo..=hi).contains(&x) => {}
                    Some(x) => self.f.push(
                        e.value.start,
                        Code::InvalidValue,
                        format!("`{}` is {x}, outside {lo}..={hi}", e.key),
                    ),
                    None => self.wrong_type(&e.value, &e.key, "a number"),
                }
            }
            if e.key == "max_tokens" {
                match e.value.value {
                    Value::Int(n) if n > 0 => {}
                    Value::Float(f) if f > 0.0 && f.fract() == 0.0 => {}
                    Value::Int(_) | Value::Float(_) => self.f.push(
                        e.value.start,
                        Code::InvalidValue,
                        "`max_tokens` must be a positive whole number",
                    ),
                    _ => self.wrong_type(&e.value, "max_tokens", "a positive integer"),
                }
            }
        }
        entries
            .iter()
            .map(|e| (e.key.clone(), yaml::to_json(&e.value)))
            .collect()
    }

    fn compatibility(&mut self, node: &Node) -> BTreeMap<String, Compatibility> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "model.compatibility",
                "a mapping of `provider:model: works|needs-tuning|not-supported`",
            );
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for e in entries {
            let parsed = e.value.as_str().and_then(Compatibility::parse);
            match parsed {
                Some(c) => {
                    out.insert(e.key.clone(), c);
                }
                None => self.enum_error(
                    &e.value,
                    &format!("compatibility of `{}`", e.key),
                    Compatibility::NAMES,
                ),
            }
        }
        out
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

    fn body(&mut self, template: Option<&Entry>, messages: Option<&Entry>) -> Body {
        match (template, messages) {
            (Some(t), Some(m)) => {
                let later = if t.key_pos > m.key_pos { t } else { m };
                self.f.push_hint(
                    later.key_pos,
                    Code::TemplateOrMessages,
                    "both `template` and `messages` are set",
                    "a prompt is either a text `template` or chat `messages`; remove one",
                );
                Body::Template(String::new())
            }
            (None, None) => {
                self.f.push_hint(
                    self.root_pos,
                    Code::TemplateOrMessages,
                    "the prompt has neither `template` nor `messages`",
                    "add `template: |` with the prompt text, or `messages:` with a list of `{role, content}`",
                );
                Body::Template(String::new())
            }
            (Some(t), None) => {
                let text = self.string(t).unwrap_or_default();
                if text.trim().is_empty() && t.value.as_str().is_some() {
                    self.f.push(
                        t.value.start,
                        Code::TemplateOrMessages,
                        "`template` is empty",
                    );
                }
                Body::Template(text)
            }
            (None, Some(m)) => Body::Messages(self.messages(&m.value)),
        }
    }

    fn messages(&mut self, node: &Node) -> Vec<Message> {
        let Some(items) = node.as_seq() else {
            self.f.push_hint(
                node.start,
                Code::BadMessage,
                format!("`messages` must be a list, found {}", node.kind_name()),
                "write `messages:` followed by items like `- role: user` / `  content: ...`",
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.f
                .push(node.start, Code::TemplateOrMessages, "`messages` is empty");
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(entries) = item.as_map() else {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!(
                        "messages[{i}] must be a mapping with `role` and `content`, found {}",
                        item.kind_name()
                    ),
                );
                continue;
            };
            let mut role = None;
            let mut content = None;
            let mut name = None;
            let mut extra = BTreeMap::new();
            for e in entries {
                match e.key.as_str() {
                    "role" => match e.value.as_str() {
                        Some(r) => match Role::parse(r) {
                            Some(parsed) => role = Some(parsed),
                            None => {
                                let hint = did_you_mean(r, Role::NAMES.iter().copied())
                                    .map_or_else(
                                        || "use system, user or assistant".to_owned(),
                                        |n| format!("did you mean `{n}`?"),
                                    );
                                self.f.push_hint(
                                    e.value.start,
                                    Code::BadMessage,
                                    format!("messages[{i}]: role `{r}` is not one of system, user, assistant"),
                                    hint,
                                );
                            }
                        },
                        None => self.f.push(
                            e.value.start,
                            Code::BadMessage,
                            format!(
                                "messages[{i}]: `role` must be a string, found {}",
                                e.value.kind_name()
                            ),
                        ),
                    },
                    "content" => match e.value.as_str() {
                        Some(c) => content = Some(c.to_owned()),
                        None => self.f.push(
                            e.value.start,
                            Code::BadMessage,
                            format!(
                                "messages[{i}]: `content` must be text, found {}",
                                e.value.kind_name()
                            ),
                        ),
                    },
                    "name" => name = self.string(e),
                    _ => {
                        self.unknown_key(e, MESSAGE_FIELDS, "message field");
                        extra.insert(e.key.clone(), yaml::to_json(&e.value));
                    }
                }
            }
            let has_role_key = entries.iter().any(|e| e.key == "role");
            let has_content_key = entries.iter().any(|e| e.key == "content");
            if !has_role_key {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!("messages[{i}] has no `role`"),
                );
            }
            if !has_content_key {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!("messages[{i}] has no `content`"),
                );
            }
            if let (Some(role), Some(content)) = (role, content) {
                out.push(Message {
                    role,
                    content,
                    name,
                    extra,
                });
            }
        }
        out
    }

    fn variables(&mut self, node: &Node) -> Option<BTreeMap<String, Variable>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Null => {}
            // Shorthand: `variables: [user, question]` declares required strings.
            Value::Seq(items) => {
                for item in items {
                    match item.as_str() {
                        Some(name) => {
                            self.variable_name(item.start, name);
                            out.insert(name.to_owned(), plain_variable(VarType::String));
                        }
                        None => self.f.push(
                            item.start,
                            Code::BadVariable,
                            format!(
                                "a variable name must be a string, found {}",
                                item.kind_name()
                            ),
                        ),
                    }
                }
            }
            Value::Map(entries) => {
                for e in entries {
                    self.variable_name(e.key_pos, &e.key);
                    if let Some(v) = self.variable_spec(&e.key, &e.value) {
                        out.insert(e.key.clone(), v);
                    }
                }
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadVariable,
                    format!("`variables` must be a mapping, found {}", node.kind_name()),
                    "write `variables:` then `  user: {type: string, required: true}`",
                );
                return None;
            }
        }
        Some(out)
    }

    fn variable_name(&mut self, pos: Pos, name: &str) {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.f.push_hint(
                pos,
                Code::BadVariable,
                format!("`{name}` is not a valid variable name"),
                "templates can only refer to names of letters, digits and `_` that do not start with a digit",
            );
        }
    }

    fn variable_spec(&mut self, name: &str, node: &Node) -> Option<Variable> {
        match &node.value {
            Value::Null => Some(plain_variable(VarType::String)),
            // Shorthand: `user: string`.
            Value::Str(t) => match VarType::parse(t) {
                Some(ty) => Some(plain_variable(ty)),
                None => {
                    self.enum_error(
                        node,
                        &format!("the type of variable `{name}`"),
                        VarType::NAMES,
                    );
                    None
                }
            },
            Value::Map(entries) => {
                let mut ty = VarType::String;
                let mut required = None;
                let mut default = None;
                let mut description = None;
                let mut extra = BTreeMap::new();
                for e in entries {
                    match e.key.as_str() {
                        "type" => match e.value.as_str().and_then(VarType::parse) {
                            Some(t) => ty = t,
                            None => self.enum_error(
                                &e.value,
                                &format!("the type of variable `{name}`"),
                                VarType::NAMES,
                            ),
                        },
                        "required" => match e.value.value {
                            Value::Bool(b) => required = Some((b, e.key_pos)),
                            _ => self.wrong_type(&e.value, "required", "true or false"),
                        },
                        "default" => default = Some((yaml::to_json(&e.value), e.value.start)),
                        "description" => description = self.string(e),
                        _ => {
                            self.unknown_key(e, VARIABLE_FIELDS, "variable field");
                            extra.insert(e.key.clone(), yaml::to_json(&e.value));
                        }
                    }
                }
                if let Some((value, pos)) = &default
                    && !ty.accepts(value)
                {
                    self.f.push_hint(
                        *pos,
                        Code::BadVariable,
                        format!("the default of `{name}` is not a {ty}"),
                        format!("give a {ty} default, or change `type`"),
                    );
                }
                if let (Some((true, pos)), Some(_)) = (required, &default) {
                    self.f.push_hint(
                        pos,
                        Code::RequiredWithDefault,
                        format!("`{name}` is marked required but has a default, so it can never be missing"),
                        "drop `required: true` (a variable with a default is optional), or drop the default to make callers pass it",
                    );
                }
                Some(Variable {
                    ty,
                    required: required.map_or(default.is_none(), |(b, _)| b),
                    default: default.map(|(v, _)| v),
                    description,
                    extra,
                })
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadVariable,
                    format!(
                        "variable `{name}` must be a mapping or a type name, found {}",
                        node.kind_name()
                    ),
                    "e.g. `user: {type: string, required: true, description: ...}`",
                );
                None
            }
        }
    }

    fn metrics(&mut self, node: &Node) -> BTreeMap<String, Json> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, "metrics", "a mapping of numbers");
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for e in entries {
            let Some(x) = e.value.as_f64() else {
                self.wrong_type(&e.value, &format!("metrics.{}", e.key), "a number");
                continue;
            };
            let problem = match e.key.as_str() {
                "baseline_accuracy" if !(0.0..=1.0).contains(&x) => {
                    Some("a fraction between 0 and 1 (0.92, not 92)")
                }
                "max_cost_per_call_usd" if !(x >= 0.0 && x.is_finite()) => {
                    Some("a non-negative amount of US dollars")
                }
                "max_latency_ms" if !(x > 0.0 && x.is_finite()) => {
                    Some("a positive number of milliseconds")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                self.f.push(
                    e.value.start,
                    Code::InvalidValue,
                    format!("`metrics.{}` is {x}; it must be {problem}", e.key),
                );
            }
            out.insert(e.key.clone(), yaml::number_json(x));
        }
        out
    }

    fn compliance(&mut self, node: &Node) -> Option<Compliance> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "compliance",
                "a mapping (risk_tier, intended_use, ...)",
            );
            return None;
        };
        let mut c = Compliance::default();
        for e in entries {
            match e.key.as_str() {
                "risk_tier" => match e.value.as_str().and_then(RiskTier::parse) {
                    Some(t) => c.risk_tier = Some(t),
                    None => self.enum_error(&e.value, "`compliance.risk_tier`", RiskTier::NAMES),
                },
                "decision_role" => {
                    if !e
                        .value
                        .as_str()
                        .is_some_and(|r| DECISION_ROLES.contains(&r))
                    {
                        self.enum_error(&e.value, "`compliance.decision_role`", DECISION_ROLES);
                    }
                }
                "customer_facing" => {
                    if !matches!(e.value.value, Value::Bool(_)) {
                        self.wrong_type(&e.value, "compliance.customer_facing", "true or false");
                    }
                }
                "data_sources" | "regulatory_tags" => {
                    let _ = self.string_list(e);
                }
                k if COMPLIANCE_FIELDS.contains(&k) => {
                    if !matches!(e.value.value, Value::Str(_) | Value::Null) {
                        self.wrong_type(&e.value, &format!("compliance.{k}"), "text");
                    }
                }
                _ => self.unknown_key(e, COMPLIANCE_FIELDS, "compliance field"),
            }
            c.fields.insert(e.key.clone(), yaml::to_json(&e.value));
        }
        if c.risk_tier.is_none() && node.get("risk_tier").is_none() {
            self.f.push_hint(
                node.start,
                Code::MissingField,
                "`compliance` has no `risk_tier`",
                "add `risk_tier: low|medium|high`; the fields required depend on it",
            );
        }
        Some(c)
    }
}

fn plain_variable(ty: VarType) -> Variable {
    Variable {
        ty,
        required: true,
        default: None,
        description: None,
        extra: BTreeMap::new(),
    }
}
