//! Outbound webhooks on the wire: subscriptions, the event body a receiver gets, the
//! delivery log, and the signature scheme (`Promptops-Signature`) with the parser and
//! verifier receivers use. The subscription's secret appears in exactly one answer —
//! its creation — and in no `Debug`.
//!
//! The signature: `Promptops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! HMAC's key is the whole secret as shown (`whsec_…`) and its message is
//! `"<t>.<body>"`, the body's exact bytes. A receiver recomputes it, compares in constant
//! time, and refuses a `t` too far from its clock (replays): [`verify_signature`].

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Promptops-Signature";
/// The header naming the event type (`label.moved`).
pub const EVENT_HEADER: &str = "Promptops-Event";
/// The header naming the delivery (`dlv_…`): the same on every retry of one delivery.
pub const DELIVERY_HEADER: &str = "Promptops-Delivery";
/// What every webhook secret starts with, so a leaked one is recognisable.
pub const SECRET_MARK: &str = "whsec_";
/// How far a receiver should let `t` be from its own clock, by default (Stripe's too).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Every event type a subscription may ask for. New kinds (more alerts) are added here;
/// a subscription with no `events` gets every type, present and future.
pub const EVENT_TYPES: &[&str] = &[
    "version.published",
    "label.moved",
    "label.rolled_back",
    "label.overridden",
    "approval.requested",
    "approval.granted",
    "approval.rejected",
    "alert.fired",
    "alert.resolved",
];

/// The type of a test delivery (`promptops webhook test`): sent whatever the
/// subscription's `events`.
pub const TEST_EVENT: &str = "webhook.test";

/// Whether `name` is an event type a subscription may ask for: one of [`EVENT_TYPES`],
/// or `*` (every type).
pub fn is_event_type(name: &str) -> bool {
    name == "*" || EVENT_TYPES.contains(&name)
}

/// A new subscription.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where events are POSTed: an `http` or `https` URL.
    pub url: String,
    /// Event types to send (see [`EVENT_TYPES`]); empty or `["*"]`: every type.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A subscription as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// `wh_…`.
    pub id: String,
    pub project: String,
    pub url: String,
    /// The event types it receives; `["*"]`: every type.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A new subscription and its signing secret, shown this once: keep it in the
/// receiver's secret store.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    /// `whsec_…`: the HMAC key of `Promptops-Signature`.
    pub secret: String,
    pub webhook: Webhook,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CreatedWebhook {{ secret: <redacted>, webhook: {:?} }}",
            self.webhook
        )
    }
}

/// The JSON body of every delivery. `id` is the event's, stable across retries and
/// across subscriptions: receivers dedupe on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// `evt_…`.
    pub id: String,
    /// The event type (`label.moved`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When the change was committed (RFC 3339).
    pub created_at: String,
    pub project: String,
    /// What happened: the prompt, environment, versions, actor… (per type).
    #[schema(value_type = Object)]
    pub data: Json,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet answered with a 2xx; another attempt is due at `next_attempt_at`.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One delivery of one event to one subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    /// `dlv_…`, sent as `Promptops-Delivery`.
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// A test delivery (`promptops webhook test`).
    pub test: bool,
    pub created_at: String,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    /// The body sent (the same bytes on every attempt).
    #[schema(value_type = Object)]
    pub body: Json,
    pub attempts: Vec<DeliveryAttempt>,
}

/// One try at a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    /// 1 for the first try.
    pub attempt: u32,
    pub at: String,
    /// The receiver's HTTP status (none: no answer — refused, timed out, blocked).
    pub status_code: Option<u16>,
    /// Why it failed (none when delivered).
    pub error: Option<String>,
    pub duration_ms: u64,
}

// ----- the signature ----------------------------------------------------------------

