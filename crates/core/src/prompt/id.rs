//! Prompt ids and how they follow from file paths.
//!
//! `prompts/customer_support/intent_classifier.yaml` has the id
//! `customer_support.intent_classifier`; `_` and `-` compare equal, so the file may
//! say `id: customer-support.intent-classifier`.

use std::path::{Component, Path};

/// The folder name under which prompt files live.
pub const PROMPTS_DIR: &str = "prompts";

/// The id a file at `path` must have: its path under `root`, or else under the nearest
/// `prompts/` folder above it, without extension, `/` replaced by `.`.
/// `None` when the file is under neither.
pub fn id_from_path(path: &Path, root: Option<&Path>) -> Option<String> {
    let relative = match root {
        Some(root) => strip_root(path, root)?,
        None => {
            let components: Vec<Component> = path.components().collect();
            let at = components
                .iter()
                .rposition(|c| c.as_os_str() == PROMPTS_DIR)?;
            components[at + 1..].iter().collect()
        }
    };
    let without_ext = relative.with_extension("");
    let parts: Vec<String> = without_ext
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("."))
}

fn strip_root(path: &Path, root: &Path) -> Option<std::path::PathBuf> {
    let clean = |p: &Path| -> std::path::PathBuf {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    };
    clean(path)
        .strip_prefix(clean(root))
        .ok()
        .map(Path::to_path_buf)
}

/// The form ids are compared in: `_` and `-` are the same character.
pub fn comparable(id: &str) -> String {
    id.replace('_', "-")
}

/// Whether two ids name the same prompt.
pub fn same_id(a: &str, b: &str) -> bool {
    comparable(a) == comparable(b)
}

/// The longest prompt id (`module.name`, modules nested with dots).
pub const MAX_ID_CHARS: usize = 128;

/// Why `id` is not a well-formed id, if it is not: dot-separated segments of
/// letters, digits, `_` and `-`.
pub fn syntax_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("the id is empty".into());
    }
    if id.len() > MAX_ID_CHARS {
        return Some(format!(
            "the id is {} characters long; ids have at most {MAX_ID_CHARS}",
            id.len()
        ));
    }
    for segment in id.split('.') {
        if segment.is_empty() {
            return Some(format!(
                "`{id}` has an empty segment (two dots in a row, or a dot at an end)"
            ));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Some(format!(
                "`{id}` contains `{c}`; ids use letters, digits, `_`, `-` and `.` between segments"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_paths() {
        let check = |p: &str, root: Option<&str>, want: Option<&str>| {
            assert_eq!(
                id_from_path(Path::new(p), root.map(Path::new)).as_deref(),
                want,
                "{p}"
            );
        };
        check("prompts/a/b.yaml", None, Some("a.b"));
        check("demo/prompts/a/b/c.yml", None, Some("a.b.c"));
        check("/x/prompts/y/prompts/a.yaml", None, Some("a"));
        check("elsewhere/a.yaml", None, None);
        check("lib/a/b.yaml", Some("lib"), Some("a.b"));
        check("./lib/a/b.yaml", Some("lib/"), Some("a.b"));
        check("other/a.yaml", Some("lib"), None);
    }

    #[test]
    fn underscore_and_dash_compare_equal() {
        assert!(same_id(
            "customer-support.intent-classifier",
            "customer_support.intent_classifier"
        ));
        assert!(!same_id("a.b", "a.c"));
    }

    #[test]
    fn id_syntax() {
        assert!(syntax_problem("a.b-c_d").is_none());
        assert!(syntax_problem("a..b").is_some());
        assert!(syntax_problem("a b").is_some());
        assert!(syntax_problem("").is_some());
    }
}
