//! Gate policies as code: one YAML file per environment saying what a prompt version
//! needs before it may be served there (an eval run, budgets, approvals, a checklist,
//! compliance fields, free conditions), with conditional `rules` that add gates for
//! some prompts (e.g. high risk tier → a security approval).
//!
//! [`parse`] reads a policy file into a [`Policy`] with findings that carry line and
//! column; [`Policy::effective`] picks the gates that apply to one prompt; [`evaluate`]
//! judges them against the facts of a promotion request. `docs/policy.md` is the user
//! reference.
//!
//! ```
//! use promptops_core::policy::{self, Role};
//! use serde_json::json;
//!
//! let source = "\
//! approvals:
//!   - count: 1
//! rules:
//!   - when: 'compliance.risk_tier == \"high\"'
//!     approvals:
//!       - count: 1
//!         teams: [security]
//! ";
//! let (policy, warnings) = policy::parse("policies/prod.yaml", source).unwrap();
//! assert!(warnings.is_empty());
//! let high = json!({"id": "support.reply", "compliance": {"risk_tier": "high"}});
//! let gates = policy.effective(&high).unwrap();
//! assert_eq!(gates.approvals.len(), 2);
//! assert_eq!(gates.approvals[1].roles, [Role::Approver, Role::Admin]);
//! assert_eq!(policy.effective(&json!({"id": "support.reply"})).unwrap().approvals.len(), 1);
//! ```

mod evaluate;
mod expr;
mod parse;

pub use crate::role::Role;
pub use evaluate::{ASSESSMENTS, ApprovalFacts, EvalFacts, Facts, GateOutcome, evaluate};
pub use parse::{KEYS, RULE_KEYS, parse};

use crate::prompt::RiskTier;
use serde::{Serialize, Serializer};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The most approvals one requirement may ask for.
pub const MAX_APPROVALS: u32 = 20;

/// A parsed policy file. Serialising it gives its canonical JSON (the file's shape,
/// with defaults filled in), for display and comparison.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Policy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The gates that apply to every prompt.
    #[serde(flatten)]
    pub base: Gates,
    /// Conditional additions, in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    pub completion: Completion,
}

/// What a promotion must satisfy. Every field is optional; an empty `Gates` lets
/// anything through.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Gates {
    /// The environment whose current version is the only one that may be promoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evals: Option<EvalsGate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_per_call_usd: Option<Budget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_latency_p95_ms: Option<Budget>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRequirement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance: Option<ComplianceGate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<Requirement>,
}

impl Gates {
    /// Whether a human has to approve: some approvals requirement asks for at least one.
    pub fn needs_approval(&self) -> bool {
        self.approvals.iter().any(|a| a.count > 0)
    }

    /// Whether no gate is set at all.
    pub fn is_empty(&self) -> bool {
        self == &Gates::default()
    }
}

/// An eval run must be attached to the version, without errors, passing at least
/// `min_pass_rate` of its cases, attached by whom `attached_by` says.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EvalsGate {
    pub min_pass_rate: Threshold,
    #[serde(skip_serializing_if = "AttachedBy::is_anyone")]
    pub attached_by: AttachedBy,
}

/// Who may attach the eval run a gate counts: the run is evidence only if the author
/// could not simply post it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachedBy {
    /// Any editor (the default).
    #[default]
    Anyone,
    /// An API key created for CI (`promptops key create --ci`).
    Ci,
    /// Anyone but the version's author.
    NotAuthor,
}

