//! The `promptops` binary as a user runs it: exit codes, output formats, files on disk.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn promptops(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .current_dir(dir)
        .env_remove("PROMPTOPS_DENY_WARNINGS")
        .env_remove("PROMPTOPS_FORMAT")
        .env_remove("PROMPTOPS_CONFIG")
        .env_remove("PROMPTOPS_PROMPTS_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("run promptops")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn json_count(o: &Output) -> u64 {
    json(o)["files"].as_u64().unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", stdout(o)))
}

const GOOD: &str = "\
id: team.greet
version: 1.0.0
owner: team
description: Greets someone.
model: openai:gpt-4o-mini
template: |
  Hello {{ name }}!
variables:
  name: {type: string}
";

#[test]
fn init_creates_a_project_that_validates_and_renders() {
    let tmp = TempDir::new().unwrap();
    let o = promptops(tmp.path(), &["init", "demo"]);
    assert_exit(&o, 0);
    for f in [
        "promptops.toml",
        "prompts/support/answer.yaml",
        "evals/support/answer.yaml",
        ".github/workflows/promptops.yml",
    ] {
        assert!(tmp.path().join("demo").join(f).is_file(), "{f} missing");
    }
    let o = promptops(tmp.path(), &["validate", "demo/prompts", "--deny-warnings"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o).trim(), "checked 1 file: 0 errors, 0 warnings");

    let demo = tmp.path().join("demo");
    let o = promptops(
        &demo,
        &[
            "render",
            "support.answer",
            "--var",
            "article=Refunds within 30 days.",
            "--var",
            "question=Refund?",
        ],
    );
    assert_exit(&o, 0);
    let messages: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Refunds within 30 days.")
    );
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("support agent for Acme")
    );
    assert_eq!(messages[1]["content"], "Refund?");

    // A second init refuses to overwrite, unless forced.
    let o = promptops(tmp.path(), &["init", "demo"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("already exist"), "{}", stderr(&o));
    assert_exit(&promptops(tmp.path(), &["init", "demo", "--force"]), 0);
}

#[test]
fn findings_print_as_path_line_column_code() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "prompts/a/b.yaml",
        &GOOD
            .replace("id: team.greet", "id: a.b")
            .replace("Hello {{ name }}!", "Hello {{ name }} from {{ user }}!")
            .replace("owner:", "ownr:"),
    );
    let o = promptops(tmp.path(), &["validate"]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    insta::assert_snapshot!(out, @r"
    prompts/a/b.yaml:1:1: error[E007]: missing required field `owner`
      = help: add `owner: <team or person>` so someone answers for this prompt
    prompts/a/b.yaml:3:1: warning[W101]: unknown prompt field `ownr`
      = help: did you mean `owner`?
    prompts/a/b.yaml:7:28: error[E012]: variable `user` is used but not declared
      = help: declare it under `variables:`, e.g. `user: {type: string, required: true}`
    checked 1 file: 2 errors, 1 warning
    ");
}

#[test]
fn validate_json_has_the_documented_shape() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "prompts/team/greet.yaml", GOOD);
    write(
        tmp.path(),
        "prompts/team/bad.yaml",
        "id: team.bad\nversion: x\n",
    );
    let o = promptops(tmp.path(), &["validate", "--format", "json"]);
    assert_exit(&o, 1);
    let v = json(&o);
    assert_eq!(v["files"], 2);
    assert!(v["errors"].as_u64().unwrap() >= 3);
    let d = &v["diagnostics"][0];
    for key in ["path", "line", "column", "code", "severity", "message"] {
        assert!(d.get(key).is_some(), "{key} missing in {d}");
    }
    assert_eq!(d["path"], "prompts/team/bad.yaml");
    assert_eq!(d["severity"], "error");
}

#[test]
fn warnings_fail_only_when_denied() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "prompts/team/greet.yaml",
        &GOOD.replace("description: Greets someone.\n", ""),
    );
    assert_exit(&promptops(tmp.path(), &["validate"]), 0);
    let o = promptops(tmp.path(), &["validate", "--deny-warnings"]);
    assert_exit(&o, 1);
    assert!(stdout(&o).contains("(warnings denied)"));
    let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["validate"])
        .current_dir(tmp.path())
        .env("PROMPTOPS_DENY_WARNINGS", "true")
        .output()
        .unwrap();
    assert_exit(&o, 1);
    write(
        tmp.path(),
        "promptops.toml",
        "[validate]\ndeny_warnings = true\n",
    );
    assert_exit(&promptops(tmp.path(), &["validate"]), 1);
}

