//! The roles a user or API key holds in a project. Each role includes every right of
//! the roles before it: `viewer` < `editor` < `approver` < `admin`. Beside them,
//! `ingest` (for the keys applications report executions with) may only report them,
//! a right `editor` and above hold too.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reports executions and nothing else: not even reading (an app's telemetry key).
    Ingest,
    /// Reads prompts, versions, labels, eval runs and requests.
    Viewer,
    /// Publishes versions and eval runs, requests promotions.
    Editor,
    /// Approves or rejects promotion requests, rolls back.
    Approver,
    /// Manages environments, policies, members and keys; may override gates.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Ingest,
        Role::Viewer,
        Role::Editor,
        Role::Approver,
        Role::Admin,
    ];
    pub const NAMES: &'static [&'static str] = &["ingest", "viewer", "editor", "approver", "admin"];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "ingest" => Some(Role::Ingest),
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role grants what `needed` grants.
    pub fn includes(self, needed: Role) -> bool {
        match (self, needed) {
            (Role::Ingest, needed) => needed == Role::Ingest,
            // Reporting executions is an editor's right.
            (held, Role::Ingest) => held >= Role::Editor,
            (held, needed) => held >= needed,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_and_round_trip() {
        assert!(Role::Admin.includes(Role::Approver));
        assert!(Role::Approver.includes(Role::Editor));
        assert!(!Role::Editor.includes(Role::Approver));
        assert!(!Role::Viewer.includes(Role::Editor));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("owner"), None);
        // `ingest` reports and does nothing else; editors and above report too.
        assert!(Role::Ingest.includes(Role::Ingest));
        assert!(!Role::Ingest.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Ingest));
        assert!(Role::Editor.includes(Role::Ingest) && Role::Admin.includes(Role::Ingest));
    }
}
