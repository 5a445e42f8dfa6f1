//! How a rendered prompt becomes chat messages, as promptfoo does it per provider:
//! JSON (or `- role:` YAML) chat arrays are sent as they are; plain text is one user
//! message for OpenAI, and line-parsed (`system:`/`user:`/`assistant:`) for Anthropic and
//! Bedrock Converse; Gemini gets chat arrays coerced to `contents` with `parts`.

use promptops_core::diagnostic::Findings;
use promptops_core::yaml;
use serde_json::{Map, Value as Json, json};

/// The prompt as a chat value when it is one (JSON, or YAML starting `- role:`), `None`
/// for plain text (promptfoo's `parseChatPrompt`). Text that looks like JSON but is not
/// is an error.
pub fn parse_chat(prompt: &str) -> Result<Option<Json>, String> {
    if prompt.trim_start().starts_with("- role:") {
        let mut findings = Findings::new("prompt");
        if let Some(node) = yaml::parse(prompt, &mut findings) {
            return Ok(Some(yaml::to_json(&node)));
        }
    }
    match serde_json::from_str::<Json>(prompt) {
        Ok(value) => Ok(Some(value)),
        Err(_) if looks_like_json(prompt) => {
            Err("Chat Completion prompt is not a valid JSON string".into())
        }
        Err(_) => Ok(None),
    }
}

/// The `messages` value for an OpenAI chat request.
pub fn openai_messages(prompt: &str) -> Result<Json, String> {
    Ok(parse_chat(prompt)?.unwrap_or_else(|| json!([{ "role": "user", "content": prompt }])))
}

/// `contents` and the prompt's system instruction (`{parts}`) for a Gemini
/// `generateContent` request (promptfoo's `geminiFormatAndSystemInstructions`): plain text
/// is one user turn; a Gemini `contents` array is sent as it is; an OpenAI-style chat
/// array becomes turns with `parts` (`assistant` becomes `model`, or stays `assistant`
/// with `use_assistant_role`) and its system messages become the system instruction.
pub fn gemini_contents(
    prompt: &str,
    use_assistant_role: bool,
) -> Result<(Json, Option<Json>), String> {
    let Some(value) = parse_chat(prompt)? else {
        return Ok((
            json!([{ "role": "user", "parts": [{ "text": prompt }] }]),
            None,
        ));
    };
    if is_gemini_contents(&value) {
        return Ok((value, None));
    }
    if let Some(system) = value
        .get("system_instruction")
        .filter(|_| value.is_object())
    {
        let contents = value.get("contents").cloned().unwrap_or(json!([]));
        return Ok((contents, Some(system.clone())));
    }
    let assistant = if use_assistant_role {
        "assistant"
    } else {
        "model"
    };
    let role_of = |item: &Json| -> Json {
        match item.get("role") {
            Some(r) if r == "assistant" => Json::String(assistant.into()),
            Some(r) => r.clone(),
            None => Json::Null,
        }
    };
    let turn = |role: Json, parts: Json| -> Json {
        let mut m = Map::new();
        if !role.is_null() {
            m.insert("role".into(), role);
        }
        m.insert("parts".into(), parts);
        Json::Object(m)
    };
    let items = value.as_array();
    let contents: Vec<Json> = match &value {
        Json::String(s) => vec![json!({ "parts": [{ "text": s }] })],
        _ if items.is_some_and(|a| a.iter().all(|i| i["content"].is_string())) => items
            .into_iter()
            .flatten()
            .map(|i| turn(role_of(i), json!([{ "text": i["content"] }])))
            .collect(),
        _ if items.is_some_and(|a| {
            a.iter()
                .all(|i| crate::js_truthy(&i["role"]) && crate::js_truthy(&i["content"]))
        }) =>
        {
            items
                .into_iter()
                .flatten()
                .map(|i| {
                    let parts = match &i["content"] {
                        Json::Array(blocks) => Json::Array(
                            blocks
                                .iter()
                                .map(|b| match b {
                                    Json::String(s) => json!({ "text": s }),
                                    b if b["type"] == "text" => json!({ "text": b["text"] }),
                                    b => b.clone(),
                                })
                                .collect(),
                        ),
                        o @ Json::Object(_) => json!([o]),
                        other => json!([{ "text": other }]),
                    };
                    turn(role_of(i), parts)
                })
                .collect()
        }
        Json::Object(o) if o.contains_key("parts") => vec![value.clone()],
        // promptfoo warns and sends what it has.
        Json::Array(a) => return Ok((Json::Array(a.clone()), None)),
        _ => return Ok((json!([]), None)),
    };
    let mut system_parts = Vec::new();
    let mut turns = Vec::new();
    for c in contents {
        match c["parts"].as_array() {
            Some(parts) if c["role"] == "system" && !parts.is_empty() => system_parts.extend(
                parts
                    .iter()
                    .filter(|p| p.get("text").is_some_and(Json::is_string))
                    .cloned(),
            ),
            _ => turns.push(c),
        }
    }
    if turns.is_empty() && !system_parts.is_empty() {
        return Ok((json!([{ "role": "user", "parts": system_parts }]), None));
    }
    let system = (!system_parts.is_empty()).then(|| json!({ "parts": system_parts }));
    Ok((Json::Array(turns), system))
}

