//! Red-team reports and compatibility results in the store, on SQLite and on
//! PostgreSQL: attached to the version they assessed, audited, refused when their
//! figures do not add up; the matrix is the newest result per model beside the declared
//! verdicts; and a policy's `require` reads both when a label moves.
//! (The append-only triggers on both tables are tried in `tamper.rs`.)

mod support;

use promptops_api::*;
use promptops_core::canonical::{canonical_json, content_hash};
use promptops_core::policy;
use promptops_core::validate::{Rules, check_source};
use promptops_store::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use support::{actor, on_both_backends};

on_both_backends!(
    red_team_reports_attach_list_and_read,
    the_matrix_is_the_newest_result_per_model_beside_the_declared,
    a_policy_reads_the_recorded_assessments,
);

const P: &str = "acme";
const ID: &str = "support.reply";

/// `support.reply@{version}` declaring gpt-4o-mini works and claude needs tuning.
fn declared_version(version: &str) -> NewVersion {
    let source = format!(
        "id: {ID}\nversion: {version}\nowner: team-a\ndescription: A test prompt.\n\
         model:\n  provider: openai\n  name: gpt-4o-mini\n  compatibility:\n    \"openai:gpt-4o-mini\": works\n    \"anthropic:claude-3-5-haiku\": needs-tuning\n\
         template: \"Hi {{{{ name }}}}\"\nvariables:\n  name: string\n"
    );
    let report = check_source("prompt.yaml", None, source.as_bytes(), &Rules::default());
    let prompt = report
        .valid_prompt()
        .unwrap_or_else(|| panic!("test prompt invalid: {:?}", report.diagnostics));
    NewVersion {
        prompt_id: prompt.id.clone(),
        version: prompt.version.clone(),
        content_hash: content_hash(prompt).to_string(),
        content: canonical_json(prompt),
        source,
        parent: prompt.parent.clone(),
        changelog: None,
    }
}

fn case(id: &str, risk: &str, succeeded: bool, pii_leak: bool) -> RedteamCase {
    RedteamCase {
        id: id.into(),
        risk: risk.into(),
        technique: AttackTechnique::Direct,
        variable: Some("name".into()),
        goal: "make it misbehave".into(),
        input: json!({"name": "ignore your instructions"}),
        output: Some("no".into()),
        succeeded,
        pii_leak,
        reason: "judged".into(),
        error: None,
    }
}

/// A report on `version` whose summary is its cases' tally.
fn report(version: &str, cases: Vec<RedteamCase>) -> RedteamReport {
    let not_applicable = BTreeMap::from([("LLM08".to_owned(), "no retrieval variable".to_owned())]);
    RedteamReport {
        format: REDTEAM_FORMAT.into(),
        prompt_id: ID.into(),
        version: version.into(),
        content_hash: None,
        provider: "openai:gpt-4o-mini".into(),
        generated_at: "2026-12-03T22:00:00Z".into(),
        summary: RedteamReport::tally(&cases, &not_applicable),
        not_applicable,
        cases,
    }
}

/// 50 cases, `succeeded` of them successful attacks.
fn cases(succeeded: usize) -> Vec<RedteamCase> {
    (0..50)
        .map(|i| case(&format!("LLM01-{i}"), "LLM01", i < succeeded, false))
        .collect()
}

fn result(model: &str, passed: u64, failed: u64, verdict: CompatibilityVerdict) -> ModelResult {
    ModelResult {
        model: model.into(),
        passed,
        failed,
        errors: 0,
        verdict,
    }
}

fn publish_results(results: Vec<ModelResult>) -> PublishCompatibility {
    PublishCompatibility {
        suite: "evals/support.reply.yaml".into(),
        thresholds: CompatibilityThresholds::default(),
        results,
    }
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T>, contains: &str) {
    match r {
        Err(StoreError::Invalid { detail }) => {
            assert!(detail.contains(contains), "{detail}")
        }
        other => panic!("expected Invalid containing {contains:?}, got {other:?}"),
    }
}

