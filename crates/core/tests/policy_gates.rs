//! Gate policies as `policy::evaluate` judges them: the merge of conditional rules and
//! every gate, passing and failing, with its message.

mod policy_support;

use policy_support::*;
use promptops_core::policy::{self, GateOutcome, PolicyError, Role};
use serde_json::{Value as Json, json};

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

/// The figures of a red-team run as the store gives them to policies.
fn redteam(rate: Option<f64>, pii_leaks: u64) -> Json {
    json!({
        "run": 3, "provider": "openai:gpt-4o-mini", "cases": 50, "succeeded": 1, "errors": 0,
        "attack_success_rate": rate, "pii_leaks": pii_leaks, "attached_by": "ci-bot",
        "risks": {
            "LLM01": {"name": "Prompt Injection", "cases": 20, "succeeded": 1, "errors": 0, "attack_success_rate": 0.05, "not_applicable": null},
            "LLM08": {"name": "Vector and Embedding Weaknesses", "cases": 0, "succeeded": 0, "errors": 0, "attack_success_rate": null, "not_applicable": "no retrieval variable"},
            "LLM09": {"name": "Misinformation", "cases": 0, "succeeded": 0, "errors": 0, "attack_success_rate": null, "not_applicable": null},
        },
    })
}

#[test]
fn require_reads_the_recorded_red_team_run() {
    let src = "require:\n  - expr: 'redteam.attack_success_rate <= 0.02 and redteam.pii_leaks == 0'\n    message: too many attacks succeed\n";
    // Nothing attached: fails and says how to attach one, though `undefined <= 0.02` holds.
    let o = World::new().gate(src, "require");
    expect(
        &o,
        false,
        "no red-team report is attached to support.reply@2.0.0; run `promptops redteam support.reply --publish` (required by `redteam.attack_success_rate <= 0.02 and redteam.pii_leaks == 0`)",
    );
    assert_eq!(o.detail["missing"], "redteam");
    let w = World::new().assessed("redteam", redteam(Some(0.02), 0));
    expect(
        &w.gate(src, "require"),
        true,
        "`redteam.attack_success_rate <= 0.02 and redteam.pii_leaks == 0` holds",
    );
    let w = World::new().assessed("redteam", redteam(Some(0.021), 0));
    expect(&w.gate(src, "require"), false, "too many attacks succeed");
    let w = World::new().assessed("redteam", redteam(Some(0.0), 1));
    expect(&w.gate(src, "require"), false, "too many attacks succeed");
    // Per risk, by attribute.
    let w = World::new().assessed("redteam", redteam(Some(0.02), 0));
    let per_risk = "require: ['redteam.risks.LLM01.attack_success_rate <= 0.1']\n";
    assert!(w.gate(per_risk, "require").passed);
}

#[test]
fn an_unmeasured_red_team_figure_fails_closed() {
    // No case judged: the rate is none, and `none <= 0.02` would hold.
    let w = World::new().assessed("redteam", redteam(None, 0));
    expect(
        &w.gate(
            "require: ['redteam.attack_success_rate <= 0.02']\n",
            "require",
        ),
        false,
        "red-team run #3 measured no `redteam.attack_success_rate` (no case of it was judged: none ran, or every one errored); `redteam.attack_success_rate <= 0.02` cannot be judged",
    );
    let w = World::new().assessed("redteam", redteam(Some(0.0), 0));
    expect(
        &w.gate(
            "require: ['redteam.risks.LLM08.attack_success_rate <= 0.02']\n",
            "require",
        ),
        false,
        "red-team run #3 measured no `redteam.risks.LLM08.attack_success_rate` (the risk was not tested: no retrieval variable); `redteam.risks.LLM08.attack_success_rate <= 0.02` cannot be judged",
    );
    // A misspelt figure is not a silent pass either.
    let o = w.gate("require: ['redteam.attack_rate <= 0.02']\n", "require");
    assert!(!o.passed);
    assert!(
        o.message
            .starts_with("`redteam.attack_rate` is not a figure of a red-team run"),
        "{}",
        o.message
    );
}

#[test]
fn require_reads_the_recorded_compatibility() {
    let src = "require: ['compatibility[\"openai:gpt-4o-mini\"] == \"works\"']\n";
    let o = World::new().gate(src, "require");
    expect(
        &o,
        false,
        "no compatibility results are recorded for support.reply@2.0.0; run `promptops eval --matrix --publish` (required by `compatibility[\"openai:gpt-4o-mini\"] == \"works\"`)",
    );
    // `!= "not-supported"` would hold on nothing recorded: it fails too.
    let o = World::new().gate(
        "require: ['compatibility[\"openai:gpt-4o-mini\"] != \"not-supported\"']\n",
        "require",
    );
    assert!(!o.passed);
    let w = World::new().assessed(
        "compatibility",
        json!({"openai:gpt-4o-mini": "works", "anthropic:claude-3-5-haiku": "needs-tuning"}),
    );
    assert!(w.gate(src, "require").passed);
    let w = World::new().assessed(
        "compatibility",
        json!({"openai:gpt-4o-mini": "needs-tuning"}),
    );
    assert!(!w.gate(src, "require").passed);
    // The declared matrix in the file is not what `compatibility` reads.
    let w = World::new().with(
        "model",
        json!({"provider": "openai", "name": "gpt-4o-mini", "compatibility": {"openai:gpt-4o-mini": "works"}}),
    );
    assert!(!w.gate(src, "require").passed);
}

#[test]
fn a_file_cannot_vouch_for_itself() {
    // An unknown top-level key named like an assessment is not read in its place.
    let w = World::new().with(
        "redteam",
        json!({"attack_success_rate": 0.0, "pii_leaks": 0}),
    );
    assert!(
        !w.gate(
            "require: ['redteam.attack_success_rate <= 0.02']\n",
            "require"
        )
        .passed
    );
    // And `when:` conditions read the content only.
    let src = "rules:\n  - when: 'redteam'\n    require: ['false']\n";
    let w = World::new().assessed("redteam", redteam(Some(0.0), 0));
    assert!(w.outcomes(src).is_empty());
}
