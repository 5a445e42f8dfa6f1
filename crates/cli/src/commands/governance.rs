//! The governance commands: policies, promotion requests, approvals; and how a
//! promotion's gates are printed.

use super::identity::done;
use super::registry::Session;
use crate::Outcome;
use crate::cli::{Format, PolicyAction, RequestsAction};
use crate::output::{self, BOLD, DIM, GREEN, RED, YELLOW};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, anyhow, bail};
use promptops_api::{Approve, Reject};
use promptops_core::policy;
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};

/// One line per gate: ✓/✗, its name, what it says.
pub fn print_gates(gates: &Json) {
    let Some(gates) = gates.as_array() else {
        return;
    };
    if gates.is_empty() {
        println!("  {DIM}(the environment has no policy: no gates){DIM:#}");
    }
    for g in gates {
        let passed = g["passed"].as_bool().unwrap_or(false);
        let (mark, style) = if passed { ("✓", GREEN) } else { ("✗", RED) };
        println!(
            "  {style}{mark}{style:#} {BOLD}{:<22}{BOLD:#} {}",
            g["gate"].as_str().unwrap_or("?"),
            g["message"].as_str().unwrap_or("")
        );
    }
}

fn print_request_line(r: &Json) {
    println!(
        "  request {BOLD}#{}{BOLD:#}: {}@{} → {} ({}), asked by {}",
        r["id"],
        r["prompt_id"].as_str().unwrap_or("?"),
        r["version"].as_str().unwrap_or("?"),
        r["environment"].as_str().unwrap_or("?"),
        r["status"].as_str().unwrap_or("?"),
        r["requested_by"].as_str().unwrap_or("?")
    );
}

/// A promotion that went through (moved, overridden, or a dry run).
pub fn print_promotion(session: &Session, p: &Json) {
    if session.format == Format::Json {
        output::json(p);
        return;
    }
    let outcome = p["outcome"].as_str().unwrap_or("");
    let target = format!(
        "{}@{} → {}",
        p["prompt_id"].as_str().unwrap_or("?"),
        p["version"].as_str().unwrap_or("?"),
        p["environment"].as_str().unwrap_or("?")
    );
    let revision = p["policy_revision"]
        .as_u64()
        .map_or("no policy".to_owned(), |r| format!("policy revision {r}"));
    match outcome {
        "dry_run" => {
            let unmet = p["gates"].as_array().map_or(0, |g| {
                g.iter().filter(|g| g["passed"] != json!(true)).count()
            });
            println!("{BOLD}dry run{BOLD:#} {target} ({revision}):");
            print_gates(&p["gates"]);
            if unmet == 0 {
                println!("{GREEN}would move{GREEN:#}: every gate holds");
            } else {
                println!("{YELLOW}would be blocked{YELLOW:#}: {unmet} gate(s) unmet");
            }
        }
        "overridden" => {
            println!("{YELLOW}OVERRIDDEN{YELLOW:#} {target} ({revision}); unmet gates bypassed:");
            print_gates(&json!(p["gates"].as_array().map(|g| {
                g.iter()
                    .filter(|g| g["passed"] != json!(true))
                    .cloned()
                    .collect::<Vec<_>>()
            })));
            println!(
                "  {DIM}reason: {} (kept in the audit log and on the label){DIM:#}",
                p["move"]["override_reason"].as_str().unwrap_or("")
            );
        }
        _ => {
            println!(
                "{GREEN}promoted{GREEN:#} {} in {}: {} → {BOLD}{}{BOLD:#} ({revision})",
                p["prompt_id"].as_str().unwrap_or("?"),
                p["environment"].as_str().unwrap_or("?"),
                p["move"]["from_version"].as_str().unwrap_or("(nothing)"),
                p["version"].as_str().unwrap_or("?"),
            );
            print_gates(&p["gates"]);
        }
    }
    if let Some(r) = p.get("request").filter(|r| !r.is_null()) {
        print_request_line(r);
    }
}

