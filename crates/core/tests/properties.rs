//! Property tests: validation never panics on any input, and the canonical hash ignores
//! formatting but not content.

use promptops_core::canonical::content_hash;
use promptops_core::validate::{Rules, check_source};
use proptest::prelude::*;

fn validate(bytes: &[u8]) {
    let _ = check_source("prompts/p/q.yaml", Some("p.q"), bytes, &Rules::default());
}

/// YAML-ish fragments that exercise the parser's and decoder's corners.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("id"),
        Just("version"),
        Just("parent"),
        Just("owner"),
        Just("model"),
        Just("template"),
        Just("messages"),
        Just("variables"),
        Just("compliance"),
        Just("metrics"),
        Just("tags"),
        Just("role"),
        Just("content"),
        Just("type"),
        Just("default"),
        Just("risk_tier"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("1".to_owned()),
        Just("2.1".to_owned()),
        Just("v1.0.0".to_owned()),
        Just("~".to_owned()),
        Just("[a, {b: c}]".to_owned()),
        Just("{{ x }}".to_owned()),
        Just("\"{{ y }\"".to_owned()),
        Just("|\n  {% for a in b %}{{ a }}".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("*a".to_owned()),
        Just("'sk-ant-abcdefghijklmnopqrstuvwxyz'".to_owned()),
        Just("high".to_owned()),
        Just("- user".to_owned()),
        "[ -~]{0,12}",
    ];
    let indent = prop_oneof![Just(""), Just("  "), Just("    "), Just("- ")];
    prop::collection::vec((indent, key, value), 0..14).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(i, k, v)| format!("{i}{k}: {v}\n"))
            .collect()
    })
}

/// A prompt file whose `tags` repeat an anchored value: a string of `len` bytes
/// nested `depth` times in lists of `fanout` aliases, the outer list aliased `count`
/// times. Small inputs, potentially enormous expansions.
fn alias_shape() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    (1usize..50_000, 0usize..6, 1usize..12, 1usize..3_000)
}

fn aliased_prompt((len, depth, fanout, count): (usize, usize, usize, usize)) -> String {
    let mut doc = format!(
        "id: p.q\nversion: 1.0.0\nowner: o\nmodel: m\ntemplate: hi\nmetadata:\n  l0: &l0 \"{}\"\n",
        "z".repeat(len)
    );
    for d in 1..=depth {
        let items = vec![format!("*l{}", d - 1); fanout].join(", ");
        doc.push_str(&format!("  l{d}: &l{d} [{items}]\n"));
    }
    doc.push_str("tags:\n");
    for _ in 0..count {
        doc.push_str(&format!("  - *l{depth}\n"));
    }
    doc
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the shape, a file is either refused with a YAML finding that has a
    /// place, or what it expands to stays within the bound: aliases add at most ten
    /// times the document's size (1 MiB for small ones).
    #[test]
    fn alias_expansion_is_bounded_relative_to_the_document(shape in alias_shape()) {
        let src = aliased_prompt(shape);
        let mut findings = promptops_core::diagnostic::Findings::new("prompts/p/q.yaml");
        let limits = promptops_core::yaml::Limits::default();
        match promptops_core::yaml::parse_within(&src, &limits, &mut findings) {
            Some(node) => {
                let expanded = promptops_core::yaml::to_json(&node).to_string().len();
                prop_assert!(expanded <= 2 * src.len() + limits.alias_budget(src.len()),
                    "{} bytes from a {}-byte document", expanded, src.len());
            }
            None => {
                let d = findings.into_vec();
                prop_assert!(d.iter().any(|d| d.code.id() == "E004" && d.line > 0 && d.column > 0), "{:?}", d);
            }
        }
        // validate reaches the same verdict without falling over.
        validate(src.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        validate(&bytes);
    }

    #[test]
    fn never_panics_on_random_text(text in "\\PC{0,300}") {
        validate(text.as_bytes());
    }

    #[test]
    fn never_panics_on_random_yaml(text in yamlish()) {
        validate(text.as_bytes());
    }

    #[test]
    fn hash_ignores_key_order_and_quoting(order in Just([0usize, 1, 2, 3, 4, 5]).prop_shuffle(), quote in any::<bool>()) {
        let q = |s: &str| if quote { format!("\"{s}\"") } else { s.to_owned() };
        let fields = [
            format!("id: {}\n", q("p.q")),
            "version: 1\n".to_owned(),
            format!("owner: {}\n", q("team")),
            "model: {name: m, params: {temperature: 0.50}}\n".to_owned(),
            "template: \"Hi {{ who }}\"\n".to_owned(),
            "variables:\n  who: {type: string}\n".to_owned(),
        ];
        let shuffled: String = order.iter().map(|&i| fields[i].clone()).collect();
        let canonical: String = fields.concat();
        let a = check_source("prompts/p/q.yaml", Some("p.q"), shuffled.as_bytes(), &Rules::default());
        let b = check_source("prompts/p/q.yaml", Some("p.q"), canonical.as_bytes(), &Rules::default());
        let (a, b) = (a.valid_prompt().unwrap(), b.valid_prompt().unwrap());
        prop_assert_eq!(content_hash(a), content_hash(b));
    }

    #[test]
    fn hash_changes_with_any_template_change(text in "[a-z ]{1,40}", extra in "[a-z]{1,5}") {
        let make = |t: &str| format!("id: p.q\nversion: 1.0.0\nowner: o\nmodel: m\ntemplate: \"{t}\"\n");
        let a = check_source("prompts/p/q.yaml", None, make(&text).as_bytes(), &Rules::default());
        let changed = format!("{text}{extra}");
        let b = check_source("prompts/p/q.yaml", None, make(&changed).as_bytes(), &Rules::default());
        prop_assert_ne!(content_hash(a.prompt.as_ref().unwrap()), content_hash(b.prompt.as_ref().unwrap()));
    }

    #[test]
    fn render_never_panics(template in "[a-z{}% |().\"'+*-]{0,60}") {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("a".to_owned(), serde_json::json!([1, 2]));
        let _ = promptops_core::template::render(&template, &vars);
        let _ = promptops_core::template::analyze(&template);
    }
}
