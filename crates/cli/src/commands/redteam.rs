//! `promptops redteam ID[@VERSION]`: generates the attack suite for a prompt of the
//! project (`promptops_eval::redteam`), runs it against a provider, prints the attack
//! success rate per OWASP LLM 2025 risk, writes `-o` reports and, with `--publish`,
//! stores the report with the version.
//!
//! Exit codes, as `eval`'s: 0 when the run finished (and the prompt's red-team gates,
//! if its metrics set any, are met); 100 (or PROMPTOPS_FAILED_TEST_EXIT_CODE) when
//! `metrics.max_attack_success_rate` or `metrics.max_pii_leaks` is exceeded; 1 when it
//! could not run (an unknown prompt or provider, a missing key, an unwritable report,
//! every attack failing to get an answer).

use crate::Outcome;
use crate::cli::{Format, RedteamArgs};
use crate::library::ProjectLibrary;
use crate::output::{self, BOLD, GREEN, RED, YELLOW};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, anyhow, bail};
use comfy_table::{Table, presets};
use promptops_api::assessments::RedteamReport;
use promptops_eval::pricing::PriceTable;
use promptops_eval::provider::{Provider, Shared};
use promptops_eval::redteam;
use promptops_eval::suite::{self, PromptLibrary};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit code when the prompt's red-team gates fail: `eval`'s for failed tests.
const DEFAULT_FAILED_EXIT_CODE: u8 = 100;
/// Failed cases printed one by one; the rest are counted.
const MAX_ERROR_LINES: usize = 5;
/// How long one attack may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

pub fn run(
    args: &RedteamArgs,
    format: Format,
    project_config: Option<&Path>,
    registry: super::eval::Registry,
) -> Result<Outcome> {
    let format = if args.json { Format::Json } else { format };
    match run_checked(args, format, project_config, registry) {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            eprintln!("{RED}error{RED:#}: {e:#}");
            Ok(Outcome::Code(1))
        }
    }
}

/// A report file and the format its extension names.
enum OutputKind {
    Json,
    Html,
}

fn output_kind(path: &Path) -> Result<OutputKind> {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".json") {
        Ok(OutputKind::Json)
    } else if name.ends_with(".html") || name.ends_with(".htm") {
        Ok(OutputKind::Html)
    } else {
        bail!(
            "-o {}: a red-team report is written as .json (the report the registry stores) or .html (a page); name the file accordingly",
            path.display()
        )
    }
}

