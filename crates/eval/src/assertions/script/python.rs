//! `python` assertions, run by a `python3` subprocess (`PROMPTFOO_PYTHON` or
//! `PROMPTOPS_PYTHON` names another interpreter). Inline code becomes the body of
//! `main(output, context)`; `file://check.py[:function]` calls a function of a file
//! (`get_assert` by default). The arguments go in on stdin as JSON; the answer comes back
//! as JSON on the last stdout line, after a marker, so the script may print freely.

use super::{
    Returned, ScriptContext, apply_score_threshold, failed, grading_of, snake_to_camel, verdict,
};
use crate::assertions::{Assertion, ComponentResult};
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MARKER: &str = "__PROMPTOPS_RESULT__";
/// Longest one Python check may run.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Loads the user's code and calls it; prints the marker and the JSON result.
const RUNNER: &str = r#"
import asyncio, inspect, json, os, sys, importlib.util
request = json.load(sys.stdin)
if request["file"]:
    name = os.path.basename(request["file"]).rsplit(".", 1)[0]
    spec = importlib.util.spec_from_file_location(name, request["file"])
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, request["dir"])
    spec.loader.exec_module(module)
    fn = module
    # `Class.method` names a method of a class, as promptfoo's wrapper allows.
    for part in (request["function"] or request["default"]).split("."):
        fn = getattr(fn, part)
else:
    scope = {}
    exec(compile(request["source"], "<assertion>", "exec"), scope)
    fn = scope["main"]
result = fn(*request["args"])
if inspect.isawaitable(result):
    result = asyncio.run(result)
sys.stdout.write("\n" + request["marker"] + json.dumps(result) + "\n")
"#;

/// promptfoo's wrapper for inline code: `main(output, context)` with the code as its body
/// (one line is an expression to return).
fn inline_source(code: &str) -> String {
    let body = if code.contains('\n') {
        let indent = code
            .lines()
            .find(|l| !l.trim().is_empty() && l.starts_with(char::is_whitespace))
            .map(|l| &l[..l.len() - l.trim_start().len()])
            .unwrap_or("    ");
        code.lines()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        format!("    return {code}")
    };
    format!("import json\n\ndef main(output, context):\n{body}\n")
}

fn interpreter() -> String {
    ["PROMPTOPS_PYTHON", "PROMPTFOO_PYTHON"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "python3".to_owned())
}

/// A `python` assertion on `output`.
pub async fn run_python(
    a: &Assertion,
    output: &Json,
    context: &ScriptContext<'_>,
    base_dir: &Path,
) -> ComponentResult {
    let code = match &a.value {
        Some(Json::String(s)) => s.clone(),
        _ => return failed(a, "python assertion must have a string value".into()),
    };
    match call(&code, output, &context.to_json(a), base_dir).await {
        Err(message) => failed(a, format!("Python code execution failed: {message}")),
        Ok(value) => match interpret(&value) {
            Ok(r) => verdict(
                a,
                apply_score_threshold(a, r, "Python"),
                "Python code",
                &code,
            ),
            Err(message) => failed(a, format!("Python code execution failed: {message}")),
        },
    }
}

/// Calls the code (inline: `main`; `file://check.py[:function]`: `get_assert` unless
/// named) with `(output, context)`.
pub(crate) async fn call(
    code: &str,
    output: &Json,
    context: &Json,
    base_dir: &Path,
) -> Result<Json, String> {
    call_with(
        code,
        vec![output.clone(), context.clone()],
        "get_assert",
        base_dir,
    )
    .await
}

/// A Python prompt function (promptfoo's `.py` prompts): `file.py:function` is called
/// with the context (`{vars, provider, config}`) and its result returned; a file named
/// without a function is run as a script with the context's JSON as its argument, and
/// what it prints is the prompt.
pub(crate) async fn prompt_function(
    file: &Path,
    function: &str,
    context: &Json,
    base_dir: &Path,
) -> Result<Json, String> {
    if !function.is_empty() {
        let code = format!("file://{}:{function}", file.display());
        return call_with(&code, vec![context.clone()], function, base_dir).await;
    }
    let python = interpreter();
    let cwd = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    let child = tokio::process::Command::new(&python)
        .arg(file)
        .arg(context.to_string())
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!("cannot run `{python}`: {e}; install Python 3 or set PROMPTOPS_PYTHON")
        })?;
    let finished = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "the script ran longer than {}s and was stopped",
                TIME_LIMIT.as_secs()
            )
        })?
        .map_err(|e| format!("`{python}` failed: {e}"))?;
    if !finished.status.success() {
        let stderr = String::from_utf8_lossy(&finished.stderr);
        return Err(last_line(&stderr).map_or_else(
            || format!("`{python}` exited with {}", finished.status),
            str::to_owned,
        ));
    }
    // Its printed lines, joined (so without the last line's newline).
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let text = stdout.strip_suffix('\n').unwrap_or(&stdout);
    Ok(Json::String(
        text.strip_suffix('\r').unwrap_or(text).to_owned(),
    ))
}

/// The last non-empty line (of a traceback: the exception).
fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().find(|l| !l.trim().is_empty())
}

