//! Reading a suite file and resolving its prompts and providers.

use super::test_cases::load_steps;
use super::{
    EvaluateOptions, PromptFunction, PromptLibrary, PromptTemplate, ProviderSpec, ScriptLanguage,
    Suite, SuiteError,
};
use crate::spill::Spill;
use promptops_core::canonical::sha256_hex;
use promptops_core::diagnostic::Findings;
use promptops_core::yaml;
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

/// Loads the suite at `path` (with no prompt library: `promptops://` prompts are errors).
pub fn load(path: &Path) -> Result<Suite, SuiteError> {
    load_with(path, None)
}

/// Loads the suite at `path`, finding `promptops://<id>` prompts in `library`.
pub fn load_with(path: &Path, library: Option<&dyn PromptLibrary>) -> Result<Suite, SuiteError> {
    from_json(read_suite(path)?, path, library)
}

/// Reads a suite file (YAML or JSON) without interpreting it, e.g. to tell a prompt
/// suite from a promptfoo config before loading it (read once: suites can be large).
pub fn read_config(path: &Path) -> Result<Json, SuiteError> {
    read_data_file(path)
}

/// A suite file as read by [`read_suite`]: its tree, and the items of a YAML suite's
/// `tests` list kept apart, one record each, so that a suite of 100,000 inline tests is
/// never one tree in memory (the tree's `tests` is then an empty list).
pub struct ConfigFile {
    pub json: Json,
    tests: Option<Spill>,
    /// The keys promptfoo acts on that promptops does not, found with their positions
    /// while the file was parsed (`None`: not looked at yet).
    pub(crate) audit: Option<Vec<super::Unsupported>>,
}

impl From<Json> for ConfigFile {
    fn from(json: Json) -> ConfigFile {
        ConfigFile {
            json,
            tests: None,
            audit: None,
        }
    }
}

impl ConfigFile {
    /// The whole config as one tree, its tests put back (for prompt suites, which are small).
    pub fn into_json(self) -> Result<Json, SuiteError> {
        let ConfigFile {
            mut json, tests, ..
        } = self;
        if let (Some(tests), Some(map)) = (tests, json.as_object_mut()) {
            let items = tests
                .iter::<Json>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err_at("tests", e.to_string()))?;
            map.insert("tests".into(), Json::Array(items));
        }
        Ok(json)
    }
}

/// Reads a suite file; a YAML suite's `tests` items are kept apart as they are parsed
/// (see [`ConfigFile`]).
pub fn read_suite(path: &Path) -> Result<ConfigFile, SuiteError> {
    let display = path.display().to_string();
    if display.ends_with(".json") {
        return read_data_file(path).map(ConfigFile::from);
    }
    // Read as the parser goes: a suite of 100,000 inline tests is never one string either.
    let cannot_read = |e: std::io::Error| err(path, format!("cannot read: {e}"));
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let size = file.metadata().map_err(cannot_read)?.len() as usize;
    let mut chars = FileChars::new(std::io::BufReader::new(file));
    let mut findings = Findings::new(&display);
    let mut tests = Spill::new();
    // Each test is looked at for unsupported keys (with their positions) as it is
    // handed over, before it becomes JSON: the tree of a large suite is never built.
    let mut audit = super::UnsupportedKeys::default();
    let node = {
        let mut index = 0usize;
        let mut take = |node: yaml::Node| {
            super::keys::audit(
                &node,
                super::keys::Place::Test,
                &display,
                &format!("tests[{index}]"),
                &mut audit,
            );
            index += 1;
            tests
                .push(&yaml::into_json(node))
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let divert = yaml::Divert {
            key: "tests",
            take: &mut take,
        };
        yaml::parse_chars_diverting(
            &mut chars,
            size,
            &yaml::Limits::default(),
            &mut findings,
            divert,
        )
    };
    if let Some(e) = chars.error.take() {
        return Err(cannot_read(e));
    }
    if let Some(d) = findings.as_slice().iter().find(|d| d.is_error()) {
        return Err(SuiteError {
            location: format!("{}:{}:{}", d.path, d.line, d.column),
            message: d.message.clone(),
        });
    }
    let mut root = super::UnsupportedKeys::default();
    if let Some(node) = &node {
        super::keys::audit(node, super::keys::Place::Top, &display, "", &mut root);
    }
    audit.extend(root.into_vec());
    Ok(ConfigFile {
        json: node.map(yaml::into_json).unwrap_or(Json::Null),
        tests: (!tests.is_empty()).then_some(tests),
        audit: Some(audit.into_vec()),
    })
}

/// A file's characters as they are read, in chunks; bytes that are not UTF-8 become
/// U+FFFD, as [`read_text`] gives them. A read error ends the characters and is kept in
/// `error` for the caller.
struct FileChars<R> {
    reader: R,
    /// Bytes read but not decoded yet (a sequence cut by the chunk's end).
    pending: Vec<u8>,
    decoded: Vec<char>,
    at: usize,
    done: bool,
    error: Option<std::io::Error>,
}

impl<R: std::io::Read> FileChars<R> {
    const CHUNK: usize = 64 * 1024;

    fn new(reader: R) -> FileChars<R> {
        FileChars {
            reader,
            pending: Vec::new(),
            decoded: Vec::new(),
            at: 0,
            done: false,
            error: None,
        }
    }

    fn refill(&mut self) {
        let start = self.pending.len();
        self.pending.resize(start + Self::CHUNK, 0);
        let read = match self.reader.read(&mut self.pending[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(e) => {
                self.error = Some(e);
                self.done = true;
                0
            }
        };
        self.pending.truncate(start + read);
        if read == 0 && self.error.is_none() {
            self.done = true;
        }
        let end = if self.done {
            self.pending.len()
        } else {
            complete_prefix(&self.pending)
        };
        self.decoded = String::from_utf8_lossy(&self.pending[..end])
            .chars()
            .collect();
        self.pending.drain(..end);
        self.at = 0;
    }
}

impl<R: std::io::Read> Iterator for FileChars<R> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.decoded.get(self.at) {
                self.at += 1;
                return Some(*c);
            }
            if self.done {
                return None;
            }
            self.refill();
        }
    }
}

