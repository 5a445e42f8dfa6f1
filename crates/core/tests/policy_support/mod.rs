//! What the policy tests share: the documented example, finding checks, and a world of
//! facts to judge gates against.
#![allow(dead_code)]

use promptops_core::config::ComplianceConfig;
use promptops_core::policy::{self, ApprovalFacts, EvalFacts, Facts, GateOutcome, Policy, Role};
use promptops_core::prompt::RiskTier;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

pub const PATH: &str = "policies/prod.yaml";

/// The example of `docs/policy.md`.
pub const EXAMPLE: &str = r#"environment: prod
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

/// Asserts the exact findings (code, line, column) of parsing `src`.
#[track_caller]
pub fn check(src: &str, expected: &[(&str, u32, u32)]) {
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
pub fn message(src: &str) -> String {
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
pub fn parsed(src: &str) -> Policy {
    match policy::parse(PATH, src) {
        Ok((p, warnings)) => {
            assert!(warnings.is_empty(), "{warnings:#?}");
            p
        }
        Err(all) => panic!("{all:#?}"),
    }
}

/// The facts of one promotion request, owned; [`World::facts`] borrows them.
pub struct World {
    pub prompt: Json,
    pub version: String,
    pub author: String,
    pub requester: String,
    pub labels: BTreeMap<String, String>,
    pub eval: Option<EvalFacts>,
    pub approvals: Vec<ApprovalFacts>,
    pub defaults: BTreeMap<RiskTier, Vec<String>>,
    /// `{redteam?, compatibility?}` as the store gathers them.
    pub assessments: Json,
}

impl World {
    /// support.reply@2.0.0 by alice, requested by rita, no labels, no run, no approvals.
    pub fn new() -> World {
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
            assessments: json!({}),
        }
    }

    pub fn facts(&self) -> Facts<'_> {
        Facts {
            prompt: &self.prompt,
            version: &self.version,
            author: &self.author,
            requester: &self.requester,
            labels: &self.labels,
            latest_eval: self.eval.as_ref(),
            approvals: &self.approvals,
            compliance_defaults: &self.defaults,
            assessments: &self.assessments,
        }
    }

    pub fn run(mut self, passed: u64, failed: u64, errors: u64) -> World {
        self.eval = Some(EvalFacts {
            run: 7,
            passed,
            failed,
            errors,
            ..EvalFacts::default()
        });
        self
    }

    pub fn approve(mut self, user: &str, role: Role, teams: &[&str], checklist: &[&str]) -> World {
        self.approvals.push(ApprovalFacts {
            user: user.into(),
            role,
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
            checklist: checklist.iter().map(|c| (*c).to_owned()).collect(),
        });
        self
    }

    /// Records an assessment (`redteam` or `compatibility`) as the store would.
    pub fn assessed(mut self, root: &str, value: Json) -> World {
        self.assessments[root] = value;
        self
    }

    pub fn with(mut self, pointer: &str, value: Json) -> World {
        let mut at = &mut self.prompt;
        for part in pointer.split('.') {
            at = &mut at[part];
        }
        *at = value;
        self
    }

    /// Every outcome of `policy_src` for this world.
    pub fn outcomes(&self, policy_src: &str) -> Vec<GateOutcome> {
        let gates = parsed(policy_src)
            .effective(&self.prompt)
            .unwrap_or_else(|e| panic!("{e}"));
        policy::evaluate(&gates, &self.facts())
    }

    /// The one outcome of `gate` under `policy_src`.
    #[track_caller]
    pub fn gate(&self, policy_src: &str, gate: &str) -> GateOutcome {
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
pub fn expect(o: &GateOutcome, passed: bool, message: &str) {
    assert_eq!((o.passed, o.message.as_str()), (passed, message), "{o:#?}");
}
