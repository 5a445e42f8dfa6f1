//! An eval suite in promptfoo's config format, loaded and expanded into the steps the
//! runner executes (see `docs/evals.md` for what is supported and
//! `docs/research/promptfoo-compat.md` for the semantics followed).

mod csv_prompts;
mod file_vars;
mod filters;
mod keys;
mod load;
mod path_glob;
mod prompt_suite;
mod refs;
mod steps;
mod test_cases;

pub(crate) use file_vars::function_file;
pub use filters::{Column, prompt_ref_matches, provider_ref_matches};
pub(crate) use load::reported_string_id;
pub use load::{
    ConfigEcho, ConfigFile, from_json, load, load_with, provider_spec, read_config, read_suite,
};
pub use prompt_suite::{
    Gates, is_prompt_suite, load_prompt_suite, prompt_suite_from_json, provider_from_model,
};
pub use steps::Steps;

use crate::assertions::Assertion;
use serde_json::{Map, Value as Json};
use std::path::PathBuf;
use std::sync::Arc;

/// A problem with a suite, named by file and place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SuiteError {
    /// `file`, `file:line:column` or `file: tests[3].assert[0]`.
    pub location: String,
    pub message: String,
}

/// One prompt of the suite, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptTemplate {
    pub raw: String,
    pub label: String,
    /// SHA-256 of the label (promptfoo's `promptId`).
    pub id: String,
    /// The `id` written on an inline prompt object (`{id: greet, raw: ...}`): with the
    /// label, what `prompts:` filters match (promptfoo gives file prompts none).
    pub ref_id: Option<String>,
    /// A promptops prompt file (`promptops://<id>`): rendered with its declared variables
    /// (defaults, types, required ones), its template or messages.
    pub registry: Option<Arc<RegistryPrompt>>,
    /// A prompt function (`file://prompt.js[:fn]`, `.ts`, `.py[:fn]`): called for each
    /// row, its result is rendered as the prompt (`raw` is then the file's text).
    pub function: Option<Arc<PromptFunction>>,
    /// The prompt's own `config` (`{raw, label, config}`): given to its function, and
    /// under the test's `options` in the provider call, as promptfoo merges them.
    pub config: Map<String, Json>,
}

/// A prompt given as a function in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFunction {
    /// The file, relative to the suite's folder or absolute.
    pub file: PathBuf,
    /// The function's name (`prompt.js:name`); empty for the file's default export (a
    /// Python file without one is run as a script).
    pub name: String,
    pub language: ScriptLanguage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptLanguage {
    /// JavaScript or TypeScript: the embedded engine or Node.js.
    JavaScript,
    Python,
}

/// A promptops prompt file, as a suite uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryPrompt {
    pub prompt: promptops_core::prompt::Prompt,
    /// The variables its templates read (required when it declares none).
    pub used_variables: std::collections::BTreeSet<String>,
}

/// Finds promptops prompt files by id, for `promptops://<id>` prompts. The CLI gives one
/// that looks in the project's prompts folder.
pub trait PromptLibrary {
    /// The prompt with this id, or why it cannot be had.
    fn prompt(&self, id: &str) -> Result<Arc<RegistryPrompt>, String>;
}

/// One provider of the suite as configured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderSpec {
    /// The id as written (`openai:chat:gpt-4o-mini`).
    pub id: String,
    /// The id reports show (promptfoo drops the type segment for string ids).
    pub reported_id: String,
    pub label: String,
    pub config: Map<String, Json>,
    /// The prompts this provider runs (`prompts:` on a provider entry: labels, ids or
    /// `group:*` patterns); `None` runs every prompt.
    pub prompts: Option<Vec<String>>,
    /// The provider's `transform`: maps each answer's output before the test's own
    /// transform (inline JavaScript, or a `.js`/`.py` file's function).
    pub transform: Option<String>,
    /// The provider's `delay` (ms): a pause after each of its calls that was not a cache
    /// hit, instead of the run's `--delay`.
    pub delay_ms: Option<u64>,
}

/// An assertion or a group of them (`assert-set`).
#[derive(Debug, Clone, PartialEq)]
pub enum AssertItem {
    One(Assertion),
    Set {
        assertions: Vec<Assertion>,
        threshold: Option<f64>,
        weight: f64,
        metric: Option<String>,
        raw: Arc<Json>,
    },
}

/// One evaluation step: a test with one combination of its vars (and one repeat),
/// run against every prompt × provider.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStep {
    pub test_idx: usize,
    /// This step's vars (one combination of the test's), as written: the report shows
    /// these (a `file://` var stays its path there, as in promptfoo).
    pub vars: Map<String, Json>,
    /// The `file://` vars loaded for rendering (the file's text, trimmed; YAML as compact
    /// JSON), by name; empty when the step has none.
    pub loaded: Map<String, Json>,
    /// What the steps of one config test share.
    pub test: Arc<MergedTest>,
}

