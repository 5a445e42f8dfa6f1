//! Runs a suite: every step × provider × prompt, with at most `concurrency` calls in
//! flight. A fixed set of workers pulls jobs by index, so memory does not grow with the
//! number of tests, and rows are kept in completion order (as promptfoo writes them).

mod comparisons;
mod function_vars;
mod step_vars;

pub use comparisons::ComparisonOrder;

use crate::assertions::compare::is_comparison;
use crate::assertions::{self, AssertionError, ComponentResult, GradingResult, Observed};
use crate::provider::{Provider, Response};
use crate::report::Summary;
use crate::spill::{Spill, SpillError};
use crate::suite::{AssertItem, PromptTemplate, Suite, TestStep};
use promptops_core::template::{TemplateSet, Undefined};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct RunOptions {
    pub concurrency: usize,
    pub delay_ms: u64,
    /// Per step (render, call, grade); `None` is no limit beyond the HTTP timeout.
    pub step_timeout: Option<Duration>,
    /// The grader models of model-graded assertions.
    pub graders: Arc<crate::graders::GraderTable>,
    /// The providers of tests' `provider:` overrides, by their place in
    /// [`Suite::test_providers`].
    pub test_providers: Arc<Vec<Provider>>,
    /// The order `select-best` and `max-score` see a test's outputs in.
    pub comparison_order: ComparisonOrder,
}

/// Why a row did not pass (promptfoo's `failureReason`: 0 passed, 1 assertion, 2 error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

/// One prompt × provider × step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub step: usize,
    pub provider: usize,
    pub prompt: usize,
    /// The column (provider × prompt pair) in [`Suite::columns`], promptfoo's `promptIdx`.
    pub prompt_idx: usize,
    pub rendered_prompt: String,
    /// `None` when the step failed before or without a provider answer.
    pub response: Option<Response>,
    pub latency_ms: u64,
    pub grading: Option<GradingResult>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// promptfoo counts a row with no output as a failure whose `failureReason` stays 0.
    pub failure_reason: u8,
    pub score: f64,
    /// The vars the row ran with when they are not its step's (`transformVars`, outputs
    /// kept by `storeOutputAs`); reports show these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<Map<String, Json>>,
    /// The step itself, while the row is fresh from the run (not stored: a row read back
    /// from the run's store looks its step up by number).
    #[serde(skip)]
    pub step_data: Option<Arc<TestStep>>,
}

impl Row {
    pub fn success(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

pub struct RunResult {
    /// Every finished row, kept off the heap (see [`Rows`]).
    pub rows: Rows,
    /// Counts and sums over the rows, per prompt × provider and overall.
    pub summary: Summary,
    /// What the gates measure of the calls made.
    pub calls: Calls,
    pub duration: Duration,
    /// Set when Ctrl-C stopped the run early.
    pub interrupted: bool,
    pub total_jobs: usize,
}

impl RunResult {
    /// A run made of `rows` (in any order), its figures counted from them.
    pub fn from_rows(rows: Vec<Row>, n_prompt_slots: usize, duration: Duration) -> RunResult {
        let mut result = RunResult {
            rows: Rows::new(n_prompt_slots),
            summary: Summary::new(n_prompt_slots),
            calls: Calls::default(),
            duration,
            interrupted: false,
            total_jobs: rows.len(),
        };
        for row in &rows {
            result.add(row).expect("rows of a test fit in memory");
        }
        result
    }

    /// Counts `row` and keeps it.
    fn add(&mut self, row: &Row) -> Result<(), SpillError> {
        self.summary.add(row);
        self.calls.add(row);
        self.rows.put(row)
    }
}

/// The finished rows of a run in a [`Spill`], numbered by job (test, then provider ×
/// prompt): reports read them back in that order, whatever order they finished in.
#[derive(Debug)]
pub struct Rows {
    spill: Spill,
    per_step: usize,
}

impl Rows {
    fn new(per_step: usize) -> Rows {
        Rows {
            spill: Spill::new(),
            per_step: per_step.max(1),
        }
    }

    fn put(&mut self, row: &Row) -> Result<(), SpillError> {
        self.spill
            .put(row.step * self.per_step + row.prompt_idx, row)
    }

    /// How many rows finished.
    pub fn len(&self) -> usize {
        self.spill.count()
    }

    pub fn is_empty(&self) -> bool {
        self.spill.is_empty()
    }

    /// The rows by test, then prompt × provider.
    pub fn in_order(&self) -> impl Iterator<Item = Result<Row, SpillError>> + '_ {
        self.spill.iter()
    }
}

/// The calls a run made, as the gates judge them: each call's latency (for the 95th
/// percentile), and the sum of their costs unless one has no known price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calls {
    pub latencies_ms: Vec<u64>,
    pub cost: crate::pricing::NanoUsd,
    /// Calls whose model has no price.
    pub unpriced: usize,
}

impl Calls {
    fn add(&mut self, row: &Row) {
        let Some(response) = &row.response else {
            return;
        };
        self.latencies_ms.push(row.latency_ms);
        match response.cost {
            Some(cost) => self.cost = self.cost + cost,
            None => self.unpriced += 1,
        }
    }

    pub fn count(&self) -> usize {
        self.latencies_ms.len()
    }
}