/// How many of `bytes` to decode now: all but a UTF-8 sequence the next read may finish.
fn complete_prefix(bytes: &[u8]) -> usize {
    let end = bytes.len();
    for back in 1..=end.min(3) {
        let b = bytes[end - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the sequence's start
        }
        let needs = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if back < needs { end - back } else { end };
    }
    end
}

/// A promptfoo suite from its config as read by [`read_suite`] (or any config tree).
pub fn from_json(
    config: impl Into<ConfigFile>,
    path: &Path,
    library: Option<&dyn PromptLibrary>,
) -> Result<Suite, SuiteError> {
    let ConfigFile { json, tests, audit } = config.into();
    let mut config = json;
    super::refs::dereference(&mut config).map_err(|m| err(path, m))?;
    let Json::Object(config) = config else {
        return Err(err(
            path,
            "an eval config is a mapping with `prompts`, `providers` and `tests`",
        ));
    };
    from_config_audited(config, tests, path, library, audit)
}

/// A suite from its config (already read from `path`, which places relative files);
/// `tests`, when given, holds the items of its `tests` list kept apart.
pub(super) fn from_config(
    config: Map<String, Json>,
    tests: Option<Spill>,
    path: &Path,
    library: Option<&dyn PromptLibrary>,
) -> Result<Suite, SuiteError> {
    from_config_audited(config, tests, path, library, None)
}

/// [`from_config`], with the unsupported keys already found while reading (`None`: the
/// config is looked at here, its places named by path).
fn from_config_audited(
    config: Map<String, Json>,
    tests: Option<Spill>,
    path: &Path,
    library: Option<&dyn PromptLibrary>,
    audit: Option<Vec<super::Unsupported>>,
) -> Result<Suite, SuiteError> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let file = path.display().to_string();
    let mut unsupported = super::UnsupportedKeys::default();
    let config = match audit {
        Some(found) => {
            unsupported.extend(found);
            config
        }
        None => {
            let root = Json::Object(config);
            super::keys::audit(&root, super::keys::Place::Top, &file, "", &mut unsupported);
            let Json::Object(config) = root else {
                unreachable!("a mapping stays a mapping")
            };
            config
        }
    };

    let description = config
        .get("description")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let ignored_keys = config
        .keys()
        .filter(|k| !super::keys::is_known_top_key(k))
        .cloned()
        .collect();

    let prompts = match config.get("prompts") {
        None | Some(Json::Null) => vec![inline_prompt("{{prompt}}".into(), None, None)],
        Some(value) => resolve_prompts(value, &base_dir, &file, library)?,
    };
    if prompts.is_empty() {
        return Err(err(path, "You must provide at least 1 prompt"));
    }

    let providers_value = match (config.get("providers"), config.get("targets")) {
        (Some(p), _) => p,
        (None, Some(t)) => t,
        (None, None) => {
            return Err(err(
                path,
                "no `providers` (or `targets`): name at least one, e.g. `providers: [openai:gpt-4o-mini]`",
            ));
        }
    };
    let providers = resolve_providers(providers_value, &file)?;
    let columns = super::filters::columns(&providers, &prompts);
    let derived_metrics = crate::derived::parse(config.get("derivedMetrics"), &file)?;

    let templates = super::SuiteTemplates {
        filters: nunjucks_filters(config.get("nunjucksFilters"), &base_dir, &file)?,
        root: std::env::current_dir()
            .map_err(|e| err(path, format!("cannot tell the current folder: {e}")))?,
    };
    let options = evaluate_options(config.get("evaluateOptions"), &file)?;
    let env = match config.get("env") {
        Some(Json::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let output_path = output_path(config.get("outputPath"), &file)?;
    // The report echoes the config; keep it as redacted text now, before the tests are
    // taken out of it, so no second tree of a large suite is ever built.
    let mut text = String::with_capacity(4096);
    let skip: &[&str] = match tests {
        // The tests kept apart are written back last by `ConfigEcho`.
        Some(_) => &[
            "metrics",
            "plugins",
            "output",
            "options",
            "thresholds",
            "tests",
        ],
        None => &["metrics", "plugins", "output", "options", "thresholds"],
    };
    write_redacted(&config, &mut text, skip);
    let config_json = serde_json::value::RawValue::from_string(text)
        .map_err(|e| err(path, format!("cannot keep the config: {e}")))?;
    let known = super::test_cases::Known {
        prompts: &prompts,
        providers: &providers,
        columns: &columns,
        file: &file,
    };
    let loaded = load_steps(config, tests.as_ref(), &base_dir, &known, &mut unsupported)?;
    let config_echo = ConfigEcho {
        config: config_json,
        tests,
    };

    Ok(Suite {
        path: path.to_path_buf(),
        base_dir,
        description,
        prompts,
        providers,
        columns,
        test_providers: loaded.test_providers,
        test_provider_keys: loaded.test_provider_keys,
        derived_metrics,
        steps: loaded.steps,
        options,
        env,
        templates,
        config_echo,
        var_names: loaded.var_names,
        ignored_keys,
        unsupported: unsupported.into_vec(),
        output_path,
    })
}

/// `outputPath`: the report files written when the command line names none (a path or a
/// list, relative to the current folder as in promptfoo).
fn output_path(value: Option<&Json>, file: &str) -> Result<Vec<PathBuf>, SuiteError> {
    let refused = || SuiteError {
        location: format!("{file}: outputPath"),
        message: "`outputPath` is a report file or a list of them, e.g. `outputPath: results.json`"
            .into(),
    };
    match value {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(p)) if !p.is_empty() => Ok(vec![PathBuf::from(p)]),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .ok_or_else(refused)
            })
            .collect(),
        Some(_) => Err(refused()),
    }
}

