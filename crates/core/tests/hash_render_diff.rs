//! The canonical hash, rendering with variables, and the semver verdicts of diff.

use promptops_core::canonical::{canonical_json, content_hash};
use promptops_core::diff::{Bump, Verdict, diff};
use promptops_core::prompt::Prompt;
use promptops_core::render::{self, Inputs, Rendered};
use promptops_core::validate::{FileReport, Rules, check_source};
use serde_json::json;

fn load(src: &str) -> FileReport {
    let r = check_source(
        "prompts/s/a.yaml",
        Some("s.a"),
        src.as_bytes(),
        &Rules::default(),
    );
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    r
}

fn prompt(src: &str) -> Prompt {
    load(src).prompt.unwrap()
}

const BASE: &str = "\
id: s.a
version: 1.2.0
owner: team
description: d
model: {provider: openai, name: gpt-4o, params: {temperature: 0.2}}
template: |
  Hi {{ name }}, you are {{ age }}.
variables:
  name: {type: string}
  age: {type: number, default: 30}
tags: [a, b]
";

#[test]
fn formatting_does_not_change_the_hash() {
    let reformatted = "\
# a comment
tags:
  - a
  - b
variables:
  age:
    default: 30.0
    type: number
  name: {type: 'string'}
template: \"Hi {{ name }}, you are {{ age }}.\\n\"
model:
  name: gpt-4o
  provider: openai
  params:
    temperature: 0.20
description: \"d\"
owner: team
version: \"1.2.0\"
id: s.a
";
    assert_eq!(
        content_hash(&prompt(BASE)),
        content_hash(&prompt(reformatted))
    );
}

#[test]
fn equivalent_spellings_share_a_hash() {
    let a = prompt("id: s.a\nversion: 2\nowner: o\nmodel: openai:gpt-4o\ntemplate: x\n");
    let b = prompt(
        "id: s.a\nversion: 2.0.0\nowner: o\nmodel: {provider: openai, name: gpt-4o}\ntemplate: x\n",
    );
    assert_eq!(content_hash(&a), content_hash(&b));
}

#[test]
fn every_content_change_changes_the_hash() {
    let base = content_hash(&prompt(BASE));
    for (from, to) in [
        ("Hi {{ name }}", "Hello {{ name }}"),
        ("version: 1.2.0", "version: 1.2.1"),
        ("owner: team", "owner: other"),
        ("temperature: 0.2", "temperature: 0.3"),
        ("default: 30", "default: 31"),
        ("tags: [a, b]", "tags: [b, a]"),
        ("description: d", "description: e"),
    ] {
        let changed = BASE.replace(from, to);
        assert_ne!(content_hash(&prompt(&changed)), base, "{from} -> {to}");
    }
}

#[test]
fn canonical_json_is_sorted_and_compact() {
    let text = canonical_json(&prompt(
        "id: s.a\nversion: 1\nowner: o\nmodel: m\ntemplate: t\n",
    ));
    assert_eq!(
        text,
        r#"{"id":"s.a","model":{"name":"m"},"owner":"o","template":"t","version":"1.0.0"}"#
    );
}

fn inputs(text: &[(&str, &str)]) -> Inputs {
    Inputs {
        text: text
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        values: Default::default(),
    }
}

#[test]
fn render_applies_types_and_defaults() {
    let r = load(BASE);
    let p = r.prompt.as_ref().unwrap();
    let bound = render::bind(p, &r.used_variables, &inputs(&[("name", "Ada")])).unwrap();
    assert_eq!(bound.values["age"], json!(30));
    let out = render::render(p, &bound.values).unwrap();
    assert_eq!(out, Rendered::Text("Hi Ada, you are 30.\n".into()));

    let bound = render::bind(
        p,
        &r.used_variables,
        &inputs(&[("name", "Ada"), ("age", "41.5")]),
    )
    .unwrap();
    assert_eq!(bound.values["age"], json!(41.5));
}