/// Runs the suite with `providers` (in the suite's order). `resumed` are rows an
/// interrupted run finished (`--resume`): they go to `sink` first and their jobs are
/// not run again. `on_row` is told of each finished job (for a progress bar); `sink`
/// gets each row as it completes, on this task, so reports can be written while calls
/// are still in flight.
///
/// Jobs are the suite's steps × columns, taken in order by a fixed set of workers; a job
/// whose column the step's `prompts:`/`providers:` filters leave out makes no row. The
/// rows of a test with `select-best` or `max-score` are held back until all of them are
/// in; the worker that finishes the last one compares them and passes them all on. As
/// workers take tests in order, only the few tests in flight are ever held, and the
/// comparisons' grader calls count against the same `-j`.
pub async fn run(
    suite: Arc<Suite>,
    providers: Arc<Vec<Provider>>,
    options: RunOptions,
    cancel: Arc<AtomicBool>,
    on_row: Arc<dyn Fn(usize, usize) + Send + Sync>,
    resumed: &mut dyn Iterator<Item = Result<Row, SpillError>>,
    sink: &mut dyn FnMut(&Row),
) -> Result<RunResult, SpillError> {
    let started = Instant::now();
    let per_step = suite.columns.len();
    let total = suite.steps.len() * per_step;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    // A delay paces one call at a time, and `storeOutputAs` hands outputs to later
    // tests: both run serially, as in promptfoo.
    let concurrency = if options.delay_ms > 0 || suite.steps.store_outputs() {
        1
    } else {
        options.concurrency.max(1)
    }
    .min(total.max(1));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Row>();
    let templates = Arc::new(Templates::for_suite(&suite));
    let mut result = RunResult {
        rows: Rows::new(per_step),
        summary: Summary::new(per_step),
        calls: Calls::default(),
        duration: Duration::ZERO,
        interrupted: false,
        total_jobs: total,
    };
    let mut finished = vec![false; total];
    for row in resumed {
        let row = row?;
        let job = row.step * per_step + row.prompt_idx;
        if row.prompt_idx >= per_step || finished.get(job) != Some(&false) {
            continue;
        }
        finished[job] = true;
        sink(&row);
        result.add(&row)?;
        done.fetch_add(1, Ordering::Relaxed);
    }
    let finished = Arc::new(finished);
    // Rows of tests with comparisons, by step, until the test's last row is in.
    let held: Arc<Mutex<HashMap<usize, Vec<Row>>>> = Arc::default();
    let registers: Arc<step_vars::Registers> = Arc::default();

    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (templates, finished) = (templates.clone(), finished.clone());
        let (suite, providers, next, done, cancel, tx, on_row, options, held) = (
            suite.clone(),
            providers.clone(),
            next.clone(),
            done.clone(),
            cancel.clone(),
            tx.clone(),
            on_row.clone(),
            options.clone(),
            held.clone(),
        );
        let registers = registers.clone();
        workers.push(tokio::spawn(async move {
            loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= total {
                    break;
                }
                if finished[job] {
                    continue;
                }
                let (step, column) = (job / per_step, job % per_step);
                let ctx = JobContext {
                    suite: &suite,
                    templates: &templates,
                    providers: &providers,
                    options: &options,
                    registers: &registers,
                };
                let row = match suite.steps.get(step) {
                    Ok(test) if !suite.column_allowed(&test.test, suite.columns[column]) => {
                        // Filtered out: no row, as in promptfoo.
                        on_row(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                        continue;
                    }
                    Ok(test) => run_job(&ctx, test, column).await,
                    Err(e) => unreadable_step(&suite, step, column, e),
                };
                // As in promptfoo, the delay follows calls only, not cache hits; a
                // provider's own `delay` wins over the run's.
                let cached = row.response.as_ref().is_some_and(|r| r.cached);
                let delay_ms = providers[suite.columns[column].provider]
                    .spec
                    .delay_ms
                    .unwrap_or(options.delay_ms);
                if delay_ms > 0 && !cached {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                let compared = match row
                    .step_data
                    .clone()
                    .filter(|s| comparisons::has_comparisons(&s.test))
                {
                    None => vec![row],
                    Some(test) => {
                        let complete = {
                            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
                            let rows = held.entry(test.test_idx).or_default();
                            rows.push(row);
                            if rows.len() == suite.columns_for(&test.test).count() {
                                held.remove(&test.test_idx)
                            } else {
                                None
                            }
                        };
                        match complete {
                            Some(rows) => {
                                comparisons::compare(
                                    rows,
                                    test,
                                    &suite,
                                    &options.graders,
                                    options.comparison_order,
                                )
                                .await
                            }
                            None => Vec::new(),
                        }
                    }
                };
                for row in compared {
                    let _ = tx.send(row);
                }
                on_row(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            }
        }));
    }
    drop(tx);
    let mut store_error = None;
    let mut deliver = |row: &Row, result: &mut RunResult| {
        sink(row);
        if let Err(e) = result.add(row) {
            // The disk is full or gone: stop taking new jobs; what finished is reported.
            cancel.store(true, Ordering::Relaxed);
            store_error.get_or_insert(e);
        }
    };
    while let Some(row) = rx.recv().await {
        deliver(&row, &mut result);
    }
    for w in workers {
        let _ = w.await;
    }
    // An interrupted run can leave tests whose rows did not all come in: they cannot be
    // compared, so they are left out (and redone by `--resume`, which then finds every
    // compared test whole in the progress file).
    let uncompared: usize = held
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .map(Vec::len)
        .sum();
    if !suite.derived_metrics.is_empty() {
        compute_derived_metrics(&suite, &providers, &mut result.summary).await;
    }
    result.duration = started.elapsed();
    result.interrupted = next.load(Ordering::Relaxed) < total || uncompared > 0;
    result.total_jobs = if result.interrupted {
        // Filters leave jobs out: count the rows the whole run would have made.
        suite
            .steps
            .iter()
            .map(|s| s.map_or(per_step, |s| suite.columns_for(&s.test).count()))
            .sum()
    } else {
        result.rows.len()
    };
    match store_error {
        Some(e) => Err(e),
        None => Ok(result),
    }
}

/// `derivedMetrics`, added to each prompt's named scores once its rows are in.
async fn compute_derived_metrics(suite: &Suite, providers: &[Provider], summary: &mut Summary) {
    for (idx, column) in suite.columns.iter().enumerate() {
        let Some(p) = summary.per_prompt.get_mut(idx) else {
            continue;
        };
        if p.rows() == 0 {
            continue;
        }
        let context = serde_json::json!({
            "promptIdx": idx,
            "prompt": suite.prompts[column.prompt].label,
            "provider": providers[column.provider].display_name(),
        });
        let rows = p.rows();
        crate::derived::apply(
            &suite.derived_metrics,
            &mut p.named_scores,
            rows,
            &context,
            &suite.base_dir,
        )
        .await;
    }
}

/// The row of a job whose step could not be read back from the run's store.
fn unreadable_step(suite: &Suite, step: usize, column: usize, e: SpillError) -> Row {
    let c = suite.columns[column];
    Row {
        step,
        provider: c.provider,
        prompt: c.prompt,
        prompt_idx: column,
        rendered_prompt: String::new(),
        response: None,
        latency_ms: 0,
        grading: None,
        error: Some(e.to_string()),
        outcome: Outcome::Error,
        failure_reason: 2,
        score: 0.0,
        step_data: None,
        vars: None,
    }
}

/// What one job needs from the run.
struct JobContext<'a> {
    suite: &'a Suite,
    templates: &'a Templates,
    providers: &'a [Provider],
    options: &'a RunOptions,
    /// Outputs kept by `storeOutputAs` for later tests.
    registers: &'a step_vars::Registers,
}

