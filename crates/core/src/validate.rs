//! `promptops validate`: every rule, every file, all findings at once.
//!
//! A file goes through: bytes (empty, UTF-8) → YAML tree (syntax, duplicate keys) →
//! decode (fields, types, semver) → rules that need the whole prompt (id ↔ path,
//! templates and variables, compliance per risk tier, secrets). Across files: duplicate ids.

use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic, Findings, Pos, did_you_mean};
use crate::prompt::{self, Prompt, RiskTier, id};
use crate::yaml::{self, Node, Value};
use crate::{injection, pii, secrets, template};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The project settings the rules depend on.
#[derive(Debug, Clone)]
pub struct Rules {
    pub required_compliance: BTreeMap<RiskTier, Vec<String>>,
    /// The most content (bytes, after alias expansion) a prompt file may hold: what a
    /// registry keeps in one version (see [`yaml::Limits`]).
    pub max_version_bytes: usize,
}

pub use crate::config::DEFAULT_MAX_VERSION_BYTES;

impl Default for Rules {
    fn default() -> Self {
        Rules::from_config(&Config::default())
    }
}

impl Rules {
    pub fn from_config(config: &Config) -> Rules {
        Rules {
            required_compliance: config.compliance.required_fields.clone(),
            max_version_bytes: config
                .validate
                .max_version_bytes
                .unwrap_or(config.server.max_version_bytes),
        }
    }
}

/// What validation found in one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: String,
    /// The decoded prompt, when the file was readable YAML with a mapping at its root
    /// (possibly with errors: check [`FileReport::has_errors`] before trusting it).
    pub prompt: Option<Prompt>,
    pub diagnostics: Vec<Diagnostic>,
    /// Why the file was passed over as not being a prompt file (an eval suite, say).
    pub skipped: Option<String>,
    /// The top-level variables the prompt's templates read.
    pub used_variables: BTreeSet<String>,
    id_pos: Pos,
}

impl FileReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The prompt, only if the file has no errors.
    pub fn valid_prompt(&self) -> Option<&Prompt> {
        if self.has_errors() {
            None
        } else {
            self.prompt.as_ref()
        }
    }
}

/// Validates one file on disk. `root` overrides the `prompts/` folder ids are taken from.
pub fn check_file(path: &Path, root: Option<&Path>, rules: &Rules) -> FileReport {
    let display = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => {
            let expected = expected_id(path, root);
            check_source(&display, expected.as_deref(), &bytes, rules)
        }
        Err(e) => {
            let mut f = Findings::new(&display);
            f.push(
                Pos::START,
                Code::Unreadable,
                format!("cannot read the file: {e}"),
            );
            report(f, None, None, BTreeSet::new(), Pos::START)
        }
    }
}

/// The id a file's path gives: under `root` if it is there, else under the nearest
/// `prompts/` folder. Paths are made absolute when the given form does not tell
/// (`validate .` run inside the prompts folder).
fn expected_id(path: &Path, root: Option<&Path>) -> Option<String> {
    let absolute = || std::fs::canonicalize(path).ok();
    let in_root = root.and_then(|root| {
        id::id_from_path(path, Some(root))
            .or_else(|| id::id_from_path(&absolute()?, Some(&std::fs::canonicalize(root).ok()?)))
    });
    in_root
        .or_else(|| id::id_from_path(path, None))
        .or_else(|| id::id_from_path(&absolute()?, None))
}

/// Validates many files (in parallel), then the rules that span files.
pub fn check_files(paths: &[PathBuf], root: Option<&Path>, rules: &Rules) -> Vec<FileReport> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().max(1));
    let chunk = paths.len().div_ceil(workers).max(1);
    let mut reports: Vec<FileReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| check_file(p, root, rules))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    check_duplicate_ids(&mut reports);
    reports
}

