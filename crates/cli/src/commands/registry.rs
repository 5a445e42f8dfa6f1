//! The registry client commands: push, get, history, labels, promote, rollback, diff
//! (of published versions) and audit. Each gathers its inputs, makes its calls through
//! `promptops-client`, and prints in the offline commands' style (`--format json`
//! everywhere). Exit codes: 0 ok, 1 the registry refused (its detail is printed), 2 the
//! registry could not be reached or the input is unusable.

use crate::Outcome;
use crate::cli::{AuditAction, Format};
use crate::output::{self, BOLD, DIM, GREEN, RED, YELLOW, plural};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, anyhow, bail};
use promptops_api::{AuditHead, EvalRun, LabelMove, PromoteRequest, PublishEval, RollbackRequest};
use promptops_client::{ClientError, RegistryClient};
use promptops_core::discover;
use promptops_core::validate::{self, Rules, check_source};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};

/// A connection to the registry for one command.
pub struct Session {
    pub(crate) client: RegistryClient,
    pub(crate) project: String,
    pub(crate) format: Format,
    pub(crate) url: String,
    /// The project is `default` because nothing named one (no promptops.toml here).
    project_unnamed: bool,
    runtime: tokio::runtime::Runtime,
}

/// The registry's URL: `--registry`/`PROMPTOPS_REGISTRY`, else promptops.toml.
pub fn registry_url(project: &Project, registry: Option<&str>) -> Result<String> {
    registry
        .map(str::to_owned)
        .or_else(|| project.config.registry.url.clone())
        .map(|u| u.trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            anyhow!(
                "no registry: pass --registry URL, set PROMPTOPS_REGISTRY, or add `[registry] url = \"http://127.0.0.1:8080\"` to promptops.toml (start one with `promptops serve`)"
            )
        })
}

impl Session {
    /// Opens a session with `token` (`--token`/`PROMPTOPS_TOKEN`), else the one `promptops
    /// login` saved for this registry (refreshed when its access token has expired).
    pub fn open(
        project: &Project,
        registry: Option<&str>,
        token: Option<&str>,
        format: Format,
    ) -> Result<Session> {
        let url = registry_url(project, registry)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let credential = match token {
            Some(t) => Some(t.to_owned()),
            None => saved_credential(&url, &runtime)?,
        };
        let client = RegistryClient::new(&url, credential.as_deref())?;
        Ok(Session {
            client,
            project: project.config.registry_project().to_owned(),
            project_unnamed: !project.config.names_registry_project(),
            format,
            url,
            runtime,
        })
    }

    pub(crate) fn block<T>(
        &self,
        f: impl std::future::Future<Output = promptops_client::Result<T>>,
    ) -> promptops_client::Result<T> {
        self.runtime.block_on(f)
    }

    /// Runs any future of this session's to completion.
    pub(crate) fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }

    /// The registry's refusal as this command's outcome: its detail (and, in JSON, the
    /// whole problem) printed, exit 1; an unreachable registry is an error (exit 2).
    pub(crate) fn refused(&self, e: ClientError) -> Result<Outcome> {
        match e {
            ClientError::Api {
                status,
                detail,
                problem,
            } => {
                match self.format {
                    Format::Json => output::json(
                        &json!({"error": {"status": status, "detail": detail, "problem": problem}}),
                    ),
                    Format::Text => {
                        eprintln!("{RED}error{RED:#}: {detail}");
                        if self.project_unnamed && status == 404 && detail.starts_with("project `")
                        {
                            eprintln!(
                                "  no promptops.toml names a project here: run this in your project's folder, or set PROMPTOPS_REGISTRY_PROJECT"
                            );
                        }
                        if let Some(errors) = problem.get("errors").and_then(Json::as_array) {
                            for d in errors {
                                eprintln!(
                                    "  {}:{}:{}: {}",
                                    d["path"].as_str().unwrap_or("?"),
                                    d["line"],
                                    d["column"],
                                    d["message"].as_str().unwrap_or("")
                                );
                            }
                        }
                    }
                }
                Ok(Outcome::Findings)
            }
            other => Err(other.into()),
        }
    }
}

