//! Prompt text between our templates (Jinja, `{{ var }}`) and Langfuse's (`{{var}}`).
//!
//! Langfuse's SDKs compile a prompt by substituting `{{name}}` and nothing else (the
//! Python SDK finds each `{{`, the next `}}`, and looks the trimmed text up; the
//! JavaScript SDK hands the text to Mustache). So a template can be served to them only
//! when substituting its variables is all it does: text, comments and `{{ name }}`
//! (whitespace control allowed), plus string literals such as `{{ '{%' }}`. The text
//! they receive is what our renderer outputs with each variable left as `{{name}}`, so
//! `compile(name=value)` gives exactly what `promptops render` gives for string values.
//! Tags (`{% if %}`, `{% for %}`), filters and any other expression have no equivalent
//! and are refused, naming the place.

use crate::template::{self, Undefined};
use std::collections::BTreeMap;

/// Why a text cannot cross between the two syntaxes, and where (a byte offset in the
/// text that was given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {message}")]
pub struct TextError {
    pub offset: usize,
    pub message: String,
}

fn error(offset: usize, message: impl Into<String>) -> TextError {
    TextError {
        offset,
        message: message.into(),
    }
}

/// Names that are not variables in a template: literals, operators and the engine's
/// globals (a variable of such a name would read as something else).
fn reserved(name: &str) -> bool {
    matches!(
        name,
        "true"
            | "false"
            | "none"
            | "True"
            | "False"
            | "None"
            | "and"
            | "or"
            | "not"
            | "in"
            | "is"
            | "if"
            | "else"
            | "loop"
            | "self"
            | "super"
    ) || template::is_global(name)
}

/// Whether `name` is a variable name both sides read the same way.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !reserved(name)
}

/// A Langfuse prompt text as a template of ours, and the variables it reads (in order
/// of first use). Literal `{%` and `{#` are escaped (`{{ '{%' }}`) so that the template
/// outputs them as written. Refused: a `{{` without a closing `}}` (Mustache rejects
/// it too), and a placeholder whose name is not a plain variable name (`{{user.name}}`,
/// `{{ a b }}`, `{{#section}}`).
pub fn from_langfuse(text: &str) -> Result<(String, Vec<String>), TextError> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut variables: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find("{{").map(|i| at + i) {
        escape_literal(&text[at..open], &mut out);
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            return Err(error(
                open,
                "`{{` is never closed by `}}`; write the variable as {{name}}",
            ));
        };
        let name = text[open + 2..close].trim();
        if !is_variable_name(name) {
            return Err(error(
                open,
                format!(
                    "`{{{{{}}}}}` is not a variable promptops can serve: variable names are letters, digits and `_` (not starting with a digit, not a reserved word such as `true` or `range`); sections, partials and dotted names have no equivalent",
                    crate::diagnostic::shown(name)
                ),
            ));
        }
        if !variables.iter().any(|v| v == name) {
            variables.push(name.to_owned());
        }
        out.push_str("{{ ");
        out.push_str(name);
        out.push_str(" }}");
        at = close + 2;
    }
    escape_literal(&text[at..], &mut out);
    Ok((out, variables))
}

/// Literal text (no `{{` inside) as template text: the other two openers escaped.
fn escape_literal(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(i) = rest.find(['{']) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(next @ ('%' | '#')) = after.chars().next() {
            out.push_str("{{ '{");
            out.push(next);
            out.push_str("' }}");
            rest = &after[1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
}

/// Private-use characters marking where each variable went in the rendered text.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// A template as the text Langfuse's SDKs compile: rendered by our renderer with every
/// variable left as `{{name}}`. Refused with the place and the reason when the template
/// does more than substitute variables, or when its literal text holds `{{` (which the
/// SDKs would read as a variable).
pub fn to_langfuse(template_text: &str) -> Result<String, TextError> {
    if let Some(at) = template_text.find([MARK_OPEN, MARK_CLOSE]) {
        return Err(error(
            at,
            "the text holds the private-use character U+E000 or U+E001, which this conversion reserves",
        ));
    }
    let names = substitutions(template_text)?;
    let vars: BTreeMap<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.clone(),
                serde_json::Value::String(format!("{MARK_OPEN}{i}{MARK_CLOSE}")),
            )
        })
        .collect();
    let rendered = template::render_with(template_text, &vars, Undefined::Strict)
        .map_err(|e| error(e.offset, e.message))?;
    let mut out = String::with_capacity(rendered.len() + 8 * names.len());
    let mut rest = rendered.as_str();
    while let Some(open) = rest.find(MARK_OPEN) {
        let literal = &rest[..open];
        check_literal(literal, true)?;
        out.push_str(literal);
        let after = &rest[open + MARK_OPEN.len_utf8()..];
        let close = after
            .find(MARK_CLOSE)
            .ok_or_else(|| error(0, "a variable's output was cut (internal marker lost)"))?;
        let name = after[..close]
            .parse::<usize>()
            .ok()
            .and_then(|i| names.get(i))
            .ok_or_else(|| error(0, "a variable's output was altered (internal marker lost)"))?;
        out.push_str("{{");
        out.push_str(name);
        out.push_str("}}");
        rest = &after[close + MARK_CLOSE.len_utf8()..];
    }
    check_literal(rest, false)?;
    out.push_str(rest);
    Ok(out)
}

