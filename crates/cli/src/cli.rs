//! Command-line arguments. Parsing only: each command lives in `commands/`.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "promptops",
    version,
    about = "Prompts as governed production code: validate, render, diff and hash prompt files.",
    after_help = "Exit codes: 0 ok, 1 findings or failure, 2 usage or I/O error."
)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text, env = "PROMPTOPS_FORMAT")]
    pub format: Format,

    /// The project file (default: the nearest promptops.toml in this folder or above).
    #[arg(
        long = "project-config",
        global = true,
        value_name = "FILE",
        env = "PROMPTOPS_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// The registry's URL, for the registry commands (or `[registry] url` in promptops.toml).
    #[arg(long, global = true, value_name = "URL", env = "PROMPTOPS_REGISTRY")]
    pub registry: Option<String>,

    /// A session token or API key for the registry (default: the session `promptops
    /// login` saved for this registry).
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "PROMPTOPS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a working starter project: promptops.toml, a prompt, an eval suite, a CI workflow.
    Init {
        /// Folder to create the project in.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
    /// Check prompt files against every rule and report all findings.
    Validate {
        /// Files or folders (default: the project's prompts/ folder).
        paths: Vec<PathBuf>,
        /// Fail on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Folder that ids are computed from (default: the nearest `prompts/` above each file).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Render a prompt with variables.
    Render {
        /// A prompt file, or a prompt id looked up in the project's prompts/ folder.
        prompt: String,
        /// A variable, `name=value` (repeatable). Lists and objects take JSON.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// A JSON or YAML file with a mapping of variables (`--var` wins over it).
        #[arg(long = "vars", value_name = "FILE")]
        vars_file: Option<PathBuf>,
        /// Folder that ids are computed from.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Show what changed between two versions of a prompt and whether the semver bump fits:
    /// `diff OLD NEW` compares files (`REV:path` for a file in a git revision);
    /// `diff ID V1 V2` compares two versions published to the registry.
    Diff {
        #[arg(num_args = 2..=3, required = true, value_name = "OLD NEW | ID V1 V2")]
        args: Vec<String>,
    },
    /// Print the SHA-256 of each prompt's canonical content.
    Hash {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the prompts: id, version, owner, model, tags.
    List {
        /// Files or folders (default: the project's prompts/ folder).
        paths: Vec<PathBuf>,
        /// Folder that ids are computed from.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Run an eval suite (promptfoo config format) against model providers.
    Eval(EvalArgs),
    /// Attack a prompt with an injection and jailbreak suite generated from its variables
    /// (direct, indirect through retrieved content, encoded, multi-turn), each case mapped
    /// to an OWASP Top 10 for LLM Applications 2025 risk, judged without a grader model.
    /// Prints the attack success rate per risk; exits 100 (PROMPTOPS_FAILED_TEST_EXIT_CODE)
    /// when the prompt's metrics.max_attack_success_rate or max_pii_leaks is exceeded, 1 on
    /// errors. See docs/redteam.md.
    Redteam(RedteamArgs),
    /// Run the registry server: JSON API under /v1, OpenAPI at /openapi.json. With no
    /// flags it creates and uses ./.promptops/registry.db (SQLite). Settings come from
    /// `[server]` in promptops.toml, then PROMPTOPS_* variables, then these flags
    /// (`promptops config show` prints the result).
    Serve(ServeArgs),
    /// Publish every changed prompt file to the registry (prints created/unchanged).
    Push {
        /// Files or folders (default: the project's prompts/ folder).
        paths: Vec<PathBuf>,
        /// Folder that ids are computed from.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Fetch a prompt from the registry: what an environment serves, or a version.
    Get {
        id: String,
        /// The environment whose version to fetch.
        #[arg(long, conflicts_with = "version")]
        env: Option<String>,
        /// A version (default: the latest).
        #[arg(long)]
        version: Option<String>,
        /// Render it with `--var`/`--vars` instead of printing the file.
        #[arg(long)]
        render: bool,
        #[arg(long = "var", value_name = "NAME=VALUE", requires = "render")]
        vars: Vec<String>,
        #[arg(long = "vars", value_name = "FILE", requires = "render")]
        vars_file: Option<PathBuf>,
    },
    /// Every version of a prompt and every move of its labels.
    History {
        id: String,
        /// Only this environment's moves.
        #[arg(long)]
        env: Option<String>,
    },
    /// Where each environment's label points.
    Labels { id: String },
    /// Pack everything an environment serves into one checksummed (and, with a signing
    /// key, signed) file that applications load without a registry; or check one.
    Bundle {
        /// The environment to pack.
        #[arg(long, required_unless_present_any = ["verify", "new_signing_key"])]
        env: Option<String>,
        /// Where to write the bundle.
        #[arg(short = 'o', long, value_name = "FILE", requires = "env")]
        output: Option<PathBuf>,
        /// Check a bundle (its checksum, and its signature when it has one) instead.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["env", "output"])]
        verify: Option<PathBuf>,
        /// Sign with the Ed25519 key in this file.
        #[arg(long, value_name = "FILE", env = "PROMPTOPS_BUNDLE_SIGNING_KEY")]
        signing_key: Option<PathBuf>,
        /// With --verify: require a signature by this public key (hex).
        #[arg(long, value_name = "HEX", requires = "verify")]
        public_key: Option<String>,
        /// Write a new signing key to FILE (owner-only) and print its public key.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["env", "verify"])]
        new_signing_key: Option<PathBuf>,
    },
    /// Promote a version to an environment through its policy (default version: what
    /// the environment before it serves, or the latest for the first environment). When
    /// a gate is unmet, every gate is listed and, if approvals are needed, a request opens.
    Promote {
        /// The prompt id, or `ID@VERSION` for a version.
        #[arg(value_name = "ID[@VERSION]")]
        id: String,
        /// The environment to promote to.
        #[arg(long = "to", value_name = "ENV")]
        to: String,
        /// The version (or give it as `ID@VERSION`).
        #[arg(long)]
        version: Option<String>,
        /// Why (kept with the move).
        #[arg(long)]
        reason: Option<String>,
        /// Show the gates and their state; change nothing.
        #[arg(long, conflicts_with = "override_reason")]
        dry_run: bool,
        /// Admins: move even though gates are unmet. The reason is kept on the move, the
        /// environment and the audit log for ever.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
    },
    /// Log in to the registry; the session is saved (0600) in the user's config folder.
    Login {
        /// User name (default: asked).
        #[arg(long)]
        user: Option<String>,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the saved session on the registry and forget it (`--all`: every session of
    /// yours, on every machine).
    Logout {
        #[arg(long)]
        all: bool,
    },
    /// Who the registry takes you for, and your roles.
    Whoami,
    /// Manage users (admins of every project).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API keys (shown once at creation).
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// A prompt's calls per version, as applications reported them: calls, errors,
    /// latency p50/p95/p99, tokens and cost (totals, and a row per step with --step).
    Metrics {
        id: String,
        /// One environment (default: all of them).
        #[arg(long)]
        env: Option<String>,
        /// Start, RFC 3339 (default: a day before --to).
        #[arg(long)]
        from: Option<String>,
        /// End, RFC 3339 (default: now).
        #[arg(long)]
        to: Option<String>,
        /// Also a row per `minute`, `hour` or `day`.
        #[arg(long)]
        step: Option<String>,
    },
    /// Write a self-contained HTML report of the project's prompt calls (charts per
    /// prompt and version: calls, error rate, p95 latency, cost) for those who prefer a file.
    Dashboard {
        /// Where to write it.
        #[arg(
            short = 'o',
            long,
            value_name = "FILE",
            default_value = "dashboard.html"
        )]
        output: PathBuf,
        /// One environment (default: all of them).
        #[arg(long)]
        env: Option<String>,
        /// Days back from now (default 7; a point per hour up to 2 days, else per day).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Execution events as applications report them.
    Log {
        #[command(subcommand)]
        action: LogAction,
    },
    /// Alerts of the registry project: cost over a prompt's budgets, a newly promoted
    /// version failing or slower than the one it replaced, output drift (a table of the
    /// firing ones by default).
    #[command(args_conflicts_with_subcommands = true)]
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        /// Only this prompt's alerts.
        #[arg(long)]
        prompt: Option<String>,
        /// Only this environment's.
        #[arg(long)]
        env: Option<String>,
        /// `firing` (the default), `resolved` or `all`.
        #[arg(long, default_value = "firing", value_parser = ["firing", "resolved", "all"])]
        state: String,
        /// JSON instead of a table (as `--format json`).
        #[arg(long)]
        json: bool,
    },
    /// Outbound webhooks of the registry project (admins): signed HTTP POSTs on
    /// version, label and approval events, retried, with a delivery log.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Environment policies: check them offline, push them, show them.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Promotion requests waiting for (or done with) approvals.
    Requests {
        #[command(subcommand)]
        action: RequestsAction,
    },
    /// Approve a promotion request (never your own: separation of duties).
    Approve {
        request: u64,
        #[arg(long)]
        comment: Option<String>,
        /// A checklist item you have done (repeatable; the policy names them).
        #[arg(long = "check", value_name = "ITEM")]
        checks: Vec<String>,
    },
    /// Reject a promotion request, saying why.
    Reject {
        request: u64,
        #[arg(long)]
        comment: String,
    },
    /// Withdraw a promotion request you made.
    Withdraw {
        request: u64,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Compare the repo (prompt files, policies/, [environments.*] pins in
    /// promptops.toml) with the registry and print what `apply` would do.
    Plan,
    /// Do what `plan` prints: publish versions, update policies, move labels; stop at
    /// the first blocked move and say why.
    Apply {
        /// Do not ask for confirmation (for CI).
        #[arg(long)]
        yes: bool,
    },
    /// Move an environment back to the version it served before (or to --to).
    Rollback {
        id: String,
        #[arg(long)]
        env: String,
        /// A version that was live in the environment before.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// One version's evidence pack: content and hash, lineage and diff from the parent,
    /// compliance completeness, eval runs, red-team reports, compatibility, approvals
    /// with checklists and comments, label history, and its audit events with inclusion
    /// proofs against a signed checkpoint (verify with `audit verify --checkpoints --pack`).
    Evidence {
        /// `ID@VERSION`.
        target: String,
        /// Write the pack here: `.json`, or `.html` (self-contained; the JSON is inside
        /// it, so `--pack pack.html` verifies too). Without it: the JSON on stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The registry's audit log: list it, verify its hash chain, export its head.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Show the configuration in effect.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user (the password is asked, or read from stdin with --password-stdin).
    Add {
        name: String,
        /// A team approval rules can ask for (repeatable), e.g. `security`.
        #[arg(long = "team")]
        teams: Vec<String>,
        /// A role: `PROJECT=ROLE` (repeatable; `*=admin` for every project).
        #[arg(long = "role", value_name = "PROJECT=ROLE")]
        roles: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    /// Disable a user: their sessions and keys stop working at once.
    Disable {
        name: String,
    },
    /// Enable a disabled user (their old sessions and keys stay dead).
    Enable {
        name: String,
    },
    /// End every session of a user: their tokens stop working at once.
    EndSessions {
        name: String,
    },
    /// Give a user a role in a project (default: the registry project; `*`: every project).
    Grant {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        project: Option<String>,
    },
    /// Take a user's role in a project away.
    Revoke {
        name: String,
        #[arg(long)]
        project: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Follow the project's events as they arrive (the last few first); Ctrl-C stops.
    Tail {
        /// Only this prompt's events.
        #[arg(long)]
        prompt: Option<String>,
        /// Only this environment's.
        #[arg(long)]
        env: Option<String>,
        /// Events shown before following (default 10).
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Print what is there and stop instead of following.
        #[arg(long)]
        no_follow: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Evaluate the alert rules now (approvers; the server does it every minute) and
    /// print what is firing.
    Evaluate,
    /// Print the project's alert settings, or change them (admins):
    /// `--set min_sample=300 --set alpha=0.05`.
    Settings {
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Subscribe URL to events (default: every type); the signing secret is printed
    /// once.
    Add {
        url: String,
        /// An event type (repeatable): version.published, label.moved,
        /// label.rolled_back, label.overridden, approval.requested, approval.granted,
        /// approval.rejected, alert.fired, alert.resolved, or `*`.
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// The project's subscriptions (never their secrets).
    List,
    /// Delete a subscription; nothing more is sent to it.
    Remove { id: String },
    /// Send a test event now and wait for its outcome.
    Test {
        id: String,
        /// How long to wait for the outcome, in seconds (0: do not wait).
        #[arg(long, default_value_t = 15)]
        wait: u64,
    },
    /// A subscription's deliveries, newest first, with each attempt.
    Deliveries {
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Create a key for the registry project with a role (at most yours); printed once.
    Create {
        #[arg(long)]
        name: String,
        /// `viewer` (apps reading prompts), `ingest` (apps reporting executions, nothing
        /// else), `editor` (CI), `approver` or `admin`.
        #[arg(long)]
        role: String,
        #[arg(long)]
        project: Option<String>,
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        /// A key for CI: eval runs attached with it count where a policy asks for
        /// `evals: {attached_by: ci}`.
        #[arg(long)]
        ci: bool,
    },
    /// Your keys (with --all, everyone's: admins of every project).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by its prefix (`po_…`).
    Revoke { prefix: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Check policy files offline (default: policies/*.yaml).
    Check { files: Vec<PathBuf> },
    /// Store policy files in the registry (`policies/ENV.yaml` is ENV's policy).
    Push { files: Vec<PathBuf> },
    /// Print an environment's current policy.
    Show { env: String },
}

#[derive(Debug, Subcommand)]
pub enum RequestsAction {
    /// Requests of the project (default: open ones).
    List {
        /// open, completed, rejected, withdrawn, overridden or all.
        #[arg(long, default_value = "open")]
        status: String,
    },
    /// One request with its approvals and its gates as they stand.
    Show { request: u64 },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the resolved configuration (defaults, promptops.toml, PROMPTOPS_* environment).
    Show,
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Audit events in order.
    List {
        /// Events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Re-compute the hash chain; exit 1 and name the first bad event if it breaks.
    Verify {
        /// A head saved by `audit head -o FILE`: also catch a truncated or rewritten tail.
        #[arg(long, value_name = "FILE")]
        head: Option<PathBuf>,
        /// Check the signed checkpoints here, from the events themselves: each signature,
        /// each checkpoint's Merkle root and head recomputed from the downloaded log, and
        /// that the log is not shorter than the newest checkpoint (truncated).
        #[arg(long)]
        checkpoints: bool,
        /// With --checkpoints: the checkpoint public key to trust (hex, as
        /// `GET /v1/audit/checkpoints/key` gave it when you pinned it). Without it, the
        /// key the server names now is trusted.
        #[arg(long, value_name = "HEX", requires = "checkpoints")]
        key: Option<String>,
        /// With --checkpoints: verify an evidence pack (pack.json or pack.html from
        /// `promptops evidence`) offline, without the server: content hash, every
        /// event's hash and inclusion proof, the checkpoints' signatures and consistency.
        #[arg(long, value_name = "FILE", requires = "checkpoints")]
        pack: Option<PathBuf>,
    },
    /// Print the newest event's sequence number and hash, to keep outside the database.
    Head {
        /// Also write it to this file (JSON), for `audit verify --head`.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RedteamArgs {
    /// The prompt id in the project's prompts folder (or a prompt file), optionally
    /// `ID@VERSION` to insist on the version the folder holds.
    #[arg(value_name = "ID[@VERSION]")]
    pub id: String,
    /// The provider to attack, as in `promptops eval` (`openai:gpt-4o-mini`,
    /// `anthropic:messages:<model>`, `echo`, ...); default: the prompt's own `model`. The
    /// prompt's model.params are its config either way.
    #[arg(long, value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// Write the report here (repeatable): `.json` (the report the registry stores) or
    /// `.html` (one self-contained page).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Store the report with the version in the registry (`--registry`, `--token`).
    #[arg(long)]
    pub publish: bool,
    /// Print the report as JSON (as `--format json`).
    #[arg(long)]
    pub json: bool,
    /// Attacks in flight at once.
    #[arg(
        short = 'j',
        long = "max-concurrency",
        value_name = "N",
        default_value_t = 4
    )]
    pub concurrency: usize,
    /// Mixed into every marker and planted value: the same seed gives the same suite.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress_bar: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The suite file: a promptfoo config, or a prompt suite (`prompt: <id>` and `cases`).
    /// Without it: promptfooconfig.yaml if present, else every prompt suite under `evals/`.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Calls in flight at once (default: the suite's `evaluateOptions.maxConcurrency`, else 4).
    #[arg(short = 'j', long = "max-concurrency", value_name = "N")]
    pub concurrency: Option<usize>,
    /// Write results here (repeatable); the format follows the extension: .json,
    /// .junit.xml or .xml (JUnit), .csv, .md (a PR comment), .html.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// A previous results file (from `-o FILE.json`, ours or promptfoo's): list tests
    /// that passed there and fail now (regressions) and the reverse (fixes). Does not
    /// change the exit code.
    #[arg(long, value_name = "PREV.json")]
    pub baseline: Option<PathBuf>,
    /// Do not read or write the response cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Continue a run that was interrupted (Ctrl-C, a crash) with the same `-o` files:
    /// the cases it finished (kept in `<first -o file>.progress`) are not run again.
    #[arg(long)]
    pub resume: bool,
    /// Run each test this many times.
    #[arg(long, value_name = "N")]
    pub repeat: Option<usize>,
    /// Wait this many milliseconds after each call (forces one call at a time).
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress_bar: bool,
    /// No table of results in the terminal.
    #[arg(long)]
    pub no_table: bool,
    /// Attach each prompt suite's results to the registry version it tested (the
    /// prompt file's version, which must have been pushed).
    #[arg(long)]
    pub publish: bool,
    /// Accepted for promptfoo compatibility: promptops keeps no local database of runs.
    /// As with promptfoo, `select-best` and `max-score` then see a test's outputs in row
    /// order rather than failing ones first.
    #[arg(long, hide = true)]
    pub no_write: bool,
    /// The model that grades model-graded assertions (a provider id), unless the suite names one.
    #[arg(long, value_name = "PROVIDER")]
    pub grader: Option<String>,
    /// An extra price table (JSON, the shipped table's shape) that overrides the shipped one.
    #[arg(long, value_name = "FILE", env = "PROMPTOPS_PRICES")]
    pub prices: Option<PathBuf>,
    /// JSON on stdout instead of the table (as `--format json`).
    #[arg(long)]
    pub json: bool,
    /// Compatibility matrix: run the suite once per model and judge each prompt version
    /// on each model (`works`, `needs-tuning`, `not-supported`) from its pass rate, beside
    /// what the prompt's `model.compatibility` declares. `-o` then writes the matrix
    /// (.json, .html, .md); `--publish` records it on each version.
    #[arg(long, conflicts_with_all = ["baseline", "resume"])]
    pub matrix: bool,
    /// With --matrix: the models to run, as provider ids (`openai:gpt-4o-mini,echo`;
    /// repeatable). Default: `[eval.matrix] models`, else the suite's providers, the
    /// prompt's model and the models its `model.compatibility` names.
    #[arg(long, value_name = "ID,...", requires = "matrix")]
    pub models: Vec<String>,
    /// With --matrix: the lowest pass rate judged `works` (default `[eval.matrix] works`, else 0.9).
    #[arg(long, value_name = "RATE", requires = "matrix")]
    pub works: Option<f64>,
    /// With --matrix: the lowest pass rate judged `needs-tuning` (default
    /// `[eval.matrix] needs_tuning`, else 0.6); below it, `not-supported`.
    #[arg(long, value_name = "RATE", requires = "matrix")]
    pub needs_tuning: Option<f64>,
    /// With --matrix: exit with the failed-tests code (100) when a model measures worse
    /// than the prompt file declares (declared `works`, measured `needs-tuning`).
    #[arg(long, requires = "matrix")]
    pub fail_on_mismatch: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// `promptops serve`'s flags: each, when given, overrides `[server]` and PROMPTOPS_*.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub addr: Option<String>,
    /// `postgres://user@host:port/db` for PostgreSQL, or `sqlite://PATH`.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// PostgreSQL: keep the registry's tables in this schema (created if missing), so
    /// one database can hold several registries.
    #[arg(long, value_name = "NAME")]
    pub database_schema: Option<String>,
    /// Redis for the shared delivery cache and cross-replica invalidation.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// Export traces and metrics over OTLP/HTTP to this collector base URL
    /// (`http://127.0.0.1:4318`): the server's requests, and every execution event as
    /// a GenAI span in the application's trace.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// The most content one version may hold, in bytes (YAML aliases expanded).
    #[arg(long, value_name = "BYTES")]
    pub max_version_bytes: Option<usize>,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// The token signing key file (made owner-only on first start). Default: beside
    /// the SQLite database, or `.promptops/jwt-secret`. PROMPTOPS_JWT_SECRET wins.
    #[arg(long, value_name = "PATH")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Behind a reverse proxy: take the client's address (for login limits) from
    /// the last `X-Forwarded-For` entry.
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// Log lines as `text` or `json`.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}
