//! An event as read ([`super::shapes::Read`]) made into what is stored: checked, timed,
//! given an id, priced, and its inputs and outputs kept as the prompt's
//! `compliance.content_capture` says:
//! - `none`: not kept;
//! - `hashed` (the default): `sha256:<hex>` of the text, so equal answers can be told
//!   apart without storing them;
//! - `full`: the text with secrets and personal data redacted ([`promptops_core::redact`]).
//!
//! What an event carries beyond its fields (agent steps, eval results) is kept only
//! under `full`, redacted, since it holds content too.

use super::prices::Prices;
use super::shapes::Read;
use promptops_api::EventOutcome;
use promptops_core::canonical::sha256_hex;
use promptops_core::pricing::{NanoUsd, Usage};
use promptops_store::events::StoredEvent;
use serde_json::Value as Json;

/// Longest kept input, output or extra (bytes); longer ones are cut on a char boundary.
const MAX_CONTENT: usize = 64 * 1024;
const MAX_ERROR: usize = 4 * 1024;
const MAX_NAME: usize = 200;

/// How a prompt's calls are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Capture {
    None,
    #[default]
    Hashed,
    Full,
}

impl Capture {
    /// A version's `compliance.content_capture` (the default when absent or unknown).
    pub fn of_content(content: &Json) -> Capture {
        match content
            .pointer("/compliance/content_capture")
            .and_then(Json::as_str)
        {
            Some("none") => Capture::None,
            Some("full") => Capture::Full,
            _ => Capture::Hashed,
        }
    }
}

/// What the registry says about the event's prompt.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The version the event's content hash names, if it names one.
    pub version: Option<String>,
    pub capture: Capture,
}

/// The stored form, or why the event is refused.
pub fn stored(
    project: &str,
    read: Read,
    facts: &Facts,
    prices: &Prices,
    received_ms: i64,
) -> Result<StoredEvent, String> {
    let id_basis = id_basis(&read);
    let Read { event: e, extra } = read;
    check_name("prompt_id", &e.prompt_id)?;
    for (name, value) in [
        ("id", &e.id),
        ("environment", &e.environment),
        ("model", &e.model),
        ("provider", &e.provider),
        ("trace_id", &e.trace_id),
        ("span_id", &e.span_id),
        ("request_id", &e.request_id),
        ("content_hash", &e.content_hash),
    ] {
        if let Some(v) = value {
            check_name(name, v)?;
        }
    }
    let version = match &e.version {
        Some(v) => Some(
            promptops_core::prompt::parse_version_text(v)
                .map_err(|_| {
                    format!("`version` `{v}` is not a version (use semver, e.g. `1.2.0`)")
                })?
                .to_string(),
        ),
        None => facts.version.clone(),
    };
    let timestamp_ms = match &e.timestamp {
        None => received_ms,
        Some(t) => promptops_core::clock::epoch_millis(t).ok_or_else(|| {
            format!("`timestamp` `{t}` is not an RFC 3339 time (e.g. `2026-12-03T14:00:00Z`)")
        })?,
    };
    let cost_nanos = match e.cost_usd {
        Some(usd) => Some(
            NanoUsd::from_usd_f64(usd)
                .ok_or(format!("`cost_usd` {usd} is out of range"))?
                .0,
        ),
        None => price(
            prices,
            &e.model,
            &e.provider,
            e.input_tokens,
            e.output_tokens,
        ),
    };
    let ok = match e.outcome {
        Some(EventOutcome::Ok) => true,
        Some(EventOutcome::Error) => false,
        None => e.error.is_none(),
    };
    Ok(StoredEvent {
        project: project.to_owned(),
        id: e
            .id
            .unwrap_or_else(|| format!("sha256:{}", sha256_hex(id_basis))),
        prompt_id: e.prompt_id,
        version,
        content_hash: e.content_hash,
        environment: e.environment,
        model: e.model,
        provider: e.provider,
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cost_nanos,
        latency_ms: e.latency_ms,
        ok,
        error: e
            .error
            .map(|text| cut(promptops_core::redact::redact(&text), MAX_ERROR)),
        trace_id: e.trace_id,
        span_id: e.span_id,
        request_id: e.request_id,
        timestamp_ms,
        received_ms,
        input: e.input.as_ref().and_then(|v| captured(v, facts.capture)),
        output: e.output.as_ref().and_then(|v| captured(v, facts.capture)),
        extra: extra
            .filter(|_| facts.capture == Capture::Full)
            .map(|v| cut(promptops_core::redact::redact(&v.to_string()), MAX_CONTENT)),
    })
}

/// What an event without an id is known by: its whole content, so the same event sent
/// twice is stored once.
fn id_basis(read: &Read) -> String {
    let event = serde_json::to_string(&read.event).unwrap_or_default();
    match &read.extra {
        Some(extra) => format!("{event}\n{extra}"),
        None => event,
    }
}