pub(super) fn err(path: &Path, message: impl Into<String>) -> SuiteError {
    SuiteError {
        location: path.display().to_string(),
        message: message.into(),
    }
}

pub(super) fn err_at(location: impl Into<String>, message: impl Into<String>) -> SuiteError {
    SuiteError {
        location: location.into(),
        message: message.into(),
    }
}

/// A text file as promptfoo's Node reader gives it: bytes that are not UTF-8 become
/// U+FFFD instead of refusing the file.
pub(super) fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Reads a YAML or JSON file as JSON; syntax errors carry line and column.
pub(super) fn read_data_file(path: &Path) -> Result<Json, SuiteError> {
    Ok(match read_data_tree(path)? {
        DataTree::Json(json) => json,
        DataTree::Yaml(node) => node.map(yaml::into_json).unwrap_or(Json::Null),
    })
}

/// [`read_data_file`] for a file of tests (a list of `place`s, or one): the keys
/// promptfoo acts on that promptops does not are noted, with positions in a YAML file.
pub(super) fn read_data_file_audited(
    path: &Path,
    place: super::keys::Place,
    out: &mut super::UnsupportedKeys,
) -> Result<Json, SuiteError> {
    fn items<T: super::keys::KeyTree>(
        node: &T,
        place: super::keys::Place,
        file: &str,
        out: &mut super::UnsupportedKeys,
    ) {
        match node.items() {
            Some(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    super::keys::audit(item, place, file, &format!("[{i}]"), out);
                }
            }
            None => super::keys::audit(node, place, file, "", out),
        }
    }
    let file = path.display().to_string();
    Ok(match read_data_tree(path)? {
        DataTree::Json(json) => {
            items(&json, place, &file, out);
            json
        }
        DataTree::Yaml(node) => {
            if let Some(node) = &node {
                items(node, place, &file, out);
            }
            node.map(yaml::into_json).unwrap_or(Json::Null)
        }
    })
}

enum DataTree {
    Json(Json),
    /// With positions; `None` for an empty document.
    Yaml(Option<yaml::Node>),
}

