//! Judging a promotion request: every gate against the facts the caller gathered
//! (labels, the latest eval run, approvals, compliance defaults). Pure: the caller reads
//! the store, this decides.

use super::{
    ApprovalRequirement, AttachedBy, Budget, COST_METRIC, ComplianceGate, EvalsGate, Gates,
    LATENCY_METRIC, Requirement, Role, Threshold, expr, same_item,
};
use crate::prompt::RiskTier;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// Slack for comparing a measured pass rate with a threshold (0.95 measured as 19/20).
const EPSILON: f64 = 1e-9;

/// What the caller knows about a promotion request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Canonical content of the version being promoted.
    pub prompt: &'a Json,
    /// The version being promoted, e.g. `2.0.0`.
    pub version: &'a str,
    /// Who published the version.
    pub author: &'a str,
    /// Who asks for the promotion.
    pub requester: &'a str,
    /// Environment → the version of this prompt it serves now.
    pub labels: &'a BTreeMap<String, String>,
    /// The newest eval run attached to this version.
    pub latest_eval: Option<&'a EvalFacts>,
    /// Approvals given on the request (rejections are not here).
    pub approvals: &'a [ApprovalFacts],
    /// The compliance fields each risk tier requires (`promptops.toml` `[compliance]`).
    pub compliance_defaults: &'a BTreeMap<RiskTier, Vec<String>>,
    /// What the registry recorded about the version beyond evals, as `require`
    /// expressions read it: an object with `redteam` (the newest red-team run's
    /// figures) and `compatibility` (model → newest verdict), each absent when nothing
    /// was recorded. See [`ASSESSMENTS`].
    pub assessments: &'a Json,
}

/// The names `require` expressions read from [`Facts::assessments`] rather than from the
/// prompt's content, with the command that records each.
pub const ASSESSMENTS: [(&str, &str, &str); 2] = [
    (
        "redteam",
        "no red-team report is attached to",
        "promptops redteam {id} --publish",
    ),
    (
        "compatibility",
        "no compatibility results are recorded for",
        "promptops eval --matrix --publish",
    ),
];

/// An eval run's results, as the gates read them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EvalFacts {
    /// The run's id.
    pub run: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    /// Mean cost per call in USD, measured by the server from the run's rows; `None`
    /// when unknown (no rows, no calls, or no price).
    pub cost_per_call_usd: Option<f64>,
    /// 95th-percentile latency of the calls, measured from the rows.
    pub p95_latency_ms: Option<f64>,
    /// The user who attached the run.
    pub attached_by: String,
    /// The API key it was attached with (`None`: a user's session).
    pub via_key: Option<String>,
    /// Whether that key was made for CI (`promptops key create --ci`).
    pub ci_key: bool,
}

impl EvalFacts {
    /// Passed cases over all cases, from the counts (`None` for an empty run).
    pub fn pass_rate(&self) -> Option<f64> {
        let total = self
            .passed
            .saturating_add(self.failed)
            .saturating_add(self.errors);
        (total > 0).then(|| self.passed as f64 / total as f64)
    }

    /// How the run came in, in a gate's words: `alice (session)`, `ci-bot (CI key po_…)`.
    fn provenance(&self) -> String {
        match (&self.via_key, self.ci_key) {
            (Some(key), true) => format!("{} (CI key {key})", self.attached_by),
            (Some(key), false) => format!("{} (key {key}, not a CI key)", self.attached_by),
            (None, _) => format!("{} (a session, not a CI key)", self.attached_by),
        }
    }
}

/// One approval of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalFacts {
    pub user: String,
    /// The approver's project role.
    pub role: Role,
    /// The teams the approver belongs to.
    pub teams: Vec<String>,
    /// The checklist items the approver ticked.
    pub checklist: Vec<String>,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    /// The policy key: `promote_from`, `evals`, `max_cost_per_call_usd`,
    /// `max_latency_p95_ms`, `compliance`, `require`, `approvals` or `checklist`.
    pub gate: String,
    pub passed: bool,
    /// One sentence for people, naming what was measured and what was required.
    pub message: String,
    /// The same for machines: at least `required` and `actual`.
    pub detail: Json,
}

