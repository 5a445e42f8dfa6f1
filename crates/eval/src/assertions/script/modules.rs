//! Where a JavaScript file named by `file://` runs.
//!
//! promptfoo imports such files with Node.js. promptops runs a file in the embedded
//! QuickJS engine when it and every module it `require`s are CommonJS files on disk
//! (read once, handed to the engine as a bundle: no process per call, no Node.js
//! needed), and under `node` otherwise: ES modules (`.mjs`, `import`/`export`),
//! TypeScript, `require` of Node.js built-ins or packages, a `require` whose name is
//! computed, and globals only Node.js has (`Buffer`, `fetch`, timers, ...). The reasons
//! are found by reading the source (comments and strings skipped); a "soft" one (a
//! Node.js global, which may be a local name) falls back to the embedded engine when
//! Node.js is not installed. `PROMPTOPS_JS_RUNTIME=node` sends every file to `node`.
//! `docs/ARCHITECTURE.md` says why.

use super::javascript::JsError;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

/// At most this many modules in one embedded bundle (more goes to `node`).
const MAX_MODULES: usize = 256;
/// At most this much source in one embedded bundle.
const MAX_BUNDLE_BYTES: usize = 8 << 20;

/// How a file can be run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The file and the local modules it requires, as the engine's bundle (JSON text),
    /// when every one of them is a CommonJS file or JSON.
    pub bundle: Option<Arc<str>>,
    /// Why it needs Node.js, if it does.
    pub node: Option<NodeNeed>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeNeed {
    /// What in the file needs Node.js (`it requires \`fs\``).
    pub reason: String,
    /// Whether the embedded engine cannot run it at all (a soft reason is a Node.js
    /// global, which the file may define itself).
    pub hard: bool,
    /// TypeScript, which needs type stripping.
    pub typescript: bool,
}

/// Plans are made once per file and process.
static PLANS: LazyLock<Mutex<HashMap<PathBuf, Arc<Plan>>>> = LazyLock::new(Mutex::default);

/// The plan for `file` (made on first use).
pub(crate) fn plan(file: &Path) -> Result<Arc<Plan>, JsError> {
    if let Some(plan) = PLANS.lock().expect("plans lock").get(file) {
        return Ok(plan.clone());
    }
    let plan = Arc::new(make_plan(file)?);
    PLANS
        .lock()
        .expect("plans lock")
        .insert(file.to_path_buf(), plan.clone());
    Ok(plan)
}

