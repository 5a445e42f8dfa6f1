//! `promptops evidence ID@VERSION [-o pack.html|pack.json]` and
//! `promptops audit verify --checkpoints [--key HEX] [--pack FILE]`: evidence packs and
//! signed checkpoints, checked on this machine ([`verify`]), rendered for people
//! ([`html`]).

pub mod html;
pub mod verify;

use super::registry::{Session, id_at_version};
use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, GREEN, RED, YELLOW};
use anstream::println;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// Audit events read per request when downloading the whole log.
const PAGE: u64 = 1000;

/// Fetches the pack and writes it (JSON on stdout without `-o`).
pub fn evidence(session: &Session, target: &str, output: Option<&Path>) -> Result<Outcome> {
    let (id, version) = id_at_version(target, None)?;
    let Some(version) = version else {
        bail!("`{target}`: name the version, as ID@VERSION (support.answer@1.2.0)");
    };
    let pack = match session.block(session.client.evidence(&session.project, id, version)) {
        Ok(p) => p,
        Err(e) => return session.refused(e),
    };
    let Some(path) = output else {
        output::json(&pack);
        return Ok(Outcome::Ok);
    };
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => html::render(&pack),
        Some("json") => serde_json::to_string_pretty(&pack)? + "\n",
        _ => bail!(
            "{}: name the pack .json or .html (the format follows the extension)",
            path.display()
        ),
    };
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    let a = &pack.audit;
    println!(
        "{GREEN}wrote{GREEN:#} {}: {}@{}, {} eval runs, {} red-team reports, {} requests, {} audit events proven in checkpoint {} (key {})",
        path.display(),
        pack.version.id,
        pack.version.version,
        pack.eval_runs.len(),
        pack.redteam.len(),
        pack.requests.len(),
        a.events.len(),
        a.checkpoint.size,
        a.checkpoint.public_key
    );
    Ok(Outcome::Ok)
}

/// `audit verify --checkpoints --pack FILE`: no server involved.
pub fn verify_pack_file(path: &Path, key: Option<&str>, format: Format) -> Result<Outcome> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let pack = match verify::read_pack(&text) {
        Ok(p) => p,
        Err(e) => bail!("{}: {e}", path.display()),
    };
    if let Some(k) = key {
        check_key_shape(k)?;
    }
    let report = verify::pack(&pack, key);
    Ok(print(&report, format, "pack"))
}

/// `audit verify --checkpoints`: the whole log downloaded and checked against every
/// checkpoint.
pub fn verify_online(session: &Session, key: Option<&str>) -> Result<Outcome> {
    let c = &session.client;
    if let Some(k) = key {
        check_key_shape(k)?;
    }
    let (trusted, pinned) = match key {
        Some(k) => (k.to_owned(), true),
        None => match session.block(c.checkpoint_key()) {
            Ok(k) => (k.public_key, false),
            Err(e) => return session.refused(e),
        },
    };
    let checkpoints = match session.block(c.audit_checkpoints()) {
        Ok(list) => list,
        Err(e) => return session.refused(e),
    };
    let mut events = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(0, |e: &promptops_api::AuditEvent| e.seq);
        let page = match session.block(c.audit_events(after, PAGE)) {
            Ok(p) => p,
            Err(e) => return session.refused(e),
        };
        let done = (page.len() as u64) < PAGE;
        events.extend(page);
        if done {
            break;
        }
    }
    let report = verify::log_against_checkpoints(&events, &checkpoints, &trusted, pinned);
    Ok(print(&report, session.format, "server"))
}

fn check_key_shape(key: &str) -> Result<()> {
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "--key `{key}`: give the checkpoint public key as 64 hex digits, as `GET /v1/audit/checkpoints/key` answers it"
        );
    }
    Ok(())
}

/// `named_by`: who named the key when the user pinned none (`pack`, `server`).
fn print(report: &verify::Report, format: Format, named_by: &str) -> Outcome {
    match format {
        Format::Json => output::json(report),
        Format::Text => {
            for check in &report.checks {
                if check.ok {
                    println!("{GREEN}✓{GREEN:#} {}", check.what);
                } else {
                    println!("{RED}✗{RED:#} {}", check.what);
                }
            }
            if let Some(key) = &report.key
                && !report.key_pinned
            {
                println!(
                    "{YELLOW}note{YELLOW:#}: checked against key {key}, which the {named_by} itself names; pass --key with the key you pinned to rule out a forged signer"
                );
            }
            if report.ok {
                println!("{GREEN}verified{GREEN:#}");
            } else {
                println!("{RED}NOT verified{RED:#}");
            }
        }
    }
    if report.ok {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
}
