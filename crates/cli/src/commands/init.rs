use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, BOLD, GREEN};
use anstream::println;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The starter project, compiled in so `init` works offline.
const FILES: &[(&str, &str)] = &[
    (
        "promptops.toml",
        include_str!("../../starter/promptops.toml"),
    ),
    (
        "prompts/support/answer.yaml",
        include_str!("../../starter/answer.yaml"),
    ),
    (
        "evals/support/answer.yaml",
        include_str!("../../starter/answer.eval.yaml"),
    ),
    (
        ".github/workflows/promptops.yml",
        include_str!("../../starter/workflow.yml"),
    ),
    (".gitignore", "/.promptops/\n"),
];

pub fn run(dir: &Path, force: bool, format: Format) -> Result<Outcome> {
    let targets: Vec<(PathBuf, &str)> = FILES
        .iter()
        .map(|(rel, text)| (dir.join(rel), *text))
        .collect();
    if !force {
        let existing: Vec<String> = targets
            .iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, _)| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist{}: {} (use --force to overwrite)",
                output::plural(existing.len(), "file", "files"),
                if existing.len() == 1 { "s" } else { "" },
                existing.join(", ")
            );
        }
    }
    for (path, text) in &targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create folder", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let created: Vec<String> = targets
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    match format {
        Format::Json => output::json(&serde_json::json!({ "created": created })),
        Format::Text => {
            for c in &created {
                println!("{GREEN}created{GREEN:#} {c}");
            }
            let cd = if dir == Path::new(".") {
                String::new()
            } else {
                format!("cd {} && ", dir.display())
            };
            println!("\n{BOLD}next:{BOLD:#}");
            println!("  {cd}promptops validate");
            println!(
                "  {cd}promptops render support.answer --var article='Refunds within 30 days.' --var question='Refund?'"
            );
        }
    }
    Ok(Outcome::Ok)
}