/// Every gate of `gates` judged against `facts`, in a stable order: promote_from, evals,
/// max_cost_per_call_usd, max_latency_p95_ms, compliance, require (one outcome per
/// requirement), approvals (one per requirement), checklist. Gates the policy does not
/// set produce no outcome.
pub fn evaluate(gates: &Gates, facts: &Facts) -> Vec<GateOutcome> {
    let mut out = Vec::new();
    if let Some(from) = &gates.promote_from {
        out.push(promote_from(from, facts));
    }
    if let Some(evals) = &gates.evals {
        out.push(eval_gate(evals, facts));
    }
    if let Some(budget) = gates.max_cost_per_call_usd {
        out.push(budget_gate(Measure::Cost, budget, facts));
    }
    if let Some(budget) = gates.max_latency_p95_ms {
        out.push(budget_gate(Measure::Latency, budget, facts));
    }
    if let Some(gate) = &gates.compliance {
        out.push(compliance(gate, facts));
    }
    for requirement in &gates.require {
        out.push(require(requirement, facts));
    }
    let mut counted: Vec<&str> = Vec::new();
    for requirement in &gates.approvals {
        let (outcome, users) = approvals(requirement, facts);
        out.push(outcome);
        for user in users {
            if !counted.contains(&user) {
                counted.push(user);
            }
        }
    }
    if !gates.checklist.is_empty() {
        // Without approval requirements, the approvals the default requirement would
        // count (approvers and admins other than the author and the requester).
        if gates.approvals.is_empty() {
            let roles = ApprovalRequirement::DEFAULT_ROLES;
            for a in eligible(facts).filter(|a| roles.contains(&a.role)) {
                if !counted.contains(&a.user.as_str()) {
                    counted.push(&a.user);
                }
            }
        }
        out.push(checklist(&gates.checklist, &counted, facts));
    }
    out
}

fn outcome(gate: &'static str, passed: bool, message: String, detail: Json) -> GateOutcome {
    GateOutcome {
        gate: gate.to_owned(),
        passed,
        message,
        detail,
    }
}

/// `support.reply@2.0.0`, for messages.
fn subject(facts: &Facts) -> String {
    let id = facts
        .prompt
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or("the prompt");
    format!("{id}@{}", facts.version)
}

fn promote_from(from: &str, facts: &Facts) -> GateOutcome {
    let serving = facts.labels.get(from);
    let passed = serving.is_some_and(|v| v == facts.version);
    let message = match serving {
        Some(v) if v == facts.version => format!("{from} serves {v}, the version being promoted"),
        Some(v) => format!(
            "only what {from} serves can be promoted here: {from} serves {v}, not {}; promote {} to {from} first",
            facts.version, facts.version
        ),
        None => format!(
            "only what {from} serves can be promoted here: {from} serves nothing yet; promote {} to {from} first",
            facts.version
        ),
    };
    outcome(
        "promote_from",
        passed,
        message,
        json!({"environment": from, "required": facts.version, "actual": serving}),
    )
}

