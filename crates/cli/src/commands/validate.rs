use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, GREEN, plural};
use crate::project::Project;
use anstream::println;
use anyhow::Result;
use promptops_core::diagnostic::Diagnostic;
use promptops_core::discover;
use promptops_core::validate::{self, Rules};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
struct Report<'a> {
    diagnostics: Vec<&'a Diagnostic>,
    files: usize,
    errors: usize,
    warnings: usize,
    skipped: Vec<Skipped<'a>>,
}

#[derive(Serialize)]
struct Skipped<'a> {
    path: &'a str,
    reason: &'a str,
}

pub fn run(
    project: &Project,
    paths: &[PathBuf],
    deny_warnings: bool,
    root: Option<&Path>,
    format: Format,
) -> Result<Outcome> {
    let paths = project.paths_or_default(paths)?;
    let files = discover::prompt_files(&paths, &project.exclude_globs()?)?;
    let rules = Rules::from_config(&project.config);
    let root = project.id_root(root);
    let reports = validate::check_files(&files, root.as_deref(), &rules);

    let diagnostics: Vec<&Diagnostic> = reports.iter().flat_map(|r| &r.diagnostics).collect();
    let skipped: Vec<Skipped> = reports
        .iter()
        .filter_map(|r| {
            r.skipped.as_deref().map(|reason| Skipped {
                path: &r.path,
                reason,
            })
        })
        .collect();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let checked = reports.len() - skipped.len();
    let deny_warnings = deny_warnings || project.config.validate.deny_warnings;
    let failed = errors > 0 || (deny_warnings && warnings > 0);

    match format {
        Format::Json => output::json(&Report {
            diagnostics,
            files: checked,
            errors,
            warnings,
            skipped,
        }),
        Format::Text => {
            for d in &diagnostics {
                output::diagnostic(d);
            }
            for s in &skipped {
                println!("note: skipped {}: {}", s.path, s.reason);
            }
            let summary = format!(
                "checked {}: {}, {}",
                plural(checked, "file", "files"),
                plural(errors, "error", "errors"),
                plural(warnings, "warning", "warnings"),
            );
            if failed {
                let why = if errors == 0 {
                    " (warnings denied)"
                } else {
                    ""
                };
                println!("{summary}{why}");
            } else {
                println!("{GREEN}{summary}{GREEN:#}");
            }
        }
    }
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}