fn read_data_tree(path: &Path) -> Result<DataTree, SuiteError> {
    let text = read_text(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let display = path.display().to_string();
    if display.ends_with(".json") {
        return serde_json::from_str(&text)
            .map(DataTree::Json)
            .map_err(|e| SuiteError {
                location: format!("{display}:{}:{}", e.line(), e.column()),
                message: format!("invalid JSON: {e}"),
            });
    }
    let mut findings = Findings::new(&display);
    let node = yaml::parse(&text, &mut findings);
    if let Some(d) = findings.as_slice().iter().find(|d| d.is_error()) {
        return Err(SuiteError {
            location: format!("{}:{}:{}", d.path, d.line, d.column),
            message: d.message.clone(),
        });
    }
    Ok(DataTree::Yaml(node))
}

/// A prompt written in the config (`ref_id`: the `id` of a prompt object, which
/// `prompts:` filters can name).
fn inline_prompt(raw: String, label: Option<String>, ref_id: Option<String>) -> PromptTemplate {
    let label = label.unwrap_or_else(|| raw.clone());
    PromptTemplate {
        id: sha256_hex(&label),
        raw,
        label,
        ref_id,
        registry: None,
        function: None,
        config: Map::new(),
    }
}

/// How a suite names one of the project's prompt files: `promptops://<id>`.
pub(super) const REGISTRY_SCHEME: &str = "promptops://";

/// A prompt file of the project, by id. Its messages become a chat prompt (JSON), its
/// template a text prompt; rendering binds its declared variables.
fn registry_prompt(
    id: &str,
    label: Option<String>,
    library: Option<&dyn PromptLibrary>,
    file: &str,
) -> Result<PromptTemplate, SuiteError> {
    let at = format!("{file}: prompts: {REGISTRY_SCHEME}{id}");
    let library = library.ok_or_else(|| {
        err_at(
            &at,
            "promptops:// prompts need a promptops project (a promptops.toml or a prompts/ folder)",
        )
    })?;
    let registry = library.prompt(id).map_err(|e| err_at(&at, e))?;
    let prompt = &registry.prompt;
    let raw = match &prompt.body {
        promptops_core::prompt::Body::Template(t) => t.clone(),
        promptops_core::prompt::Body::Messages(ms) => {
            let messages: Vec<Json> = ms
                .iter()
                .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
                .collect();
            serde_json::to_string_pretty(&messages).unwrap_or_default()
        }
    };
    let label =
        label.unwrap_or_else(|| format!("{REGISTRY_SCHEME}{}@{}", prompt.id, prompt.version));
    Ok(PromptTemplate {
        id: sha256_hex(&label),
        raw,
        label,
        ref_id: None,
        registry: Some(registry.clone()),
        function: None,
        config: Map::new(),
    })
}

/// Whether promptfoo would read a prompt string as a file path.
fn looks_like_path(s: &str) -> bool {
    if s.contains('\n') {
        return false;
    }
    if s.starts_with("file://") || s.contains(['*', '/', '\\']) {
        return true;
    }
    const EXTENSIONS: &[&str] = &[
        ".cjs", ".cts", ".j2", ".js", ".json", ".jsonl", ".md", ".mjs", ".mts", ".py", ".ts",
        ".txt", ".yml", ".yaml",
    ];
    let tokens: Vec<&str> = s.split(':').collect();
    let last_two = tokens.iter().rev().take(2);
    if last_two
        .into_iter()
        .any(|t| EXTENSIONS.iter().any(|e| t.ends_with(e)))
    {
        return true;
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    (n >= 3 && chars[n - 3] == '.') || (n >= 4 && chars[n - 4] == '.')
}

fn resolve_prompts(
    value: &Json,
    base: &Path,
    file: &str,
    library: Option<&dyn PromptLibrary>,
) -> Result<Vec<PromptTemplate>, SuiteError> {
    // (raw, label, config, id)
    type Entry = (String, Option<String>, Map<String, Json>, Option<String>);
    let entries: Vec<Entry> = match value {
        Json::String(s) => vec![(s.clone(), None, Map::new(), None)],
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok((s.clone(), None, Map::new(), None)),
                Json::Object(o) => {
                    let raw = o.get("raw").or_else(|| o.get("id")).and_then(Json::as_str);
                    let text = |k: &str| o.get(k).and_then(Json::as_str).map(str::to_owned);
                    match raw {
                        Some(raw) => Ok((
                            raw.to_owned(),
                            text("label"),
                            o.get("config")
                                .and_then(Json::as_object)
                                .cloned()
                                .unwrap_or_default(),
                            text("id"),
                        )),
                        None => Err(err_at(
                            format!("{file}: prompts[{i}]"),
                            "a prompt object needs `raw` (or `id`)",
                        )),
                    }
                }
                _ => Err(err_at(
                    format!("{file}: prompts[{i}]"),
                    "a prompt is a string or `{raw, label}`",
                )),
            })
            .collect::<Result<_, _>>()?,
        Json::Object(map) => map
            .iter()
            .map(|(raw, label)| {
                (
                    raw.clone(),
                    label.as_str().map(str::to_owned),
                    Map::new(),
                    None,
                )
            })
            .collect(),
        _ => {
            return Err(err_at(
                format!("{file}: prompts"),
                "`prompts` is a list of strings or `{raw, label}` objects",
            ));
        }
    };
    let mut out = Vec::new();
    for (raw, label, config, ref_id) in entries {
        let start = out.len();
        if let Some(id) = raw.strip_prefix(REGISTRY_SCHEME) {
            out.push(registry_prompt(id, label, library, file)?);
        } else if !looks_like_path(&raw) {
            out.push(inline_prompt(raw, label, ref_id));
        } else {
            let relative = raw.strip_prefix("file://").unwrap_or(&raw);
            // `prompt.js:name`, `prompt.py:name` (a glob's every match gets the name).
            let (relative, function) = split_function_name(relative);
            let matched = expand_path(base, relative);
            if matched.is_empty() {
                if super::path_glob::has_magic(relative) {
                    // promptfoo keeps the entry's own fields for a glob that matched nothing.
                    out.push(inline_prompt(raw.clone(), label, ref_id));
                    continue;
                }
                return Err(err_at(
                    format!("{file}: prompts"),
                    format!(
                        "There are no prompts in \"{raw}\" (no such file relative to {})",
                        base.display()
                    ),
                ));
            }
            // promptfoo reads each match of a glob as a bare path: the entry's label and
            // config do not reach its prompts.
            let globbed = super::path_glob::has_magic(relative);
            let label = if globbed { None } else { label };
            for path in matched {
                match function_language(&path) {
                    Some(language) => out.push(function_prompt(
                        &path,
                        function,
                        language,
                        label.as_deref(),
                        file,
                    )?),
                    None => out.extend(prompts_from_file(&path, label.as_deref(), file)?),
                }
            }
            if globbed {
                continue;
            }
        }
        for prompt in &mut out[start..] {
            prompt.config = config.clone();
        }
    }
    Ok(out)
}

