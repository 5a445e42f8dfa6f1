//! Gate policies: every finding `policy::parse` can report (code, line, column), the merge
//! of conditional rules, and every gate `policy::evaluate` judges, passing and failing.

use promptops_core::config::ComplianceConfig;
use promptops_core::policy::{
    self, ApprovalFacts, Budget, Completion, ComplianceGate, EvalFacts, Facts, GateOutcome, Policy,
    PolicyError, Role, Threshold,
};
use promptops_core::prompt::RiskTier;
use proptest::prelude::*;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

const PATH: &str = "policies/prod.yaml";

/// The example of `docs/policy.md`.
const EXAMPLE: &str = r#"environment: prod
description: Production needs evals, a review and staging first.
promote_from: staging
evals:
  min_pass_rate: baseline
max_cost_per_call_usd: 0.01
max_latency_p95_ms: 3000
approvals:
  - count: 1
    roles: [approver, admin]
checklist: [reviewed diff, eval results acceptable]
compliance: true
require:
  - expr: 'not deprecated'
    message: deprecated prompts cannot be promoted
completion: auto
rules:
  - when: 'compliance.risk_tier == "high"'
    approvals:
      - count: 2
      - count: 1
        teams: [security]
    checklist: [compliance fields reviewed]
"#;

// ---------------------------------------------------------------------------------------
// Parsing

/// Asserts the exact findings (code, line, column) of parsing `src`.
#[track_caller]
fn check(src: &str, expected: &[(&str, u32, u32)]) {
    let diagnostics = match policy::parse(PATH, src) {
        Ok((_, warnings)) => warnings,
        Err(all) => {
            assert!(all.iter().any(|d| d.is_error()), "Err without an error");
            all
        }
    };
    let got: Vec<(&str, u32, u32)> = diagnostics
        .iter()
        .map(|d| (d.code.id(), d.line, d.column))
        .collect();
    assert_eq!(
        got, expected,
        "\n--- source ---\n{src}\n--- findings ---\n{diagnostics:#?}"
    );
    assert!(diagnostics.iter().all(|d| d.path == PATH));
}

/// The one finding of `src`, as `code: message | hint`.
#[track_caller]
fn message(src: &str) -> String {
    let all = match policy::parse(PATH, src) {
        Ok((_, w)) => w,
        Err(all) => all,
    };
    assert_eq!(all.len(), 1, "{all:#?}");
    format!(
        "{}: {} | {}",
        all[0].code,
        all[0].message,
        all[0].hint.clone().unwrap_or_default()
    )
}

#[track_caller]
fn parsed(src: &str) -> Policy {
    match policy::parse(PATH, src) {
        Ok((p, warnings)) => {
            assert!(warnings.is_empty(), "{warnings:#?}");
            p
        }
        Err(all) => panic!("{all:#?}"),
    }
}

#[test]
fn the_example_parses_without_findings() {
    let p = parsed(EXAMPLE);
    assert_eq!(p.environment.as_deref(), Some("prod"));
    assert_eq!(p.base.promote_from.as_deref(), Some("staging"));
    assert_eq!(
        p.base.evals.as_ref().map(|e| e.min_pass_rate),
        Some(Threshold::Baseline)
    );
    assert_eq!(p.base.max_cost_per_call_usd, Some(Budget::Fixed(0.01)));
    assert_eq!(p.base.max_latency_p95_ms, Some(Budget::Fixed(3000.0)));
    assert_eq!(p.base.approvals.len(), 1);
    assert_eq!(p.base.checklist.len(), 2);
    assert_eq!(p.base.compliance, Some(ComplianceGate::Defaults));
    assert_eq!(p.base.require[0].expr, "not deprecated");
    assert_eq!(p.completion, Completion::Auto);
    assert_eq!(p.rules.len(), 1);
    assert_eq!(p.rules[0].gates.approvals[1].teams, ["security"]);
    assert_eq!(
        p.rules[0].gates.approvals[1].roles,
        [Role::Approver, Role::Admin]
    );
}

#[test]
fn empty_policies_have_no_gates() {
    for src in [
        "{}",
        "{}\n",
        "# nothing\n{}\n",
        "approvals:\nchecklist: ~\n",
    ] {
        let p = parsed(src);
        assert!(p.base.is_empty(), "{src}");
        assert!(p.rules.is_empty());
        assert!(!p.base.needs_approval());
    }
    assert_eq!(
        parsed("completion: requester\n").completion,
        Completion::Requester
    );
}

#[test]
fn e002_empty_file() {
    check("", &[("E002", 1, 1)]);
    check("# only a comment\n", &[("E002", 1, 1)]);
}

#[test]
fn e004_yaml_syntax() {
    check(
        "approvals: [{count: 1}\nchecklist: [a]\n",
        &[("E004", 2, 10)],
    );
}

#[test]
fn e005_duplicate_key() {
    check("checklist: [a]\nchecklist: [b]\n", &[("E005", 2, 1)]);
    check(
        "approvals:\n  - count: 1\n    count: 2\n",
        &[("E005", 3, 5)],
    );
}

#[test]
fn e006_not_a_mapping() {
    check("- approvals\n", &[("E006", 1, 1)]);
    check("~\n", &[("E006", 1, 1)]);
    check("prod\n", &[("E006", 1, 1)]);
}