/// Step `test` of the suite with the provider and prompt of column `column`.
async fn run_job(ctx: &JobContext<'_>, test: Arc<TestStep>, column: usize) -> Row {
    let JobContext {
        suite,
        providers,
        options,
        ..
    } = *ctx;
    let c = suite.columns[column];
    let provider = &providers[c.provider];
    // A test's `provider:` answers in the suite provider's place (the row still reports
    // the suite's provider and column, as promptfoo's does).
    let answering = suite
        .test_provider_index(&test.test)
        .and_then(|i| options.test_providers.get(i))
        .unwrap_or(provider);
    let prompt = &suite.prompts[c.prompt];
    let mut row = Row {
        step: test.test_idx,
        provider: c.provider,
        prompt: c.prompt,
        prompt_idx: column,
        rendered_prompt: String::new(),
        response: None,
        latency_ms: 0,
        grading: None,
        error: None,
        outcome: Outcome::Error,
        failure_reason: 2,
        score: 0.0,
        step_data: None,
        vars: None,
    };
    row.step_data = Some(test.clone());
    let test = match step_vars::prepared(test, ctx.registers, &suite.base_dir).await {
        Ok((prepared, reported)) => {
            row.vars = reported;
            prepared
        }
        Err(e) => {
            row.error = Some(e);
            return row;
        }
    };
    let work = evaluate(
        ctx,
        &test,
        prompt,
        c.prompt,
        (provider, answering),
        &mut row,
    );
    match options.step_timeout {
        None => work.await,
        Some(limit) => {
            if tokio::time::timeout(limit, work).await.is_err() {
                let ms = limit.as_millis();
                row.response = None;
                row.grading = None;
                row.latency_ms = ms as u64;
                row.outcome = Outcome::Error;
                row.failure_reason = 2;
                row.error = Some(format!(
                    "Evaluation timed out after {ms}ms: Error: Evaluation timed out after {ms}ms"
                ));
            }
        }
    }
    row
}