/// Literal output must not read as a placeholder on Langfuse's side: no `{{`, and no
/// `{` right before a placeholder (`{{{name}}` is not `{` + `{{name}}` there).
fn check_literal(literal: &str, before_placeholder: bool) -> Result<(), TextError> {
    let problem = if literal.contains("{{") {
        Some("the text outputs `{{`, which Langfuse's compile() would read as a variable")
    } else if before_placeholder && literal.ends_with('{') {
        Some(
            "a `{` right before a variable makes `{{{`, which Langfuse's compile() reads differently",
        )
    } else {
        None
    };
    match problem {
        Some(message) => Err(error(0, message)),
        None => Ok(()),
    }
}

/// The variables a template substitutes, in order of first use, after checking that
/// substituting them is all it does (the syntax checked as minijinja reads it: `{{ }}`,
/// `{% %}`, `{# #}`, `-`/`+` whitespace control).
fn substitutions(text: &str) -> Result<Vec<String>, TextError> {
    let mut names: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(open) = find_opener(&text[at..]).map(|i| at + i) {
        let opener = &text[open..open + 2];
        match opener {
            "{#" => {
                let close = text[open + 2..]
                    .find("#}")
                    .ok_or_else(|| error(open, "a comment `{#` is never closed"))?;
                at = open + 2 + close + 2;
            }
            "{%" => {
                let tag = text[open + 2..]
                    .trim_start_matches(['-', '+'])
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(['-', '+', '%', '}']);
                return Err(error(
                    open,
                    format!(
                        "`{{% {tag} %}}` is a template tag: Langfuse's compile() only substitutes {{{{variable}}}}, so conditions, loops and other tags cannot be served through the Langfuse API (use the promptops SDK or API for this prompt)"
                    ),
                ));
            }
            _ => {
                let (inner, end) = expression(text, open)?;
                // `-` or `+` right inside the braces is whitespace control.
                let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
                let trimmed = inner.strip_suffix(['-', '+']).unwrap_or(inner).trim();
                if is_string_literal(trimmed) {
                    // Output as written: the rendered text shows it.
                } else if is_variable_name(trimmed) {
                    if !names.iter().any(|n| n == trimmed) {
                        names.push(trimmed.to_owned());
                    }
                } else {
                    return Err(error(
                        open,
                        format!(
                            "`{{{{ {} }}}}` is an expression: Langfuse's compile() only substitutes a plain {{{{variable}}}}, so filters, attributes, defaults and operators cannot be served through the Langfuse API",
                            crate::diagnostic::shown(trimmed)
                        ),
                    ));
                }
                at = end;
            }
        }
    }
    Ok(names)
}

fn find_opener(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
}

/// The inside of the `{{ … }}` opening at `open`, and the offset after its `}}`;
/// `}}` inside a string literal does not close it.
fn expression(text: &str, open: usize) -> Result<(&str, usize), TextError> {
    let start = open + 2;
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => {
                return Ok((&text[start..i], i + 2));
            }
            None => {}
        }
        i += 1;
    }
    Err(error(open, "`{{` is never closed by `}}`"))
}