/// A promotion the gates blocked (a 409 with `gates`).
pub fn print_blocked(session: &Session, detail: &str, problem: &Json) {
    if session.format == Format::Json {
        output::json(
            &json!({"blocked": true, "detail": detail, "gates": problem["gates"], "request": problem["request"]}),
        );
        return;
    }
    eprintln!("{RED}blocked{RED:#}: {detail}");
    print_gates(&problem["gates"]);
    if let Some(r) = problem.get("request").filter(|r| !r.is_null()) {
        print_request_line(r);
        println!(
            "  {DIM}an approver runs `promptops approve {}`; then the label moves once every gate holds{DIM:#}",
            r["id"]
        );
    }
}

/// The policy files: those given, else every `*.yaml`/`*.yml` in the policies folder.
pub fn policy_files(project: &Project, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files.to_vec());
    }
    let dir = project.dir.join(&project.config.project.policies_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    out.sort();
    Ok(out)
}

/// The environment a policy file is for: its `environment:`, else its file name.
pub fn policy_environment(path: &Path, parsed: &policy::Policy) -> Result<String> {
    match &parsed.environment {
        Some(env) => Ok(env.clone()),
        None => path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                anyhow!(
                    "{}: cannot tell the environment from the file name",
                    path.display()
                )
            }),
    }
}

/// Reads and checks one policy file, printing its findings; `None` when it has errors.
pub fn read_policy(path: &Path) -> Result<Option<(String, String, policy::Policy)>> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    match policy::parse(&path.display().to_string(), &source) {
        Ok((parsed, warnings)) => {
            for w in &warnings {
                output::diagnostic(w);
            }
            let env = policy_environment(path, &parsed)?;
            Ok(Some((env, source, parsed)))
        }
        Err(findings) => {
            for d in &findings {
                output::diagnostic(d);
            }
            Ok(None)
        }
    }
}