#[test]
fn e007_missing_fields() {
    check("rules:\n  - approvals: [{count: 1}]\n", &[("E007", 2, 5)]);
    check("require:\n  - message: no\n", &[("E007", 2, 5)]);
}

#[test]
fn e008_wrong_types() {
    check("environment: 3\n", &[("E008", 1, 14)]);
    check("description: [a]\n", &[("E008", 1, 14)]);
    check("promote_from: {a: b}\n", &[("E008", 1, 15)]);
    check("evals: 0.9\n", &[("E008", 1, 8)]);
    check("evals:\n  min_pass_rate: [1]\n", &[("E008", 2, 18)]);
    check("max_cost_per_call_usd: true\n", &[("E008", 1, 24)]);
    check("max_latency_p95_ms: [1]\n", &[("E008", 1, 21)]);
    check("approvals: 2\n", &[("E008", 1, 12)]);
    check("approvals: [2]\n", &[("E008", 1, 13)]);
    check("approvals:\n  - count: 1.5\n", &[("E008", 2, 12)]);
    check("approvals:\n  - roles: admin\n", &[("E008", 2, 12)]);
    check("approvals:\n  - teams: [[a]]\n", &[("E008", 2, 13)]);
    check("checklist: reviewed\n", &[("E008", 1, 12)]);
    check("checklist: [a, {b: c}]\n", &[("E008", 1, 16)]);
    check("compliance: yes\n", &[("E008", 1, 13)]);
    check("compliance:\n  high: intended_use\n", &[("E008", 2, 9)]);
    check("require: 'not deprecated'\n", &[("E008", 1, 10)]);
    check("require:\n  - 3\n", &[("E008", 2, 5)]);
    check("require:\n  - expr: [a]\n", &[("E008", 2, 11)]);
    check(
        "require:\n  - expr: a\n    message: 4\n",
        &[("E008", 3, 14)],
    );
    check("completion: 1\n", &[("E008", 1, 13)]);
    check("rules: {when: x}\n", &[("E008", 1, 8)]);
    check("rules:\n  - x\n", &[("E008", 2, 5)]);
    check("rules:\n  - when: true\n", &[("E008", 2, 11)]);
    check("rules:\n  - when:\n", &[("E008", 2, 9)]);
    assert_eq!(
        message("rules:\n  - when: true\n"),
        "E008: `rules[0].when` must be an expression (a string), found a boolean | quote it: `'true'`"
    );
    assert_eq!(
        message("approvals:\n  - count: 1.5\n"),
        "E008: `approvals[0].count` must be a whole number, found a number | e.g. `count: 2`"
    );
}

#[test]
fn e019_invalid_values() {
    check("environment: ''\n", &[("E019", 1, 14)]);
    check("promote_from: ' '\n", &[("E019", 1, 15)]);
    check(
        "environment: prod\npromote_from: prod\n",
        &[("E019", 2, 15)],
    );
    check("evals: {min_pass_rate: 1.5}\n", &[("E019", 1, 24)]);
    check("evals: {min_pass_rate: -0.1}\n", &[("E019", 1, 24)]);
    check("evals: {min_pass_rate: basline}\n", &[("E019", 1, 24)]);
    check("max_cost_per_call_usd: -0.01\n", &[("E019", 1, 24)]);
    check("max_cost_per_call_usd: .inf\n", &[("E019", 1, 24)]);
    check("max_latency_p95_ms: promt\n", &[("E019", 1, 21)]);
    check("approvals:\n  - count: 0\n", &[("E019", 2, 12)]);
    check("approvals:\n  - count: 21\n", &[("E019", 2, 12)]);
    check("approvals:\n  - count: -1\n", &[("E019", 2, 12)]);
    check(
        "approvals:\n  - roles: [approver, owner]\n",
        &[("E019", 2, 23)],
    );
    check("approvals:\n  - roles: [viewer]\n", &[("E019", 2, 13)]);
    check("approvals:\n  - roles: [editor]\n", &[("E019", 2, 13)]);
    check("approvals:\n  - roles: []\n", &[("E019", 2, 12)]);
    check(
        "approvals:\n  - teams: [security, '']\n",
        &[("E019", 2, 23)],
    );
    check("checklist: [ok, '  ']\n", &[("E019", 1, 17)]);
    check(
        "compliance:\n  extreme: [intended_use]\n",
        &[("E019", 2, 3)],
    );
    check(
        "compliance:\n  high: [intended_use, ownr]\n",
        &[("E019", 2, 24)],
    );
    check("completion: manual\n", &[("E019", 1, 13)]);
    check("rules:\n  - when: 'a =='\n", &[("E019", 2, 11)]);
    check("rules:\n  - when: ''\n", &[("E019", 2, 11)]);
    check("require:\n  - 'not'\n", &[("E019", 2, 5)]);
    check("require:\n  - expr: 'a b'\n", &[("E019", 2, 11)]);
    check(
        "rules:\n  - when: x\n    completion: requester\n    environment: prod\n    rules: []\n",
        &[("E019", 3, 5), ("E019", 4, 5), ("E019", 5, 5)],
    );
    let long = format!("rules:\n  - when: '{}'\n", "a".repeat(1001));
    check(&long, &[("E019", 2, 11)]);
    assert_eq!(
        message("evals: {min_pass_rate: 95}\n"),
        "E019: `evals.min_pass_rate` is 95, outside 0..=1 | a pass rate is a fraction: write `0.95` for 95%"
    );
    assert_eq!(
        message("approvals:\n  - roles: [editor]\n"),
        "E019: the role `editor` cannot approve, so it cannot count toward `approvals[0].roles` | use approver or admin"
    );
    assert_eq!(
        message("approvals:\n  - roles: [approvr]\n"),
        "E019: `approvr` is not a role that can approve (approver, admin) | did you mean `approver`?"
    );
    assert_eq!(
        message("compliance:\n  hihg: []\n"),
        "E019: `hihg` is not a risk tier (low, medium, high) | did you mean `high`?"
    );
    assert_eq!(
        message("rules:\n  - when: x\n    completion: auto\n"),
        "E019: `completion` applies to the whole policy and cannot be set inside a rule | move `completion` to the top level of the file"
    );
    let bad = message("rules:\n  - when: 'a =='\n");
    assert!(
        bad.starts_with("E019: `rules[0].when` is not a valid expression: syntax error"),
        "{bad}"
    );
}