/// E013: the same id (with `_` and `-` equal) in two files.
pub fn check_duplicate_ids(reports: &mut [FileReport]) {
    let mut first: HashMap<String, String> = HashMap::new();
    for r in reports.iter_mut() {
        let Some(p) = &r.prompt else { continue };
        if p.id.is_empty() {
            continue;
        }
        match first.get(&id::comparable(&p.id)) {
            Some(other) => {
                let d = Diagnostic::new(
                    r.path.clone(),
                    r.id_pos,
                    Code::DuplicateId,
                    format!("id `{}` is already declared by {other}", p.id),
                )
                .with_hint("each prompt id must be unique (`_` and `-` count as the same); rename or remove one");
                r.diagnostics.push(d);
            }
            None => {
                first.insert(id::comparable(&p.id), r.path.clone());
            }
        }
    }
}

/// Validates the bytes of one prompt file. `expected_id` is the id its path gives.
pub fn check_source(
    path: &str,
    expected_id: Option<&str>,
    bytes: &[u8],
    rules: &Rules,
) -> FileReport {
    let mut f = Findings::new(path);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        f.push_hint(
            Pos::START,
            Code::EmptyFile,
            "the file is empty",
            "write a prompt (see `promptops init`) or delete the file",
        );
        return report(f, None, None, BTreeSet::new(), Pos::START);
    }
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let text = String::from_utf8_lossy(good);
            let (line, column) = crate::config::line_col(&text, text.len());
            f.push_hint(
                Pos::new(line, column),
                Code::NotUtf8,
                format!("invalid UTF-8 (byte 0x{:02x})", bytes[e.valid_up_to()]),
                "save the file as UTF-8",
            );
            return report(f, None, None, BTreeSet::new(), Pos::START);
        }
    };
    let limits = yaml::Limits {
        max_bytes: Some(rules.max_version_bytes),
        ..yaml::Limits::default()
    };
    let root = yaml::parse_within(source, &limits, &mut f);
    if f.has_errors() && root.is_none() {
        return report(f, None, None, BTreeSet::new(), Pos::START);
    }
    let Some(root) = root.filter(|r| !r.is_null()) else {
        f.push_hint(
            Pos::START,
            Code::EmptyFile,
            "the file has no content (only comments or blank lines)",
            "write a prompt (see `promptops init`) or delete the file",
        );
        return report(f, None, None, BTreeSet::new(), Pos::START);
    };
    if let Some(why) = not_a_prompt_file(&root) {
        return report(
            Findings::new(path),
            None,
            Some(why),
            BTreeSet::new(),
            Pos::START,
        );
    }
    let Some(prompt) = prompt::decode(&root, &mut f) else {
        return report(f, None, None, BTreeSet::new(), Pos::START);
    };
    let id_pos = root.get("id").map_or(Pos::START, |e| e.value.start);
    check_id_matches_path(&prompt, expected_id, id_pos, &mut f);
    let used = check_templates(&root, &prompt, &mut f);
    check_compliance(&root, &prompt, rules, &mut f);
    check_secrets(&root, &mut f);
    check_safety(&root, &mut f);
    report(f, Some(prompt), None, used, id_pos)
}

fn report(
    f: Findings,
    prompt: Option<Prompt>,
    skipped: Option<String>,
    used_variables: BTreeSet<String>,
    id_pos: Pos,
) -> FileReport {
    FileReport {
        path: f.path().to_owned(),
        prompt,
        diagnostics: f.into_vec(),
        skipped,
        used_variables,
        id_pos,
    }
}

/// Promptfoo suites and similar files often sit beside prompts; they are not prompt files.
fn not_a_prompt_file(root: &Node) -> Option<String> {
    let has = |k: &str| root.get(k).is_some();
    let prompt_like = has("id") || has("template") || has("messages");
    let suite_like = has("providers") || has("tests") || has("prompts") || has("targets");
    (!prompt_like && suite_like).then(|| {
        "an eval suite (it has `providers`, `targets`, `tests` or `prompts`), not a prompt file"
            .to_owned()
    })
}

fn check_id_matches_path(prompt: &Prompt, expected: Option<&str>, at: Pos, f: &mut Findings) {
    let Some(expected) = expected else { return };
    if prompt.id.is_empty() || id::same_id(&prompt.id, expected) {
        return;
    }
    let dotted_path = prompt.id.replace('.', "/");
    f.push_hint(
        at,
        Code::IdMismatch,
        format!(
            "id `{}` does not match the file's path, which gives `{expected}`",
            prompt.id
        ),
        format!("set `id: {expected}`, or move the file to prompts/{dotted_path}.yaml"),
    );
}