/// `'…'` or `"…"` without escapes or the quote inside: printed as written.
fn is_string_literal(s: &str) -> bool {
    let quoted = |q: char| {
        s.len() >= 2 && s.starts_with(q) && s.ends_with(q) && !s[1..s.len() - 1].contains([q, '\\'])
    };
    quoted('\'') || quoted('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Langfuse's compile as its Python SDK does it: each `{{`, the next `}}`, the
    /// trimmed name looked up; unknown names stay as written. Written here from its
    /// documented behaviour, to check our conversions against.
    fn langfuse_compile(text: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut at = 0;
        while let Some(open) = text[at..].find("{{").map(|i| at + i) {
            let Some(close) = text[open..].find("}}").map(|i| open + i) else {
                break;
            };
            out.push_str(&text[at..open]);
            match vars.get(text[open + 2..close].trim()) {
                Some(v) => out.push_str(v),
                None => out.push_str(&text[open..close + 2]),
            }
            at = close + 2;
        }
        out.push_str(&text[at..]);
        out
    }

    fn render(t: &str, vars: &BTreeMap<String, String>) -> String {
        template::render_with(t, vars, Undefined::Strict).unwrap()
    }

    #[test]
    fn simple_templates_become_langfuse_text() {
        let check = |t: &str, want: &str| assert_eq!(to_langfuse(t).unwrap(), want, "{t}");
        check("Hello {{ name }}!\n", "Hello {{name}}!\n");
        check("{{name}} and {{ name }}", "{{name}} and {{name}}");
        check("a {{- x -}} b", "a{{x}}b");
        check("a {# note #}b", "a b");
        check("literal {{ '{%' }} and {{ \"}}\" }}", "literal {% and }}");
        check("no variables", "no variables");
        check("JSON: {\"a\": {\"b\": 1}}", "JSON: {\"a\": {\"b\": 1}}");
    }

    #[test]
    fn what_langfuse_cannot_express_is_refused_at_its_place() {
        let check = |t: &str, offset: usize, has: &str| {
            let e = to_langfuse(t).unwrap_err();
            assert_eq!(e.offset, offset, "{t}: {e}");
            assert!(e.message.contains(has), "{t}: {e}");
        };
        check(
            "Hi {% if x %}{{ x }}{% endif %}",
            3,
            "`{% if %}` is a template tag",
        );
        check("{%- for i in xs -%}{{ i }}{% endfor %}", 0, "`{% for %}`");
        check(
            "x {{ name | upper }}",
            2,
            "`{{ name | upper }}` is an expression",
        );
        check("{{ user.name }}", 0, "expression");
        check("{{ range }}", 0, "expression");
        check("{{ true }}", 0, "expression");
        check("{{ '{{' }}x}}", 0, "outputs `{{`");
        check("{{ '{' }}{{ x }}", 0, "`{{{`");
    }

    #[test]
    fn langfuse_text_becomes_a_template_that_renders_like_compile() {
        let (t, vars) = from_langfuse("Hi {{name}}, {{ topic }} {%raw%} {#x#} {{name}}\n").unwrap();
        assert_eq!(
            t,
            "Hi {{ name }}, {{ topic }} {{ '{%' }}raw%} {{ '{#' }}x#} {{ name }}\n"
        );
        assert_eq!(vars, ["name", "topic"]);
        let values = BTreeMap::from([
            ("name".to_owned(), "Ann".to_owned()),
            ("topic".to_owned(), "tea".to_owned()),
        ]);
        assert_eq!(render(&t, &values), "Hi Ann, tea {%raw%} {#x#} Ann\n");
        assert_eq!(
            to_langfuse(&t).unwrap(),
            "Hi {{name}}, {{topic}} {%raw%} {#x#} {{name}}\n"
        );
    }

    #[test]
    fn langfuse_text_we_cannot_hold_is_refused() {
        for (text, offset) in [
            ("a {{ b", 2),
            ("{{user.name}}", 0),
            ("x {{#section}}y{{/section}}", 2),
            ("{{{raw}}}", 0),
            ("{{ two words }}", 0),
            ("{{}}", 0),
            ("{{ true }}", 0),
        ] {
            let e = from_langfuse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text}: {e}");
        }
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{%".to_owned()),
            Just("%}".to_owned()),
            Just("{#".to_owned()),
            Just("#}".to_owned()),
            Just("{{a}}".to_owned()),
            Just("{{ b }}".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("'".to_owned()),
            "[a-z]{1,3}",
        ]
    }

    proptest! {
        /// Whatever Langfuse text we accept renders, through our renderer, exactly as
        /// Langfuse's compile() gives it, and comes back as the same text (placeholders
        /// spelled `{{name}}`).
        #[test]
        fn accepted_langfuse_text_round_trips_and_renders_alike(
            pieces in proptest::collection::vec(piece(), 0..12),
            a in "[a-z {}%#]{0,4}",
            b in "[a-z {}%#]{0,4}",
        ) {
            let text: String = pieces.concat();
            let Ok((t, vars)) = from_langfuse(&text) else { return Ok(()); };
            let values: BTreeMap<String, String> = vars
                .iter()
                .map(|v| (v.clone(), if v == "a" { a.clone() } else { b.clone() }))
                .collect();
            prop_assert_eq!(render(&t, &values), langfuse_compile(&text, &values));
            let back = to_langfuse(&t).unwrap();
            prop_assert_eq!(&back, &text.replace("{{ b }}", "{{b}}"));
            prop_assert_eq!(langfuse_compile(&back, &values), render(&t, &values));
        }

        /// Whatever template we serve compiles on Langfuse's side to what our renderer
        /// gives.
        #[test]
        fn served_templates_compile_like_our_render(
            pieces in proptest::collection::vec(piece(), 0..12),
            a in "[a-z {}%#]{0,4}",
            b in "[a-z {}%#]{0,4}",
        ) {
            let t: String = pieces.concat();
            let Ok(used) = template::analyze(&t) else { return Ok(()); };
            let Ok(served) = to_langfuse(&t) else { return Ok(()); };
            let values: BTreeMap<String, String> = used
                .iter()
                .map(|v| (v.clone(), if v == "a" { a.clone() } else { b.clone() }))
                .collect();
            prop_assert_eq!(langfuse_compile(&served, &values), render(&t, &values));
        }
    }
}