/// `prompt.js:name` → (`prompt.js`, `name`) for JavaScript, TypeScript and Python files,
/// as promptfoo's `parsePathOrGlob` splits them; other paths keep their colons.
fn split_function_name(path: &str) -> (&str, &str) {
    match path.rsplit_once(':') {
        Some((file, name))
            if file.len() > 1
                && !name.contains(['/', '\\'])
                && (crate::assertions::script::is_javascript_file(file)
                    || file.to_ascii_lowercase().ends_with(".py")) =>
        {
            (file, name)
        }
        _ => (path, ""),
    }
}

/// The language of a prompt file that holds a function, if it is one.
fn function_language(path: &Path) -> Option<ScriptLanguage> {
    let name = path.to_string_lossy();
    if crate::assertions::script::is_javascript_file(&name) {
        Some(ScriptLanguage::JavaScript)
    } else if name.to_ascii_lowercase().ends_with(".py") {
        Some(ScriptLanguage::Python)
    } else {
        None
    }
}

/// A prompt function (promptfoo's `processJsFile` / `processPythonFile`): the label is
/// the entry's, else `<path>:<name>`, else the path (JavaScript) or `<path>: <source>`
/// (Python); `raw` is the file's text.
fn function_prompt(
    path: &Path,
    name: &str,
    language: ScriptLanguage,
    label: Option<&str>,
    file: &str,
) -> Result<PromptTemplate, SuiteError> {
    let shown = path.display().to_string();
    let source = read_text(path).map_err(|e| {
        err_at(
            format!("{file}: prompts"),
            format!("{shown}: cannot read: {e}"),
        )
    })?;
    let label = match (label, name, language) {
        (Some(l), _, _) => l.to_owned(),
        (None, "", ScriptLanguage::JavaScript) => shown.clone(),
        (None, "", ScriptLanguage::Python) => format!("{shown}: {source}"),
        (None, name, _) => format!("{shown}:{name}"),
    };
    Ok(PromptTemplate {
        function: Some(std::sync::Arc::new(PromptFunction {
            file: path.to_path_buf(),
            name: name.to_owned(),
            language,
        })),
        ..inline_prompt(source, Some(label), None)
    })
}

/// A path relative to the suite, or every file a glob in it matches, in the order
/// promptfoo's `globSync` gives them (see [`super::path_glob`]).
pub(super) fn expand_path(base: &Path, relative: &str) -> Vec<PathBuf> {
    // A config in the current folder has an empty base.
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    super::path_glob::glob_files(base, relative)
}

/// The prompts of a file, as promptfoo's processors read them (`src/prompts/processors`):
/// a `.json` or `.yaml` file that parses is one prompt, its data as compact JSON; one
/// that does not (a chat prompt with `{% for %}` tags, say) is one prompt, its text as
/// written, rendered first and read as a chat prompt afterwards; a `.jsonl` file holds a
/// prompt per line and a `.csv` file one per row (`csv_prompts`); a `.md` or `.j2` file is
/// one prompt, its text; any other file (`.txt`) holds prompts separated by `---` lines.
fn prompts_from_file(
    path: &Path,
    label: Option<&str>,
    file: &str,
) -> Result<Vec<PromptTemplate>, SuiteError> {
    let shown = path.display().to_string();
    let name = shown.to_lowercase();
    let text = read_text(path).map_err(|e| {
        err_at(
            format!("{file}: prompts"),
            format!("{shown}: cannot read: {e}"),
        )
    })?;
    let is_json = name.ends_with(".json");
    if is_json || name.ends_with(".yaml") || name.ends_with(".yml") {
        let parsed = if is_json {
            serde_json::from_str::<Json>(&text).ok()
        } else {
            let mut findings = Findings::new(&shown);
            let node = yaml::parse(&text, &mut findings);
            node.filter(|_| !findings.as_slice().iter().any(|d| d.is_error()))
                .map(yaml::into_json)
        };
        let raw = match parsed {
            Some(value) => serde_json::to_string(&value).unwrap_or_default(),
            None => text,
        };
        let label = match label {
            Some(l) => l.to_owned(),
            None if is_json => format!("{shown}: {raw}"),
            None => format!("{shown}: {}", raw.chars().take(80).collect::<String>()),
        };
        return Ok(vec![inline_prompt(raw, Some(label), None)]);
    }
    if name.ends_with(".jsonl") {
        return Ok(jsonl_prompts(&text, &shown, label));
    }
    if name.ends_with(".csv") {
        return Ok(super::csv_prompts::prompts(&text, label)
            .into_iter()
            .map(|(raw, label)| inline_prompt(raw, Some(label), None))
            .collect());
    }
    if name.ends_with(".md") || name.ends_with(".j2") {
        let label = match label {
            Some(l) => l.to_owned(),
            None => format!("{shown}: {}...", text.chars().take(50).collect::<String>()),
        };
        return Ok(vec![inline_prompt(text, Some(label), None)]);
    }
    // A `.txt` (or other text) file holds prompts separated by lines of `---`.
    let mut out = Vec::new();
    let mut chunk: Vec<&str> = Vec::new();
    let mut flush = |chunk: &mut Vec<&str>| {
        let raw = chunk.join("\n").trim().to_owned();
        chunk.clear();
        if raw.is_empty() {
            return;
        }
        let label = match label {
            Some(l) => format!("{l}: {shown}: {raw}"),
            None => format!("{shown}: {raw}"),
        };
        out.push(inline_prompt(raw, Some(label), None));
    };
    for line in text.lines() {
        if line.trim() == "---" {
            flush(&mut chunk);
        } else {
            chunk.push(line);
        }
    }
    flush(&mut chunk);
    Ok(out)
}

