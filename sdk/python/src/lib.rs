//! `promptops._native`: the Python SDK is this binding of the Rust runtime SDK
//! (`promptops_client::sdk`), so Python applications get the same sources (memory, the
//! registry within a budget, the last good copy), the same background watch and refresh,
//! the same reporting queue and, above all, the same renderer as `promptops render`.
//!
//! The module owns one Tokio runtime (two worker threads, started on first use) for the
//! client's background tasks: the watch stream, revalidation and the report sender. The
//! blocking API releases the GIL while it waits; the `*_async` methods hand back asyncio
//! awaitables (pyo3-async-runtimes) completed from that runtime, so the event loop never
//! blocks. The Python-facing types and their docs are in `python/promptops/_native.pyi`.

mod convert;
mod errors;

use convert::{json_to_py, py_to_json};
use errors::sdk_error;
use promptops_api::EventOutcome;
use promptops_client::sdk::{self, Rendered};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyType};
use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The module's runtime, started on first use rather than at import, so a process that
/// imports `promptops` and then forks (a pre-forking server) starts its threads in the
/// child that uses them.
fn runtime() -> PyResult<&'static Runtime> {
    static STARTING: Mutex<()> = Mutex::new(());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _one = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("promptops")
        .enable_all()
        .build()
        .map_err(|e| errors::config(format!("cannot start the SDK's runtime threads: {e}")))?;
    let rt = RUNTIME.get_or_init(|| built);
    // The asyncio bridge completes its futures from this same runtime. It can only
    // have been set by us, under this lock, so an error here means "already set".
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    Ok(rt)
}

/// Runs `fut` to completion for a blocking call. A future that is ready at once (a
/// prompt in memory) is answered without releasing the GIL or a thread hop; otherwise
/// the GIL is released while the runtime drives it.
fn wait<F>(py: Python<'_>, rt: &'static Runtime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    let mut fut = pin!(fut);
    {
        let _ctx = rt.enter();
        // Polling with a no-op waker is sound: a pending future is polled again below
        // by `block_on`, which registers its real waker.
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return out;
        }
    }
    py.detach(|| rt.block_on(fut))
}

fn seconds(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        errors::config(format!(
            "{what} must be a number of seconds, zero or more (not {secs})"
        ))
    })
}

