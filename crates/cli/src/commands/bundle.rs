//! `promptops bundle`: everything an environment serves, packed for applications that
//! load prompts without a registry (see `promptops_client::bundle` for the format);
//! `--verify` checks one; `--new-signing-key` makes the key that signs them.

use super::registry::Session;
use crate::Outcome;
use crate::cli::Format;
use crate::output;
use anyhow::{Context, Result};
use promptops_client::bundle::{self, Contents};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Packs what `env` serves into `output` (default `<project>.<env>.bundle`).
pub fn make(
    session: &Session,
    env: &str,
    output: Option<&Path>,
    signing_key: Option<&Path>,
) -> Result<Outcome> {
    let key = signing_key
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the signing key {}", path.display()))?;
            bundle::signing_key_from_text(&text)
                .with_context(|| format!("signing key {}", path.display()))
        })
        .transpose()?;
    let prompts = match session.block(session.client.served(&session.project, env)) {
        Ok(p) => p,
        Err(e) => return session.refused(e),
    };
    let contents = Contents {
        project: session.project.clone(),
        environment: env.to_owned(),
        created_at: promptops_core::clock::now_rfc3339(),
        prompts,
    };
    let bytes = bundle::write(&contents, key.as_ref())?;
    let default = format!("{}.{env}.bundle", session.project);
    let path = output.unwrap_or(Path::new(&default));
    std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    let checked = bundle::read(&bytes, None)?;
    match session.format {
        Format::Json => output::json(&json!({
            "path": path.display().to_string(),
            "project": contents.project,
            "environment": env,
            "prompts": contents.prompts.len(),
            "sha256": checked.sha256,
            "signed_by": checked.signed_by,
            "bytes": bytes.len(),
        })),
        Format::Text => {
            println!(
                "wrote {} — {} prompt(s) that {} serves in {env}, {} bytes",
                path.display(),
                contents.prompts.len(),
                contents.project,
                bytes.len()
            );
            println!("sha256 {}", checked.sha256);
            match &checked.signed_by {
                Some(k) => println!("signed by {k}"),
                None => println!(
                    "not signed (give --signing-key FILE or PROMPTOPS_BUNDLE_SIGNING_KEY to sign)"
                ),
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Checks a bundle: exit 0 when it holds, 1 with the reason when it does not.
pub fn verify(path: &Path, public_key: Option<&str>, format: Format) -> Result<Outcome> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match bundle::read(&bytes, public_key) {
        Ok(b) => {
            match format {
                Format::Json => output::json(&json!({
                    "ok": true,
                    "project": b.contents.project,
                    "environment": b.contents.environment,
                    "created_at": b.contents.created_at,
                    "prompts": b.contents.prompts.iter().map(|p| json!({"id": p.id, "version": p.version, "content_hash": p.content_hash})).collect::<Vec<_>>(),
                    "sha256": b.sha256,
                    "signed_by": b.signed_by,
                })),
                Format::Text => {
                    println!(
                        "ok: {} — {} prompt(s) of {} in {}, made {}",
                        path.display(),
                        b.contents.prompts.len(),
                        b.contents.project,
                        b.contents.environment,
                        b.contents.created_at
                    );
                    for p in &b.contents.prompts {
                        println!("  {}@{}  {}", p.id, p.version, p.content_hash);
                    }
                    match &b.signed_by {
                        Some(k) => println!("signature ok, by {k}"),
                        None => println!("checksum ok; not signed"),
                    }
                }
            }
            Ok(Outcome::Ok)
        }
        Err(e) => {
            match format {
                Format::Json => output::json(&json!({"ok": false, "error": e.to_string()})),
                Format::Text => anstream::eprintln!(
                    "{}error{}: {}: {e}",
                    output::RED,
                    output::RED.render_reset(),
                    path.display()
                ),
            }
            Ok(Outcome::Findings)
        }
    }
}

/// Writes a new signing key (owner-only; never over an existing file).
pub fn new_key(path: &Path, format: Format) -> Result<Outcome> {
    let (text, public) = bundle::new_signing_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    match format {
        Format::Json => {
            output::json(&json!({"path": path.display().to_string(), "public_key": public}))
        }
        Format::Text => {
            println!("wrote the signing key {} (keep it secret)", path.display());
            println!("public key {public}");
            println!("verify with: promptops bundle --verify FILE --public-key {public}");
        }
    }
    Ok(Outcome::Ok)
}
