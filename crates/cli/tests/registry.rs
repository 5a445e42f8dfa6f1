//! End to end: the real `promptops serve` on an ephemeral port (SQLite, then the real
//! PostgreSQL server), driven by the CLI as a user would: push v1 → promote dev →
//! staging → prod → push v2 → promote to prod → resolve gives v2 → rollback → resolve
//! gives v1 → history shows every move → audit verify is ok.

mod support;

use std::path::Path;
use support::{As, Server, postgres, project, serve, text};
use tempfile::TempDir;

/// Alice: admin of every project, logged in through the CLI.
fn alice(server: &Server, repo: &Path) -> As {
    let admin = As::login(repo, &server.url, "admin", support::ADMIN_PASSWORD);
    admin.add_user("alice@example.com", "alice-password-1", &["*=admin"], &[]);
    As::login(repo, &server.url, "alice@example.com", "alice-password-1")
}

fn walk_the_lifecycle(a: &As) {
    let out = a.ok(&["push"]);
    assert!(out.contains("created   support.answer@1.0.0"), "{out}");
    let out = a.ok(&["push"]);
    assert!(
        out.contains("unchanged support.answer@1.0.0"),
        "pushing again changes nothing: {out}"
    );

    for env in ["dev", "staging", "prod"] {
        let out = a.ok(&["promote", "support.answer", "--to", env]);
        assert!(
            out.contains(&format!("in {env}: (nothing) → 1.0.0")),
            "{out}"
        );
    }

    let file = a.repo.join("prompts/support/answer.yaml");
    let v1 = std::fs::read_to_string(&file).unwrap();
    let v2 = v1.replace("version: 1.0.0", "version: 1.1.0").replace(
        "Answer only from the article",
        "Answer briefly, only from the article",
    );
    assert_ne!(v1, v2);
    std::fs::write(&file, v2).unwrap();
    let pushed = a.json(&["push"]);
    assert_eq!(pushed["created"], 1, "{pushed}");
    assert_eq!(pushed["prompts"][0]["version"], "1.1.0");
    a.ok(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--version",
        "1.1.0",
        "--reason",
        "shorter answers",
    ]);

    let served = a.json(&["get", "support.answer", "--env", "prod"]);
    assert_eq!(served["version"], "1.1.0");
    assert_eq!(served["parent"], "1.0.0");
    assert_eq!(served["author"], "alice@example.com");
    let hash = a.ok(&["hash", "prompts/support/answer.yaml"]);
    assert!(
        hash.contains(served["content_hash"].as_str().unwrap()),
        "the registry's hash is `promptops hash`'s: {hash} vs {served}"
    );

    let out = a.ok(&[
        "rollback",
        "support.answer",
        "--env",
        "prod",
        "--reason",
        "complaints",
    ]);
    assert!(out.contains("in prod: 1.1.0 → 1.0.0"), "{out}");
    assert_eq!(
        a.json(&["get", "support.answer", "--env", "prod"])["version"],
        "1.0.0"
    );
    let rendered = a.ok(&[
        "get",
        "support.answer",
        "--env",
        "prod",
        "--render",
        "--var",
        "company=Acme",
        "--var",
        "question=Hi?",
        "--var",
        "article=Text.",
    ]);
    assert!(rendered.contains("Acme"), "{rendered}");

    let history = a.json(&["history", "support.answer"]);
    let moves: Vec<(String, String, String, String)> = history["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["environment"].as_str().unwrap().to_owned(),
                m["from_version"].as_str().unwrap_or("-").to_owned(),
                m["to_version"].as_str().unwrap().to_owned(),
                m["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
    };
    assert_eq!(
        moves,
        vec![
            s("dev", "-", "1.0.0", "promote"),
            s("staging", "-", "1.0.0", "promote"),
            s("prod", "-", "1.0.0", "promote"),
            s("prod", "1.0.0", "1.1.0", "promote"),
            s("prod", "1.1.0", "1.0.0", "rollback"),
        ]
    );
    assert_eq!(history["moves"][4]["reason"], "complaints");
    assert_eq!(history["moves"][4]["actor"], "alice@example.com");
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);

    let diff = a.ok(&["diff", "support.answer", "1.0.0", "1.1.0"]);
    assert!(
        diff.contains("+version: 1.1.0") && diff.contains("Answer briefly"),
        "{diff}"
    );
    let diff = a.json(&["diff", "support.answer", "1.0.0", "1.1.0"]);
    assert_eq!(diff["diff"]["verdict"]["status"], "fits", "{diff}");

    let verified = a.json(&["audit", "verify"]);
    assert_eq!(verified["ok"], true, "{verified}");
    // the first admin and alice, project, 2 versions, 5 label moves
    assert_eq!(verified["events"], 10);
    a.ok(&["audit", "head", "-o", "head.json"]);
    let out = a.ok(&["audit", "verify", "--head", "head.json"]);
    assert!(out.contains("matches the kept head"), "{out}");
    let events = a.json(&["audit", "list"]);
    assert_eq!(events.as_array().unwrap().len(), 10);

    // The starter suite runs offline; its result attaches to the version it tested.
    let out = a.ok(&["eval", "--publish"]);
    assert!(
        out.contains("published eval run #1 of support.answer@1.1.0"),
        "{out}"
    );
    assert_eq!(a.json(&["audit", "verify"])["events"], 11);
}

fn refusals_are_clear_and_change_nothing(a: &As) {
    let repo = a.repo.as_path();
    let before = a.json(&["audit", "verify"])["events"].clone();
    let o = a.run(&[
        "rollback",
        "support.answer",
        "--env",
        "prod",
        "--to",
        "9.9.9",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("was never live in prod"),
        "{}",
        text(&o)
    );
    let o = a.run(&[
        "promote",
        "support.nothing",
        "--to",
        "dev",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not found"),
        "{}",
        text(&o)
    );
    let o = a.run(&[
        "promote",
        "support.answer@1.0.0",
        "--to",
        "dev",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("names version 1.0.0 but --version says 2.0.0"),
        "{}",
        text(&o)
    );
    let o = a.run(&["promote", "support.answer", "--to", "qa"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown environment `qa`"),
        "{}",
        text(&o)
    );
    // Same version number, other content: refused, and the push says which.
    let file = repo.join("prompts/support/answer.yaml");
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("Answer briefly", "Answer tersely");
    std::fs::write(&file, edited).unwrap();
    let o = a.run(&["push"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already exists with other content"),
        "{}",
        text(&o)
    );
    assert_eq!(a.json(&["audit", "verify"])["events"], before);
}

#[test]
fn lifecycle_on_the_embedded_sqlite_registry() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server_dir = TempDir::new().unwrap();
    let server = serve(server_dir.path(), &[]);
    let a = alice(&server, &repo);
    walk_the_lifecycle(&a);
    refusals_are_clear_and_change_nothing(&a);
    assert!(
        server_dir.path().join(".promptops/registry.db").is_file(),
        "the default database file"
    );
}

#[test]
fn lifecycle_on_postgresql() {
    let Some(pg) = postgres("lifecycle_on_postgresql") else {
        return;
    };
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server = serve(
        tmp.path(),
        &["--database-url", &pg.url, "--database-schema", &pg.name],
    );
    let a = alice(&server, &repo);
    walk_the_lifecycle(&a);
    refusals_are_clear_and_change_nothing(&a);
    drop(server);
}
