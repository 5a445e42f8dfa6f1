//! `javascript` assertions, `options.transform` and other JavaScript in an embedded
//! QuickJS engine, or under Node.js for files that need it (`modules.rs` decides).
//!
//! One engine per thread (the runner is single-threaded), created on first use. Each
//! distinct piece of code is compiled once, as promptfoo does, into
//! `new Function('output', 'context', 'process', body)`; a file is loaded once with the
//! local modules it requires (a bundle read from disk, given `require`, `module`,
//! `exports`, `__filename` and `__dirname`). Values cross the boundary as JSON text, so
//! the engine never holds Rust data. A runaway script is interrupted after
//! [`TIME_LIMIT`] and the engine's memory is capped.

use super::{Returned, ScriptContext, append, failed, grading_of, modules, node, verdict};
use crate::assertions::{Assertion, AssertionError, ComponentResult};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Longest a single script call may run (short under test, where a loop is stopped on purpose).
const TIME_LIMIT: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(10)
};
const MEMORY_LIMIT: usize = 256 << 20;
/// Compiled functions kept per thread; a templated script can differ on every row.
const MAX_COMPILED: usize = 4096;

/// Why a script could not give a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsError {
    #[error("{message}\nStack Trace: {stack}")]
    Threw { message: String, stack: String },
    #[error("the script ran longer than {0:?} and was stopped")]
    TimedOut(Duration),
    #[error("cannot load {path}: {reason}")]
    File { path: String, reason: String },
    #[error("JavaScript engine error: {0}")]
    Engine(String),
    /// Node.js is missing, too old, or failed to start.
    #[error("{0}")]
    Runtime(String),
}

/// The driver: compiles bodies into functions and calls them with JSON arguments,
/// answering with JSON that says what came back (or what was thrown).
const PRELUDE: &str = r#"
(() => {
  const fns = [];
  const describe = (r) => {
    const t = typeof r;
    if (t === 'undefined' || t === 'function' || t === 'symbol' || t === 'bigint') return JSON.stringify({ type: t });
    return JSON.stringify({ type: t, value: r });
  };
  const thrown = (e) => JSON.stringify({
    threw: String(e && e.message !== undefined ? e.message : e),
    stack: String((e && e.stack) || ''),
  });
  let settled = null;
  // `console` as scripts expect it: lines kept here, written to stderr by the host.
  const logged = [];
  const show = (a) => { if (typeof a === 'string') return a; try { return JSON.stringify(a); } catch (e) { return String(a); } };
  const write = (level) => (...args) => { if (logged.length < 1000) logged.push(level + args.map(show).join(' ')); };
  globalThis.console = { log: write(''), info: write(''), debug: write(''), trace: write(''), warn: write('warn: '), error: write('error: ') };
  globalThis.__promptops_drain = () => JSON.stringify(logged.splice(0));
  globalThis.__promptops = {
    compile(params, body) {
      try {
        fns.push(new Function(...JSON.parse(params), body));
        return JSON.stringify({ id: fns.length - 1 });
      } catch (e) { return thrown(e); }
    },
    bundle(text, name) {
      try {
        const bundle = JSON.parse(text);
        const cache = {};
        const load = (key) => {
          if (cache[key]) return cache[key].exports;
          const m = bundle.modules[key];
          const module = { exports: {}, filename: m.filename, id: key, loaded: false };
          cache[key] = module;
          if (m.json) { module.exports = JSON.parse(m.source); return module.exports; }
          const require = (spec) => {
            const target = m.requires[spec];
            if (target === undefined) {
              const e = new Error(`Cannot find module '${spec}' from '${m.filename}'`);
              e.code = 'MODULE_NOT_FOUND';
              throw e;
            }
            return load(target);
          };
          new Function('module', 'exports', 'require', '__filename', '__dirname', m.source)
            .call(module.exports, module, module.exports, require, m.filename, m.dirname);
          module.loaded = true;
          return module.exports;
        };
        const exported = load(bundle.entry);
        // What promptfoo's importModule gives for a CommonJS file: its `default`, else it.
        const mod = (exported && exported.default) || exported;
        let f = name ? (mod == null ? undefined : mod[name]) : mod;
        if (typeof f !== 'function' && f && typeof f.default === 'function') f = f.default;
        if (typeof f !== 'function') throw new Error(name ? `${bundle.entry} does not export a function named ${name}` : `${bundle.entry} does not export a function`);
        fns.push(f);
        return JSON.stringify({ id: fns.length - 1 });
      } catch (e) { return thrown(e); }
    },
    call(id, args) { return globalThis.__promptops.invoke(id, [...JSON.parse(args), globalThis.__promptops_process]); },
    // A template filter: its own arguments only (a trailing `process` would fill a default parameter).
    apply(id, args) { return globalThis.__promptops.invoke(id, JSON.parse(args)); },
    invoke(id, args) {
      settled = null;
      try {
        const r = fns[id](...args);
        if (r && typeof r.then === 'function') {
          r.then((v) => { settled = describe(v); }, (e) => { settled = thrown(e); });
          return JSON.stringify({ pending: true });
        }
        return describe(r);
      } catch (e) { return thrown(e); }
    },
    settled() { return settled; },
  };
})();
"#;

