//! The Langfuse prompt model seen from ours, for the Langfuse-compatible API: prompt
//! names ↔ ids, prompt text ↔ templates ([`text`]), and a new version built from what a
//! Langfuse SDK sends ([`new_version`]). Environments ↔ labels is a setting
//! ([`crate::config::LangfuseSettings`]). Pure functions: the server does the I/O.

pub mod text;

use crate::canonical::content_hash;
use crate::diagnostic::{Diagnostic, shown};
use crate::diff::{Verdict, diff};
use crate::prompt::{Prompt, Role, id};
use crate::validate::{Rules, check_source};
use serde_json::{Map, Value as Json, json};

/// The label a Langfuse SDK asks for when it names neither a label nor a version.
pub const PRODUCTION: &str = "production";
/// The label that always names a prompt's newest version; it is never moved by hand.
pub const LATEST: &str = "latest";

/// The prompt id a Langfuse name stands for. Langfuse folders are our modules, so
/// `support/answer` and `support.answer` name the same prompt; `None` with the reason
/// when the name cannot be an id (ids are dot-separated letters, digits, `_`, `-`).
pub fn id_of_name(name: &str) -> Result<String, String> {
    let id = name.replace('/', ".");
    match id::syntax_problem(&id) {
        None => Ok(id),
        Some(problem) => Err(format!(
            "`{}` cannot name a promptops prompt: {problem} (folders `a/b` map to ids `a.b`)",
            shown(name)
        )),
    }
}

/// A Langfuse chat message as sent to create a version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: String,
    pub content: String,
    pub name: Option<String>,
}

/// The prompt of a version created through the Langfuse API.
#[derive(Debug, Clone, PartialEq)]
pub enum NewBody {
    Text(String),
    Chat(Vec<NewMessage>),
}

/// What a Langfuse SDK sends to create a version, as far as the prompt file goes.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub id: &'a str,
    pub body: &'a NewBody,
    /// `None` or `{}`: the previous version's model binding (the SDKs send `{}` when
    /// the caller gave none).
    pub config: Option<&'a Json>,
    /// `None`: the previous version's tags.
    pub tags: Option<&'a [String]>,
    /// The new version's `changelog`.
    pub commit_message: Option<&'a str>,
}

/// Why a version cannot be made from what was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NewVersionError {
    /// A field the caller sent (or left out) that cannot become a prompt file: what and
    /// how to fix it.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// The file built from it does not validate (a parameter out of range…): the
    /// validator's findings.
    #[error("the prompt file built from the request does not validate")]
    Invalid(Vec<Diagnostic>),
}

fn field(field: impl Into<String>, message: impl Into<String>) -> NewVersionError {
    NewVersionError::Field {
        field: field.into(),
        message: message.into(),
    }
}

/// The path a prompt id's file has (for findings).
pub fn file_path(id: &str) -> String {
    format!("prompts/{}.yaml", id.replace('.', "/"))
}

/// The next version's prompt file and its prompt. Everything Langfuse does not carry
/// (owner, description, variable specs, metrics, compliance, other keys) comes from
/// `previous`, the newest version; a first version is owned by `owner` and needs a
/// model in `config.model`. The version number is the smallest bump over `previous`
/// that `promptops diff` accepts for the change (1.0.0 for a first version); content
/// equal to `previous` keeps its number, so publishing it returns `previous`.
pub fn new_version(
    new: &NewVersion<'_>,
    previous: Option<&Prompt>,
    owner: &str,
    rules: &Rules,
) -> Result<(String, Prompt), NewVersionError> {
    let first = semver::Version::new(1, 0, 0);
    let draft_version = previous.map_or(&first, |p| &p.version);
    let (source, prompt) = build(new, previous, owner, draft_version, rules)?;
    let Some(previous) = previous else {
        return Ok((source, prompt));
    };
    let next = match diff(previous, &prompt, "previous", "new").verdict {
        Verdict::NotBumped { suggested, .. } | Verdict::TooSmall { suggested, .. } => {
            semver::Version::parse(&suggested)
                .map_err(|e| field("version", format!("the next version `{suggested}`: {e}")))?
        }
        _ => return Ok((source, prompt)),
    };
    build(new, Some(previous), owner, &next, rules)
}

