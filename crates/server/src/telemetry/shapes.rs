//! The event shapes ingest reads: ours ([`ExecutionEvent`]), and, unchanged, the
//! PromptLog and agent-trace shapes of the governance repositories teams already log in
//! (`schemas/prompt-log-schema.json`, `schemas/agenttrace-schema.json`). Each becomes an
//! [`ExecutionEvent`] plus what it carries beyond one (kept as the event's `extra`).

use promptops_api::{EventOutcome, ExecutionEvent};
use serde_json::{Map, Value as Json};

/// An event read from any shape, with what did not map to a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub event: ExecutionEvent,
    pub extra: Option<Json>,
}

/// Reads one item of a body; the error says what is wrong and how to fix it.
pub fn read(value: Json) -> Result<Read, String> {
    let Json::Object(object) = value else {
        return Err("an event is a JSON object with at least `prompt_id`".into());
    };
    if object.contains_key("agent_trace") {
        agent_trace(object)
    } else if object.contains_key("version_hash") || object.contains_key("tokens_input") {
        prompt_log(object)
    } else {
        serde_json::from_value::<ExecutionEvent>(Json::Object(object))
            .map(|event| Read { event, extra: None })
            .map_err(|e| format!("{e}; see /schemas/execution-event.json"))
    }
}

/// The PromptLog shape: `prompt_id`, `version_hash`, `timestamp`, `trace_id`, `model`,
/// `tokens_input`, `tokens_output`, `cost_usd`, `inputs`, `outputs`, and optionally
/// `duration_ms`, `run_id`, `retrieved_docs`, `eval_results`.
fn prompt_log(mut o: Map<String, Json>) -> Result<Read, String> {
    let event = ExecutionEvent {
        id: None,
        prompt_id: take_string(&mut o, "prompt_id")?.ok_or("a PromptLog needs `prompt_id`")?,
        content_hash: take_string(&mut o, "version_hash")?,
        model: take_string(&mut o, "model")?,
        input_tokens: take_count(&mut o, "tokens_input")?,
        output_tokens: take_count(&mut o, "tokens_output")?,
        cost_usd: take_number(&mut o, "cost_usd")?,
        latency_ms: take_count(&mut o, "duration_ms")?,
        trace_id: take_string(&mut o, "trace_id")?,
        request_id: take_string(&mut o, "run_id")?,
        timestamp: take_string(&mut o, "timestamp")?,
        input: o.remove("inputs").filter(|v| !v.is_null()),
        output: o.remove("outputs").filter(|v| !v.is_null()),
        ..ExecutionEvent::default()
    };
    Ok(Read {
        event,
        extra: (!o.is_empty()).then_some(Json::Object(o)),
    })
}

/// The agent-trace shape: `prompt_id`, `timestamp`, `model` and `agent_trace` with its
/// `steps` (each may carry `output_tokens` and `cost_usd`), `final_output` and
/// `total_cost_usd`. The steps stay in `extra`; tokens and cost are their sums unless
/// the trace gives a total.
fn agent_trace(mut o: Map<String, Json>) -> Result<Read, String> {
    let Some(Json::Object(mut trace)) = o.remove("agent_trace") else {
        return Err("`agent_trace` must be an object with `steps`".into());
    };
    let steps = match trace.get("steps") {
        Some(Json::Array(steps)) => steps.clone(),
        _ => return Err("`agent_trace.steps` must be a list".into()),
    };
    let mut tokens = None::<u64>;
    let mut cost = None::<f64>;
    for (i, step) in steps.iter().enumerate() {
        if let Some(t) = step.get("output_tokens") {
            let t = t.as_u64().ok_or(format!(
                "`agent_trace.steps[{i}].output_tokens` must be a whole number"
            ))?;
            tokens = Some(tokens.unwrap_or(0) + t);
        }
        if let Some(c) = step.get("cost_usd") {
            let c = c.as_f64().filter(|c| *c >= 0.0).ok_or(format!(
                "`agent_trace.steps[{i}].cost_usd` must be a number ≥ 0"
            ))?;
            cost = Some(cost.unwrap_or(0.0) + c);
        }
    }
    let total = take_number(&mut trace, "total_cost_usd")?;
    let final_output = trace.remove("final_output").filter(|v| !v.is_null());
    let event = ExecutionEvent {
        prompt_id: take_string(&mut o, "prompt_id")?.ok_or("an agent trace needs `prompt_id`")?,
        model: take_string(&mut o, "model")?,
        timestamp: take_string(&mut o, "timestamp")?,
        output_tokens: tokens,
        cost_usd: total.or(cost),
        output: final_output,
        outcome: Some(EventOutcome::Ok),
        ..ExecutionEvent::default()
    };
    o.insert("agent_trace".into(), Json::Object(trace));
    Ok(Read {
        event,
        extra: Some(Json::Object(o)),
    })
}