struct Engine {
    runtime: rquickjs::Runtime,
    context: rquickjs::Context,
    compiled: HashMap<String, u32>,
    deadline: Rc<RefCell<Option<Instant>>>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

impl Engine {
    fn new() -> Result<Engine, JsError> {
        let engine_error = |e: rquickjs::Error| JsError::Engine(e.to_string());
        let runtime = rquickjs::Runtime::new().map_err(engine_error)?;
        runtime.set_memory_limit(MEMORY_LIMIT);
        runtime.set_max_stack_size(4 << 20);
        let deadline: Rc<RefCell<Option<Instant>>> = Rc::default();
        let watch = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            watch.borrow().is_some_and(|d| Instant::now() > d)
        })));
        let context = rquickjs::Context::full(&runtime).map_err(engine_error)?;
        let env: serde_json::Map<String, Json> = std::env::vars()
            .map(|(k, v)| (k, Json::String(v)))
            .collect();
        let setup = format!(
            "{PRELUDE}\nglobalThis.__promptops_process = {{ env: {} }};\nglobalThis.process = globalThis.__promptops_process;",
            Json::Object(env)
        );
        context
            .with(|ctx| ctx.eval::<(), _>(setup))
            .map_err(engine_error)?;
        Ok(Engine {
            runtime,
            context,
            compiled: HashMap::new(),
            deadline,
        })
    }

    /// Calls `__promptops.<method>(args...)`, which always answers with JSON text.
    fn driver(&self, method: &str, args: (String, String)) -> Result<Json, JsError> {
        *self.deadline.borrow_mut() = Some(Instant::now() + TIME_LIMIT);
        let answer = self.context.with(|ctx| -> rquickjs::Result<String> {
            let driver: rquickjs::Object = ctx.globals().get("__promptops")?;
            let f: rquickjs::Function = driver.get(method)?;
            f.call(args)
        });
        let answer = answer.map_err(|e| self.engine_error(e))?;
        let mut answer: Json =
            serde_json::from_str(&answer).map_err(|e| JsError::Engine(e.to_string()))?;
        if answer.get("pending").is_some() {
            answer = self.settle()?;
        }
        self.print_console();
        *self.deadline.borrow_mut() = None;
        if let Some(message) = answer.get("threw") {
            return Err(JsError::Threw {
                message: message.as_str().unwrap_or_default().to_owned(),
                stack: answer["stack"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(answer)
    }

    /// Writes what the script logged with `console` to stderr (stdout carries reports).
    fn print_console(&self) {
        let lines = self.context.with(|ctx| -> rquickjs::Result<String> {
            let drain: rquickjs::Function = ctx.globals().get("__promptops_drain")?;
            drain.call(())
        });
        if let Ok(lines) = lines
            && let Ok(lines) = serde_json::from_str::<Vec<String>>(&lines)
        {
            for line in lines {
                eprintln!("[javascript] {line}");
            }
        }
    }

    /// Runs queued promise jobs until the returned promise settles.
    fn settle(&self) -> Result<Json, JsError> {
        loop {
            let settled = self
                .context
                .with(|ctx| -> rquickjs::Result<Option<String>> {
                    let driver: rquickjs::Object = ctx.globals().get("__promptops")?;
                    let f: rquickjs::Function = driver.get("settled")?;
                    f.call(())
                })
                .map_err(|e| self.engine_error(e))?;
            if let Some(text) = settled {
                return serde_json::from_str(&text).map_err(|e| JsError::Engine(e.to_string()));
            }
            match self.runtime.execute_pending_job() {
                Ok(true) => {}
                Ok(false) => {
                    return Err(JsError::Engine("the returned promise never settled".into()));
                }
                Err(e) => return Err(JsError::Engine(e.to_string())),
            }
        }
    }

    fn engine_error(&self, e: rquickjs::Error) -> JsError {
        let timed_out = self
            .deadline
            .borrow_mut()
            .take()
            .is_some_and(|d| Instant::now() > d);
        if timed_out {
            JsError::TimedOut(TIME_LIMIT)
        } else {
            JsError::Engine(e.to_string())
        }
    }

    /// The id of the compiled function for `key`, compiling it with `build` once.
    fn function(
        &mut self,
        key: &str,
        build: impl FnOnce(&Engine) -> Result<Json, JsError>,
    ) -> Result<u32, JsError> {
        if let Some(id) = self.compiled.get(key) {
            return Ok(*id);
        }
        if self.compiled.len() >= MAX_COMPILED {
            // Start over with a fresh engine rather than grow without bound.
            *self = Engine::new()?;
        }
        let answer = build(self)?;
        let id = answer["id"]
            .as_u64()
            .ok_or_else(|| JsError::Engine("the driver returned no function id".into()))?
            as u32;
        self.compiled.insert(key.to_owned(), id);
        Ok(id)
    }
}

fn with_engine<T>(f: impl FnOnce(&mut Engine) -> Result<T, JsError>) -> Result<T, JsError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engine = match slot.as_mut() {
            Some(engine) => engine,
            None => slot.insert(Engine::new()?),
        };
        f(engine)
    })
}