/// The template texts of the file with their nodes: `template`, or each message's `content`.
fn template_nodes(root: &Node) -> Vec<&Node> {
    if let Some(t) = root.get("template")
        && t.value.as_str().is_some()
    {
        return vec![&t.value];
    }
    root.get("messages")
        .and_then(|m| m.value.as_seq())
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("content"))
                .map(|e| &e.value)
                .filter(|n| n.as_str().is_some())
                .collect()
        })
        .unwrap_or_default()
}

/// E016 syntax, E012 undeclared, W102 unused, W105 inferred. Returns the variables read.
fn check_templates(root: &Node, prompt: &Prompt, f: &mut Findings) -> BTreeSet<String> {
    let mut used: BTreeMap<String, Pos> = BTreeMap::new();
    let mut syntax_ok = true;
    for node in template_nodes(root) {
        let text = node.as_str().unwrap_or_default();
        match template::analyze(text) {
            Ok(names) => {
                let declared = prompt.declared_variables();
                for name in names
                    .into_iter()
                    .filter(|n| declared.contains_key(n) || !template::is_global(n))
                {
                    let offset = template::find_variable_use(text, &name).unwrap_or(0);
                    used.entry(name)
                        .or_insert_with(|| node.pos_in_value(offset));
                }
            }
            Err(e) => {
                syntax_ok = false;
                f.push_hint(
                    node.pos_in_value(e.offset),
                    Code::TemplateSyntax,
                    format!("template {}", e.message),
                    "templates use Jinja syntax: `{{ variable }}`, `{% if ... %}...{% endif %}`; write `{{ '{{' }}` for a literal `{{`",
                );
            }
        }
    }
    match &prompt.variables {
        Some(declared) => {
            for (name, pos) in &used {
                if declared.contains_key(name) {
                    continue;
                }
                let hint = match did_you_mean(name, declared.keys().map(String::as_str)) {
                    Some(near) => {
                        format!("did you mean `{near}`? Otherwise declare it under `variables:`")
                    }
                    None => format!(
                        "declare it under `variables:`, e.g. `{name}: {{type: string, required: true}}`"
                    ),
                };
                f.push_hint(
                    *pos,
                    Code::UndeclaredVariable,
                    format!("variable `{name}` is used but not declared"),
                    hint,
                );
            }
            if syntax_ok {
                let declared_at: HashMap<&str, Pos> =
                    match root.get("variables").map(|v| &v.value.value) {
                        Some(Value::Map(entries)) => entries
                            .iter()
                            .map(|e| (e.key.as_str(), e.key_pos))
                            .collect(),
                        Some(Value::Seq(items)) => items
                            .iter()
                            .filter_map(|i| i.as_str().map(|s| (s, i.start)))
                            .collect(),
                        _ => HashMap::new(),
                    };
                for name in declared.keys().filter(|n| !used.contains_key(*n)) {
                    let pos = declared_at
                        .get(name.as_str())
                        .copied()
                        .unwrap_or(Pos::START);
                    f.push_hint(
                        pos,
                        Code::UnusedVariable,
                        format!("variable `{name}` is declared but never used"),
                        "use it in the template or remove the declaration",
                    );
                }
            }
        }
        None if !used.is_empty() => {
            let names: Vec<&str> = used.keys().map(String::as_str).collect();
            let pos = used.values().min().copied().unwrap_or(Pos::START);
            f.push_hint(
                pos,
                Code::InferredVariables,
                format!("no `variables` block: inferred {} from the template", quote_list(&names)),
                "declare them under `variables:` to get type checks, defaults and strict undeclared-variable errors",
            );
        }
        None => {}
    }
    used.into_keys().collect()
}

