use crate::Outcome;
use crate::cli::{EvalArgs, Format};
use crate::library::ProjectLibrary;
use crate::output::{self, BOLD, GREEN, RED};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::bail;
use anyhow::{Context, Result};
use promptops_eval::graders::GraderTable;
use promptops_eval::journal::{self, Journal};
use promptops_eval::pricing::PriceTable;
use promptops_eval::provider::{Provider, ResponseCache, Shared};
use promptops_eval::report::baseline::{Baseline, Comparison};
use promptops_eval::report::{self, describe};
use promptops_eval::runner::{self, Outcome as RowOutcome, RunOptions, RunResult};
use promptops_eval::suite::{self, Gates, Suite};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod matrix;

/// Exit code when tests fail: promptfoo's, so CI scripts keep working.
const DEFAULT_FAILED_TEST_EXIT_CODE: u8 = 100;
/// Rows above which the terminal table is left out (as promptfoo does).
const TABLE_LIMIT: usize = 500;

/// The promptfoo config file `eval` runs when no `-c` is given, if it exists.
const PROMPTFOO_DEFAULT_CONFIG: &str = "promptfooconfig.yaml";
/// The project folder holding prompt-centric suites (`evals/<module>/<name>.yaml`).
const EVALS_DIR: &str = "evals";

/// Config, provider and output errors exit 1 (promptfoo's code for them), not the 2
/// other commands use for usage and I/O errors.
pub fn run(
    args: &EvalArgs,
    format: Format,
    project_config: Option<&Path>,
    registry: Registry,
) -> Result<Outcome> {
    let format = if args.json { Format::Json } else { format };
    match run_all(args, format, project_config, registry) {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            eprintln!("{RED}error{RED:#}: {e:#}");
            Ok(Outcome::Code(1))
        }
    }
}

/// The global `--registry` and `--token`, for `--publish`.
pub struct Registry<'a> {
    pub url: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// A suite ready to run, with the gates of its prompt when it is prompt-centric.
struct Planned {
    suite: Suite,
    gates: Option<Gates>,
}

/// What to run: `-c FILE` (a promptfoo config or a prompt suite); else
/// `promptfooconfig.yaml` when it exists; else every prompt suite under `evals/`.
fn plan(args: &EvalArgs, project: &Project) -> Result<Vec<Planned>> {
    // Each file is read and parsed once (a promptfoo suite can hold thousands of tests).
    let read = |path: &Path| suite::read_suite(path).map_err(|e| anyhow::anyhow!("{e}"));
    let load = |path: &Path, config: suite::ConfigFile| load_suite(path, config, project);
    let load_one = |path: &Path| load(path, read(path)?);
    if let Some(path) = &args.suite {
        return Ok(vec![load_one(path)?]);
    }
    if Path::new(PROMPTFOO_DEFAULT_CONFIG).is_file() {
        return Ok(vec![load_one(Path::new(PROMPTFOO_DEFAULT_CONFIG))?]);
    }
    let dir = project.dir.join(EVALS_DIR);
    if !dir.is_dir() {
        bail!(
            "nothing to run: pass a suite with -c FILE, add {PROMPTFOO_DEFAULT_CONFIG}, or add prompt suites under {}",
            dir.display()
        );
    }
    let mut planned = Vec::new();
    for path in promptops_core::discover::prompt_files(std::slice::from_ref(&dir), &[])? {
        let config = read(&path)?;
        if suite::is_prompt_suite(&config.json) {
            planned.push(load(&path, config)?);
        } else {
            output::warn(format!(
                "{}: not a prompt suite (no `prompt:`); run promptfoo configs with -c",
                path.display()
            ));
        }
    }
    if planned.is_empty() {
        bail!(
            "no prompt suites under {}: add `evals/<module>/<name>.yaml` with `prompt: <id>` and `cases`",
            dir.display()
        );
    }
    Ok(planned)
}

