//! Structured-output assertions: `is-json` / `contains-json` (optionally against a JSON
//! Schema) and `is-xml` / `contains-xml` (optionally with required element paths).

use super::{Assertion, AssertionError, ComponentResult, json_objects};
use promptops_core::diagnostic::Findings;
use promptops_core::yaml;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// `is-json`: the whole output is JSON (and matches the schema, when one is given).
pub fn is_json(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let parsed = serde_json::from_str::<Json>(out).ok();
    let schema = schema_of(a)?;
    if let (Some(value), Some(schema)) = (&parsed, schema) {
        let errors = schema.errors(value);
        let valid = errors.is_none();
        let pass = valid != a.inverse;
        if !pass {
            let reason = match errors {
                None => "Output is JSON that conforms to the provided schema".to_owned(),
                Some(e) => format!("JSON does not conform to the provided schema. Errors: {e}"),
            };
            return Ok(verdict(a, false, reason));
        }
        return Ok(verdict(a, true, String::new()));
    }
    let pass = parsed.is_some() != a.inverse;
    let not = if a.inverse { "not " } else { "" };
    Ok(verdict(
        a,
        pass,
        format!("Expected output to {not}be valid JSON"),
    ))
}

/// `contains-json`: some `{…}` object in the output parses (and matches the schema).
pub fn contains_json(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let not = if a.inverse { "not " } else { "" };
    let mut reason = format!("Expected output to {not}contain valid JSON");
    let objects = json_objects(out);
    let mut pass = objects.is_empty() == a.inverse;
    if let Some(schema) = schema_of(a)? {
        // promptfoo's rule: the first conforming object decides; otherwise the last one.
        for object in &objects {
            match schema.errors(object) {
                None => {
                    pass = !a.inverse;
                    if a.inverse {
                        reason = "Output contains JSON conforming to the provided schema".into();
                    }
                    break;
                }
                Some(e) => {
                    pass = a.inverse;
                    reason = format!("JSON does not conform to the provided schema. Errors: {e}");
                }
            }
        }
    }
    Ok(verdict(a, pass, reason))
}

/// `is-xml`: the whole output is one well-formed XML document holding the required elements.
pub fn is_xml(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let required = required_elements(a)?;
    let result = match parse_xml(out) {
        Err(e) => Err(e),
        Ok(doc) => missing_elements(&doc, &required, false),
    };
    Ok(xml_verdict(a, result))
}

/// `contains-xml`: some element (or run of sibling elements) in the output is well-formed
/// XML holding the required elements.
pub fn contains_xml(a: &Assertion, out: &str) -> Result<ComponentResult, AssertionError> {
    let required = required_elements(a)?;
    let candidates = xml_candidates(out);
    if candidates.is_empty() {
        return Ok(xml_verdict(
            a,
            Err("No XML content found in the output".into()),
        ));
    }
    for (start, end) in candidates {
        // A synthetic root lets a run of siblings parse as one document.
        let wrapped = format!("<promptops-root>{}</promptops-root>", &out[start..end]);
        if let Ok(doc) = parse_xml(&wrapped)
            && missing_elements(&doc, &required, true).is_ok()
        {
            return Ok(xml_verdict(a, Ok(())));
        }
    }
    Ok(xml_verdict(
        a,
        Err("No valid XML content found matching the requirements".into()),
    ))
}

fn xml_verdict(a: &Assertion, result: Result<(), String>) -> ComponentResult {
    let pass = result.is_ok() != a.inverse;
    let reason = match result {
        Err(e) => e,
        // Only reached when the inverse form fails on valid XML.
        Ok(()) => "XML is valid and contains all required elements".into(),
    };
    verdict(a, pass, reason)
}

fn verdict(a: &Assertion, pass: bool, reason: String) -> ComponentResult {
    let reason = if pass {
        "Assertion passed".to_owned()
    } else {
        reason
    };
    a.verdict(
        pass,
        if pass { 1.0 } else { 0.0 },
        reason,
        Default::default(),
    )
}

fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 1_000_000,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => {
            "DTD internal subsets are not supported by is-xml validation".to_owned()
        }
        other => format!("XML parsing failed: {other}"),
    })
}