fn eval_gate(gate: &EvalsGate, facts: &Facts) -> GateOutcome {
    let required = gate.min_pass_rate.resolve(facts.prompt);
    let source = match gate.min_pass_rate {
        Threshold::Fixed(_) => "fixed",
        Threshold::Baseline => "baseline",
    };
    let why = match gate.min_pass_rate {
        Threshold::Fixed(_) => String::new(),
        Threshold::Baseline if super::metric(facts.prompt, "baseline_accuracy").is_some() => {
            " (the prompt's metrics.baseline_accuracy)".to_owned()
        }
        Threshold::Baseline => {
            " (the prompt sets no metrics.baseline_accuracy, so every case must pass)".to_owned()
        }
    };
    let Some(run) = facts.latest_eval else {
        return outcome(
            "evals",
            false,
            format!(
                "no eval run is attached to {}; run `promptops eval --publish`",
                subject(facts)
            ),
            json!({"required": required, "actual": null, "threshold": source}),
        );
    };
    let total = run
        .passed
        .saturating_add(run.failed)
        .saturating_add(run.errors);
    let actual = run.pass_rate();
    let detail = json!({
        "required": required,
        "actual": actual,
        "threshold": source,
        "run": run.run,
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "attached_by": run.attached_by,
        "via_key": run.via_key,
        "ci_key": run.ci_key,
        "required_attached_by": gate.attached_by,
    });
    let counts = format!("{}/{total} passed", run.passed);
    let refused_provenance = match gate.attached_by {
        AttachedBy::Anyone => None,
        AttachedBy::Ci if !(run.via_key.is_some() && run.ci_key) => Some(format!(
            "eval run #{} was attached by {}; this policy counts only runs attached with a CI key (`promptops key create --ci`); publish the run from CI",
            run.run,
            run.provenance()
        )),
        AttachedBy::NotAuthor if run.attached_by == facts.author => Some(format!(
            "eval run #{} was attached by {}, the version's author; this policy counts only runs attached by someone else (a CI key or a reviewer)",
            run.run, run.attached_by
        )),
        AttachedBy::Ci | AttachedBy::NotAuthor => None,
    };
    if let Some(message) = refused_provenance {
        return outcome("evals", false, message, detail);
    }
    let why = match gate.attached_by {
        AttachedBy::Anyone => why,
        _ => format!("{why}; attached by {}", run.provenance()),
    };
    let (passed, message) = match actual {
        _ if run.errors > 0 => (
            false,
            format!(
                "eval run #{} had {} error{} (cases that could not be judged); fix them and run `promptops eval --publish` again",
                run.run,
                run.errors,
                plural(run.errors)
            ),
        ),
        None => (
            false,
            format!(
                "eval run #{} has no results; run `promptops eval --publish` with at least one case",
                run.run
            ),
        ),
        // NaN on either side fails.
        Some(rate) if rate + EPSILON >= required => (
            true,
            format!(
                "eval run #{} pass rate {} ({counts}) meets the required {}{why}",
                run.run,
                num(rate, 4),
                num(required, 4)
            ),
        ),
        Some(rate) => (
            false,
            format!(
                "eval run #{} pass rate {} ({counts}) is below the required {}{why}",
                run.run,
                num(rate, 4),
                num(required, 4)
            ),
        ),
    };
    outcome("evals", passed, message, detail)
}

#[derive(Clone, Copy)]
enum Measure {
    Cost,
    Latency,
}

impl Measure {
    fn gate(self) -> &'static str {
        match self {
            Measure::Cost => "max_cost_per_call_usd",
            Measure::Latency => "max_latency_p95_ms",
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Measure::Cost => COST_METRIC,
            Measure::Latency => LATENCY_METRIC,
        }
    }

    fn figure(self, run: &EvalFacts) -> Option<f64> {
        match self {
            Measure::Cost => run.cost_per_call_usd,
            Measure::Latency => run.p95_latency_ms,
        }
    }

    fn show(self, x: f64) -> String {
        match self {
            Measure::Cost => format!("{} USD", num(x, 6)),
            Measure::Latency => format!("{} ms", num(x, 1)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Measure::Cost => "cost per call",
            Measure::Latency => "p95 latency",
        }
    }

    fn unknown(self) -> &'static str {
        match self {
            Measure::Cost => "no calls were made, or the model has no price",
            Measure::Latency => "no calls were made",
        }
    }
}

