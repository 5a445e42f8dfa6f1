use crate::Outcome;
use crate::cli::Format;
use crate::output;
use crate::project::Project;
use anstream::println;
use anyhow::{Context, Result, bail};
use promptops_core::diagnostic::Findings;
use promptops_core::render::{self, Inputs, Rendered};
use promptops_core::validate::FileReport;
use promptops_core::{canonical, yaml};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::Path;

pub fn run(
    project: &Project,
    spec: &str,
    vars: &[String],
    vars_file: Option<&Path>,
    root: Option<&Path>,
    format: Format,
) -> Result<Outcome> {
    let root = project.id_root(root);
    let report = crate::library::locate(project, spec, root.as_deref())?;
    render_report(&report, vars, vars_file, format)
}

/// Renders a validated prompt file with `--var`/`--vars` and prints it (also used by
/// `get --render` on a version fetched from the registry).
pub(crate) fn render_report(
    report: &FileReport,
    vars: &[String],
    vars_file: Option<&Path>,
    format: Format,
) -> Result<Outcome> {
    let Some(prompt) = report.valid_prompt() else {
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            output::diagnostic(d);
        }
        if report.skipped.is_some() {
            bail!("{}: not a prompt file", report.path);
        }
        anstream::eprintln!("cannot render {}: fix the errors above first", report.path);
        return Ok(Outcome::Findings);
    };

    let mut inputs = Inputs::default();
    if let Some(file) = vars_file {
        inputs.values = read_vars_file(file)?;
    }
    for pair in vars {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--var `{pair}`: expected NAME=VALUE");
        };
        inputs.text.insert(name.trim().to_owned(), value.to_owned());
    }

    let bound = match render::bind(prompt, &report.used_variables, &inputs) {
        Ok(bound) => bound,
        Err(problems) => {
            for p in &problems {
                anstream::eprintln!("{}error{}: {p}", output::RED, output::RED.render_reset());
            }
            return Ok(Outcome::Findings);
        }
    };
    for name in &bound.ignored {
        output::warn(format!(
            "variable `{name}` is not declared by {}; ignored",
            prompt.id
        ));
    }
    let rendered = match render::render(prompt, &bound.values) {
        Ok(r) => r,
        Err(e) => {
            anstream::eprintln!(
                "{}error{}: {}: {e}",
                output::RED,
                output::RED.render_reset(),
                report.path
            );
            return Ok(Outcome::Findings);
        }
    };

    match format {
        Format::Json => output::json(&json!({
            "id": prompt.id,
            "version": prompt.version.to_string(),
            "hash": canonical::content_hash(prompt).to_string(),
            "rendered": rendered,
            "ignored_variables": bound.ignored,
        })),
        Format::Text => match &rendered {
            Rendered::Text(text) => {
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
            Rendered::Messages(_) => output::json(&rendered),
        },
    }
    Ok(Outcome::Ok)
}

fn read_vars_file(path: &Path) -> Result<BTreeMap<String, Json>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let display = path.display().to_string();
    let value: Json = if display.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{display}:{}:{}: invalid JSON: {e}", e.line(), e.column())
        })?
    } else {
        let mut findings = Findings::new(&display);
        let node = yaml::parse(&text, &mut findings);
        if let Some(d) = findings.as_slice().iter().find(|d| d.is_error()) {
            bail!("{d}");
        }
        node.as_ref().map(yaml::to_json).unwrap_or(Json::Null)
    };
    match value {
        Json::Object(map) => Ok(map.into_iter().collect()),
        other => bail!(
            "{display}: expected a mapping of variable names to values, found {}",
            kind(&other)
        ),
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "nothing",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
        _ => "a single value",
    }
}
