//! Any text as YAML: parsing never panics, and whatever it accepts expands to no more
//! than aliases are allowed (ten times the document, at least 1 MiB): bombs are refused.
//! Parsing with the top-level `tests` list diverted item by item gives the same items,
//! and the same rest, as parsing the whole tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use promptops_core::diagnostic::Findings;
use promptops_core::yaml::{Divert, Limits, parse_diverting, parse_within, to_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let mut findings = Findings::new("f.yaml");
    let whole = parse_within(text, &limits, &mut findings);
    if let Some(node) = &whole {
        let expanded = to_json(node).to_string().len();
        assert!(
            expanded <= 2 * text.len() + limits.alias_budget(text.len()) + 16,
            "{expanded} bytes from {} bytes of YAML",
            text.len()
        );
    }
    let mut items = Vec::new();
    let mut diverted_findings = Findings::new("f.yaml");
    let mut take = |node| {
        items.push(to_json(&node));
        Ok(())
    };
    let rest = parse_diverting(
        text,
        &limits,
        &mut diverted_findings,
        Divert {
            key: "tests",
            take: &mut take,
        },
    );
    assert_eq!(whole.is_some(), rest.is_some());
    // (A document with errors, such as a duplicated `tests` key, is refused by callers.)
    let refused = findings.as_slice().iter().any(|d| d.is_error());
    if let (Some(whole), Some(rest), false) = (whole, rest, refused) {
        let mut whole = to_json(&whole);
        let rest = to_json(&rest);
        // An aliased list (`tests: *all`) is not diverted: it stays whole in the tree.
        if !items.is_empty() {
            let tests = whole.get_mut("tests").expect("diverted items come from `tests`");
            assert_eq!(*tests, serde_json::Value::Array(items));
            *tests = serde_json::Value::Array(Vec::new());
        }
        assert_eq!(whole, rest);
    }
});
