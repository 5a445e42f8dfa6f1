//! From a policy file's text to a [`Policy`], checking every key and value on the way and
//! collecting a finding (with line and column) for each problem, never stopping at the
//! first.

use super::{
    ApprovalRequirement, AttachedBy, Budget, Completion, ComplianceGate, EvalsGate, Gates,
    MAX_APPROVALS, Policy, Requirement, Role, Rule, Threshold, expr,
};
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

    fn evals(&mut self, node: &Node, what: &str) -> Option<EvalsGate> {
        match &node.value {
            Value::Bool(true) => Some(EvalsGate::default()),
            Value::Bool(false) => None,
            Value::Map(entries) => {
                let mut gate = EvalsGate::default();
                for e in entries {
                    match e.key.as_str() {
                        "min_pass_rate" if e.value.is_null() => {}
                        "min_pass_rate" => {
                            if let Some(t) =
                                self.threshold(&e.value, &format!("{what}.min_pass_rate"))
                            {
                                gate.min_pass_rate = t;
                            }
                        }
                        "attached_by" => {
                            if let Some(a) =
                                self.attached_by(&e.value, &format!("{what}.attached_by"))
                            {
                                gate.attached_by = a;
                            }
                        }
                        _ => self.unknown_key(e, EVALS_KEYS, "`evals` key"),
                    }
                }
                Some(gate)
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a mapping or `true`",
                    "e.g. `evals: {min_pass_rate: 0.95}`, or `evals: {}` for the prompt's baseline",
                );
                None
            }
        }
    }

    fn attached_by(&mut self, node: &Node, what: &str) -> Option<AttachedBy> {
        let Some(text) = node.as_str() else {
            self.wrong_type(
                node,
                what,
                "one of `anyone`, `ci`, `not-author`",
                "e.g. `attached_by: ci` (runs attached with a key made by `promptops key create --ci`)",
            );
            return None;
        };
        let parsed = AttachedBy::parse(text);
        if parsed.is_none() {
            let hint = match did_you_mean(text, AttachedBy::NAMES) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "use `anyone`, `ci` (a CI key) or `not-author` (anyone but the version's author)".to_owned(),
            };
            self.invalid(
                node.start,
                format!("`{what}` is `{text}`, not one of anyone, ci, not-author"),
                hint,
            );
        }
        parsed
    }

    fn threshold(&mut self, node: &Node, what: &str) -> Option<Threshold> {
        match &node.value {
            Value::Str(s) if s == "baseline" => Some(Threshold::Baseline),
            Value::Str(s) => {
                let hint = match did_you_mean(s, ["baseline"]) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "write a fraction such as `0.95` (unquoted), or `baseline` for the prompt's metrics.baseline_accuracy".to_owned(),
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is `{s}`, not a number from 0 to 1 or `baseline`"),
                    hint,
                );
                None
            }
            Value::Int(_) | Value::Float(_) => {
                let x = node.as_f64()?;
                if (0.0..=1.0).contains(&x) {
                    return Some(Threshold::Fixed(x));
                }
                let hint = if x > 1.0 && x <= 100.0 {
                    format!("a pass rate is a fraction: write `{}` for {x}%", x / 100.0)
                } else {
                    "write a fraction from 0 to 1, e.g. `0.95`".to_owned()
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is {}, outside 0..=1", node.raw()),
                    hint,
                );
                None
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a number from 0 to 1 or `baseline`",
                    "e.g. `min_pass_rate: 0.95`",
                );
                None
            }
        }
    }

    fn budget(&mut self, node: &Node, what: &str) -> Option<Budget> {
        match &node.value {
            Value::Str(s) if s == "prompt" => Some(Budget::Prompt),
            Value::Str(s) => {
                let hint = match did_you_mean(s, ["prompt"]) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "write a number (unquoted), or `prompt` for the prompt's own metric"
                        .to_owned(),
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is `{s}`, not a number or `prompt`"),
                    hint,
                );
                None
            }
            Value::Int(_) | Value::Float(_) => {
                let x = node.as_f64()?;
                if x.is_finite() && x >= 0.0 {
                    return Some(Budget::Fixed(x));
                }
                self.invalid(
                    node.start,
                    format!(
                        "`{what}` is {}: a budget must be a finite number, 0 or more",
                        node.raw()
                    ),
                    "remove the budget to set none",
                );
                None
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a number or `prompt`",
                    "e.g. `max_cost_per_call_usd: 0.01`",
                );
                None
            }
        }
    }

    fn approvals(&mut self, node: &Node, what: &str) -> Vec<ApprovalRequirement> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(
                node,
                what,
                "a list of requirements",
                "e.g. `approvals: [{count: 2, roles: [approver, admin]}]`",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let what = format!("{what}[{i}]");
            let Some(entries) = item.as_map() else {
                self.wrong_type(
                    item,
                    &what,
                    "a mapping",
                    "e.g. `- count: 1` with optional `roles: [approver, admin]` and `teams: [security]`",
                );
                continue;
            };
            let mut req = ApprovalRequirement::default();
            for e in entries {
                let field = format!("{what}.{}", e.key);
                match e.key.as_str() {
                    key if APPROVAL_KEYS.contains(&key) && e.value.is_null() => {}
                    "count" => {
                        if let Some(n) = self.count(&e.value, &field) {
                            req.count = n;
                        }
                    }
                    "roles" => {
                        let roles = self.roles(&e.value, &field);
                        if !roles.is_empty() {
                            req.roles = roles;
                        }
                    }
                    "teams" => {
                        req.teams = self
                            .strings(&e.value, &field)
                            .into_iter()
                            .filter_map(|(team, at)| self.non_empty(team, at, "a team name"))
                            .collect();
                    }
                    _ => self.unknown_key(e, APPROVAL_KEYS, "approvals key"),
                }
            }
            out.push(req);
        }
        out
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<u32> {
        match node.value {
            Value::Int(n) => match u32::try_from(n) {
                Ok(n) if (1..=MAX_APPROVALS).contains(&n) => Some(n),
                _ => {
                    self.invalid(
                        node.start,
                        format!("`{what}` is {n}, outside 1..={MAX_APPROVALS}"),
                        "remove the requirement to need no approval",
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(node, what, "a whole number", "e.g. `count: 2`");
                None
            }
        }
    }

    fn roles(&mut self, node: &Node, what: &str) -> Vec<Role> {
        let items = self.strings(node, what);
        if items.is_empty() && node.as_seq().is_some() {
            self.invalid(
                node.start,
                format!("`{what}` is empty: no approval could count"),
                "remove `roles` to count approvers and admins",
            );
        }
        let mut roles = Vec::new();
        for (name, at) in items {
            match Role::parse(&name) {
                Some(role @ (Role::Approver | Role::Admin)) => {
                    if !roles.contains(&role) {
                        roles.push(role);
                    }
                }
                Some(role) => self.invalid(
                    at,
                    format!("the role `{role}` cannot approve, so it cannot count toward `{what}`"),
                    "use approver or admin",
                ),
                None => {
                    let hint = match did_you_mean(&name, Role::NAMES.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "use approver or admin".to_owned(),
                    };
                    self.invalid(
                        at,
                        format!(
                            "`{name}` is not a role that can approve ({})",
                            APPROVING_ROLES.join(", ")
                        ),
                        hint,
                    );
                }
            }
        }
        roles
    }

    fn compliance(&mut self, node: &Node, what: &str) -> Option<ComplianceGate> {
        match &node.value {
            Value::Bool(true) => Some(ComplianceGate::Defaults),
            Value::Bool(false) => None,
            Value::Map(entries) => {
                let mut tiers = BTreeMap::new();
                for e in entries {
                    let Some(tier) = RiskTier::parse(&e.key) else {
                        let hint = match did_you_mean(&e.key, RiskTier::NAMES.iter().copied()) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "use low, medium or high".to_owned(),
                        };
                        self.invalid(
                            e.key_pos,
                            format!("`{}` is not a risk tier (low, medium, high)", e.key),
                            hint,
                        );
                        continue;
                    };
                    let mut fields: Vec<String> = Vec::new();
                    if !e.value.is_null() {
                        for (field, at) in self.strings(&e.value, &format!("{what}.{}", e.key)) {
                            if !COMPLIANCE_FIELDS.contains(&field.as_str()) {
                                let hint =
                                    match did_you_mean(&field, COMPLIANCE_FIELDS.iter().copied()) {
                                        Some(near) => format!("did you mean `{near}`?"),
                                        None => format!(
                                            "known fields: {}",
                                            COMPLIANCE_FIELDS.join(", ")
                                        ),
                                    };
                                self.invalid(
                                    at,
                                    format!("`{field}` is not a compliance field"),
                                    hint,
                                );
                            } else if !fields.contains(&field) {
                                fields.push(field);
                            }
                        }
                    }
                    tiers.insert(tier, fields);
                }
                Some(ComplianceGate::Tiers(tiers))
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "`true` or a mapping of risk tiers to fields",
                    "e.g. `compliance: true` (the project's defaults) or `compliance: {high: [human_oversight]}`",
                );
                None
            }
        }
    }

    fn requirements(&mut self, node: &Node, what: &str) -> Vec<Requirement> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(
                node,
                what,
                "a list",
                "e.g. `require: [{expr: 'not deprecated', message: deprecated prompts cannot be promoted}]`",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let what = format!("{what}[{i}]");
            match &item.value {
                Value::Str(_) => {
                    if let Some(expr) = self.expression(item, &what) {
                        out.push(Requirement {
                            message: default_message(&expr),
                            expr,
                        });
                    }
                }
                Value::Map(entries) => {
                    let mut expr = None;
                    let mut message = None;
                    for e in entries {
                        match e.key.as_str() {
                            "expr" => expr = self.expression(&e.value, &format!("{what}.expr")),
                            "message" if e.value.is_null() => {}
                            "message" => message = self.string(&e.value, &format!("{what}.message")),
                            _ => self.unknown_key(e, REQUIRE_KEYS, "requirement key"),
                        }
                    }
                    if !entries.iter().any(|e| e.key == "expr") {
                        self.f.push_hint(
                            item.start,
                            Code::MissingField,
                            format!("{what} has no `expr`"),
                            "add `expr: '<expression>'` that must hold, e.g. `expr: 'not deprecated'`",
                        );
                    }
                    if let Some(expr) = expr {
                        let message = message
                            .filter(|m| !m.trim().is_empty())
                            .unwrap_or_else(|| default_message(&expr));
                        out.push(Requirement { expr, message });
                    }
                }
                _ => self.wrong_type(
                    item,
                    &what,
                    "an expression or a mapping with `expr` and `message`",
                    "e.g. `- expr: 'not deprecated'` / `  message: deprecated prompts cannot be promoted`",
                ),
            }
        }
        out
    }

    /// A string that compiles as an expression.
    fn expression(&mut self, node: &Node, what: &str) -> Option<String> {
        let Some(source) = node.as_str() else {
            let hint = if node.value == Value::Bool(true) || node.value == Value::Bool(false) {
                format!("quote it: `'{}'`", node.raw())
            } else {
                EXPR_HINT.to_owned()
            };
            self.wrong_type(node, what, "an expression (a string)", &hint);
            return None;
        };
        match expr::check(source) {
            Ok(()) => Some(source.to_owned()),
            Err(problem) => {
                self.invalid(
                    node.start,
                    format!("`{what}` is not a valid expression: {problem}"),
                    EXPR_HINT,
                );
                None
            }
        }
    }

    fn completion(&mut self, node: &Node) -> Option<Completion> {
        let Some(s) = node.as_str() else {
            self.wrong_type(
                node,
                "completion",
                "`auto` or `requester`",
                "e.g. `completion: auto`",
            );
            return None;
        };
        let parsed = Completion::parse(s);
        if parsed.is_none() {
            let hint = match did_you_mean(s, Completion::NAMES.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "use `auto` (the label moves when the last gate holds) or `requester` (the requester completes it)".to_owned(),
            };
            self.invalid(
                node.start,
                format!("`completion` is `{s}`, not auto or requester"),
                hint,
            );
        }
        parsed
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