/// A suite file as read (`suite::read_suite`), loaded as a prompt suite or a promptfoo config.
fn load_suite(path: &Path, config: suite::ConfigFile, project: &Project) -> Result<Planned> {
    let library = ProjectLibrary { project };
    let err = |e: suite::SuiteError| anyhow::anyhow!("{e}");
    if suite::is_prompt_suite(&config.json) {
        let config = config.into_json().map_err(err)?;
        let (suite, gates) = suite::prompt_suite_from_json(config, path, &library).map_err(err)?;
        Ok(Planned {
            suite,
            gates: Some(gates),
        })
    } else {
        let suite = suite::from_json(config, path, Some(&library)).map_err(err)?;
        Ok(Planned { suite, gates: None })
    }
}

fn run_all(
    args: &EvalArgs,
    format: Format,
    project_config: Option<&Path>,
    registry: Registry,
) -> Result<Outcome> {
    // Checked before anything runs; a config's `outputPath` is checked when it is loaded.
    if !args.matrix {
        args.output
            .iter()
            .try_for_each(|path| report::Kind::from_path(path).map(drop))?;
    }
    // Read before any output file is created: `-o` may name the baseline file itself.
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let project = Project::load(project_config, args.suite.as_deref())?;
    if args.matrix {
        return matrix::run(args, format, &project, registry);
    }
    let planned = plan(args, &project)?;
    // Connect before running anything: a missing registry should not cost a whole run.
    let session = if args.publish {
        if planned.iter().any(|p| p.gates.is_none()) {
            bail!(
                "--publish attaches runs to prompt versions: it needs prompt suites (`prompt: <id>` and `cases`), not promptfoo configs"
            );
        }
        Some(super::registry::Session::open(
            &project,
            registry.url,
            registry.token,
            format,
        )?)
    } else {
        None
    };
    let several = planned.len() > 1;
    let mut all_passed = true;
    let mut gate_lines = Vec::new();
    for p in planned {
        // With several suites, each report file gets the prompt id before its extension.
        let outputs: Vec<PathBuf> = match (&p.gates, several) {
            (Some(g), true) => args
                .output
                .iter()
                .map(|o| with_infix(o, &g.prompt_id))
                .collect(),
            // A config's `outputPath` stands in for `-o`, as in promptfoo.
            _ if args.output.is_empty() => p.suite.output_path.clone(),
            _ => args.output.clone(),
        };
        let kinds = outputs
            .iter()
            .map(|path| report::Kind::from_path(path))
            .collect::<Result<Vec<_>, _>>()?;
        let baseline = if several { None } else { baseline.as_ref() };
        let verdict = run_suite(
            p.suite,
            p.gates.as_ref(),
            args,
            format,
            &outputs,
            &kinds,
            AfterRun {
                baseline,
                publish: session.as_ref(),
            },
        )?;
        all_passed &= verdict.passed;
        gate_lines.extend(verdict.gate_lines);
    }
    if several && format == Format::Text {
        println!("{BOLD}gates{BOLD:#}");
        for line in &gate_lines {
            println!("{line}");
        }
    }
    if all_passed {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::Code(failed_exit_code()?))
    }
}

/// `out.json` + `support.answer` → `out.support.answer.json` (`.junit.xml` kept whole).
fn with_infix(path: &Path, infix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    let ext_len = if lower.ends_with(".junit.xml") {
        ".junit.xml".len()
    } else {
        name.rfind('.').map_or(0, |i| name.len() - i)
    };
    let (stem, ext) = name.split_at(name.len() - ext_len);
    path.with_file_name(format!("{stem}.{infix}{ext}"))
}

/// What is done with a suite's results besides reporting them.
struct AfterRun<'a> {
    /// Compared with (`--baseline`).
    baseline: Option<&'a Baseline>,
    /// Attached to the tested version in the registry (`--publish`).
    publish: Option<&'a super::registry::Session>,
}

/// How one suite went: its tests, and its prompt's gates when it has them.
struct SuiteVerdict {
    passed: bool,
    gate_lines: Vec<String>,
}