/// Already Gemini `contents`: turns with a `parts` list of objects (a `text` in them is a
/// string) and an optional `user` or `model` role.
fn is_gemini_contents(value: &Json) -> bool {
    value.as_array().is_some_and(|turns| {
        turns.iter().all(|t| {
            let role_ok = match t.get("role") {
                None => true,
                Some(r) => r == "user" || r == "model",
            };
            let parts_ok = t["parts"].as_array().is_some_and(|parts| {
                parts
                    .iter()
                    .all(|p| p.is_object() && p.get("text").is_none_or(Json::is_string))
            });
            t.is_object() && role_ok && parts_ok
        })
    })
}

/// The `system` blocks (if any) and `messages` for a Bedrock Converse request
/// (promptfoo's `parseConverseMessages`): a JSON chat array is converted block by block;
/// other text is line-parsed, `system:`, `user:` and `assistant:` (any case) starting a
/// message.
pub fn converse_messages(prompt: &str) -> (Option<Json>, Json) {
    if let Ok(Json::Array(items)) = serde_json::from_str::<Json>(prompt) {
        let mut system = Vec::new();
        let mut messages = Vec::new();
        for item in &items {
            let text_of = |c: &Json| c.as_str().map_or_else(|| c.to_string(), str::to_owned);
            match item["role"].as_str() {
                Some("system") => system.push(json!({ "text": text_of(&item["content"]) })),
                Some(role @ ("user" | "assistant")) => {
                    let content = match &item["content"] {
                        Json::String(s) => vec![json!({ "text": s })],
                        Json::Array(blocks) => blocks.iter().filter_map(converse_block).collect(),
                        other => vec![json!({ "text": other.to_string() })],
                    };
                    messages.push(json!({ "role": role, "content": content }));
                }
                _ => {}
            }
        }
        let system = (!system.is_empty()).then_some(Json::Array(system));
        return (system, Json::Array(messages));
    }
    let mut system = None;
    let mut messages = Vec::new();
    let mut role: Option<&str> = None;
    let mut lines: Vec<&str> = Vec::new();
    let flush = |role: Option<&str>, lines: &mut Vec<&str>, messages: &mut Vec<Json>| {
        if let Some(r) = role
            && !lines.is_empty()
        {
            messages.push(json!({ "role": r, "content": [{ "text": lines.join("\n") }] }));
            lines.clear();
        }
    };
    // `system:`, `user:` or `assistant:` in any case, and what follows it.
    let after = |line: &'static str, trimmed: &str| -> Option<usize> {
        trimmed
            .get(..line.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(line))
            .then_some(line.len())
    };
    for line in prompt.split('\n') {
        let trimmed = line.trim();
        if let Some(n) = after("system:", trimmed) {
            flush(role, &mut lines, &mut messages);
            system = Some(json!([{ "text": trimmed[n..].trim() }]));
            role = None;
        } else if let Some((r, n)) = [("user", "user:"), ("assistant", "assistant:")]
            .into_iter()
            .find_map(|(r, p)| Some((r, after(p, trimmed)?)))
        {
            flush(role, &mut lines, &mut messages);
            role = Some(r);
            let rest = trimmed[n..].trim();
            if !rest.is_empty() {
                lines.push(rest);
            }
        } else {
            role.get_or_insert("user");
            lines.push(line);
        }
    }
    flush(role, &mut lines, &mut messages);
    if messages.is_empty() {
        messages.push(json!({ "role": "user", "content": [{ "text": prompt }] }));
    }
    (system, Json::Array(messages))
}