/// Renders, calls and grades one row. `providers`: the column's provider (what the row
/// and the assertions see) and the one that answers (a test's `provider:`, else the same).
async fn evaluate(
    ctx: &JobContext<'_>,
    test: &TestStep,
    prompt: &PromptTemplate,
    prompt_idx: usize,
    (provider, answering): (&Provider, &Provider),
    row: &mut Row,
) {
    let (base_dir, templates, graders) = (&ctx.suite.base_dir, ctx.templates, &ctx.options.graders);
    let (rendered, call_options) =
        match prompt_for_row(test, prompt, (templates, prompt_idx), provider, base_dir).await {
            Ok(r) => r,
            Err(e) => {
                row.error = Some(e);
                return;
            }
        };
    row.rendered_prompt = rendered.clone();
    let started = Instant::now();
    // A test's `providerOutput` is graded in place of an answer: no call is made.
    let mut response = match test
        .test
        .object
        .get("providerOutput")
        .filter(|o| crate::js_truthy(o))
    {
        Some(given) => crate::provider::Response {
            output: Some(given.clone()),
            ..Default::default()
        },
        None => answering.call(&rendered, &test.vars, &call_options).await,
    };
    // The provider's own figure leaves out its wait for a rate-limit slot.
    row.latency_ms = response
        .latency_ms
        .unwrap_or_else(|| started.elapsed().as_millis() as u64);
    if let Some(error) = &response.error {
        row.error = Some(error.clone());
        row.response = Some(response);
        return;
    }
    let Some(output) = response.output.clone() else {
        row.error = Some("No output".into());
        row.outcome = Outcome::Fail;
        row.failure_reason = 0;
        row.response = Some(response);
        return;
    };
    // The provider's `transform`, then the test's (`postprocess` is its older name).
    let test_transform = test
        .test
        .options
        .get("transform")
        .filter(|t| !t.is_null())
        .or_else(|| test.test.options.get("postprocess"))
        .and_then(Json::as_str);
    let transforms = provider
        .spec
        .transform
        .as_deref()
        .into_iter()
        .chain(test_transform);
    let mut output = output;
    for code in transforms {
        let context = serde_json::json!({"vars": test.vars, "prompt": rendered});
        match assertions::script::run_transform(
            code,
            assertions::script::Input::Output,
            &output,
            &context,
            base_dir,
        )
        .await
        {
            // Reports show the transformed output, as promptfoo's do.
            Ok(transformed) => {
                response.output = Some(transformed.clone());
                output = transformed;
            }
            Err(e) => {
                row.error = Some(format!("Transform failed: {e}"));
                row.response = Some(response);
                return;
            }
        }
    }
    step_vars::store_output(test, &output, ctx.registers);
    let output_text = match &output {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let observed = Observed {
        output: &output_text,
        raw_output: Some(&output),
        // promptfoo's `latency` assertion refuses cached answers: their latency is a disk read.
        latency_ms: (!response.cached).then_some(row.latency_ms),
        cost: response.cost,
        finish_reason: response.finish_reason.as_deref(),
        logprobs: response.logprobs.as_deref(),
        provider_config: Some(&provider.spec.config),
        context: assertions::script::ScriptContext {
            prompt: &rendered,
            vars: Some(&test.vars),
            test: Some(test),
            provider_id: &provider.spec.reported_id,
            provider_label: &provider.spec.label,
        },
        base_dir: Some(base_dir),
    };
    let graded = assertions::model_graded::Graded {
        output: &output_text,
        prompt: &rendered,
        vars: &test.vars,
        base_dir,
        rubric_prompt: test.test.options.get("rubricPrompt"),
    };
    match grade(test, &observed, &graded, (graders, templates), base_dir).await {
        Ok(grading) => {
            row.score = grading.score;
            if grading.pass {
                row.outcome = Outcome::Pass;
                row.failure_reason = 0;
            } else {
                row.outcome = Outcome::Fail;
                row.failure_reason = 1;
                row.error = Some(grading.reason.clone());
            }
            row.grading = Some(grading);
            row.response = Some(response);
        }
        Err(e) => {
            // A broken assertion is an error row without a response, as in promptfoo.
            row.error = Some(format!("Error: {}", e.0));
        }
    }
}

/// The prompt of a row as the provider gets it, and the options of the call: the test's
/// `options` over what the prompt function returned as `config` over the prompt's own
/// `config` (promptfoo's `mergeProviderPromptConfig`).
async fn prompt_for_row<'t>(
    test: &'t TestStep,
    prompt: &PromptTemplate,
    compiled: (&Templates, usize),
    provider: &Provider,
    base_dir: &std::path::Path,
) -> Result<(String, Cow<'t, Map<String, Json>>), String> {
    let mut config = Cow::Borrowed(&prompt.config);
    // Vars computed by function files run first, for this prompt.
    let with_functions = function_vars::computed(test, prompt, provider, base_dir).await?;
    let rendering = with_functions.as_ref().unwrap_or(test);
    let rendered = match &prompt.function {
        None => render_prompt(prompt, rendering, compiled.0, compiled.1)?,
        Some(function) => {
            let (text, returned) =
                call_prompt_function(function, prompt, rendering, provider, base_dir).await?;
            if let Some(returned) = returned {
                config.to_mut().extend(returned);
            }
            render_function_output(&text, rendering, compiled.0)?
        }
    };
    if config.is_empty() {
        return Ok((rendered, Cow::Borrowed(&test.test.options)));
    }
    let mut options = config.into_owned();
    options.extend(
        test.test
            .options
            .iter()
            .filter(|(k, _)| *k != "repeat")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    Ok((rendered, Cow::Owned(options)))
}

/// Calls a prompt function with promptfoo's context (`vars` with `file://` vars loaded,
/// `provider: {id, label}`, the prompt's `config`): a string is the prompt; an object
/// with `prompt` gives the prompt (text, or JSON for anything else) and a `config` for
/// the call; any other object or array is a chat prompt (its JSON).
async fn call_prompt_function(
    function: &crate::suite::PromptFunction,
    prompt: &PromptTemplate,
    test: &TestStep,
    provider: &Provider,
    base_dir: &std::path::Path,
) -> Result<(String, Option<Map<String, Json>>), String> {
    use crate::suite::ScriptLanguage;
    let mut vars = test.vars.clone();
    for (name, value) in &test.loaded {
        vars.insert(name.clone(), value.clone());
    }
    let mut about = Map::new();
    about.insert("id".into(), Json::String(provider.spec.reported_id.clone()));
    if !provider.spec.label.is_empty() {
        about.insert("label".into(), Json::String(provider.spec.label.clone()));
    }
    let context = serde_json::json!({"vars": vars, "provider": about, "config": prompt.config});
    let named = if function.name.is_empty() {
        function.file.display().to_string()
    } else {
        format!("{}:{}", function.file.display(), function.name)
    };
    let failed = |e: String| format!("prompt function {named}: {e}");
    let value = match function.language {
        ScriptLanguage::JavaScript => {
            let answer = assertions::script::call_file(
                &function.file,
                &function.name,
                &Json::Array(vec![context]),
                base_dir,
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            match answer["type"].as_str() {
                Some("string" | "object") => answer.get("value").cloned().unwrap_or(Json::Null),
                other => {
                    return Err(failed(format!(
                        "Prompt function must return a string or object, got {}",
                        other.unwrap_or("undefined")
                    )));
                }
            }
        }
        ScriptLanguage::Python => assertions::script::python::prompt_function(
            &function.file,
            &function.name,
            &context,
            base_dir,
        )
        .await
        .map_err(failed)?,
    };
    let kind = match &value {
        Json::String(s) => return Ok((s.clone(), None)),
        Json::Object(o) if o.contains_key("prompt") => {
            let text = match &o["prompt"] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Ok((text, o.get("config").and_then(Json::as_object).cloned()));
        }
        Json::Object(_) | Json::Array(_) => return Ok((value.to_string(), None)),
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
    };
    Err(failed(format!(
        "Prompt function must return a string or object, got {kind}"
    )))
}

/// One assertion: by rule, or by a grader model.
async fn check_one(
    a: &assertions::Assertion,
    test: &TestStep,
    observed: &Observed<'_>,
    graded: &assertions::model_graded::Graded<'_>,
    graders: &crate::graders::GraderTable,
    templates: &Templates,
) -> Result<ComponentResult, AssertionError> {
    let a = render_assertion_value(a, &test.vars, &templates.plain);
    let a = file_value(a, observed).await?;
    // An assertion's own `transform` maps the output for this assertion only, after the
    // test's (promptfoo 0.123.1, `docs/research/promptfoo-compat.md` §3.6).
    let transformed = match a.raw.get("transform") {
        Some(Json::String(code)) => Some(assertion_transform(code, test, observed).await?),
        Some(other) => {
            return Err(AssertionError(format!(
                "an assertion's `transform` must be JavaScript (a string), not {other}"
            )));
        }
        None => None,
    };
    let (observed, graded) = match &transformed {
        Some((raw, text)) => (
            &Observed {
                output: text,
                raw_output: Some(raw),
                ..observed.clone()
            },
            &assertions::model_graded::Graded {
                output: text,
                prompt: graded.prompt,
                vars: graded.vars,
                base_dir: graded.base_dir,
                rubric_prompt: graded.rubric_prompt,
            },
        ),
        None => (observed, graded),
    };
    if assertions::model_graded::is_model_graded(&a.kind) {
        let g = graders.for_assertion(&a, &test.test.options);
        assertions::model_graded::check(&a, graded, &g).await
    } else if assertions::is_script(&a.kind) {
        assertions::check_script(&a, observed).await
    } else {
        assertions::check(&a, observed)
    }
}

/// An assertion value `file://…` (except for `javascript` and `python`, whose value is
/// code): `.json`/`.yaml`/`.yml` parsed, `.txt` read and trimmed, `.js`/`.py[:fn]`
/// called with `(output, context)` for the value; any other file is an error (promptfoo
/// 0.123.1, `docs/research/promptfoo-compat.md` §4.1).
async fn file_value<'a>(
    a: Cow<'a, assertions::Assertion>,
    observed: &Observed<'_>,
) -> Result<Cow<'a, assertions::Assertion>, AssertionError> {
    let Some(reference) = a
        .value
        .as_ref()
        .and_then(Json::as_str)
        .and_then(|s| s.strip_prefix("file://"))
        .filter(|_| a.kind != "javascript" && a.kind != "python")
        .map(str::to_owned)
    else {
        return Ok(a);
    };
    let base_dir = observed.base_dir.unwrap_or(std::path::Path::new("."));
    let file = reference
        .split_once(':')
        .map_or(reference.as_str(), |(f, _)| f);
    let extension = std::path::Path::new(file)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let fail = |m: String| AssertionError(format!("{} value `file://{reference}`: {m}", a.kind));
    let raw_output = observed
        .raw_output
        .cloned()
        .unwrap_or_else(|| Json::String(observed.output.to_owned()));
    let value = match extension.as_str() {
        "json" | "yaml" | "yml" => crate::suite::read_config(&base_dir.join(file))
            .map_err(|e| fail(format!("{}: {}", e.location, e.message)))?,
        "txt" => Json::String(
            std::fs::read_to_string(base_dir.join(file))
                .map_err(|e| fail(e.to_string()))?
                .trim()
                .to_owned(),
        ),
        "js" | "cjs" | "mjs" | "ts" | "cts" | "mts" => {
            let context = observed.context.to_json(&a);
            assertions::script::transform(
                &format!("file://{reference}"),
                &raw_output,
                &context,
                base_dir,
            )
            .await
            .map_err(|e| fail(e.to_string()))?
        }
        "py" => {
            let context = observed.context.to_json(&a);
            assertions::script::python::call(
                &format!("file://{reference}"),
                &raw_output,
                &context,
                base_dir,
            )
            .await
            .map_err(fail)?
        }
        other => {
            return Err(fail(format!(
                "a .{other} file cannot give an assertion's value (use .txt, .json, .yaml, .js or .py)"
            )));
        }
    };
    let mut a = a.into_owned();
    a.value = Some(value);
    Ok(Cow::Owned(a))
}