fn run_suite(
    suite: Suite,
    gates: Option<&Gates>,
    args: &EvalArgs,
    format: Format,
    output_paths: &[PathBuf],
    kinds: &[report::Kind],
    after: AfterRun,
) -> Result<SuiteVerdict> {
    let AfterRun { baseline, publish } = after;
    let kinds = kinds.to_vec();
    for u in &suite.unsupported {
        let more = match u.count {
            1 => String::new(),
            n => format!(" (and {} more places)", n - 1),
        };
        output::warn(format!(
            "{}: `{}` ({}) is not supported by promptops yet: {}{more}; verdicts may differ from promptfoo's",
            u.location, u.key, u.place, u.effect
        ));
    }
    for key in &suite.ignored_keys {
        output::warn(format!(
            "{}: `{key}` is not an eval setting; ignored",
            suite.path.display()
        ));
    }
    let Prepared {
        suite,
        providers,
        options,
        cache_on,
    } = prepare(suite, args)?;
    let runtime_options = serde_json::json!({
        "maxConcurrency": options.concurrency,
        "cache": cache_on,
        "repeat": args.repeat.unwrap_or(1),
        "delay": options.delay_ms,
    });

    let started_at = promptops_core::clock::now_rfc3339();
    let suite = Arc::new(suite);
    let providers = Arc::new(providers);
    let cancel = Arc::new(AtomicBool::new(false));
    let show_progress = !args.no_progress_bar && std::io::stderr().is_terminal();
    // Jobs, including those a test's filters leave out (the runner counts those as done).
    let total = suite.steps.len() * suite.columns.len();
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let on_row: Arc<dyn Fn(usize, usize) + Send + Sync> = match &bar {
        Some(bar) => {
            let bar = bar.clone();
            Arc::new(move |done, _| bar.set_position(done as u64))
        }
        None => Arc::new(|_, _| {}),
    };

    // Output files are created before the run, so a path that cannot be written fails
    // before any call is made; JSON ones are filled as rows complete (see `report::begin`).
    let mut outputs = output_paths
        .iter()
        .zip(kinds)
        .map(|(path, kind)| -> Result<_> {
            let file = std::fs::File::create(path)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            report::begin(kind, &mut out, &started_at)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            Ok((path.as_path(), kind, out))
        })
        .collect::<Result<Vec<_>>>()?;
    let progress = Progress::open(&suite, &providers, output_paths.first(), args.resume)?;
    let (mut journal, finished) = (progress.journal, progress.finished);
    let replayed = finished.as_ref().map_or(0, |f| f.rows.count());
    let mut resumed = finished.iter().flat_map(|f| f.rows.iter::<runner::Row>());
    let mut write_error: Option<anyhow::Error> = None;
    let mut written = 0usize;
    let mut sink = |row: &runner::Row| {
        // Rows of this run go to the progress file (replayed ones are there already).
        if written >= replayed
            && let Some(j) = &mut journal
            && let Err(e) = j.add(row)
        {
            write_error.get_or_insert_with(|| anyhow::anyhow!("cannot record progress: {e}"));
        }
        for (path, kind, out) in &mut outputs {
            if let Err(e) = report::row(*kind, out, &suite, &providers, row, &started_at, written) {
                write_error.get_or_insert_with(|| {
                    anyhow::anyhow!("{}: cannot write: {e}", path.display())
                });
            }
        }
        written += 1;
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result: RunResult = rt
        .block_on(async {
            let cancel_on_signal = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel_on_signal.store(true, Ordering::Relaxed);
                }
            });
            runner::run(
                suite.clone(),
                providers.clone(),
                options,
                cancel.clone(),
                on_row,
                &mut resumed,
                &mut sink,
            )
            .await
        })
        .context("the run stopped")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    if replayed > 0 && format == Format::Text {
        eprintln!("resumed: {replayed} rows from the interrupted run were not run again");
    }
    if let Some(journal) = journal {
        if result.interrupted {
            let path = journal.keep()?;
            eprintln!(
                "progress kept in {}: rerun the same command with --resume to continue",
                path.display()
            );
        } else {
            journal.finish()?;
        }
    }
    let summary = &result.summary;
    let comparison = baseline
        .map(|b| b.compare(&suite, &providers, &result))
        .transpose()
        .context("cannot compare with the baseline")?;
    let measured = promptops_eval::gates::measure(&result);
    let gate_results = gates.map(|g| promptops_eval::gates::check(g, &measured));
    let cx = report::Context {
        suite: &suite,
        providers: &providers,
        run: &result,
        summary,
        started_at: &started_at,
        runtime: &runtime_options,
        comparison: comparison.as_ref(),
    };
    for (path, kind, out) in &mut outputs {
        report::finish(*kind, out, &cx)
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    match format {
        Format::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report::json::write(&mut out, &cx)?;
        }
        Format::Text => print_text(&cx, args)?,
    }
    if result.interrupted {
        eprintln!(
            "interrupted: {} of {} rows ran; results so far are kept",
            result.rows.len(),
            result.total_jobs
        );
    }
    if let (Some(session), Some(g), Some(results)) = (publish, gates, &gate_results) {
        let payload = eval_run_payload(&cx, &measured, results)?;
        let run = session.publish_eval(&g.prompt_id, &g.prompt_version, &payload)?;
        if format == Format::Text {
            println!(
                "published eval run #{} of {}@{} to {}",
                run.id,
                g.prompt_id,
                g.prompt_version,
                session.describe()
            );
        }
    }
    // A prompt suite passes on its gates (its accuracy gate may allow some failures);
    // a promptfoo suite passes when every test does, as in promptfoo.
    let (passed, gate_lines) = match (gates, &gate_results) {
        (Some(g), Some(results)) => {
            let lines = gate_text(g, results);
            if format == Format::Text {
                for line in &lines {
                    println!("{line}");
                }
            }
            (results.iter().all(|r| r.pass), lines)
        }
        _ => (summary.rows() == 0 || summary.all_passed(), Vec::new()),
    };
    Ok(SuiteVerdict { passed, gate_lines })
}