/// The file for `version`, as YAML when it reads back as the same prompt, else as JSON
/// (which is YAML too); validated like any pushed file.
fn build(
    new: &NewVersion<'_>,
    previous: Option<&Prompt>,
    owner: &str,
    version: &semver::Version,
    rules: &Rules,
) -> Result<(String, Prompt), NewVersionError> {
    let file = file_value(new, previous, owner, version)?;
    let path = file_path(new.id);
    let parse = |source: &str| {
        let report = check_source(&path, Some(new.id), source.as_bytes(), rules);
        match report.valid_prompt() {
            Some(p) => Ok(p.clone()),
            None => Err(NewVersionError::Invalid(report.diagnostics)),
        }
    };
    let json_text = serde_json::to_string_pretty(&file).unwrap_or_default() + "\n";
    let from_json = parse(&json_text)?;
    let yaml_text = crate::yaml::emit::to_yaml(&file);
    match parse(&yaml_text) {
        Ok(p) if content_hash(&p) == content_hash(&from_json) => Ok((yaml_text, p)),
        // The emitter's form read differently: the JSON form says exactly what was meant.
        _ => Ok((json_text, from_json)),
    }
}

/// The prompt file as a JSON value: the previous version's content with what the
/// request gives in place.
fn file_value(
    new: &NewVersion<'_>,
    previous: Option<&Prompt>,
    owner: &str,
    version: &semver::Version,
) -> Result<Json, NewVersionError> {
    let mut file = match previous.map(serde_json::to_value) {
        Some(Ok(Json::Object(map))) => map,
        _ => Map::new(),
    };
    for key in [
        "id",
        "version",
        "parent",
        "template",
        "messages",
        "variables",
        "changelog",
        "created",
        "updated",
    ] {
        file.remove(key);
    }
    let mut ordered = Map::new();
    ordered.insert("id".into(), json!(new.id));
    ordered.insert("version".into(), json!(version.to_string()));
    ordered.insert(
        "owner".into(),
        file.remove("owner").unwrap_or_else(|| json!(owner)),
    );
    if let Some(description) = file.remove("description") {
        ordered.insert("description".into(), description);
    }
    ordered.insert("model".into(), model(new.config, previous)?);
    file.remove("model");
    let mut used: Vec<String> = Vec::new();
    let mut note = |vars: Vec<String>| {
        for v in vars {
            if !used.contains(&v) {
                used.push(v);
            }
        }
    };
    match new.body {
        NewBody::Text(t) => {
            let (template, vars) =
                text::from_langfuse(t).map_err(|e| field("prompt", format!("{e}")))?;
            note(vars);
            ordered.insert("template".into(), json!(template));
        }
        NewBody::Chat(messages) => {
            if messages.is_empty() {
                return Err(field("prompt", "a chat prompt needs at least one message"));
            }
            let mut out = Vec::with_capacity(messages.len());
            for (i, m) in messages.iter().enumerate() {
                if Role::parse(&m.role).is_none() {
                    return Err(field(
                        format!("prompt[{i}].role"),
                        format!(
                            "`{}` is not a role promptops chat prompts take; use system, user or assistant",
                            shown(&m.role)
                        ),
                    ));
                }
                let (content, vars) = text::from_langfuse(&m.content)
                    .map_err(|e| field(format!("prompt[{i}].content"), format!("{e}")))?;
                note(vars);
                let mut message = Map::new();
                message.insert("role".into(), json!(m.role));
                message.insert("content".into(), json!(content));
                if let Some(name) = &m.name {
                    message.insert("name".into(), json!(name));
                }
                out.push(Json::Object(message));
            }
            ordered.insert("messages".into(), Json::Array(out));
        }
    }
    // Every variable declared (so a name like `range` is the variable, never the
    // engine's global), with the previous version's spec when it had one.
    let declared = previous.map(Prompt::declared_variables);
    let mut variables = Map::new();
    for name in used {
        let spec = declared
            .and_then(|d| d.get(&name))
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_else(|| json!({"type": "string", "required": true}));
        variables.insert(name, spec);
    }
    ordered.insert("variables".into(), Json::Object(variables));
    match new.tags {
        Some(tags) => {
            file.remove("tags");
            if !tags.is_empty() {
                ordered.insert("tags".into(), json!(tags));
            }
        }
        None => {
            if let Some(tags) = file.remove("tags") {
                ordered.insert("tags".into(), tags);
            }
        }
    }
    if let Some(message) = new.commit_message.filter(|m| !m.trim().is_empty()) {
        ordered.insert("changelog".into(), json!(message));
    }
    // The rest of the previous version (owner, description, metrics, compliance, other
    // keys) as it was.
    for (k, v) in file {
        ordered.entry(k).or_insert(v);
    }
    Ok(Json::Object(ordered))
}