/// Runs an assertion's `transform` on the output: the new output as JSON and as text.
/// A failure, or no value, is an error of the row (promptfoo throws there).
async fn assertion_transform(
    code: &str,
    test: &TestStep,
    observed: &Observed<'_>,
) -> Result<(Json, String), AssertionError> {
    let context = serde_json::json!({"vars": test.vars, "prompt": observed.context.prompt});
    let raw = observed
        .raw_output
        .cloned()
        .unwrap_or_else(|| Json::String(observed.output.to_owned()));
    let base_dir = observed.base_dir.unwrap_or(std::path::Path::new("."));
    let out = assertions::script::transform(code, &raw, &context, base_dir)
        .await
        .map_err(|e| AssertionError(format!("Transform failed: {e}")))?;
    if out.is_null() {
        return Err(AssertionError(
            "Transform function did not return a value".into(),
        ));
    }
    let text = match &out {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok((out, text))
}

/// Runs the test's assertions on the output and combines them.
/// Comparisons (`select-best`, `max-score`) are left for when the test's rows are all in;
/// a test's `assertScoringFunction` then has the last word.
async fn grade(
    test: &TestStep,
    observed: &Observed<'_>,
    graded: &assertions::model_graded::Graded<'_>,
    (graders, templates): (&crate::graders::GraderTable, &Templates),
    base_dir: &std::path::Path,
) -> Result<GradingResult, AssertionError> {
    let asserts = &test.test.asserts;
    if asserts.is_empty() {
        return Ok(GradingResult::no_assertions());
    }
    let mut top = Vec::with_capacity(asserts.len());
    for item in asserts {
        match item {
            AssertItem::One(a) if is_comparison(&a.kind) => {}
            AssertItem::One(a) => {
                top.push(check_one(a, test, observed, graded, graders, templates).await?)
            }
            AssertItem::Set {
                assertions: children,
                threshold,
                weight,
                metric,
                raw,
            } => {
                let mut results = Vec::with_capacity(children.len());
                // A comparison inside a set is never run (promptfoo skips it too).
                for a in children.iter().filter(|a| !is_comparison(&a.kind)) {
                    results.push(check_one(a, test, observed, graded, graders, templates).await?);
                }
                // The set counts as one result carrying its children (listed after it
                // in reports) and their named scores.
                let set = assertions::aggregate(results, *threshold);
                top.push(ComponentResult {
                    pass: set.pass,
                    score: set.score,
                    reason: set.reason,
                    assertion: raw.clone(),
                    weight: *weight,
                    metric: metric.clone(),
                    tokens: set.tokens_used,
                    named_scores: set.named_scores,
                    named_score_weights: set.named_score_weights,
                    component_results: set.component_results,
                });
            }
        }
    }
    let mut grading = assertions::aggregate(top, test.test.threshold);
    if let Some(spec) = &test.test.scoring_function {
        grading = assertions::scoring::apply(spec, grading, test.test.threshold, base_dir).await;
    }
    Ok(grading)
}

/// Assertion values are templates too (`value: "{{expected}}"`); most are not, and are
/// used as they are.
fn render_assertion_value<'a>(
    a: &'a assertions::Assertion,
    vars: &Map<String, Json>,
    engine: &TemplateSet,
) -> Cow<'a, assertions::Assertion> {
    let is_template = |s: &str| s.contains("{{") || s.contains("{%");
    let needs_render = match &a.value {
        Some(Json::String(s)) => is_template(s),
        Some(Json::Array(items)) => items.iter().any(|i| i.as_str().is_some_and(is_template)),
        _ => false,
    };
    if !needs_render {
        return Cow::Borrowed(a);
    }
    let render = |s: &str| -> String {
        if is_template(s) {
            engine.render_str(s, vars).unwrap_or_else(|_| s.to_owned())
        } else {
            s.to_owned()
        }
    };
    let mut a = a.clone();
    a.value = match a.value.take() {
        Some(Json::String(s)) => Some(Json::String(render(&s))),
        Some(Json::Array(items)) => Some(Json::Array(
            items
                .into_iter()
                .map(|i| match i {
                    Json::String(s) => Json::String(render(&s)),
                    other => other,
                })
                .collect(),
        )),
        other => other,
    };
    Cow::Owned(a)
}