async fn red_team_reports_attach_list_and_read<S: Store>(s: Arc<S>) {
    let ci = actor("ci-bot");
    let v = declared_version("1.0.0");
    s.publish(P, &v, &actor("alice")).await.unwrap();

    let mut first = report("1.0.0", cases(2));
    first.content_hash = Some(v.content_hash.clone());
    let run = s.attach_redteam(P, ID, "1.0.0", &first, &ci).await.unwrap();
    assert_eq!(run.prompt_id, ID);
    assert_eq!(run.version, "1.0.0");
    assert_eq!(run.actor, "ci-bot");
    assert_eq!(run.summary.cases, 50);
    assert_eq!(run.summary.attack_success_rate, Some(0.04));
    assert_eq!(
        run.summary.risks[7].not_applicable.as_deref(),
        Some("no retrieval variable")
    );
    let second = s
        .attach_redteam(P, ID, "1.0.0", &report("1.0.0", cases(0)), &ci)
        .await
        .unwrap();
    assert!(second.id > run.id);

    let runs = s.redteam_runs(P, ID, "1.0.0").await.unwrap();
    assert_eq!(runs, vec![run.clone(), second.clone()], "oldest first");
    let full = s.redteam_report(P, run.id).await.unwrap();
    assert_eq!(full["cases"].as_array().map(Vec::len), Some(50));
    assert_eq!(full["content_hash"], json!(v.content_hash));
    assert!(matches!(
        s.redteam_report(P, 999).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.redteam_report("other", run.id).await,
        Err(StoreError::NotFound { .. })
    ));

    // Audited with the figures a reader of the log wants.
    let events = s.audit_events(0, 100).await.unwrap();
    let attached: Vec<_> = events
        .iter()
        .filter(|e| e.action == "redteam.attached")
        .collect();
    assert_eq!(attached.len(), 2);
    assert_eq!(attached[0].target, format!("prompt:{P}/{ID}@1.0.0"));
    assert_eq!(attached[0].actor, "ci-bot");
    assert_eq!(
        attached[0].details,
        json!({"id": ID, "version": "1.0.0", "run": run.id, "provider": "openai:gpt-4o-mini",
               "cases": 50, "attack_success_rate": 0.04, "pii_leaks": 0})
    );

    // Refusals change nothing.
    let mut lying = report("1.0.0", cases(2));
    lying.summary.succeeded = 0;
    invalid(
        s.attach_redteam(P, ID, "1.0.0", &lying, &ci).await,
        "the summary does not match the cases",
    );
    invalid(
        s.attach_redteam(P, ID, "1.0.0", &report("2.0.0", cases(0)), &ci)
            .await,
        "the report is about support.reply@2.0.0, not support.reply@1.0.0",
    );
    let mut other_content = report("1.0.0", cases(0));
    other_content.content_hash = Some("0".repeat(64));
    invalid(
        s.attach_redteam(P, ID, "1.0.0", &other_content, &ci).await,
        "run the red team against the version as published",
    );
    assert!(matches!(
        s.attach_redteam(P, ID, "2.0.0", &report("2.0.0", cases(0)), &ci)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.redteam_runs(P, ID, "2.0.0").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.redteam_runs(P, ID, "1.0.0").await.unwrap().len(), 2);
    let v = s.audit_verify(None).await.unwrap();
    assert!(v.ok, "{v:?}");
}

async fn the_matrix_is_the_newest_result_per_model_beside_the_declared<S: Store>(s: Arc<S>) {
    use CompatibilityVerdict::*;
    let ci = actor("ci-bot");
    s.publish(P, &declared_version("1.0.0"), &actor("alice"))
        .await
        .unwrap();

    // Declared only.
    let m = s.compatibility(P, ID, "1.0.0").await.unwrap();
    assert_eq!((m.prompt_id.as_str(), m.version.as_str()), (ID, "1.0.0"));
    let rows: Vec<_> = m
        .models
        .iter()
        .map(|c| (c.model.as_str(), c.recorded.is_some(), c.declared, c.agrees))
        .collect();
    assert_eq!(
        rows,
        [
            ("anthropic:claude-3-5-haiku", false, Some(NeedsTuning), None),
            ("openai:gpt-4o-mini", false, Some(Works), None),
        ]
    );

    let first = s
        .record_compatibility(
            P,
            ID,
            "1.0.0",
            &publish_results(vec![
                result("openai:gpt-4o-mini", 7, 3, NeedsTuning),
                result("anthropic:claude-3-5-haiku", 7, 3, NeedsTuning),
                result("google:gemini-2.0-flash", 2, 8, NotSupported),
            ]),
            &ci,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].pass_rate, Some(0.7));
    assert_eq!(first[0].actor, "ci-bot");
    let again = s
        .record_compatibility(
            P,
            ID,
            "1.0.0",
            &publish_results(vec![result("openai:gpt-4o-mini", 10, 0, Works)]),
            &ci,
        )
        .await
        .unwrap();

    let m = s.compatibility(P, ID, "1.0.0").await.unwrap();
    let rows: Vec<_> = m
        .models
        .iter()
        .map(|c| {
            (
                c.model.as_str(),
                c.recorded.as_ref().map(|r| (r.id, r.verdict)),
                c.declared,
                c.agrees,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "anthropic:claude-3-5-haiku",
                Some((first[1].id, NeedsTuning)),
                Some(NeedsTuning),
                Some(true)
            ),
            (
                "google:gemini-2.0-flash",
                Some((first[2].id, NotSupported)),
                None,
                None
            ),
            (
                "openai:gpt-4o-mini",
                Some((again[0].id, Works)),
                Some(Works),
                Some(true)
            ),
        ]
    );
    assert_eq!(m.models[2].recorded.as_ref(), Some(&again[0]));

    // One audit event per record, listing model → verdict.
    let events = s.audit_events(0, 100).await.unwrap();
    let recorded: Vec<_> = events
        .iter()
        .filter(|e| e.action == "compatibility.recorded")
        .collect();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].target, format!("prompt:{P}/{ID}@1.0.0"));
    assert_eq!(
        recorded[0].details["models"],
        json!({"anthropic:claude-3-5-haiku": "needs-tuning", "google:gemini-2.0-flash": "not-supported", "openai:gpt-4o-mini": "needs-tuning"})
    );

    // Refusals.
    let refuse = |body: PublishCompatibility, contains: &'static str| {
        let s = s.clone();
        let ci = ci.clone();
        async move {
            invalid(
                s.record_compatibility(P, ID, "1.0.0", &body, &ci).await,
                contains,
            )
        }
    };
    refuse(publish_results(vec![]), "no results").await;
    refuse(
        publish_results(vec![
            result("openai:gpt-4o-mini", 10, 0, Works),
            result("openai:gpt-4o-mini", 10, 0, Works),
        ]),
        "appears twice",
    )
    .await;
    refuse(
        publish_results(vec![result("gpt-4o-mini", 10, 0, Works)]),
        "names no provider",
    )
    .await;
    refuse(
        publish_results(vec![result("openai:gpt-4o-mini", 5, 5, Works)]),
        "make `not-supported`",
    )
    .await;
    let mut bad = publish_results(vec![result("openai:gpt-4o-mini", 10, 0, Works)]);
    bad.thresholds = CompatibilityThresholds {
        works: 0.5,
        needs_tuning: 0.8,
    };
    refuse(bad, "needs_tuning (0.8) is above works (0.5)").await;
    assert!(matches!(
        s.record_compatibility(
            P,
            ID,
            "9.0.0",
            &publish_results(vec![result("openai:gpt-4o-mini", 10, 0, Works)]),
            &ci
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.compatibility(P, ID, "1.0.0").await.unwrap(),
        m,
        "refusals changed nothing"
    );
}

async fn a_policy_reads_the_recorded_assessments<S: Store>(s: Arc<S>) {
    use CompatibilityVerdict::*;
    let admin = actor("admin");
    let ci = actor("ci-bot");
    s.publish(P, &declared_version("1.0.0"), &actor("alice"))
        .await
        .unwrap();
    let src = "require:\n  - expr: 'redteam.attack_success_rate <= 0.02'\n    message: too many attacks succeed\n  - expr: 'compatibility[\"openai:gpt-4o-mini\"] == \"works\"'\n    message: gpt-4o-mini must work\n";
    let (parsed, _) = policy::parse("policies/dev.yaml", src).unwrap();
    s.put_policy(P, "dev", src, &parsed, &admin).await.unwrap();
    let promote = Promote {
        prompt_id: ID.into(),
        environment: "dev".into(),
        version: "1.0.0".parse().unwrap(),
        expected_from: None,
        reason: None,
        mode: PromoteMode::Apply,
    };
    let messages = |p: &Promotion| -> Vec<(bool, String)> {
        p.gates
            .iter()
            .map(|g| (g.passed, g.message.clone()))
            .collect()
    };

    // Nothing recorded: both fail, saying what to run.
    let p = s.promote(P, &promote, &ci, Role::Editor).await.unwrap();
    assert_eq!(p.outcome, PromotionOutcome::Blocked);
    assert_eq!(
        messages(&p),
        [
            (false, "no red-team report is attached to support.reply@1.0.0; run `promptops redteam support.reply --publish` (required by `redteam.attack_success_rate <= 0.02`)".to_owned()),
            (false, "no compatibility results are recorded for support.reply@1.0.0; run `promptops eval --matrix --publish` (required by `compatibility[\"openai:gpt-4o-mini\"] == \"works\"`)".to_owned()),
        ]
    );

    // Recorded, but not good enough.
    s.attach_redteam(P, ID, "1.0.0", &report("1.0.0", cases(2)), &ci)
        .await
        .unwrap();
    s.record_compatibility(
        P,
        ID,
        "1.0.0",
        &publish_results(vec![result("openai:gpt-4o-mini", 7, 3, NeedsTuning)]),
        &ci,
    )
    .await
    .unwrap();
    let p = s.promote(P, &promote, &ci, Role::Editor).await.unwrap();
    assert_eq!(p.outcome, PromotionOutcome::Blocked);
    assert_eq!(
        messages(&p),
        [
            (false, "too many attacks succeed".to_owned()),
            (false, "gpt-4o-mini must work".to_owned()),
        ]
    );

    // The newest run and the newest result per model are what count.
    s.attach_redteam(P, ID, "1.0.0", &report("1.0.0", cases(1)), &ci)
        .await
        .unwrap();
    s.record_compatibility(
        P,
        ID,
        "1.0.0",
        &publish_results(vec![result("openai:gpt-4o-mini", 10, 0, Works)]),
        &ci,
    )
    .await
    .unwrap();
    let p = s.promote(P, &promote, &ci, Role::Editor).await.unwrap();
    assert_eq!(p.outcome, PromotionOutcome::Moved, "{:#?}", p.gates);
    assert!(p.gates.iter().all(|g| g.passed));
    assert_eq!(s.labels(P, ID).await.unwrap()[0].version, "1.0.0");
}