/// A suite made ready to run: its providers built (a missing key fails here, before any
/// call), `--repeat` applied, graders prepared, the run's options settled.
struct Prepared {
    suite: Suite,
    providers: Vec<Provider>,
    options: RunOptions,
    cache_on: bool,
}

fn prepare(suite: Suite, args: &EvalArgs) -> Result<Prepared> {
    let mut suite = suite;
    let mut prices = PriceTable::shipped();
    if let Some(path) = &args.prices {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        prices.merge_json(&text, &path.display().to_string())?;
    }
    let http_timeout = Duration::from_millis(suite.options.timeout_ms.unwrap_or(300_000));
    let cache = ResponseCache::for_run(!args.no_cache && suite.options.cache.unwrap_or(true));
    let cache_on = cache.is_some();
    let shared = Shared::new(Arc::new(prices), suite.env.clone(), http_timeout)
        .map_err(anyhow::Error::msg)?
        .with_cache(cache)
        .with_base_dir(&suite.base_dir);
    let providers: Vec<Provider> = suite
        .providers
        .iter()
        .map(|spec| Provider::new(spec.clone(), shared.clone()))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    // Tests' `provider:` overrides are built now too, so a missing key fails before a call.
    let test_providers: Vec<Provider> = suite
        .test_providers
        .iter()
        .map(|spec| {
            Provider::new(spec.clone(), shared.clone())
                .map_err(|e| anyhow::anyhow!("a test's `provider: {}`: {e}", spec.id))
        })
        .collect::<Result<_>>()?;

    if let Some(repeat) = args.repeat.filter(|r| *r > 1) {
        let steps = std::mem::take(&mut suite.steps);
        for step in steps.iter() {
            let step = step?;
            for _ in 0..repeat {
                suite.steps.push(&step)?;
            }
        }
    }
    let graders = GraderTable::prepare(
        &suite,
        args.grader.as_ref().map(|g| serde_json::json!(g)),
        &shared,
    )
    .map_err(anyhow::Error::msg)?;
    let options = RunOptions {
        graders: Arc::new(graders),
        concurrency: args
            .concurrency
            .or(suite.options.max_concurrency)
            .unwrap_or(4),
        delay_ms: args.delay.or(suite.options.delay_ms).unwrap_or(0),
        step_timeout: suite.options.timeout_ms.map(Duration::from_millis),
        test_providers: Arc::new(test_providers),
        // promptfoo compares a test's outputs in the order its database gives them back,
        // or, with --no-write, in the order they finished.
        comparison_order: if args.no_write {
            runner::ComparisonOrder::Rows
        } else {
            runner::ComparisonOrder::FailingFirst
        },
    };
    Ok(Prepared {
        suite,
        providers,
        options,
        cache_on,
    })
}

