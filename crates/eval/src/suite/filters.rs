//! Which prompt × provider pairs run, and which of them a test runs with, as promptfoo
//! 0.123.1 decides (`src/util/promptMatching.ts`, `doesProviderRefMatch` in
//! `src/util/provider.ts`, `readProviderPromptMap` in `src/prompts/index.ts`,
//! `buildCompletedPrompts` in `src/evaluator.ts`; see `docs/research/promptfoo-compat.md`
//! §3.9).
//!
//! A reference names a prompt by its label or its `id` (exactly, `group:*` as a prefix,
//! or `group` for any `group:…`), and a provider by its label or its reported id (the
//! same three ways).

use super::{MergedTest, PromptTemplate, ProviderSpec};
use std::collections::HashMap;

/// One provider × prompt pair of a run (a report column). Its index in
/// [`Suite::columns`](super::Suite::columns) is promptfoo's `promptIdx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Index into the suite's providers.
    pub provider: usize,
    /// Index into the suite's prompts.
    pub prompt: usize,
}

/// Whether the reference `r` names the prompt: its label or `id` exactly, a prefix
/// written `prefix*`, or `r` followed by `:` (`group` names `group:intro`).
pub fn prompt_ref_matches(r: &str, prompt: &PromptTemplate) -> bool {
    let names = std::iter::once(prompt.label.as_str()).chain(prompt.ref_id.as_deref());
    names_match(r, names)
}

/// Whether the reference `r` names the provider: its label, or its reported id (also in
/// canonical form: `exec:` and `file://` paths made absolute), exactly, by a `prefix*`,
/// or as `r:…`.
pub fn provider_ref_matches(r: &str, provider: &ProviderSpec) -> bool {
    let label = (!provider.label.is_empty()).then_some(provider.label.as_str());
    let id = provider.reported_id.as_str();
    let canonical_id = canonical_provider_id(id);
    if label == Some(r) || id == r || canonical_id == canonical_provider_id(r) {
        return true;
    }
    let names = label
        .into_iter()
        .chain([id, canonical_id.as_str()])
        .collect::<Vec<_>>();
    names_match(r, names.into_iter())
}

/// The shared part of both rules: exact, `prefix*`, or `r:` as a prefix.
fn names_match<'a>(r: &str, names: impl Iterator<Item = &'a str> + Clone) -> bool {
    if names.clone().any(|n| n == r) {
        return true;
    }
    if let Some(prefix) = r.strip_suffix('*')
        && names.clone().any(|n| n.starts_with(prefix))
    {
        return true;
    }
    let group = format!("{r}:");
    names.into_iter().any(|n| n.starts_with(&group))
}

/// promptfoo's `canonicalizeProviderId`: a `file://` path, an `exec:`/`python:`/`golang:`
/// path with a directory, or a path to a `.js`/`.ts`/`.mjs` file, made absolute.
fn canonical_provider_id(id: &str) -> String {
    // Node's `path.resolve`: joined to the working folder, `.` and `..` resolved.
    let absolute = |p: &str| {
        use std::path::{Component, PathBuf};
        let path = std::path::Path::new(p);
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match std::env::current_dir() {
                Ok(d) => d.join(path),
                Err(_) => return p.to_owned(),
            }
        };
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out.display().to_string()
    };
    if let Some(path) = id.strip_prefix("file://") {
        return format!("file://{}", absolute(path));
    }
    for prefix in ["exec:", "python:", "golang:"] {
        if let Some(path) = id.strip_prefix(prefix) {
            return if path.contains(['/', '\\']) {
                format!("{prefix}{}", absolute(path))
            } else {
                id.to_owned()
            };
        }
    }
    if [".js", ".ts", ".mjs"].iter().any(|e| id.ends_with(e)) && id.contains(['/', '\\']) {
        return format!("file://{}", absolute(id));
    }
    id.to_owned()
}

/// Whether a prompt passes a `prompts:` filter (`None`: every prompt does; an empty
/// list: none does).
pub(crate) fn prompt_allowed(prompt: &PromptTemplate, filter: Option<&[String]>) -> bool {
    filter.is_none_or(|refs| refs.iter().any(|r| prompt_ref_matches(r, prompt)))
}

/// Whether a provider passes a `providers:` filter.
pub(crate) fn provider_allowed(provider: &ProviderSpec, filter: Option<&[String]>) -> bool {
    filter.is_none_or(|refs| refs.iter().any(|r| provider_ref_matches(r, provider)))
}

