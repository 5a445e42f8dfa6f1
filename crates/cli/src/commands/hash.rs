use crate::Outcome;
use crate::cli::Format;
use crate::output;
use crate::project::Project;
use anstream::println;
use anyhow::{Result, bail};
use promptops_core::canonical;
use promptops_core::validate::{self, Rules};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Serialize)]
struct Entry {
    path: String,
    id: String,
    version: String,
    hash: String,
}

pub fn run(project: &Project, files: &[PathBuf], format: Format) -> Result<Outcome> {
    let rules = Rules::from_config(&project.config);
    let mut entries = Vec::new();
    let mut failed = false;
    for file in files {
        if !file.is_file() {
            bail!("{}: no such file", file.display());
        }
        let report = validate::check_file(file, None, &rules);
        match report.valid_prompt() {
            Some(prompt) => entries.push(Entry {
                path: report.path.clone(),
                id: prompt.id.clone(),
                version: prompt.version.to_string(),
                hash: canonical::content_hash(prompt).to_string(),
            }),
            None => {
                failed = true;
                for d in report.diagnostics.iter().filter(|d| d.is_error()) {
                    output::diagnostic(d);
                }
                if report.skipped.is_some() {
                    output::warn(format!("{}: not a prompt file", report.path));
                }
            }
        }
    }
    match format {
        Format::Json => output::json(&entries),
        Format::Text => {
            for e in &entries {
                println!("{}  {}", e.hash, e.path);
            }
        }
    }
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}
