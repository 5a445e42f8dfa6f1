//! `promptops eval --matrix`: the suite run once per model, each prompt version judged on
//! each model (`promptops_eval::matrix` holds the rules; this gathers, runs and prints).

use super::{Prepared, Registry, failed_exit_code, load_suite, plan, prepare};
use crate::Outcome;
use crate::cli::{EvalArgs, Format};
use crate::output::{self, BOLD, DIM, RED};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, anyhow, bail};
use promptops_eval::matrix::{
    self as m, CompatibilityThresholds, Matrix, MatrixRow, Model, PromptMatrix, Tally,
};
use promptops_eval::runner;
use promptops_eval::suite;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What `-o` writes with `--matrix`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OutputKind {
    Json,
    Html,
    Markdown,
}

fn output_kind(path: &Path) -> Result<OutputKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".json") {
        Ok(OutputKind::Json)
    } else if name.ends_with(".html") || name.ends_with(".htm") {
        Ok(OutputKind::Html)
    } else if name.ends_with(".md") {
        Ok(OutputKind::Markdown)
    } else {
        bail!(
            "{}: with --matrix, -o writes the matrix: use a file ending in .json, .html or .md",
            path.display()
        )
    }
}

/// Defaults, then `[eval.matrix]`, then `--works`/`--needs-tuning`; checked before a call.
fn thresholds(args: &EvalArgs, project: &Project) -> Result<CompatibilityThresholds> {
    let config = &project.config.eval.matrix;
    let defaults = CompatibilityThresholds::default();
    let t = CompatibilityThresholds {
        works: args.works.or(config.works).unwrap_or(defaults.works),
        needs_tuning: args
            .needs_tuning
            .or(config.needs_tuning)
            .unwrap_or(defaults.needs_tuning),
    };
    if let Some(problem) = t.problem() {
        let source = if args.works.is_some() || args.needs_tuning.is_some() {
            "--works/--needs-tuning"
        } else {
            "[eval.matrix] in promptops.toml"
        };
        bail!(
            "compatibility thresholds ({source}): {problem}; e.g. --works 0.9 --needs-tuning 0.6"
        );
    }
    Ok(t)
}