/// promptfoo's rule for inline code: one line is an expression (`return` is added, after
/// any leading `const/let/var …;` statements); several lines are a function body.
fn function_body(code: &str) -> String {
    let code = code.trim_end();
    if code.contains('\n') {
        return code.to_owned();
    }
    let trimmed = code
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let starts_with_declaration = ["const ", "let ", "var "]
        .iter()
        .any(|d| trimmed.starts_with(d));
    if starts_with_declaration {
        if let Some(cut) = last_statement_semicolon(trimmed) {
            let expression = trimmed[cut + 1..].trim();
            if !expression.is_empty() {
                return format!("{} return {expression}", &trimmed[..=cut]);
            }
        }
        return trimmed.to_owned();
    }
    format!("return {trimmed}")
}

/// The last `;` outside strings, template literals and brackets.
fn last_statement_semicolon(code: &str) -> Option<usize> {
    let mut last = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut depth = 0i32;
    for (i, c) in code.char_indices() {
        if let Some(q) = quote {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, c) if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ';' if depth == 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

/// Runs `code` with `args` (a JSON array) and returns what it gave back, as `{type,
/// value}`: inline code becomes the body `body(code)` of a function taking `params`
/// (always in the embedded engine); `file://path.js[:function]` calls a file's function,
/// in the engine or under Node.js as the file needs.
async fn run(
    code: &str,
    base_dir: &Path,
    params: &str,
    body: fn(&str) -> String,
    args: Json,
) -> Result<Json, JsError> {
    if let Some(spec) = code.strip_prefix("file://") {
        let (path, name) = split_function_name(spec);
        return call_file(&base_dir.join(path), name, &args, base_dir).await;
    }
    let key = format!("{params}\u{0}{code}");
    let body = body(code);
    with_engine(|engine| {
        let id = engine.function(&key, |e| e.driver("compile", (params.to_owned(), body)))?;
        engine.driver("call", (id.to_string(), args.to_string()))
    })
}

/// Calls the function `name` (empty: the default export) of a JavaScript file with
/// `args` (a JSON array); the answer is `{type, value}`. A file that is local CommonJS
/// runs in the embedded engine, anything else under `node` (see `modules.rs`).
pub(crate) async fn call_file(
    path: &Path,
    name: &str,
    args: &Json,
    base_dir: &Path,
) -> Result<Json, JsError> {
    let plan = modules::plan(path)?;
    let need = match &plan.node {
        Some(need) if need.hard || node::available() => Some(need.clone()),
        Some(_) | None if modules::node_forced() => Some(modules::NodeNeed {
            reason: "PROMPTOPS_JS_RUNTIME=node".into(),
            hard: true,
            typescript: false,
        }),
        _ => None,
    };
    if let Some(need) = need {
        return node::call(path, name, args, &need, base_dir).await;
    }
    let Some(bundle) = plan.bundle.clone() else {
        return Err(JsError::Engine(format!(
            "{} cannot run in the embedded engine",
            path.display()
        )));
    };
    let key = format!("file\u{0}{}\u{0}{name}", path.display());
    let answer = with_engine(|engine| {
        let id = engine.function(&key, |e| {
            e.driver("bundle", (bundle.to_string(), name.to_owned()))
        })?;
        engine.driver("call", (id.to_string(), args.to_string()))
    });
    match (answer, &plan.node) {
        // It used a Node.js global and ran here only because Node.js is missing: say so.
        (Err(JsError::Threw { message, stack }), Some(need)) if message.contains("not defined") => {
            Err(JsError::Threw {
                message: format!(
                    "{message} ({} needs Node.js because {}; it ran in the embedded engine because `node` is not installed)",
                    path.display(),
                    need.reason
                ),
                stack,
            })
        }
        (answer, _) => answer,
    }
}

/// `path.js:fn` → (`path.js`, `fn`); a plain path names the default export.
fn split_function_name(spec: &str) -> (&str, &str) {
    match spec.rsplit_once(':') {
        Some((path, name))
            if !name.is_empty() && !name.contains(['/', '\\']) && is_javascript_file(path) =>
        {
            (path, name)
        }
        _ => (spec, ""),
    }
}

/// promptfoo's JavaScript (and TypeScript) file extensions.
pub(crate) fn is_javascript_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".js", ".cjs", ".mjs", ".ts", ".cts", ".mts"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// The function a JavaScript file exports (`module.exports = fn`, or its `default`), as a
/// template filter runs it: in the embedded engine, compiled once per thread. A file that
/// needs Node.js (an ES module, TypeScript, built-in modules) cannot be a filter, since
/// templates render synchronously.
fn filter_function(engine: &mut Engine, path: &Path) -> Result<u32, JsError> {
    let key = format!("file\u{0}{}\u{0}", path.display());
    engine.function(&key, |e| {
        let plan = modules::plan(path)?;
        let hard = plan.node.as_ref().filter(|need| need.hard);
        let (Some(bundle), None) = (plan.bundle.clone(), hard) else {
            let why = hard.map_or("it is not CommonJS".to_owned(), |n| n.reason.clone());
            return Err(JsError::Engine(format!(
                "{} needs Node.js ({why}); template filters run in the embedded JavaScript engine, so write the filter as CommonJS (`module.exports = (value, ...args) => ...`)",
                path.display()
            )));
        };
        e.driver("bundle", (bundle.to_string(), String::new()))
    })
}

/// Checks that a file exports a function a filter can run (for a suite's
/// `nunjucksFilters`, at load time).
pub fn check_function_file(path: &Path) -> Result<(), JsError> {
    with_engine(|engine| filter_function(engine, path).map(|_| ()))
}

/// Calls the function a file exports with `args`, as nunjucks calls a filter (the
/// filtered value, then the filter's arguments). `None` for `undefined`.
pub fn call_filter(path: &Path, args: &[Json]) -> Result<Option<Json>, JsError> {
    with_engine(|engine| {
        let id = filter_function(engine, path)?;
        let answer = engine.driver(
            "apply",
            (id.to_string(), Json::from(args.to_vec()).to_string()),
        )?;
        Ok(answer.get("value").cloned())
    })
}

/// A `javascript` assertion on `output`. A `file://` script that cannot be loaded or
/// throws is an error of the row (`Err`), as in promptfoo, which runs the file before
/// the assertion's own error handling; inline code that throws is a failed assertion.
pub async fn run_javascript(
    a: &Assertion,
    output: &Json,
    context: &ScriptContext<'_>,
    base_dir: &Path,
) -> Result<ComponentResult, AssertionError> {
    let code = match &a.value {
        Some(Json::String(s)) => s.trim_end().to_owned(),
        _ => {
            return Ok(failed(
                a,
                "javascript assertion must have a string value".into(),
            ));
        }
    };
    // The driver adds `process` (a shim holding the environment) as the third argument.
    let args = serde_json::json!([output, context.to_json(a)]);
    let answer = run(
        &code,
        base_dir,
        "[\"output\",\"context\",\"process\"]",
        function_body,
        args,
    )
    .await;
    let threw = |message: String| {
        failed(
            a,
            append(format!("Custom function threw error: {message}"), &code),
        )
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) if code.starts_with("file://") => return Err(AssertionError(e.to_string())),
        Err(JsError::Threw { message, stack }) => {
            return Ok(threw(format!("{message}\nStack Trace: {stack}")));
        }
        Err(other) => return Ok(threw(other.to_string())),
    };
    if let Some(r) = returned(&answer) {
        return Ok(verdict(a, r, "Custom function", &code));
    }
    let kind = answer["type"].as_str().unwrap_or("undefined");
    let shown = answer
        .get("value")
        .map_or("undefined".to_owned(), Json::to_string);
    Ok(threw(
        if code.starts_with("file://") && !matches!(kind, "boolean" | "number" | "object") {
            format!("Javascript assertion script must return a boolean, number, or object ({code})")
        } else {
            format!(
                "Custom function must return a boolean, number, or GradingResult object. Got type {kind}: {shown}"
            )
        },
    ))
}

fn returned(answer: &Json) -> Option<Returned> {
    match (answer["type"].as_str()?, answer.get("value")?) {
        ("boolean", Json::Bool(b)) => Some(Returned::Bool(*b)),
        ("number", v) => Some(Returned::Number(v.as_f64().unwrap_or(f64::NAN))),
        ("object", Json::Object(o)) => grading_of(o),
        _ => None,
    }
}

/// `options.transform`: JavaScript that maps the output (`output`, `context`) to a new
/// output. Returns the new output as JSON (`null` for `undefined`).
pub async fn transform(
    code: &str,
    output: &Json,
    context: &Json,
    base_dir: &Path,
) -> Result<Json, JsError> {
    transform_input(code, Input::Output, output, context, base_dir).await
}

/// What a transform maps, which names its first parameter in inline code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `transform`/`postprocess` (the test's, an assertion's, a provider's).
    Output,
    /// `transformVars`.
    Vars,
}

