//! Any text as YAML: parsing never panics, and whatever it accepts expands to no more
//! than aliases are allowed (ten times the document, at least 1 MiB): bombs are refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use promptops_core::diagnostic::Findings;
use promptops_core::yaml::{Limits, parse_within, to_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let mut findings = Findings::new("f.yaml");
    if let Some(node) = parse_within(text, &limits, &mut findings) {
        let expanded = to_json(&node).to_string().len();
        assert!(
            expanded <= 2 * text.len() + limits.alias_budget(text.len()) + 16,
            "{expanded} bytes from {} bytes of YAML",
            text.len()
        );
    }
});