fn take_string(o: &mut Map<String, Json>, key: &str) -> Result<Option<String>, String> {
    match o.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

fn take_count(o: &mut Map<String, Json>, key: &str) -> Result<Option<u64>, String> {
    match o.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or(format!("`{key}` must be a whole number ≥ 0, not {v}")),
    }
}

fn take_number(o: &mut Map<String, Json>, key: &str) -> Result<Option<f64>, String> {
    match o.remove(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(Some)
            .ok_or(format!("`{key}` must be a number ≥ 0, not {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed(path: &str) -> Json {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_seed_repositorys_agent_trace_is_read_as_it_is() {
        let read = read(seed("agent-log.example.json")).unwrap();
        let e = &read.event;
        assert_eq!(e.prompt_id, "support-summary-agent-v1");
        assert_eq!(e.model.as_deref(), Some("anthropic:claude-3-opus"));
        assert_eq!(e.output_tokens, Some(330));
        assert_eq!(e.cost_usd, Some(0.0063));
        assert!(
            e.output
                .as_ref()
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("User intermittently")
        );
        let steps = &read.extra.unwrap()["agent_trace"]["steps"];
        assert_eq!(steps.as_array().unwrap().len(), 2);
    }

    #[test]
    fn prompt_logs_map_field_by_field() {
        let read = read(json!({
            "prompt_id": "rag-qa-v2", "version_hash": "sha256:ab12", "timestamp": "2025-07-01T20:12:00Z",
            "trace_id": "t-1", "model": "gpt-4", "tokens_input": 425, "tokens_output": 312,
            "cost_usd": 0.04566, "inputs": {"q": "hi"}, "outputs": {"text": "yo"},
            "duration_ms": 812, "run_id": "r-9", "eval_results": {"pass": true}
        }))
        .unwrap();
        let e = read.event;
        assert_eq!(
            (e.input_tokens, e.output_tokens, e.latency_ms),
            (Some(425), Some(312), Some(812))
        );
        assert_eq!(e.content_hash.as_deref(), Some("sha256:ab12"));
        assert_eq!(e.request_id.as_deref(), Some("r-9"));
        assert_eq!(read.extra, Some(json!({"eval_results": {"pass": true}})));
    }

    #[test]
    fn bad_events_say_what_is_wrong() {
        for (value, says) in [
            (json!([1]), "a JSON object"),
            (json!({"model": "x"}), "prompt_id"),
            (
                json!({"prompt_id": "a", "latency": 3}),
                "unknown field `latency`",
            ),
            (
                json!({"prompt_id": "a", "tokens_input": -1}),
                "whole number",
            ),
            (
                json!({"prompt_id": "a", "agent_trace": {"steps": 3}}),
                "must be a list",
            ),
            (
                json!({"prompt_id": 7, "version_hash": "x"}),
                "must be a string",
            ),
        ] {
            let e = read(value.clone()).unwrap_err();
            assert!(e.contains(says), "{value}: {e}");
        }
    }
}