fn quote_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// E017: the fields the prompt's risk tier requires.
fn check_compliance(root: &Node, prompt: &Prompt, rules: &Rules, f: &mut Findings) {
    let Some(compliance) = &prompt.compliance else {
        return;
    };
    let Some(tier) = compliance.risk_tier else {
        return;
    };
    let at = root.get("compliance").map_or(Pos::START, |e| e.key_pos);
    for field in rules.required_compliance.get(&tier).into_iter().flatten() {
        if !compliance.has(field) {
            f.push_hint(
                at,
                Code::ComplianceMissing,
                format!(
                    "risk tier `{}` requires `compliance.{field}`",
                    tier.as_str()
                ),
                format!(
                    "add `{field}:` under `compliance:` ({})",
                    field_purpose(field)
                ),
            );
        }
    }
}

fn field_purpose(field: &str) -> &'static str {
    match field {
        "accountable_owner" => "the person accountable for the prompt's outcomes",
        "intended_use" => "what the prompt is for and what it must not be used for",
        "human_oversight" => "how a person reviews or can override its outputs",
        "fairness_assessment" => "how outcomes were checked for unfair bias",
        "explainability_notes" => "how its outputs can be explained to those affected",
        "data_sources" => "the data it draws on",
        "decision_role" => "informational, assistive or automated_decision",
        "customer_facing" => "true if customers see its output",
        "regulatory_tags" => "the regulations that apply",
        _ => "see docs/prompt-format.md",
    }
}

/// Every string value of the file with its dotted path (`messages[0].content`).
fn each_string<'a>(node: &'a Node, path: &str, visit: &mut impl FnMut(&'a Node, &str, &'a str)) {
    match &node.value {
        Value::Str(s) => visit(node, path, s),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                each_string(item, &format!("{path}[{i}]"), visit);
            }
        }
        Value::Map(entries) => {
            for e in entries {
                let child = if path.is_empty() {
                    e.key.clone()
                } else {
                    format!("{path}.{}", e.key)
                };
                each_string(&e.value, &child, visit);
            }
        }
        _ => {}
    }
}

fn place(path: &str) -> String {
    if path.is_empty() {
        "the file".to_owned()
    } else {
        format!("`{path}`")
    }
}

/// E018: secret-shaped strings anywhere in the file.
fn check_secrets(root: &Node, f: &mut Findings) {
    each_string(root, "", &mut |node, path, s| {
        for hit in secrets::scan(s) {
            f.push_hint(
                node.pos_in_value(hit.offset),
                Code::Secret,
                format!("{} in {} (`{}`)", hit.kind, place(path), hit.preview),
                "remove it and rotate it; pass credentials at run time through the environment, never in a prompt file",
            );
        }
    });
}

/// Whether the string at `path` reaches the model: the template, a message's content, a
/// variable's default. (Metadata such as `owner` or `accountable_owner` names people on
/// purpose.)
fn sent_to_the_model(path: &str) -> bool {
    path == "template"
        || (path.starts_with("messages[") && path.ends_with("].content"))
        || (path.starts_with("variables.") && path.ends_with(".default"))
}

/// W106: personal data in what the prompt sends to the model (checksums confirm it: see
/// [`pii`]); W107: text there that reads as a prompt-injection attempt. Warnings: an
/// example address or a red-team prompt may be meant.
fn check_safety(root: &Node, f: &mut Findings) {
    each_string(root, "", &mut |node, path, s| {
        if !sent_to_the_model(path) {
            return;
        }
        for hit in pii::scan(s) {
            f.push_hint(
                node.pos_in_value(hit.range.start),
                Code::PersonalData,
                format!("personal data ({}) in {}", hit.kind.as_str(), place(path)),
                "use a placeholder or a variable; real people's data does not belong in a prompt file",
            );
        }
        let found = injection::scan(s);
        if injection::score(&found) >= 0.5
            && let Some(first) = found.first()
        {
            f.push_hint(
                node.pos_in_value(first.range.start),
                Code::InjectionPhrase,
                format!(
                    "{} reads as a prompt-injection attempt ({})",
                    place(path),
                    found.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
                ),
                "if this text comes from users or documents, pass it in a variable rather than the prompt itself",
            );
        }
    });
}