/// A client of a promptops registry (or of a bundle, offline).
#[pyclass(module = "promptops", name = "Client", frozen)]
struct Client {
    inner: sdk::Client,
    /// Shown by `repr`.
    source: String,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        url, *, api_key=None, project=None, snapshot_dir=None, timeout=0.5,
        refresh_every=60.0, watch=true, bundle=None, trusted_key=None, report_key=None,
        report_queue=10_000, report_batch=500, report_every=1.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: &str,
        api_key: Option<String>,
        project: Option<String>,
        snapshot_dir: Option<PathBuf>,
        timeout: f64,
        refresh_every: f64,
        watch: bool,
        bundle: Option<PathBuf>,
        trusted_key: Option<String>,
        report_key: Option<String>,
        report_queue: usize,
        report_batch: usize,
        report_every: f64,
    ) -> PyResult<Client> {
        let mut b = sdk::Client::builder(url)
            .timeout(seconds("timeout", timeout)?)
            .refresh_every(seconds("refresh_every", refresh_every)?)
            .watch(watch)
            .report_queue(report_queue)
            .report_batch(report_batch, seconds("report_every", report_every)?);
        if let Some(key) = api_key {
            b = b.api_key(key);
        }
        if let Some(p) = project {
            b = b.project(p);
        }
        if let Some(dir) = snapshot_dir {
            b = b.snapshot_dir(dir);
        }
        if let Some(path) = bundle {
            b = b.bundle(path);
        }
        if let Some(key) = trusted_key {
            b = b.trusted_key(key);
        }
        if let Some(key) = report_key {
            b = b.report_key(key);
        }
        // The HTTP client is made inside the runtime it will run on.
        let _ctx = runtime()?.enter();
        let inner = b.build().map_err(sdk_error)?;
        Ok(Client {
            inner,
            source: url.trim_end_matches('/').to_owned(),
        })
    }

    /// A client with no registry: every prompt comes from the bundle at `path`.
    #[classmethod]
    #[pyo3(signature = (path, *, public_key=None))]
    fn from_bundle(
        _cls: &Bound<'_, PyType>,
        path: PathBuf,
        public_key: Option<&str>,
    ) -> PyResult<Client> {
        let inner = sdk::Client::from_bundle_trusting(&path, public_key).map_err(sdk_error)?;
        Ok(Client {
            inner,
            source: format!("bundle {}", path.display()),
        })
    }

    /// What `env` serves for prompt `id`.
    #[pyo3(signature = (id, env="prod"))]
    fn get(&self, py: Python<'_>, id: &str, env: &str) -> PyResult<Prompt> {
        let rt = runtime()?;
        let got = wait(py, rt, self.inner.prompt(id).env(env).get());
        got.map(Prompt::from).map_err(sdk_error)
    }

    /// `get` as an asyncio awaitable.
    #[pyo3(signature = (id, env="prod".to_owned()))]
    fn get_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        env: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        runtime()?;
        let client = self.inner.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let got = client.prompt(&id).env(&env).get().await;
            got.map(Prompt::from).map_err(sdk_error)
        })
    }

    /// Queues one execution of `prompt` for the registry; never blocks. False when it
    /// was dropped (the queue is full, or the client has no registry).
    #[pyo3(signature = (
        prompt, *, latency_ms=None, input_tokens=None, output_tokens=None, ok=true,
        error=None, model=None, provider=None, cost_usd=None, trace_id=None, span_id=None,
        request_id=None, input=None, output=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        prompt: &Prompt,
        latency_ms: Option<f64>,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
        ok: bool,
        error: Option<String>,
        model: Option<String>,
        provider: Option<String>,
        cost_usd: Option<f64>,
        trace_id: Option<String>,
        span_id: Option<String>,
        request_id: Option<String>,
        input: Option<&Bound<'_, PyAny>>,
        output: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut e = prompt.inner.execution();
        e.latency_ms = match latency_ms {
            None => None,
            Some(ms) if ms.is_finite() && ms >= 0.0 => Some(ms.round() as u64),
            Some(ms) => {
                return Err(PyValueError::new_err(format!(
                    "latency_ms must be a number of milliseconds, zero or more (not {ms})"
                )));
            }
        };
        if let Some(cost) = cost_usd
            && !(cost.is_finite() && cost >= 0.0)
        {
            return Err(PyValueError::new_err(format!(
                "cost_usd must be zero or more (not {cost})"
            )));
        }
        e.input_tokens = input_tokens;
        e.output_tokens = output_tokens;
        if !ok || error.is_some() {
            e.outcome = Some(EventOutcome::Error);
        }
        e.error = error;
        e.model = model;
        e.provider = provider;
        e.cost_usd = cost_usd;
        e.trace_id = trace_id;
        e.span_id = span_id;
        e.request_id = request_id;
        e.input = input
            .map(|v| py_to_json(v, "input"))
            .transpose()
            .map_err(PyValueError::new_err)?;
        e.output = output
            .map(|v| py_to_json(v, "output"))
            .transpose()
            .map_err(PyValueError::new_err)?;
        // The sender task starts on the first report, on the module's runtime.
        let _ctx = runtime()?.enter();
        Ok(self.inner.report(e))
    }

    /// Sends what is queued, waiting at most `timeout` seconds; the stats then.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<ReportStats> {
        let within = seconds("timeout", timeout)?;
        let rt = runtime()?;
        Ok(wait(py, rt, self.inner.flush(within)).into())
    }

    /// `flush` as an asyncio awaitable.
    #[pyo3(signature = (timeout=5.0))]
    fn flush_async<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let within = seconds("timeout", timeout)?;
        runtime()?;
        let client = self.inner.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            Ok(ReportStats::from(client.flush(within).await))
        })
    }

    /// What reporting has done so far.
    fn report_stats(&self) -> ReportStats {
        self.inner.report_stats().into()
    }

    fn __repr__(&self) -> String {
        format!("promptops.Client({})", self.source)
    }
}

/// One prompt as an environment serves it (or as a local prompt file reads).
#[pyclass(module = "promptops", name = "Prompt", frozen)]
struct Prompt {
    inner: sdk::Prompt,
}

impl From<sdk::Prompt> for Prompt {
    fn from(inner: sdk::Prompt) -> Self {
        Prompt { inner }
    }
}

#[pymethods]
impl Prompt {
    /// A prompt file's source, read and checked as `promptops validate` reads it.
    #[staticmethod]
    #[pyo3(signature = (source, name="<source>"))]
    fn from_source(source: &str, name: &str) -> PyResult<Prompt> {
        sdk::Prompt::from_source(name, source.as_bytes())
            .map(Prompt::from)
            .map_err(sdk_error)
    }

