//! One module per command. Each parses nothing and decides nothing the library could:
//! it gathers inputs, calls `promptops-core`, prints.

mod alerts;
mod bundle;
mod config;
mod dashboard;
mod diff;
mod eval;
mod evidence;
mod governance;
mod hash;
mod identity;
mod init;
mod list;
mod plan;
mod redteam;
mod registry;
mod render;
mod serve;
mod telemetry;
mod validate;
mod webhooks;

use crate::Outcome;
use crate::cli::{AuditAction, Cli, Command, ConfigAction};
use crate::project::Project;
use anyhow::Result;

pub fn run(cli: Cli) -> Result<Outcome> {
    let format = cli.format;
    let config = cli.config.as_deref();
    let registry_url = cli.registry.as_deref();
    let token = cli.token.as_deref();
    // The registry commands share one way to find the project and the registry.
    let session = |hint: Option<&std::path::Path>| -> Result<(Project, registry::Session)> {
        let project = Project::load(config, hint)?;
        let session = registry::Session::open(&project, registry_url, token, format)?;
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
                token,
            },
        ),
        Command::Redteam(args) => redteam::run(
            &args,
            format,
            config,
            eval::Registry {
                url: registry_url,
                token,
            },
        ),
        Command::Serve(args) => {
            let project = Project::load(config, None)?;
            serve::run(serve::settings(&project.config.server, &args)?)
        }
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
        Command::Bundle {
            env,
            output,
            verify,
            signing_key,
            public_key,
            new_signing_key,
        } => match (verify, new_signing_key, env) {
            (Some(file), _, _) => bundle::verify(&file, public_key.as_deref(), format),
            (None, Some(file), _) => bundle::new_key(&file, format),
            (None, None, Some(env)) => bundle::make(
                &session(None)?.1,
                &env,
                output.as_deref(),
                signing_key.as_deref(),
            ),
            (None, None, None) => {
                anyhow::bail!("bundle needs --env ENV, --verify FILE or --new-signing-key FILE")
            }
        },
        Command::Promote {
            id,
            to,
            version,
            reason,
            dry_run,
            override_reason,
        } => {
            let (id, version) = registry::id_at_version(&id, version.as_deref())?;
            registry::promote(
                &session(None)?.1,
                &registry::PromoteArgs {
                    id,
                    to: &to,
                    version,
                    reason: reason.as_deref(),
                    dry_run,
                    override_reason: override_reason.as_deref(),
                },
            )
        }
        Command::Login {
            user,
            password_stdin,
        } => identity::login(
            &Project::load(config, None)?,
            registry_url,
            user.as_deref(),
            password_stdin,
            format,
        ),
        Command::Logout { all } => {
            identity::logout(&Project::load(config, None)?, registry_url, all)
        }
        Command::Whoami => identity::whoami(&session(None)?.1),
        Command::User { action } => identity::user(&session(None)?.1, &action),
        Command::Key { action } => identity::key(&session(None)?.1, &action),
        Command::Webhook { action } => webhooks::webhook(&session(None)?.1, &action),
        Command::Alerts {
            action,
            prompt,
            env,
            state,
            json,
        } => {
            let (_, mut s) = session(None)?;
            if json {
                s.format = crate::cli::Format::Json;
            }
            match action {
                Some(action) => alerts::action(&s, &action),
                None => alerts::list(
                    &s,
                    alerts::Filter {
                        prompt: prompt.as_deref(),
                        env: env.as_deref(),
                        state: &state,
                    },
                ),
            }
        }
        Command::Metrics {
            id,
            env,
            from,
            to,
            step,
        } => telemetry::metrics(
            &session(None)?.1,
            &id,
            telemetry::Window {
                env: env.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                step: step.as_deref(),
            },
        ),
        Command::Dashboard { output, env, days } => dashboard::dashboard(
            &session(None)?.1,
            dashboard::Scope {
                env: env.as_deref(),
                days,
            },
            &output,
        ),
        Command::Log {
            action:
                crate::cli::LogAction::Tail {
                    prompt,
                    env,
                    lines,
                    no_follow,
                },
        } => telemetry::tail(
            &session(None)?.1,
            (prompt.as_deref(), env.as_deref()),
            lines,
            !no_follow,
        ),
        Command::Policy {
            action: crate::cli::PolicyAction::Check { files },
        } => governance::policy_check(&Project::load(config, None)?, &files, format),
        Command::Policy { action } => {
            let (project, s) = session(None)?;
            governance::policy(&s, &project, &action)
        }
        Command::Requests { action } => governance::requests(&session(None)?.1, &action),
        Command::Approve {
            request,
            comment,
            checks,
        } => governance::decide(
            &session(None)?.1,
            request,
            true,
            comment.as_deref(),
            &checks,
        ),
        Command::Reject { request, comment } => {
            governance::decide(&session(None)?.1, request, false, Some(&comment), &[])
        }
        Command::Withdraw { request, comment } => {
            governance::withdraw(&session(None)?.1, request, comment.as_deref())
        }
        Command::Plan => {
            let (project, s) = session(None)?;
            plan::plan(&s, &project)
        }
        Command::Apply { yes } => {
            let (project, s) = session(None)?;
            plan::apply(&s, &project, yes)
        }
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
        Command::Audit {
            action:
                AuditAction::Verify {
                    checkpoints: true,
                    key,
                    pack,
                    ..
                },
        } => match pack {
            Some(pack) => evidence::verify_pack_file(&pack, key.as_deref(), format),
            None => evidence::verify_online(&session(None)?.1, key.as_deref()),
        },
        Command::Audit { action } => registry::audit(&session(None)?.1, &action),
        Command::Evidence { target, output } => {
            evidence::evidence(&session(None)?.1, &target, output.as_deref())
        }
        Command::Config {
            action: ConfigAction::Show,
        } => {
            let project = Project::load(config, None)?;
            config::show(&project, format)
        }
    }
}