fn budget_gate(measure: Measure, budget: Budget, facts: &Facts) -> GateOutcome {
    let gate = measure.gate();
    let figure = facts.latest_eval.and_then(|run| measure.figure(run));
    let source = match budget {
        Budget::Prompt => "prompt",
        Budget::Fixed(_) => "fixed",
    };
    let Some(limit) = budget.resolve(facts.prompt, measure.metric()) else {
        return outcome(
            gate,
            true,
            format!(
                "prompt sets no budget: metrics.{} is not set, so the {} is not limited",
                measure.metric(),
                measure.name()
            ),
            json!({"required": null, "actual": figure, "budget": source}),
        );
    };
    let detail = json!({"required": limit, "actual": figure, "budget": source});
    let of_budget = match budget {
        Budget::Prompt => format!(
            "the budget of {} (the prompt's metrics.{})",
            measure.show(limit),
            measure.metric()
        ),
        Budget::Fixed(_) => format!("the budget of {}", measure.show(limit)),
    };
    let (passed, message) = match (facts.latest_eval, figure) {
        (None, _) => (
            false,
            format!(
                "no eval run is attached to {}, so its {} is unknown; run `promptops eval --publish`",
                subject(facts),
                measure.name()
            ),
        ),
        (Some(run), None) => (
            false,
            format!(
                "eval run #{} measured no {} ({}), so {of_budget} cannot be checked",
                run.run,
                measure.name(),
                measure.unknown()
            ),
        ),
        // NaN on either side fails.
        (Some(_), Some(x)) if x <= limit => (
            true,
            format!(
                "{} {} is within {of_budget}",
                measure.name(),
                measure.show(x)
            ),
        ),
        (Some(_), Some(x)) => (
            false,
            format!("{} {} is over {of_budget}", measure.name(), measure.show(x)),
        ),
    };
    outcome(gate, passed, message, detail)
}

fn compliance(gate: &ComplianceGate, facts: &Facts) -> GateOutcome {
    let section = facts.prompt.get("compliance");
    let declared = section.and_then(|c| c.get("risk_tier"));
    let tier = match declared {
        None | Some(Json::Null) => {
            return outcome(
                "compliance",
                false,
                "the prompt declares no compliance.risk_tier; set it to low, medium or high"
                    .to_owned(),
                json!({"risk_tier": null, "required": null, "actual": null, "missing": ["risk_tier"]}),
            );
        }
        Some(value) => match value.as_str().and_then(RiskTier::parse) {
            Some(tier) => tier,
            None => {
                return outcome(
                    "compliance",
                    false,
                    format!("compliance.risk_tier is {value}, not low, medium or high"),
                    json!({"risk_tier": value, "required": null, "actual": null, "missing": ["risk_tier"]}),
                );
            }
        },
    };
    let required: &[String] = match gate {
        ComplianceGate::Defaults => facts.compliance_defaults.get(&tier),
        ComplianceGate::Tiers(tiers) => tiers.get(&tier),
    }
    .map_or(&[], Vec::as_slice);
    let (present, missing): (Vec<&String>, Vec<&String>) = required
        .iter()
        .partition(|field| section.is_some_and(|c| filled(c.get(field.as_str()))));
    let detail = json!({
        "risk_tier": tier.as_str(),
        "required": required,
        "actual": present,
        "missing": missing,
    });
    let tier = tier.as_str();
    let (passed, message) = if required.is_empty() {
        (
            true,
            format!("risk tier {tier} requires no compliance fields"),
        )
    } else if missing.is_empty() {
        (
            true,
            format!(
                "risk tier {tier}: every required compliance field is filled ({})",
                join(required.iter())
            ),
        )
    } else {
        (
            false,
            format!(
                "risk tier {tier} needs compliance fields that are missing or empty: {}",
                join(missing.iter().copied())
            ),
        )
    };
    outcome("compliance", passed, message, detail)
}