#[test]
fn w101_unknown_keys_with_a_hint() {
    check("aprovals: [{count: 1}]\n", &[("W101", 1, 1)]);
    check("evals:\n  min_passrate: 0.9\n", &[("W101", 2, 3)]);
    check(
        "approvals:\n  - count: 1\n    team: [a]\n",
        &[("W101", 3, 5)],
    );
    check("require:\n  - expr: x\n    msg: y\n", &[("W101", 3, 5)]);
    check(
        "rules:\n  - when: x\n    checklst: [a]\n",
        &[("W101", 3, 5)],
    );
    assert_eq!(
        message("aprovals: [{count: 1}]\n"),
        "W101: unknown policy key `aprovals` | did you mean `approvals`?"
    );
    assert_eq!(
        message("rules:\n  - when: x\n    checklst: [a]\n"),
        "W101: unknown rule key `checklst` | did you mean `checklist`?"
    );
    // Warnings alone leave the policy usable.
    let (p, warnings) = policy::parse(PATH, "approvals: [{count: 1}]\nnotes: hi\n").unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(p.base.needs_approval());
}

#[test]
fn the_documented_findings() {
    let src = "aprovals: [{count: 1}]\napprovals:\n  - count: 0\n";
    let all = policy::parse(PATH, src).unwrap_err();
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown.join("\n"),
        "policies/prod.yaml:1:1: warning[W101]: unknown policy key `aprovals`\n  = help: did you mean `approvals`?\n\
         policies/prod.yaml:3:12: error[E019]: `approvals[0].count` is 0, outside 1..=20\n  = help: remove the requirement to need no approval"
    );
}

#[test]
fn every_finding_is_reported_at_once() {
    check(
        "evals: {min_pass_rate: 2}\napprovals:\n  - count: 0\n    roles: [viewer]\nextra: 1\n",
        &[
            ("E019", 1, 24),
            ("E019", 3, 12),
            ("E019", 4, 13),
            ("W101", 5, 1),
        ],
    );
}

#[test]
fn shorthands_and_defaults() {
    let p = parsed(
        "evals: true\ncompliance: {high: [human_oversight, human_oversight], low: ~}\n\
         require: ['not deprecated']\napprovals: [{}]\nmax_cost_per_call_usd: prompt\n",
    );
    assert_eq!(
        p.base.evals.map(|e| e.min_pass_rate),
        Some(Threshold::Baseline)
    );
    assert_eq!(p.base.approvals[0].count, 1);
    assert_eq!(p.base.approvals[0].roles, [Role::Approver, Role::Admin]);
    assert_eq!(p.base.require[0].message, "`not deprecated` does not hold");
    assert_eq!(p.base.max_cost_per_call_usd, Some(Budget::Prompt));
    assert_eq!(
        p.base.compliance,
        Some(ComplianceGate::Tiers(BTreeMap::from([
            (RiskTier::Low, vec![]),
            (RiskTier::High, vec!["human_oversight".to_owned()]),
        ])))
    );
    assert!(parsed("evals: false\ncompliance: false\n").base.is_empty());
}

