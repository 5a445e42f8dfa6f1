//! JSON values written as YAML a person can read and diff: block mappings and
//! sequences, multi-line text as literal blocks (`|`), everything else in JSON's own
//! spelling (a JSON string is a YAML double-quoted scalar, a JSON number or `true` a
//! YAML one). Used for prompt files the server writes itself (the Langfuse API); the
//! caller reads the result back to check it means what was written.

use serde_json::Value as Json;

/// `value` as a YAML document (a mapping at the root gives a block mapping).
pub fn to_yaml(value: &Json) -> String {
    let mut out = String::new();
    match value {
        Json::Object(map) if !map.is_empty() => mapping(map, 0, false, &mut out),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

/// `first_inline`: the first entry follows a sequence item's `- ` on its line.
fn mapping(
    map: &serde_json::Map<String, Json>,
    indent: usize,
    first_inline: bool,
    out: &mut String,
) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, indent);
        }
        out.push_str(&key(k));
        out.push(':');
        value_after_key(v, indent, out);
    }
}

fn sequence(items: &[Json], indent: usize, out: &mut String) {
    for item in items {
        push_indent(out, indent);
        out.push_str("- ");
        match item {
            Json::Object(map) if !map.is_empty() => mapping(map, indent + 2, true, out),
            Json::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            Json::String(s) if block_safe(s) => literal_block(s, indent + 2, out),
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

fn value_after_key(v: &Json, indent: usize, out: &mut String) {
    match v {
        Json::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent + 2, false, out);
        }
        Json::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent + 2, out);
        }
        Json::String(s) if block_safe(s) => {
            out.push(' ');
            literal_block(s, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

/// A literal block (`|`, `|-` or `|+` for one, none or several final newlines) at
/// `indent`; the caller checked [`block_safe`].
fn literal_block(s: &str, indent: usize, out: &mut String) {
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    out.push_str(chomp);
    out.push('\n');
    for line in s.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        if !text.is_empty() {
            push_indent(out, indent);
            out.push_str(text);
        }
        out.push('\n');
    }
}

/// Whether a literal block spells `s` exactly: several lines, the first not empty and
/// not starting with white space (which would change the block's indentation), and
/// only printable characters besides tabs and newlines.
fn block_safe(s: &str) -> bool {
    let first = s.split('\n').next().unwrap_or("");
    s.contains('\n')
        && !first.is_empty()
        && !first.starts_with([' ', '\t'])
        && !s.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}')
        })
}

/// A key: bare when it cannot read as anything but text, else quoted.
fn key(k: &str) -> String {
    let bare = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if bare {
        k.to_owned()
    } else {
        inline(&Json::String(k.to_owned()))
    }
}

/// A value in JSON's spelling, which YAML reads the same (`{}` and `[]` for empty
/// collections).
fn inline(v: &Json) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reads_back(v: &Json) {
        let text = to_yaml(v);
        let mut findings = crate::diagnostic::Findings::new("t.yaml");
        let node = crate::yaml::parse(&text, &mut findings)
            .unwrap_or_else(|| panic!("{text}\n{findings:?}"));
        assert_eq!(&crate::yaml::to_json(&node), v, "{text}");
    }

    #[test]
    fn documents_read_back_as_written() {
        reads_back(&json!({
            "id": "a.b",
            "version": "1.0.0",
            "model": {"provider": "openai", "name": "gpt", "params": {"temperature": 0.5, "stop": ["\n", "END"]}},
            "messages": [
                {"role": "system", "content": "line one\n  indented\n\nafter a gap\n"},
                {"role": "user", "content": "{{ q }}"},
                {"role": "assistant", "content": "no final newline\nsecond"},
                {"role": "user", "content": "many\n\n\n"},
            ],
            "variables": {"q": {"type": "string", "required": true}},
            "tags": [],
            "metrics": {},
            "odd key: yes": "null",
            "true": "yes",
            "nested": [[1, 2], [], {"a": null}],
        }));
    }

    proptest::proptest! {
        /// Any text, in any place, reads back as written.
        #[test]
        fn any_text_reads_back(
            a in "[a-z: #'\"{}\\-]{0,6}(\n[ \ta-z:#-]{0,6}){0,4}\n{0,3}",
            b in proptest::prelude::any::<String>(),
        ) {
            reads_back(&json!({"t": a, "list": [b, a], "m": {"k": [{"x": a}]}}));
        }
    }

    #[test]
    fn multi_line_text_is_a_literal_block() {
        let text = to_yaml(&json!({"template": "Hello\nworld\n"}));
        assert_eq!(text, "template: |\n  Hello\n  world\n");
        let text = to_yaml(&json!({"template": " leading\nspace"}));
        assert_eq!(text, "template: \" leading\\nspace\"\n");
    }
}
