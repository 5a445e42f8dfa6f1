//! Finding JSON objects inside free text (a grader's answer, `contains-json`): every
//! brace-balanced `{…}` that parses, leniently (YAML flow syntax accepted as well).

use promptops_core::diagnostic::Findings;
use promptops_core::yaml;
use serde_json::Value as Json;

/// The JSON objects in `text`, in order.
pub fn json_objects(text: &str) -> Vec<Json> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(open) = text[start..].find('{').map(|i| start + i) {
        match balanced_end(bytes, open) {
            Some(end) => {
                let candidate = &text[open..=end];
                match parse_object(candidate) {
                    Some(obj) => {
                        out.push(obj);
                        start = end + 1;
                    }
                    None => start = open + 1,
                }
            }
            None => start = open + 1,
        }
    }
    out
}

/// The index of the `}` closing the `{` at `open`, skipping braces inside strings.
fn balanced_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_object(candidate: &str) -> Option<Json> {
    if let Ok(v @ Json::Object(_)) = serde_json::from_str::<Json>(candidate) {
        return Some(v);
    }
    let mut findings = Findings::new("output");
    let node = yaml::parse(candidate, &mut findings)?;
    match yaml::into_json(node) {
        v @ Json::Object(_) if !findings.has_errors() => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_objects_in_prose() {
        let text = r#"Sure! {"pass": true, "score": 0.9, "reason": "has {braces}"} and then {not [valid} {a: 1}"#;
        assert_eq!(
            json_objects(text),
            vec![
                json!({"pass": true, "score": 0.9, "reason": "has {braces}"}),
                json!({"a": 1})
            ]
        );
        assert!(json_objects("LABEL-NONE").is_empty());
        assert_eq!(
            json_objects(r#"{"outer": {"inner": 1}}"#),
            vec![json!({"outer": {"inner": 1}})]
        );
    }
}
