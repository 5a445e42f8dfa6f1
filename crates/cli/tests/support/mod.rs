//! What the end-to-end tests share: a real `promptops serve` on an ephemeral port (with
//! a known first-admin password), the CLI run as one user or another (each with their
//! own saved session), and the PostgreSQL switch.
#![allow(dead_code)]

pub mod openai_echo;
pub mod outage;
pub mod receiver;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use tempfile::TempDir;

pub const ADMIN_PASSWORD: &str = "first-admin-password";

/// A running `promptops serve`, killed when dropped. Its log goes to `log`.
pub struct Server {
    child: Child,
    pub url: String,
    pub log: PathBuf,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn serve(dir: &Path, extra: &[&str]) -> Server {
    serve_with_env(dir, extra, &[])
}

/// `serve` with these environment variables set.
pub fn serve_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let logs = TempDir::new().unwrap();
    let log = logs.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("PROMPTOPS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("PROMPTOPS_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start promptops serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!(
                "the server stopped before listening: {seen}{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        seen.push_str(&line);
        // "promptops registry listening on http://127.0.0.1:PORT (...)"
        if line.contains("listening on") {
            break line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap()
                .to_owned();
        }
    };
    Server {
        child,
        url,
        log,
        _dir: logs,
    }
}

/// The CLI as one user: their own config folder (saved session) in a temp dir.
pub struct As {
    pub repo: PathBuf,
    pub registry: String,
    config: TempDir,
    pub token: Option<String>,
}

impl As {
    pub fn anonymous(repo: &Path, registry: &str) -> As {
        As {
            repo: repo.to_path_buf(),
            registry: registry.to_owned(),
            config: TempDir::new().unwrap(),
            token: None,
        }
    }

    /// Logs `user` in with `password`.
    pub fn login(repo: &Path, registry: &str, user: &str, password: &str) -> As {
        let me = As::anonymous(repo, registry);
        let o = me.run_with_stdin(&["login", "--user", user, "--password-stdin"], password);
        assert!(o.status.success(), "login {user}: {}", text(&o));
        me
    }

    pub fn config_dir(&self) -> &Path {
        self.config.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_promptops"));
        c.args(args)
            .current_dir(&self.repo)
            .env("NO_COLOR", "1")
            .env("PROMPTOPS_REGISTRY", &self.registry)
            .env("PROMPTOPS_CONFIG_DIR", self.config.path())
            .env("PROMPTOPS_CACHE", "0")
            .env_remove("PROMPTOPS_TOKEN");
        if let Some(t) = &self.token {
            c.env("PROMPTOPS_TOKEN", t);
        }
        c
    }

    /// Starts a command that keeps running (a follow), its stdout piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start promptops")
    }

    /// Runs a command with these environment variables set.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run promptops")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run promptops")
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{input}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "promptops {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs a command that must be refused (exit 1); its stdout and stderr together.
    pub fn refused(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "promptops {args:?} should be refused: {}",
            text(&o)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    /// Pushes `version` of the starter prompt (`prompts/support/answer.yaml`), with
    /// `from` replaced by `to` in its text; the file keeps the new version.
    pub fn push_answer_version(&self, version: &str, from: &str, to: &str) {
        let file = self.repo.join("prompts/support/answer.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        let current = text
            .lines()
            .find_map(|l| l.strip_prefix("version: "))
            .unwrap()
            .to_owned();
        let next = text
            .replace(
                &format!("version: {current}"),
                &format!("version: {version}"),
            )
            .replace(from, to);
        std::fs::write(&file, next).unwrap();
        self.ok(&["push"]);
    }

    /// Creates a user (as an admin) with a password and roles.
    pub fn add_user(&self, name: &str, password: &str, roles: &[&str], teams: &[&str]) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        for r in roles {
            args.extend(["--role", r]);
        }
        for t in teams {
            args.extend(["--team", t]);
        }
        let o = self.run_with_stdin(&args, password);
        assert!(o.status.success(), "user add {name}: {}", text(&o));
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A starter project (its prompt is `support.answer` 1.0.0).
pub fn project(tmp: &TempDir) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["init", "demo"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    tmp.path().join("demo")
}

/// A schema of the shared PostgreSQL, dropped when this guard is — also when the test
/// panics. Declare it before the server that uses it, so the server stops first.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        drop_schema(&self.url, &self.name);
    }
}

/// The PostgreSQL URL and a fresh schema (dropped with the guard), or `None` (with one
/// skipped line) when it is unreachable and not required.
pub fn postgres(test: &str) -> Option<PgSchema> {
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
        eprintln!("skipped {test}: PostgreSQL not reachable at {url}; set PROMPTOPS_TEST_PG_URL");
        return None;
    }
    Some(PgSchema { url, name: schema })
}

fn drop_schema(url: &str, schema: &str) {
    let o = Command::new("psql")
        .args([
            url,
            "-qc",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
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
