use crate::Outcome;
use crate::cli::Format;
use crate::output;
use crate::project::Project;
use anstream::println;
use anyhow::Result;
use comfy_table::{Table, presets};
use promptops_core::discover;
use promptops_core::validate::{self, Rules};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    version: String,
    owner: &'a str,
    model: String,
    tags: &'a [String],
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    valid: bool,
}

pub fn run(
    project: &Project,
    paths: &[PathBuf],
    root: Option<&Path>,
    format: Format,
) -> Result<Outcome> {
    let paths = project.paths_or_default(paths)?;
    let files = discover::prompt_files(&paths, &project.exclude_globs()?)?;
    let root = project.id_root(root);
    let reports = validate::check_files(
        &files,
        root.as_deref(),
        &Rules::from_config(&project.config),
    );
    let mut rows: Vec<Row> = reports
        .iter()
        .filter_map(|r| {
            let p = r.prompt.as_ref()?;
            Some(Row {
                id: &p.id,
                version: p.version.to_string(),
                owner: &p.owner,
                model: p.model.to_string(),
                tags: &p.tags,
                path: &r.path,
                description: p.description.as_deref(),
                valid: !r.has_errors(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.id.cmp(b.id));
    let broken = reports.iter().filter(|r| r.has_errors()).count();

    match format {
        Format::Json => output::json(&rows),
        Format::Text => {
            let mut table = Table::new();
            table.load_preset(presets::NOTHING);
            table.set_header(["ID", "VERSION", "OWNER", "MODEL", "TAGS"]);
            for r in &rows {
                let id = if r.valid {
                    r.id.to_owned()
                } else {
                    format!("{} (invalid)", r.id)
                };
                table.add_row([
                    id,
                    r.version.clone(),
                    r.owner.to_owned(),
                    r.model.clone(),
                    r.tags.join(","),
                ]);
            }
            if rows.is_empty() {
                println!("no prompts found");
            } else {
                println!("{}", table.trim_fmt());
            }
        }
    }
    if broken > 0 {
        output::warn(format!(
            "{} with errors; `promptops validate` shows them",
            output::plural(broken, "file", "files")
        ));
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Ok)
}
