//! What changed between two versions of a prompt, and whether the version bump fits.
//!
//! The rules, from the point of view of the code that calls the prompt:
//! - **major**: the caller's contract changes: a variable removed, a new required
//!   variable, a variable's type changed or made required, `template` ↔ `messages`;
//! - **minor**: what the model sees or how it is run: template or message text, model,
//!   params, optional variables and defaults, metrics, compliance;
//! - **patch**: metadata only: description, tags, owner, changelog, dates.
//!
//! Below 1.0.0 each level moves down one (a breaking change needs a minor bump), as
//! Cargo and npm read semver.

use crate::canonical;
use crate::prompt::{Body, Prompt};
use serde::Serialize;
use serde_json::Value as Json;
use similar::TextDiff;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }

    /// The smallest version after `v` with this bump.
    pub fn apply(self, v: &semver::Version) -> semver::Version {
        match self {
            Bump::Major => semver::Version::new(v.major + 1, 0, 0),
            Bump::Minor => semver::Version::new(v.major, v.minor + 1, 0),
            Bump::Patch if !v.pre.is_empty() => semver::Version::new(v.major, v.minor, v.patch),
            Bump::Patch => semver::Version::new(v.major, v.minor, v.patch + 1),
        }
    }
}

/// One changed metadata field, by dotted path (`model.params.temperature`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Json>,
    pub impact: Bump,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Verdict {
    /// Nothing but (at most) the version differs.
    Unchanged,
    /// The bump is at least what the change needs.
    Fits { required: Bump },
    /// The bump is smaller than the change needs.
    TooSmall { required: Bump, suggested: String },
    /// The version did not move but the content did.
    NotBumped { required: Bump, suggested: String },
    /// The new version is lower than the old one.
    Backwards,
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Unchanged | Verdict::Fits { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    pub old_version: String,
    pub new_version: String,
    pub old_hash: String,
    pub new_hash: String,
    /// Unified diff of the prompt text (template, or messages one after another); empty when equal.
    pub text_diff: String,
    pub changes: Vec<FieldChange>,
    pub verdict: Verdict,
}

/// Compares two versions; `old_name`/`new_name` label the unified diff.
pub fn diff(old: &Prompt, new: &Prompt, old_name: &str, new_name: &str) -> PromptDiff {
    let old_text = body_text(&old.body);
    let new_text = body_text(&new.body);
    let text_diff = if old_text == new_text {
        String::new()
    } else {
        TextDiff::from_lines(&old_text, &new_text)
            .unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
            .to_string()
    };

    let mut changes = Vec::new();
    let old_json = metadata_json(old);
    let new_json = metadata_json(new);
    compare("", &old_json, &new_json, &mut changes);
    if std::mem::discriminant(&old.body) != std::mem::discriminant(&new.body) {
        changes.push(FieldChange {
            path: "body".into(),
            before: Some(Json::String(body_kind(&old.body).into())),
            after: Some(Json::String(body_kind(&new.body).into())),
            impact: Bump::Major,
        });
    }

    let mut required = changes.iter().map(|c| c.impact).max();
    if !text_diff.is_empty() {
        required = required.max(Some(Bump::Minor));
    }
    let verdict = verdict(&old.version, &new.version, required);
    PromptDiff {
        old_version: old.version.to_string(),
        new_version: new.version.to_string(),
        old_hash: canonical::content_hash(old).to_string(),
        new_hash: canonical::content_hash(new).to_string(),
        text_diff,
        changes,
        verdict,
    }
}

fn verdict(old: &semver::Version, new: &semver::Version, required: Option<Bump>) -> Verdict {
    if new < old {
        return Verdict::Backwards;
    }
    let Some(required) = required else {
        return Verdict::Unchanged;
    };
    // Below 1.0.0 a breaking change is a minor bump and everything else a patch.
    let required = if old.major == 0 {
        match required {
            Bump::Major => Bump::Minor,
            _ => Bump::Patch,
        }
    } else {
        required
    };
    let suggested = required.apply(old).to_string();
    if new == old {
        return Verdict::NotBumped {
            required,
            suggested,
        };
    }
    let actual = if new.major > old.major {
        Bump::Major
    } else if new.minor > old.minor {
        Bump::Minor
    } else {
        Bump::Patch
    };
    if actual >= required {
        Verdict::Fits { required }
    } else {
        Verdict::TooSmall {
            required,
            suggested,
        }
    }
}

/// The text a reader compares: the template, or each message under a role header.
pub fn body_text(body: &Body) -> String {
    match body {
        Body::Template(t) => t.clone(),
        Body::Messages(ms) => ms
            .iter()
            .map(|m| {
                let mut content = m.content.clone();
                if !content.ends_with('\n') {
                    content.push('\n');
                }
                match &m.name {
                    Some(name) => format!("[{} name={name}]\n{content}", m.role.as_str()),
                    None => format!("[{}]\n{content}", m.role.as_str()),
                }
            })
            .collect(),
    }
}

fn body_kind(body: &Body) -> &'static str {
    match body {
        Body::Template(_) => "template",
        Body::Messages(_) => "messages",
    }
}

/// The canonical JSON minus the text (compared separately) and the version (the verdict's input).
fn metadata_json(p: &Prompt) -> Json {
    let mut json = serde_json::to_value(p).unwrap_or(Json::Null);
    if let Json::Object(map) = &mut json {
        for key in ["template", "version"] {
            map.remove(key);
        }
        // Message text is compared as text; what is left of a message (unknown keys)
        // is metadata.
        if let Some(Json::Array(messages)) = map.remove("messages") {
            let rest: Vec<Json> = messages
                .into_iter()
                .map(|mut m| {
                    if let Json::Object(fields) = &mut m {
                        for key in ["role", "content", "name"] {
                            fields.remove(key);
                        }
                    }
                    m
                })
                .collect();
            if rest
                .iter()
                .any(|m| m.as_object().is_some_and(|o| !o.is_empty()))
            {
                map.insert("messages".into(), Json::Array(rest));
            }
        }
    }
    json
}

fn compare(path: &str, old: &Json, new: &Json, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    if let (Json::Object(a), Json::Object(b)) = (old, new) {
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match (a.get(key), b.get(key)) {
                (Some(x), Some(y)) => compare(&child, x, y, out),
                (x, y) => out.push(change(child, x.cloned(), y.cloned())),
            }
        }
        return;
    }
    out.push(change(
        path.to_owned(),
        Some(old.clone()),
        Some(new.clone()),
    ));
}

fn change(path: String, before: Option<Json>, after: Option<Json>) -> FieldChange {
    let impact = impact(&path, before.as_ref(), after.as_ref());
    FieldChange {
        path,
        before,
        after,
        impact,
    }
}

fn impact(path: &str, before: Option<&Json>, after: Option<&Json>) -> Bump {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["id"] => Bump::Major,
        ["variables"] => Bump::Minor,
        ["variables", _name] => match (before, after) {
            (Some(_), None) => Bump::Major,
            (None, Some(v)) if v.get("required") == Some(&Json::Bool(true)) => Bump::Major,
            _ => Bump::Minor,
        },
        ["variables", _name, "type"] => Bump::Major,
        ["variables", _name, "required"] if after == Some(&Json::Bool(true)) => Bump::Major,
        ["variables", _name, "description"] => Bump::Patch,
        ["variables", ..] => Bump::Minor,
        ["model" | "metrics" | "compliance", ..] => Bump::Minor,
        _ => Bump::Patch,
    }
}