/// Whether `PROMPTOPS_JS_RUNTIME=node` sends every file to Node.js.
pub(crate) fn node_forced() -> bool {
    std::env::var("PROMPTOPS_JS_RUNTIME").is_ok_and(|v| v.eq_ignore_ascii_case("node"))
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn make_plan(file: &Path) -> Result<Plan, JsError> {
    let hard = |reason: String, typescript: bool| Plan {
        bundle: None,
        node: Some(NodeNeed {
            reason,
            hard: true,
            typescript,
        }),
    };
    match extension(file).as_str() {
        "ts" | "cts" | "mts" => return Ok(hard("it is TypeScript".into(), true)),
        "mjs" => return Ok(hard("it is an ES module (.mjs)".into(), false)),
        _ => {}
    }
    if !file.is_file() {
        return Err(JsError::File {
            path: file.display().to_string(),
            reason: "no such file".into(),
        });
    }
    let mut graph = Graph::default();
    match graph.add(file) {
        Err(Stop::Node(reason)) => Ok(hard(reason, false)),
        Err(Stop::File(e)) => Err(e),
        Ok(entry) => {
            let bundle = serde_json::json!({"entry": entry, "modules": graph.modules});
            Ok(Plan {
                bundle: Some(Arc::from(bundle.to_string())),
                node: graph.soft.map(|reason| NodeNeed {
                    reason,
                    hard: false,
                    typescript: false,
                }),
            })
        }
    }
}

/// Why a module graph cannot be bundled.
enum Stop {
    Node(String),
    File(JsError),
}

/// The local modules read so far, by path.
#[derive(Default)]
struct Graph {
    modules: Map<String, Json>,
    bytes: usize,
    /// The first Node.js global seen.
    soft: Option<String>,
}

impl Graph {
    /// Reads `file` and, recursively, the local modules it requires; its key.
    fn add(&mut self, file: &Path) -> Result<String, Stop> {
        // One key per file however it is reached (`lib/../check.js`).
        let file = &std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let key = file.display().to_string();
        if self.modules.contains_key(&key) {
            return Ok(key);
        }
        if self.modules.len() >= MAX_MODULES {
            return Err(Stop::Node(format!(
                "it requires more than {MAX_MODULES} modules"
            )));
        }
        let source = std::fs::read_to_string(file).map_err(|e| {
            Stop::File(JsError::File {
                path: key.clone(),
                reason: e.to_string(),
            })
        })?;
        self.bytes += source.len();
        if self.bytes > MAX_BUNDLE_BYTES {
            return Err(Stop::Node("its modules are larger than 8 MB".into()));
        }
        let json = extension(file) == "json";
        let mut requires = BTreeMap::new();
        // Insert first, so a cycle finds it.
        self.modules.insert(key.clone(), Json::Null);
        if !json {
            let found = scan(&source);
            if let Some(reason) = found.hard {
                return Err(Stop::Node(reason));
            }
            if self.soft.is_none() {
                self.soft = found.soft;
            }
            let dir = file.parent().unwrap_or(Path::new("."));
            for spec in found.requires {
                if !(spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/')) {
                    return Err(Stop::Node(format!("it requires `{spec}`")));
                }
                // A module that does not exist throws when required, as in Node.js.
                let Some(target) = resolve(dir, &spec) else {
                    continue;
                };
                match extension(&target).as_str() {
                    "js" | "cjs" | "json" => {}
                    "" => {}
                    other => {
                        return Err(Stop::Node(format!(
                            "it requires `{spec}`, a .{other} module"
                        )));
                    }
                }
                let target_key = self.add(&target)?;
                requires.insert(spec, Json::String(target_key));
            }
        }
        let dirname = file.parent().map(|d| d.display().to_string());
        self.modules.insert(
            key.clone(),
            serde_json::json!({
                "source": source,
                "json": json,
                "requires": requires,
                "filename": key,
                "dirname": dirname.unwrap_or_default(),
            }),
        );
        Ok(key)
    }
}

/// Node.js's lookup of a relative module: the file, then with `.js`, `.cjs`, `.json`,
/// then the folder's `index`.
fn resolve(dir: &Path, spec: &str) -> Option<PathBuf> {
    let base = dir.join(spec);
    let mut candidates = vec![base.clone()];
    for ext in ["js", "cjs", "json"] {
        let mut name = base.as_os_str().to_owned();
        name.push(format!(".{ext}"));
        candidates.push(PathBuf::from(name));
    }
    for index in ["index.js", "index.cjs", "index.json"] {
        candidates.push(base.join(index));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// What reading a source found.
#[derive(Debug, Default, PartialEq)]
struct Scan {
    /// Names given to `require('…')`, in order.
    requires: Vec<String>,
    /// Why only Node.js can run it.
    hard: Option<String>,
    /// A Node.js-only global it uses.
    soft: Option<String>,
}

/// Globals Node.js has and the embedded engine lacks.
const NODE_GLOBALS: &[&str] = &[
    "AbortController",
    "Buffer",
    "TextDecoder",
    "TextEncoder",
    "URL",
    "URLSearchParams",
    "atob",
    "btoa",
    "clearImmediate",
    "clearInterval",
    "clearTimeout",
    "crypto",
    "fetch",
    "global",
    "performance",
    "queueMicrotask",
    "setImmediate",
    "setInterval",
    "setTimeout",
    "structuredClone",
];

fn scan(source: &str) -> Scan {
    let toks = tokens(source);
    let mut found = Scan::default();
    let punct = |i: usize, c: char| matches!(toks.get(i), Some(Tok::Punct(p)) if *p == c);
    for (i, tok) in toks.iter().enumerate() {
        let Tok::Ident(name) = tok else { continue };
        if i > 0 && punct(i - 1, '.') {
            continue;
        }
        let hard = match *name {
            "import" if punct(i + 1, '(') => Some("it uses dynamic import()".to_owned()),
            "import" | "export" => Some(format!("it is an ES module (it uses `{name}`)")),
            "require" => match (toks.get(i + 2), punct(i + 1, '(') && punct(i + 3, ')')) {
                (Some(Tok::Str(spec)), true) => {
                    found.requires.push(spec.clone());
                    None
                }
                _ => Some("it uses `require` other than with a literal module name".to_owned()),
            },
            "process" => {
                let env_only = punct(i + 1, '.') && toks.get(i + 2) == Some(&Tok::Ident("env"));
                if !env_only && found.soft.is_none() {
                    found.soft = Some("it uses `process` beyond `process.env`".into());
                }
                None
            }
            other => {
                // A property name in an object literal is not the global.
                if NODE_GLOBALS.contains(&other) && !punct(i + 1, ':') && found.soft.is_none() {
                    found.soft = Some(format!("it uses `{other}`"));
                }
                None
            }
        };
        if hard.is_some() {
            found.hard = hard;
            break;
        }
    }
    found
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    /// A string literal (or a template literal without substitutions), its text.
    Str(String),
    Punct(char),
    /// A number, a regular expression or a template with substitutions.
    Other,
}

/// JavaScript tokens, enough to find `require`, `import`, `export` and globals:
/// comments are skipped, strings and regular expressions are single tokens.
fn tokens(source: &str) -> Vec<Tok<'_>> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let mut out: Vec<Tok<'_>> = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    while i < chars.len() {
        let (start, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while i < chars.len() && chars[i].1 != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i].1 == '*' && at(i + 1) == Some('/')) {
                    i += 1;
                }
                i += 2;
            }
            '\'' | '"' => {
                let mut text = String::new();
                i += 1;
                while let Some(ch) = at(i) {
                    i += 1;
                    match ch {
                        '\\' => {
                            if let Some(next) = at(i) {
                                text.push(next);
                            }
                            i += 1;
                        }
                        ch if ch == c || ch == '\n' => break,
                        ch => text.push(ch),
                    }
                }
                out.push(Tok::Str(text));
            }
            '`' => {
                let mut text = String::new();
                let mut substituted = false;
                let mut depth = 0usize;
                i += 1;
                while let Some(ch) = at(i) {
                    i += 1;
                    match ch {
                        '\\' => i += 1,
                        '$' if depth == 0 && at(i) == Some('{') => {
                            substituted = true;
                            depth = 1;
                            i += 1;
                        }
                        '{' if depth > 0 => depth += 1,
                        '}' if depth > 0 => depth -= 1,
                        '`' if depth == 0 => break,
                        ch if depth == 0 => text.push(ch),
                        _ => {}
                    }
                }
                out.push(if substituted {
                    Tok::Other
                } else {
                    Tok::Str(text)
                });
            }
            '/' if regex_may_start(out.last()) => {
                i += 1;
                let mut class = false;
                while let Some(ch) = at(i) {
                    i += 1;
                    match ch {
                        '\\' => i += 1,
                        '[' => class = true,
                        ']' => class = false,
                        '/' if !class => break,
                        '\n' => break,
                        _ => {}
                    }
                }
                out.push(Tok::Other);
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut end = i;
                while let Some(ch) = at(end) {
                    if ch.is_alphanumeric() || ch == '_' || ch == '$' {
                        end += 1;
                    } else {
                        break;
                    }
                }
                let stop = chars.get(end).map_or(source.len(), |&(b, _)| b);
                out.push(Tok::Ident(&source[start..stop]));
                i = end;
            }
            c if c.is_ascii_digit() => {
                while at(i).is_some_and(|ch| ch.is_alphanumeric() || ch == '.' || ch == '_') {
                    i += 1;
                }
                out.push(Tok::Other);
            }
            c => {
                out.push(Tok::Punct(c));
                i += 1;
            }
        }
    }
    out
}

