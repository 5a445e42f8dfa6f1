//! `plan` and `apply`: the repository read as a desired state, the plan and its
//! application printed. The logic is the `promptops-plan` library's.

use super::governance::{policy_files, print_gates};
use super::registry::Session;
use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, BOLD, DIM, GREEN, RED, YELLOW};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Result, bail};
use promptops_core::discover;
use promptops_plan::{Desired, Plan, Step};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};

fn desired(project: &Project) -> Result<Desired> {
    let files = discover::prompt_files(&project.paths_or_default(&[])?, &project.exclude_globs()?)?;
    let root = project.id_root(None);
    let desired = Desired::read(
        &project.config,
        &files,
        root.as_deref(),
        &policy_files(project, &[])?,
    );
    for d in &desired.findings {
        output::diagnostic(d);
    }
    Ok(desired)
}

fn make_plan(session: &Session, project: &Project) -> Result<Plan> {
    let desired = desired(project)?;
    Ok(session.block_on(promptops_plan::make_plan(
        &session.client,
        &session.project,
        &desired,
    ))?)
}

fn print_plan(plan: &Plan) {
    for e in &plan.errors {
        eprintln!("{RED}error{RED:#}: {e}");
    }
    if plan.steps.is_empty() {
        println!("{GREEN}no changes{GREEN:#}: the registry matches the repo");
        return;
    }
    for step in &plan.steps {
        match step {
            Step::Publish {
                id, version, path, ..
            } => println!("  {GREEN}+ publish{GREEN:#}   {id}@{version}  {DIM}{path}{DIM:#}"),
            Step::UpdatePolicy {
                environment,
                from_revision,
                path,
                ..
            } => println!(
                "  {YELLOW}~ policy{YELLOW:#}    {environment}: {}  {DIM}{path}{DIM:#}",
                from_revision.map_or("new".to_owned(), |r| format!("revision {r} → {}", r + 1))
            ),
            Step::MoveLabel {
                id,
                environment,
                from,
                to,
                gates,
            } => {
                println!(
                    "  {BOLD}→ move{BOLD:#}      {id} in {environment}: {} → {to}",
                    from.as_deref().unwrap_or("(nothing)")
                );
                match gates {
                    Some(g) => print_gates(&json!(g)),
                    None => {
                        println!("    {DIM}gates are judged once {id}@{to} is published{DIM:#}")
                    }
                }
            }
        }
    }
    let blocked = plan.steps.iter().filter(|s| s.is_blocked()).count();
    println!(
        "plan: {} step(s){}",
        plan.steps.len(),
        if blocked > 0 {
            format!(", {YELLOW}{blocked} move(s) blocked by gates now{YELLOW:#}")
        } else {
            String::new()
        }
    );
}

pub fn plan(session: &Session, project: &Project) -> Result<Outcome> {
    let plan = make_plan(session, project)?;
    match session.format {
        Format::Json => output::json(&json!({"steps": plan.steps, "errors": plan.errors})),
        Format::Text => print_plan(&plan),
    }
    Ok(if plan.errors.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("apply changes the registry: confirm with --yes (no terminal to ask on)");
    }
    eprint!("apply these changes? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn apply(session: &Session, project: &Project, yes: bool) -> Result<Outcome> {
    let plan = make_plan(session, project)?;
    let text = session.format == Format::Text;
    if text {
        print_plan(&plan);
    }
    if !plan.errors.is_empty() {
        eprintln!("{RED}nothing applied{RED:#}: fix the errors above first");
        return Ok(Outcome::Findings);
    }
    if plan.steps.is_empty() {
        if !text {
            output::json(&json!({"applied": [], "stopped": null}));
        }
        return Ok(Outcome::Ok);
    }
    if !yes && !confirm()? {
        eprintln!("nothing applied");
        return Ok(Outcome::Findings);
    }
    let applied = session.block_on(promptops_plan::apply(
        &session.client,
        &session.project,
        &plan,
        |step| {
            if text {
                println!("{GREEN}done{GREEN:#} {}", step.describe());
            }
        },
    ))?;
    if !text {
        output::json(&applied);
    } else if let Some(stopped) = &applied.stopped {
        eprintln!(
            "{RED}stopped{RED:#} at {}: {}",
            stopped.step.describe(),
            stopped.detail
        );
        if let Some(g) = &stopped.gates {
            print_gates(g);
        }
        eprintln!(
            "{} of {} step(s) applied; run `promptops apply` again once the gates hold",
            applied.applied.len(),
            plan.steps.len()
        );
    } else {
        println!("applied {} step(s)", applied.applied.len());
    }
    Ok(if applied.stopped.is_some() {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}