/// One chat content block as a Converse content block; `None` for an image or document
/// without bytes (promptfoo skips those with a warning).
fn converse_block(block: &Json) -> Option<Json> {
    if let Json::String(s) = block {
        return Some(json!({ "text": s }));
    }
    let kind = block["type"].as_str().unwrap_or("");
    if kind == "text" {
        return Some(json!({ "text": block["text"] }));
    }
    // Bytes travel as base64 in Converse's JSON; a data URL loses its prefix.
    let base64_of = |source: &Json| -> Option<(String, Option<String>)> {
        let raw = source["bytes"]
            .as_str()
            .or_else(|| source["data"].as_str())?;
        match raw.strip_prefix("data:") {
            Some(rest) => {
                let (mime, data) = rest.split_once(";base64,")?;
                let format = mime.rsplit('/').next().map(|f| f.replace("jpg", "jpeg"));
                Some((data.to_owned(), format))
            }
            None => Some((raw.to_owned(), None)),
        }
    };
    if kind == "image" || block.get("image").is_some() {
        let image = block.get("image").unwrap_or(block);
        let (bytes, from_url) = base64_of(&image["source"])?;
        let format = image["format"]
            .as_str()
            .map(str::to_owned)
            .or(from_url)
            .or_else(|| {
                image["source"]["media_type"]
                    .as_str()
                    .and_then(|m| m.split('/').nth(1))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "png".into())
            .replace("jpg", "jpeg");
        return Some(json!({ "image": { "format": format, "source": { "bytes": bytes } } }));
    }
    if kind == "document" || block.get("document").is_some() {
        let doc = block.get("document").unwrap_or(block);
        let (bytes, _) = base64_of(&doc["source"])?;
        return Some(json!({ "document": {
            "format": doc["format"].as_str().unwrap_or("txt"),
            "name": doc["name"].as_str().unwrap_or("document"),
            "source": { "bytes": bytes },
        } }));
    }
    if kind == "tool_use" || block.get("toolUse").is_some() {
        let t = block.get("toolUse").unwrap_or(block);
        let id = t.get("toolUseId").or_else(|| t.get("id")).cloned();
        return Some(
            json!({ "toolUse": { "toolUseId": id, "name": t["name"], "input": t["input"] } }),
        );
    }
    if kind == "tool_result" || block.get("toolResult").is_some() {
        let t = block.get("toolResult").unwrap_or(block);
        let id = t.get("toolUseId").or_else(|| t.get("tool_use_id")).cloned();
        let content = match &t["content"] {
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|c| match c {
                        Json::String(s) => json!({ "text": s }),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            Json::String(s) => json!([{ "text": s }]),
            other => json!([{ "text": other.to_string() }]),
        };
        let mut result = json!({ "toolUseId": id, "content": content });
        if let Some(status) = t.get("status") {
            result["status"] = status.clone();
        }
        return Some(json!({ "toolResult": result }));
    }
    Some(json!({ "text": block.to_string() }))
}

/// `{…}`, or `[` followed by what starts a JSON value (or nothing).
fn looks_like_json(prompt: &str) -> bool {
    let t = prompt.trim();
    if t.starts_with('{') && t.ends_with('}') {
        return true;
    }
    let Some(rest) = t.strip_prefix('[') else {
        return false;
    };
    let rest = rest.trim_start();
    rest.is_empty()
        || rest.starts_with(['"', '{', '[', '-', ']'])
        || rest.starts_with(|c: char| c.is_ascii_digit())
        || ["true", "false", "null"]
            .iter()
            .any(|w| rest.starts_with(w))
}

/// The `system` value (if any) and `messages` for an Anthropic messages request.
pub fn anthropic_messages(prompt: &str) -> (Option<Json>, Json) {
    if let Ok(Json::Array(items)) = serde_json::from_str::<Json>(prompt) {
        let mut system = None;
        let mut messages = Vec::new();
        for item in items {
            let role = item
                .get("role")
                .and_then(Json::as_str)
                .unwrap_or("user")
                .to_owned();
            let content = item.get("content").cloned().unwrap_or(Json::Null);
            let blocks = match &content {
                Json::Array(_) => content.clone(),
                Json::String(s) => json!([{ "type": "text", "text": s }]),
                other => json!([{ "type": "text", "text": other.to_string() }]),
            };
            if role == "system" && system.is_none() {
                system = Some(blocks);
            } else {
                messages.push(json!({ "role": role, "content": blocks }));
            }
        }
        return (system, Json::Array(messages));
    }
    let mut system: Option<String> = None;
    let mut messages: Vec<(String, Vec<String>)> = Vec::new();
    for line in prompt.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("system:") {
            system = Some(rest.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("user:") {
            messages.push(("user".into(), vec![rest.trim().to_owned()]));
        } else if let Some(rest) = line.strip_prefix("assistant:") {
            messages.push(("assistant".into(), vec![rest.trim().to_owned()]));
        } else if let Some(last) = messages.last_mut() {
            last.1.push(line.to_owned());
        } else {
            messages.push(("user".into(), vec![line.to_owned()]));
        }
    }
    if messages.is_empty() {
        messages.push(("user".into(), vec![prompt.trim().to_owned()]));
    }
    let messages = messages
        .into_iter()
        .map(|(role, lines)| json!({ "role": role, "content": [{ "type": "text", "text": lines.join("\n") }] }))
        .collect();
    (
        system.map(|s| json!([{ "type": "text", "text": s }])),
        Json::Array(messages),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_plain_json_and_yaml() {
        assert_eq!(
            openai_messages("Hi there").unwrap(),
            json!([{"role": "user", "content": "Hi there"}])
        );
        let chat =
            r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]"#;
        assert_eq!(openai_messages(chat).unwrap()[1]["content"], "Hi");
        assert_eq!(
            openai_messages("- role: user\n  content: Hi\n").unwrap(),
            json!([{"role": "user", "content": "Hi"}])
        );
        assert!(openai_messages("[{\"role\": oops").is_err());
    }

    #[test]
    fn gemini_contents_from_text_chat_arrays_and_contents() {
        let check = |prompt: &str, contents: Json, system: Option<Json>| {
            assert_eq!(
                gemini_contents(prompt, false).unwrap(),
                (contents, system),
                "{prompt}"
            );
        };
        check(
            "Hi",
            json!([{"role": "user", "parts": [{"text": "Hi"}]}]),
            None,
        );
        check(
            r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]"#,
            json!([{"role": "user", "parts": [{"text": "Hi"}]}, {"role": "model", "parts": [{"text": "Yo"}]}]),
            Some(json!({"parts": [{"text": "Be brief"}]})),
        );
        let native = r#"[{"role": "user", "parts": [{"text": "Hi"}, {"inline_data": {"mime_type": "image/png", "data": "AA=="}}]}]"#;
        check(native, serde_json::from_str(native).unwrap(), None);
        // Only system messages: they are the user turn.
        check(
            r#"[{"role": "system", "content": "Only this"}]"#,
            json!([{"role": "user", "parts": [{"text": "Only this"}]}]),
            None,
        );
        check(
            r#"[{"role": "user", "content": [{"type": "text", "text": "a"}, "b"]}]"#,
            json!([{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]),
            None,
        );
        check(
            r#"{"system_instruction": {"parts": [{"text": "S"}]}, "contents": [{"parts": [{"text": "Q"}]}]}"#,
            json!([{"parts": [{"text": "Q"}]}]),
            Some(json!({"parts": [{"text": "S"}]})),
        );
        assert_eq!(
            gemini_contents(r#"[{"role": "assistant", "content": "x"}]"#, true)
                .unwrap()
                .0[0]["role"],
            "assistant"
        );
        assert!(gemini_contents("[{\"role\": oops", false).is_err());
    }

    #[test]
    fn converse_messages_from_chat_arrays_and_lines() {
        let (system, messages) = converse_messages(
            r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image", "source": {"bytes": "data:image/jpg;base64,AAAA"}}]}, {"role": "assistant", "content": "Yo"}]"#,
        );
        assert_eq!(system, Some(json!([{"text": "Be brief"}])));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"text": "Hi"}, {"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}}]},
                {"role": "assistant", "content": [{"text": "Yo"}]}
            ])
        );
        let (system, messages) =
            converse_messages("System: Be brief\nUSER: Hi\n  more\nassistant: Ok");
        assert_eq!(system, Some(json!([{"text": "Be brief"}])));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"text": "Hi\n  more"}]},
                {"role": "assistant", "content": [{"text": "Ok"}]}
            ])
        );
        let (system, messages) = converse_messages("Just text\n\nover lines");
        assert_eq!(system, None);
        assert_eq!(
            messages,
            json!([{"role": "user", "content": [{"text": "Just text\n\nover lines"}]}])
        );
    }

    #[test]
    fn anthropic_moves_system_out_and_parses_lines() {
        let (system, messages) = anthropic_messages(
            r#"[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]"#,
        );
        assert_eq!(
            system.unwrap(),
            json!([{"type": "text", "text": "Be brief"}])
        );
        assert_eq!(
            messages,
            json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
        );
        let (system, messages) =
            anthropic_messages("system: Be brief\n\n  user: Hi\n  more\nassistant: Ok");
        assert_eq!(system.unwrap()[0]["text"], "Be brief");
        assert_eq!(messages[0]["content"][0]["text"], "Hi\nmore");
        assert_eq!(messages[1]["role"], "assistant");
        let (_, messages) = anthropic_messages("  indented\n\n  text ");
        assert_eq!(messages[0]["content"][0]["text"], "indented\ntext");
    }
}