/// A `.jsonl` prompt file (promptfoo's `processJsonlFile`): each non-empty line is a
/// prompt, labelled `<label or path>: <line>` when there are several, else the label or
/// the path.
fn jsonl_prompts(text: &str, shown: &str, label: Option<&str>) -> Vec<PromptTemplate> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    let several = lines.len() > 1;
    lines
        .iter()
        .map(|line| {
            let label = match (several, label) {
                (true, Some(l)) => format!("{l}: {line}"),
                (true, None) => format!("{shown}: {line}"),
                (false, Some(l)) => l.to_owned(),
                (false, None) => shown.to_owned(),
            };
            inline_prompt((*line).to_owned(), Some(label), None)
        })
        .collect()
}

fn resolve_providers(value: &Json, file: &str) -> Result<Vec<ProviderSpec>, SuiteError> {
    let items: Vec<&Json> = match value {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let out = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            provider_spec(item).map_err(|m| err_at(format!("{file}: providers[{i}]"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(err_at(
            format!("{file}: providers"),
            "at least one provider is needed",
        ));
    }
    Ok(out)
}

/// A provider as configured: an id string or `{id, label, config}` (also used for graders).
pub fn provider_spec(item: &Json) -> Result<ProviderSpec, String> {
    let spec = match item {
        Json::String(id) => ProviderSpec {
            id: id.clone(),
            reported_id: reported_string_id(id),
            label: String::new(),
            config: Map::new(),
            prompts: None,
            transform: None,
            delay_ms: None,
        },
        // promptfoo's provider map: `- openai:gpt-4o: {config: ...}` (its own `id` wins).
        Json::Object(o)
            if let Some((id, options)) = o
                .iter()
                .next()
                .filter(|_| !o.contains_key("id") && o.len() == 1) =>
        {
            let mut options = match options {
                Json::Object(options) => options.clone(),
                Json::Null => Map::new(),
                _ => {
                    return Err(format!(
                        "`{id}:` takes the provider's options, e.g. `{id}: {{config: {{...}}}}`"
                    ));
                }
            };
            options
                .entry("id")
                .or_insert_with(|| Json::String(id.clone()));
            return provider_spec(&Json::Object(options));
        }
        Json::Object(o) => {
            let Some(id) = o.get("id").and_then(Json::as_str) else {
                return Err("a provider object needs an `id`, e.g. `{id: openai:gpt-4o-mini, config: {...}}`".into());
            };
            let config = match o.get("config") {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(c)) => c.clone(),
                Some(_) => return Err("`config` must be a mapping".into()),
            };
            ProviderSpec {
                id: id.to_owned(),
                reported_id: id.to_owned(),
                label: o
                    .get("label")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                config,
                prompts: match o.get("prompts") {
                    None | Some(Json::Null) => None,
                    Some(v) => Some(reference_list(v).ok_or(
                        "`prompts` lists the prompts this provider runs (labels or ids), e.g. `prompts: [intro]`",
                    )?),
                },
                transform: match o.get("transform") {
                    None | Some(Json::Null) => None,
                    Some(Json::String(code)) if !code.trim().is_empty() => Some(code.clone()),
                    Some(_) => return Err("`transform` is JavaScript code (e.g. `output.trim()`) or `file://transform.js[:fn]` / `file://transform.py[:fn]`".into()),
                },
                delay_ms: match o.get("delay") {
                    None | Some(Json::Null) => None,
                    Some(d) => Some(d.as_u64().ok_or("`delay` is the pause after each call in milliseconds, e.g. `delay: 500`")?),
                },
            }
        }
        _ => return Err("a provider is an id string or `{id, label, config}`".into()),
    };
    crate::provider::check_id(&spec.id)?;
    Ok(spec)
}

/// A list of prompt or provider references (strings).
pub(super) fn reference_list(value: &Json) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// promptfoo reports `openai:chat:m` as `openai:m` and `anthropic:messages:m` as `anthropic:m`.
pub(crate) fn reported_string_id(id: &str) -> String {
    let parts: Vec<&str> = id.splitn(3, ':').collect();
    match parts.as_slice() {
        ["openai", "chat", model] => format!("openai:{model}"),
        ["anthropic", "messages", model] => format!("anthropic:{model}"),
        _ => id.to_owned(),
    }
}

/// `nunjucksFilters: {name: path}`: each path (relative to the config; a glob's last
/// match wins, as in promptfoo) must export a function. A `file://` prefix is accepted
/// (promptfoo 0.123.1 joins it to the folder as text and so never finds the file).
fn nunjucks_filters(
    value: Option<&Json>,
    base: &Path,
    file: &str,
) -> Result<Vec<(String, PathBuf)>, SuiteError> {
    let map = match value {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Object(map)) => map,
        Some(_) => {
            return Err(err_at(
                format!("{file}: nunjucksFilters"),
                "`nunjucksFilters` maps filter names to JavaScript files, e.g. `{allcaps: ./allcaps.js}`",
            ));
        }
    };
    let mut out = Vec::new();
    for (name, spec) in map {
        let at = format!("{file}: nunjucksFilters.{name}");
        let Some(spec) = spec.as_str() else {
            return Err(err_at(at, "the filter is a path to a JavaScript file"));
        };
        let relative = spec.strip_prefix("file://").unwrap_or(spec);
        let Some(path) = expand_path(base, relative).pop() else {
            return Err(err_at(
                at,
                format!("`{spec}` matches no file (relative to {})", base.display()),
            ));
        };
        crate::assertions::script::check_function_file(&path)
            .map_err(|e| err_at(&at, format!("{}: {e}", path.display())))?;
        out.push((name.clone(), path));
    }
    Ok(out)
}

fn evaluate_options(value: Option<&Json>, file: &str) -> Result<EvaluateOptions, SuiteError> {
    let Some(Json::Object(o)) = value else {
        return Ok(EvaluateOptions::default());
    };
    let number = |key: &str| -> Result<Option<u64>, SuiteError> {
        match o.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| {
                    err_at(
                        format!("{file}: evaluateOptions.{key}"),
                        "must be a whole number",
                    )
                }),
        }
    };
    Ok(EvaluateOptions {
        max_concurrency: number("maxConcurrency")?.map(|n| n.max(1) as usize),
        repeat: number("repeat")?.map(|n| n.max(1) as usize),
        delay_ms: number("delay")?,
        timeout_ms: number("timeoutMs")?,
        cache: o.get("cache").and_then(Json::as_bool),
    })
}

