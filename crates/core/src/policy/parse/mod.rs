//! From a policy file's text to a [`Policy`], checking every key and value on the way and
//! collecting a finding (with line and column) for each problem, never stopping at the
//! first.

use super::{
    ApprovalRequirement, AttachedBy, Budget, Completion, ComplianceGate, EvalsGate, Gates,
    MAX_APPROVALS, Policy, Requirement, Role, Rule, Threshold, expr,
};
mod gates;

use crate::diagnostic::{Code, Diagnostic, Findings, Pos, did_you_mean};
use crate::prompt::RiskTier;
use crate::prompt::decode_fields::COMPLIANCE_FIELDS;
use crate::yaml::{self, Entry, Node, Value};
use std::collections::BTreeMap;

/// The top-level keys of a policy file.
pub const KEYS: &[&str] = &[
    "environment",
    "description",
    "promote_from",
    "evals",
    "max_cost_per_call_usd",
    "max_latency_p95_ms",
    "approvals",
    "checklist",
    "compliance",
    "require",
    "completion",
    "rules",
];
/// The keys of one `rules` entry: `when` and the gates.
pub const RULE_KEYS: &[&str] = &[
    "when",
    "promote_from",
    "evals",
    "max_cost_per_call_usd",
    "max_latency_p95_ms",
    "approvals",
    "checklist",
    "compliance",
    "require",
];
/// Keys that apply to the whole policy and so cannot appear inside a rule.
const POLICY_ONLY_KEYS: &[&str] = &["environment", "completion", "rules"];
const EVALS_KEYS: &[&str] = &["min_pass_rate", "attached_by"];
const APPROVAL_KEYS: &[&str] = &["count", "roles", "teams"];
const REQUIRE_KEYS: &[&str] = &["expr", "message"];
/// The roles that can approve, hence the ones `roles` may name.
const APPROVING_ROLES: &[&str] = &["approver", "admin"];

const EXPR_HINT: &str = "expressions use Jinja syntax over the prompt's content, e.g. `compliance.risk_tier == \"high\"`, `not deprecated`, `'pii' in tags`";

/// Parses a policy file. `path` is only used in diagnostics. `Ok` carries the policy and
/// any warnings; `Err` carries every finding (errors and warnings) when any is an error.
pub fn parse(path: &str, source: &str) -> Result<(Policy, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut f = Findings::new(path);
    let policy = match yaml::parse(source, &mut f) {
        Some(root) => Reader { f: &mut f }.policy(&root),
        None => {
            if !f.has_errors() {
                f.push_hint(
                    Pos::START,
                    Code::EmptyFile,
                    "the policy file is empty",
                    "write `{}` for a policy with no gates, or add gates such as `approvals: [{count: 1}]`",
                );
            }
            None
        }
    };
    let findings = f.into_vec();
    match policy {
        Some(policy) if !findings.iter().any(Diagnostic::is_error) => Ok((policy, findings)),
        _ => Err(findings),
    }
}

struct Reader<'f> {
    f: &'f mut Findings,
}

