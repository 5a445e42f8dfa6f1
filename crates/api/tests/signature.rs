//! Properties of the webhook signature: the header parser never panics and refuses
//! what is not `t=…,v1=…`; what the sender signs verifies, and any change to the body,
//! the timestamp or the secret does not.

use promptops_api::webhooks::{
    SignatureError, parse_signature_header, signature_header, verify_signature,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn the_parser_never_panics(header in ".{0,300}") {
        let _ = parse_signature_header(&header);
    }

    #[test]
    fn the_parser_never_panics_on_near_misses(
        t in "[0-9-]{0,14}",
        v in "[0-9a-fA-Fg]{0,70}",
        sep in "[,; ]{1,2}",
        extra in "[a-z0-9=]{0,10}",
    ) {
        let header = format!("t={t}{sep}v1={v}{sep}{extra}");
        if let Ok(parsed) = parse_signature_header(&header) {
            prop_assert_eq!(Some(parsed.t), t.parse::<i64>().ok());
            prop_assert!(!parsed.v1.is_empty());
        }
    }

    #[test]
    fn what_is_signed_verifies_and_any_change_does_not(
        secret in "whsec_[0-9a-f]{8,64}",
        t in 0i64..4_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
        drift in -300i64..=300,
    ) {
        let header = signature_header(&secret, t, &body);
        prop_assert_eq!(verify_signature(&secret, &header, &body, t + drift, 300), Ok(t));
        // Extra schemes and spaces are ignored.
        let spaced = format!(" {} , v0=legacy", header.replace(',', " , "));
        prop_assert_eq!(verify_signature(&secret, &spaced, &body, t, 300), Ok(t));
        if !body.is_empty() {
            let mut changed = body.clone();
            let i = flip.index(changed.len());
            changed[i] ^= 0x01;
            prop_assert_eq!(verify_signature(&secret, &header, &changed, t, 300), Err(SignatureError::Mismatch));
        }
        let other_t = header.replacen(&format!("t={t}"), &format!("t={}", t + 1), 1);
        prop_assert_eq!(verify_signature(&secret, &other_t, &body, t, 300), Err(SignatureError::Mismatch));
        prop_assert_eq!(verify_signature(&format!("{secret}x"), &header, &body, t, 300), Err(SignatureError::Mismatch));
        let stale = verify_signature(&secret, &header, &body, t + 301, 300);
        prop_assert!(matches!(stale, Err(SignatureError::Stale { .. })), "{:?}", stale);
    }
}
