//! `file://` vars, as promptfoo 0.123.1 loads them for rendering
//! (`docs/research/promptfoo-compat.md` §1.3 and §3.5):
//! - a glob (`file://articles/*`) expands into one combination per matching file, each
//!   `file://<path relative to the config>`; no match is an error;
//! - `.yaml`/`.yml` files are parsed and passed as compact JSON text;
//! - other text files (`.txt`, `.md`, `.json`, …) are passed as their text, trimmed
//!   (bytes that are not UTF-8 become U+FFFD, as Node's reader makes them);
//! - function files (`.js`/`.ts` and their module variants, `.py`) are only checked
//!   here (the file must exist); they run for each prompt at render time
//!   (`runner::function_vars`), since promptfoo passes them the prompt;
//! - PDFs and media are refused at load time with the reason, never passed on as a path.
//!
//! The step's `vars` keep the `file://` string (the report shows it, as promptfoo's does);
//! the loaded values go to rendering only.

use super::load::{expand_path, read_data_file};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::path::Path;

/// Whether a var value is a `file://` glob (expanded into several combinations).
pub(super) fn is_glob(value: &str) -> bool {
    value
        .strip_prefix("file://")
        .is_some_and(super::path_glob::has_magic)
}

/// `file://<glob>` → one `file://<relative match>` per file, in promptfoo's order.
pub(super) fn expand_glob(value: &str, base: &Path) -> Result<Vec<Json>, String> {
    let pattern = value.strip_prefix("file://").unwrap_or(value);
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let matches = expand_path(base, pattern);
    if matches.is_empty() {
        return Err(format!(
            "`{value}` matches no file (relative to {})",
            base.display()
        ));
    }
    Ok(matches
        .iter()
        .map(|m| {
            let relative = m.strip_prefix(base).unwrap_or(m);
            Json::String(format!(
                "file://{}",
                relative.to_string_lossy().replace('\\', "/")
            ))
        })
        .collect())
}

/// Loaded files by path: a file named by many tests is read once.
#[derive(Default)]
pub(super) struct FileVars {
    cache: HashMap<String, Json>,
}

impl FileVars {
    /// The `file://` vars of one combination, loaded; `location` names the test.
    pub(super) fn load(
        &mut self,
        vars: &Map<String, Json>,
        base: &Path,
        location: &str,
    ) -> Result<Map<String, Json>, super::SuiteError> {
        let mut loaded = Map::new();
        for (name, value) in vars {
            let Some(path) = value.as_str().and_then(|s| s.strip_prefix("file://")) else {
                continue;
            };
            if let Some(hit) = self.cache.get(path) {
                loaded.insert(name.clone(), hit.clone());
                continue;
            }
            if function_file(value).is_some() {
                check_function_file(base, path).map_err(|message| super::SuiteError {
                    location: format!("{location}.vars.{name}"),
                    message,
                })?;
                continue;
            }
            let value = load_one(base, path).map_err(|message| super::SuiteError {
                location: format!("{location}.vars.{name}"),
                message,
            })?;
            self.cache.insert(path.to_owned(), value.clone());
            loaded.insert(name.clone(), value);
        }
        Ok(loaded)
    }
}

/// Extensions whose files compute a var (promptfoo's `isJavascriptFile`, and `.py`).
const FUNCTIONS: &[&str] = &["js", "cjs", "mjs", "ts", "mts", "cts", "py"];

/// Whether a var value names a function file (`file://x.js`, `file://x.py:get_var`), which
/// runs when the prompt is rendered rather than when the suite is loaded.
pub(crate) fn function_file(value: &Json) -> Option<&str> {
    let path = value.as_str()?.strip_prefix("file://")?;
    let file_part = path.rsplit_once(':').map_or(path, |(f, _)| f);
    let extension = Path::new(file_part)
        .extension()?
        .to_string_lossy()
        .to_lowercase();
    FUNCTIONS.contains(&extension.as_str()).then_some(path)
}
const MEDIA: &[&str] = &[
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "svg", "mp3", "wav", "ogg",
    "flac", "mp4", "webm", "mov",
];

/// A function file must exist when the suite is loaded (`file://x.py:fn` names a function
/// in `x.py`), so a typo is reported before any call is made.
fn check_function_file(base: &Path, path: &str) -> Result<(), String> {
    let file_part =
        path.rsplit_once(':').map_or(
            path,
            |(f, name)| {
                if name.contains(['/', '\\']) { path } else { f }
            },
        );
    let full = base.join(file_part);
    if full.is_file() {
        Ok(())
    } else {
        Err(format!(
            "`file://{path}`: {} does not exist; vars computed by a function file need the file beside the config",
            full.display()
        ))
    }
}