#[test]
fn render_reports_every_missing_or_mistyped_variable() {
    let r = load(BASE);
    let p = r.prompt.as_ref().unwrap();
    let problems = render::bind(p, &r.used_variables, &inputs(&[("age", "old")])).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text.iter()
            .any(|t| t.contains("`age`") && t.contains("expects a number, got `old`"))
    );
    assert!(
        text.iter()
            .any(|t| t.contains("`name`") && t.contains("required"))
    );
}

#[test]
fn render_checks_typed_values_from_files_and_reports_extras() {
    let r = load(BASE);
    let p = r.prompt.as_ref().unwrap();
    let mut i = Inputs::default();
    i.values.insert("name".into(), json!(5));
    assert!(render::bind(p, &r.used_variables, &i).is_err());
    i.values.insert("name".into(), json!("Bo"));
    i.values.insert("unused".into(), json!(true));
    let bound = render::bind(p, &r.used_variables, &i).unwrap();
    assert_eq!(bound.ignored, vec!["unused".to_owned()]);
}

#[test]
fn coercion_of_command_line_text() {
    use promptops_core::prompt::VarType;
    use promptops_core::render::coerce_text;
    assert_eq!(coerce_text(VarType::Boolean, "yes").unwrap(), json!(true));
    assert!(coerce_text(VarType::Boolean, "perhaps").is_err());
    assert_eq!(
        coerce_text(VarType::List, r#"["a", 1]"#).unwrap(),
        json!(["a", 1])
    );
    assert!(coerce_text(VarType::List, r#"{"a": 1}"#).is_err());
    assert_eq!(
        coerce_text(VarType::Object, r#"{"a": 1}"#).unwrap(),
        json!({"a": 1})
    );
    assert!(coerce_text(VarType::Number, "NaN").is_err());
    assert_eq!(coerce_text(VarType::Number, "-3").unwrap(), json!(-3));
}

#[test]
fn chat_prompts_render_each_message() {
    let src = "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: m\nmessages:\n  - role: system\n    content: You are {{ who }}.\n  - role: user\n    content: \"{{ q }}\"\nvariables: {who: {type: string, default: kind}, q: string}\n";
    let r = load(src);
    let p = r.prompt.as_ref().unwrap();
    let bound = render::bind(p, &r.used_variables, &inputs(&[("q", "Why?")])).unwrap();
    let out = serde_json::to_value(render::render(p, &bound.values).unwrap()).unwrap();
    assert_eq!(
        out,
        json!([{"role": "system", "content": "You are kind."}, {"role": "user", "content": "Why?"}])
    );
}

#[test]
fn inferred_variables_are_required_text() {
    let r = load(
        "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: m\ntemplate: \"{{ a }}-{{ b }}\"\n",
    );
    let p = r.prompt.as_ref().unwrap();
    assert!(render::bind(p, &r.used_variables, &inputs(&[("a", "1")])).is_err());
    let bound = render::bind(p, &r.used_variables, &inputs(&[("a", "1"), ("b", "2")])).unwrap();
    assert_eq!(
        render::render(p, &bound.values).unwrap(),
        Rendered::Text("1-2".into())
    );
}

/// Diff verdict for BASE → BASE with `edits` applied and the version set to `version`.
fn verdict(edits: &[(&str, &str)], version: &str) -> Verdict {
    let mut new = BASE.replace("version: 1.2.0", &format!("version: {version}"));
    for (from, to) in edits {
        assert!(new.contains(from), "{from}");
        new = new.replace(from, to);
    }
    diff(&prompt(BASE), &prompt(&new), "a", "b").verdict
}

#[test]
fn semver_rules() {
    use Verdict::*;
    let fits = |b| Fits { required: b };
    // Metadata only: patch.
    assert_eq!(
        verdict(&[("description: d", "description: e")], "1.2.1"),
        fits(Bump::Patch)
    );
    // Text the model sees: minor.
    assert_eq!(
        verdict(&[("Hi {{", "Hello {{")], "1.3.0"),
        fits(Bump::Minor)
    );
    assert_eq!(
        verdict(&[("Hi {{", "Hello {{")], "1.2.1"),
        TooSmall {
            required: Bump::Minor,
            suggested: "1.3.0".into()
        }
    );
    assert_eq!(
        verdict(&[("temperature: 0.2", "temperature: 0.7")], "1.3.0"),
        fits(Bump::Minor)
    );
    // New optional variable: minor. New required one, removed one, type change: major.
    let add_optional = (
        "age: {type: number, default: 30}",
        "age: {type: number, default: 30}\n  tone: {type: string, default: warm}\nchangelog: x",
    );
    assert_eq!(
        verdict(&[add_optional, ("you are", "{{ tone }} you are")], "1.3.0"),
        fits(Bump::Minor)
    );
    let add_required = (
        "age: {type: number, default: 30}",
        "age: {type: number, default: 30}\n  city: {type: string}",
    );
    assert_eq!(
        verdict(&[add_required, ("you are", "{{ city }} you are")], "1.3.0"),
        TooSmall {
            required: Bump::Major,
            suggested: "2.0.0".into()
        }
    );
    assert_eq!(
        verdict(&[add_required, ("you are", "{{ city }} you are")], "2.0.0"),
        fits(Bump::Major)
    );
    assert_eq!(
        verdict(
            &[(
                "age: {type: number, default: 30}",
                "age: {type: string, default: '30'}"
            )],
            "1.3.0"
        ),
        TooSmall {
            required: Bump::Major,
            suggested: "2.0.0".into()
        }
    );
    // Same version, different content; and going backwards.
    assert_eq!(
        verdict(&[("Hi {{", "Hey {{")], "1.2.0"),
        NotBumped {
            required: Bump::Minor,
            suggested: "1.3.0".into()
        }
    );
    assert_eq!(verdict(&[], "1.1.0"), Backwards);
    assert_eq!(verdict(&[], "1.2.0"), Unchanged);
}

#[test]
fn below_one_a_breaking_change_is_a_minor_bump() {
    let old = BASE.replace("version: 1.2.0", "version: 0.3.0");
    let new = old.replace(
        "age: {type: number, default: 30}",
        "age: {type: string, default: x}",
    );
    let d = diff(
        &prompt(&old),
        &prompt(&new.replace("0.3.0", "0.4.0")),
        "a",
        "b",
    );
    assert_eq!(
        d.verdict,
        Verdict::Fits {
            required: Bump::Minor
        }
    );
}

#[test]
fn diff_lists_text_and_metadata_changes() {
    let new = BASE
        .replace("version: 1.2.0", "version: 1.3.0")
        .replace("Hi {{ name }}", "Hello {{ name }}")
        .replace("temperature: 0.2", "temperature: 0.5");
    let d = diff(&prompt(BASE), &prompt(&new), "old.yaml", "new.yaml");
    assert!(d.text_diff.contains("-Hi {{ name }}"), "{}", d.text_diff);
    assert!(d.text_diff.contains("+Hello {{ name }}"));
    assert!(d.text_diff.starts_with("--- old.yaml\n+++ new.yaml\n"));
    let paths: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["model.params.temperature"]);
    assert_ne!(d.old_hash, d.new_hash);
}

#[test]
fn unknown_nested_keys_are_content() {
    let a = prompt(
        "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: {name: m, region: eu}\ntemplate: t\n",
    );
    let b = prompt(
        "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: {name: m, region: us}\ntemplate: t\n",
    );
    assert_ne!(content_hash(&a), content_hash(&b));
}

#[test]
fn a_message_name_change_is_a_change() {
    let make = |name: &str| {
        format!(
            "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: m\nmessages:\n  - role: user\n    name: {name}\n    content: hi\n"
        )
    };
    let d = diff(&prompt(&make("ann")), &prompt(&make("bob")), "a", "b");
    assert!(
        matches!(d.verdict, Verdict::NotBumped { .. }),
        "{:?}",
        d.verdict
    );
}

#[test]
fn an_unknown_key_in_a_message_is_a_change() {
    let make = |v: &str| {
        format!(
            "id: s.a\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: m\nmessages:\n  - role: user\n    cache: {v}\n    content: hi\n"
        )
    };
    let d = diff(
        &prompt(&make("ephemeral")),
        &prompt(&make("none")),
        "a",
        "b",
    );
    assert!(!d.verdict.is_ok(), "{:?}", d.verdict);
    assert_eq!(d.changes[0].path, "messages");
}