/// The progress file of a run with output files: started anew, or read back to
/// continue an interrupted run (`--resume`).
struct Progress {
    journal: Option<Journal>,
    finished: Option<journal::Finished>,
}

impl Progress {
    fn open(
        suite: &Suite,
        providers: &[Provider],
        first_output: Option<&PathBuf>,
        resume: bool,
    ) -> Result<Progress> {
        let Some(output) = first_output else {
            if resume {
                bail!(
                    "--resume continues the run that wrote `-o FILE`: pass the same -o files as the interrupted run"
                );
            }
            return Ok(Progress {
                journal: None,
                finished: None,
            });
        };
        let path = journal::path_for(output);
        // The run's shape: what a row's numbers refer to.
        let mut shape = format!("{} cases;", suite.steps.len());
        for p in &suite.prompts {
            shape.push_str(&format!(" prompt {};", p.id));
        }
        for p in providers {
            shape.push_str(&format!(
                " provider {} {} {};",
                p.spec.id,
                p.spec.label,
                serde_json::Value::Object(p.spec.config.clone())
            ));
        }
        let fingerprint = journal::fingerprint(&suite.path, &shape)
            .with_context(|| format!("{}: cannot read", suite.path.display()))?;
        if resume {
            let finished = journal::read(&path, &fingerprint)?;
            let journal = Journal::resume(&path, &finished)?;
            Ok(Progress {
                journal: Some(journal),
                finished: Some(finished),
            })
        } else {
            Ok(Progress {
                journal: Some(Journal::create(&path, &fingerprint)?),
                finished: None,
            })
        }
    }
}

/// One line per gate: `PASS support.answer@1.0.0 accuracy 0.95 (19/20) (required >= 0.90)`.
fn gate_text(g: &Gates, results: &[promptops_eval::gates::GateResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            let (mark, style) = if r.pass {
                ("PASS", GREEN)
            } else {
                ("FAIL", RED)
            };
            format!(
                "{style}{mark:5}{style:#} {}@{} {} {} (required {})",
                g.prompt_id, g.prompt_version, r.name, r.measured, r.required
            )
        })
        .collect()
}

/// What `--publish` attaches to the tested version: counts, a summary (pass rate, mean
/// cost per call, p95 latency, the failing tests, the gates) and the full JSON report.
fn eval_run_payload(
    cx: &report::Context,
    measured: &promptops_eval::gates::Measured,
    gate_results: &[promptops_eval::gates::GateResult],
) -> Result<promptops_api::PublishEval> {
    use promptops_eval::gates::CostPerCall;
    let failures: Vec<serde_json::Value> = cx
        .rows_in_order()
        .filter(|r| r.as_ref().map_or(true, |r| r.outcome != RowOutcome::Pass))
        .take(100)
        .map(|r| -> Result<serde_json::Value> {
            let r = r?;
            let step = cx.step(r.step)?;
            Ok(serde_json::json!({
                "test": step.test.description.clone().unwrap_or_else(|| format!("test {}", step.test_idx + 1)),
                "outcome": if r.outcome == RowOutcome::Error { "error" } else { "fail" },
                "reason": r.error,
            }))
        })
        .collect::<Result<_>>()?;
    let mut report_json = Vec::new();
    report::json::write(&mut report_json, cx)?;
    let report_json: serde_json::Value = serde_json::from_slice(&report_json)?;
    Ok(promptops_api::PublishEval {
        passed: cx.summary.successes as u64,
        failed: cx.summary.failures as u64,
        errors: cx.summary.errors as u64,
        summary: serde_json::json!({
            // The gates' figures: a fraction like `baseline_accuracy`, null when unknown.
            "pass_rate": measured.accuracy,
            "cost_per_call_usd": match measured.cost_per_call {
                CostPerCall::Usd(mean) => Some(mean),
                CostPerCall::NoCalls | CostPerCall::Unpriced => None,
            },
            "p95_latency_ms": measured.p95_latency_ms,
            "failures": failures,
            "gates": gate_results.iter().map(|g| serde_json::json!({
                "name": g.name, "pass": g.pass, "required": g.required, "measured": g.measured,
            })).collect::<Vec<_>>(),
        }),
        report: Some(report_json),
    })
}