fn check_name(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    if value.len() > MAX_NAME {
        return Err(format!("`{field}` is longer than {MAX_NAME} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("`{field}` holds control characters"));
    }
    Ok(())
}

/// The cost from the price table, when the model is known and tokens were counted.
fn price(
    prices: &Prices,
    model: &Option<String>,
    provider: &Option<String>,
    input: Option<u64>,
    output: Option<u64>,
) -> Option<i64> {
    if input.is_none() && output.is_none() {
        return None;
    }
    let model = model.as_deref()?;
    // `openai:gpt-4o-mini` and `anthropic/claude-…` name the provider too.
    let (named_provider, bare) = match model.split_once([':', '/']) {
        Some((p, m)) if !m.is_empty() => (Some(p), m),
        _ => (None, model),
    };
    let provider = provider.as_deref().or(named_provider);
    let found = prices
        .lookup(provider, model)
        .or_else(|| prices.lookup(provider, bare))?;
    Some(
        found
            .cost(Usage {
                prompt: input.unwrap_or(0),
                completion: output.unwrap_or(0),
                cached_prompt: 0,
            })
            .0,
    )
}

fn captured(value: &Json, capture: Capture) -> Option<String> {
    let text = match value {
        Json::Null => return None,
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match capture {
        Capture::None => None,
        Capture::Hashed => Some(format!("sha256:{}", sha256_hex(&text))),
        Capture::Full => Some(cut(promptops_core::redact::redact(&text), MAX_CONTENT)),
    }
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_api::ExecutionEvent;
    use serde_json::json;

    fn read(event: Json) -> Read {
        super::super::shapes::read(event).unwrap()
    }

    #[test]
    fn prices_times_ids_and_capture() {
        let prices = Prices::new(promptops_core::pricing::PriceTable::shipped());
        let facts = Facts {
            version: Some("1.2.0".into()),
            capture: Capture::Hashed,
        };
        let e = stored(
            "shop",
            read(
                json!({"prompt_id": "support.answer", "model": "gpt-4o-mini", "input_tokens": 1000,
                        "output_tokens": 100, "timestamp": "2026-12-03T14:00:00+01:00",
                        "input": {"q": "my card is 4111 1111 1111 1111"}, "output": "hello"}),
            ),
            &facts,
            &prices,
            5,
        )
        .unwrap();
        // gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output.
        assert_eq!(e.cost_nanos, Some(150_000 + 60_000));
        assert_eq!(
            Some(e.timestamp_ms),
            promptops_core::clock::epoch_millis("2026-12-03T13:00:00Z")
        );
        assert_eq!(
            e.version.as_deref(),
            Some("1.2.0"),
            "resolved from the content hash"
        );
        assert!(e.ok);
        assert_eq!(
            e.output.as_deref(),
            Some(format!("sha256:{}", sha256_hex("hello")).as_str())
        );
        assert!(e.id.starts_with("sha256:"));
        // The same event again gets the same id; a different one another.
        let again = stored(
            "shop",
            read(
                json!({"prompt_id": "support.answer", "model": "gpt-4o-mini", "input_tokens": 1000,
                        "output_tokens": 100, "timestamp": "2026-12-03T14:00:00+01:00",
                        "input": {"q": "my card is 4111 1111 1111 1111"}, "output": "hello"}),
            ),
            &facts,
            &prices,
            9,
        )
        .unwrap();
        assert_eq!(again.id, e.id);

        let full = Facts {
            version: None,
            capture: Capture::Full,
        };
        let kept = stored(
            "shop",
            read(json!({"prompt_id": "p", "id": "e-1", "version": "2", "error": "bad key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
                        "input": "mail me at jane@example.com"})),
            &full,
            &prices,
            7,
        )
        .unwrap();
        assert_eq!(kept.input.as_deref(), Some("mail me at [REDACTED:email]"));
        assert!(!kept.ok, "an error without an outcome is an error");
        assert!(kept.error.unwrap().contains("[REDACTED:"));
        assert_eq!(kept.version.as_deref(), Some("2.0.0"));
        assert_eq!((kept.timestamp_ms, kept.id.as_str()), (7, "e-1"));
        let none = Facts {
            version: None,
            capture: Capture::None,
        };
        let dropped = stored(
            "shop",
            read(json!({"prompt_id": "p", "output": "x"})),
            &none,
            &prices,
            1,
        )
        .unwrap();
        assert_eq!(dropped.output, None);
        assert_eq!(
            Capture::of_content(&json!({"compliance": {"content_capture": "full"}})),
            Capture::Full
        );
        assert_eq!(Capture::of_content(&json!({})), Capture::Hashed);
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let prices = Prices::new(promptops_core::pricing::PriceTable::default());
        for (event, says) in [
            (json!({"prompt_id": " "}), "`prompt_id` is empty"),
            (json!({"prompt_id": "p", "version": "one"}), "not a version"),
            (
                json!({"prompt_id": "p", "timestamp": "yesterday"}),
                "RFC 3339",
            ),
            (json!({"prompt_id": "p", "cost_usd": 1e300}), "out of range"),
            (
                json!({"prompt_id": "p", "model": "m\u{7}"}),
                "control characters",
            ),
        ] {
            let e = stored("shop", read(event.clone()), &Facts::default(), &prices, 0).unwrap_err();
            assert!(e.contains(says), "{event}: {e}");
        }
        let _ = ExecutionEvent::default();
    }
}
