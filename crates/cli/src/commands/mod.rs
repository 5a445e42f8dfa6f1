//! One module per command. Each parses nothing and decides nothing the library could:
//! it gathers inputs, calls `promptops-core`, prints.

mod config;
mod diff;
mod eval;
mod hash;
mod init;
mod list;
mod registry;
mod render;
mod serve;
mod validate;

use crate::Outcome;
use crate::cli::{Cli, Command, ConfigAction};
use crate::project::Project;
use anyhow::Result;

pub fn run(cli: Cli) -> Result<Outcome> {
    let format = cli.format;
    let config = cli.config.as_deref();
    let registry_url = cli.registry.as_deref();
    let actor = cli.actor.as_deref();
    // The registry commands share one way to find the project and the registry.
    let session = |hint: Option<&std::path::Path>| -> Result<(Project, registry::Session)> {
        let project = Project::load(config, hint)?;
        let session = registry::Session::open(&project, registry_url, actor, format)?;
        Ok((project, session))
    };
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
        Command::Diff { args } => match args.as_slice() {
            [old, new] => {
                let project = Project::load(config, None)?;
                diff::run(&project, old, new, format)
            }
            [id, from, to] => {
                let (_, s) = session(None)?;
                registry::diff(&s, id, from, to)
            }
            _ => anyhow::bail!("diff takes OLD NEW (files) or ID V1 V2 (registry versions)"),
        },
        Command::Hash { files } => {
            let project = Project::load(config, files.first().map(|p| p.as_path()))?;
            hash::run(&project, &files, format)
        }
        Command::List { paths, root } => {
            let project = Project::load(config, paths.first().map(|p| p.as_path()))?;
            list::run(&project, &paths, root.as_deref(), format)
        }
        Command::Eval(args) => eval::run(
            &args,
            format,
            config,
            eval::Registry {
                url: registry_url,
                actor,
            },
        ),
        Command::Serve {
            addr,
            database_url,
            database_schema,
        } => serve::run(&addr, database_url.as_deref(), database_schema.as_deref()),
        Command::Push { paths, root } => {
            let (project, s) = session(paths.first().map(|p| p.as_path()))?;
            registry::push(&s, &project, &paths, root.as_deref())
        }
        Command::Get {
            id,
            env,
            version,
            render,
            vars,
            vars_file,
        } => {
            let (_, s) = session(None)?;
            registry::get(
                &s,
                &registry::GetArgs {
                    id: &id,
                    env: env.as_deref(),
                    version: version.as_deref(),
                    render,
                    vars: &vars,
                    vars_file: vars_file.as_deref(),
                },
            )
        }
        Command::History { id, env } => registry::history(&session(None)?.1, &id, env.as_deref()),
        Command::Labels { id } => registry::labels(&session(None)?.1, &id),
        Command::Promote {
            id,
            to,
            version,
            reason,
        } => registry::promote(
            &session(None)?.1,
            &id,
            &to,
            version.as_deref(),
            reason.as_deref(),
        ),
        Command::Rollback {
            id,
            env,
            to,
            reason,
        } => registry::rollback(
            &session(None)?.1,
            &id,
            &env,
            to.as_deref(),
            reason.as_deref(),
        ),
        Command::Audit { action } => registry::audit(&session(None)?.1, &action),
        Command::Config {
            action: ConfigAction::Show,
        } => {
            let project = Project::load(config, None)?;
            config::show(&project, format)
        }
    }
}