/// The model binding from a Langfuse `config`: `model` (`name` or `provider:name`),
/// `provider`, and every other key a parameter (`temperature`, `max_tokens`…). An empty
/// or absent config keeps the previous binding; a config without `model` keeps the
/// previous model with the new parameters.
fn model(config: Option<&Json>, previous: Option<&Prompt>) -> Result<Json, NewVersionError> {
    let previous_model = previous.and_then(|p| serde_json::to_value(&p.model).ok());
    let config = match config {
        None | Some(Json::Null) => None,
        Some(Json::Object(map)) if map.is_empty() => None,
        Some(Json::Object(map)) => Some(map),
        Some(other) => {
            return Err(field(
                "config",
                format!(
                    "must be an object such as {{\"model\": \"openai:gpt-4o-mini\", \"temperature\": 0.2}}, not {}",
                    kind(other)
                ),
            ));
        }
    };
    let Some(config) = config else {
        return previous_model.ok_or_else(|| {
            field(
                "config.model",
                "a new prompt needs a model: send config {\"model\": \"openai:gpt-4o-mini\"} (`provider:name`, or a name with `provider`)",
            )
        });
    };
    let (mut provider, mut name) = match previous.map(|p| &p.model) {
        Some(m) => (m.provider.clone(), Some(m.name.clone())),
        None => (None, None),
    };
    match config.get("model") {
        None => {}
        Some(Json::String(m)) => match m.split_once(':') {
            Some((p, n)) if !config.contains_key("provider") => {
                provider = Some(p.to_owned());
                name = Some(n.to_owned());
            }
            _ => {
                name = Some(m.clone());
                if !config.contains_key("provider") {
                    provider = None;
                }
            }
        },
        Some(other) => {
            return Err(field(
                "config.model",
                format!("must be text (`provider:name`), not {}", kind(other)),
            ));
        }
    }
    match config.get("provider") {
        None => {}
        Some(Json::String(p)) => provider = Some(p.clone()),
        Some(Json::Null) => provider = None,
        Some(other) => {
            return Err(field(
                "config.provider",
                format!("must be text, not {}", kind(other)),
            ));
        }
    }
    let Some(name) = name else {
        return Err(field(
            "config.model",
            "a new prompt needs a model: add \"model\": \"openai:gpt-4o-mini\" to config",
        ));
    };
    let params: Map<String, Json> = config
        .iter()
        .filter(|(k, _)| *k != "model" && *k != "provider")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Map::new();
    if let Some(p) = &provider {
        out.insert("provider".into(), json!(p));
    }
    out.insert("name".into(), json!(name));
    if !params.is_empty() {
        out.insert("params".into(), Json::Object(params));
    }
    // Compatibility notes and other keys hold for the same model only.
    if let Some(prev) = previous.map(|p| &p.model)
        && prev.name == name
        && prev.provider == provider
    {
        if !prev.compatibility.is_empty()
            && let Ok(c) = serde_json::to_value(&prev.compatibility)
        {
            out.insert("compatibility".into(), c);
        }
        for (k, v) in &prev.extra {
            out.entry(k.clone()).or_insert(v.clone());
        }
    }
    Ok(Json::Object(out))
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// A Langfuse `config` from a model binding: `model` (the name), `provider`, then the
/// parameters, so `config["temperature"]` reads as Langfuse users expect.
pub fn config_of(model: &Json) -> Json {
    let mut out = Map::new();
    if let Some(name) = model.get("name") {
        out.insert("model".into(), name.clone());
    }
    if let Some(provider) = model.get("provider") {
        out.insert("provider".into(), provider.clone());
    }
    if let Some(Json::Object(params)) = model.get("params") {
        for (k, v) in params {
            out.entry(k.clone()).or_insert(v.clone());
        }
    }
    Json::Object(out)
}

/// A version's `changelog` as a commit message: text as is, a list of texts one per
/// line, anything else as compact JSON.
pub fn commit_message(changelog: Option<&Json>) -> Option<String> {
    match changelog? {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Array(items) if items.iter().all(Json::is_string) => Some(
            items
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(source: &str) -> Prompt {
        let report = check_source(
            "prompts/support/answer.yaml",
            Some("support.answer"),
            source.as_bytes(),
            &Rules::default(),
        );
        report
            .valid_prompt()
            .unwrap_or_else(|| panic!("{:?}", report.diagnostics))
            .clone()
    }

    const PREVIOUS: &str = "id: support.answer\nversion: 1.2.0\nowner: support-team\ndescription: Answers.\n\
        model:\n  provider: openai\n  name: gpt-4o-mini\n  params: {temperature: 0.2}\n  compatibility: {\"anthropic:claude\": works}\n\
        template: \"Hi {{ name }}\"\nvariables:\n  name: {type: string, default: friend, description: Who}\n\
        tags: [support]\nmetrics: {baseline_accuracy: 0.9}\ncompliance: {risk_tier: low}\nchangelog: first\n";

    #[test]
    fn names_map_to_ids_and_folders_to_modules() {
        assert_eq!(id_of_name("support/answer").unwrap(), "support.answer");
        assert_eq!(id_of_name("support.answer").unwrap(), "support.answer");
        assert!(id_of_name("has space").unwrap_err().contains("cannot name"));
        assert!(id_of_name("a//b").is_err());
    }

    #[test]
    fn a_first_version_needs_a_model_and_gets_the_callers_name_as_owner() {
        let body = NewBody::Text("Hello {{name}}".into());
        let new = NewVersion {
            id: "support.answer",
            body: &body,
            config: Some(&json!({})),
            tags: None,
            commit_message: None,
        };
        let e = new_version(&new, None, "ann", &Rules::default()).unwrap_err();
        assert!(
            matches!(&e, NewVersionError::Field { field, .. } if field == "config.model"),
            "{e:?}"
        );
        let config = json!({"model": "openai:gpt-4o-mini", "temperature": 0.3});
        let new = NewVersion {
            config: Some(&config),
            commit_message: Some("from Langfuse"),
            tags: Some(&["a".to_owned()]),
            ..new
        };
        let (source, p) = new_version(&new, None, "ann", &Rules::default()).unwrap();
        assert_eq!(p.version.to_string(), "1.0.0");
        assert_eq!(p.owner, "ann");
        assert_eq!(p.model.provider.as_deref(), Some("openai"));
        assert_eq!(p.model.params["temperature"], json!(0.3));
        assert_eq!(p.tags, ["a"]);
        assert_eq!(p.changelog, Some(json!("from Langfuse")));
        assert!(
            source.contains("template: Hello {{ name }}") || source.contains("{{ name }}"),
            "{source}"
        );
        assert_eq!(
            config_of(&serde_json::to_value(&p.model).unwrap()),
            json!({"model": "gpt-4o-mini", "provider": "openai", "temperature": 0.3})
        );
    }

    #[test]
    fn a_next_version_keeps_what_langfuse_does_not_carry_and_bumps_as_diff_asks() {
        let previous = prompt(PREVIOUS);
        let body = NewBody::Text("Hello {{name}}, about {{topic}}".into());
        let new = NewVersion {
            id: "support.answer",
            body: &body,
            config: Some(&json!({})),
            tags: None,
            commit_message: Some("asks the topic"),
        };
        let (_, p) = new_version(&new, Some(&previous), "ann", &Rules::default()).unwrap();
        // A new required variable changes the caller's contract: a major bump.
        assert_eq!(p.version.to_string(), "2.0.0");
        assert_eq!(p.owner, "support-team");
        assert_eq!(p.model, previous.model);
        assert_eq!(p.tags, ["support"]);
        assert_eq!(p.metrics, previous.metrics);
        assert_eq!(p.compliance, previous.compliance);
        let vars = p.declared_variables();
        assert_eq!(vars["name"], previous.declared_variables()["name"]);
        assert!(vars["topic"].required);

        // Only the text changed: a minor bump.
        let body = NewBody::Text("Hello there {{name}}".into());
        let new = NewVersion { body: &body, ..new };
        let (_, p) = new_version(&new, Some(&previous), "ann", &Rules::default()).unwrap();
        assert_eq!(p.version.to_string(), "1.3.0");

        // The same content: the same number (publishing returns the existing version).
        let body = NewBody::Text("Hi {{name}}".into());
        let new = NewVersion {
            body: &body,
            commit_message: Some("first"),
            ..new
        };
        let (_, p) = new_version(&new, Some(&previous), "ann", &Rules::default()).unwrap();
        assert_eq!(p.version.to_string(), "1.2.0");
        assert_eq!(content_hash(&p), content_hash(&previous));
    }

    #[test]
    fn chat_versions_and_their_refusals() {
        let previous = prompt(PREVIOUS);
        let body = NewBody::Chat(vec![
            NewMessage {
                role: "system".into(),
                content: "You help {{name}}.\nBe brief.\n".into(),
                name: None,
            },
            NewMessage {
                role: "user".into(),
                content: "{{question}}".into(),
                name: Some("customer".into()),
            },
        ]);
        let config = json!({"model": "gpt-4o", "provider": "openai", "max_tokens": 100});
        let new = NewVersion {
            id: "support.answer",
            body: &body,
            config: Some(&config),
            tags: Some(&[]),
            commit_message: None,
        };
        let (source, p) = new_version(&new, Some(&previous), "ann", &Rules::default()).unwrap();
        assert_eq!(
            p.version.to_string(),
            "2.0.0",
            "template → messages is major"
        );
        assert!(p.tags.is_empty());
        assert!(p.model.compatibility.is_empty(), "another model: no notes");
        assert!(
            source.contains("content: |\n"),
            "multi-line text as a block: {source}"
        );
        let rendered = crate::render::render(
            &p,
            &[("name", "Ann"), ("question", "Why?")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect(),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(rendered).unwrap(),
            json!([{"role": "system", "content": "You help Ann.\nBe brief.\n"},
                   {"role": "user", "content": "Why?", "name": "customer"}])
        );

        let bad = NewBody::Chat(vec![NewMessage {
            role: "developer".into(),
            content: "x".into(),
            name: None,
        }]);
        let e = new_version(
            &NewVersion {
                body: &bad,
                ..new.clone()
            },
            Some(&previous),
            "ann",
            &Rules::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, NewVersionError::Field { field, .. } if field == "prompt[0].role"),
            "{e:?}"
        );
        let hot = json!({"temperature": 9});
        let e = new_version(
            &NewVersion {
                config: Some(&hot),
                ..new
            },
            Some(&previous),
            "ann",
            &Rules::default(),
        )
        .unwrap_err();
        assert!(matches!(e, NewVersionError::Invalid(_)), "{e:?}");
    }

    #[test]
    fn awkward_text_still_makes_a_file_that_reads_back_exactly() {
        for text in [
            "  leading spaces\nand more",
            "trailing newlines\n\n\n",
            "tabs\tand\r\ncarriage returns",
            "\nstarts with a newline",
            "ends without one",
            "'quotes' \"and\" : colons # hashes - dashes",
            "null",
            "",
        ] {
            let body = NewBody::Text(text.into());
            let config = json!({"model": "m"});
            let new = NewVersion {
                id: "support.answer",
                body: &body,
                config: Some(&config),
                tags: None,
                commit_message: None,
            };
            match new_version(&new, None, "ann", &Rules::default()) {
                Ok((_, p)) => assert_eq!(
                    p.body,
                    crate::prompt::Body::Template(text.into()),
                    "{text:?}"
                ),
                // An empty template is not a prompt (E014).
                Err(NewVersionError::Invalid(d)) => {
                    assert!(text.trim().is_empty(), "{text:?}: {d:?}")
                }
                Err(e) => panic!("{text:?}: {e:?}"),
            }
        }
    }

    #[test]
    fn commit_messages_from_changelogs() {
        assert_eq!(commit_message(Some(&json!("x"))).as_deref(), Some("x"));
        assert_eq!(
            commit_message(Some(&json!(["a", "b"]))).as_deref(),
            Some("a\nb")
        );
        assert_eq!(
            commit_message(Some(&json!({"k": 1}))).as_deref(),
            Some("{\"k\":1}")
        );
        assert_eq!(commit_message(None), None);
    }
}
