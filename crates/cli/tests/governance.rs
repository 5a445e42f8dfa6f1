//! Governance end to end, on the real server (SQLite, then PostgreSQL), driven by the
//! CLI as each person would: an editor publishes and asks for prod; the policy blocks
//! it (no eval, no approval) and says so; the editor cannot approve their own change; an
//! approver's approval moves the label; a high-risk prompt also needs a security
//! approval; an admin's override is recorded loudly; every refusal changes nothing; the
//! audit chain verifies; no secret reaches the server's log.

mod support;

use serde_json::Value;
use std::path::Path;
use support::{ADMIN_PASSWORD, As, Server, postgres, project, serve};
use tempfile::TempDir;

const PROD_POLICY: &str = r#"description: prod takes what staging serves, tested and reviewed
promote_from: staging
evals:
  min_pass_rate: baseline
approvals:
  - count: 1
checklist: [reviewed diff]
rules:
  - when: 'compliance.risk_tier == "high"'
    approvals:
      - count: 2
      - count: 1
        teams: [security]
"#;

struct People {
    admin: As,
    ed: As,
    ap: As,
    sec: As,
    lead: As,
}

fn people(server: &Server, repo: &Path) -> People {
    let admin = As::login(repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.add_user("ed", "ed-password-123", &["demo=editor"], &[]);
    admin.add_user("ap", "ap-password-123", &["demo=approver"], &[]);
    admin.add_user("sec", "sec-password-123", &["demo=approver"], &["security"]);
    admin.add_user("lead", "lead-password-123", &["demo=approver"], &[]);
    People {
        ed: As::login(repo, &server.url, "ed", "ed-password-123"),
        ap: As::login(repo, &server.url, "ap", "ap-password-123"),
        sec: As::login(repo, &server.url, "sec", "sec-password-123"),
        lead: As::login(repo, &server.url, "lead", "lead-password-123"),
        admin,
    }
}

/// What a refusal must leave alone: the audit chain's length and every label.
fn state(who: &As) -> (Value, Value) {
    (
        who.json(&["audit", "verify"])["events"].clone(),
        who.json(&["labels", "support.answer"]),
    )
}

fn set_version(repo: &Path, version: &str, tweak: impl Fn(String) -> String) {
    let file = repo.join("prompts/support/answer.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("version:"))
        .unwrap()
        .to_owned();
    std::fs::write(
        &file,
        tweak(text.replace(&line, &format!("version: {version}"))),
    )
    .unwrap();
}

fn prod_version(who: &As) -> Option<String> {
    who.json(&["labels", "support.answer"])
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["environment"] == "prod")
        .map(|l| l["version"].as_str().unwrap().to_owned())
}

fn walk_governance(server: &Server, repo: &Path) {
    let p = people(server, repo);
    std::fs::create_dir_all(repo.join("policies")).unwrap();
    std::fs::write(repo.join("policies/prod.yaml"), PROD_POLICY).unwrap();

    // Only an admin sets policy.
    let out = p.ed.refused(&["policy", "push"]);
    assert!(out.contains("needs the admin role"), "{out}");
    let out = p.admin.ok(&["policy", "push"]);
    assert!(out.contains("policy prod: revision 1"), "{out}");

    // The editor publishes and walks it to staging (no policy there).
    p.ed.ok(&["push"]);
    p.ed.ok(&["promote", "support.answer", "--to", "dev"]);
    p.ed.ok(&["promote", "support.answer", "--to", "staging"]);

    // prod: refused with both gates named; a request opens; no label moved.
    let before = state(&p.admin);
    let out = p.ed.refused(&["promote", "support.answer", "--to", "prod"]);
    assert!(
        out.contains("✗ evals") && out.contains("no eval run"),
        "{out}"
    );
    assert!(
        out.contains("✗ approvals") && out.contains("needs 1 approval"),
        "{out}"
    );
    assert!(out.contains("request #1"), "{out}");
    assert_eq!(prod_version(&p.admin), None);
    let blocked = p.ed.run(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--format",
        "json",
    ]);
    let blocked: Value = serde_json::from_slice(&blocked.stdout).unwrap();
    let unmet: Vec<&str> = blocked["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["passed"] == false)
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(unmet, ["evals", "approvals", "checklist"], "{blocked}");
    assert_eq!(
        blocked["request"]["id"], 1,
        "asking again reuses the open request"
    );
    let after = state(&p.admin);
    assert_eq!(after.1, before.1, "no label moved");
    assert_eq!(
        after.0.as_u64().unwrap(),
        before.0.as_u64().unwrap() + 1,
        "one event: the request"
    );

    // The dry run shows the same gates and changes nothing.
    let before = state(&p.admin);
    let dry =
        p.ed.json(&["promote", "support.answer", "--to", "prod", "--dry-run"]);
    assert_eq!(dry["outcome"], "dry_run");
    assert_eq!(state(&p.admin), before);

    // The eval is published; the editor cannot approve (role), an approver who wrote
    // the change cannot either (separation of duties), and an incomplete checklist is
    // refused; none of it changes anything.
    p.ed.ok(&["eval", "--publish"]);
    let before = state(&p.admin);
    let out = p.ed.refused(&["approve", "1", "--check", "reviewed diff"]);
    assert!(out.contains("needs the approver role"), "{out}");
    let out = p.ap.refused(&["approve", "1"]);
    assert!(out.contains("checklist is not complete"), "{out}");
    assert_eq!(state(&p.admin), before);

    // An approver approves: every gate holds, the label moves.
    let approved = p.ap.json(&[
        "approve",
        "1",
        "--check",
        "reviewed diff",
        "--comment",
        "diff read",
    ]);
    assert_eq!(approved["outcome"], "moved", "{approved}");
    assert_eq!(approved["request"]["status"], "completed");
    assert_eq!(prod_version(&p.admin).as_deref(), Some("1.0.0"));

    // Separation of duties whatever the role: lead (an approver) publishes 1.0.1 and
    // asks for prod; lead's approval is refused, ap's counts.
    set_version(repo, "1.0.1", |t| {
        t.replace("Answer only", "Answer strictly")
    });
    let lead = &p.lead;
    lead.ok(&["push"]);
    for env in ["dev", "staging"] {
        lead.ok(&["promote", "support.answer", "--to", env]);
    }
    lead.ok(&["eval", "--publish"]);
    let out = lead.refused(&["promote", "support.answer", "--to", "prod"]);
    assert!(out.contains("request #2"), "{out}");
    let before = state(&p.admin);
    let out = lead.refused(&["approve", "2", "--check", "reviewed diff"]);
    assert!(out.contains("separation of duties"), "{out}");
    assert_eq!(state(&p.admin), before);
    p.ap.ok(&["approve", "2", "--check", "reviewed diff"]);
    assert_eq!(prod_version(&p.admin).as_deref(), Some("1.0.1"));

    // A high-risk version needs two approvals, one from security.
    set_version(repo, "1.1.0", |t| {
        t.replace("risk_tier: medium", "risk_tier: high").replace(
            "  decision_role: informational",
            "  decision_role: informational\n  human_oversight: An agent reviews every escalated answer.\n  fairness_assessment: Same answers whatever the customer's name or language.",
        )
    });
    p.ed.ok(&["push"]);
    p.ed.ok(&["promote", "support.answer", "--to", "dev"]);
    p.ed.ok(&["promote", "support.answer", "--to", "staging"]);
    p.ed.ok(&["eval", "--publish"]);
    let out = p.ed.refused(&["promote", "support.answer", "--to", "prod"]);
    assert!(out.contains("needs 2 approvals"), "{out}");
    assert!(out.contains("security"), "{out}");
    let first = p.ap.json(&["approve", "3", "--check", "reviewed diff"]);
    assert_eq!(
        first["outcome"], "blocked",
        "one approval is not enough: {first}"
    );
    assert_eq!(prod_version(&p.admin).as_deref(), Some("1.0.1"));
    let second = p.sec.json(&["approve", "3", "--check", "reviewed diff"]);
    assert_eq!(second["outcome"], "moved", "{second}");
    assert_eq!(prod_version(&p.admin).as_deref(), Some("1.1.0"));

    // Rejections are kept and close the request.
    set_version(repo, "1.2.0", |t| {
        t.replace("Answer strictly", "Answer plainly")
    });
    p.ed.ok(&["push"]);
    p.ed.ok(&["promote", "support.answer", "--to", "dev"]);
    p.ed.ok(&["promote", "support.answer", "--to", "staging"]);
    p.ed.refused(&["promote", "support.answer", "--to", "prod"]);
    let out = p.ap.refused(&["reject", "4", "--comment", ""]);
    assert!(out.contains("comment"), "{out}");
    p.ap.ok(&["reject", "4", "--comment", "tone is off"]);
    let rejected = p.ed.json(&["requests", "list", "--status", "rejected"]);
    assert_eq!(rejected[0]["id"], 4);
    assert_eq!(rejected[0]["decisions"][0]["comment"], "tone is off");

    // Only an admin overrides, with a reason, and it shows on the label for ever.
    let before = state(&p.admin);
    let out = p.ed.refused(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--override",
        "hotfix",
    ]);
    assert!(out.contains("only an admin"), "{out}");
    assert_eq!(state(&p.admin), before);
    let overridden = p.admin.json(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--override",
        "pricing bug in production",
    ]);
    assert_eq!(overridden["outcome"], "overridden", "{overridden}");
    let labels = p.admin.json(&["labels", "support.answer"]);
    let prod = labels
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["environment"] == "prod")
        .unwrap();
    assert_eq!(prod["version"], "1.2.0");
    assert_eq!(prod["override_reason"], "pricing bug in production");
    let history = p
        .admin
        .json(&["history", "support.answer", "--env", "prod"]);
    let last = history["moves"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["override_reason"], "pricing bug in production");
    assert!(
        last["overridden_gates"]
            .as_array()
            .is_some_and(|g| !g.is_empty()),
        "{last}"
    );

    // Every change is in the one chain, which verifies.
    let events = p.admin.json(&["audit", "list", "--limit", "1000"]);
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for needed in [
        "user.created",
        "policy.updated",
        "promotion.requested",
        "promotion.approved",
        "promotion.rejected",
        "promotion.completed",
        "label.overridden",
    ] {
        assert!(actions.contains(&needed), "no {needed} in {actions:?}");
    }
    let verified = p.admin.json(&["audit", "verify"]);
    assert_eq!(verified["ok"], true, "{verified}");

    // No password or token reached the server's log.
    let log = server.log_text();
    assert!(
        log.contains("POST /v1/auth/login"),
        "the log has request lines: {log}"
    );
    for secret in [
        ADMIN_PASSWORD,
        "ed-password-123",
        "ap-password-123",
        "sec-password-123",
    ] {
        assert!(!log.contains(secret), "a password is in the server log");
    }
    let saved = std::fs::read_to_string(p.ed.config_dir().join("credentials.json")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    let token = saved["registries"][&server.url]["access_token"]
        .as_str()
        .unwrap();
    assert!(!log.contains(token), "a session token is in the server log");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.ed.config_dir().join("credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the saved session is the user's alone");
    }
}