/// The config a report echoes: the redacted config, and the tests kept apart from it.
pub struct ConfigEcho {
    config: Box<serde_json::value::RawValue>,
    tests: Option<Spill>,
}

impl std::fmt::Debug for ConfigEcho {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigEcho")
            .field("bytes", &self.config.get().len())
            .field("tests_apart", &self.tests.as_ref().map(Spill::count))
            .finish()
    }
}

impl ConfigEcho {
    /// Writes the config as compact JSON, with API keys redacted; tests kept apart are
    /// written back into its `tests` list one at a time.
    pub fn write<W: std::io::Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        let text = self.config.get();
        let Some(tests) = &self.tests else {
            return out.write_all(text.as_bytes());
        };
        // The redacted config was written without its `tests`: they go last.
        let head = text.strip_suffix('}').unwrap_or(text);
        out.write_all(head.as_bytes())?;
        if head != "{" {
            out.write_all(b",")?;
        }
        out.write_all(b"\"tests\":[")?;
        let mut item = String::new();
        for (i, test) in tests.iter::<Json>().enumerate() {
            item.clear();
            if i > 0 {
                item.push(',');
            }
            write_redacted_value(&test?, &mut item);
            out.write_all(item.as_bytes())?;
        }
        out.write_all(b"]}")
    }
}

/// Writes the config as compact JSON, leaving out the top-level keys in `skip_top`
/// and writing `apiKey`-like values as `"[REDACTED]"`.
fn write_redacted(config: &Map<String, Json>, out: &mut String, skip_top: &[&str]) {
    write_map(
        config
            .iter()
            .filter(|(k, _)| !skip_top.contains(&k.as_str())),
        out,
    );
}

