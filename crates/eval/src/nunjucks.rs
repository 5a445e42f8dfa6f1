//! What promptfoo 0.123.1's nunjucks environment gives a suite's templates beyond plain
//! Jinja syntax (`src/util/templates.ts` `getNunjucksEngine`; see
//! `docs/research/promptfoo-compat.md` §1.6):
//!
//! - **custom filters** (`nunjucksFilters: {name: ./filter.js}`): each file's exported
//!   function, run in the embedded JavaScript engine, called with the filtered value and
//!   the filter's arguments. promptfoo gives them to the prompt and to the vars rendered
//!   for it, nowhere else (assertion values, provider bodies and grader prompts render
//!   without them);
//! - **templates read from files** (`{% include %}`, `{% import %}`, `{% from %}`,
//!   `{% extends %}`): nunjucks' `FileSystemLoader` with its default root, the folder the
//!   command runs in (not the config's folder). A name is looked up from that root; a name
//!   starting `./` or `../` inside an included file is relative to that file. A path that
//!   leaves the root is not found, as in nunjucks; a missing file is an error naming it
//!   and the root (`ignore missing` skips it).

use crate::suite::SuiteTemplates;
use promptops_core::template::{Extensions, Filter, INLINE_NAME, Loader};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The extensions for a suite's templates: with its custom filters (the prompt and its
/// vars) or without (everything else promptfoo renders).
pub(crate) fn extensions(templates: &SuiteTemplates, with_filters: bool) -> Extensions {
    let filters = if with_filters {
        templates
            .filters
            .iter()
            .map(|(name, path)| (name.clone(), js_filter(name.clone(), path.clone())))
            .collect()
    } else {
        Vec::new()
    };
    Extensions {
        filters,
        loader: Some(Arc::new(FileLoader {
            root: lexical(&templates.root),
        })),
    }
}

/// A filter that calls the function `path` exports.
fn js_filter(name: String, path: PathBuf) -> Filter {
    Arc::new(move |args| {
        crate::assertions::script::call_filter(&path, args)
            .map_err(|e| format!("filter `{name}` ({}) failed: {e}", path.display()))
    })
}

/// nunjucks' `FileSystemLoader(".")`: names resolved from `root`, never outside it.
pub(crate) struct FileLoader {
    pub(crate) root: PathBuf,
}

impl FileLoader {
    /// Where `name` points, if inside the root.
    fn resolve(&self, name: &str) -> Option<PathBuf> {
        let full = lexical(&self.root.join(name));
        full.starts_with(&self.root).then_some(full)
    }

    /// Why `name` was not found, for the error.
    pub(crate) fn not_found_hint(root: &Path) -> String {
        format!(
            "templates are read from {}, the folder promptops runs in (as promptfoo's nunjucks reads them); a path outside it is not found",
            root.display()
        )
    }
}

impl Loader for FileLoader {
    fn load(&self, name: &str) -> Result<Option<String>, String> {
        let Some(path) = self.resolve(name) else {
            return Ok(None);
        };
        if path.is_dir() {
            return Err(format!(
                "`{name}` ({}) is a folder, not a template file",
                path.display()
            ));
        }
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read `{name}` ({}): {e}", path.display())),
        }
    }

    fn join(&self, name: &str, parent: &str) -> String {
        // nunjucks resolves `./x` and `../x` against the including file's path; the
        // template being rendered from text has no path, so its names start at the root.
        let relative = name.starts_with("./") || name.starts_with("../");
        if !relative || parent == INLINE_NAME {
            return name.to_owned();
        }
        let parent = lexical(&self.root.join(parent));
        let dir = parent.parent().unwrap_or(&self.root);
        lexical(&dir.join(name)).to_string_lossy().into_owned()
    }
}

/// `path` with `.` and `..` resolved by name, as Node's `path.resolve` does (symbolic
/// links are not followed).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_core::template::{TemplateSet, Undefined};
    use serde_json::json;

    fn render(root: &Path, text: &str) -> Result<String, String> {
        let templates = SuiteTemplates {
            filters: Vec::new(),
            root: root.to_path_buf(),
        };
        TemplateSet::with_extensions(Undefined::Lenient, &extensions(&templates, false))
            .render_str(text, &json!({"x": "hi"}))
            .map_err(|e| e.message)
    }

    /// Each expectation is what nunjucks 3.2.4 (`nunjucks.configure({autoescape:
    /// false})`, run from `root`) rendered for the same files.
    #[test]
    fn includes_resolve_as_nunjucks_resolves_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let write = |p: &str, t: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        write(
            "root/partials/p.txt",
            "PART[{% include \"./nested.txt\" %}]\n",
        );
        write("root/partials/nested.txt", "NESTED\n");
        write("root/nested.txt", "ROOTNESTED\n");
        write("root/sub/s.txt", "SIB {{ x }}\n");
        write(
            "root/macros.txt",
            "{% macro shout(s) %}{{ s | upper }}!{% endmacro %}",
        );
        write("outside/o.txt", "OUT\n");
        write("rootx/y.txt", "SIBLING\n");
        let root = root.as_path();
        assert_eq!(
            render(root, "{% include \"partials/p.txt\" %}").unwrap(),
            "PART[NESTED\n]\n"
        );
        assert_eq!(
            render(root, "{% include \"./partials/p.txt\" %}").unwrap(),
            "PART[NESTED\n]\n"
        );
        assert_eq!(
            render(root, "{% set f = \"sub/s.txt\" %}{% include f %}").unwrap(),
            "SIB hi\n"
        );
        assert_eq!(
            render(root, "{% include \"nope.txt\" ignore missing %}ok").unwrap(),
            "ok"
        );
        assert_eq!(
            render(root, "{% extends \"sub/s.txt\" %}ignored").unwrap(),
            "SIB hi\n"
        );
        assert_eq!(
            render(root, "{% import \"macros.txt\" as m %}{{ m.shout(x) }}").unwrap(),
            "HI!"
        );
        assert_eq!(
            render(
                root,
                "{% from \"macros.txt\" import shout %}{{ shout('a') }}"
            )
            .unwrap(),
            "A!"
        );
        for escaping in [
            "../outside/o.txt".to_owned(),
            dir.path().join("outside/o.txt").display().to_string(),
            // nunjucks compares path prefixes as text and would find this one; we do not.
            "../rootx/y.txt".to_owned(),
        ] {
            let e = render(root, &format!("{{% include \"{escaping}\" %}}")).unwrap_err();
            assert!(e.contains("template not found"), "{escaping}: {e}");
        }
        let e = render(root, "{% include \"nope.txt\" %}").unwrap_err();
        assert!(
            e.contains("template not found") && e.contains("nope.txt"),
            "{e}"
        );
        let e = render(root, "{% include \"sub\" %}").unwrap_err();
        assert!(e.contains("is a folder"), "{e}");
    }
}