/// A config test after `defaultTest` is merged in, shared by its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedTest {
    pub description: Option<String>,
    pub asserts: Vec<AssertItem>,
    pub threshold: Option<f64>,
    pub options: Map<String, Json>,
    /// The merged test object without `vars` and `assert` (kept apart, above);
    /// with them it is promptfoo's `testCase`.
    pub object: Map<String, Json>,
    /// `prompts:` — the prompts the test runs with (labels, ids or patterns); `None`: all.
    pub prompts: Option<Vec<String>>,
    /// `providers:` — the providers the test runs with (ids, labels or patterns); `None`: all.
    pub providers: Option<Vec<String>>,
    /// `provider:` — the provider that answers this test's rows instead of the suite's
    /// (an id or `{id, label, config}`, as written).
    pub provider: Option<Json>,
    /// `assertScoringFunction:` — `file://scoring.js[:fn]` or `.py[:fn]`, which scores
    /// the test from its named scores and assertion results.
    pub scoring_function: Option<String>,
}

impl TestStep {
    /// The test as promptfoo reports it (`testCase`): the merged test with this step's vars.
    pub fn test_case(&self) -> Json {
        let mut o = self.test.object.clone();
        o.insert("vars".into(), Json::Object(self.vars.clone()));
        if !self.test.asserts.is_empty() {
            let asserts = self
                .test
                .asserts
                .iter()
                .map(AssertItem::raw)
                .cloned()
                .collect();
            o.insert("assert".into(), Json::Array(asserts));
        }
        Json::Object(o)
    }
}

impl AssertItem {
    /// The assertion (or set) as written.
    pub fn raw(&self) -> &Json {
        match self {
            AssertItem::One(a) => a.raw.as_ref(),
            AssertItem::Set { raw, .. } => raw.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluateOptions {
    pub max_concurrency: Option<usize>,
    pub repeat: Option<usize>,
    pub delay_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub cache: Option<bool>,
}

/// A loaded, expanded suite.
#[derive(Debug)]
pub struct Suite {
    pub path: PathBuf,
    pub base_dir: PathBuf,
    pub description: Option<String>,
    pub prompts: Vec<PromptTemplate>,
    pub providers: Vec<ProviderSpec>,
    /// Every provider × prompt pair that runs, provider-major: a row's `promptIdx` is
    /// its index here (a provider's `prompts:` filter leaves pairs out, as in promptfoo).
    pub columns: Vec<Column>,
    /// The providers tests name in `provider:` (each once), built beside the suite's.
    pub test_providers: Vec<ProviderSpec>,
    /// Where each `provider:` spec (as compact JSON) is in `test_providers`.
    pub test_provider_keys: std::collections::HashMap<String, usize>,
    /// `derivedMetrics`, computed from each prompt's named scores after the run.
    pub derived_metrics: Vec<crate::derived::DerivedMetric>,
    /// Kept off the heap (see [`Steps`]): read one with `steps.get(i)`.
    pub steps: Steps,
    pub options: EvaluateOptions,
    pub env: Map<String, Json>,
    /// What the suite's templates may use besides their vars: custom filters and
    /// templates read from files.
    pub templates: SuiteTemplates,
    /// The config as written (unexpanded), with API keys redacted, for reports; kept
    /// as compact text (and its long `tests` list apart) because a suite with
    /// thousands of tests is large as a tree.
    pub config_echo: ConfigEcho,
    /// Every var name seen, in first-seen order.
    pub var_names: Vec<String>,
    /// Top-level keys promptfoo would ignore, for a warning.
    pub ignored_keys: Vec<String>,
    /// Keys promptfoo acts on that promptops does not yet: each said once, with where it
    /// first appears and how often, so no verdict changes without a word.
    pub unsupported: Vec<Unsupported>,
    /// `outputPath`: report files to write when `-o` names none.
    pub output_path: Vec<PathBuf>,
}

/// What a suite's templates may use besides their vars (see `crate::nunjucks`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuiteTemplates {
    /// `nunjucksFilters`: each filter's name and the JavaScript file whose exported
    /// function it runs.
    pub filters: Vec<(String, PathBuf)>,
    /// Where `{% include %}` and its kin read files: the folder promptops runs in, as
    /// promptfoo's nunjucks reads them.
    pub root: PathBuf,
}

/// A key promptfoo acts on that this suite uses and promptops does not implement yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Where it first appears: `file:line:column` in a YAML file, else `file: tests[3].provider`.
    pub location: String,
    pub key: &'static str,
    /// Where such a key stands (`a test`, `a provider`, `the config`).
    pub place: &'static str,
    /// What promptops does instead.
    pub effect: &'static str,
    /// How many places use it.
    pub count: usize,
}

/// Collects [`Unsupported`] keys, one entry per key and place.
#[derive(Debug, Default)]
pub(crate) struct UnsupportedKeys(Vec<Unsupported>);

impl UnsupportedKeys {
    pub(crate) fn note(&mut self, found: Unsupported) {
        match self
            .0
            .iter_mut()
            .find(|u| u.key == found.key && u.place == found.place)
        {
            Some(u) => u.count += found.count,
            None => self.0.push(found),
        }
    }

    pub(crate) fn extend(&mut self, more: Vec<Unsupported>) {
        for u in more {
            self.note(u);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<Unsupported> {
        self.0
    }
}
