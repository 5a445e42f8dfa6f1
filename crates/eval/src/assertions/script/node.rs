//! JavaScript files that need Node.js (see `modules.rs`), run by a `node` subprocess
//! per call, as `python.rs` runs Python: the file is imported the way promptfoo's
//! `importModule` does (`import()`, `default.default || default || the module`, a
//! CommonJS fallback when a `.js` file is not an ES module), the function is called with
//! the arguments sent on stdin as JSON, and the answer comes back as JSON on stdout
//! after a marker. The script's own output (`console.log` included) is passed on to
//! stderr as `[javascript] …` lines. `PROMPTOPS_NODE` names another `node`; TypeScript
//! needs Node.js 22.6 or later (type stripping).

use super::javascript::JsError;
use super::modules::NodeNeed;
use serde_json::Value as Json;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MARKER: &str = "__PROMPTOPS_RESULT__";
/// Longest one call may run (a file may read files or call services).
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Imports the file, picks the function, calls it and prints what came back as
/// `{type, value}` (or what was thrown as `{threw, stack}`) after the marker.
const RUNNER: &str = r#"
const { pathToFileURL } = require('node:url');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const CJS_IN_ESM = ['require is not defined', 'module is not defined', 'exports is not defined',
  '__dirname is not defined', '__filename is not defined', 'Cannot use import statement', 'ERR_REQUIRE_ESM'];
function loadCommonJs(file) {
  const module = { exports: {} };
  const wrapped = vm.runInThisContext(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
  wrapped.call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  return module.exports;
}
// The module as promptfoo's importModule gives it, and its namespace.
async function load(file) {
  try {
    const m = await import(pathToFileURL(file).href);
    return [(m && m.default && m.default.default) || (m && m.default) || m, m];
  } catch (e) {
    const message = String(e && e.message);
    if (file.endsWith('.js') && CJS_IN_ESM.some((p) => message.includes(p))) {
      const m = loadCommonJs(file);
      return [(m && m.default) || m, m];
    }
    throw e;
  }
}
function describe(r) {
  const t = typeof r;
  if (t === 'undefined' || t === 'function' || t === 'symbol' || t === 'bigint') return { type: t };
  return { type: t, value: r };
}
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', async () => {
  const request = JSON.parse(input);
  let answer;
  try {
    const [mod, namespace] = await load(request.file);
    let f = request.function ? (mod == null ? undefined : mod[request.function]) : mod;
    // A named export beside a default one (promptfoo looks only in the default).
    if (f === undefined && request.function && namespace) f = namespace[request.function];
    if (typeof f !== 'function' && f && typeof f.default === 'function') f = f.default;
    if (typeof f !== 'function') {
      throw new Error(request.function
        ? `${request.file} does not export a function named ${request.function}`
        : `${request.file} does not export a function`);
    }
    answer = describe(await f(...request.args));
    JSON.stringify(answer);
  } catch (e) {
    answer = { threw: String(e && e.message !== undefined ? e.message : e), stack: String((e && e.stack) || '') };
  }
  let text;
  try { text = JSON.stringify(answer); } catch (e) { text = JSON.stringify({ threw: String(e.message), stack: '' }); }
  process.stdout.write('\n' + request.marker + text + '\n', () => process.exit(0));
});
"#;

/// The `node` to run and its version.
#[derive(Debug, Clone)]
struct NodeInfo {
    program: String,
    version: (u32, u32, u32),
}