pub(super) fn run(
    args: &EvalArgs,
    format: Format,
    project: &Project,
    registry: Registry,
) -> Result<Outcome> {
    let outputs = args
        .output
        .iter()
        .map(|p| output_kind(p).map(|k| (p.clone(), k)))
        .collect::<Result<Vec<_>>>()?;
    let thresholds = thresholds(args, project)?;
    let explicit = if args.models.is_empty() {
        m::parse_model_list(&project.config.eval.matrix.models)
    } else {
        m::parse_model_list(&args.models)
    };
    let planned = plan(args, project)?;
    let session = if args.publish {
        let any_file = planned
            .iter()
            .any(|p| p.suite.prompts.iter().any(|t| t.registry.is_some()));
        if !any_file {
            bail!(
                "--publish records the matrix on prompt versions: it needs prompt suites (`prompt: <id>`) or `promptops://` prompts"
            );
        }
        Some(super::super::registry::Session::open(
            project,
            registry.url,
            registry.token,
            format,
        )?)
    } else {
        None
    };
    // Output files are created before any call, so a path that cannot be written fails first.
    let mut files = outputs
        .iter()
        .map(|(path, kind)| {
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot write", path.display()))
                .map(|f| (path, *kind, f))
        })
        .collect::<Result<Vec<_>>>()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut matrix = Matrix {
        thresholds,
        prompts: Vec::new(),
    };
    for p in &planned {
        let suite = &p.suite;
        let prompts: Vec<_> = suite.prompts.iter().map(|t| t.registry.clone()).collect();
        let files_of: Vec<&promptops_core::prompt::Prompt> =
            prompts.iter().flatten().map(|r| &r.prompt).collect();
        let models = m::select_models(&explicit, &suite.providers, &files_of);
        let cases = (suite.steps.len() * args.repeat.unwrap_or(1).max(1)) as u64;
        let mut columns: Vec<Vec<MatrixRow>> = vec![Vec::new(); prompts.len()];
        for (i, model) in models.iter().enumerate() {
            if format == Format::Text {
                eprintln!(
                    "{DIM}matrix: {} on {} ({}/{}){DIM:#}",
                    suite.path.display(),
                    model.key,
                    i + 1,
                    models.len()
                );
            }
            let declared =
                |j: usize| m::declared(prompts[j].as_deref().map(|r| &r.prompt), &model.key);
            match run_model(&rt, &suite.path, model, args, project, prompts.len())? {
                Ok(tallies) => {
                    for (j, tally) in tallies.iter().enumerate() {
                        columns[j].push(MatrixRow::measured(
                            &model.key,
                            tally,
                            declared(j),
                            &thresholds,
                        ));
                    }
                }
                Err(reason) => {
                    output::warn(format!("{}: cannot run: {reason}", model.key));
                    for (j, column) in columns.iter_mut().enumerate() {
                        column.push(MatrixRow::not_run(
                            &model.key,
                            cases,
                            &reason,
                            declared(j),
                            &thresholds,
                        ));
                    }
                }
            }
        }
        for ((template, registry), rows) in suite.prompts.iter().zip(&prompts).zip(columns) {
            let (name, id, version) = match registry {
                Some(r) => (
                    format!("{}@{}", r.prompt.id, r.prompt.version),
                    Some(r.prompt.id.clone()),
                    Some(r.prompt.version.to_string()),
                ),
                None => (template.label.clone(), None, None),
            };
            matrix.prompts.push(PromptMatrix {
                suite: suite_name(&suite.path),
                prompt: name,
                prompt_id: id,
                version,
                models: rows,
            });
        }
    }

    for (path, kind, file) in &mut files {
        let text = match kind {
            OutputKind::Json => serde_json::to_string_pretty(&matrix.to_json())? + "\n",
            OutputKind::Html => matrix.to_html(),
            OutputKind::Markdown => matrix.to_markdown(),
        };
        file.write_all(text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    match format {
        Format::Json => output::json(&matrix.to_json()),
        Format::Text => print_text(&matrix),
    }
    if let Some(session) = &session {
        for p in &matrix.prompts {
            let (Some(id), Some(version)) = (&p.prompt_id, &p.version) else {
                output::warn(format!(
                    "{}: not a prompt file; its matrix is not published",
                    p.prompt
                ));
                continue;
            };
            for r in p
                .models
                .iter()
                .filter(|r| r.ran && !promptops_eval::matrix::names_a_model(&r.model))
            {
                output::warn(format!(
                    "`{}` names no model (a `provider:model` id); its result is shown, not recorded",
                    r.model
                ));
            }
            let Some(payload) = p.publication(&thresholds) else {
                output::warn(format!(
                    "{}: no model could run; nothing to publish",
                    p.prompt
                ));
                continue;
            };
            let records = session.record_compatibility(id, version, &payload)?;
            if format == Format::Text {
                println!(
                    "recorded compatibility of {id}@{version} on {} to {}",
                    output::plural(records.len(), "model", "models"),
                    session.describe()
                );
            }
        }
    }
    let worse = matrix.worse_than_declared();
    if args.fail_on_mismatch && !worse.is_empty() {
        for line in &worse {
            eprintln!("{RED}worse than declared{RED:#}: {line}");
        }
        return Ok(Outcome::Code(failed_exit_code()?));
    }
    Ok(Outcome::Ok)
}

/// Runs the suite at `path` with `model` as its only provider: per prompt, its counts;
/// or why the model could not be set up (its id, its key). Errors of the run itself
/// (not of the model's answers, which are error rows) stop the matrix.
fn run_model(
    rt: &tokio::runtime::Runtime,
    path: &Path,
    model: &Model,
    args: &EvalArgs,
    project: &Project,
    n_prompts: usize,
) -> Result<Result<Vec<Tally>, String>> {
    let mut config = suite::read_suite(path).map_err(|e| anyhow!("{e}"))?;
    m::with_model(&mut config.json, model);
    let planned = match load_suite(path, config, project) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("{e:#}"))),
    };
    let Prepared {
        suite,
        providers,
        options,
        cache_on: _,
    } = match prepare(planned.suite, args) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("{e:#}"))),
    };
    if suite.prompts.len() != n_prompts {
        bail!(
            "{}: the suite has {} prompts with {} but {n_prompts} as written",
            path.display(),
            suite.prompts.len(),
            model.key
        );
    }
    let mut tallies = vec![Tally::default(); n_prompts];
    let mut sink = |row: &runner::Row| {
        if let Some(t) = tallies.get_mut(row.prompt) {
            t.add(row.outcome, row.error.as_deref());
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let result = rt
        .block_on(async {
            let cancel_on_signal = cancel.clone();
            let watch = tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel_on_signal.store(true, Ordering::Relaxed);
                }
            });
            let result = runner::run(
                Arc::new(suite),
                Arc::new(providers),
                options,
                cancel.clone(),
                Arc::new(|_, _| {}),
                &mut std::iter::empty(),
                &mut sink,
            )
            .await;
            watch.abort();
            result
        })
        .context("the run stopped")?;
    if result.interrupted {
        bail!("interrupted: the matrix is incomplete; nothing was written or published");
    }
    Ok(Ok(tallies))
}

/// The suite as given or found (`evals/support/answer.yaml`, without a leading `./`).
fn suite_name(path: &Path) -> String {
    let shown = path.display().to_string();
    match shown.strip_prefix("./") {
        Some(rest) => rest.to_owned(),
        None => shown,
    }
}

fn print_text(matrix: &Matrix) {
    for p in &matrix.prompts {
        println!("{BOLD}{}{BOLD:#} {DIM}({}){DIM:#}", p.prompt, p.suite);
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header([
            "MODEL",
            "PASSED/TOTAL",
            "PASS RATE",
            "VERDICT",
            "DECLARED",
            "AGREES",
        ]);
        for r in &p.models {
            let agrees = match r.disagreement() {
                Some(words) => format!("{} {words}", r.agrees_mark()),
                None => r.agrees_mark().to_owned(),
            };
            table.add_row([
                r.model.clone(),
                r.passed_of_total(),
                r.rate_text(),
                r.verdict.as_str().to_owned(),
                r.declared.map_or("—", |d| d.as_str()).to_owned(),
                agrees,
            ]);
        }
        // The last column is padded to the longest disagreement: no trailing blanks.
        for line in table.to_string().lines() {
            println!("{}", line.trim_end());
        }
        for r in &p.models {
            if let Some(note) = &r.note {
                let what = if r.ran {
                    format!("{} errors, first", r.errors)
                } else {
                    "not run".to_owned()
                };
                println!("  {DIM}{}: {what}: {note}{DIM:#}", r.model);
            }
        }
    }
    println!(
        "thresholds: works ≥ {}, needs-tuning ≥ {}, below: not-supported",
        matrix.thresholds.works, matrix.thresholds.needs_tuning
    );
}