fn load_one(base: &Path, path: &str) -> Result<Json, String> {
    let extension = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if MEDIA.contains(&extension.as_str()) {
        return Err(format!(
            "`file://{path}`: .{extension} vars (PDF text, images and media as data) are not supported yet"
        ));
    }
    let full = base.join(path);
    if extension == "yaml" || extension == "yml" {
        let value = read_data_file(&full).map_err(|e| format!("{}: {}", e.location, e.message))?;
        return serde_json::to_string(&value)
            .map(Json::String)
            .map_err(|e| e.to_string());
    }
    let bytes = std::fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    Ok(Json::String(
        String::from_utf8_lossy(&bytes).trim().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_yaml_and_globs_load_as_promptfoo_loads_them() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::write(base.join("ctx.txt"), "  the context\n\n").unwrap();
        std::fs::write(base.join("data.yaml"), "a: 1\nb: [x, y]\n").unwrap();
        std::fs::write(base.join("doc.json"), "{\"k\": \"v\"}\n").unwrap();
        std::fs::write(base.join("latin1.txt"), b"caf\xe9").unwrap();
        std::fs::create_dir(base.join("articles")).unwrap();
        for n in ["b.md", "a.md", "c.txt"] {
            std::fs::write(base.join("articles").join(n), n).unwrap();
        }
        let vars = json!({
            "ctx": "file://ctx.txt", "data": "file://data.yaml", "doc": "file://doc.json",
            "bytes": "file://latin1.txt", "plain": "no file here"
        });
        let loaded = FileVars::default()
            .load(vars.as_object().unwrap(), base, "t")
            .unwrap();
        assert_eq!(loaded["ctx"], "the context");
        assert_eq!(loaded["data"], r#"{"a":1,"b":["x","y"]}"#);
        assert_eq!(loaded["doc"], r#"{"k": "v"}"#, "JSON files are text");
        assert_eq!(loaded["bytes"], "caf\u{fffd}");
        assert!(!loaded.contains_key("plain"));

        assert!(is_glob("file://articles/*.md"));
        assert!(!is_glob("file://ctx.txt"));
        assert_eq!(
            expand_glob("file://articles/*", base).unwrap(),
            // promptfoo's `globSync` order (see `path_glob`).
            [
                json!("file://articles/c.txt"),
                json!("file://articles/b.md"),
                json!("file://articles/a.md")
            ]
        );
        assert!(
            expand_glob("file://nothing/*", base)
                .unwrap_err()
                .contains("matches no file")
        );
    }

    #[test]
    fn function_files_are_left_for_rendering_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("get.py"),
            "def get_var(n, p, v):\n    return {'output': n}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.rb"), "  ruby is read as text \n").unwrap();
        let vars =
            json!({ "a": "file://get.py:get_var", "b": "file://get.py", "c": "file://notes.rb" });
        let loaded = FileVars::default()
            .load(vars.as_object().unwrap(), dir.path(), "t")
            .unwrap();
        assert!(!loaded.contains_key("a") && !loaded.contains_key("b"));
        assert_eq!(
            loaded["c"], "ruby is read as text",
            "promptfoo reads .rb vars as text"
        );
        assert_eq!(function_file(&vars["a"]), Some("get.py:get_var"));
        assert_eq!(function_file(&json!("file://x.mjs")), Some("x.mjs"));
        assert_eq!(function_file(&json!("file://x.txt")), None);
        assert_eq!(function_file(&json!("x.py")), None);
    }

    #[test]
    fn missing_function_files_media_and_missing_files_are_refused_with_the_var_named() {
        let dir = tempfile::tempdir().unwrap();
        for (value, says) in [
            ("file://get.py:get_var", "does not exist"),
            ("file://make.js", "does not exist"),
            ("file://scan.pdf", "not supported"),
            ("file://missing.txt", "cannot read"),
        ] {
            let vars = json!({ "v": value });
            let e = FileVars::default()
                .load(vars.as_object().unwrap(), dir.path(), "cfg.yaml: tests[2]")
                .unwrap_err();
            assert_eq!(e.location, "cfg.yaml: tests[2].vars.v");
            assert!(e.message.contains(says), "{value}: {}", e.message);
        }
    }
}