/// Whether a `/` after `previous` starts a regular expression (rather than dividing).
fn regex_may_start(previous: Option<&Tok<'_>>) -> bool {
    match previous {
        None => true,
        Some(Tok::Punct(c)) => !matches!(c, ')' | ']' | '}'),
        Some(Tok::Ident(word)) => matches!(
            *word,
            "return"
                | "typeof"
                | "case"
                | "do"
                | "else"
                | "in"
                | "of"
                | "new"
                | "delete"
                | "void"
                | "throw"
                | "instanceof"
                | "yield"
                | "await"
        ),
        Some(Tok::Str(_) | Tok::Other) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, requires: &[&str], hard: Option<&str>, soft: Option<&str>) {
        let found = scan(source);
        assert_eq!(
            (
                found
                    .requires
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                found.hard.as_deref(),
                found.soft.as_deref(),
            ),
            (requires.to_vec(), hard, soft),
            "{source}"
        );
    }

    #[test]
    fn reading_a_source_finds_what_needs_node() {
        check("module.exports = (o) => o.length > 2;", &[], None, None);
        check(
            "const h = require('./helper');\nconst d = require(\"../data.json\");",
            &["./helper", "../data.json"],
            None,
            None,
        );
        check(
            "const fs = require('fs');",
            &["fs"],
            None,
            None, // a bare name is judged when resolving
        );
        check(
            "// require('fs') in a comment\n/* import x from 'y' */ const s = \"require('x')\";",
            &[],
            None,
            None,
        );
        check(
            "export default function (output) { return true }",
            &[],
            Some("it is an ES module (it uses `export`)"),
            None,
        );
        check(
            "import fs from 'fs';",
            &[],
            Some("it is an ES module (it uses `import`)"),
            None,
        );
        check(
            "const m = await import('./x.mjs');",
            &[],
            Some("it uses dynamic import()"),
            None,
        );
        check(
            "const name = './x'; require(name);",
            &[],
            Some("it uses `require` other than with a literal module name"),
            None,
        );
        check(
            "module.exports = () => Buffer.from('x').length;",
            &[],
            None,
            Some("it uses `Buffer`"),
        );
        check(
            "module.exports = () => process.env.KEY === 'x';",
            &[],
            None,
            None,
        );
        check(
            "module.exports = () => process.cwd();",
            &[],
            None,
            Some("it uses `process` beyond `process.env`"),
        );
        // Property names and members are not the globals.
        check(
            "const o = { fetch: 1, URL: 2 }; o.fetch + o.setTimeout; x.import; y.require('z');",
            &[],
            None,
            None,
        );
        // A regular expression with quotes and slashes is one token; division is not one.
        check(
            "const r = /['\"\\/]require/g; const q = a / b / c; module.exports = () => r.test('x');",
            &[],
            None,
            None,
        );
        check("const t = `require('x') ${y}`;", &[], None, None);
    }

    #[test]
    fn plans_bundle_local_commonjs_and_send_the_rest_to_node() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("lib")).unwrap();
        std::fs::write(
            d.join("check.js"),
            "const words = require('./lib');\nconst limits = require('./limits.json');\nmodule.exports = (o) => words(o) <= limits.max;",
        )
        .unwrap();
        std::fs::write(
            d.join("lib/index.js"),
            "const again = require('../check.js');\nmodule.exports = (s) => s.split(' ').length;",
        )
        .unwrap();
        std::fs::write(d.join("limits.json"), "{\"max\": 3}").unwrap();
        let plan = make_plan(&d.join("check.js")).unwrap();
        assert_eq!(plan.node, None);
        let bundle: Json = serde_json::from_str(plan.bundle.as_deref().unwrap()).unwrap();
        let modules = bundle["modules"].as_object().unwrap();
        assert_eq!(modules.len(), 3, "a cycle is read once: {bundle}");
        let entry = &modules[bundle["entry"].as_str().unwrap()];
        assert_eq!(entry["requires"].as_object().unwrap().len(), 2);

        std::fs::write(d.join("fs.js"), "const fs = require('node:fs');").unwrap();
        std::fs::write(d.join("uses.js"), "module.exports = require('./fs.js');").unwrap();
        let plan = make_plan(&d.join("uses.js")).unwrap();
        assert_eq!(
            plan.node.map(|n| (n.reason, n.hard)),
            Some(("it requires `node:fs`".to_owned(), true))
        );
        std::fs::write(d.join("esm.js"), "const x = require('./m.mjs');").unwrap();
        std::fs::write(d.join("m.mjs"), "export default 1;").unwrap();
        assert!(make_plan(&d.join("esm.js")).unwrap().node.unwrap().hard);
        assert!(make_plan(&d.join("a.ts")).unwrap().node.unwrap().typescript);
        assert!(matches!(
            make_plan(&d.join("missing.js")),
            Err(JsError::File { .. })
        ));
        std::fs::write(d.join("soft.js"), "module.exports = () => setTimeout;").unwrap();
        let plan = make_plan(&d.join("soft.js")).unwrap();
        assert!(plan.bundle.is_some() && !plan.node.unwrap().hard);
    }
}
