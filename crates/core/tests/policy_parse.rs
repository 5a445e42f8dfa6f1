//! Gate policies as `policy::parse` reads them: every finding it can report (code, line,
//! column), shorthands and defaults, and properties over random policies.

mod policy_support;

use policy_support::*;
use promptops_core::policy::{self, Budget, Completion, ComplianceGate, Role, Threshold};
use promptops_core::prompt::RiskTier;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

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