/// promptfoo's `transform(code, input, context, inputType)` in JavaScript: inline code
/// with `output` (or `vars`) and `context` in scope, or a file's function called with
/// them. Returns the result as JSON (`null` for `undefined`).
pub async fn transform_input(
    code: &str,
    input: Input,
    value: &Json,
    context: &Json,
    base_dir: &Path,
) -> Result<Json, JsError> {
    let params = match input {
        Input::Output => "[\"output\",\"context\"]",
        Input::Vars => "[\"vars\",\"context\"]",
    };
    let args = serde_json::json!([value, context]);
    let answer = run(code.trim_end(), base_dir, params, function_body, args).await?;
    Ok(answer.get("value").cloned().unwrap_or(Json::Null))
}

/// The `http` provider's `transformResponse` (and older `responseParser`), as promptfoo's
/// `createTransformResponse` runs it: an expression evaluated with `json` (the parsed
/// body, or `null`), `text` (the raw body) and `context` (`{response: {...}}`) in scope; a
/// function expression (`(json, text) => ...`) is called with them; `file://path.js[:fn]`
/// names a module's function. `None` when it gives `undefined` (or a function).
pub async fn transform_response(
    code: &str,
    json: &Json,
    text: &str,
    context: &Json,
    base_dir: &Path,
) -> Result<Option<Json>, JsError> {
    let args = serde_json::json!([json, text, context]);
    let answer = run(
        code.trim(),
        base_dir,
        "[\"json\",\"text\",\"context\",\"process\"]",
        response_transform_body,
        args,
    )
    .await?;
    Ok(answer.get("value").cloned())
}