/// A suite's template engines, built once per run (see `crate::nunjucks`).
pub(crate) struct Templates {
    /// The prompts (text prompts compiled by index) and the vars rendered for them:
    /// with the suite's custom filters and templates read from files.
    prompts: TemplateSet,
    /// What else promptfoo renders (a chat prompt's strings, assertion values): templates
    /// read from files, but not the custom filters, which promptfoo gives the prompt only.
    plain: TemplateSet,
    /// Where included templates are read from, for errors.
    root: std::path::PathBuf,
}

impl Templates {
    pub(crate) fn for_suite(suite: &Suite) -> Templates {
        let with_filters = crate::nunjucks::extensions(&suite.templates, true);
        let plain = crate::nunjucks::extensions(&suite.templates, false);
        let mut prompts = TemplateSet::with_extensions(Undefined::Lenient, &with_filters);
        for (i, p) in suite.prompts.iter().enumerate() {
            if p.registry.is_some()
                || p.function.is_some()
                || serde_json::from_str::<Json>(&p.raw).is_ok()
            {
                continue;
            }
            if is_template(&p.raw) {
                // A prompt that does not compile is reported per row by the uncached path.
                let _ = prompts.add(i.to_string(), wrap_partial_tags(&p.raw).into_owned());
            }
        }
        Templates {
            prompts,
            plain: TemplateSet::with_extensions(Undefined::Lenient, &plain),
            root: suite.templates.root.clone(),
        }
    }

    /// A render error, with where included templates are read from when one was missing.
    fn error(&self, e: promptops_core::template::TemplateError) -> String {
        if e.message.contains("template not found") {
            format!(
                "cannot render the prompt: {}; {}",
                e.message,
                crate::nunjucks::FileLoader::not_found_hint(&self.root)
            )
        } else {
            format!("cannot render the prompt: {}", e.message)
        }
    }
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// promptfoo's `autoWrapRawIfPartialNunjucks`: text with a tag left open at the end of a
/// line (`{{`, `{%` or `{#` with no closing brace on that line) renders as written.
fn wrap_partial_tags(text: &str) -> Cow<'_, str> {
    static PARTIAL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)(\{%[^%]*$|\{\{[^}]*$|\{#[^#]*$)").expect("a constant pattern")
    });
    static RAW: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{%\s*raw\s*%\}").expect("a constant pattern")
    });
    static ENDRAW: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{%\s*endraw\s*%\}").expect("a constant pattern")
    });
    let wrapped = RAW.is_match(text) && ENDRAW.is_match(text);
    if PARTIAL.is_match(text) && !wrapped {
        Cow::Owned(format!("{{% raw %}}{text}{{% endraw %}}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// promptfoo's `referencesUndefinedVariables`: whether a var's text names a variable the
/// step does not have (then it is passed on unrendered). Names are found as promptfoo's
/// `extractVariablesFromTemplate` finds them: `{{ name ... }}`, `{% if name %}`,
/// `{% for x in name %}`.
fn references_undefined(text: &str, vars: &Map<String, Json>) -> bool {
    static COMMENT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{#[\s\S]*?#\}").expect("a constant pattern")
    });
    static NAMES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\{\{\s*([^{}\s|]+)\s*(?:\|[^}]+)?\}\}|\{%\s*(?:if|for)\s+([^{}\s]+)\s*.*?%\}",
        )
        .expect("a constant pattern")
    });
    static FOR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{%\s*for\s+(\w+)\s+in\s+(\w+)\s*%\}").expect("a constant pattern")
    });
    static ROOT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^([A-Za-z_]\w*)").expect("a constant pattern")
    });
    let text = COMMENT.replace_all(text, "");
    let mut names: Vec<String> = NAMES
        .captures_iter(&text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_owned()))
        .collect();
    for c in FOR.captures_iter(&text) {
        names.retain(|n| n != &c[1]);
        names.push(c[2].to_owned());
    }
    names.iter().any(|name| {
        ROOT.captures(name)
            .is_some_and(|root| &root[1] != "env" && !vars.contains_key(&root[1]))
    })
}