/// The saved session's access token, refreshed (and saved again) when it has expired.
fn saved_credential(url: &str, runtime: &tokio::runtime::Runtime) -> Result<Option<String>> {
    let Some(saved) = crate::credentials::load(url)? else {
        return Ok(None);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // A margin so a token does not expire between here and the server.
    if saved.access_expires_at > now + 30 {
        return Ok(Some(saved.access_token));
    }
    let client = RegistryClient::new(url, None)?;
    match runtime.block_on(client.refresh(&saved.refresh_token)) {
        Ok(session) => {
            let token = session.access_token.clone();
            crate::credentials::save(url, saved_from(&session, now))?;
            Ok(Some(token))
        }
        Err(ClientError::Api { status: 401, .. }) => Err(anyhow!(
            "the saved session for {url} has expired; log in again: `promptops login`"
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn saved_from(session: &promptops_api::Session, now: u64) -> crate::credentials::Saved {
    crate::credentials::Saved {
        user: session.user.name.clone(),
        access_token: session.access_token.clone(),
        refresh_token: session.refresh_token.clone(),
        access_expires_at: now + session.expires_in,
    }
}

impl Session {
    /// Attaches an eval run to `id@version` (for `eval --publish`).
    pub fn publish_eval(&self, id: &str, version: &str, run: &PublishEval) -> Result<EvalRun> {
        self.block(self.client.attach_eval(&self.project, id, version, run))
            .map_err(|e| match e {
                ClientError::Api { status: 404, detail, .. } => {
                    anyhow!("cannot publish the eval of {id}@{version}: {detail}; run `promptops push` first")
                }
                other => other.into(),
            })
    }

    /// Stores a red-team report with the version it attacked (`redteam --publish`).
    pub fn publish_redteam(
        &self,
        report: &promptops_api::assessments::RedteamReport,
    ) -> Result<promptops_api::assessments::RedteamRun> {
        let (id, version) = (&report.prompt_id, &report.version);
        self.block(
            self.client
                .attach_redteam(&self.project, id, version, report),
        )
        .map_err(|e| match e {
            ClientError::Api { status: 404, detail, .. } => anyhow!(
                "cannot publish the red-team report of {id}@{version}: {detail}; run `promptops push` first"
            ),
            other => other.into(),
        })
    }

    /// Records a version's compatibility matrix (`eval --matrix --publish`).
    pub fn record_compatibility(
        &self,
        id: &str,
        version: &str,
        results: &promptops_api::PublishCompatibility,
    ) -> Result<Vec<promptops_api::CompatibilityRecord>> {
        self.block(
            self.client
                .record_compatibility(&self.project, id, version, results),
        )
        .map_err(|e| match e {
            ClientError::Api {
                status: 404,
                detail,
                ..
            } => anyhow!(
                "cannot record the compatibility of {id}@{version}: {detail}; run `promptops push` first"
            ),
            other => other.into(),
        })
    }

    pub fn describe(&self) -> String {
        format!("{} ({})", self.client.base(), self.project)
    }
}

pub fn push(
    session: &Session,
    project: &Project,
    paths: &[PathBuf],
    root: Option<&Path>,
) -> Result<Outcome> {
    let paths = project.paths_or_default(paths)?;
    let files = discover::prompt_files(&paths, &project.exclude_globs()?)?;
    let rules = Rules::from_config(&project.config);
    let root = project.id_root(root);
    let mut reports = validate::check_files(&files, root.as_deref(), &rules);
    validate::check_duplicate_ids(&mut reports);
    let mut results = Vec::new();
    let (mut created, mut unchanged, mut failed) = (0usize, 0usize, 0usize);
    for (report, file) in reports.iter().zip(&files) {
        if report.skipped.is_some() {
            continue;
        }
        let Some(prompt) = report.valid_prompt() else {
            failed += 1;
            for d in report.diagnostics.iter().filter(|d| d.is_error()) {
                output::diagnostic(d);
            }
            results.push(json!({"path": report.path, "status": "invalid"}));
            continue;
        };
        let source = std::fs::read_to_string(file)
            .with_context(|| format!("{}: cannot read", file.display()))?;
        match session.block(session.client.publish(
            &session.project,
            &prompt.id,
            &source,
            Some(&report.path),
        )) {
            Ok(p) => {
                let status = if p.created { "created" } else { "unchanged" };
                if p.created {
                    created += 1;
                } else {
                    unchanged += 1;
                }
                if session.format == Format::Text {
                    let style = if p.created { GREEN } else { DIM };
                    println!(
                        "{style}{status:<9}{style:#} {}@{}  {DIM}{}{DIM:#}",
                        p.version.id,
                        p.version.version,
                        &p.version.content_hash[..12]
                    );
                }
                results.push(
                    json!({"path": report.path, "id": p.version.id, "version": p.version.version,
                    "content_hash": p.version.content_hash, "status": status}),
                );
            }
            Err(ClientError::Api {
                status,
                detail,
                problem,
            }) => {
                failed += 1;
                if session.format == Format::Text {
                    eprintln!(
                        "{RED}refused{RED:#}   {}@{}: {detail}",
                        prompt.id, prompt.version
                    );
                }
                results.push(json!({"path": report.path, "id": prompt.id, "version": prompt.version.to_string(),
                    "status": "refused", "http_status": status, "detail": detail, "problem": problem}));
            }
            Err(e) => return Err(e.into()),
        }
    }
    match session.format {
        Format::Json => output::json(
            &json!({"project": session.project, "registry": session.client.base(),
            "created": created, "unchanged": unchanged, "failed": failed, "prompts": results}),
        ),
        Format::Text => println!(
            "{} to {} ({}): {created} created, {unchanged} unchanged{}",
            plural(created + unchanged + failed, "prompt", "prompts"),
            session.client.base(),
            session.project,
            if failed > 0 {
                format!(", {YELLOW}{failed} failed{YELLOW:#}")
            } else {
                String::new()
            }
        ),
    }
    Ok(if failed > 0 {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

pub struct GetArgs<'a> {
    pub id: &'a str,
    pub env: Option<&'a str>,
    pub version: Option<&'a str>,
    pub render: bool,
    pub vars: &'a [String],
    pub vars_file: Option<&'a Path>,
}

pub fn get(session: &Session, args: &GetArgs) -> Result<Outcome> {
    let c = &session.client;
    let p = &session.project;
    let (version, environment) = match (args.env, args.version) {
        (Some(env), _) => match session.block(c.resolve(p, args.id, env)) {
            Ok(r) => (r.version, Some(env)),
            Err(e) => return session.refused(e),
        },
        (None, Some(v)) => (v.to_owned(), None),
        (None, None) => match session.block(c.versions(p, args.id)) {
            Ok(vs) => match vs.last() {
                Some(v) => (v.version.clone(), None),
                None => bail!("{} has no versions", args.id),
            },
            Err(e) => return session.refused(e),
        },
    };
    let v = match session.block(c.version(p, args.id, &version)) {
        Ok(v) => v,
        Err(e) => return session.refused(e),
    };
    if args.render {
        let path = format!("{}@{}", v.id, v.version);
        let report = check_source(&path, None, v.source.as_bytes(), &Rules::default());
        return super::render::render_report(&report, args.vars, args.vars_file, session.format);
    }
    match session.format {
        Format::Json => {
            let mut out = serde_json::to_value(&v)?;
            out["environment"] = json!(environment);
            output::json(&out);
        }
        Format::Text => {
            let env = environment.map(|e| format!(" ({e})")).unwrap_or_default();
            eprintln!(
                "{BOLD}{}@{}{BOLD:#}{env}  {DIM}hash {} · by {} · {}{DIM:#}",
                v.id, v.version, v.content_hash, v.author, v.created_at
            );
            print!("{}", v.source);
            if !v.source.ends_with('\n') {
                println!();
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn history(session: &Session, id: &str, env: Option<&str>) -> Result<Outcome> {
    let c = &session.client;
    let p = &session.project;
    let versions = match session.block(c.versions(p, id)) {
        Ok(v) => v,
        Err(e) => return session.refused(e),
    };
    let moves = match session.block(c.history(p, id, env)) {
        Ok(m) => m,
        Err(e) => return session.refused(e),
    };
    match session.format {
        Format::Json => output::json(
            &json!({"id": id, "versions": versions.iter().map(|v| json!({
            "version": v.version, "content_hash": v.content_hash, "parent": v.parent, "author": v.author, "created_at": v.created_at,
        })).collect::<Vec<_>>(), "moves": moves}),
        ),
        Format::Text => {
            println!("{BOLD}versions{BOLD:#}");
            for v in &versions {
                println!(
                    "  {:<10} {}  {:<16} {DIM}{}{}{DIM:#}",
                    v.version,
                    v.created_at,
                    v.author,
                    &v.content_hash[..12],
                    v.parent
                        .as_ref()
                        .map(|p| format!(" · parent {p}"))
                        .unwrap_or_default()
                );
            }
            println!("{BOLD}label moves{BOLD:#}");
            if moves.is_empty() {
                println!("  (none yet: `promptops promote {id} --to ENV`)");
            }
            for m in &moves {
                println!(
                    "  #{:<4} {}  {:<8} {:>9} → {:<9} {:<8} {}{}",
                    m.id,
                    m.moved_at,
                    m.environment,
                    m.from_version.as_deref().unwrap_or("-"),
                    m.to_version,
                    m.kind.as_str(),
                    m.actor,
                    m.reason
                        .as_ref()
                        .map(|r| format!("  \"{r}\""))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn labels(session: &Session, id: &str) -> Result<Outcome> {
    let labels = match session.block(session.client.labels(&session.project, id)) {
        Ok(l) => l,
        Err(e) => return session.refused(e),
    };
    match session.format {
        Format::Json => output::json(&labels),
        Format::Text => {
            if labels.is_empty() {
                println!("{id} is not promoted anywhere yet");
            }
            for l in &labels {
                println!(
                    "{:<10} {:<10} {DIM}{} by {}{DIM:#}",
                    l.environment, l.version, l.moved_at, l.moved_by
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Promotes, by default, what the environment before `to` serves (the latest version
/// for the first environment). The move is conditional on `to`'s label being where it
/// was read, so two racing promotions cannot both win.
pub struct PromoteArgs<'a> {
    pub id: &'a str,
    pub to: &'a str,
    pub version: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub dry_run: bool,
    pub override_reason: Option<&'a str>,
}

/// `ID@VERSION` split into the id and the version; a bare id keeps `--version`. Both at
/// once must agree.
pub(crate) fn id_at_version<'a>(
    spec: &'a str,
    flag: Option<&'a str>,
) -> Result<(&'a str, Option<&'a str>)> {
    let Some((id, at)) = spec.rsplit_once('@') else {
        return Ok((spec, flag));
    };
    if id.is_empty() || at.is_empty() {
        bail!("`{spec}`: write the prompt as ID or ID@VERSION (support.answer@1.2.0)");
    }
    match flag {
        Some(v) if v != at => {
            bail!("`{spec}` names version {at} but --version says {v}; give one of them")
        }
        _ => Ok((id, Some(at))),
    }
}

/// The version `promote` means when none is given: what the environment before `to`
/// serves, or the latest for the first environment.
pub(crate) fn default_version(
    session: &Session,
    id: &str,
    to: &str,
) -> Result<Result<String, ClientError>> {
    let c = &session.client;
    let p = &session.project;
    let project = match session.block(c.project(p)) {
        Ok(project) => project,
        Err(e) => return Ok(Err(e)),
    };
    let Some(at) = project.environments.iter().position(|e| e == to) else {
        bail!(
            "unknown environment `{to}`; project `{p}` has {}",
            project.environments.join(", ")
        );
    };
    if at == 0 {
        return Ok(match session.block(c.versions(p, id)) {
            Ok(vs) => Ok(vs
                .last()
                .map(|v| v.version.clone())
                .ok_or_else(|| anyhow!("{id} has no versions"))?),
            Err(e) => Err(e),
        });
    }
    let before = &project.environments[at - 1];
    let labels = match session.block(c.labels(p, id)) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    match labels.iter().find(|l| &l.environment == before) {
        Some(l) => Ok(Ok(l.version.clone())),
        None => bail!(
            "{before} serves no version of {id} to promote to {to}; promote to {before} first, or give --version"
        ),
    }
}

pub fn promote(session: &Session, args: &PromoteArgs) -> Result<Outcome> {
    let c = &session.client;
    let p = &session.project;
    let (id, to) = (args.id, args.to);
    let labels = match session.block(c.labels(p, id)) {
        Ok(l) => l,
        Err(e) => return session.refused(e),
    };
    let current = labels
        .iter()
        .find(|l| l.environment == to)
        .map(|l| l.version.clone());
    let version = match args.version {
        Some(v) => v.to_owned(),
        None => match default_version(session, id, to)? {
            Ok(v) => v,
            Err(e) => return session.refused(e),
        },
    };
    let request = PromoteRequest {
        environment: to.to_owned(),
        version,
        expected_from: Some(current),
        reason: args.reason.map(str::to_owned),
        dry_run: args.dry_run,
        override_reason: args.override_reason.map(str::to_owned),
    };
    match session.block(c.promote(p, id, &request)) {
        Ok(promotion) => {
            super::governance::print_promotion(session, &serde_json::to_value(&promotion)?);
            Ok(Outcome::Ok)
        }
        Err(ClientError::Api {
            status: 409,
            detail,
            problem,
        }) if problem.get("gates").is_some() => {
            super::governance::print_blocked(session, &detail, &problem);
            Ok(Outcome::Findings)
        }
        Err(e) => session.refused(e),
    }
}

pub fn rollback(
    session: &Session,
    id: &str,
    env: &str,
    to: Option<&str>,
    reason: Option<&str>,
) -> Result<Outcome> {
    let request = RollbackRequest {
        environment: env.to_owned(),
        to: to.map(str::to_owned),
        expected_from: None,
        reason: reason.map(str::to_owned),
    };
    let m = match session.block(session.client.rollback(&session.project, id, &request)) {
        Ok(m) => m,
        Err(e) => return session.refused(e),
    };
    print_move(session, &m, "rolled back");
    Ok(Outcome::Ok)
}

fn print_move(session: &Session, m: &LabelMove, verb: &str) {
    match session.format {
        Format::Json => output::json(m),
        Format::Text => println!(
            "{GREEN}{verb}{GREEN:#} {} in {}: {} → {BOLD}{}{BOLD:#}",
            m.prompt_id,
            m.environment,
            m.from_version.as_deref().unwrap_or("(nothing)"),
            m.to_version
        ),
    }
}

pub fn diff(session: &Session, id: &str, from: &str, to: &str) -> Result<Outcome> {
    let c = &session.client;
    let p = &session.project;
    match session.format {
        Format::Json => match session.block(c.diff(p, id, from, to)) {
            Ok(d) => output::json(&d),
            Err(e) => return session.refused(e),
        },
        Format::Text => match session.block(c.diff_unified(p, id, from, to)) {
            Ok(text) => {
                if text.is_empty() {
                    println!("{id}@{from} and {id}@{to} have the same file");
                }
                output::unified_diff(&text);
            }
            Err(e) => return session.refused(e),
        },
    }
    Ok(Outcome::Ok)
}

pub fn audit(session: &Session, action: &AuditAction) -> Result<Outcome> {
    let c = &session.client;
    match action {
        AuditAction::List { after, limit } => {
            let events = match session.block(c.audit_events(*after, *limit)) {
                Ok(e) => e,
                Err(e) => return session.refused(e),
            };
            match session.format {
                Format::Json => output::json(&events),
                Format::Text => {
                    for e in &events {
                        println!(
                            "{:>6}  {}  {:<16} {:<28} {}  {DIM}{}{DIM:#}",
                            e.seq,
                            e.at,
                            e.actor,
                            e.action,
                            e.target,
                            &e.hash[..12]
                        );
                    }
                }
            }
            Ok(Outcome::Ok)
        }
        AuditAction::Verify { head, .. } => {
            let kept = head.as_deref().map(read_head).transpose()?;
            let v = match session.block(c.audit_verify(kept.as_ref())) {
                Ok(v) => v,
                Err(e) => return session.refused(e),
            };
            match session.format {
                Format::Json => output::json(&v),
                Format::Text => match (&v.first_bad, &v.head) {
                    (Some(bad), _) => println!(
                        "{RED}audit chain broken{RED:#} at event {}: {} ({} events before it verify)",
                        bad.seq, bad.problem, v.events
                    ),
                    (None, Some(h)) => println!(
                        "{GREEN}audit chain ok{GREEN:#}: {} verified, head #{} {}{}",
                        plural(v.events as usize, "event", "events"),
                        h.seq,
                        h.hash,
                        if kept.is_some() {
                            " (matches the kept head)"
                        } else {
                            ""
                        }
                    ),
                    (None, None) => println!("{GREEN}audit chain ok{GREEN:#}: the log is empty"),
                },
            }
            Ok(if v.ok { Outcome::Ok } else { Outcome::Findings })
        }
        AuditAction::Head { output: file } => {
            let head = match session.block(c.audit_head()) {
                Ok(h) => h,
                Err(e) => return session.refused(e),
            };
            if let Some(file) = file {
                let text = serde_json::to_string_pretty(&head)? + "\n";
                std::fs::write(file, text)
                    .with_context(|| format!("{}: cannot write", file.display()))?;
            }
            match session.format {
                Format::Json => output::json(&head),
                Format::Text => println!("{} {}", head.seq, head.hash),
            }
            Ok(Outcome::Ok)
        }
    }
}

/// A head saved by `audit head -o FILE` (JSON), or the text form `SEQ HASH`.
fn read_head(path: &Path) -> Result<AuditHead> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if let Ok(head) = serde_json::from_str::<AuditHead>(&text) {
        return Ok(head);
    }
    let mut parts = text.split_whitespace();
    match (
        parts.next().and_then(|s| s.parse().ok()),
        parts.next(),
        parts.next(),
    ) {
        (Some(seq), Some(hash), None) if hash.len() == 64 => Ok(AuditHead {
            seq,
            hash: hash.to_owned(),
        }),
        _ => bail!(
            "{}:1:1: not an audit head; expected the JSON `promptops audit head -o FILE` writes, or `SEQ HASH`",
            path.display()
        ),
    }
}
