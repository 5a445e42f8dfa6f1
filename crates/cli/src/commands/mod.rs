//! One module per command. Each parses nothing and decides nothing the library could:
//! it gathers inputs, calls `promptops-core`, prints.

mod config;
mod diff;
mod eval;
mod hash;
mod init;
mod list;
mod render;
mod validate;

use crate::Outcome;
use crate::cli::{Cli, Command, ConfigAction};
use crate::project::Project;
use anyhow::Result;

pub fn run(cli: Cli) -> Result<Outcome> {
    let format = cli.format;
    let config = cli.config.as_deref();
    match cli.command {
        Command::Init { dir, force } => init::run(&dir, force, format),
        Command::Validate {
            paths,
            deny_warnings,
            root,
        } => {
            let project = Project::load(config, paths.first().map(|p| p.as_path()))?;
            validate::run(&project, &paths, deny_warnings, root.as_deref(), format)
        }
        Command::Render {
            prompt,
            vars,
            vars_file,
            root,
        } => {
            let project = Project::load(config, Some(std::path::Path::new(&prompt)))?;
            render::run(
                &project,
                &prompt,
                &vars,
                vars_file.as_deref(),
                root.as_deref(),
                format,
            )
        }
        Command::Diff { old, new } => {
            let project = Project::load(config, None)?;
            diff::run(&project, &old, &new, format)
        }
        Command::Hash { files } => {
            let project = Project::load(config, files.first().map(|p| p.as_path()))?;
            hash::run(&project, &files, format)
        }
        Command::List { paths, root } => {
            let project = Project::load(config, paths.first().map(|p| p.as_path()))?;
            list::run(&project, &paths, root.as_deref(), format)
        }
        Command::Eval(args) => eval::run(&args, format, config),
        Command::Config {
            action: ConfigAction::Show,
        } => {
            let project = Project::load(config, None)?;
            config::show(&project, format)
        }
    }
}
