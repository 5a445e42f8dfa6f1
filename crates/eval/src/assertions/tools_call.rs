//! `is-valid-openai-tools-call`: the output is a list of OpenAI tool calls, each naming a
//! function the provider was configured with and passing arguments its schema accepts.

use super::structured::schema_errors;
use super::{Assertion, ComponentResult};
use serde_json::{Map, Value as Json};

/// `output` is the provider's output as returned (a list of calls, or a message with
/// `tool_calls`); `provider_config` is the provider's `config` (its `tools`).
/// promptfoo ignores `not-` for this type, and so do we.
pub fn check(
    a: &Assertion,
    output: &Json,
    provider_config: Option<&Map<String, Json>>,
) -> ComponentResult {
    let fail = |reason: String| a.verdict(false, 0.0, reason, Default::default());
    let text = match output {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains("MCP Tool Error") {
        return fail(mcp_message(
            &text,
            "MCP Tool Error",
            "MCP tool call failed for",
        ));
    }
    if text.contains("MCP Tool Result") {
        return a.verdict(
            true,
            1.0,
            mcp_message(&text, "MCP Tool Result", "MCP tool call succeeded for"),
            Default::default(),
        );
    }
    let calls = match output {
        Json::Object(o) if o.contains_key("tool_calls") => &o["tool_calls"],
        other => other,
    };
    let well_formed = calls.as_array().is_some_and(|list| {
        !list.is_empty()
            && list.iter().all(|c| {
                c["function"]["name"].is_string() && c["function"]["arguments"].is_string()
            })
    });
    if !well_formed {
        return fail(format!(
            "OpenAI did not return a valid-looking tools response: {calls}"
        ));
    }
    let Some(tools) = provider_config
        .and_then(|c| c.get("tools"))
        .and_then(Json::as_array)
    else {
        return fail("No tools configured in provider, but output contains tool calls".into());
    };
    let functions: Vec<&Json> = tools
        .iter()
        .filter(|t| t["type"] == "function")
        .filter_map(|t| t.get("function"))
        .collect();
    for call in calls.as_array().into_iter().flatten() {
        if let Err(reason) = check_call(&call["function"], &functions) {
            return fail(reason);
        }
    }
    a.verdict(true, 1.0, "Assertion passed".into(), Default::default())
}

fn check_call(call: &Json, functions: &[&Json]) -> Result<(), String> {
    let name = call["name"].as_str().unwrap_or_default();
    let arguments = call["arguments"].as_str().unwrap_or_default();
    let args: Json = serde_json::from_str(arguments)
        .map_err(|e| format!("Call to \"{name}\" has arguments that are not JSON: {e}"))?;
    let Some(schema) = functions
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f.get("parameters"))
    else {
        return Err(format!(
            "Called \"{name}\", but there is no function with that name"
        ));
    };
    match schema_errors(schema, &args) {
        Ok(None) => Ok(()),
        Ok(Some(errors)) => Err(format!(
            "Call to \"{name}\" does not match schema: {errors}"
        )),
        Err(e) => Err(format!(
            "The schema of tool \"{name}\" is not a valid JSON schema: {e}"
        )),
    }
}

/// `MCP Tool Result (name): ...` → `<prefix> name`.
fn mcp_message(text: &str, marker: &str, prefix: &str) -> String {
    let after = &text[text.find(marker).unwrap_or(0) + marker.len()..];
    let name = after
        .strip_prefix(" (")
        .and_then(|rest| rest.split_once(')'))
        .map_or("unknown", |(name, _)| name);
    if marker == "MCP Tool Error" {
        let detail = after
            .split_once("): ")
            .map_or("unknown error", |(_, d)| d.lines().next().unwrap_or(d));
        format!("{prefix} {name}: {detail}")
    } else {
        format!("{prefix} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Map<String, Json> {
        json!({"tools": [{"type": "function", "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "required": ["city"],
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
        }}]})
        .as_object()
        .cloned()
        .unwrap()
    }

    fn call(name: &str, args: &str) -> Json {
        json!([{"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}])
    }

    #[test]
    fn tools_calls() {
        let a = Assertion::new("is-valid-openai-tools-call", None);
        let cfg = config();
        let ok = |out: &Json| check(&a, out, Some(&cfg));
        assert!(ok(&call("get_weather", r#"{"city": "Oslo"}"#)).pass);
        assert!(ok(&json!({"content": null, "tool_calls": call("get_weather", r#"{"city": "Oslo", "days": 2}"#)})).pass);
        let r = ok(&call("get_weather", r#"{"days": 2}"#));
        assert!(
            !r.pass
                && r.reason
                    .starts_with("Call to \"get_weather\" does not match schema"),
            "{}",
            r.reason
        );
        let r = ok(&call("get_time", "{}"));
        assert_eq!(
            r.reason,
            "Called \"get_time\", but there is no function with that name"
        );
        let r = ok(&json!("The weather is nice"));
        assert!(
            r.reason
                .starts_with("OpenAI did not return a valid-looking tools response")
        );
        assert!(!ok(&json!([])).pass);
        assert!(!ok(&call("get_weather", "not json")).pass);
        let r = check(&a, &call("get_weather", "{}"), None);
        assert_eq!(
            r.reason,
            "No tools configured in provider, but output contains tool calls"
        );
        // `not-` is ignored, as promptfoo does.
        let not = Assertion::new("not-is-valid-openai-tools-call", None);
        assert!(
            check(
                &not,
                &call("get_weather", r#"{"city": "Oslo"}"#),
                Some(&cfg)
            )
            .pass
        );
        let r = ok(&json!("MCP Tool Error (search): timeout"));
        assert_eq!(
            (r.pass, r.reason.as_str()),
            (false, "MCP tool call failed for search: timeout")
        );
        assert!(ok(&json!("MCP Tool Result (search): 3 hits")).pass);
    }
}
