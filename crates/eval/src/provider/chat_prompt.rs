//! How a rendered prompt becomes chat messages, as promptfoo does it per provider:
//! JSON (or `- role:` YAML) chat arrays are sent as they are; plain text is one user
//! message for OpenAI, and line-parsed (`system:`/`user:`/`assistant:`) for Anthropic.

use promptops_core::diagnostic::Findings;
use promptops_core::yaml;
use serde_json::{Value as Json, json};

/// The `messages` value for an OpenAI chat request.
pub fn openai_messages(prompt: &str) -> Result<Json, String> {
    if prompt.trim_start().starts_with("- role:") {
        let mut findings = Findings::new("prompt");
        if let Some(node) = yaml::parse(prompt, &mut findings) {
            return Ok(yaml::to_json(&node));
        }
    }
    match serde_json::from_str::<Json>(prompt) {
        Ok(value) => Ok(value),
        Err(_) if looks_like_json(prompt) => {
            Err("Chat Completion prompt is not a valid JSON string".into())
        }
        Err(_) => Ok(json!([{ "role": "user", "content": prompt }])),
    }
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