pub fn policy_check(project: &Project, files: &[PathBuf], format: Format) -> Result<Outcome> {
    let files = policy_files(project, files)?;
    if files.is_empty() {
        bail!(
            "no policy files: give paths, or put ENV.yaml files in {}/",
            project.config.project.policies_dir
        );
    }
    let mut bad = 0;
    let mut results = Vec::new();
    for f in &files {
        match read_policy(f)? {
            Some((env, _, parsed)) => results.push(
                json!({"path": f, "environment": env, "ok": true, "policy": parsed.to_json()}),
            ),
            None => {
                bad += 1;
                results.push(json!({"path": f, "ok": false}));
            }
        }
    }
    match format {
        Format::Json => output::json(&results),
        Format::Text => println!("checked {} policy file(s): {bad} with errors", files.len()),
    }
    Ok(if bad > 0 {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

pub fn policy(session: &Session, project: &Project, action: &PolicyAction) -> Result<Outcome> {
    match action {
        PolicyAction::Check { files } => policy_check(project, files, session.format),
        PolicyAction::Push { files } => {
            let files = policy_files(project, files)?;
            if files.is_empty() {
                bail!(
                    "no policy files: give paths, or put ENV.yaml files in {}/",
                    project.config.project.policies_dir
                );
            }
            let mut failed = 0;
            let mut results = Vec::new();
            for f in &files {
                let Some((env, source, _)) = read_policy(f)? else {
                    failed += 1;
                    continue;
                };
                match session.block(session.client.put_policy(&session.project, &env, &source)) {
                    Ok(rev) => {
                        if session.format == Format::Text {
                            println!(
                                "{GREEN}policy{GREEN:#} {env}: revision {} ({})",
                                rev.revision,
                                f.display()
                            );
                        }
                        results.push(serde_json::to_value(&rev)?);
                    }
                    Err(e) => {
                        failed += 1;
                        session.refused(e)?;
                    }
                }
            }
            if session.format == Format::Json {
                output::json(&results);
            }
            Ok(if failed > 0 {
                Outcome::Findings
            } else {
                Outcome::Ok
            })
        }
        PolicyAction::Show { env } => {
            match session.block(session.client.policy(&session.project, env)) {
                Ok(Some(rev)) => {
                    if session.format == Format::Json {
                        output::json(&rev);
                    } else {
                        eprintln!(
                            "{DIM}{env} policy, revision {} by {} at {}{DIM:#}",
                            rev.revision, rev.author, rev.created_at
                        );
                        print!("{}", rev.source);
                        if !rev.source.ends_with('\n') {
                            println!();
                        }
                    }
                    Ok(Outcome::Ok)
                }
                Ok(None) => {
                    println!("{env} has no policy: promotions there need only the editor role");
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
    }
}

pub fn requests(session: &Session, action: &RequestsAction) -> Result<Outcome> {
    let c = &session.client;
    match action {
        RequestsAction::List { status } => {
            let status = (status != "all").then_some(status.as_str());
            match session.block(c.requests(&session.project, status)) {
                Ok(list) => {
                    if session.format == Format::Json {
                        output::json(&list);
                    } else if list.is_empty() {
                        println!(
                            "no {} requests in {}",
                            status.unwrap_or("promotion"),
                            session.project
                        );
                    } else {
                        for r in &list {
                            let approvals = r
                                .decisions
                                .iter()
                                .filter(|d| d.verdict == promptops_api::Verdict::Approve)
                                .count();
                            println!(
                                "#{:<4} {:<10} {}@{} → {}  asked by {} at {}  {approvals} approval(s)",
                                r.id,
                                r.status.as_str(),
                                r.prompt_id,
                                r.version,
                                r.environment,
                                r.requested_by,
                                r.requested_at
                            );
                        }
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
        RequestsAction::Show { request } => {
            match session.block(c.request(&session.project, *request)) {
                Ok(r) => {
                    if session.format == Format::Json {
                        output::json(&r);
                    } else {
                        let r = serde_json::to_value(&r)?;
                        print_request_line(&r);
                        for d in r["decisions"].as_array().into_iter().flatten() {
                            println!(
                                "    {} by {} ({}) at {}{}{}",
                                d["verdict"].as_str().unwrap_or("?"),
                                d["actor"].as_str().unwrap_or("?"),
                                d["role"].as_str().unwrap_or("?"),
                                d["at"].as_str().unwrap_or("?"),
                                d["comment"]
                                    .as_str()
                                    .map(|c| format!(": \"{c}\""))
                                    .unwrap_or_default(),
                                d["checklist"]
                                    .as_array()
                                    .filter(|c| !c.is_empty())
                                    .map(|c| format!(
                                        " [{}]",
                                        c.iter()
                                            .filter_map(Json::as_str)
                                            .collect::<Vec<_>>()
                                            .join("; ")
                                    ))
                                    .unwrap_or_default()
                            );
                        }
                        println!("  gates now:");
                        print_gates(&r["gates"]);
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
    }
}

pub fn decide(
    session: &Session,
    request: u64,
    approve: bool,
    comment: Option<&str>,
    checks: &[String],
) -> Result<Outcome> {
    let c = &session.client;
    let decided = if approve {
        let approval = Approve {
            comment: comment.map(str::to_owned),
            checklist: checks.to_vec(),
        };
        session.block(c.approve(&session.project, request, &approval))
    } else {
        let rejection = Reject {
            comment: comment.unwrap_or_default().to_owned(),
        };
        session.block(c.reject(&session.project, request, &rejection))
    };
    match decided {
        Ok(p) => {
            if session.format == Format::Json {
                output::json(&p);
                return Ok(Outcome::Ok);
            }
            let p = serde_json::to_value(&p)?;
            if !approve {
                println!("{YELLOW}rejected{YELLOW:#} request #{request}");
                return Ok(Outcome::Ok);
            }
            println!("{GREEN}approved{GREEN:#} request #{request}");
            if p["outcome"] == json!("moved") {
                print_promotion(session, &p);
            } else if p["outcome"] == json!("ready") {
                println!(
                    "  every gate holds; the policy leaves the move to the requester ({}): `promptops promote {} --to {} --version {}`",
                    p["request"]["requested_by"].as_str().unwrap_or("?"),
                    p["prompt_id"].as_str().unwrap_or("?"),
                    p["environment"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                );
            } else {
                println!("  the label has not moved yet; gates now:");
                print_gates(&p["gates"]);
            }
            Ok(Outcome::Ok)
        }
        Err(e) => session.refused(e),
    }
}

pub fn withdraw(session: &Session, request: u64, comment: Option<&str>) -> Result<Outcome> {
    match session.block(session.client.withdraw(&session.project, request, comment)) {
        Ok(r) => done(session, &r, format!("withdrew request #{request}")),
        Err(e) => session.refused(e),
    }
}
