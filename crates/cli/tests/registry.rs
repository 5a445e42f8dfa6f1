//! End to end: the real `promptops serve` on an ephemeral port (SQLite, then the real
//! PostgreSQL server), driven by the CLI as a user would: push v1 → promote dev →
//! staging → prod → push v2 → promote to prod → resolve gives v2 → rollback → resolve
//! gives v1 → history shows every move → audit verify is ok.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use tempfile::TempDir;

/// A running `promptops serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start promptops serve");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    // "promptops registry listening on http://127.0.0.1:PORT (...)"
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in the server's first line: {line:?}"))
        .to_owned();
    Server { child, url }
}

fn promptops(dir: &Path, registry: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PROMPTOPS_REGISTRY", registry)
        .env("PROMPTOPS_ACTOR", "alice@example.com")
        .env("PROMPTOPS_CACHE", "0")
        .output()
        .expect("run promptops")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a command that must succeed and returns its stdout.
fn ok(dir: &Path, registry: &str, args: &[&str]) -> String {
    let o = promptops(dir, registry, args);
    assert!(o.status.success(), "promptops {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(dir: &Path, registry: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(dir, registry, &all)).unwrap()
}

/// A starter project (its prompt is `support.answer` 1.0.0).
fn project(tmp: &TempDir) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["init", "demo"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    tmp.path().join("demo")
}

fn walk_the_lifecycle(server: &Server, repo: &Path) {
    let r = server.url.as_str();
    let out = ok(repo, r, &["push"]);
    assert!(out.contains("created   support.answer@1.0.0"), "{out}");
    let out = ok(repo, r, &["push"]);
    assert!(
        out.contains("unchanged support.answer@1.0.0"),
        "pushing again changes nothing: {out}"
    );

    for env in ["dev", "staging", "prod"] {
        let out = ok(repo, r, &["promote", "support.answer", "--to", env]);
        assert!(
            out.contains(&format!("in {env}: (nothing) → 1.0.0")),
            "{out}"
        );
    }

    let file = repo.join("prompts/support/answer.yaml");
    let v1 = std::fs::read_to_string(&file).unwrap();
    let v2 = v1.replace("version: 1.0.0", "version: 1.1.0").replace(
        "Answer only from the article",
        "Answer briefly, only from the article",
    );
    assert_ne!(v1, v2);
    std::fs::write(&file, v2).unwrap();
    let pushed = json(repo, r, &["push"]);
    assert_eq!(pushed["created"], 1, "{pushed}");
    assert_eq!(pushed["prompts"][0]["version"], "1.1.0");
    ok(
        repo,
        r,
        &[
            "promote",
            "support.answer",
            "--to",
            "prod",
            "--version",
            "1.1.0",
            "--reason",
            "shorter answers",
        ],
    );

    let served = json(repo, r, &["get", "support.answer", "--env", "prod"]);
    assert_eq!(served["version"], "1.1.0");
    assert_eq!(served["parent"], "1.0.0");
    assert_eq!(served["author"], "alice@example.com");
    let hash = ok(repo, r, &["hash", "prompts/support/answer.yaml"]);
    assert!(
        hash.contains(served["content_hash"].as_str().unwrap()),
        "the registry's hash is `promptops hash`'s: {hash} vs {served}"
    );

    let out = ok(
        repo,
        r,
        &[
            "rollback",
            "support.answer",
            "--env",
            "prod",
            "--reason",
            "complaints",
        ],
    );
    assert!(out.contains("in prod: 1.1.0 → 1.0.0"), "{out}");
    assert_eq!(
        json(repo, r, &["get", "support.answer", "--env", "prod"])["version"],
        "1.0.0"
    );
    let rendered = ok(
        repo,
        r,
        &[
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
        ],
    );
    assert!(rendered.contains("Acme"), "{rendered}");

    let history = json(repo, r, &["history", "support.answer"]);
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

    let diff = ok(repo, r, &["diff", "support.answer", "1.0.0", "1.1.0"]);
    assert!(
        diff.contains("+version: 1.1.0") && diff.contains("Answer briefly"),
        "{diff}"
    );
    let diff = json(repo, r, &["diff", "support.answer", "1.0.0", "1.1.0"]);
    assert_eq!(diff["diff"]["verdict"]["status"], "fits", "{diff}");

    let verified = json(repo, r, &["audit", "verify"]);
    assert_eq!(verified["ok"], true, "{verified}");
    // project, 2 versions, 5 label moves
    assert_eq!(verified["events"], 8);
    ok(repo, r, &["audit", "head", "-o", "head.json"]);
    let out = ok(repo, r, &["audit", "verify", "--head", "head.json"]);
    assert!(out.contains("matches the kept head"), "{out}");
    let events = json(repo, r, &["audit", "list"]);
    assert_eq!(events.as_array().unwrap().len(), 8);

    // The starter suite runs offline; its result attaches to the version it tested.
    let out = ok(repo, r, &["eval", "--publish"]);
    assert!(
        out.contains("published eval run #1 of support.answer@1.1.0"),
        "{out}"
    );
    assert_eq!(json(repo, r, &["audit", "verify"])["events"], 9);
}

fn refusals_are_clear_and_change_nothing(server: &Server, repo: &Path) {
    let r = server.url.as_str();
    let before = json(repo, r, &["audit", "verify"])["events"].clone();
    let o = promptops(
        repo,
        r,
        &[
            "rollback",
            "support.answer",
            "--env",
            "prod",
            "--to",
            "9.9.9",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("was never live in prod"),
        "{}",
        text(&o)
    );
    let o = promptops(
        repo,
        r,
        &[
            "promote",
            "support.nothing",
            "--to",
            "dev",
            "--version",
            "1.0.0",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not found"),
        "{}",
        text(&o)
    );
    let o = promptops(repo, r, &["promote", "support.answer", "--to", "qa"]);
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
    let o = promptops(repo, r, &["push"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already exists with other content"),
        "{}",
        text(&o)
    );
    assert_eq!(json(repo, r, &["audit", "verify"])["events"], before);
}

#[test]
fn lifecycle_on_the_embedded_sqlite_registry() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server_dir = TempDir::new().unwrap();
    let server = serve(server_dir.path(), &[]);
    walk_the_lifecycle(&server, &repo);
    refusals_are_clear_and_change_nothing(&server, &repo);
    assert!(
        server_dir.path().join(".promptops/registry.db").is_file(),
        "the default database file"
    );
}

#[test]
fn lifecycle_on_postgresql() {
    let url = std::env::var("PROMPTOPS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    static N: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "e2e_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    if std::net::TcpStream::connect(pg_addr(&url)).is_err() {
        if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some() {
            panic!("PostgreSQL required (PROMPTOPS_REQUIRE_SERVICES is set) at {url}");
        }
        eprintln!(
            "skipped lifecycle_on_postgresql: PostgreSQL not reachable at {url}; set PROMPTOPS_TEST_PG_URL"
        );
        return;
    }
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server = serve(
        tmp.path(),
        &["--database-url", &url, "--database-schema", &schema],
    );
    walk_the_lifecycle(&server, &repo);
    refusals_are_clear_and_change_nothing(&server, &repo);
    drop(server);
    let o = Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP SCHEMA \"{schema}\" CASCADE"),
        ])
        .output();
    if !o.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("note: could not drop schema {schema}: {o:?}");
    }
}

/// host:port of a postgres:// URL.
fn pg_addr(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.rsplit('@').next().unwrap_or(rest);
    let host = host.split('/').next().unwrap_or(host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}