/// The pairs that run, provider-major. promptfoo looks a provider's `prompts:` up by its
/// label, else its id, in a map filled from every provider entry under its written id and
/// its label, later entries winning; a provider whose key is not there (a string id that
/// promptfoo reports differently, `openai:chat:x` as `openai:x`) runs every prompt.
pub(crate) fn columns(providers: &[ProviderSpec], prompts: &[PromptTemplate]) -> Vec<Column> {
    let mut filters: HashMap<&str, Option<&[String]>> = HashMap::new();
    for p in providers {
        let filter = p.prompts.as_deref();
        filters.insert(p.id.as_str(), filter);
        if !p.label.is_empty() {
            filters.insert(p.label.as_str(), filter);
        }
    }
    let mut out = Vec::new();
    for (pi, provider) in providers.iter().enumerate() {
        let key = if provider.label.is_empty() {
            provider.reported_id.as_str()
        } else {
            provider.label.as_str()
        };
        let filter = filters.get(key).copied().flatten();
        for (ti, prompt) in prompts.iter().enumerate() {
            if prompt_allowed(prompt, filter) {
                out.push(Column {
                    provider: pi,
                    prompt: ti,
                });
            }
        }
    }
    out
}

impl super::Suite {
    /// The columns (by `promptIdx`) a test runs with: those whose prompt and provider
    /// pass its `prompts:` and `providers:` filters.
    pub fn columns_for<'a>(&'a self, test: &'a MergedTest) -> impl Iterator<Item = usize> + 'a {
        self.columns
            .iter()
            .enumerate()
            .filter_map(move |(i, c)| self.column_allowed(test, *c).then_some(i))
    }

    /// Whether a test runs with the column `c`.
    pub fn column_allowed(&self, test: &MergedTest, c: Column) -> bool {
        prompt_allowed(&self.prompts[c.prompt], test.prompts.as_deref())
            && provider_allowed(&self.providers[c.provider], test.providers.as_deref())
    }

    /// Where a test's `provider:` override is in [`Suite::test_providers`].
    pub fn test_provider_index(&self, test: &MergedTest) -> Option<usize> {
        let spec = test.provider.as_ref()?;
        let key = spec.to_string();
        self.test_provider_keys.get(&key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn prompt(label: &str, id: Option<&str>) -> PromptTemplate {
        PromptTemplate {
            raw: label.to_owned(),
            label: label.to_owned(),
            id: String::new(),
            ref_id: id.map(str::to_owned),
            registry: None,
            function: None,
            config: Map::new(),
        }
    }

    fn provider(id: &str, reported: &str, label: &str, prompts: Option<&[&str]>) -> ProviderSpec {
        ProviderSpec {
            id: id.to_owned(),
            reported_id: reported.to_owned(),
            label: label.to_owned(),
            config: Map::new(),
            prompts: prompts.map(|p| p.iter().map(|s| (*s).to_owned()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn prompt_references_follow_promptfoo() {
        let file = prompt("intro: /suite/p.txt: Say hi", None);
        let inline = prompt("Say {{x}}", Some("greet"));
        for (r, p, want) in [
            ("Say {{x}}", &inline, true),
            ("greet", &inline, true),
            ("gr*", &inline, true),
            ("*", &file, true),
            ("intro", &file, true),
            ("intro:*", &file, true),
            ("intr", &file, false),
            ("greet:", &inline, false),
            ("/suite/p.txt", &file, false),
        ] {
            assert_eq!(prompt_ref_matches(r, p), want, "{r} vs {}", p.label);
        }
        assert!(prompt_allowed(&file, None));
        assert!(
            !prompt_allowed(&file, Some(&[])),
            "an empty list allows none"
        );
    }

    #[test]
    fn provider_references_follow_promptfoo() {
        let labelled = provider("openai:chat:gpt-4o", "openai:chat:gpt-4o", "fast", None);
        let plain = provider("openai:chat:gpt-4o", "openai:gpt-4o", "", None);
        for (r, p, want) in [
            ("fast", &labelled, true),
            ("openai:chat:gpt-4o", &labelled, true),
            ("openai", &labelled, true),
            ("openai:*", &plain, true),
            ("openai:gpt-4o", &plain, true),
            // A string id is reported without its type, and matched as reported.
            ("openai:chat:gpt-4o", &plain, false),
            ("anthropic", &plain, false),
            ("fa", &labelled, false),
        ] {
            assert_eq!(provider_ref_matches(r, p), want, "{r} vs {}", p.reported_id);
        }
        let exec = provider("exec:./run.sh", "exec:./run.sh", "", None);
        // A path with a directory is compared in absolute form; a bare name is not a path.
        assert!(!provider_ref_matches("exec:run.sh", &exec));
        assert!(provider_ref_matches("exec:./run.sh", &exec));
        let absolute = format!(
            "exec:{}",
            std::env::current_dir().unwrap().join("run.sh").display()
        );
        assert!(provider_ref_matches(&absolute, &exec));
    }

    #[test]
    fn provider_prompt_filters_drop_columns_and_renumber_them() {
        let prompts = [prompt("a", None), prompt("b", Some("bee"))];
        let providers = [
            provider("echo", "echo", "one", Some(&["bee"])),
            provider("echo", "echo", "", None),
            provider("openai:chat:m", "openai:m", "", None),
        ];
        let got: Vec<(usize, usize)> = columns(&providers, &prompts)
            .iter()
            .map(|c| (c.provider, c.prompt))
            .collect();
        // The first `echo` is found under its label; the second has none and is found
        // under `echo`, which both entries wrote (the second, unfiltered, last).
        assert_eq!(got, [(0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    }
}
