//! `plan` and `apply`: the repo as the desired state of the registry ("Terraform for
//! prompts"). The repo declares prompt versions (files), policies (`policies/ENV.yaml`)
//! and what each environment should serve (`[environments.ENV] pins` in promptops.toml);
//! `plan` prints the steps that would make the registry match, with the gates each
//! label move would meet now; `apply` takes them in order and stops at the first that
//! is refused. Running either twice is safe: a matched state plans nothing.

use super::governance::{policy_files, print_gates, read_policy};
use super::registry::Session;
use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, BOLD, DIM, GREEN, RED, YELLOW};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, bail};
use promptops_client::ClientError;
use promptops_core::discover;
use promptops_core::validate::{self, Rules};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Step {
    Publish {
        id: String,
        version: String,
        path: String,
        #[serde(skip)]
        source: String,
    },
    UpdatePolicy {
        environment: String,
        from_revision: Option<u64>,
        path: String,
        #[serde(skip)]
        source: String,
    },
    MoveLabel {
        id: String,
        environment: String,
        from: Option<String>,
        to: String,
        /// The gates as the registry judges them now (`null`: judged after the
        /// version is published).
        gates: Option<Json>,
    },
}

struct Plan {
    steps: Vec<Step>,
    /// Problems that make the repo unusable as a desired state (invalid files,
    /// a version number taken by other content).
    errors: Vec<String>,
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn make_plan(session: &Session, project: &Project) -> Result<Plan> {
    let c = &session.client;
    let p = &session.project;
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    let mut to_publish: Vec<(String, String)> = Vec::new();

    let files = discover::prompt_files(&project.paths_or_default(&[])?, &project.exclude_globs()?)?;
    let rules = Rules::from_config(&project.config);
    let root = project.id_root(None);
    let mut reports = validate::check_files(&files, root.as_deref(), &rules);
    validate::check_duplicate_ids(&mut reports);
    for (report, file) in reports.iter().zip(&files) {
        if report.skipped.is_some() {
            continue;
        }
        let Some(prompt) = report.valid_prompt() else {
            errors.push(format!(
                "{}: does not validate (`promptops validate`)",
                report.path
            ));
            continue;
        };
        let version = prompt.version.to_string();
        let hash = promptops_core::canonical::content_hash(prompt).to_string();
        let published = match session.block(c.versions(p, &prompt.id)) {
            Ok(vs) => vs,
            Err(ClientError::Api { status: 404, .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        match published.iter().find(|v| v.version == version) {
            Some(v) if v.content_hash == hash => {}
            Some(_) => errors.push(format!(
                "{}: {}@{version} is published with other content; bump the version",
                report.path, prompt.id
            )),
            None => {
                let source = std::fs::read_to_string(file)
                    .with_context(|| format!("{}: cannot read", file.display()))?;
                to_publish.push((prompt.id.clone(), version.clone()));
                steps.push(Step::Publish {
                    id: prompt.id.clone(),
                    version,
                    path: report.path.clone(),
                    source,
                });
            }
        }
    }

    for f in policy_files(project, &[])? {
        let Some((env, source, _)) = read_policy(&f)? else {
            errors.push(format!(
                "{}: the policy does not parse (`promptops policy check`)",
                f.display()
            ));
            continue;
        };
        let current = match session.block(c.policy(p, &env)) {
            Ok(current) => current,
            Err(ClientError::Api { status: 404, .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if current
            .as_ref()
            .is_none_or(|r| r.source_hash != sha256_hex(&source))
        {
            steps.push(Step::UpdatePolicy {
                environment: env,
                from_revision: current.map(|r| r.revision),
                path: f.display().to_string(),
                source,
            });
        }
    }

    // Moves in the project's promotion order, so dev lands before staging before prod.
    let order = match session.block(c.project(p)) {
        Ok(proj) => proj.environments,
        Err(ClientError::Api { status: 404, .. }) => promptops_store::DEFAULT_ENVIRONMENTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        Err(e) => return Err(e.into()),
    };
    for env in project.config.environments.keys() {
        if !order.contains(env) {
            errors.push(format!(
                "promptops.toml pins environment `{env}`, which project `{p}` does not have ({})",
                order.join(", ")
            ));
        }
    }
    for env in &order {
        let Some(pins) = project.config.environments.get(env) else {
            continue;
        };
        for (id, want) in &pins.pins {
            let want = match semver::Version::parse(want)
                .or_else(|_| semver::Version::parse(&format!("{want}.0.0")))
            {
                Ok(v) => v.to_string(),
                Err(_) => {
                    errors.push(format!(
                        "promptops.toml: environments.{env}.pins.{id} = `{want}` is not a version"
                    ));
                    continue;
                }
            };
            let current = match session.block(c.labels(p, id)) {
                Ok(labels) => labels
                    .into_iter()
                    .find(|l| &l.environment == env)
                    .map(|l| l.version),
                Err(ClientError::Api { status: 404, .. }) => None,
                Err(e) => return Err(e.into()),
            };
            if current.as_deref() == Some(want.as_str()) {
                continue;
            }
            let pending = to_publish.iter().any(|(i, v)| i == id && *v == want);
            let gates = if pending {
                None
            } else {
                let dry = promptops_client::Promote {
                    env,
                    version: &want,
                    dry_run: true,
                    ..Default::default()
                };
                match session.block(c.promote(p, id, &dry)) {
                    Ok(promotion) => Some(promotion["gates"].clone()),
                    Err(ClientError::Api { detail, .. }) => {
                        errors.push(format!("{id} → {env} {want}: {detail}"));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            steps.push(Step::MoveLabel {
                id: id.clone(),
                environment: env.clone(),
                from: current,
                to: want,
                gates,
            });
        }
    }
    Ok(Plan { steps, errors })
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
                    Some(g) => print_gates(g),
                    None => {
                        println!("    {DIM}gates are judged once {id}@{to} is published{DIM:#}")
                    }
                }
            }
        }
    }
    let blocked = plan.steps.iter().filter(|s| matches!(s, Step::MoveLabel { gates: Some(g), .. } if g.as_array().is_some_and(|g| g.iter().any(|g| g["passed"] != json!(true))))).count();
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
    if session.format == Format::Text {
        print_plan(&plan);
    }
    if !plan.errors.is_empty() {
        eprintln!("{RED}nothing applied{RED:#}: fix the errors above first");
        return Ok(Outcome::Findings);
    }
    if plan.steps.is_empty() {
        if session.format == Format::Json {
            output::json(&json!({"applied": [], "stopped": null}));
        }
        return Ok(Outcome::Ok);
    }
    if !yes && !confirm()? {
        eprintln!("nothing applied");
        return Ok(Outcome::Findings);
    }
    let c = &session.client;
    let p = &session.project;
    let mut applied = Vec::new();
    for step in &plan.steps {
        let result = match step {
            Step::Publish {
                id, source, path, ..
            } => session
                .block(c.publish(p, id, source, Some(path)))
                .map(|_| json!(null)),
            Step::UpdatePolicy {
                environment,
                source,
                ..
            } => session
                .block(c.put_policy(p, environment, source))
                .map(|_| json!(null)),
            Step::MoveLabel {
                id,
                environment,
                from,
                to,
                ..
            } => {
                let req = promptops_client::Promote {
                    env: environment,
                    version: to,
                    expected_from: Some(from.as_deref()),
                    ..Default::default()
                };
                session.block(c.promote(p, id, &req))
            }
        };
        match result {
            Ok(_) => {
                if session.format == Format::Text {
                    println!("{GREEN}done{GREEN:#} {}", describe(step));
                }
                applied.push(step);
            }
            Err(ClientError::Api {
                detail, problem, ..
            }) => {
                if session.format == Format::Json {
                    output::json(
                        &json!({"applied": applied, "stopped": {"step": step, "detail": detail, "gates": problem.get("gates"), "request": problem.get("request")}}),
                    );
                } else {
                    eprintln!("{RED}stopped{RED:#} at {}: {detail}", describe(step));
                    if let Some(g) = problem.get("gates") {
                        print_gates(g);
                    }
                    eprintln!(
                        "{} of {} step(s) applied; run `promptops apply` again once the gates hold",
                        applied.len(),
                        plan.steps.len()
                    );
                }
                return Ok(Outcome::Findings);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if session.format == Format::Json {
        output::json(&json!({"applied": applied, "stopped": null}));
    } else {
        println!("applied {} step(s)", applied.len());
    }
    Ok(Outcome::Ok)
}

fn describe(step: &Step) -> String {
    match step {
        Step::Publish { id, version, .. } => format!("publish {id}@{version}"),
        Step::UpdatePolicy { environment, .. } => format!("policy {environment}"),
        Step::MoveLabel {
            id,
            environment,
            to,
            ..
        } => format!("move {id} in {environment} → {to}"),
    }
}
