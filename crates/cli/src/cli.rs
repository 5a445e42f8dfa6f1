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
    /// Show what changed between two versions of a prompt and whether the semver bump fits.
    Diff {
        /// Old version: a file, or `REV:path` for a file in a git revision.
        old: String,
        /// New version: a file, or `REV:path`.
        new: String,
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
    /// Show the configuration in effect.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the resolved configuration (defaults, promptops.toml, PROMPTOPS_* environment).
    Show,
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
    /// Accepted for promptfoo compatibility: promptops keeps no local database of runs.
    #[arg(long, hide = true)]
    pub no_write: bool,
    /// The model that grades model-graded assertions (a provider id), unless the suite names one.
    #[arg(long, value_name = "PROVIDER")]
    pub grader: Option<String>,
    /// An extra price table (JSON, the shipped table's shape) that overrides the shipped one.
    #[arg(long, value_name = "FILE", env = "PROMPTOPS_PRICES")]
    pub prices: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
