//! Where a rollback goes, worked out from a label's history of moves.
//!
//! The versions an environment has served form a stack: a promotion pushes, a
//! rollback pops back to its target. So promoting 1, 2, 3 and rolling back twice
//! serves 2, then 1 — never back "forward" to 3, which a plain "previous `from`" would.

use promptops_api::MoveKind;

/// One past move, oldest first: its kind and the version it moved to.
#[derive(Debug, Clone)]
pub struct PastMove<'a> {
    pub kind: MoveKind,
    pub to: &'a str,
}

/// The stack of versions served, bottom first: the top is the current version.
pub fn served_stack<'a>(moves: &[PastMove<'a>]) -> Vec<&'a str> {
    let mut stack: Vec<&str> = Vec::new();
    for m in moves {
        match m.kind {
            MoveKind::Promote => stack.push(m.to),
            MoveKind::Rollback => match stack.iter().rposition(|v| *v == m.to) {
                Some(at) => stack.truncate(at + 1),
                None => stack.push(m.to),
            },
        }
    }
    stack
}

/// The version a plain rollback goes to: the one served before the current one.
pub fn previous<'a>(moves: &[PastMove<'a>]) -> Option<&'a str> {
    let stack = served_stack(moves);
    let current = *stack.last()?;
    stack.iter().rev().copied().find(|v| *v != current)
}

/// Whether `version` has ever been live in the environment.
pub fn was_live(moves: &[PastMove<'_>], version: &str) -> bool {
    moves.iter().any(|m| m.to == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moves<'a>(spec: &[(&'a str, &'a str)]) -> Vec<PastMove<'a>> {
        spec.iter()
            .map(|(k, to)| PastMove {
                kind: if *k == "p" {
                    MoveKind::Promote
                } else {
                    MoveKind::Rollback
                },
                to,
            })
            .collect()
    }

    #[test]
    fn rollbacks_walk_back_through_what_was_served() {
        let m = moves(&[("p", "1"), ("p", "2"), ("p", "3")]);
        assert_eq!(previous(&m), Some("2"));
        let m = moves(&[("p", "1"), ("p", "2"), ("p", "3"), ("r", "2")]);
        assert_eq!(previous(&m), Some("1"));
        let m = moves(&[("p", "1"), ("p", "2"), ("p", "3"), ("r", "2"), ("r", "1")]);
        assert_eq!(previous(&m), None);
    }

    #[test]
    fn a_single_or_repeated_version_has_nothing_to_go_back_to() {
        assert_eq!(previous(&moves(&[("p", "1")])), None);
        assert_eq!(previous(&moves(&[])), None);
        assert_eq!(previous(&moves(&[("p", "1"), ("p", "1")])), None);
        assert_eq!(
            previous(&moves(&[("p", "1"), ("p", "2"), ("p", "2")])),
            Some("1")
        );
    }

    #[test]
    fn a_rollback_to_an_explicit_version_cuts_the_stack_there() {
        let m = moves(&[("p", "1"), ("p", "2"), ("p", "3"), ("p", "4"), ("r", "2")]);
        assert_eq!(served_stack(&m), vec!["1", "2"]);
        assert!(was_live(&m, "3"));
        assert!(!was_live(&m, "5"));
    }
}
