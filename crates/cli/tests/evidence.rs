//! Evidence packs and signed checkpoints end to end, on the real server: a version is
//! published, evaluated, requested and approved; `promptops evidence` writes its pack
//! as JSON and HTML; `audit verify --checkpoints --pack` verifies either file offline
//! with the server's pinned key, and refuses every kind of tampering; the online check
//! recomputes every checkpoint from the downloaded log.

mod support;

use serde_json::Value;
use std::path::Path;
use support::{ADMIN_PASSWORD, As, project, serve};
use tempfile::TempDir;

/// A change made to a copy of the pack.
type Edit = Box<dyn Fn(&mut Value)>;

const PROD_POLICY: &str = "approvals:\n  - count: 1\nchecklist: [reviewed diff]\n";

fn verify_pack(who: &As, pack: &Path, key: &str) -> (bool, String) {
    let out = who.run(&[
        "audit",
        "verify",
        "--checkpoints",
        "--pack",
        pack.to_str().unwrap(),
        "--key",
        key,
    ]);
    (out.status.success(), support::text(&out))
}

fn tampered(pack: &Value, dir: &Path, name: &str, edit: impl Fn(&mut Value)) -> std::path::PathBuf {
    let mut copy = pack.clone();
    edit(&mut copy);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&copy).unwrap()).unwrap();
    path
}