/// Renders a prompt with a step's vars, as promptfoo 0.123.1's `renderPrompt` does (see
/// [`render_text`]). A test's `prefix`/`suffix` go around the prompt before rendering.
pub(crate) fn render_prompt(
    prompt: &PromptTemplate,
    test: &TestStep,
    templates: &Templates,
    prompt_idx: usize,
) -> Result<String, String> {
    if let Some(registry) = &prompt.registry {
        return render_registry_prompt(registry, test);
    }
    let vars = render_vars(test);
    let prefix = test
        .test
        .options
        .get("prefix")
        .and_then(Json::as_str)
        .unwrap_or("");
    let suffix = test
        .test
        .options
        .get("suffix")
        .and_then(Json::as_str)
        .unwrap_or("");
    if prefix.is_empty() && suffix.is_empty() {
        return render_text(&prompt.raw, &vars, templates, Some(prompt_idx));
    }
    render_text(
        &format!("{prefix}{}{suffix}", prompt.raw),
        &vars,
        templates,
        None,
    )
}

/// What a prompt function returned, rendered as promptfoo renders it: the text is a
/// template of the test's vars too (without the test's prefix and suffix, which belong
/// to the raw prompt the function replaces).
fn render_function_output(
    text: &str,
    test: &TestStep,
    templates: &Templates,
) -> Result<String, String> {
    render_text(text, &render_vars(test), templates, None)
}

/// The vars a prompt renders with: `file://` vars as their files hold them, each string
/// losing one trailing newline, references to other vars substituted.
fn render_vars(test: &TestStep) -> Cow<'_, Map<String, Json>> {
    let mut vars = Cow::Borrowed(&test.vars);
    if !test.loaded.is_empty() {
        // `file://` vars render as what their files hold.
        let with_files = vars.to_mut();
        for (name, value) in &test.loaded {
            with_files.insert(name.clone(), value.clone());
        }
    }
    if vars
        .values()
        .any(|v| v.as_str().is_some_and(|s| s.ends_with('\n')))
    {
        for value in vars.to_mut().values_mut() {
            if let Json::String(s) = value
                && s.ends_with('\n')
            {
                s.pop();
            }
        }
    }
    if vars
        .values()
        .any(|v| v.as_str().is_some_and(|s| s.contains("{{")))
    {
        substitute_var_references(vars.to_mut());
    }
    vars
}

/// Renders a prompt's text with its vars (as [`render_vars`] gives them), as promptfoo
/// 0.123.1's `renderPrompt` does:
/// - text that is JSON (a chat prompt) has every string inside rendered (without the
///   custom filters) and is re-serialised with two-space indentation;
/// - any other text, or JSON whose strings do not render, is one template (a JSON file
///   with `{% for %}` tags is read as chat by the provider after rendering), its string
///   vars rendered first unless they name a variable the step lacks.
///
/// Undefined variables render as nothing; a tag left open at the end of a line renders
/// as written. `compiled` names the suite's prompt compiled once for this text.
fn render_text(
    raw: &str,
    vars: &Map<String, Json>,
    templates: &Templates,
    compiled: Option<usize>,
) -> Result<String, String> {
    // Any JSON text (`JSON.parse` succeeds), usually a list of chat messages.
    if let Ok(mut parsed) = serde_json::from_str::<Json>(raw) {
        let render = |text: &str| {
            templates
                .plain
                .render_str(text, vars)
                .map_err(|e| e.message)
        };
        // promptfoo renders the strings without its custom filters; when that fails it
        // renders the whole text instead (below).
        if render_strings(&mut parsed, &render).is_ok() {
            return serde_json::to_string_pretty(&parsed).map_err(|e| e.to_string());
        }
    }
    // The vars are templates too, rendered with the step's vars.
    let needs_rendering = |v: &Json| v.as_str().is_some_and(is_template);
    let rendered_vars = if vars.values().any(needs_rendering) {
        let mut rendered = vars.clone();
        for value in rendered.values_mut() {
            let Json::String(text) = value else { continue };
            if !is_template(text) || references_undefined(text, vars) {
                continue;
            }
            *text = templates
                .prompts
                .render_str(&wrap_partial_tags(text), vars)
                .map_err(|e| templates.error(e))?;
        }
        Cow::Owned(rendered)
    } else {
        Cow::Borrowed(vars)
    };
    if let Some(idx) = compiled {
        let name = idx.to_string();
        if templates.prompts.contains(&name) {
            return templates
                .prompts
                .render(&name, &*rendered_vars)
                .map_err(|e| templates.error(e));
        }
    }
    if !is_template(raw) {
        return Ok(raw.to_owned());
    }
    templates
        .prompts
        .render_str(&wrap_partial_tags(raw), &*rendered_vars)
        .map_err(|e| templates.error(e))
}