/// Whether a compliance field counts as filled (null, "", [] and {} do not).
fn filled(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::String(s)) => !s.trim().is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(Json::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

fn require(requirement: &Requirement, facts: &Facts) -> GateOutcome {
    let expr = &requirement.expr;
    let read = expr::variables(expr);
    let reads = |root: &str| {
        read.iter()
            .any(|p| p == root || p.strip_prefix(root).is_some_and(|r| r.starts_with('.')))
    };
    // A requirement on what was never recorded fails, whatever the expression would
    // make of an undefined value (`undefined <= 0.02` holds).
    for (root, missing, command) in ASSESSMENTS {
        if reads(root) && facts.assessments.get(root).is_none() {
            let id = facts
                .prompt
                .get("id")
                .and_then(Json::as_str)
                .unwrap_or("ID");
            return outcome(
                "require",
                false,
                format!(
                    "{missing} {}; run `{}` (required by `{expr}`)",
                    subject(facts),
                    command.replace("{id}", id)
                ),
                json!({"expr": expr, "required": true, "actual": null, "missing": root}),
            );
        }
    }
    // So does one on a red-team figure the run did not measure (no case judged, a risk
    // not tested) or that does not exist (a misspelt name): fail closed.
    if let Some(redteam) = facts.assessments.get("redteam") {
        for path in read.iter().filter_map(|p| p.strip_prefix("redteam.")) {
            let value = path.split('.').try_fold(redteam, |at, key| at.get(key));
            let problem = match value {
                Some(Json::Null) => format!(
                    "red-team run #{} measured no `redteam.{path}`{}",
                    redteam["run"],
                    unmeasured_reason(redteam, path)
                ),
                None => format!(
                    "`redteam.{path}` is not a figure of a red-team run (see docs/policy.md); fix the policy's expression"
                ),
                Some(_) => continue,
            };
            return outcome(
                "require",
                false,
                format!("{problem}; `{expr}` cannot be judged"),
                json!({"expr": expr, "required": true, "actual": null, "unmeasured": format!("redteam.{path}")}),
            );
        }
    }
    let context = with_assessments(facts);
    match expr::eval(expr, &context) {
        Ok(true) => outcome(
            "require",
            true,
            format!("`{expr}` holds"),
            json!({"expr": expr, "required": true, "actual": true}),
        ),
        Ok(false) => outcome(
            "require",
            false,
            requirement.message.clone(),
            json!({"expr": expr, "required": true, "actual": false}),
        ),
        Err(error) => outcome(
            "require",
            false,
            format!("`{expr}` could not be evaluated: {error}; fix the policy's expression"),
            json!({"expr": expr, "required": true, "actual": null, "error": error}),
        ),
    }
}

/// Why a red-team figure is null: the risk was not applicable, or no case was judged.
fn unmeasured_reason(redteam: &Json, path: &str) -> String {
    let risk = path
        .strip_prefix("risks.")
        .and_then(|r| r.split('.').next())
        .and_then(|id| redteam.pointer(&format!("/risks/{id}")));
    match risk
        .and_then(|r| r.get("not_applicable"))
        .and_then(Json::as_str)
    {
        Some(why) => format!(" (the risk was not tested: {why})"),
        None => " (no case of it was judged: none ran, or every one errored)".to_owned(),
    }
}

/// The prompt's content with the recorded assessments beside it: the expression
/// context of `require`. Content has no top-level `redteam` or `compatibility` field
/// (an unknown top-level key in a file would be warned about); should one be there, the
/// registry's record wins, so a file cannot vouch for itself.
fn with_assessments(facts: &Facts) -> Json {
    let mut context = match facts.prompt {
        Json::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    for (root, _, _) in ASSESSMENTS {
        context.remove(root);
        if let Some(value) = facts.assessments.get(root) {
            context.insert(root.to_owned(), value.clone());
        }
    }
    Json::Object(context)
}

/// Approvals that may count at all: not by the version's author or the requester.
fn eligible<'f>(facts: &'f Facts) -> impl Iterator<Item = &'f ApprovalFacts> {
    facts
        .approvals
        .iter()
        .filter(|a| a.user != facts.author && a.user != facts.requester)
}