/// Calls the code with `args`: inline code's `main`, or a file's function (`default`
/// unless the reference names one).
pub(crate) async fn call_with(
    code: &str,
    args: Vec<Json>,
    default: &str,
    base_dir: &Path,
) -> Result<Json, String> {
    // A suite named without a directory has an empty base; run from here then.
    let base_dir = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    let mut request = Map::new();
    match code.strip_prefix("file://") {
        Some(spec) => {
            let (path, function) = match spec.rsplit_once(':') {
                Some((p, f)) if p.ends_with(".py") && !f.contains(['/', '\\']) => (p, f),
                _ => (spec, ""),
            };
            let path = base_dir.join(path);
            if !path.is_file() {
                return Err(format!("{}: no such file", path.display()));
            }
            request.insert("file".into(), Json::String(path.display().to_string()));
            let dir = path.parent().unwrap_or(base_dir);
            request.insert("dir".into(), Json::String(dir.display().to_string()));
            request.insert("function".into(), Json::String(function.to_owned()));
        }
        None => {
            request.insert("file".into(), Json::Null);
            request.insert("source".into(), Json::String(inline_source(code)));
        }
    }
    request.insert("args".into(), Json::Array(args));
    request.insert("default".into(), Json::String(default.to_owned()));
    request.insert("marker".into(), Json::String(MARKER.into()));
    let python = interpreter();
    let mut child = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(RUNNER)
        .current_dir(base_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!("cannot run `{python}`: {e}; install Python 3 or set PROMPTOPS_PYTHON")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let body = Json::Object(request).to_string();
        stdin
            .write_all(body.as_bytes())
            .await
            .map_err(|e| format!("cannot write to `{python}`: {e}"))?;
    }
    let finished = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "the script ran longer than {}s and was stopped",
                TIME_LIMIT.as_secs()
            )
        })?
        .map_err(|e| format!("`{python}` failed: {e}"))?;
    let stdout = String::from_utf8_lossy(&finished.stdout);
    match stdout.rfind(MARKER) {
        Some(at) => {
            let text = stdout[at + MARKER.len()..].trim();
            serde_json::from_str(text).map_err(|e| format!("unreadable result {text:?}: {e}"))
        }
        None => {
            let stderr = String::from_utf8_lossy(&finished.stderr);
            // The last line of a traceback names the exception.
            Err(last_line(&stderr).map_or_else(
                || format!("`{python}` exited with {}", finished.status),
                str::to_owned,
            ))
        }
    }
}

