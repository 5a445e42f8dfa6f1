//! The audit chain: how an event's hash is computed and how a chain is checked.
//!
//! `hash = SHA-256(prev_hash + "\n" + canonical JSON of {seq, at, actor, action,
//! target, details})`, hex-encoded; the first event's `prev_hash` is 64 zeros. An edit
//! to any field breaks that event's hash; a deleted, inserted or reordered event breaks
//! the sequence or the next event's `prev_hash`; a truncated tail is caught against a
//! head kept outside the database (`promptops audit head`).

use promptops_api::{AuditEvent, AuditHead, BrokenLink, Verification};
use promptops_core::canonical::{sha256_hex, value_json};
use serde_json::{Value as Json, json};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an event with these fields, chained to `prev_hash`.
pub fn event_hash(
    prev_hash: &str,
    seq: u64,
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    details: &Json,
) -> String {
    let body = json!({
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
    });
    sha256_hex(format!("{prev_hash}\n{}", value_json(&body)))
}

/// An audit row exactly as stored, before any of it is trusted.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    pub(crate) fn to_event(&self) -> Option<AuditEvent> {
        Some(AuditEvent {
            seq: u64::try_from(self.seq).ok()?,
            at: self.at.clone(),
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            details: serde_json::from_str(&self.details).ok()?,
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        })
    }
}

/// Checks `events` (in the order of their stored `seq`) from the first, and against
/// `kept_head` when one is given.
pub fn verify(events: &[StoredEvent], kept_head: Option<&AuditHead>) -> Verification {
    verify_from(None, events, kept_head)
}

/// Checks `events`, the events after `start` (an event already verified; `None`: the
/// chain's beginning), chained to `start`'s hash. `events` in the answer counts only
/// these.
pub fn verify_from(
    start: Option<&AuditHead>,
    events: &[StoredEvent],
    kept_head: Option<&AuditHead>,
) -> Verification {
    let mut prev_hash = start.map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone());
    let mut expected: u64 = start.map_or(1, |h| h.seq + 1);
    let first = expected;
    let broken = |seq: u64, problem: String, events: u64| Verification {
        ok: false,
        events,
        head: None,
        first_bad: Some(BrokenLink { seq, problem }),
    };
    for (checked, e) in events.iter().enumerate() {
        let checked = checked as u64;
        let seq = match u64::try_from(e.seq) {
            Ok(s) if s == expected => s,
            Ok(s) if s > expected => {
                return broken(
                    expected,
                    format!("event {expected} is missing (the next stored event is {s}): deleted"),
                    checked,
                );
            }
            _ => {
                return broken(
                    expected,
                    format!(
                        "an event numbered {} stands where event {expected} should",
                        e.seq
                    ),
                    checked,
                );
            }
        };
        if e.prev_hash != prev_hash {
            return broken(
                seq,
                format!(
                    "its prev_hash does not match event {}'s hash: an event before it was inserted, deleted, reordered or edited",
                    seq - 1
                ),
                checked,
            );
        }
        // The stored text must be exactly the canonical form that was hashed: text that
        // merely parses to the same value (reordered keys, a duplicate key that some
        // readers take first and others last) is an edit too.
        let details = match serde_json::from_str::<Json>(&e.details) {
            Ok(d) if value_json(&d) == e.details => d,
            _ => {
                return broken(
                    seq,
                    "its details are not the canonical JSON that was hashed: edited".into(),
                    checked,
                );
            }
        };
        let recomputed = event_hash(
            &e.prev_hash,
            seq,
            &e.at,
            &e.actor,
            &e.action,
            &e.target,
            &details,
        );
        if recomputed != e.hash {
            return broken(
                seq,
                "its content does not match its hash: edited".into(),
                checked,
            );
        }
        prev_hash = e.hash.clone();
        expected += 1;
    }
    let last = expected - 1;
    let count = expected - first;
    let head = events
        .last()
        .map(|e| AuditHead {
            seq: last,
            hash: e.hash.clone(),
        })
        .or_else(|| start.cloned());
    if let Some(kept) = kept_head {
        // Before `start`, the kept head was checked when `start` was.
        let at = kept.seq.checked_sub(first).map(|i| i as usize);
        match at.and_then(|i| events.get(i)) {
            None if kept.seq > last => {
                return broken(
                    last + 1,
                    format!(
                        "the kept head is event {} but the log ends at {last}: events were deleted from the end",
                        kept.seq
                    ),
                    count,
                );
            }
            Some(e) if e.hash != kept.hash => {
                return broken(
                    kept.seq,
                    "its hash differs from the kept head's: the log was rewritten".into(),
                    count,
                );
            }
            _ => {}
        }
    }
    Verification {
        ok: true,
        events: count,
        head,
        first_bad: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<StoredEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let details = json!({"n": seq});
                let hash = event_hash(&prev, seq, "t", "alice", "version.published", "p", &details);
                let e = StoredEvent {
                    seq: seq as i64,
                    at: "t".into(),
                    actor: "alice".into(),
                    action: "version.published".into(),
                    target: "p".into(),
                    details: value_json(&details),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn first_bad(v: &Verification) -> Option<u64> {
        v.first_bad.as_ref().map(|b| b.seq)
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let events = chain(5);
        let v = verify(&events, None);
        assert!(v.ok, "{v:?}");
        assert_eq!(v.events, 5);
        assert_eq!(v.head.as_ref().unwrap().hash, events[4].hash);
        assert!(verify(&[], None).ok);
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_event() {
        let mut edited = chain(5);
        edited[2].actor = "mallory".into();
        assert_eq!(first_bad(&verify(&edited, None)), Some(3));

        let mut respelled = chain(5);
        respelled[1].details = "{\"n\" : 9, \"n\": 2}".into();
        assert_eq!(
            first_bad(&verify(&respelled, None)),
            Some(2),
            "a duplicate key is an edit"
        );

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(first_bad(&verify(&deleted, None)), Some(2));

        let mut reordered = chain(5);
        reordered.swap(1, 3);
        (reordered[1].seq, reordered[3].seq) = (2, 4);
        assert_eq!(first_bad(&verify(&reordered, None)), Some(2));

        let mut inserted = chain(5);
        let mut forged = inserted[2].clone();
        forged.target = "forged".into();
        inserted.insert(3, forged);
        for (i, e) in inserted.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        assert_eq!(first_bad(&verify(&inserted, None)), Some(4));
    }

    #[test]
    fn a_truncated_or_rewritten_tail_is_caught_against_a_kept_head() {
        let events = chain(5);
        let head = verify(&events, None).head.unwrap();
        assert!(verify(&events[..5], Some(&head)).ok);
        let truncated = verify(&events[..3], Some(&head));
        assert_eq!(first_bad(&truncated), Some(4));
        let mut rewritten = chain(5);
        rewritten[4].hash = "f".repeat(64);
        // The edit alone breaks the last event; the head check names it too.
        assert_eq!(first_bad(&verify(&rewritten, Some(&head))), Some(5));
    }
}
