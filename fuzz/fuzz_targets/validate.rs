//! Any bytes as a prompt file: validation must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use promptops_core::validate::{Rules, check_source};

fuzz_target!(|data: &[u8]| {
    let report = check_source("prompts/f/z.yaml", Some("f.z"), data, &Rules::default());
    if let Some(prompt) = report.valid_prompt() {
        let _ = promptops_core::canonical::content_hash(prompt);
    }
});