/// promptfoo's reading of a script's result: booleans and `"true"`/`"false"`, JSON object
/// text, objects (snake_case keys allowed), then anything that parses as a number.
fn interpret(value: &Json) -> Result<Returned, String> {
    let unusable = |shown: String| {
        format!(
            "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Instead got:\n{shown}"
        )
    };
    match value {
        Json::Bool(b) => Ok(Returned::Bool(*b)),
        Json::String(s) if s.eq_ignore_ascii_case("true") => Ok(Returned::Bool(true)),
        Json::String(s) if s.eq_ignore_ascii_case("false") => Ok(Returned::Bool(false)),
        Json::String(s) if s.starts_with('{') => {
            let parsed: Json = serde_json::from_str(s)
                .map_err(|e| format!("Invalid JSON: {e} when parsing result: {s}"))?;
            interpret(&parsed)
        }
        Json::Object(o) => {
            let o = snake_to_camel(o);
            grading_of(&o).ok_or_else(|| {
                format!(
                    "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Got instead:\n{}",
                    serde_json::to_string_pretty(&o).unwrap_or_default()
                )
            })
        }
        Json::Number(n) => Ok(Returned::Number(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => js_parse_float(s)
            .map(Returned::Number)
            .ok_or_else(|| unusable(s.clone())),
        other => Err(unusable(other.to_string())),
    }
}

/// JavaScript's `parseFloat`: the longest numeric prefix after leading whitespace.
fn js_parse_float(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.starts_with("Infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let bytes = s.as_bytes();
    let digits_from = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = usize::from(s.len() > unsigned.len());
    let int_end = digits_from(end);
    let mut frac_end = int_end;
    if bytes.get(int_end) == Some(&b'.') {
        frac_end = digits_from(int_end + 1);
    }
    let has_digits = int_end > end || frac_end > int_end + 1;
    if !has_digits {
        return None;
    }
    end = frac_end;
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        let exp_end = digits_from(exp);
        if exp_end > exp {
            end = exp_end;
        }
    }
    s[..end]
        .trim_end_matches('.')
        .parse()
        .ok()
        .or_else(|| s[..end].parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn python_available() -> bool {
        std::process::Command::new(interpreter())
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    async fn run(code: &str, output: Json) -> ComponentResult {
        let a = Assertion::new("python", Some(json!(code)));
        let vars = json!({"expected": "LABEL-7"}).as_object().cloned().unwrap();
        let ctx = ScriptContext {
            vars: Some(&vars),
            ..Default::default()
        };
        run_python(&a, &output, &ctx, Path::new(".")).await
    }

    #[test]
    fn wraps_inline_code() {
        assert_eq!(
            inline_source("output == 'x'"),
            "import json\n\ndef main(output, context):\n    return output == 'x'\n"
        );
        assert_eq!(
            inline_source("  n = len(output)\n  return n > 2"),
            "import json\n\ndef main(output, context):\n    n = len(output)\n    return n > 2\n"
        );
        assert_eq!(js_parse_float("0.8abc"), Some(0.8));
        assert_eq!(js_parse_float(" 12"), Some(12.0));
        assert_eq!(js_parse_float("abc"), None);
        assert_eq!(js_parse_float("1e3x"), Some(1000.0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn return_forms() {
        if !python_available() {
            if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some() {
                panic!("python3 is required for this test");
            }
            eprintln!("skipped: python3 is not available");
            return;
        }
        assert!(
            run("output == context['vars']['expected']", json!("LABEL-7"))
                .await
                .pass
        );
        let r = run("output == context['vars']['expected']", json!("LABEL-8")).await;
        assert_eq!(
            r.reason,
            "Python code returned false\noutput == context['vars']['expected']"
        );
        let r = run("len(output) / 10", json!("abcdef")).await;
        assert!(r.pass && (r.score - 0.6).abs() < 1e-9);
        let r = run(
            "{'pass': False, 'score': 0.2, 'reason': 'nope'}",
            json!("x"),
        )
        .await;
        assert_eq!((r.pass, r.score, r.reason.as_str()), (false, 0.2, "nope"));
        let r = run("'true'", json!("x")).await;
        assert!(r.pass);
        let r = run("print('noise')\nreturn output['n'] == 2", json!({"n": 2})).await;
        assert!(r.pass, "{}", r.reason);
        let r = run("1 / 0", json!("x")).await;
        assert!(
            !r.pass
                && r.reason
                    .starts_with("Python code execution failed: ZeroDivisionError"),
            "{}",
            r.reason
        );
        let r = run("None", json!("x")).await;
        assert!(
            !r.pass && r.reason.contains("must return a boolean"),
            "{}",
            r.reason
        );
        let a = Assertion::new(
            "python",
            Some(json!("{'pass': True, 'score': 0.4, 'reason': 'ok'}")),
        )
        .with_threshold(0.5);
        let r = run_python(&a, &json!("x"), &ScriptContext::default(), Path::new(".")).await;
        assert_eq!(
            (r.pass, r.reason.as_str()),
            (false, "Python score 0.4 is less than threshold 0.5: ok")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("check.py"),
            "def get_assert(output, context):\n    return output.startswith('LABEL')\n\ndef strict(output, context):\n    return {'pass': output == 'LABEL-7', 'score': 1.0, 'reason': 'strict'}\n",
        )
        .unwrap();
        let ctx = ScriptContext::default();
        let a = Assertion::new("python", Some(json!("file://check.py")));
        assert!(
            run_python(&a, &json!("LABEL-1"), &ctx, dir.path())
                .await
                .pass
        );
        let a = Assertion::new("not-python", Some(json!("file://check.py:strict")));
        assert!(
            run_python(&a, &json!("LABEL-1"), &ctx, dir.path())
                .await
                .pass
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn grading_results_keep_snake_case_named_scores_and_prompt_functions_run() {
        if !python_available() {
            if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some() {
                panic!("python3 is required for this test");
            }
            eprintln!("skipped: python3 is not available");
            return;
        }
        let r = run(
            "{'pass_': True, 'score': 0.5, 'reason': 'ok', 'named_scores': {'tone': 0.25}, 'component_results': [{'pass_': False, 'score': 0, 'reason': 'rude'}]}",
            json!("x"),
        )
        .await;
        assert_eq!((r.pass, r.score, r.reason.as_str()), (true, 0.5, "ok"));
        assert_eq!(r.named_scores["tone"], 0.25);
        assert_eq!(r.component_results.len(), 1);
        assert!(!r.component_results[0].pass);
        assert_eq!(r.component_results[0].reason, "rude");
        let r = run("{'pass': True, 'score': 'high', 'reason': 'x'}", json!("x")).await;
        assert!(r.reason.contains("Got instead:"), "{}", r.reason);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prompt.py");
        std::fs::write(
            &file,
            "import json, sys\n\ndef chat(context):\n    return [{'role': 'user', 'content': 'About ' + context['vars']['topic']}]\n\nif __name__ == '__main__':\n    context = json.loads(sys.argv[1])\n    print('Line one')\n    print('About ' + context['vars']['topic'] + ' for ' + context['provider']['id'])\n",
        )
        .unwrap();
        let context = json!({"vars": {"topic": "owls"}, "provider": {"id": "echo"}});
        let out = prompt_function(&file, "chat", &context, dir.path())
            .await
            .unwrap();
        assert_eq!(out, json!([{"role": "user", "content": "About owls"}]));
        let out = prompt_function(&file, "", &context, dir.path())
            .await
            .unwrap();
        assert_eq!(out, json!("Line one\nAbout owls for echo"));
        let err = prompt_function(&file, "nope", &context, dir.path())
            .await
            .unwrap_err();
        assert!(err.contains("AttributeError"), "{err}");
    }
}