#[test]
fn usage_and_io_errors_exit_2() {
    let tmp = TempDir::new().unwrap();
    let o = promptops(tmp.path(), &["validate", "nowhere"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("nowhere: no such file or folder"),
        "{}",
        stderr(&o)
    );
    let o = promptops(tmp.path(), &["validate"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("promptops init"), "{}", stderr(&o));
    assert_exit(&promptops(tmp.path(), &["validate", "--format", "xml"]), 2);
    assert_exit(&promptops(tmp.path(), &["frobnicate"]), 2);
    write(tmp.path(), "promptops.toml", "[validate]\nexclude = 3\n");
    write(tmp.path(), "prompts/team/greet.yaml", GOOD);
    let o = promptops(tmp.path(), &["validate"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("promptops.toml:2:11"), "{}", stderr(&o));
}

#[test]
fn render_by_file_and_id_with_vars_from_files() {
    let tmp = TempDir::new().unwrap();
    let file = write(tmp.path(), "prompts/team/greet.yaml", GOOD);
    let o = promptops(
        tmp.path(),
        &["render", file.to_str().unwrap(), "--var", "name=Ada"],
    );
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "Hello Ada!\n");
    // Ids compare with `_` and `-` equal, so a file at prompts/my_team/greet.yaml answers to `my-team.greet`.
    write(
        tmp.path(),
        "prompts/my_team/greet.yaml",
        &GOOD.replace("team.greet", "my_team.greet"),
    );
    let o = promptops(tmp.path(), &["render", "my-team.greet", "--var", "name=Bo"]);
    assert_exit(&o, 0);
    let o = promptops(tmp.path(), &["render", "team.greet", "--var", "name=Bo"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "Hello Bo!\n");

    write(tmp.path(), "vars.yaml", "name: Cy\n");
    let o = promptops(tmp.path(), &["render", "team.greet", "--vars", "vars.yaml"]);
    assert_eq!(stdout(&o), "Hello Cy!\n");
    write(tmp.path(), "vars.json", "{\"name\": \"Di\"}");
    let o = promptops(
        tmp.path(),
        &[
            "render",
            "team.greet",
            "--vars",
            "vars.json",
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["rendered"], "Hello Di!\n");
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    // --var wins over the file.
    let o = promptops(
        tmp.path(),
        &[
            "render",
            "team.greet",
            "--vars",
            "vars.json",
            "--var",
            "name=Ed",
        ],
    );
    assert_eq!(stdout(&o), "Hello Ed!\n");
}

#[test]
fn render_errors_are_clear() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "prompts/team/greet.yaml", GOOD);
    let o = promptops(tmp.path(), &["render", "team.greet"]);
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("variable `name`: is required"),
        "{}",
        stderr(&o)
    );
    let o = promptops(tmp.path(), &["render", "team.greet", "--var", "name"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("expected NAME=VALUE"));
    let o = promptops(tmp.path(), &["render", "team.gret", "--var", "name=x"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("did you mean `team.greet`?"),
        "{}",
        stderr(&o)
    );
    write(tmp.path(), "bad.json", "{\"name\": ");
    let o = promptops(tmp.path(), &["render", "team.greet", "--vars", "bad.json"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("bad.json:1:"), "{}", stderr(&o));
    let o = promptops(
        tmp.path(),
        &[
            "render",
            "team.greet",
            "--var",
            "name=x",
            "--var",
            "extra=1",
        ],
    );
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("`extra` is not declared"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hash_ignores_formatting() {
    let tmp = TempDir::new().unwrap();
    let a = write(tmp.path(), "a/prompts/team/greet.yaml", GOOD);
    let reordered = "variables:\n  name:\n    type: 'string'\ntemplate: \"Hello {{ name }}!\\n\"\nmodel: {provider: openai, name: gpt-4o-mini}\ndescription: Greets someone.\nowner: team\nversion: 1\nid: team.greet\n";
    let b = write(tmp.path(), "b/prompts/team/greet.yaml", reordered);
    let c = write(
        tmp.path(),
        "c/prompts/team/greet.yaml",
        &GOOD.replace("Hello", "Hi"),
    );
    let o = promptops(
        tmp.path(),
        &[
            "hash",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            c.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v[0]["hash"], v[1]["hash"]);
    assert_ne!(v[0]["hash"], v[2]["hash"]);
    let o = promptops(tmp.path(), &["hash", a.to_str().unwrap()]);
    let line = stdout(&o);
    assert!(line.starts_with(v[0]["hash"].as_str().unwrap()), "{line}");
    // A file with errors has no hash.
    let bad = write(tmp.path(), "d/prompts/team/greet.yaml", "id: team.greet\n");
    assert_exit(&promptops(tmp.path(), &["hash", bad.to_str().unwrap()]), 1);
}

#[test]
fn diff_between_files_and_git_revisions() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    write(dir, "prompts/team/greet.yaml", GOOD);
    git(&["add", "."]);
    git(&["commit", "-qm", "v1"]);
    // Text change without a version bump: a finding.
    write(dir, "prompts/team/greet.yaml", &GOOD.replace("Hello", "Hi"));
    let o = promptops(
        dir,
        &[
            "diff",
            "HEAD:prompts/team/greet.yaml",
            "prompts/team/greet.yaml",
        ],
    );
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("-Hello {{ name }}!") && out.contains("+Hi {{ name }}!"),
        "{out}"
    );
    assert!(out.contains("semver: not bumped"), "{out}");
    assert!(out.contains("at least 1.1.0"), "{out}");
    // With a fitting bump: ok, and JSON says so.
    write(
        dir,
        "prompts/team/greet.yaml",
        &GOOD
            .replace("Hello", "Hi")
            .replace("1.0.0", "1.1.0")
            .replace("gpt-4o-mini", "gpt-4o"),
    );
    let o = promptops(
        dir,
        &[
            "diff",
            "HEAD:prompts/team/greet.yaml",
            "prompts/team/greet.yaml",
            "--format",
            "json",
        ],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["verdict"]["status"], "fits");
    assert_eq!(v["changes"][0]["path"], "model.name");
    // Unknown revision: an I/O error.
    let o = promptops(
        dir,
        &[
            "diff",
            "nope:prompts/team/greet.yaml",
            "prompts/team/greet.yaml",
        ],
    );
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("git could not read it"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn list_shows_every_prompt() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "prompts/team/greet.yaml",
        &format!("{GOOD}tags: [x, y]\n"),
    );
    write(
        tmp.path(),
        "prompts/team/bye.yaml",
        &GOOD
            .replace("team.greet", "team.bye")
            .replace("1.0.0", "2.1.0"),
    );
    let o = promptops(tmp.path(), &["list", "--format", "json"]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["id"], "team.bye");
    assert_eq!(v[0]["version"], "2.1.0");
    assert_eq!(v[1]["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(v[1]["model"], "openai:gpt-4o-mini");
    let o = promptops(tmp.path(), &["list"]);
    let text = stdout(&o);
    assert!(
        text.lines().next().unwrap().contains("ID") && text.contains("team.greet"),
        "{text}"
    );
}

#[test]
fn duplicate_ids_and_excluded_files() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "prompts/team/greet.yaml", GOOD);
    write(tmp.path(), "prompts/team/greet.yml", GOOD);
    let o = promptops(tmp.path(), &["validate"]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains(
            "error[E013]: id `team.greet` is already declared by prompts/team/greet.yaml"
        ),
        "{}",
        stdout(&o)
    );
    write(
        tmp.path(),
        "promptops.toml",
        "[validate]\nexclude = [\"*.yml\"]\n",
    );
    assert_exit(&promptops(tmp.path(), &["validate"]), 0);
}

#[test]
fn config_show_prints_the_server_settings_with_passwords_redacted() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "promptops.toml",
        "[server]\naddr = \"0.0.0.0:9000\"\nredis_url = \"redis://:cachepw@cache:6379\"\npostgres_pool_size = 4\n",
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_promptops"))
            .args(args)
            .current_dir(tmp.path())
            .env("PROMPTOPS_DATABASE_URL", "postgres://app:dbpw@db:5432/reg")
            .env("PROMPTOPS_MAX_VERSION_BYTES", "4096")
            .env_remove("PROMPTOPS_ADDR")
            .env_remove("PROMPTOPS_REDIS_URL")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    for format in ["json", "text"] {
        let o = run(&["config", "show", "--format", format]);
        assert_exit(&o, 0);
        let out = stdout(&o);
        assert!(!out.contains("dbpw") && !out.contains("cachepw"), "{out}");
        assert!(out.contains("app:***@db:5432/reg"), "{out}");
    }
    let v = json(&run(&["config", "show", "--format", "json"]));
    assert_eq!(v["server"]["addr"], "0.0.0.0:9000", "from promptops.toml");
    assert_eq!(
        v["server"]["max_version_bytes"], 4096,
        "from the environment"
    );
    assert_eq!(v["server"]["postgres_pool_size"], 4);
    assert_eq!(v["server"]["redis_url"], "redis://:***@cache:6379");
    // A bad value names its variable.
    let o = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["config", "show"])
        .current_dir(tmp.path())
        .env("PROMPTOPS_SQLITE_POOL_SIZE", "lots")
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("PROMPTOPS_SQLITE_POOL_SIZE is `lots`"));
}

#[test]
fn config_show_reports_the_effective_settings() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "promptops.toml",
        "[project]\nname = \"x\"\nprompts_dir = \"lib/prompts\"\n",
    );
    let o = promptops(tmp.path(), &["config", "show", "--format", "json"]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["project"]["prompts_dir"], "lib/prompts");
    assert_eq!(
        v["compliance"]["required_fields"]["high"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // The prompts folder setting is used, also from a subfolder.
    write(tmp.path(), "lib/prompts/team/greet.yaml", GOOD);
    std::fs::create_dir_all(tmp.path().join("sub")).unwrap();
    let o = promptops(&tmp.path().join("sub"), &["validate"]);
    assert_exit(&o, 0);
    // A folder with another name gives ids too; so does running inside it.
    write(
        tmp.path(),
        "promptops.toml",
        "[project]\nprompts_dir = \"library\"\n",
    );
    write(
        tmp.path(),
        "library/team/greet.yaml",
        &GOOD.replace("team.greet", "team.wrong"),
    );
    let o = promptops(tmp.path(), &["validate"]);
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("which gives `team.greet`"),
        "{}",
        stdout(&o)
    );
    let o = promptops(&tmp.path().join("lib/prompts"), &["validate", "."]);
    assert_exit(&o, 0);
    write(
        tmp.path(),
        "lib/prompts/team/greet.yaml",
        &GOOD.replace("team.greet", "team.wrong"),
    );
    let o = promptops(&tmp.path().join("lib/prompts/team"), &["validate", "."]);
    assert_exit(&o, 1);
    assert!(stdout(&o).contains("E011"), "{}", stdout(&o));
    // The same file named twice is checked once (no duplicate id with itself).
    let o = promptops(
        tmp.path(),
        &[
            "validate",
            "library",
            "./library/team/greet.yaml",
            "library/team",
        ],
    );
    assert_eq!(
        json_count(&promptops(
            tmp.path(),
            &[
                "validate",
                "library",
                "./library/team/greet.yaml",
                "--format",
                "json"
            ]
        )),
        1
    );
    assert!(!stdout(&o).contains("E013"), "{}", stdout(&o));
}

/// The real prompt-governance repository in ../shared, as its users wrote it.
#[test]
fn seed_governance_repo_is_handled_as_it_is() {
    let seed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/seed-governance-repo");
    if !seed.is_dir() {
        if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some() {
            panic!(
                "{} is required here (it sits beside the repository)",
                seed.display()
            );
        }
        eprintln!(
            "skipped: {} not found (it sits beside the repository in CI)",
            seed.display()
        );
        return;
    }
    let o = promptops(&seed, &["validate", "--format", "json"]);
    let v = json(&o);
    // The promptfoo suites under prompts/ are recognised and passed over.
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(skipped.iter().all(|p| p.contains("evalsuite")));
    // Its empty card and change-log files are reported as empty, nothing else.
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.iter().all(|c| *c == "E002"), "{codes:?}");
    assert_eq!(codes.len(), 4);
}