impl AttachedBy {
    pub const NAMES: [&'static str; 3] = ["anyone", "ci", "not-author"];

    pub fn parse(text: &str) -> Option<AttachedBy> {
        match text {
            "anyone" => Some(AttachedBy::Anyone),
            "ci" => Some(AttachedBy::Ci),
            "not-author" => Some(AttachedBy::NotAuthor),
            _ => None,
        }
    }

    fn is_anyone(&self) -> bool {
        *self == AttachedBy::Anyone
    }

    /// The stricter of two (a rule can only tighten): CI and not-author are each
    /// stricter than anyone; CI keys are not authors, so CI is the strictest.
    fn stricter(self, other: AttachedBy) -> AttachedBy {
        use AttachedBy::*;
        match (self, other) {
            (Ci, _) | (_, Ci) => Ci,
            (NotAuthor, _) | (_, NotAuthor) => NotAuthor,
            _ => Anyone,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Threshold {
    /// The prompt's `metrics.baseline_accuracy`; 1.0 (every case) when it has none.
    #[default]
    Baseline,
    /// A fraction in `0..=1`.
    Fixed(f64),
}

impl Threshold {
    /// The pass rate this threshold asks of `prompt` (canonical content JSON).
    pub fn resolve(self, prompt: &Json) -> f64 {
        match self {
            Threshold::Fixed(x) => x,
            Threshold::Baseline => metric(prompt, "baseline_accuracy").unwrap_or(1.0),
        }
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Threshold::Baseline => s.serialize_str("baseline"),
            Threshold::Fixed(x) => s.serialize_f64(*x),
        }
    }
}

/// A cost or latency ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// The prompt's own metric (`metrics.max_cost_per_call_usd`, `metrics.max_latency_ms`);
    /// no budget when the prompt sets none.
    Prompt,
    Fixed(f64),
}

impl Budget {
    /// The ceiling for `prompt`, where `metric_name` is the prompt metric `Prompt` refers
    /// to; `None` when the prompt sets no budget.
    pub fn resolve(self, prompt: &Json, metric_name: &str) -> Option<f64> {
        match self {
            Budget::Fixed(x) => Some(x),
            Budget::Prompt => metric(prompt, metric_name),
        }
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Budget::Prompt => s.serialize_str("prompt"),
            Budget::Fixed(x) => s.serialize_f64(*x),
        }
    }
}

/// The prompt metric that `Budget::Prompt` stands for, per budget gate.
pub const COST_METRIC: &str = "max_cost_per_call_usd";
pub const LATENCY_METRIC: &str = "max_latency_ms";

/// `count` distinct approvers, each holding one of `roles` and (when `teams` is not
/// empty) belonging to one of `teams`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRequirement {
    pub count: u32,
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
}

impl ApprovalRequirement {
    /// The roles that count when a requirement names none.
    pub const DEFAULT_ROLES: [Role; 2] = [Role::Approver, Role::Admin];
}

impl Default for ApprovalRequirement {
    fn default() -> Self {
        ApprovalRequirement {
            count: 1,
            roles: Self::DEFAULT_ROLES.to_vec(),
            teams: Vec::new(),
        }
    }
}

/// The compliance fields the prompt's risk tier requires must be filled.
#[derive(Debug, Clone, PartialEq)]
pub enum ComplianceGate {
    /// The fields the caller's defaults (`promptops.toml` `[compliance]`) require.
    Defaults,
    /// The fields listed here; a tier not listed requires none.
    Tiers(BTreeMap<RiskTier, Vec<String>>),
}

impl Serialize for ComplianceGate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ComplianceGate::Defaults => s.serialize_bool(true),
            ComplianceGate::Tiers(tiers) => tiers.serialize(s),
        }
    }
}

/// A free condition on the prompt's content: `expr` must be truthy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    pub expr: String,
    /// What a failed outcome says.
    pub message: String,
}

/// Gates added when `when` holds for the prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub when: String,
    #[serde(flatten)]
    pub gates: Gates,
}

/// Who moves the label once every gate holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Completion {
    /// The label moves when the last approval arrives and every gate holds.
    #[default]
    Auto,
    /// The requester completes the promotion.
    Requester,
}

impl Completion {
    pub const NAMES: &'static [&'static str] = &["auto", "requester"];

    pub fn parse(s: &str) -> Option<Completion> {
        match s {
            "auto" => Some(Completion::Auto),
            "requester" => Some(Completion::Requester),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Completion::Auto => "auto",
            Completion::Requester => "requester",
        }
    }
}

/// A policy that cannot be applied to a prompt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// A rule's `when` failed to evaluate (`rule` is its index in `rules`, from 0).
    #[error(
        "rules[{rule}].when `{expr}` cannot be evaluated: {message}; fix the expression in the policy file"
    )]
    Expression {
        rule: usize,
        expr: String,
        message: String,
    },
}

