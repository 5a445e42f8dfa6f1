//! Checking checkpoints and evidence packs on this machine, trusting nothing the server
//! says about them: hashes are recomputed, proofs walked, signatures checked.

use promptops_api::checkpoints::LogTree;
use promptops_api::{AuditEvent, Checkpoint, EVIDENCE_FORMAT, EvidencePack};
use promptops_core::canonical::{sha256_hex, value_json};
use promptops_store::audit::{GENESIS, event_hash};
use serde::Serialize;

/// One thing checked, and what came of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub what: String,
}

/// Every check made; `ok` when all held.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub ok: bool,
    /// The key the checkpoints were checked against, and whether the user pinned it.
    pub key: Option<String>,
    pub key_pinned: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(key: Option<&str>, pinned: bool) -> Report {
        Report {
            ok: true,
            key: key.map(str::to_owned),
            key_pinned: pinned,
            checks: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        self.ok &= ok;
        self.checks.push(Check {
            ok,
            what: what.into(),
        });
    }

    fn signature(&mut self, c: &Checkpoint, trusted: Option<&str>) {
        match c.verify_signature(trusted) {
            Ok(()) => self.check(
                true,
                format!(
                    "checkpoint {} (signed {}): signature verifies",
                    c.size, c.signed_at
                ),
            ),
            Err(e) => self.check(false, format!("checkpoint {}: {e}", c.size)),
        }
    }
}

/// The hash an event should have, recomputed from its fields.
fn recomputed(e: &AuditEvent) -> String {
    event_hash(
        &e.prev_hash,
        e.seq,
        &e.at,
        &e.actor,
        &e.action,
        &e.target,
        &e.details,
    )
}

