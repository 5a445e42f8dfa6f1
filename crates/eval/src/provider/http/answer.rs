//! Reading an HTTP provider's answer: `transformResponse` (a plain path read directly,
//! anything else run as JavaScript), else the body as JSON, else the text.

use super::*;

/// The answer: `transformResponse` applied to the body, else the body as JSON when it
/// parses (and is truthy, as promptfoo's `data || text`), else the text.
pub(super) async fn read_answer(
    shared: &Shared,
    config: &Map<String, Json>,
    text: &str,
    http: &HttpMeta,
) -> Result<Response, HttpError> {
    let json: Json = serde_json::from_str(text).unwrap_or(Json::Null);
    let Some(code) = transform_code(config)? else {
        let output = if crate::js_truthy(&json) {
            json
        } else {
            Json::String(text.to_owned())
        };
        return Ok(answer_of(Some(output)));
    };
    let value = match path_value(code, &json, text) {
        Some(v) => Some(v),
        None => {
            let context = serde_json::json!({"response": {
                "data": text,
                "status": http.status,
                "statusText": http.status_text,
                "headers": http.headers_json(),
                "cached": false,
            }});
            script::transform_response(code, &json, text, &context, &shared.base_dir)
                .await
                .map_err(|e| HttpError::Transform(e.to_string()))?
        }
    };
    Ok(answer_of(value))
}

/// What a transform gave, as promptfoo reads it: an object with `output` or `error` is a
/// provider response (with `tokenUsage` and `cost` if it has them); anything else is the
/// output.
pub(super) fn answer_of(value: Option<Json>) -> Response {
    let mut response = Response {
        token_usage: TokenUsage {
            num_requests: 1,
            ..TokenUsage::default()
        },
        ..Response::default()
    };
    match value {
        Some(Json::Object(o)) if o.contains_key("output") || o.contains_key("error") => {
            response.output = o.get("output").filter(|v| !v.is_null()).cloned();
            response.error = o.get("error").filter(|v| !v.is_null()).map(|e| match e {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            if let Some(u) = o.get("tokenUsage") {
                let n = |k: &str| u.get(k).and_then(Json::as_u64).unwrap_or(0);
                let (prompt, completion) = (n("prompt"), n("completion"));
                response.token_usage = TokenUsage {
                    prompt,
                    completion,
                    total: u
                        .get("total")
                        .and_then(Json::as_u64)
                        .unwrap_or(prompt + completion),
                    cached: n("cached"),
                    num_requests: u.get("numRequests").and_then(Json::as_u64).unwrap_or(1),
                };
            }
            response.cost = o
                .get("cost")
                .and_then(Json::as_f64)
                .and_then(NanoUsd::from_usd_f64);
        }
        other => response.output = other,
    }
    response
}

/// A transform that is only a property path (`json.choices[0].message.content`, `text`,
/// or a path into the body without the `json.` prefix, `data.output`), read without
/// starting the JavaScript engine. `None` when it is not a plain path or does not resolve;
/// the engine then runs it, so anything else keeps JavaScript's meaning (and errors).
pub(super) fn path_value(code: &str, json: &Json, text: &str) -> Option<Json> {
    let (root, steps) = parse_path(code)?;
    let start = match root {
        "text" if steps.is_empty() => return Some(Json::String(text.to_owned())),
        "json" => json,
        "text" | "context" => return None,
        // `data.output`: not valid JavaScript in promptfoo (no `data` in scope); read it
        // as a path into the parsed body.
        _ => json.get(root)?,
    };
    let mut current = start;
    for step in &steps {
        current = match (current, step) {
            (Json::Object(map), Step::Key(key)) => map.get(*key)?,
            (Json::Object(map), Step::Index(i)) => map.get(&i.to_string())?,
            (Json::Array(items), Step::Index(i)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(current.clone())
}

#[derive(Debug, PartialEq)]
pub(super) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `ident(.ident | [digits] | ["key"] | ['key'])*`, no spaces; `None` for anything else.
pub(super) fn parse_path(code: &str) -> Option<(&str, Vec<Step<'_>>)> {
    let ident_len = |s: &str| {
        let first_ok = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
        if !first_ok {
            return 0;
        }
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(s.len())
    };
    let n = ident_len(code);
    if n == 0 {
        return None;
    }
    let root = &code[..n];
    let mut rest = &code[n..];
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let n = ident_len(after);
            if n == 0 {
                return None;
            }
            steps.push(Step::Key(&after[..n]));
            rest = &after[n..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inside = &after[..close];
            let step = if let Ok(i) = inside.parse::<usize>() {
                Step::Index(i)
            } else {
                let quote = inside.chars().next().filter(|c| *c == '"' || *c == '\'')?;
                let key = inside.strip_prefix(quote)?.strip_suffix(quote)?;
                if key.contains(['\\', quote]) {
                    return None;
                }
                Step::Key(key)
            };
            steps.push(step);
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some((root, steps))
}