/// YAML-ish policy fragments that exercise the parser's corners.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("environment"),
        Just("promote_from"),
        Just("evals"),
        Just("min_pass_rate"),
        Just("max_cost_per_call_usd"),
        Just("max_latency_p95_ms"),
        Just("approvals"),
        Just("count"),
        Just("roles"),
        Just("teams"),
        Just("checklist"),
        Just("compliance"),
        Just("high"),
        Just("require"),
        Just("expr"),
        Just("message"),
        Just("completion"),
        Just("rules"),
        Just("when"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just("-3".to_owned()),
        Just("0.95".to_owned()),
        Just("1e400".to_owned()),
        Just(".nan".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("~".to_owned()),
        Just("true".to_owned()),
        Just("baseline".to_owned()),
        Just("prompt".to_owned()),
        Just("[approver, viewer, x]".to_owned()),
        Just("[{count: 2, teams: [s]}]".to_owned()),
        Just("[{when: 'a.b == 1', approvals: [{}]}]".to_owned()),
        Just("'{{ x }}'".to_owned()),
        Just("'not not - - x'".to_owned()),
        Just("'(((('".to_owned()),
        Just("{high: [intended_use], low: x}".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("\"é\\u0000\"".to_owned()),
        "[a-z :{}\\[\\],'\"-]{0,12}".prop_map(|s| s),
    ];
    let line = (0usize..3, key, value)
        .prop_map(|(indent, k, v)| format!("{}{k}: {v}", "  ".repeat(indent)));
    let item =
        (0usize..3, value_item()).prop_map(|(indent, v)| format!("{}- {v}", "  ".repeat(indent)));
    proptest::collection::vec(prop_oneof![line, item], 0..12).prop_map(|lines| lines.join("\n"))
}

fn value_item() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("count: 1".to_owned()),
        Just("when: x".to_owned()),
        Just("expr: 'not deprecated'".to_owned()),
        Just("x".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_text(src in "\\PC{0,200}") {
        let _ = policy::parse(PATH, &src);
    }

    #[test]
    fn parse_never_panics_on_yamlish_mappings(src in yamlish()) {
        match policy::parse(PATH, &src) {
            Ok((p, warnings)) => {
                prop_assert!(warnings.iter().all(|d| !d.is_error()));
                // Whatever parses can be applied and judged without panicking.
                let w = World::new();
                if let Ok(gates) = p.effective(&w.prompt) {
                    let _ = policy::evaluate(&gates, &w.facts());
                }
                let _ = p.to_json();
            }
            Err(all) => prop_assert!(all.iter().any(|d| d.is_error())),
        }
    }

    #[test]
    fn expressions_never_panic(expr in "[a-z0-9 .()\\[\\]|'\"=<>!+*/%~-]{0,40}") {
        let src = format!("rules:\n  - when: {}\nrequire: [{}]\n", json!(expr), json!(expr));
        if let Ok((p, _)) = policy::parse(PATH, &src) {
            let w = World::new();
            if let Ok(gates) = p.effective(&w.prompt) {
                let _ = policy::evaluate(&gates, &w.facts());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rules and evaluation

/// The facts of one promotion request, owned; [`World::facts`] borrows them.
struct World {
    prompt: Json,
    version: String,
    author: String,
    requester: String,
    labels: BTreeMap<String, String>,
    eval: Option<EvalFacts>,
    approvals: Vec<ApprovalFacts>,
    defaults: BTreeMap<RiskTier, Vec<String>>,
}

impl World {
    /// support.reply@2.0.0 by alice, requested by rita, no labels, no run, no approvals.
    fn new() -> World {
        World {
            prompt: json!({
                "id": "support.reply",
                "version": "2.0.0",
                "owner": "support",
                "model": {"provider": "openai", "name": "gpt-4o-mini"},
                "template": "Hi {{ name }}",
            }),
            version: "2.0.0".into(),
            author: "alice".into(),
            requester: "rita".into(),
            labels: BTreeMap::new(),
            eval: None,
            approvals: Vec::new(),
            defaults: ComplianceConfig::default().required_fields,
        }
    }

    fn facts(&self) -> Facts<'_> {
        Facts {
            prompt: &self.prompt,
            version: &self.version,
            author: &self.author,
            requester: &self.requester,
            labels: &self.labels,
            latest_eval: self.eval.as_ref(),
            approvals: &self.approvals,
            compliance_defaults: &self.defaults,
        }
    }

    fn run(mut self, passed: u64, failed: u64, errors: u64) -> World {
        self.eval = Some(EvalFacts {
            run: 7,
            passed,
            failed,
            errors,
            ..EvalFacts::default()
        });
        self
    }

    fn approve(mut self, user: &str, role: Role, teams: &[&str], checklist: &[&str]) -> World {
        self.approvals.push(ApprovalFacts {
            user: user.into(),
            role,
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
            checklist: checklist.iter().map(|c| (*c).to_owned()).collect(),
        });
        self
    }

    fn with(mut self, pointer: &str, value: Json) -> World {
        let mut at = &mut self.prompt;
        for part in pointer.split('.') {
            at = &mut at[part];
        }
        *at = value;
        self
    }

    /// Every outcome of `policy_src` for this world.
    fn outcomes(&self, policy_src: &str) -> Vec<GateOutcome> {
        let gates = parsed(policy_src)
            .effective(&self.prompt)
            .unwrap_or_else(|e| panic!("{e}"));
        policy::evaluate(&gates, &self.facts())
    }

    /// The one outcome of `gate` under `policy_src`.
    #[track_caller]
    fn gate(&self, policy_src: &str, gate: &str) -> GateOutcome {
        let mut all: Vec<GateOutcome> = self
            .outcomes(policy_src)
            .into_iter()
            .filter(|o| o.gate == gate)
            .collect();
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }
}

/// Asserts a gate's verdict and message.
#[track_caller]
fn expect(o: &GateOutcome, passed: bool, message: &str) {
    assert_eq!((o.passed, o.message.as_str()), (passed, message), "{o:#?}");
}

#[test]
fn outcomes_come_in_a_stable_order() {
    let w = World::new();
    let outcomes = w.outcomes(EXAMPLE);
    let gates: Vec<&str> = outcomes.iter().map(|o| o.gate.as_str()).collect();
    assert_eq!(
        gates,
        [
            "promote_from",
            "evals",
            "max_cost_per_call_usd",
            "max_latency_p95_ms",
            "compliance",
            "require",
            "approvals",
            "checklist"
        ]
    );
    assert!(w.outcomes("{}").is_empty());
    let json = serde_json::to_value(&w.outcomes(EXAMPLE)[0]).unwrap();
    assert_eq!(json["gate"], "promote_from");
    assert_eq!(json["passed"], false);
}

#[test]
fn promote_from_gate() {
    let src = "promote_from: staging\n";
    let mut w = World::new();
    let o = w.gate(src, "promote_from");
    expect(
        &o,
        false,
        "only what staging serves can be promoted here: staging serves nothing yet; promote 2.0.0 to staging first",
    );
    assert_eq!(
        o.detail,
        json!({"environment": "staging", "required": "2.0.0", "actual": null})
    );
    w.labels.insert("staging".into(), "1.0.0".into());
    expect(
        &w.gate(src, "promote_from"),
        false,
        "only what staging serves can be promoted here: staging serves 1.0.0, not 2.0.0; promote 2.0.0 to staging first",
    );
    w.labels.insert("staging".into(), "2.0.0".into());
    expect(
        &w.gate(src, "promote_from"),
        true,
        "staging serves 2.0.0, the version being promoted",
    );
}

#[test]
fn evals_gate() {
    let fixed = "evals: {min_pass_rate: 0.95}\n";
    expect(
        &World::new().gate(fixed, "evals"),
        false,
        "no eval run is attached to support.reply@2.0.0; run `promptops eval --publish`",
    );
    let o = World::new().run(19, 1, 0).gate(fixed, "evals");
    expect(
        &o,
        true,
        "eval run #7 pass rate 0.95 (19/20 passed) meets the required 0.95",
    );
    assert_eq!(o.detail["required"], 0.95);
    assert_eq!(o.detail["actual"], 0.95);
    expect(
        &World::new().run(18, 2, 0).gate(fixed, "evals"),
        false,
        "eval run #7 pass rate 0.9 (18/20 passed) is below the required 0.95",
    );
    expect(
        &World::new().run(20, 0, 1).gate(fixed, "evals"),
        false,
        "eval run #7 had 1 error (cases that could not be judged); fix them and run `promptops eval --publish` again",
    );
    expect(
        &World::new().run(0, 0, 0).gate(fixed, "evals"),
        false,
        "eval run #7 has no results; run `promptops eval --publish` with at least one case",
    );
    // The pass rate is the counts' and nothing else's: 0 of 100 never passes.
    expect(
        &World::new().run(0, 100, 0).gate(fixed, "evals"),
        false,
        "eval run #7 pass rate 0 (0/100 passed) is below the required 0.95",
    );

    let baseline = "evals: {}\n";
    expect(
        &World::new().run(9, 1, 0).gate(baseline, "evals"),
        false,
        "eval run #7 pass rate 0.9 (9/10 passed) is below the required 1 (the prompt sets no metrics.baseline_accuracy, so every case must pass)",
    );
    let w = World::new()
        .run(9, 1, 0)
        .with("metrics", json!({"baseline_accuracy": 0.85}));
    expect(
        &w.gate(baseline, "evals"),
        true,
        "eval run #7 pass rate 0.9 (9/10 passed) meets the required 0.85 (the prompt's metrics.baseline_accuracy)",
    );
    assert_eq!(w.gate(baseline, "evals").detail["threshold"], "baseline");
}

#[test]
fn who_attached_the_run() {
    let ci = "evals: {min_pass_rate: 0.9, attached_by: ci}\n";
    let by = |w: World, user: &str, key: Option<&str>, ci_key: bool| {
        let mut w = w.run(19, 1, 0);
        if let Some(run) = &mut w.eval {
            run.attached_by = user.into();
            run.via_key = key.map(str::to_owned);
            run.ci_key = ci_key;
        }
        w
    };
    expect(
        &by(World::new(), "alice", None, false).gate(ci, "evals"),
        false,
        "eval run #7 was attached by alice (a session, not a CI key); this policy counts only runs attached with a CI key (`promptops key create --ci`); publish the run from CI",
    );
    expect(
        &by(World::new(), "alice", Some("po_abc"), false).gate(ci, "evals"),
        false,
        "eval run #7 was attached by alice (key po_abc, not a CI key); this policy counts only runs attached with a CI key (`promptops key create --ci`); publish the run from CI",
    );
    let passed = by(World::new(), "alice", Some("po_ci1"), true).gate(ci, "evals");
    expect(
        &passed,
        true,
        "eval run #7 pass rate 0.95 (19/20 passed) meets the required 0.9; attached by alice (CI key po_ci1)",
    );
    assert_eq!(passed.detail["required_attached_by"], "ci");
    assert_eq!(passed.detail["via_key"], "po_ci1");

    let other = "evals: {min_pass_rate: 0.9, attached_by: not-author}\n";
    expect(
        &by(World::new(), "alice", Some("po_ci1"), true).gate(other, "evals"),
        false,
        "eval run #7 was attached by alice, the version's author; this policy counts only runs attached by someone else (a CI key or a reviewer)",
    );
    assert!(
        by(World::new(), "rita", None, false)
            .gate(other, "evals")
            .passed
    );
    // A rule can only tighten who may attach.
    let tightened = "evals: {min_pass_rate: 0.9, attached_by: ci}\nrules:\n  - when: 'true'\n    evals: {min_pass_rate: 0.95}\n";
    assert!(
        !by(World::new(), "rita", None, false)
            .gate(tightened, "evals")
            .passed
    );
    // And a typo is a finding with its place.
    let typo = "evals: {attached_by: cii}\n";
    check(typo, &[("E019", 1, 22)]);
    assert!(
        message(typo).contains("did you mean `ci`?"),
        "{}",
        message(typo)
    );
}

#[test]
fn budget_gates() {
    let src = "max_cost_per_call_usd: 0.01\nmax_latency_p95_ms: 3000\n";
    let w = World::new();
    expect(
        &w.gate(src, "max_cost_per_call_usd"),
        false,
        "no eval run is attached to support.reply@2.0.0, so its cost per call is unknown; run `promptops eval --publish`",
    );
    let mut w = World::new().run(10, 0, 0);
    expect(
        &w.gate(src, "max_cost_per_call_usd"),
        false,
        "eval run #7 measured no cost per call (no calls were made, or the model has no price), so the budget of 0.01 USD cannot be checked",
    );
    if let Some(run) = &mut w.eval {
        run.cost_per_call_usd = Some(0.012);
        run.p95_latency_ms = Some(2500.0);
    }
    let cost = w.gate(src, "max_cost_per_call_usd");
    expect(
        &cost,
        false,
        "cost per call 0.012 USD is over the budget of 0.01 USD",
    );
    assert_eq!(
        cost.detail,
        json!({"required": 0.01, "actual": 0.012, "budget": "fixed"})
    );
    expect(
        &w.gate(src, "max_latency_p95_ms"),
        true,
        "p95 latency 2500 ms is within the budget of 3000 ms",
    );
    if let Some(run) = &mut w.eval {
        run.cost_per_call_usd = Some(0.0004);
        run.p95_latency_ms = Some(3000.5);
    }
    assert!(w.gate(src, "max_cost_per_call_usd").passed);
    expect(
        &w.gate(src, "max_latency_p95_ms"),
        false,
        "p95 latency 3000.5 ms is over the budget of 3000 ms",
    );

    // `prompt`: the prompt's own metrics, or a passed "no budget" outcome.
    let src = "max_cost_per_call_usd: prompt\nmax_latency_p95_ms: prompt\n";
    let w = World::new();
    expect(
        &w.gate(src, "max_cost_per_call_usd"),
        true,
        "prompt sets no budget: metrics.max_cost_per_call_usd is not set, so the cost per call is not limited",
    );
    expect(
        &w.gate(src, "max_latency_p95_ms"),
        true,
        "prompt sets no budget: metrics.max_latency_ms is not set, so the p95 latency is not limited",
    );
    let mut w = World::new().run(1, 0, 0).with(
        "metrics",
        json!({"max_cost_per_call_usd": 0.002, "max_latency_ms": 800}),
    );
    if let Some(run) = &mut w.eval {
        run.cost_per_call_usd = Some(0.003);
        run.p95_latency_ms = Some(700.0);
    }
    expect(
        &w.gate(src, "max_cost_per_call_usd"),
        false,
        "cost per call 0.003 USD is over the budget of 0.002 USD (the prompt's metrics.max_cost_per_call_usd)",
    );
    expect(
        &w.gate(src, "max_latency_p95_ms"),
        true,
        "p95 latency 700 ms is within the budget of 800 ms (the prompt's metrics.max_latency_ms)",
    );
}

#[test]
fn compliance_gate() {
    let defaults = "compliance: true\n";
    expect(
        &World::new().gate(defaults, "compliance"),
        false,
        "the prompt declares no compliance.risk_tier; set it to low, medium or high",
    );
    expect(
        &World::new()
            .with("compliance", json!({"risk_tier": "severe"}))
            .gate(defaults, "compliance"),
        false,
        "compliance.risk_tier is \"severe\", not low, medium or high",
    );
    expect(
        &World::new()
            .with("compliance", json!({"risk_tier": "low"}))
            .gate(defaults, "compliance"),
        true,
        "risk tier low requires no compliance fields",
    );
    let high = World::new().with(
        "compliance",
        json!({
            "risk_tier": "high",
            "accountable_owner": "Jo",
            "intended_use": "  ",
            "human_oversight": [],
            "fairness_assessment": null,
        }),
    );
    let o = high.gate(defaults, "compliance");
    expect(
        &o,
        false,
        "risk tier high needs compliance fields that are missing or empty: intended_use, human_oversight, fairness_assessment",
    );
    assert_eq!(
        o.detail["missing"],
        json!(["intended_use", "human_oversight", "fairness_assessment"])
    );
    assert_eq!(o.detail["actual"], json!(["accountable_owner"]));
    // A policy's own tiers replace the defaults.
    let own = "compliance:\n  high: [accountable_owner]\n";
    expect(
        &high.gate(own, "compliance"),
        true,
        "risk tier high: every required compliance field is filled (accountable_owner)",
    );
}

#[test]
fn require_gate() {
    let src = "require:\n  - expr: 'not deprecated'\n    message: deprecated prompts cannot be promoted\n  - 'owner'\n";
    let w = World::new();
    let all = w.outcomes(src);
    expect(&all[0], true, "`not deprecated` holds");
    expect(&all[1], true, "`owner` holds");
    let w = World::new().with("deprecated", json!(true));
    let o = &w.outcomes(src)[0];
    expect(o, false, "deprecated prompts cannot be promoted");
    assert_eq!(
        o.detail,
        json!({"expr": "not deprecated", "required": true, "actual": false})
    );
    // An evaluation error fails the requirement and says so.
    let o = World::new().gate("require: ['tags | nosuchfilter']\n", "require");
    assert!(!o.passed);
    assert!(
        o.message
            .starts_with("`tags | nosuchfilter` could not be evaluated: unknown filter"),
        "{}",
        o.message
    );
    assert!(o.detail["error"].is_string());
}

#[test]
fn approvals_gate() {
    let src = "approvals:\n  - count: 2\n";
    expect(
        &World::new().gate(src, "approvals"),
        false,
        "needs 2 approvals from approver/admin, has 0",
    );
    let w = World::new().approve("bob", Role::Approver, &[], &[]);
    let o = w.gate(src, "approvals");
    expect(
        &o,
        false,
        "needs 2 approvals from approver/admin, has 1 (bob)",
    );
    assert_eq!(o.detail["required"], 2);
    assert_eq!(o.detail["have"], 1);
    assert_eq!(o.detail["approvers"], json!(["bob"]));
    // The same approver twice counts once; an editor's approval does not count.
    let w = w
        .approve("bob", Role::Approver, &[], &[])
        .approve("eve", Role::Editor, &[], &[]);
    expect(
        &w.gate(src, "approvals"),
        false,
        "needs 2 approvals from approver/admin, has 1 (bob); not counted: eve (role editor)",
    );
    let w = w.approve("carol", Role::Admin, &[], &[]);
    expect(
        &w.gate(src, "approvals"),
        true,
        "needs 2 approvals from approver/admin, has 2 (bob, carol); not counted: eve (role editor)",
    );
    // Roles are matched exactly: an admin does not count where only approvers do.
    let only = "approvals:\n  - count: 1\n    roles: [approver]\n";
    expect(
        &World::new()
            .approve("carol", Role::Admin, &[], &[])
            .gate(only, "approvals"),
        false,
        "needs 1 approval from approver, has 0; not counted: carol (role admin)",
    );
    // Teams: one of them, compared case-insensitively.
    let team = "approvals:\n  - count: 1\n    teams: [security, platform]\n";
    let w = World::new().approve("dan", Role::Approver, &["support"], &[]);
    expect(
        &w.gate(team, "approvals"),
        false,
        "needs 1 approval from approver/admin in security or platform, has 0; not counted: dan (not in security or platform)",
    );
    let w = w.approve("sam", Role::Approver, &["Security"], &[]);
    assert!(w.gate(team, "approvals").passed);
}

#[test]
fn separation_of_duties() {
    let src = "approvals:\n  - count: 1\n";
    // alice wrote 2.0.0, rita asks for the promotion: neither may approve it.
    let w = World::new()
        .approve("alice", Role::Admin, &["security"], &[])
        .approve("rita", Role::Approver, &[], &[]);
    let o = w.gate(src, "approvals");
    expect(
        &o,
        false,
        "needs 1 approval from approver/admin, has 0; not counted: alice (author of the version), rita (requester); the version's author and the requester cannot approve their own change",
    );
    assert_eq!(
        o.detail["not_counted"],
        json!([{"user": "alice", "reason": "author of the version"}, {"user": "rita", "reason": "requester"}])
    );
    let w = w.approve("bob", Role::Approver, &[], &[]);
    assert!(w.gate(src, "approvals").passed);
    // Their checklist ticks do not make up for anyone either.
    let check = "checklist: [reviewed diff]\n";
    let w = World::new().approve("alice", Role::Admin, &[], &["reviewed diff"]);
    expect(
        &w.gate(check, "checklist"),
        false,
        "no counted approval yet to tick the checklist (reviewed diff)",
    );
}

#[test]
fn checklist_gate() {
    let src = "approvals: [{count: 2}]\nchecklist: [Reviewed diff, eval results acceptable]\n";
    let w = World::new()
        .approve(
            "bob",
            Role::Approver,
            &[],
            &["reviewed diff ", "EVAL RESULTS ACCEPTABLE"],
        )
        .approve("carol", Role::Admin, &[], &["reviewed diff"])
        // Not counted (an editor), so not asked for the checklist.
        .approve("eve", Role::Editor, &[], &[]);
    let o = w.gate(src, "checklist");
    expect(
        &o,
        false,
        "checklist incomplete: carol did not tick `eval results acceptable`",
    );
    assert_eq!(
        o.detail["missing"],
        json!({"carol": ["eval results acceptable"]})
    );
    assert_eq!(
        o.detail["actual"]["bob"],
        json!(["Reviewed diff", "eval results acceptable"])
    );
    let w = w.approve("carol", Role::Admin, &[], &["eval results acceptable"]);
    expect(
        &w.gate(src, "checklist"),
        true,
        "every counted approval ticks every checklist item (Reviewed diff, eval results acceptable)",
    );
    assert!(
        World::new()
            .outcomes("approvals: [{count: 1}]\n")
            .iter()
            .all(|o| o.gate != "checklist")
    );
    // Without approval requirements, the approvals of approvers and admins other than
    // the author and the requester are asked for the checklist, each approver once.
    let w = World::new()
        .approve("bob", Role::Approver, &[], &["a"])
        .approve("bob", Role::Approver, &[], &[])
        .approve("alice", Role::Admin, &[], &[])
        .approve("eve", Role::Editor, &[], &[])
        .approve("carol", Role::Admin, &[], &[]);
    let o = w.gate("checklist: [a]\n", "checklist");
    expect(&o, false, "checklist incomplete: carol did not tick `a`");
    assert_eq!(o.detail["actual"], json!({"bob": ["a"], "carol": []}));
}

#[test]
fn a_high_risk_rule_adds_the_security_approval() {
    let p = parsed(EXAMPLE);
    let low = World::new().with("compliance", json!({"risk_tier": "low"}));
    let gates = p.effective(&low.prompt).unwrap();
    assert_eq!(gates.approvals.len(), 1);
    assert_eq!(gates.checklist.len(), 2);

    let high = World::new()
        .with("compliance", json!({"risk_tier": "high"}))
        .approve("bob", Role::Approver, &[], &[])
        .approve("carol", Role::Approver, &["support"], &[]);
    let gates = p.effective(&high.prompt).unwrap();
    assert_eq!(gates.approvals.len(), 3);
    assert_eq!(gates.approvals[2].teams, ["security"]);
    assert_eq!(
        gates.checklist.last().map(String::as_str),
        Some("compliance fields reviewed")
    );
    let approvals: Vec<GateOutcome> = policy::evaluate(&gates, &high.facts())
        .into_iter()
        .filter(|o| o.gate == "approvals")
        .collect();
    assert_eq!(
        approvals.iter().map(|o| o.passed).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(
        approvals[2].message,
        "needs 1 approval from approver/admin in security, has 0; not counted: bob (not in security), carol (not in security)"
    );
    // One approver counts toward several requirements.
    let high = high.approve("sec", Role::Admin, &["security"], &[]);
    assert!(
        policy::evaluate(&gates, &high.facts())
            .iter()
            .filter(|o| o.gate == "approvals")
            .all(|o| o.passed)
    );
}

#[test]
fn a_failing_when_is_an_error_naming_the_rule() {
    let p = parsed("rules:\n  - when: 'true'\n  - when: '1 / 0'\n");
    let e = p.effective(&World::new().prompt).unwrap_err();
    assert!(matches!(&e, PolicyError::Expression { rule: 1, expr, .. } if expr == "1 / 0"));
    assert!(
        e.to_string()
            .starts_with("rules[1].when `1 / 0` cannot be evaluated: invalid operation"),
        "{e}"
    );
}

#[test]
fn when_sees_the_prompt_content() {
    let src = "rules:\n  - when: \"'pii' in tags or (metrics.baseline_accuracy is defined and metrics.baseline_accuracy < 0.8)\"\n    approvals: [{count: 1}]\n";
    let p = parsed(src);
    let needs = |prompt: Json| p.effective(&prompt).unwrap().needs_approval();
    assert!(!needs(json!({"id": "a.b"})));
    assert!(needs(json!({"tags": ["pii"]})));
    assert!(needs(json!({"metrics": {"baseline_accuracy": 0.7}})));
    assert!(!needs(
        json!({"tags": ["x"], "metrics": {"baseline_accuracy": 0.9}})
    ));
}

/// The seed governance repository's example policy (`pass_rate >= 0.95`, a human
/// sign-off, `deprecated` prompts blocked) in this format.
#[test]
fn the_seed_policy_intents_are_expressible() {
    let src = "\
evals: {min_pass_rate: 0.95}
approvals:
  - count: 1
require:
  - expr: not deprecated
    message: a prompt marked as deprecated cannot be promoted
";
    let good = World::new()
        .run(19, 1, 0)
        .approve("bob", Role::Approver, &[], &[]);
    assert!(
        good.outcomes(src).iter().all(|o| o.passed),
        "{:#?}",
        good.outcomes(src)
    );

    let low = World::new()
        .run(18, 2, 0)
        .approve("bob", Role::Approver, &[], &[]);
    assert!(!low.gate(src, "evals").passed);
    let unsigned = World::new().run(20, 0, 0);
    assert!(!unsigned.gate(src, "approvals").passed);
    let deprecated = World::new()
        .run(20, 0, 0)
        .approve("bob", Role::Approver, &[], &[])
        .with("deprecated", json!(true));
    let o = deprecated.gate(src, "require");
    expect(
        &o,
        false,
        "a prompt marked as deprecated cannot be promoted",
    );
}

#[test]
fn everything_passes_when_every_fact_is_right() {
    let mut w = World::new()
        .with(
            "compliance",
            json!({"risk_tier": "high", "accountable_owner": "Jo", "intended_use": "replies",
                   "human_oversight": "agent reviews", "fairness_assessment": "done"}),
        )
        .with("metrics", json!({"baseline_accuracy": 0.9}))
        .run(10, 0, 0);
    if let Some(run) = &mut w.eval {
        run.cost_per_call_usd = Some(0.001);
        run.p95_latency_ms = Some(1200.0);
    }
    w.labels.insert("staging".into(), "2.0.0".into());
    let ticks = [
        "reviewed diff",
        "eval results acceptable",
        "compliance fields reviewed",
    ];
    let w = w.approve("bob", Role::Approver, &[], &ticks).approve(
        "sec",
        Role::Admin,
        &["security"],
        &ticks,
    );
    let all = w.outcomes(EXAMPLE);
    assert!(all.iter().all(|o| o.passed), "{all:#?}");
    assert_eq!(all.len(), 10);
}