/// The `value` of an XML assertion: `"a, b.c"`, a list, or `{requiredElements: [...]}`.
fn required_elements(a: &Assertion) -> Result<Vec<String>, AssertionError> {
    Ok(match &a.value {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Json::Object(o)) if o.is_empty() => Vec::new(),
        Some(Json::Object(o)) => match o.get("requiredElements") {
            Some(Json::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect(),
            _ => {
                return Err(AssertionError(
                    "xml assertion must contain a string, array value, or no value".into(),
                ));
            }
        },
        Some(_) => {
            return Err(AssertionError(
                "xml assertion must contain a string, array value, or no value".into(),
            ));
        }
    })
}

/// Checks each dotted path (`analysis.summary`, `list.item.1`) from the document root.
/// With `synthetic_root`, paths start at the wrapper's children.
fn missing_elements(
    doc: &roxmltree::Document<'_>,
    required: &[String],
    synthetic_root: bool,
) -> Result<(), String> {
    let top: Vec<roxmltree::Node<'_, '_>> = if synthetic_root {
        doc.root_element()
            .children()
            .filter(|n| n.is_element())
            .collect()
    } else {
        vec![doc.root_element()]
    };
    let missing: Vec<&str> = required
        .iter()
        .filter(|path| !path.is_empty() && !has_path(&top, path))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "XML is missing required elements: {}",
            missing.join(", ")
        ))
    }
}

/// Walks a path the way promptfoo walks its parsed-XML object: a name selects the child
/// elements of that name (several of them form a list, indexed by a number segment).
fn has_path(top: &[roxmltree::Node<'_, '_>], path: &str) -> bool {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return false;
    };
    let mut current: Vec<roxmltree::Node<'_, '_>> = top
        .iter()
        .filter(|n| n.tag_name().name() == first)
        .copied()
        .collect();
    if current.is_empty() {
        return false;
    }
    for segment in segments {
        if current.len() > 1 {
            match segment.parse::<usize>() {
                Ok(i) if i.to_string() == segment && i < current.len() => {
                    current = vec![current[i]];
                    continue;
                }
                _ => return false,
            }
        }
        let node = current[0];
        if let Some(attr) = segment.strip_prefix("@_") {
            return node.has_attribute(attr);
        }
        current = node
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == segment)
            .collect();
        if current.is_empty() {
            return false;
        }
    }
    true
}

/// Spans of the output that may hold XML: each balanced element, and each run of
/// sibling elements, outermost first.
fn xml_candidates(text: &str) -> Vec<(usize, usize)> {
    struct Open<'t> {
        name: &'t str,
        start: usize,
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Open<'_>> = Vec::new();
    // (start, end, parent start)
    let mut found: Vec<(usize, usize, Option<usize>)> = Vec::new();
    let mut i = 0;
    while let Some(offset) = text[i..].find('<') {
        let start = i + offset;
        let Some(close) = text[start..].find('>').map(|o| start + o) else {
            break;
        };
        let inner = &text[start + 1..close];
        if let Some(name) = inner.strip_prefix('/') {
            let name = tag_name(name);
            match stack.pop_if(|o| o.name == name && !name.is_empty()) {
                Some(open) => found.push((open.start, close + 1, stack.last().map(|o| o.start))),
                None => stack.clear(),
            }
        } else if !inner.starts_with(['!', '?']) {
            let name = tag_name(inner);
            if !name.is_empty() {
                if inner.trim_end().ends_with('/') {
                    found.push((start, close + 1, stack.last().map(|o| o.start)));
                } else {
                    stack.push(Open { name, start });
                }
            }
        }
        i = close + 1;
        if i >= bytes.len() {
            break;
        }
    }
    let starts: std::collections::HashSet<usize> = found.iter().map(|f| f.0).collect();
    // Sibling spans grouped by the start of their parent element (None: top level).
    type Siblings = (Option<usize>, Vec<(usize, usize)>);
    let mut by_parent: Vec<Siblings> = Vec::new();
    for &(s, e, parent) in &found {
        match by_parent.iter_mut().find(|(p, _)| *p == parent) {
            Some((_, list)) => list.push((s, e)),
            None => by_parent.push((parent, vec![(s, e)])),
        }
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (parent, mut siblings) in by_parent {
        if siblings.len() > 1 && parent.is_none_or(|p| !starts.contains(&p)) {
            siblings.sort();
            let span = (siblings[0].0, siblings[siblings.len() - 1].1);
            if !out.contains(&span) {
                out.push(span);
            }
        }
    }
    let mut outermost: Vec<(usize, usize)> = found
        .iter()
        .filter(|(_, _, parent)| parent.is_none_or(|p| !starts.contains(&p)))
        .map(|&(s, e, _)| (s, e))
        .collect();
    outermost.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for span in outermost {
        if !out.contains(&span) {
            out.push(span);
        }
    }
    out
}

/// The element name at the start of a tag's inside (`item id="1"` → `item`).
fn tag_name(inner: &str) -> &str {
    let end = inner
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(inner.len());
    let name = &inner[..end];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
    if valid { name } else { "" }
}

/// A compiled JSON Schema, shared by every row that uses it.
struct Schema(jsonschema::Validator);

impl Schema {
    /// `None` when `value` conforms, else the errors as one line.
    fn errors(&self, value: &Json) -> Option<String> {
        let errors: Vec<String> = self
            .0
            .iter_errors(value)
            .take(8)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() {
                    "data".into()
                } else {
                    format!("data{at}")
                };
                format!("{at} {e}")
            })
            .collect();
        (!errors.is_empty()).then(|| errors.join(", "))
    }
}