/// One value as compact JSON, `apiKey`-like values redacted.
fn write_redacted_value(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => write_map(map.iter(), out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_redacted_value(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_map<'a>(entries: impl Iterator<Item = (&'a String, &'a Json)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Json::String(k.clone()).to_string());
        out.push(':');
        if crate::provider::cache::is_credential(k) && v.is_string() {
            out.push_str("\"[REDACTED]\"");
        } else {
            write_redacted_value(v, out);
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    /// Gives at most `step` bytes a read, so sequences are cut anywhere.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        /// Characters read in pieces are what decoding the whole file gives, invalid
        /// UTF-8 included, wherever the reads cut it.
        #[test]
        fn file_chars_decode_like_the_whole_file(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            text in "\\PC{0,40}",
            step in 1usize..9,
        ) {
            let mut all = text.into_bytes();
            all.extend(&bytes);
            let read: String = FileChars::new(Trickle { bytes: &all, step }).collect();
            proptest::prop_assert_eq!(read, String::from_utf8_lossy(&all).into_owned());
        }
    }

    use super::*;

    #[test]
    fn path_detection_follows_promptfoo() {
        for (s, want) in [
            ("file://p.txt", true),
            ("./prompt.txt", true),
            ("Return the label for item {{id}}. Context: {{text}}", false),
            ("Answer yes/no", true),
            ("prompt.md", true),
            ("hello", false),
            ("line\nwith/slash", false),
        ] {
            assert_eq!(looks_like_path(s), want, "{s}");
        }
    }

    #[test]
    fn reported_ids() {
        assert_eq!(reported_string_id("openai:chat:gpt-4o"), "openai:gpt-4o");
        assert_eq!(reported_string_id("openai:gpt-4o"), "openai:gpt-4o");
        assert_eq!(
            reported_string_id("anthropic:messages:claude"),
            "anthropic:claude"
        );
        assert_eq!(reported_string_id("echo"), "echo");
    }

    #[test]
    fn keys_are_redacted() {
        // The same rule the response cache uses to keep credentials out of its keys.
        let v = serde_json::json!({"providers": [{"config": {"apiKey": "sk-1", "temperature": 0, "headers": {"Authorization": "Bearer x", "X-Password": "p"}}}], "metrics": [1]});
        let mut out = String::new();
        write_redacted(v.as_object().unwrap(), &mut out, &["metrics"]);
        assert_eq!(
            out,
            r#"{"providers":[{"config":{"apiKey":"[REDACTED]","temperature":0,"headers":{"Authorization":"[REDACTED]","X-Password":"[REDACTED]"}}}]}"#
        );
    }

    #[test]
    fn prompt_files_that_hold_functions_become_prompt_functions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("prompt.js"), "module.exports = () => 'x';").unwrap();
        std::fs::write(d.join("prompt.py"), "print('x')").unwrap();
        std::fs::write(d.join("prompt.txt"), "Hello").unwrap();
        std::fs::write(
            d.join("suite.yaml"),
            "prompts:\n  - file://prompt.js\n  - file://prompt.js:chat\n  - {raw: 'file://prompt.py:make', label: maker, config: {temperature: 0.2}}\n  - prompt.py\n  - file://prompt.txt\nproviders: [echo]\n",
        )
        .unwrap();
        let suite = load(&d.join("suite.yaml")).unwrap();
        let shown = |name: &str| d.join(name).display().to_string();
        let got: Vec<(String, Option<(String, ScriptLanguage)>)> = suite
            .prompts
            .iter()
            .map(|p| {
                (
                    p.label.clone(),
                    p.function.as_ref().map(|f| (f.name.clone(), f.language)),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    shown("prompt.js"),
                    Some((String::new(), ScriptLanguage::JavaScript))
                ),
                (
                    format!("{}:chat", shown("prompt.js")),
                    Some(("chat".to_owned(), ScriptLanguage::JavaScript))
                ),
                (
                    "maker".to_owned(),
                    Some(("make".to_owned(), ScriptLanguage::Python))
                ),
                (
                    format!("{}: print('x')", shown("prompt.py")),
                    Some((String::new(), ScriptLanguage::Python))
                ),
                (format!("{}: Hello", shown("prompt.txt")), None),
            ]
        );
        // The function file's text is its `raw`; an entry's `config` is kept.
        assert_eq!(suite.prompts[0].raw, "module.exports = () => 'x';");
        assert_eq!(suite.prompts[2].config["temperature"], 0.2);
        assert_eq!(split_function_name("a:b/c.js"), ("a:b/c.js", ""));
        assert_eq!(split_function_name("p.TS:fn"), ("p.TS", "fn"));
    }
}

#[cfg(test)]
mod provider_entries {
    use super::provider_spec;
    use serde_json::json;

    #[test]
    fn provider_maps_keyed_by_id_and_their_transform_and_delay_are_read() {
        let spec = provider_spec(&json!({"openai:chat:m": {"label": "m", "delay": 250, "transform": "output.trim()", "config": {"temperature": 0}}})).unwrap();
        assert_eq!(
            (spec.id.as_str(), spec.label.as_str()),
            ("openai:chat:m", "m")
        );
        assert_eq!(spec.delay_ms, Some(250));
        assert_eq!(spec.transform.as_deref(), Some("output.trim()"));
        assert_eq!(spec.config["temperature"], 0);
        let own_id = provider_spec(&json!({"alias": {"id": "echo"}})).unwrap();
        assert_eq!(own_id.id, "echo");
        for (bad, says) in [
            (json!({"id": "echo", "delay": "soon"}), "milliseconds"),
            (json!({"id": "echo", "transform": 3}), "JavaScript code"),
            (
                json!({"openai:chat:m": "x"}),
                "takes the provider's options",
            ),
        ] {
            let e = provider_spec(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
