//! The `promptops` binary: parses arguments, runs a command, prints, and maps the
//! outcome to an exit code (0 ok, 1 findings or failure, 2 usage or I/O error).
//! The logic lives in the library crates.

mod cli;
mod commands;
mod credentials;
mod library;
mod output;
mod project;
mod source;

use clap::Parser;

/// An eval run allocates many small, short-lived objects per row (JSON trees, strings);
/// mimalloc makes that markedly cheaper than the system allocator (see bench/eval.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// What a command found: success, or findings that make the run fail (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Findings,
    /// A specific exit code (`eval` exits 100 when tests fail, as promptfoo does).
    Code(u8),
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Code(code)) => ExitCode::from(code),
        Err(e) => {
            anstream::eprintln!("{}error{}: {e:#}", output::RED, output::RED.render_reset());
            ExitCode::from(2)
        }
    }
}