/// The schema an assertion's value gives (a mapping, or YAML/JSON text), compiled once.
fn schema_of(a: &Assertion) -> Result<Option<Arc<Schema>>, AssertionError> {
    let schema_json = match &a.value {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) if s.is_empty() => return Ok(None),
        Some(Json::String(s)) => {
            let mut findings = Findings::new("schema");
            match yaml::parse(s, &mut findings) {
                Some(node) if !findings.has_errors() => yaml::into_json(node),
                _ => {
                    return Err(AssertionError(format!(
                        "{} assertion value is not a JSON schema (YAML or JSON text)",
                        a.kind
                    )));
                }
            }
        }
        Some(v @ Json::Object(_)) => v.clone(),
        Some(Json::Bool(b)) if !b => return Ok(None),
        Some(_) => {
            return Err(AssertionError(format!(
                "{} assertion must have a string or object value",
                a.kind
            )));
        }
    };
    compiled(&schema_json)
        .map(Some)
        .map_err(|e| AssertionError(format!("{}: invalid JSON schema: {e}", a.kind)))
}

/// `schema` compiled, once per distinct schema (rows of a suite share their schemas).
fn compiled(schema: &Json) -> Result<Arc<Schema>, String> {
    const MAX_CACHED: usize = 256;
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Schema>>>> = LazyLock::new(Mutex::default);
    let key = schema.to_string();
    if let Some(s) = CACHE.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(s);
    }
    let validator = jsonschema::validator_for(schema).map_err(|e| e.to_string())?;
    let compiled = Arc::new(Schema(validator));
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
    }
    Ok(compiled)
}