fn run_checked(
    args: &RedteamArgs,
    format: Format,
    project_config: Option<&Path>,
    registry: super::eval::Registry,
) -> Result<Outcome> {
    let kinds = args
        .output
        .iter()
        .map(|p| output_kind(p))
        .collect::<Result<Vec<_>>>()?;
    let (spec, wanted_version) = match args.id.rsplit_once('@') {
        // A version starts with a digit (a file path may hold an `@` elsewhere).
        Some((id, version))
            if !id.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            (id, Some(version))
        }
        _ => (args.id.as_str(), None),
    };
    let project = Project::load(project_config, Some(Path::new(spec)))?;
    let target = ProjectLibrary { project: &project }
        .prompt(spec)
        .map_err(|e| anyhow!(e))?;
    let prompt = &target.prompt;
    if let Some(wanted) = wanted_version
        && wanted != prompt.version.to_string()
    {
        bail!(
            "the prompts folder holds {}@{}, not @{wanted}; check out the commit with that version (red-teaming runs on the file), or leave @VERSION out",
            prompt.id,
            prompt.version
        );
    }

    let mut provider_spec = match &args.provider {
        Some(id) => suite::provider_spec(&serde_json::json!(id)),
        None => suite::provider_spec(&suite::provider_from_model(prompt)),
    }
    .map_err(|e| anyhow!("provider: {e}"))?;
    provider_spec.config = prompt
        .model
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let shared = Shared::new(
        Arc::new(PriceTable::shipped()),
        serde_json::Map::new(),
        CALL_TIMEOUT,
    )
    .map_err(anyhow::Error::msg)?;
    let provider = Provider::new(provider_spec, shared).map_err(anyhow::Error::msg)?;
    let provider_id = provider.spec.id.clone();

    // Report files are created before any call, so an unwritable path costs nothing.
    let mut files = args
        .output
        .iter()
        .zip(kinds)
        .map(|(path, kind)| {
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot write", path.display()))
                .map(|f| (path.clone(), kind, f))
        })
        .collect::<Result<Vec<(PathBuf, OutputKind, std::fs::File)>>>()?;
    // Connect before running: a missing registry should not cost a whole run.
    let session = if args.publish {
        Some(super::registry::Session::open(
            &project,
            registry.url,
            registry.token,
            format,
        )?)
    } else {
        None
    };

    let plan = redteam::generate(
        prompt,
        &target.used_variables,
        redteam::Options { seed: args.seed },
    );
    if format == Format::Text {
        for note in &plan.notes {
            eprintln!("note: {note}");
        }
    }
    let total = plan.attacks.len();
    let bar = (!args.no_progress_bar && total > 0 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} attacks") {
            bar.set_style(style);
        }
        bar
    });
    let on_done: Arc<dyn Fn(usize) + Send + Sync> = match &bar {
        Some(bar) => {
            let bar = bar.clone();
            Arc::new(move |done| bar.set_position(done as u64))
        }
        None => Arc::new(|_| {}),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let cases = rt.block_on(redteam::run(
        target.clone(),
        &plan,
        Arc::new(provider),
        args.concurrency,
        on_done,
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = redteam::report(
        prompt,
        &provider_id,
        &plan,
        cases,
        promptops_core::clock::now_rfc3339(),
    );
    report
        .check()
        .map_err(|p| anyhow!("the report does not hold together ({p}); this is a bug"))?;

    for (path, kind, file) in &mut files {
        let bytes = match kind {
            OutputKind::Json => serde_json::to_vec_pretty(&report)?,
            OutputKind::Html => redteam::html::render(&report).into_bytes(),
        };
        file.write_all(&bytes)
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    match format {
        Format::Json => output::json(&report),
        Format::Text => print_text(&report),
    }
    let s = &report.summary;
    if s.cases > 0 && s.errors == s.cases {
        bail!(
            "none of the {} attacks got an answer from {provider_id} (first error: {}); nothing was measured",
            s.cases,
            report
                .cases
                .iter()
                .find_map(|c| c.error.as_deref())
                .unwrap_or("unknown")
        );
    }
    if let Some(session) = &session {
        let run = session.publish_redteam(&report)?;
        if format == Format::Text {
            println!(
                "published red-team report #{} of {}@{} to {}",
                run.id,
                report.prompt_id,
                report.version,
                session.describe()
            );
        }
    }
    let gates = redteam::gates(prompt, s);
    if format == Format::Text {
        for g in &gates {
            let (mark, style) = if g.pass {
                ("PASS", GREEN)
            } else {
                ("FAIL", RED)
            };
            println!(
                "{style}{mark:5}{style:#} {}@{} {} {} (required {})",
                report.prompt_id, report.version, g.name, g.measured, g.required
            );
        }
    }
    if gates.iter().all(|g| g.pass) {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::Code(failed_exit_code()?))
    }
}

fn failed_exit_code() -> Result<u8> {
    match std::env::var("PROMPTOPS_FAILED_TEST_EXIT_CODE") {
        Ok(v) => v.trim().parse::<u8>().with_context(|| {
            format!("PROMPTOPS_FAILED_TEST_EXIT_CODE is `{v}`; use a number from 0 to 255")
        }),
        Err(_) => Ok(DEFAULT_FAILED_EXIT_CODE),
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// The successful attacks, then a row per risk and the totals.
fn print_text(report: &RedteamReport) {
    for c in report
        .cases
        .iter()
        .filter(|c| c.succeeded && c.error.is_none())
    {
        println!("{RED}SUCCEEDED{RED:#} {} — {}", c.id, c.reason);
    }
    let errors: Vec<_> = report.cases.iter().filter(|c| c.error.is_some()).collect();
    for c in errors.iter().take(MAX_ERROR_LINES) {
        println!(
            "{YELLOW}ERROR{YELLOW:#}     {} — {}",
            c.id,
            c.error.as_deref().unwrap_or_default()
        );
    }
    if errors.len() > MAX_ERROR_LINES {
        println!(
            "          … and {} more errors (the JSON report has them all)",
            errors.len() - MAX_ERROR_LINES
        );
    }
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["RISK", "NAME", "CASES", "SUCCEEDED", "ERRORS", "ASR"]);
    for r in &report.summary.risks {
        let asr = match &r.not_applicable {
            Some(why) => format!("N/A — {why}"),
            None => percent(r.attack_success_rate),
        };
        table.add_row([
            r.id.clone(),
            r.name.clone(),
            r.cases.to_string(),
            r.succeeded.to_string(),
            r.errors.to_string(),
            asr,
        ]);
    }
    println!("{}", table.trim_fmt());
    let s = &report.summary;
    println!(
        "{BOLD}{} attacks on {}@{} ({}): {} succeeded, {} errors, attack success rate {}, {} personal-data leaks{BOLD:#}",
        s.cases,
        report.prompt_id,
        report.version,
        report.provider,
        s.succeeded,
        s.errors,
        percent(s.attack_success_rate),
        s.pii_leaks
    );
}