#[test]
fn an_evidence_pack_verifies_offline_and_tampering_shows() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server_dir = TempDir::new().unwrap();
    let server = serve(server_dir.path(), &[]);
    let admin = As::login(&repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.add_user("ed", "ed-password-123", &["demo=editor"], &[]);
    admin.add_user("ap", "ap-password-123", &["demo=approver"], &[]);
    // Evidence carries audit events: it is for those who may read the audit log.
    admin.add_user("aud", "aud-password-123", &["*=viewer"], &[]);
    let ed = As::login(&repo, &server.url, "ed", "ed-password-123");
    let ap = As::login(&repo, &server.url, "ap", "ap-password-123");
    let aud = As::login(&repo, &server.url, "aud", "aud-password-123");
    std::fs::create_dir_all(repo.join("policies")).unwrap();
    std::fs::write(repo.join("policies/prod.yaml"), PROD_POLICY).unwrap();
    admin.ok(&["policy", "push"]);

    ed.ok(&["push"]);
    ed.push_answer_version("1.1.0", "Answer", "Reply to");
    ed.ok(&["eval", "--publish"]);
    ed.refused(&["promote", "support.answer@1.1.0", "--to", "prod"]);
    ap.ok(&[
        "approve",
        "1",
        "--check",
        "reviewed diff",
        "--comment",
        "read the diff",
    ]);

    // A red-team report and a compatibility matrix, published to the version.
    let out = ed.run(&[
        "redteam",
        "support.answer@1.1.0",
        "--provider",
        "echo",
        "--publish",
    ]);
    assert!(out.status.success(), "{}", support::text(&out));
    let base = support::openai_echo::openai_echo();
    let out = ed.run_env(
        &[
            "eval",
            "--matrix",
            "--models",
            "openai:gpt-4o-mini,echo",
            "--publish",
        ],
        &[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", "sk-test")],
    );
    let text = support::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("recorded compatibility of support.answer@1.1.0 on 1 model"),
        "{text}"
    );
    assert!(text.contains("`echo` names no model"), "{text}");

    // The key to pin, as an auditor would fetch it once.
    let key = admin.json(&["audit", "verify", "--checkpoints"]);
    assert_eq!(key["ok"], true, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();

    let dir = TempDir::new().unwrap();
    let json_pack = dir.path().join("pack.json");
    let html_pack = dir.path().join("pack.html");
    let out = ed.refused(&["evidence", "support.answer@1.1.0"]);
    assert!(out.contains("viewer role in every project"), "{out}");
    let out = aud.ok(&[
        "evidence",
        "support.answer@1.1.0",
        "-o",
        json_pack.to_str().unwrap(),
    ]);
    assert!(out.contains("audit events proven in checkpoint"), "{out}");
    aud.ok(&[
        "evidence",
        "support.answer@1.1.0",
        "-o",
        html_pack.to_str().unwrap(),
    ]);

    let pack: Value = serde_json::from_str(&std::fs::read_to_string(&json_pack).unwrap()).unwrap();
    assert_eq!(pack["format"], "promptops-evidence/1");
    assert_eq!(pack["version"]["version"], "1.1.0");
    assert_eq!(pack["version"]["parent"], "1.0.0");
    assert!(
        pack["diff_from_parent"]["source_diff"]
            .as_str()
            .unwrap()
            .contains("+version: 1.1.0"),
        "{}",
        pack["diff_from_parent"]
    );
    assert_eq!(pack["eval_runs"].as_array().unwrap().len(), 1);
    let decision = &pack["requests"][0]["decisions"][0];
    assert_eq!(decision["actor"], "ap");
    assert_eq!(decision["comment"], "read the diff");
    assert_eq!(decision["checklist"][0], "reviewed diff");
    assert_eq!(pack["label_history"][0]["to_version"], "1.1.0");
    // The starter prompt declares its compatibility; nothing is recorded yet.
    assert!(
        pack["compatibility"]["models"].is_array(),
        "{}",
        pack["compatibility"]
    );
    let actions: Vec<&str> = pack["audit"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for needed in [
        "version.published",
        "eval.attached",
        "promotion.requested",
        "promotion.approved",
        "label.moved",
        "redteam.attached",
        "compatibility.recorded",
    ] {
        assert!(actions.contains(&needed), "{needed} not in {actions:?}");
    }
    assert_eq!(
        pack["audit"]["proofs"].as_array().unwrap().len(),
        actions.len()
    );
    assert!(
        !pack["audit"]["earlier"].as_array().unwrap().is_empty(),
        "the server signed at start too"
    );

    // Both files verify offline with the pinned key…
    for file in [&json_pack, &html_pack] {
        let (ok, out) = verify_pack(&ed, file, &key);
        assert!(ok, "{out}");
        assert!(
            out.contains("verified") && out.contains("content hashes to"),
            "{out}"
        );
        assert!(out.contains("extends checkpoint"), "{out}");
    }
    let html = std::fs::read_to_string(&html_pack).unwrap();
    assert!(html.contains("<h1>Evidence pack: support.answer@1.1.0</h1>"));
    assert!(html.contains("read the diff") && html.contains("reviewed diff"));
    assert!(html.contains("<h2>Red team</h2>") && html.contains("LLM01"));
    assert!(!html.contains("<script>") && !html.contains("src=\"http"));

    // …and every kind of tampering is caught.
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "content.json",
            Box::new(|p| p["version"]["content"]["description"] = "edited".into()),
            "the content was edited",
        ),
        (
            "event.json",
            Box::new(|p| p["audit"]["events"][1]["actor"] = "mallory".into()),
            "does not match its hash",
        ),
        (
            "rehashed.json",
            Box::new(|p| {
                // An event edited and re-hashed consistently is still not in the
                // signed log.
                let e = &mut p["audit"]["events"][0];
                e["actor"] = "mallory".into();
                let hash = promptops_store::audit::event_hash(
                    e["prev_hash"].as_str().unwrap(),
                    e["seq"].as_u64().unwrap(),
                    e["at"].as_str().unwrap(),
                    "mallory",
                    e["action"].as_str().unwrap(),
                    e["target"].as_str().unwrap(),
                    &e["details"],
                );
                e["hash"] = hash.into();
            }),
            "not in the log checkpoint",
        ),
        (
            "signature.json",
            Box::new(|p| {
                p["audit"]["checkpoint"]["size"] =
                    (p["audit"]["checkpoint"]["size"].as_u64().unwrap() + 1).into()
            }),
            "signature does not verify",
        ),
    ];
    for (name, edit, expect) in cases {
        let file = tampered(&pack, dir.path(), name, edit);
        let (ok, out) = verify_pack(&ed, &file, &key);
        assert!(!ok, "{name} verified: {out}");
        assert!(
            out.contains(expect) && out.contains("NOT verified"),
            "{name}: {out}"
        );
    }
    let other_key = "11".repeat(32);
    let (ok, out) = verify_pack(&ed, &json_pack, &other_key);
    assert!(!ok && out.contains("not the trusted key"), "{out}");

    // Bad input gets a clear error.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format\": 1}").unwrap();
    let (ok, out) = verify_pack(&ed, &garbage, &key);
    assert!(!ok && out.contains("not an evidence pack"), "{out}");
    let (ok, out) = verify_pack(&ed, &json_pack, "abc");
    assert!(!ok && out.contains("64 hex digits"), "{out}");
    let out = aud.run(&["evidence", "support.answer", "-o", "x.json"]);
    let out = support::text(&out);
    assert!(out.contains("ID@VERSION"), "{out}");

    // Online: every checkpoint recomputed from the whole log.
    let out = admin.ok(&["audit", "verify", "--checkpoints", "--key", &key]);
    assert!(
        out.contains("root and head recomputed from the log match"),
        "{out}"
    );
    assert!(out.contains("verified"), "{out}");
}