/// promptfoo wraps the code in `return (code)`, or calls it when it is a function
/// expression, so a multi-line object literal is an expression, not a block.
fn response_transform_body(code: &str) -> String {
    // `json.output;` is still one expression.
    let code = code.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let is_function =
        code.starts_with("function") || code.starts_with("async ") || arrow_head(code);
    if is_function {
        format!("return ({code})(json, text, context);")
    } else {
        format!("return ({code});")
    }
}

/// `(a, b) => ...` or `a => ...`.
fn arrow_head(code: &str) -> bool {
    let Some(arrow) = code.find("=>") else {
        return false;
    };
    let head = code[..arrow].trim();
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    (head.starts_with('(') && head.ends_with(')') && !head[1..head.len() - 1].contains(['(', ')']))
        || ident(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn run_in(a: &Assertion, output: Json, ctx: &ScriptContext<'_>, dir: &Path) -> ComponentResult {
        block(run_javascript(a, &output, ctx, dir)).expect("no row error")
    }

    fn run(code: &str, output: Json) -> ComponentResult {
        let a = Assertion::new("javascript", Some(json!(code)));
        let vars = json!({"expected": "LABEL-7"}).as_object().cloned().unwrap();
        let ctx = ScriptContext {
            prompt: "Classify",
            vars: Some(&vars),
            ..Default::default()
        };
        run_in(&a, output, &ctx, Path::new("."))
    }

    fn node_available() -> bool {
        if node::available() {
            return true;
        }
        assert!(
            std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none(),
            "node is required for this test"
        );
        eprintln!("skipped: node is not available");
        false
    }

    #[test]
    fn bodies_follow_promptfoos_rules() {
        assert_eq!(
            function_body("output.length > 3"),
            "return output.length > 3"
        );
        assert_eq!(
            function_body("output === 'a;b';"),
            "return output === 'a;b'"
        );
        assert_eq!(
            function_body("const s = JSON.parse(output).score; s > 0.5"),
            "const s = JSON.parse(output).score; return s > 0.5"
        );
        assert_eq!(
            function_body("const x = 'a;b'; x"),
            "const x = 'a;b'; return x"
        );
        assert_eq!(function_body("let x = 1;"), "let x = 1");
        assert_eq!(
            function_body("if (x) {\n return 1 }\n"),
            "if (x) {\n return 1 }"
        );
        assert_eq!(
            split_function_name("a/check.ts:grade"),
            ("a/check.ts", "grade")
        );
        assert_eq!(
            split_function_name("check.py:grade"),
            ("check.py:grade", "")
        );
    }

    #[test]
    fn return_forms() {
        let r = run("output.startsWith('LABEL')", json!("LABEL-7"));
        assert!(r.pass && r.score == 1.0, "{}", r.reason);
        let r = run("output === context.vars.expected", json!("LABEL-8"));
        assert!(!r.pass);
        assert_eq!(
            r.reason,
            "Custom function returned false\noutput === context.vars.expected"
        );
        let r = run("0.25", json!("x"));
        assert!(r.pass && r.score == 0.25);
        let r = run("0", json!("x"));
        assert!(!r.pass && r.score == 0.0);
        let r = run(
            "({pass: false, score: 0.3, reason: 'too short'})",
            json!("x"),
        );
        assert_eq!(
            (r.pass, r.score, r.reason.as_str()),
            (false, 0.3, "too short")
        );
        let r = run(
            "const n = output.items.length;\nreturn n === 2;",
            json!({"items": [1, 2]}),
        );
        assert!(r.pass, "{}", r.reason);
        let r = run("context.prompt + ' ' + typeof process.env", json!("x"));
        assert!(!r.pass);
        assert!(
            r.reason
                .contains("must return a boolean, number, or GradingResult"),
            "{}",
            r.reason
        );
        let r = run("Promise.resolve(output.length === 7)", json!("LABEL-7"));
        assert!(r.pass, "{}", r.reason);
    }

    #[test]
    fn grading_results_keep_named_scores_and_nested_results() {
        let r = run(
            "return {pass: true, score: 0.8, reason: 'ok', namedScores: {tone: 0.5, length: 1}, namedScoreWeights: {tone: 2},\n componentResults: [{pass: false, score: 0, reason: 'too long'}, {pass: true, score: 1, reason: 'polite', assertion: {type: 'tone', metric: 'tone'}}]};",
            json!("x"),
        );
        assert_eq!((r.pass, r.score), (true, 0.8));
        assert_eq!(r.named_scores["tone"], 0.5);
        assert_eq!(r.named_score_weights["tone"], 2.0);
        assert_eq!(r.component_results.len(), 2);
        assert_eq!(r.component_results[0].reason, "too long");
        assert!(r.component_results[0].assertion.is_null());
        assert_eq!(r.component_results[1].metric.as_deref(), Some("tone"));
        // Not a GradingResult: `namedScores` of the wrong type.
        let r = run(
            "({pass: true, score: 1, reason: 'x', namedScores: 3})",
            json!("x"),
        );
        assert!(
            !r.pass && r.reason.contains("GradingResult"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn inverse_and_threshold() {
        let mut a = Assertion::new("not-javascript", Some(json!("output.length")));
        let ctx = ScriptContext::default();
        let dot = Path::new(".");
        assert!(!run_in(&a, json!("abc"), &ctx, dot).pass);
        assert!(run_in(&a, json!(""), &ctx, dot).pass);
        a = Assertion::new("javascript", Some(json!("output.length / 10"))).with_threshold(0.5);
        let r = run_in(&a, json!("abcdef"), &ctx, dot);
        assert!(r.pass && (r.score - 0.6).abs() < 1e-9);
        assert!(!run_in(&a, json!("abc"), &ctx, dot).pass);
    }

    #[test]
    fn errors_are_failures_not_panics() {
        let r = run("output.nope.deeper", json!("x"));
        assert!(
            !r.pass && r.reason.starts_with("Custom function threw error: "),
            "{}",
            r.reason
        );
        let r = run("this is not javascript (", json!("x"));
        assert!(
            !r.pass && r.reason.starts_with("Custom function threw error: "),
            "{}",
            r.reason
        );
        let r = run("const e = 'boom';\nthrow new Error(e);", json!("x"));
        assert!(
            r.reason.starts_with("Custom function threw error: boom"),
            "{}",
            r.reason
        );
        // A runaway loop is stopped and the engine stays usable.
        let started = Instant::now();
        let r = run("while (true) {}\nreturn true;", json!("x"));
        assert!(
            !r.pass && r.reason.contains("ran longer than"),
            "{}",
            r.reason
        );
        assert!(started.elapsed() < TIME_LIMIT * 3);
        assert!(run("true", json!("x")).pass);
    }

    #[test]
    fn files_and_transforms() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("check.js"),
            "module.exports = (output, context) => output.includes(context.vars.expected);\nmodule.exports.strict = (output) => ({pass: output === 'LABEL-7', score: 1, reason: 'strict'});",
        )
        .unwrap();
        let vars = json!({"expected": "LABEL"}).as_object().cloned().unwrap();
        let ctx = ScriptContext {
            vars: Some(&vars),
            ..Default::default()
        };
        let a = Assertion::new("javascript", Some(json!("file://check.js")));
        assert!(run_in(&a, json!("LABEL-7"), &ctx, dir.path()).pass);
        let r = run_in(&a, json!("NOPE"), &ctx, dir.path());
        // promptfoo appends the value (the file reference) to the reason.
        assert_eq!(r.reason, "Custom function returned false\nfile://check.js");
        let a = Assertion::new("javascript", Some(json!("file://check.js:strict")));
        let r = run_in(&a, json!("LABEL-8"), &ctx, dir.path());
        assert_eq!((r.pass, r.reason.as_str()), (false, "strict"));
        // A file that cannot be loaded makes the row an error, as in promptfoo.
        let a = Assertion::new("javascript", Some(json!("file://missing.js")));
        let err = block(run_javascript(&a, &json!("x"), &ctx, dir.path())).unwrap_err();
        assert!(err.0.contains("missing.js"), "{err}");

        let out = block(transform(
            "output.toUpperCase()",
            &json!("label"),
            &json!({}),
            dir.path(),
        ))
        .unwrap();
        assert_eq!(out, json!("LABEL"));
        let out = block(transform(
            "JSON.parse(output).label",
            &json!("{\"label\": 3}"),
            &json!({}),
            dir.path(),
        ))
        .unwrap();
        assert_eq!(out, json!(3));
        assert!(block(transform("output.x.y", &json!("s"), &json!({}), dir.path())).is_err());
    }

    #[test]
    fn files_require_local_modules_in_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("lib")).unwrap();
        std::fs::write(
            d.join("lib/words.js"),
            "const limits = require('../limits.json');\nexports.count = (s) => s.split(/\\s+/).length;\nexports.max = limits.max;\nexports.where = __filename;",
        )
        .unwrap();
        std::fs::write(d.join("limits.json"), "{\"max\": 3}").unwrap();
        std::fs::write(
            d.join("check.js"),
            "const words = require('./lib/words');\nmodule.exports = {\n  default: (output) => words.count(output) <= words.max && words.where.endsWith('words.js'),\n};",
        )
        .unwrap();
        std::fs::write(
            d.join("broken.js"),
            "module.exports = () => require('./nowhere');",
        )
        .unwrap();
        let ctx = ScriptContext::default();
        let a = Assertion::new("javascript", Some(json!("file://check.js")));
        assert!(run_in(&a, json!("one two three"), &ctx, d).pass);
        assert!(!run_in(&a, json!("one two three four"), &ctx, d).pass);
        let a = Assertion::new("javascript", Some(json!("file://broken.js")));
        let err = block(run_javascript(&a, &json!("x"), &ctx, d)).unwrap_err();
        assert!(err.0.contains("Cannot find module './nowhere'"), "{err}");
    }

    #[test]
    fn files_that_need_node_run_under_node() {
        if !node_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("check.js"),
            "const path = require('node:path');\nconst { createHash } = require('crypto');\nmodule.exports = (output, context) => {\n  console.log('seen', output);\n  return { pass: path.extname(context.vars.file) === '.txt', score: createHash('sha256').update(output).digest('hex').length / 64, reason: 'hashed', namedScores: { hash: 1 } };\n};",
        )
        .unwrap();
        std::fs::write(
            d.join("esm.mjs"),
            "import { readFileSync } from 'node:fs';\nexport default async (output) => output === readFileSync(new URL('./expected.txt', import.meta.url), 'utf8').trim();\nexport function shout(output) { return output.toUpperCase(); }",
        )
        .unwrap();
        std::fs::write(d.join("expected.txt"), "LABEL-7\n").unwrap();
        let vars = json!({"file": "a.txt"}).as_object().cloned().unwrap();
        let ctx = ScriptContext {
            vars: Some(&vars),
            ..Default::default()
        };
        let a = Assertion::new("javascript", Some(json!("file://check.js")));
        let r = run_in(&a, json!("x"), &ctx, d);
        assert_eq!((r.pass, r.score, r.reason.as_str()), (true, 1.0, "hashed"));
        assert_eq!(r.named_scores["hash"], 1.0);
        let a = Assertion::new("javascript", Some(json!("file://esm.mjs")));
        assert!(run_in(&a, json!("LABEL-7"), &ctx, d).pass);
        assert!(!run_in(&a, json!("LABEL-8"), &ctx, d).pass);
        let out = block(transform(
            "file://esm.mjs:shout",
            &json!("hi"),
            &json!({}),
            d,
        ))
        .unwrap();
        assert_eq!(out, json!("HI"));
        // A throw in a file is the row's error, with the message.
        std::fs::write(
            d.join("throws.mjs"),
            "export default () => { throw new Error('boom'); };",
        )
        .unwrap();
        let a = Assertion::new("javascript", Some(json!("file://throws.mjs")));
        let err = block(run_javascript(&a, &json!("x"), &ctx, d)).unwrap_err();
        assert!(err.0.starts_with("boom\nStack Trace: Error: boom"), "{err}");
        let a = Assertion::new("javascript", Some(json!("file://esm.mjs:nope")));
        let err = block(run_javascript(&a, &json!("x"), &ctx, d)).unwrap_err();
        assert!(
            err.0.contains("does not export a function named nope"),
            "{err}"
        );
    }
}