/// Why a `Promptops-Signature` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Not `t=<digits>,v1=<64 hex>[,…]`: the reason.
    Malformed(&'static str),
    /// `t` is further from now than the tolerance (a replay, or a wrong clock).
    Stale { t: i64, now: i64 },
    /// No `v1` matches the body under this secret.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Malformed(why) => write!(f, "malformed {SIGNATURE_HEADER}: {why}"),
            SignatureError::Stale { t, now } => write!(
                f,
                "{SIGNATURE_HEADER} t={t} is {}s from now ({now}): outside the tolerance",
                (now - t).abs()
            ),
            SignatureError::Mismatch => write!(
                f,
                "no {SIGNATURE_HEADER} v1 matches the body under this secret"
            ),
        }
    }
}

impl std::error::Error for SignatureError {}

/// A parsed `Promptops-Signature`: the timestamp and every `v1` (during a secret's
/// rotation a sender may sign with two). Unknown schemes (`v0=`, `v2=`) are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub t: i64,
    pub v1: Vec<[u8; 32]>,
}

/// Parses `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` (spaces around items allowed). Never
/// panics, whatever the input.
pub fn parse_signature_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    const MAX_LEN: usize = 4096;
    if header.len() > MAX_LEN {
        return Err(SignatureError::Malformed("longer than 4096 bytes"));
    }
    let mut t = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        let Some((key, value)) = item.split_once('=') else {
            return Err(SignatureError::Malformed("an item is not key=value"));
        };
        match key {
            "t" => {
                if t.is_some() {
                    return Err(SignatureError::Malformed("more than one t"));
                }
                if value.is_empty()
                    || value.len() > 12
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SignatureError::Malformed("t is not unix seconds"));
                }
                t = value.parse::<i64>().ok();
            }
            "v1" => {
                v1.push(hex32(value).ok_or(SignatureError::Malformed("v1 is not 64 hex digits"))?)
            }
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed("no t"))?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed("no v1"));
    }
    Ok(SignatureHeader { t, v1 })
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// HMAC-SHA256 of `"<t>.<body>"` under `secret`.
pub fn signature_mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The `Promptops-Signature` value for `body` sent at `t`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let mac = signature_mac(secret, t, body);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Checks a delivery: `header` parses, `t` is within `tolerance_secs` of `now` (unix
/// seconds), and one `v1` is the HMAC of `"<t>.<body>"` under `secret` (compared in
/// constant time). What a receiver runs before trusting a body.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let parsed = parse_signature_header(header)?;
    if (now - parsed.t).abs() > tolerance_secs {
        return Err(SignatureError::Stale { t: parsed.t, now });
    }
    let expected = signature_mac(secret, parsed.t, body);
    let matches = parsed.v1.iter().fold(false, |any, v| {
        any | aws_lc_rs::constant_time::verify_slices_are_equal(v, &expected).is_ok()
    });
    if matches {
        Ok(parsed.t)
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_made_here_verifies_and_a_changed_one_does_not() {
        let secret = "whsec_0123456789abcdef";
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify_signature(secret, &header, body, 1_700_000_100, 300),
            Ok(1_700_000_000)
        );
        assert_eq!(
            verify_signature(secret, &header, b"{}", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_other", &header, body, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify_signature(secret, &header, body, 1_700_001_000, 300),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn the_header_parser_takes_extra_schemes_and_refuses_junk() {
        let v = "ab".repeat(32);
        let ok = parse_signature_header(&format!("t=5, v0=zz ,v1={v},v1={v}")).unwrap();
        assert_eq!((ok.t, ok.v1.len()), (5, 2));
        for bad in [
            "",
            "t=5",
            &format!("v1={v}"),
            &format!("t=-5,v1={v}"),
            &format!("t=5,t=6,v1={v}"),
            "t=5,v1=abc",
            &format!("t=5,v1={}", "g".repeat(64)),
            &format!("t=5;v1={v}"),
            &format!("t=9999999999999,v1={v}"),
        ] {
            assert!(parse_signature_header(bad).is_err(), "accepted {bad:?}");
        }
    }
}
