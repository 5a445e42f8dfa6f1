//! The change feed: every committed state change, in order, read from the audit log.
//!
//! The audit log is already the ordered record of every change — each event is written
//! in the transaction that made the change, with a gapless sequence number — so the
//! feed is the log read as typed changes, not a second record that could disagree with
//! it. Caches, the watch stream and other replicas follow it by sequence number: a
//! reader that was away asks for everything after the last number it saw.

use promptops_api::AuditEvent;
use serde::{Deserialize, Serialize};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The audit sequence number: the feed's order and resume point.
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub kind: ChangeKind,
}

/// What changed, as far as anything that serves prompts or checks credentials cares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    VersionPublished {
        project: String,
        prompt: String,
        version: String,
        content_hash: String,
    },
    /// A label moved: a promotion, a rollback or an override.
    LabelMoved {
        project: String,
        prompt: String,
        environment: String,
        from: Option<String>,
        to: String,
        rollback: bool,
        overridden: bool,
    },
    KeyCreated {
        prefix: String,
    },
    KeyRevoked {
        prefix: String,
    },
    /// Created, disabled or enabled, given or denied a role, sessions ended: whatever
    /// was cached about this user (and their keys) is stale.
    UserChanged {
        user: String,
    },
    /// Created, or its environments changed.
    ProjectChanged {
        project: String,
    },
    PolicyChanged {
        project: String,
        environment: String,
    },
    /// Anything else (eval runs, promotion requests and decisions): recorded, nothing
    /// served depends on it.
    Other {
        action: String,
    },
}

impl Change {
    /// The change an audit event records.
    pub fn from_event(event: &AuditEvent) -> Change {
        Change {
            seq: event.seq,
            at: event.at.clone(),
            actor: event.actor.clone(),
            kind: kind_of(event),
        }
    }
}

fn kind_of(event: &AuditEvent) -> ChangeKind {
    let d = &event.details;
    let text = |key: &str| d.get(key).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let target = event.target.split_once(':').map_or("", |(_, rest)| rest);
    let other = || ChangeKind::Other {
        action: event.action.clone(),
    };
    match event.action.as_str() {
        "version.published" => match target.split_once('/') {
            Some((project, _)) => ChangeKind::VersionPublished {
                project: project.to_owned(),
                prompt: text("id"),
                version: text("version"),
                content_hash: text("content_hash"),
            },
            None => other(),
        },
        // label:{project}/{id}/{env}: none of the three holds a `/`.
        "label.moved" | "label.overridden" => match target.split('/').collect::<Vec<_>>()[..] {
            [project, prompt, environment] => ChangeKind::LabelMoved {
                project: project.to_owned(),
                prompt: prompt.to_owned(),
                environment: environment.to_owned(),
                from: d.get("from").and_then(|v| v.as_str()).map(str::to_owned),
                to: text("to"),
                rollback: text("kind") == "rollback",
                overridden: event.action == "label.overridden",
            },
            _ => other(),
        },
        "key.created" => ChangeKind::KeyCreated {
            prefix: target.to_owned(),
        },
        "key.revoked" => ChangeKind::KeyRevoked {
            prefix: target.to_owned(),
        },
        "user.created"
        | "user.disabled"
        | "user.enabled"
        | "user.sessions_ended"
        | "session.reuse_detected" => ChangeKind::UserChanged {
            user: target.to_owned(),
        },
        // member:{project}/{user}
        "member.granted" | "member.revoked" => match target.split_once('/') {
            Some((_, user)) => ChangeKind::UserChanged {
                user: user.to_owned(),
            },
            None => other(),
        },
        "project.created" | "project.environments_changed" => ChangeKind::ProjectChanged {
            project: target.to_owned(),
        },
        "policy.updated" => match target.split_once('/') {
            Some((project, environment)) => ChangeKind::PolicyChanged {
                project: project.to_owned(),
                environment: environment.to_owned(),
            },
            None => other(),
        },
        _ => other(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(action: &str, target: &str, details: serde_json::Value) -> AuditEvent {
        AuditEvent {
            seq: 7,
            at: "2026-12-03T00:00:00Z".into(),
            actor: "ann".into(),
            action: action.into(),
            target: target.into(),
            details,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn each_kind_of_event_reads_as_its_change() {
        let moved = Change::from_event(&event(
            "label.moved",
            "label:acme/support.answer/prod",
            json!({"id": "support.answer", "environment": "prod", "from": "1.0.0", "to": "1.1.0", "kind": "rollback"}),
        ));
        assert_eq!(moved.seq, 7);
        assert_eq!(
            moved.kind,
            ChangeKind::LabelMoved {
                project: "acme".into(),
                prompt: "support.answer".into(),
                environment: "prod".into(),
                from: Some("1.0.0".into()),
                to: "1.1.0".into(),
                rollback: true,
                overridden: false,
            }
        );
        let published = Change::from_event(&event(
            "version.published",
            "prompt:acme/support.answer@1.1.0",
            json!({"id": "support.answer", "version": "1.1.0", "content_hash": "ab"}),
        ));
        assert!(
            matches!(published.kind, ChangeKind::VersionPublished { ref project, .. } if project == "acme")
        );
        assert_eq!(
            Change::from_event(&event("key.revoked", "key:po_0123", json!({}))).kind,
            ChangeKind::KeyRevoked {
                prefix: "po_0123".into()
            }
        );
        assert_eq!(
            Change::from_event(&event("member.granted", "member:acme/bob", json!({}))).kind,
            ChangeKind::UserChanged { user: "bob".into() }
        );
        assert_eq!(
            Change::from_event(&event("eval.attached", "prompt:a/b@1.0.0", json!({}))).kind,
            ChangeKind::Other {
                action: "eval.attached".into()
            }
        );
    }
}