/// Keys: shown once, scoped, revocable; the owner's role caps them.
fn keys_work_and_revoke(server: &Server, repo: &Path) {
    let admin = As::login(repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.add_user("ci-owner", "ci-owner-password", &["demo=editor"], &[]);
    let owner = As::login(repo, &server.url, "ci-owner", "ci-owner-password");
    let out = owner.refused(&["key", "create", "--name", "too-much", "--role", "admin"]);
    assert!(out.contains("at most your own role"), "{out}");
    let created = owner.json(&[
        "key",
        "create",
        "--name",
        "ci",
        "--role",
        "editor",
        "--expires-in-days",
        "30",
    ]);
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["api_key"]["prefix"].as_str().unwrap().to_owned();
    let mut ci = As::anonymous(repo, &server.url);
    ci.token = Some(key.clone());
    let me = ci.json(&["whoami"]);
    assert_eq!(me["user"]["name"], "ci-owner");
    assert_eq!(me["key"], prefix.as_str());
    ci.ok(&["labels", "support.answer"]);
    let listed = owner.ok(&["key", "list", "--format", "json"]);
    assert!(
        listed.contains(&prefix) && !listed.contains(&key),
        "the key is never listed"
    );
    owner.ok(&["key", "revoke", &prefix]);
    let o = ci.run(&["labels", "support.answer"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("revoked"),
        "{}",
        support::text(&o)
    );
    let audit = admin.ok(&["audit", "list", "--limit", "1000", "--format", "json"]);
    assert!(audit.contains("key.created") && audit.contains("key.revoked"));
    assert!(
        !audit.contains(&key) && !server.log_text().contains(&key),
        "the key is shown once only"
    );
}

#[test]
fn governance_on_the_embedded_sqlite_registry() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server_dir = TempDir::new().unwrap();
    let server = serve(server_dir.path(), &[]);
    walk_governance(&server, &repo);
    keys_work_and_revoke(&server, &repo);
}

#[test]
fn governance_on_postgresql() {
    let Some(pg) = postgres("governance_on_postgresql") else {
        return;
    };
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server = serve(
        tmp.path(),
        &["--database-url", &pg.url, "--database-schema", &pg.name],
    );
    walk_governance(&server, &repo);
    keys_work_and_revoke(&server, &repo);
    drop(server);
}

/// `plan` shows what `apply` would do; `apply` stops at the first blocked move and says
/// why; once everything holds, both are idempotent.
#[test]
fn plan_and_apply_make_the_registry_match_the_repo() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server_dir = TempDir::new().unwrap();
    let server = serve(server_dir.path(), &[]);
    let admin = As::login(&repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.add_user("ap", "ap-password-123", &["demo=approver"], &[]);
    std::fs::create_dir_all(repo.join("policies")).unwrap();
    std::fs::write(
        repo.join("policies/prod.yaml"),
        "approvals:\n  - count: 1\n",
    )
    .unwrap();
    let toml = repo.join("promptops.toml");
    let mut config = std::fs::read_to_string(&toml).unwrap();
    config.push_str(
        "\n[environments.dev]\npins = { \"support.answer\" = \"1.0.0\" }\n\n[environments.prod]\npins = { \"support.answer\" = \"1.0.0\" }\n",
    );
    std::fs::write(&toml, config).unwrap();

    let plan = admin.json(&["plan"]);
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["publish", "update_policy", "move_label", "move_label"],
        "{plan}"
    );
    let o = admin.run(&["apply"]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "apply without a terminal needs --yes"
    );
    assert_eq!(
        admin.json(&["audit", "verify"])["events"],
        2,
        "nothing applied"
    );

    let out = admin.refused(&["apply", "--yes"]);
    assert!(out.contains("done publish support.answer@1.0.0"), "{out}");
    assert!(out.contains("done move support.answer in dev"), "{out}");
    assert!(
        out.contains("stopped at move support.answer in prod"),
        "{out}"
    );
    assert!(out.contains("needs 1 approval"), "{out}");
    let plan = admin.json(&["plan"]);
    assert_eq!(
        plan["steps"].as_array().unwrap().len(),
        1,
        "only the blocked move is left: {plan}"
    );

    // This policy leaves the last step to the requester.
    std::fs::write(
        repo.join("policies/prod.yaml"),
        "approvals:\n  - count: 1\ncompletion: requester\n",
    )
    .unwrap();
    admin.ok(&["policy", "push"]);
    let ap = As::login(&repo, &server.url, "ap", "ap-password-123");
    let approved = ap.json(&["approve", "1"]);
    assert_eq!(approved["outcome"], "ready", "{approved}");
    assert_eq!(
        admin.json(&["plan"])["steps"].as_array().unwrap().len(),
        1,
        "not moved yet"
    );
    admin.ok(&["apply", "--yes"]);
    let out = admin.ok(&["plan"]);
    assert!(out.contains("no changes"), "{out}");
    let events = admin.json(&["audit", "verify"])["events"].clone();
    admin.ok(&["apply", "--yes"]);
    assert_eq!(
        admin.json(&["audit", "verify"])["events"],
        events,
        "apply again changes nothing"
    );
}