/// Validates `value` against a JSON Schema (used for tool-call arguments).
pub fn schema_errors(schema: &Json, value: &Json) -> Result<Option<String>, String> {
    Ok(compiled(schema)?.errors(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn run(kind: &str, value: Json, output: &str) -> ComponentResult {
        let a = Assertion::new(kind, (!value.is_null()).then_some(value));
        let r = match a.kind.as_str() {
            "is-json" => is_json(&a, output),
            "contains-json" => contains_json(&a, output),
            "is-xml" => is_xml(&a, output),
            "contains-xml" => contains_xml(&a, output),
            other => panic!("{other}"),
        };
        r.unwrap_or_else(|e| panic!("{kind}: {e}"))
    }

    #[track_caller]
    fn passes(kind: &str, value: Json, output: &str, want: bool) {
        let r = run(kind, value, output);
        assert_eq!(r.pass, want, "{kind} on {output:?}: {}", r.reason);
        assert_eq!(r.score, if want { 1.0 } else { 0.0 });
    }

    #[test]
    fn is_json_table() {
        let schema = json!({"type": "object", "required": ["label"], "properties": {"label": {"type": "string"}}});
        for (value, output, want) in [
            (Json::Null, r#"{"a": 1}"#, true),
            (Json::Null, " [1, 2] ", true),
            (Json::Null, "42", true),
            (Json::Null, "{a: 1}", false),
            (Json::Null, "Sure: {\"a\": 1}", false),
            (Json::Null, "", false),
            (schema.clone(), r#"{"label": "x"}"#, true),
            (schema.clone(), r#"{"label": 3}"#, false),
            (schema.clone(), r#"{}"#, false),
            (schema.clone(), "not json", false),
            (
                json!("type: object\nrequired: [label]"),
                r#"{"label": 1}"#,
                true,
            ),
            (
                json!("type: object\nrequired: [label]"),
                r#"{"x": 1}"#,
                false,
            ),
        ] {
            passes("is-json", value.clone(), output, want);
            passes("not-is-json", value, output, !want);
        }
        let r = run("is-json", schema, r#"{"label": 3}"#);
        assert!(
            r.reason
                .starts_with("JSON does not conform to the provided schema. Errors: data/label"),
            "{}",
            r.reason
        );
        assert_eq!(
            run("is-json", Json::Null, "x").reason,
            "Expected output to be valid JSON"
        );
        assert_eq!(
            run("not-is-json", Json::Null, "{}").reason,
            "Expected output to not be valid JSON"
        );
    }

    #[test]
    fn contains_json_table() {
        let schema = json!({"type": "object", "required": ["pass"]});
        for (value, output, want) in [
            (Json::Null, "Here: {\"a\": 1} done", true),
            (Json::Null, "lenient {a: 1}", true),
            (Json::Null, "no json [1, 2]", false),
            (Json::Null, "", false),
            (schema.clone(), "x {\"a\": 1} y {\"pass\": true}", true),
            (schema.clone(), "x {\"a\": 1}", false),
            (schema.clone(), "none", false),
        ] {
            passes("contains-json", value, output, want);
        }
        // promptfoo: with a schema and no object at all, the inverse passes.
        passes("not-contains-json", schema.clone(), "none", true);
        passes("not-contains-json", schema, "{\"pass\": 1}", false);
        passes("not-contains-json", Json::Null, "{\"a\": 1}", false);
    }

    #[test]
    fn is_xml_table() {
        for (value, output, want) in [
            (Json::Null, "<a><b>1</b></a>", true),
            (Json::Null, "<?xml version=\"1.0\"?><a/>", true),
            (Json::Null, "<a><b></a>", false),
            (Json::Null, "text <a/>", false),
            (Json::Null, "<a/><b/>", false),
            (
                Json::Null,
                "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                false,
            ),
            (json!("a.b"), "<a><b>1</b></a>", true),
            (json!("a.b, a.c"), "<a><b>1</b></a>", false),
            (json!(["a.b.1"]), "<a><b>1</b><b>2</b></a>", true),
            (json!(["a.b.2"]), "<a><b>1</b><b>2</b></a>", false),
            (json!({"requiredElements": ["a"]}), "<a/>", true),
            (json!("a.@_id"), "<a id=\"1\"/>", true),
        ] {
            passes("is-xml", value.clone(), output, want);
            passes("not-is-xml", value, output, !want);
        }
        assert_eq!(
            run("is-xml", json!("a.c"), "<a><b/></a>").reason,
            "XML is missing required elements: a.c"
        );
        assert!(
            run("is-xml", Json::Null, "<a>")
                .reason
                .starts_with("XML parsing failed:")
        );
        // A value of the wrong kind makes the assertion unusable (an error row).
        assert!(is_xml(&Assertion::new("is-xml", Some(json!(5))), "<a/>").is_err());
    }

    #[test]
    fn contains_xml_table() {
        for (value, output, want) in [
            (Json::Null, "Here you go: <a><b>1</b></a> thanks", true),
            (Json::Null, "<item/><item/>", true),
            (Json::Null, "no xml at all", false),
            (Json::Null, "a < b and c > d", false),
            (
                json!("result.score"),
                "ok <result><score>5</score></result>",
                true,
            ),
            (
                json!("result.reason"),
                "ok <result><score>5</score></result>",
                false,
            ),
            (json!("b"), "<x><b>1</b></x>", false),
        ] {
            passes("contains-xml", value, output, want);
        }
        assert_eq!(
            run("contains-xml", Json::Null, "plain").reason,
            "No XML content found in the output"
        );
    }
}
