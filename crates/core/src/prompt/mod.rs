//! The prompt file's domain types. `decode` builds them from a YAML tree while
//! collecting findings; everything else (hash, render, diff, list) reads these.

mod decode;
pub mod id;

pub use decode::{FIELDS, decode, parse_version_text};
/// Field lists shared with the configuration.
pub mod decode_fields {
    pub use super::decode::COMPLIANCE_FIELDS;
}

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;

/// A prompt version as written in its file, normalised (`version: 2` is `2.0.0`,
/// `model: a:b` is `{provider: a, name: b}`). Serialising it gives the canonical content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prompt {
    pub id: String,
    #[serde(serialize_with = "serialize_version")]
    pub version: semver::Version,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_version"
    )]
    pub parent: Option<semver::Version>,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub model: ModelBinding,
    #[serde(flatten)]
    pub body: Body,
    /// `None` when the file has no `variables` block (they are then inferred).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, Variable>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance: Option<Compliance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changelog: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// Keys promptops does not know: kept (they are content) and warned about.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

fn serialize_version<S: serde::Serializer>(v: &semver::Version, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn serialize_opt_version<S: serde::Serializer>(
    v: &Option<semver::Version>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

impl Prompt {
    /// The variables the prompt declares, or an empty map when it declares none.
    pub fn declared_variables(&self) -> &BTreeMap<String, Variable> {
        static EMPTY: BTreeMap<String, Variable> = BTreeMap::new();
        self.variables.as_ref().unwrap_or(&EMPTY)
    }

    /// The metric named `name` as a number (`baseline_accuracy`, `max_cost_per_call_usd`, ...).
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).and_then(Json::as_f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    Template(String),
    Messages(Vec<Message>),
}

impl Body {
    /// Every template text in the body, with where it lives (`template`, `messages[1].content`).
    pub fn texts(&self) -> Vec<(String, &str)> {
        match self {
            Body::Template(t) => vec![("template".to_owned(), t.as_str())],
            Body::Messages(ms) => ms
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("messages[{i}].content"), m.content.as_str()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unknown keys: kept as content (and warned about).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub const NAMES: &'static [&'static str] = &["system", "user", "assistant"];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelBinding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Json>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub compatibility: BTreeMap<String, Compatibility>,
    /// Unknown keys: kept as content (and warned about).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

impl fmt::Display for ModelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{p}:{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compatibility {
    Works,
    NeedsTuning,
    NotSupported,
}

impl Compatibility {
    pub const NAMES: &'static [&'static str] = &["works", "needs-tuning", "not-supported"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "works" => Some(Self::Works),
            "needs-tuning" => Some(Self::NeedsTuning),
            "not-supported" => Some(Self::NotSupported),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub ty: VarType,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unknown keys: kept as content (and warned about).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Json>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    String,
    Number,
    Boolean,
    List,
    Object,
}

impl VarType {
    pub const NAMES: &'static [&'static str] = &["string", "number", "boolean", "list", "object"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "string" | "str" => Some(Self::String),
            "number" | "integer" | "int" | "float" => Some(Self::Number),
            "boolean" | "bool" => Some(Self::Boolean),
            "list" | "array" => Some(Self::List),
            "object" | "map" | "dict" => Some(Self::Object),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::List => "list",
            Self::Object => "object",
        }
    }

    /// Whether a JSON value is of this type.
    pub fn accepts(self, value: &Json) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::List => value.is_array(),
            Self::Object => value.is_object(),
        }
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MAS FEAT compliance metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Compliance {
    /// Parsed from `fields["risk_tier"]`, which stays the serialised form.
    #[serde(skip)]
    pub risk_tier: Option<RiskTier>,
    /// Every field as written (strings, booleans, lists), including `risk_tier`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, Json>,
}

impl Compliance {
    /// Whether `field` is present and not empty.
    pub fn has(&self, field: &str) -> bool {
        match self.fields.get(field) {
            None | Some(Json::Null) => false,
            Some(Json::String(s)) => !s.trim().is_empty(),
            Some(Json::Array(a)) => !a.is_empty(),
            Some(_) => true,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

impl RiskTier {
    pub const NAMES: &'static [&'static str] = &["low", "medium", "high"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}
