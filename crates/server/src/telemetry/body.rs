//! An ingest body split into its events: a JSON array, or NDJSON (one event per line,
//! blank lines skipped). A broken array refuses the whole body (nothing says where its
//! events are); a broken NDJSON line refuses that event only, at its line and column.

use serde_json::Value as Json;

/// Events one request may carry.
pub const MAX_EVENTS: usize = 10_000;

/// One event of the body, or why it cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Position among the body's events, from 0.
    pub index: u64,
    /// `line:column` (1-based) where the NDJSON line starts or its error is.
    pub at: Option<String>,
    pub value: Result<Json, String>,
}

/// The body's events, or why the body as a whole is refused.
pub fn items(body: &[u8]) -> Result<Vec<Item>, String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Some(first) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(
            "the body is empty: send a JSON array of events or one event per line (NDJSON)".into(),
        );
    };
    let items: Vec<Item> = if body[first] == b'[' {
        let values: Vec<Json> = serde_json::from_slice(body).map_err(|e| {
            format!(
                "the body is not a JSON array of events: {e} (at {}:{})",
                e.line(),
                e.column()
            )
        })?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Item {
                index: i as u64,
                at: None,
                value: Ok(v),
            })
            .collect()
    } else {
        body.split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| line.iter().any(|b| !b.is_ascii_whitespace()))
            .enumerate()
            .map(|(index, (line_no, line))| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let (value, column) = match serde_json::from_slice::<Json>(line) {
                    Ok(v) => (Ok(v), 1),
                    Err(e) => {
                        // serde's words without its own position (line 1 of the line).
                        let said = e.to_string();
                        let said = said.rfind(" at line ").map_or(&*said, |i| &said[..i]);
                        let at = format!("{}:{}", line_no + 1, e.column());
                        (Err(format!("line {at} is not JSON: {said}")), e.column())
                    }
                };
                Item {
                    index: index as u64,
                    at: Some(format!("{}:{column}", line_no + 1)),
                    value,
                }
            })
            .collect()
    };
    if items.len() > MAX_EVENTS {
        return Err(format!(
            "{} events in one request; send at most {MAX_EVENTS} per request",
            items.len()
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arrays_and_ndjson() {
        let array = items(br#" [{"prompt_id": "a"}, {"prompt_id": "b"}] "#).unwrap();
        assert_eq!(array.len(), 2);
        assert_eq!(array[1].value.as_ref().unwrap()["prompt_id"], "b");
        let lines =
            items(b"{\"prompt_id\": \"a\"}\r\n\n  \n{\"prompt_id\": \"b\"\n{\"prompt_id\": \"c\"}")
                .unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].value.is_ok());
        assert_eq!(lines[1].index, 1);
        assert_eq!(lines[1].at.as_deref(), Some("4:17"));
        assert!(
            lines[1]
                .value
                .as_ref()
                .unwrap_err()
                .contains("line 4:17 is not JSON")
        );
        assert_eq!(lines[2].at.as_deref(), Some("5:1"));
    }

    #[test]
    fn whole_body_refusals() {
        assert!(items(b" \n ").unwrap_err().contains("empty"));
        let broken = items(b"[{\"prompt_id\": \"a\"},\n oops]").unwrap_err();
        assert!(broken.contains("at 2:"), "{broken}");
        let many = format!("[{}]", vec!["{}"; MAX_EVENTS + 1].join(","));
        assert!(items(many.as_bytes()).unwrap_err().contains("at most"));
    }

    proptest! {
        #[test]
        fn any_bytes_split_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = items(&body);
        }

        #[test]
        fn every_ndjson_line_is_one_event(ids in proptest::collection::vec("[a-z]{1,8}", 1..20)) {
            let body: String = ids.iter().map(|id| format!("{{\"prompt_id\":\"{id}\"}}\n")).collect();
            let got = items(body.as_bytes()).unwrap();
            prop_assert_eq!(got.len(), ids.len());
            for (item, id) in got.iter().zip(&ids) {
                prop_assert_eq!(item.value.as_ref().unwrap()["prompt_id"].as_str(), Some(id.as_str()));
            }
        }
    }
}