/// The whole log against the server's checkpoints: every event's hash and link, each
/// checkpoint's signature, root and head recomputed at its size, and no checkpoint
/// beyond the end of the log.
pub fn log_against_checkpoints(
    events: &[AuditEvent],
    checkpoints: &[Checkpoint],
    trusted: &str,
    pinned: bool,
) -> Report {
    let mut report = Report::new(Some(trusted), pinned);
    let mut tree = LogTree::new();
    let mut prev = GENESIS.to_owned();
    let mut pending = checkpoints.iter().peekable();
    let mut broken = None;
    for e in events {
        let problem = if e.seq != tree.len() + 1 {
            Some(format!("expected event {} here", tree.len() + 1))
        } else if e.prev_hash != prev {
            Some("its prev_hash is not the previous event's hash".to_owned())
        } else if recomputed(e) != e.hash {
            Some("its content does not match its hash".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            broken = Some(format!("event {}: {problem}: the log was edited", e.seq));
            break;
        }
        if let Err(p) = tree.push(&e.hash) {
            broken = Some(format!("event {}: {p}", e.seq));
            break;
        }
        prev.clone_from(&e.hash);
        while let Some(c) = pending.next_if(|c| c.size == tree.len()) {
            report.signature(c, Some(trusted));
            let same = c.root == tree.root() && c.head == e.hash;
            report.check(
                same,
                if same {
                    format!("checkpoint {}: root and head recomputed from the log match", c.size)
                } else {
                    format!(
                        "checkpoint {}: the log's first {} events no longer have the root and head it signed: rewritten behind it",
                        c.size, c.size
                    )
                },
            );
        }
    }
    report.check(
        broken.is_none(),
        broken.unwrap_or_else(|| {
            format!(
                "hash chain: {} events recomputed, every link holds",
                tree.len()
            )
        }),
    );
    let beyond: Vec<&Checkpoint> = pending.collect();
    if let Some(newest) = beyond.last() {
        report.check(
            false,
            format!(
                "the log has {} events but checkpoint {} (signed {}) covers {}: it was truncated or rewritten",
                tree.len(),
                newest.size,
                newest.signed_at,
                newest.size
            ),
        );
    }
    if checkpoints.is_empty() {
        report.check(
            false,
            "the server has signed no checkpoint yet: ask an admin for `POST /v1/audit/checkpoints`, or wait for the interval",
        );
    }
    report
}

/// An evidence pack, offline.
pub fn pack(pack: &EvidencePack, trusted: Option<&str>) -> Report {
    let audit = &pack.audit;
    let mut report = Report::new(
        Some(trusted.unwrap_or(&audit.checkpoint.public_key)),
        trusted.is_some(),
    );
    report.check(
        pack.format == EVIDENCE_FORMAT,
        format!("format `{}` (expected `{EVIDENCE_FORMAT}`)", pack.format),
    );
    let v = &pack.version;
    let hash = sha256_hex(value_json(&v.content));
    report.check(
        hash == v.content_hash,
        if hash == v.content_hash {
            format!("{}@{}: content hashes to {}", v.id, v.version, v.content_hash)
        } else {
            format!(
                "{}@{}: content hashes to {hash}, not the {} the pack states: the content was edited",
                v.id, v.version, v.content_hash
            )
        },
    );
    let target = format!("prompt:{}/{}@{}", pack.project, v.id, v.version);
    let published = audit.events.iter().find(|e| {
        e.action == "version.published"
            && e.target == target
            && e.details.get("content_hash").and_then(|h| h.as_str()) == Some(&v.content_hash)
    });
    report.check(
        published.is_some(),
        match published {
            Some(e) => format!(
                "audit event {} records the publication of this content hash",
                e.seq
            ),
            None => {
                "no audit event in the pack records the publication of this content hash".to_owned()
            }
        },
    );
    report.signature(&audit.checkpoint, trusted);
    report.check(
        audit.proofs.len() == audit.events.len(),
        format!(
            "{} events, {} inclusion proofs",
            audit.events.len(),
            audit.proofs.len()
        ),
    );
    let mut proven = 0;
    for (e, proof) in audit.events.iter().zip(&audit.proofs) {
        let hash_ok = recomputed(e) == e.hash;
        let included =
            proof.seq == e.seq && audit.checkpoint.verify_inclusion(&e.hash, proof).is_ok();
        if hash_ok && included {
            proven += 1;
        } else if !hash_ok {
            report.check(
                false,
                format!(
                    "event {} ({}): its content does not match its hash: edited",
                    e.seq, e.action
                ),
            );
        } else {
            report.check(
                false,
                format!(
                    "event {} ({}): not in the log checkpoint {} signed",
                    e.seq, e.action, audit.checkpoint.size
                ),
            );
        }
    }
    if proven == audit.events.len() {
        report.check(
            true,
            format!(
                "{proven} audit events: hashes recomputed and each proven in checkpoint {}",
                audit.checkpoint.size
            ),
        );
    }
    report.check(
        audit.consistency.len() == audit.earlier.len(),
        format!(
            "{} earlier checkpoints, {} consistency proofs",
            audit.earlier.len(),
            audit.consistency.len()
        ),
    );
    for (older, proof) in audit.earlier.iter().zip(&audit.consistency) {
        report.signature(older, trusted);
        match audit.checkpoint.verify_extends(older, proof) {
            Ok(()) => report.check(
                true,
                format!(
                    "checkpoint {} extends checkpoint {}: nothing behind it was rewritten",
                    audit.checkpoint.size, older.size
                ),
            ),
            Err(e) => report.check(false, e.to_string()),
        }
    }
    let foreign_runs = pack
        .eval_runs
        .iter()
        .filter(|r| r.version != v.version || r.prompt_id != v.id)
        .count();
    report.check(
        foreign_runs == 0,
        format!(
            "{} eval runs, all of this version{}",
            pack.eval_runs.len(),
            if foreign_runs > 0 { " — NOT SO" } else { "" }
        ),
    );
    report
}

/// The pack JSON inside a `.json` or `.html` pack file.
pub fn read_pack(text: &str) -> Result<EvidencePack, String> {
    let json = match text.find(super::html::JSON_OPEN) {
        Some(start) => {
            let body = &text[start + super::html::JSON_OPEN.len()..];
            let end = body
                .find("</script>")
                .ok_or("the HTML pack's embedded JSON has no end")?;
            body[..end].to_owned()
        }
        None => text.to_owned(),
    };
    serde_json::from_str(&json).map_err(|e| {
        format!(
            "not an evidence pack: {e} (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn log(n: u64) -> Vec<AuditEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let details = json!({"n": seq});
                let hash = event_hash(&prev, seq, "t", "alice", "a.b", "x", &details);
                let e = AuditEvent {
                    seq,
                    at: "t".into(),
                    actor: "alice".into(),
                    action: "a.b".into(),
                    target: "x".into(),
                    details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn checkpoint(events: &[AuditEvent], key: &Ed25519KeyPair) -> Checkpoint {
        let mut tree = LogTree::new();
        for e in events {
            tree.push(&e.hash).unwrap();
        }
        let (size, head, root) = (tree.len(), events.last().unwrap().hash.clone(), tree.root());
        let sig = key.sign(&Checkpoint::message(
            size,
            &head,
            &root,
            "2026-12-03T00:00:00Z",
        ));
        Checkpoint {
            size,
            head,
            root,
            signed_at: "2026-12-03T00:00:00Z".into(),
            public_key: hex(key.public_key().as_ref()),
            signature: hex(sig.as_ref()),
        }
    }

    #[test]
    fn the_log_against_its_checkpoints() {
        let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
        let trusted = hex(key.public_key().as_ref());
        let events = log(12);
        let cps = [checkpoint(&events[..5], &key), checkpoint(&events, &key)];
        let r = log_against_checkpoints(&events, &cps, &trusted, true);
        assert!(r.ok, "{:?}", r.checks);

        // Truncated: the newest checkpoint reaches beyond the log's end.
        let r = log_against_checkpoints(&events[..9], &cps, &trusted, true);
        assert!(!r.ok);
        assert!(
            r.checks.iter().any(|c| c.what.contains("truncated")),
            "{:?}",
            r.checks
        );

        // Rewritten behind a checkpoint, consistently re-hashed from there on: the
        // chain holds, the checkpoint's root does not.
        let mut rewritten = log(12);
        rewritten[2].details = json!({"n": "forged"});
        for i in 2..rewritten.len() {
            let prev = rewritten[i - 1].hash.clone();
            rewritten[i].prev_hash = prev;
            rewritten[i].hash = recomputed(&rewritten[i]);
        }
        let r = log_against_checkpoints(&rewritten, &cps, &trusted, true);
        assert!(!r.ok);
        assert!(
            r.checks
                .iter()
                .any(|c| !c.ok && c.what.contains("rewritten behind it")),
            "{:?}",
            r.checks
        );

        // Another signer.
        let r = log_against_checkpoints(&events, &cps, &"22".repeat(32), true);
        assert!(!r.ok);

        // An edited event without re-hashing breaks the chain.
        let mut edited = log(12);
        edited[4].actor = "mallory".into();
        let r = log_against_checkpoints(&edited, &cps, &trusted, true);
        assert!(
            r.checks.iter().any(|c| c.what.contains("event 5")),
            "{:?}",
            r.checks
        );
    }
}