impl Reader<'_> {
    fn policy(&mut self, root: &Node) -> Option<Policy> {
        let Some(entries) = root.as_map() else {
            self.f.push_hint(
                root.start,
                Code::NotAMapping,
                format!(
                    "a policy file is a mapping of gates, found {}",
                    root.kind_name()
                ),
                "e.g. `approvals: [{count: 1}]`; `{}` is a policy with no gates",
            );
            return None;
        };
        let mut policy = Policy::default();
        for e in entries {
            match e.key.as_str() {
                key if KEYS.contains(&key) && e.value.is_null() => {}
                "environment" => policy.environment = self.name(&e.value, "environment"),
                "description" => policy.description = self.string(&e.value, "description"),
                "completion" => {
                    if let Some(c) = self.completion(&e.value) {
                        policy.completion = c;
                    }
                }
                "rules" => policy.rules = self.rules(&e.value),
                key if RULE_KEYS[1..].contains(&key) => self.gate(&mut policy.base, e, ""),
                _ => self.unknown_key(e, KEYS, "policy key"),
            }
        }
        if let (Some(env), Some(from), Some(at)) = (
            &policy.environment,
            &policy.base.promote_from,
            entries.iter().find(|e| e.key == "promote_from"),
        ) && env == from
        {
            self.f.push_hint(
                at.value.start,
                Code::InvalidValue,
                format!("`promote_from` names this policy's own environment `{env}`"),
                "name the environment versions come from, e.g. `promote_from: staging` for prod",
            );
        }
        Some(policy)
    }

    fn rules(&mut self, node: &Node) -> Vec<Rule> {
        let Some(items) = node.as_seq() else {
            self.f.push_hint(
                node.start,
                Code::WrongType,
                format!("`rules` must be a list, found {}", node.kind_name()),
                "write `rules:` then items like `- when: 'compliance.risk_tier == \"high\"'` with the gates they add",
            );
            return Vec::new();
        };
        let mut rules = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(entries) = item.as_map() else {
                self.f.push_hint(
                    item.start,
                    Code::WrongType,
                    format!(
                        "rules[{i}] must be a mapping with `when` and gates, found {}",
                        item.kind_name()
                    ),
                    "e.g. `- when: 'compliance.risk_tier == \"high\"'` then `  approvals: [{count: 2}]`",
                );
                continue;
            };
            let prefix = format!("rules[{i}].");
            let mut when = None;
            let mut gates = Gates::default();
            for e in entries {
                match e.key.as_str() {
                    "when" => when = self.expression(&e.value, &format!("{prefix}when")),
                    key if POLICY_ONLY_KEYS.contains(&key) => self.f.push_hint(
                        e.key_pos,
                        Code::InvalidValue,
                        format!(
                            "`{key}` applies to the whole policy and cannot be set inside a rule"
                        ),
                        format!("move `{key}` to the top level of the file"),
                    ),
                    key if RULE_KEYS.contains(&key) && e.value.is_null() => {}
                    key if RULE_KEYS.contains(&key) => self.gate(&mut gates, e, &prefix),
                    _ => self.unknown_key(e, RULE_KEYS, "rule key"),
                }
            }
            if !entries.iter().any(|e| e.key == "when") {
                self.f.push_hint(
                    item.start,
                    Code::MissingField,
                    format!("rules[{i}] has no `when`"),
                    "add `when: '<expression>'` saying which prompts the rule applies to",
                );
            }
            if let Some(when) = when {
                rules.push(Rule { when, gates });
            }
        }
        rules
    }

    /// One gate key (`e.value` is not null) into `gates`.
    fn gate(&mut self, gates: &mut Gates, e: &Entry, prefix: &str) {
        let what = format!("{prefix}{}", e.key);
        let node = &e.value;
        match e.key.as_str() {
            "promote_from" => gates.promote_from = self.name(node, &what),
            "evals" => gates.evals = self.evals(node, &what),
            "max_cost_per_call_usd" => gates.max_cost_per_call_usd = self.budget(node, &what),
            "max_latency_p95_ms" => gates.max_latency_p95_ms = self.budget(node, &what),
            "approvals" => gates.approvals = self.approvals(node, &what),
            "checklist" => {
                gates.checklist = self
                    .strings(node, &what)
                    .into_iter()
                    .filter_map(|(item, at)| {
                        self.non_empty(item, at, &format!("an item of `{what}`"))
                    })
                    .collect();
            }
            "compliance" => gates.compliance = self.compliance(node, &what),
            "require" => gates.require = self.requirements(node, &what),
            _ => {}
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.wrong_type(node, what, "a string", "quote the value");
                None
            }
        }
    }

    /// A non-empty string (environment names).
    fn name(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        self.non_empty(s, node.start, &format!("`{what}`"))
    }

    fn non_empty(&mut self, s: String, at: Pos, what: &str) -> Option<String> {
        if s.trim().is_empty() {
            self.invalid(at, format!("{what} is empty"), "write a name, or remove it");
            return None;
        }
        Some(s.trim().to_owned())
    }

    /// A list of scalars as strings, each with its position.
    fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Pos)> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(
                node,
                what,
                "a list of strings",
                &format!(
                    "write `{}: [a, b]`",
                    what.rsplit('.').next().unwrap_or(what)
                ),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.value {
                Value::Str(s) => Some((s.clone(), item.start)),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                    Some((item.raw().to_owned(), item.start))
                }
                _ => {
                    self.wrong_type(item, &format!("{what}[{i}]"), "a string", "quote it");
                    None
                }
            })
            .collect()
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str, hint: &str) {
        self.f.push_hint(
            node.start,
            Code::WrongType,
            format!("`{what}` must be {expected}, found {}", node.kind_name()),
            hint,
        );
    }

    fn invalid(&mut self, at: Pos, message: String, hint: impl Into<String>) {
        self.f.push_hint(at, Code::InvalidValue, message, hint);
    }

    fn unknown_key(&mut self, e: &Entry, known: &[&str], kind: &str) {
        let hint = match did_you_mean(&e.key, known.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("known keys here: {}", known.join(", ")),
        };
        self.f.push_hint(
            e.key_pos,
            Code::UnknownKey,
            format!("unknown {kind} `{}`", e.key),
            hint,
        );
    }
}

fn default_message(expr: &str) -> String {
    format!("`{expr}` does not hold")
}