impl Policy {
    /// The gates that apply to a prompt: the base merged with every rule whose `when`
    /// holds for `prompt` (canonical content JSON), in file order.
    ///
    /// Lists (approvals, checklist, require) are appended; budgets and the pass rate take
    /// the stricter value (resolving `prompt`/`baseline` against the prompt's metrics);
    /// `promote_from` and `compliance` take the rule's value (two compliance tier
    /// mappings are united tier by tier).
    pub fn effective(&self, prompt: &Json) -> Result<Gates, PolicyError> {
        let mut gates = self.base.clone();
        for (i, rule) in self.rules.iter().enumerate() {
            let holds =
                expr::eval(&rule.when, prompt).map_err(|message| PolicyError::Expression {
                    rule: i,
                    expr: rule.when.clone(),
                    message,
                })?;
            if holds {
                gates.merge(&rule.gates, prompt);
            }
        }
        Ok(gates)
    }

    /// The canonical JSON of the policy (the shape of the file, defaults filled in).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

impl Gates {
    /// Adds `other`'s gates to these (see [`Policy::effective`]).
    fn merge(&mut self, other: &Gates, prompt: &Json) {
        if other.promote_from.is_some() {
            self.promote_from.clone_from(&other.promote_from);
        }
        self.evals = match (self.evals.take(), &other.evals) {
            (None, o) => o.clone(),
            (Some(mine), None) => Some(mine),
            (Some(mine), Some(o)) => {
                let stricter = o.min_pass_rate.resolve(prompt) > mine.min_pass_rate.resolve(prompt);
                let attached_by = mine.attached_by.stricter(o.attached_by);
                let mut gate = if stricter { o.clone() } else { mine };
                gate.attached_by = attached_by;
                Some(gate)
            }
        };
        self.max_cost_per_call_usd = stricter_budget(
            self.max_cost_per_call_usd,
            other.max_cost_per_call_usd,
            prompt,
            COST_METRIC,
        );
        self.max_latency_p95_ms = stricter_budget(
            self.max_latency_p95_ms,
            other.max_latency_p95_ms,
            prompt,
            LATENCY_METRIC,
        );
        self.approvals.extend(other.approvals.iter().cloned());
        for item in &other.checklist {
            if !self.checklist.iter().any(|mine| same_item(mine, item)) {
                self.checklist.push(item.clone());
            }
        }
        self.compliance = match (self.compliance.take(), &other.compliance) {
            (mine, None) => mine,
            (Some(ComplianceGate::Tiers(mut mine)), Some(ComplianceGate::Tiers(theirs))) => {
                for (tier, fields) in theirs {
                    let list = mine.entry(*tier).or_default();
                    for field in fields {
                        if !list.contains(field) {
                            list.push(field.clone());
                        }
                    }
                }
                Some(ComplianceGate::Tiers(mine))
            }
            (_, Some(theirs)) => Some(theirs.clone()),
        };
        self.require.extend(other.require.iter().cloned());
    }
}

fn stricter_budget(
    mine: Option<Budget>,
    theirs: Option<Budget>,
    prompt: &Json,
    metric_name: &str,
) -> Option<Budget> {
    match (mine, theirs) {
        (None, b) | (b, None) => b,
        (Some(a), Some(b)) => {
            let limit = |x: Budget| x.resolve(prompt, metric_name).unwrap_or(f64::INFINITY);
            Some(if limit(b) < limit(a) { b } else { a })
        }
    }
}

/// Checklist items compare trimmed and case-insensitively.
fn same_item(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A numeric prompt metric from canonical content JSON.
fn metric(prompt: &Json, name: &str) -> Option<f64> {
    prompt.get("metrics")?.get(name)?.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(src: &str) -> Policy {
        match parse("p.yaml", src) {
            Ok((p, _)) => p,
            Err(d) => panic!("{d:#?}"),
        }
    }

    #[test]
    fn numbers_take_the_stricter_value() {
        let p = policy(
            "evals: {min_pass_rate: 0.8}\nmax_cost_per_call_usd: 0.02\nmax_latency_p95_ms: prompt\n\
             rules:\n  - when: 'true'\n    evals: {min_pass_rate: 0.9}\n    max_cost_per_call_usd: 0.05\n    max_latency_p95_ms: 900\n",
        );
        let g = p
            .effective(&json!({"metrics": {"max_latency_ms": 500}}))
            .unwrap();
        assert_eq!(g.evals.unwrap().min_pass_rate, Threshold::Fixed(0.9));
        assert_eq!(g.max_cost_per_call_usd, Some(Budget::Fixed(0.02)));
        assert_eq!(g.max_latency_p95_ms, Some(Budget::Prompt));
        // Without a prompt budget the fixed one is stricter.
        let g = p.effective(&json!({})).unwrap();
        assert_eq!(g.max_latency_p95_ms, Some(Budget::Fixed(900.0)));
    }

    #[test]
    fn baseline_resolves_against_the_prompt() {
        let p = policy("evals: {min_pass_rate: 0.9}\nrules:\n  - when: 'true'\n    evals: {}\n");
        let with = json!({"metrics": {"baseline_accuracy": 0.85}});
        assert_eq!(
            p.effective(&with).unwrap().evals.unwrap().min_pass_rate,
            Threshold::Fixed(0.9)
        );
        // No baseline means every case must pass: stricter than 0.9.
        assert_eq!(
            p.effective(&json!({}))
                .unwrap()
                .evals
                .unwrap()
                .min_pass_rate,
            Threshold::Baseline
        );
    }

    #[test]
    fn promote_from_and_compliance_take_the_rule_value() {
        let p = policy(
            "promote_from: dev\ncompliance: {high: [intended_use]}\nchecklist: [Reviewed diff]\n\
             rules:\n  - when: 'true'\n    promote_from: staging\n    compliance: {high: [human_oversight], medium: [intended_use]}\n    checklist: ['reviewed diff ', other]\n",
        );
        let g = p.effective(&json!({})).unwrap();
        assert_eq!(g.promote_from.as_deref(), Some("staging"));
        assert_eq!(g.checklist, ["Reviewed diff", "other"]);
        let Some(ComplianceGate::Tiers(t)) = g.compliance else {
            panic!("tiers expected")
        };
        assert_eq!(t[&RiskTier::High], ["intended_use", "human_oversight"]);
        assert_eq!(t[&RiskTier::Medium], ["intended_use"]);
    }

    #[test]
    fn a_when_that_fails_names_the_rule() {
        let p = policy("rules:\n  - when: 'true'\n  - when: 'tags | nosuchfilter'\n");
        let e = p.effective(&json!({})).unwrap_err();
        let PolicyError::Expression { rule, expr, .. } = &e;
        assert_eq!((*rule, expr.as_str()), (1, "tags | nosuchfilter"));
        assert!(
            e.to_string().starts_with(
                "rules[1].when `tags | nosuchfilter` cannot be evaluated: unknown filter"
            ),
            "{e}"
        );
    }

    #[test]
    fn canonical_json_has_the_file_shape() {
        let p = policy(
            "environment: prod\npromote_from: staging\nevals: {}\nmax_cost_per_call_usd: prompt\n\
             approvals: [{count: 2}]\ncompliance: true\nrequire: ['not deprecated']\n\
             rules:\n  - when: 'x'\n    approvals: [{teams: [security]}]\n",
        );
        assert_eq!(
            p.to_json(),
            json!({
                "environment": "prod",
                "promote_from": "staging",
                "evals": {"min_pass_rate": "baseline"},
                "max_cost_per_call_usd": "prompt",
                "approvals": [{"count": 2, "roles": ["approver", "admin"]}],
                "compliance": true,
                "require": [{"expr": "not deprecated", "message": "`not deprecated` does not hold"}],
                "rules": [{"when": "x", "approvals": [{"count": 1, "roles": ["approver", "admin"], "teams": ["security"]}]}],
                "completion": "auto",
            })
        );
    }

    #[test]
    fn needs_approval() {
        assert!(!Gates::default().needs_approval());
        assert!(policy("approvals: [{count: 1}]\n").base.needs_approval());
        assert!(Gates::default().is_empty());
    }
}
