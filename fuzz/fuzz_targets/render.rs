//! Any text as a template: analysis and rendering must never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = promptops_core::template::analyze(text);
        let mut vars = std::collections::BTreeMap::new();
        vars.insert("x".to_owned(), serde_json::json!({"a": [1, "b"]}));
        let _ = promptops_core::template::render(text, &vars);
    }
});