    /// The prompt file at `path`.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Prompt> {
        let name = path.display().to_string();
        let bytes = py.detach(|| std::fs::read(&path))?;
        sdk::Prompt::from_source(&name, &bytes)
            .map(Prompt::from)
            .map_err(sdk_error)
    }

    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    #[getter]
    fn version(&self) -> &str {
        self.inner.version()
    }

    #[getter]
    fn content_hash(&self) -> &str {
        self.inner.content_hash()
    }

    #[getter]
    fn environment(&self) -> &str {
        self.inner.environment()
    }

    /// `{"provider", "name", "params"}`.
    #[getter]
    fn model<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, self.inner.model())
    }

    /// Declared variables: name → `{"type", "required", "default"}`.
    #[getter]
    fn variables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, self.inner.variables())
    }

    /// `"chat"` for a prompt of messages, `"text"` for a template.
    #[getter]
    fn kind(&self) -> &'static str {
        if self.inner.resolved().content.get("messages").is_some() {
            "chat"
        } else {
            "text"
        }
    }

    /// Renders with `vars` (and keyword arguments, which win): a `str` for a text
    /// prompt, a list of `{"role", "content"}` dicts for a chat prompt.
    #[pyo3(signature = (vars=None, /, **kwargs))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        vars: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut values = serde_json::Map::new();
        let mut bind = |name: Bound<'py, PyAny>, value: Bound<'py, PyAny>| -> PyResult<()> {
            let name: String = name.extract().map_err(|_| {
                errors::render(format!(
                    "variable names must be str (found a {})",
                    type_name(&name)
                ))
            })?;
            let json = py_to_json(&value, &name).map_err(errors::render)?;
            values.insert(name, json);
            Ok(())
        };
        match vars {
            None => {}
            Some(v) if v.is_none() => {}
            Some(v) => {
                if let Ok(dict) = v.cast::<PyDict>() {
                    for (name, value) in dict.iter() {
                        bind(name, value)?;
                    }
                } else if let Ok(mapping) = v.cast::<PyMapping>() {
                    for item in mapping.items()?.iter() {
                        let (name, value) = item.extract()?;
                        bind(name, value)?;
                    }
                } else {
                    return Err(errors::render(format!(
                        "variables must be a dict of names to values, not a {}",
                        type_name(v)
                    )));
                }
            }
        }
        if let Some(kw) = kwargs {
            for (name, value) in kw.iter() {
                bind(name, value)?;
            }
        }
        let vars = serde_json::Value::Object(values);
        let rendered = py.detach(|| self.inner.render(&vars)).map_err(sdk_error)?;
        match rendered {
            Rendered::Text(text) => Ok(text.into_pyobject(py)?.into_any()),
            Rendered::Messages(messages) => {
                let value = serde_json::to_value(&messages)
                    .map_err(|e| errors::render(format!("the rendered messages: {e}")))?;
                json_to_py(py, &value)
            }
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "promptops.Prompt({}@{}, {}, {})",
            self.inner.id(),
            self.inner.version(),
            self.inner.environment(),
            short(self.inner.content_hash())
        )
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// What reporting has done so far.
#[pyclass(module = "promptops", name = "ReportStats", frozen, eq)]
#[derive(PartialEq, Eq)]
struct ReportStats {
    /// Waiting to be sent.
    #[pyo3(get)]
    queued: u64,
    /// Taken by the registry.
    #[pyo3(get)]
    sent: u64,
    /// Dropped because the queue was full (or the client has no registry).
    #[pyo3(get)]
    dropped: u64,
    /// Refused by the registry (bad events, a key that may not report).
    #[pyo3(get)]
    failed: u64,
}

impl From<sdk::ReportStats> for ReportStats {
    fn from(s: sdk::ReportStats) -> Self {
        ReportStats {
            queued: s.queued,
            sent: s.sent,
            dropped: s.dropped,
            failed: s.failed,
        }
    }
}

#[pymethods]
impl ReportStats {
    fn __repr__(&self) -> String {
        format!(
            "ReportStats(queued={}, sent={}, dropped={}, failed={})",
            self.queued, self.sent, self.dropped, self.failed
        )
    }
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Client>()?;
    m.add_class::<Prompt>()?;
    m.add_class::<ReportStats>()?;
    Ok(())
}