/// One approvals requirement; also returns the users who counted.
fn approvals<'f>(req: &ApprovalRequirement, facts: &'f Facts) -> (GateOutcome, Vec<&'f str>) {
    let mut counted: Vec<&str> = Vec::new();
    let mut not_counted: Vec<(&str, String)> = Vec::new();
    for a in facts.approvals {
        let user = a.user.as_str();
        if counted.contains(&user) {
            continue;
        }
        let reason = if user == facts.author {
            Some("author of the version".to_owned())
        } else if user == facts.requester {
            Some("requester".to_owned())
        } else if !req.roles.contains(&a.role) {
            Some(format!("role {}", a.role))
        } else if !req.teams.is_empty()
            && !a
                .teams
                .iter()
                .any(|t| req.teams.iter().any(|want| same_item(t, want)))
        {
            Some(format!("not in {}", req.teams.join(" or ")))
        } else {
            None
        };
        match reason {
            None => {
                not_counted.retain(|(u, _)| *u != user);
                counted.push(user);
            }
            Some(reason) => {
                if !not_counted.iter().any(|(u, _)| *u == user) {
                    not_counted.push((user, reason));
                }
            }
        }
    }
    let have = counted.len();
    let roles: Vec<&str> = req.roles.iter().map(|r| r.as_str()).collect();
    let mut who = format!(
        "{} approval{} from {}",
        req.count,
        plural(u64::from(req.count)),
        roles.join("/")
    );
    if !req.teams.is_empty() {
        who.push_str(&format!(" in {}", req.teams.join(" or ")));
    }
    let names = if counted.is_empty() {
        String::new()
    } else {
        format!(" ({})", counted.join(", "))
    };
    let passed = have >= req.count as usize;
    let mut message = format!("needs {who}, has {have}{names}");
    if !not_counted.is_empty() {
        let list: Vec<String> = not_counted
            .iter()
            .map(|(u, why)| format!("{u} ({why})"))
            .collect();
        message.push_str(&format!("; not counted: {}", list.join(", ")));
        if not_counted
            .iter()
            .any(|(u, _)| *u == facts.author || *u == facts.requester)
        {
            message.push_str(
                "; the version's author and the requester cannot approve their own change",
            );
        }
    }
    let detail = json!({
        "required": req.count,
        "have": have,
        "actual": have,
        "approvers": counted,
        "roles": roles,
        "teams": req.teams,
        "not_counted": not_counted
            .iter()
            .map(|(u, why)| json!({"user": u, "reason": why}))
            .collect::<Vec<_>>(),
    });
    (outcome("approvals", passed, message, detail), counted)
}

fn checklist(items: &[String], counted: &[&str], facts: &Facts) -> GateOutcome {
    let mut ticked = serde_json::Map::new();
    let mut missing = serde_json::Map::new();
    let mut problems = Vec::new();
    for user in counted {
        // An approver who approved twice: the items ticked on any approval count.
        let marks: Vec<&String> = facts
            .approvals
            .iter()
            .filter(|a| a.user == *user)
            .flat_map(|a| a.checklist.iter())
            .collect();
        let (done, undone): (Vec<&String>, Vec<&String>) = items
            .iter()
            .partition(|item| marks.iter().any(|m| same_item(m, item)));
        ticked.insert((*user).to_owned(), json!(done));
        if !undone.is_empty() {
            problems.push(format!(
                "{user} did not tick {}",
                undone
                    .iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            missing.insert((*user).to_owned(), json!(undone));
        }
    }
    let detail = json!({"required": items, "actual": ticked, "missing": missing});
    let list = join(items.iter());
    let (passed, message) = if counted.is_empty() {
        (
            false,
            format!("no counted approval yet to tick the checklist ({list})"),
        )
    } else if problems.is_empty() {
        (
            true,
            format!("every counted approval ticks every checklist item ({list})"),
        )
    } else {
        (
            false,
            format!("checklist incomplete: {}", problems.join("; ")),
        )
    };
    outcome("checklist", passed, message, detail)
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A number with at most `decimals` decimals, trailing zeros dropped (`0.95`, `1`).
fn num(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(num(0.95, 4), "0.95");
        assert_eq!(num(1.0, 4), "1");
        assert_eq!(num(2.0 / 3.0, 4), "0.6667");
        assert_eq!(num(0.000_25, 6), "0.00025");
        assert_eq!(num(3000.0, 1), "3000");
    }
}