fn failed_exit_code() -> Result<u8> {
    match std::env::var("PROMPTOPS_FAILED_TEST_EXIT_CODE") {
        Ok(v) => v.trim().parse::<u8>().with_context(|| {
            format!("PROMPTOPS_FAILED_TEST_EXIT_CODE is `{v}`; use a number from 0 to 255")
        }),
        Err(_) => Ok(DEFAULT_FAILED_TEST_EXIT_CODE),
    }
}

fn print_text(cx: &report::Context, args: &EvalArgs) -> Result<()> {
    let (providers, result, summary) = (cx.providers, cx.run, cx.summary);
    if !args.no_table && result.rows.len() <= TABLE_LIMIT {
        for r in cx.rows_in_order() {
            let r = r?;
            let step = cx.step(r.step)?;
            let name = step
                .test
                .description
                .clone()
                .unwrap_or_else(|| format!("test {}", step.test_idx + 1));
            let (mark, style) = match r.outcome {
                RowOutcome::Pass => ("PASS", GREEN),
                RowOutcome::Fail => ("FAIL", RED),
                RowOutcome::Error => ("ERROR", RED),
            };
            println!(
                "{style}{mark:5}{style:#} [{}] {name}",
                providers[r.provider].display_name()
            );
            if let Some(e) = &r.error {
                let first_line = e.lines().next().unwrap_or_default();
                println!("      {}", describe::truncate(first_line, 160));
            }
        }
    }
    println!(
        "{BOLD}{} passed, {} failed, {} errors{BOLD:#} ({:.2}% pass rate) in {:.2} s",
        summary.successes,
        summary.failures,
        summary.errors,
        summary.pass_rate(),
        result.duration.as_secs_f64()
    );
    println!(
        "tokens: {} ({} prompt, {} completion) in {} requests; cost {}",
        summary.tokens.total,
        summary.tokens.prompt,
        summary.tokens.completion,
        summary.tokens.num_requests,
        summary.cost
    );
    if let Some(c) = cx.comparison {
        print_comparison(c);
    }
    Ok(())
}

/// Regressions first (each with why it fails now), then fixes.
fn print_comparison(c: &Comparison) {
    println!(
        "{BOLD}compared with {}:{BOLD:#} {}",
        c.baseline,
        c.counts_text()
    );
    let changes = c
        .regressions
        .iter()
        .map(|ch| (ch, "REGRESSED", RED))
        .chain(c.fixes.iter().map(|ch| (ch, "FIXED", GREEN)));
    for (ch, mark, style) in changes {
        println!(
            "{style}{mark:9}{style:#} [{}] {} (was {}, now {})",
            ch.key.provider,
            ch.name(),
            describe::status(ch.before),
            describe::status(ch.now)
        );
        if mark == "REGRESSED" && !ch.reason.is_empty() {
            let first_line = ch.reason.lines().next().unwrap_or_default();
            println!("          {}", describe::truncate(first_line, 160));
        }
    }
}