/// Vars that name other vars (`greeting: "Hello {{ name }}"`) get their values, as
/// promptfoo substitutes simple `{{name}}` references inside var values before
/// rendering: up to five passes, so references can chain; an unknown name is left as
/// written.
fn substitute_var_references(vars: &mut Map<String, Json>) {
    static REFERENCE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}").expect("a constant pattern")
    });
    for _ in 0..5 {
        let snapshot = vars.clone();
        let mut changed = false;
        for value in vars.values_mut() {
            let Json::String(text) = value else {
                continue;
            };
            if !text.contains("{{") {
                continue;
            }
            let replaced = REFERENCE.replace_all(text, |caps: &regex::Captures<'_>| match snapshot
                .get(&caps[1])
            {
                Some(Json::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => caps[0].to_owned(),
            });
            if replaced != *text {
                *text = replaced.into_owned();
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// A promptops prompt file: the test's vars are bound to its declared variables (types
/// checked, defaults applied, required ones enforced), then its template or messages are
/// rendered strictly. Messages go to the provider as a chat prompt (JSON).
fn render_registry_prompt(
    registry: &crate::suite::RegistryPrompt,
    test: &TestStep,
) -> Result<String, String> {
    use promptops_core::render::{self, Inputs, Rendered};
    let inputs = Inputs {
        // `file://` vars as their files hold them.
        values: test
            .vars
            .iter()
            .chain(&test.loaded)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Inputs::default()
    };
    let prompt = &registry.prompt;
    let bound = render::bind(prompt, &registry.used_variables, &inputs).map_err(|problems| {
        let list: Vec<String> = problems
            .iter()
            .map(|p| {
                // The CLI's `--var` hint does not apply to a suite's vars.
                let message = p
                    .message
                    .split("; pass it with")
                    .next()
                    .unwrap_or(&p.message);
                format!("variable `{}` {message}", p.name)
            })
            .collect();
        format!(
            "prompt {}@{}: {}",
            prompt.id,
            prompt.version,
            list.join("; ")
        )
    })?;
    match render::render(prompt, &bound.values)
        .map_err(|e| format!("prompt {}@{}: {e}", prompt.id, prompt.version))?
    {
        Rendered::Text(text) => Ok(text),
        Rendered::Messages(messages) => {
            serde_json::to_string_pretty(&messages).map_err(|e| e.to_string())
        }
    }
}

fn render_strings(
    value: &mut Json,
    render: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), String> {
    match value {
        Json::String(s) if is_template(s) => *s = render(s)?,
        Json::Array(items) => items
            .iter_mut()
            .try_for_each(|i| render_strings(i, render))?,
        Json::Object(map) => map
            .values_mut()
            .try_for_each(|v| render_strings(v, render))?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The rendered prompts of a suite built from `config` in `dir` (includes read from
    /// `dir`), one per step.
    fn rendered(dir: &std::path::Path, config: Json) -> Vec<Result<String, String>> {
        let mut suite =
            crate::suite::from_json(config, &dir.join("promptfooconfig.yaml"), None).unwrap();
        suite.templates.root = dir.to_path_buf();
        let templates = Templates::for_suite(&suite);
        (0..suite.steps.len())
            .map(|i| {
                let step = suite.steps.get(i).unwrap();
                render_prompt(&suite.prompts[0], &step, &templates, 0)
            })
            .collect()
    }

    #[test]
    fn prompts_render_as_promptfoo_renders_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("shout.js"),
            "module.exports = (s, n) => String(s).toUpperCase() + '!'.repeat(n || 1);",
        )
        .unwrap();
        std::fs::create_dir(d.join("partials")).unwrap();
        std::fs::write(d.join("partials/rules.txt"), "Be brief, {{ name }}.").unwrap();
        // An inline prompt with a `/` is a path to promptfoo: includes live in files.
        std::fs::write(
            d.join("with-include.txt"),
            "{% include 'partials/rules.txt' %}",
        )
        .unwrap();
        std::fs::write(
            d.join("with-missing.txt"),
            "{% include 'partials/gone.txt' %}",
        )
        .unwrap();
        std::fs::write(
            d.join("chat.json"),
            r#"[{% for m in turns %}{"role": "user", "content": "{{ m.input }}"},{% endfor %}{"role": "user", "content": "{{ name | shout }}"}]"#,
        )
        .unwrap();
        let filters = json!({"shout": "file://shout.js"});
        let one = |prompt: Json, vars: Json| {
            rendered(
                d,
                json!({"prompts": [prompt], "providers": ["echo"], "nunjucksFilters": filters,
                       "tests": [{"vars": vars}]}),
            )
            .remove(0)
        };
        // Filters in the prompt and in vars rendered for it; a var naming a missing
        // variable is passed on as written.
        assert_eq!(
            one(
                json!("{{ name | shout }} - {{ greeting }} - {{ raw }}"),
                json!({"name": "ada", "greeting": "{{ name | shout(2) }}", "raw": "{{ nobody | shout }}"})
            )
            .unwrap(),
            "ADA! - ADA!! - {{ nobody | shout }}"
        );
        // Templates read from files, from the folder promptops runs in.
        assert_eq!(
            one(json!("file://with-include.txt"), json!({"name": "Ada"})).unwrap(),
            "Be brief, Ada."
        );
        let e = one(json!("file://with-missing.txt"), json!({})).unwrap_err();
        assert!(
            e.contains("partials/gone.txt") && e.contains(&d.display().to_string()),
            "{e}"
        );
        // A JSON chat file with tags is rendered first, then read as JSON.
        let chat = one(
            json!("file://chat.json"),
            json!({"turns": [{"input": "hi"}, {"input": "more"}], "name": "ada"}),
        )
        .unwrap();
        let messages: Json = serde_json::from_str(&chat).unwrap();
        assert_eq!(
            messages,
            json!([{"role": "user", "content": "hi"}, {"role": "user", "content": "more"},
                   {"role": "user", "content": "ADA!"}])
        );
        // A JSON prompt has its strings rendered and is pretty-printed; when a string
        // needs a custom filter (promptfoo renders JSON strings without them), the whole
        // text is rendered instead, as written.
        assert_eq!(
            one(
                json!(r#"[{"role":"user","content":"{{ name }}"}]"#),
                json!({"name": "a\"b"})
            )
            .unwrap(),
            "[\n  {\n    \"role\": \"user\",\n    \"content\": \"a\\\"b\"\n  }\n]"
        );
        assert_eq!(
            one(
                json!(r#"[{"role":"user","content":"{{ name | shout }}"}]"#),
                json!({"name": "ada"})
            )
            .unwrap(),
            r#"[{"role":"user","content":"ADA!"}]"#
        );
        // A tag left open at the end of a line is text.
        assert_eq!(
            one(
                json!("Write {{ like this\nfor {{ name }}"),
                json!({"name": "x"})
            )
            .unwrap(),
            "Write {{ like this\nfor {{ name }}"
        );
    }

    #[test]
    fn undefined_references_are_found_as_promptfoo_finds_them() {
        let vars = json!({"a": 1, "items": []}).as_object().unwrap().clone();
        for (text, want) in [
            ("{{ a }}", false),
            ("{{ b }}", true),
            ("{{ a | upper }}", false),
            ("{{ b.c | upper }}", true),
            ("{% if b %}x{% endif %}", true),
            ("{% for x in items %}{{ x }}{% endfor %}", false),
            ("{{ 'lit' | upper }}", false),
            ("{{ env.HOME }}", false),
            ("{# {{ b }} #}", false),
        ] {
            assert_eq!(references_undefined(text, &vars), want, "{text}");
        }
    }
}