fn program() -> String {
    std::env::var("PROMPTOPS_NODE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

/// The `node` found (asked once per process), or why there is none.
fn node() -> Result<&'static NodeInfo, &'static str> {
    static NODE: OnceLock<Result<NodeInfo, String>> = OnceLock::new();
    NODE.get_or_init(|| {
        let program = program();
        let out = std::process::Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|e| format!("`{program}` could not be run ({e})"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.trim().trim_start_matches('v').split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
        match (out.status.success(), next(), next(), next()) {
            (true, Some(a), Some(b), Some(c)) => Ok(NodeInfo {
                program,
                version: (a, b, c),
            }),
            _ => Err(format!(
                "`{program} --version` did not print a Node.js version"
            )),
        }
    })
    .as_ref()
    .map_err(String::as_str)
}

/// Whether a usable `node` is installed.
pub(crate) fn available() -> bool {
    node().is_ok()
}

/// The flags that let `node` import TypeScript, or why this `node` cannot (to follow
/// "<file> is TypeScript, which ...").
fn typescript_flags(info: &NodeInfo) -> Result<&'static [&'static str], String> {
    let (major, minor, _) = info.version;
    if (major, minor) >= (22, 7) {
        // Also compiles enums and namespaces, which plain stripping refuses.
        Ok(&[
            "--experimental-transform-types",
            "--disable-warning=ExperimentalWarning",
        ])
    } else if (major, minor) >= (22, 6) {
        Ok(&[
            "--experimental-strip-types",
            "--disable-warning=ExperimentalWarning",
        ])
    } else {
        let (a, b, c) = info.version;
        Err(format!(
            "needs Node.js 22.6 or later (it strips the types), and `{}` is Node.js {a}.{b}.{c}: install a newer Node.js, set PROMPTOPS_NODE to one, or compile the file to JavaScript",
            info.program
        ))
    }
}

/// Calls `name` (or the default export) of `file` with `args` (a JSON array) under
/// Node.js; the answer is `{type, value}` as the embedded engine gives it.
pub(crate) async fn call(
    file: &Path,
    name: &str,
    args: &Json,
    need: &NodeNeed,
    base_dir: &Path,
) -> Result<Json, JsError> {
    let shown = file.display();
    let info = node().map_err(|why| {
        JsError::Runtime(format!(
            "{shown} needs Node.js ({}), and {why}: install Node.js (18 or later) or set PROMPTOPS_NODE to its path",
            need.reason
        ))
    })?;
    let flags: &[&str] = if need.typescript {
        typescript_flags(info)
            .map_err(|why| JsError::Runtime(format!("{shown} is TypeScript, which {why}")))?
    } else {
        &[]
    };
    let file = std::path::absolute(file).map_err(|e| JsError::File {
        path: shown.to_string(),
        reason: e.to_string(),
    })?;
    let request = serde_json::json!({
        "file": file.display().to_string(),
        "function": name,
        "args": args,
        "marker": MARKER,
    });
    let cwd = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    let mut child = tokio::process::Command::new(&info.program)
        .args(flags)
        .arg("-e")
        .arg(RUNNER)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| JsError::Runtime(format!("cannot run `{}`: {e}", info.program)))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request.to_string().as_bytes())
            .await
            .map_err(|e| JsError::Runtime(format!("cannot write to `{}`: {e}", info.program)))?;
    }
    let finished = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| JsError::TimedOut(TIME_LIMIT))?
        .map_err(|e| JsError::Runtime(format!("`{}` failed: {e}", info.program)))?;
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let stderr = String::from_utf8_lossy(&finished.stderr);
    let Some(at) = stdout.rfind(MARKER) else {
        let said = stderr.trim();
        return Err(JsError::Runtime(if said.is_empty() {
            format!("`{}` exited with {}", info.program, finished.status)
        } else {
            format!(
                "`{}` failed: {}",
                info.program,
                said.chars().take(2000).collect::<String>()
            )
        }));
    };
    for line in stdout[..at].lines().chain(stderr.lines()) {
        if !line.trim().is_empty() {
            eprintln!("[javascript] {line}");
        }
    }
    let answer: Json = serde_json::from_str(stdout[at + MARKER.len()..].trim())
        .map_err(|e| JsError::Engine(format!("unreadable answer from node: {e}")))?;
    if let Some(message) = answer.get("threw") {
        return Err(JsError::Threw {
            message: message.as_str().unwrap_or_default().to_owned(),
            stack: answer["stack"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typescript_needs_node_22_6() {
        let info = |version| NodeInfo {
            program: "node".into(),
            version,
        };
        let err = typescript_flags(&info((20, 20, 2))).unwrap_err();
        assert!(
            err.contains("is Node.js 20.20.2") && err.starts_with("needs Node.js 22.6 or later"),
            "{err}"
        );
        assert_eq!(
            typescript_flags(&info((22, 6, 0))).unwrap()[0],
            "--experimental-strip-types"
        );
        assert_eq!(
            typescript_flags(&info((24, 1, 0))).unwrap()[0],
            "--experimental-transform-types"
        );
    }
}
