//! Any text as a `Promptops-Signature` header: parsing never panics, whatever it
//! accepts has at least one v1, and checking it against a body never panics and passes
//! only when one of its v1 is the body's HMAC under the secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use promptops_api::webhooks::{parse_signature_header, signature_mac, verify_signature};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let body = b"{\"id\":\"evt_fuzz\"}";
    let parsed = parse_signature_header(header);
    let verified = verify_signature("whsec_fuzz", header, body, 1_700_000_000, 300);
    match parsed {
        Ok(parsed) => {
            assert!(!parsed.v1.is_empty());
            let mac = signature_mac("whsec_fuzz", parsed.t, body);
            if verified.is_ok() {
                assert!(parsed.v1.contains(&mac));
            }
        }
        Err(_) => assert!(verified.is_err()),
    }
});
