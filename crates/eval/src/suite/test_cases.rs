//! Tests: loading (inline, YAML/JSON/JSONL/CSV files, globs), `defaultTest` merge,
//! `scenarios`, var expansion (cartesian product, first var slowest) and `repeat`,
//! numbered as promptfoo numbers them (`testIdx` counts steps, not config tests).

use super::keys::Place;
use super::load::{err_at, expand_path, read_data_file_audited};
use super::{AssertItem, MergedTest, PromptTemplate, ProviderSpec, Steps, SuiteError, TestStep};
use crate::assertions::{self, Assertion};
use crate::spill::Spill;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A test object with the place it came from, for error messages.
struct RawTest {
    value: Map<String, Json>,
    location: String,
}

/// What tests are checked against: the suite's prompts and providers (`prompts:` and
/// `providers:` must name some), and the config file, for messages.
pub(super) struct Known<'a> {
    pub prompts: &'a [PromptTemplate],
    pub providers: &'a [ProviderSpec],
    pub columns: &'a [super::Column],
    pub file: &'a str,
}

/// A suite's steps, with what was gathered while making them.
pub(super) struct Loaded {
    pub steps: Steps,
    pub var_names: Vec<String>,
    /// The distinct `provider:` overrides of the tests, and where each spec is.
    pub test_providers: Vec<ProviderSpec>,
    pub test_provider_keys: HashMap<String, usize>,
}

pub(super) fn load_steps(
    mut config: Map<String, Json>,
    tests_apart: Option<&Spill>,
    base: &Path,
    known: &Known<'_>,
    unsupported: &mut super::UnsupportedKeys,
) -> Result<Loaded, SuiteError> {
    let file = known.file;
    let mut default_test = match config.get("defaultTest") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(o)) => o.clone(),
        Some(Json::String(s)) if s.starts_with("file://") => {
            match read_data_file_audited(&base.join(&s[7..]), Place::DefaultTest, unsupported)? {
                Json::Object(o) => o,
                _ => {
                    return Err(err_at(
                        format!("{file}: defaultTest"),
                        format!("{s} does not hold a mapping"),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(err_at(
                format!("{file}: defaultTest"),
                "`defaultTest` must be a mapping",
            ));
        }
    };
    // The config's `metadata` is `defaultTest.metadata` when that has none (promptfoo's
    // `resolveConfigs` spreads `defaultTest` over `{metadata}`).
    if let Some(Json::Object(metadata)) = config.get("metadata")
        && !default_test.contains_key("metadata")
    {
        default_test.insert("metadata".into(), Json::Object(metadata.clone()));
    }
    let repeat_default = config
        .get("evaluateOptions")
        .and_then(|o| o.get("repeat"))
        .and_then(Json::as_u64)
        .unwrap_or(1)
        .max(1) as usize;
    check_references(&default_test, known, &format!("{file}: defaultTest"))?;
    let mut builder = StepBuilder {
        steps: Steps::new(),
        tests: 0,
        var_names: Vec::new(),
        file_vars: super::file_vars::FileVars::default(),
        default_test,
        repeat_default,
        base,
        expand_vars: !std::env::var("PROMPTFOO_DISABLE_VAR_EXPANSION").is_ok_and(|v| {
            matches!(
                v.to_lowercase().as_str(),
                "1" | "true" | "yes" | "yup" | "yeppers"
            )
        }),
        known,
        test_providers: Vec::new(),
        test_provider_keys: HashMap::new(),
    };
    // Tests are taken one at a time, from the config (whose items are dropped as they
    // are taken) or straight from their files, so no second copy of a large suite is built.
    let location = format!("{file}: tests");
    match config.shift_remove("tests") {
        None | Some(Json::Null) => {}
        Some(v) => each_test(v, base, &location, unsupported, &mut |t| builder.add(t))?,
    }
    if let Some(tests) = tests_apart {
        // `$ref`s inside them point into the rest of the config.
        let root = Json::Object(config.clone());
        for (i, item) in tests.iter::<Json>().enumerate() {
            let at = format!("{location}[{i}]");
            let mut item = item.map_err(|e| err_at(&at, e.to_string()))?;
            super::refs::dereference_item(&mut item, &root).map_err(|m| err_at(&at, m))?;
            each_item(item, at, base, unsupported, &mut |t| builder.add(t))?;
        }
    }
    if let Some(scenarios) = config.get("scenarios") {
        for test in scenario_tests(scenarios, &format!("{file}: scenarios"))? {
            builder.add(test)?;
        }
    }
    if builder.tests == 0 {
        builder.add(RawTest {
            value: Map::new(),
            location: format!("{file}: tests"),
        })?;
    }
    Ok(Loaded {
        steps: builder.steps,
        var_names: builder.var_names,
        test_providers: builder.test_providers,
        test_provider_keys: builder.test_provider_keys,
    })
}

/// A test's own `prompts:` and `providers:` must each name something that exists
/// (promptfoo refuses the config otherwise), and be lists.
fn check_references(
    test: &Map<String, Json>,
    known: &Known<'_>,
    location: &str,
) -> Result<(), SuiteError> {
    if let Some(refs) = reference_key(test, "prompts", location)? {
        for r in &refs {
            if !known
                .prompts
                .iter()
                .any(|p| super::prompt_ref_matches(r, p))
            {
                let mut names: Vec<&str> = known
                    .prompts
                    .iter()
                    .flat_map(|p| std::iter::once(p.label.as_str()).chain(p.ref_id.as_deref()))
                    .collect();
                names.sort_unstable();
                names.dedup();
                return Err(err_at(
                    format!("{location}.prompts"),
                    format!(
                        "references prompt \"{r}\" which does not exist. Available prompts: [{}]",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(refs) = reference_key(test, "providers", location)? {
        for r in &refs {
            if !known
                .providers
                .iter()
                .any(|p| super::provider_ref_matches(r, p))
            {
                let names: Vec<String> = known
                    .providers
                    .iter()
                    .map(|p| {
                        if p.label.is_empty() || p.label == p.reported_id {
                            p.reported_id.clone()
                        } else {
                            format!("{} ({})", p.label, p.reported_id)
                        }
                    })
                    .collect();
                return Err(err_at(
                    format!("{location}.providers"),
                    format!(
                        "references provider \"{r}\" which does not exist. Available providers: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `prompts:` or `providers:` of a test: absent, or a list of strings.
fn reference_key(
    test: &Map<String, Json>,
    key: &str,
    location: &str,
) -> Result<Option<Vec<String>>, SuiteError> {
    match test.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => super::load::reference_list(v).map(Some).ok_or_else(|| {
            err_at(
                format!("{location}.{key}"),
                format!("`{key}` must be a list of names (labels or ids), e.g. `{key}: [intro]`"),
            )
        }),
    }
}

/// Turns config tests into steps as they are read.
struct StepBuilder<'a> {
    steps: Steps,
    /// Config tests taken so far.
    tests: usize,
    var_names: Vec<String>,
    file_vars: super::file_vars::FileVars,
    default_test: Map<String, Json>,
    repeat_default: usize,
    base: &'a Path,
    /// Lists of strings and `file://` globs expand into combinations (unless
    /// `PROMPTFOO_DISABLE_VAR_EXPANSION` is set).
    expand_vars: bool,
    known: &'a Known<'a>,
    test_providers: Vec<ProviderSpec>,
    test_provider_keys: HashMap<String, usize>,
}

impl StepBuilder<'_> {
    fn add(&mut self, test: RawTest) -> Result<(), SuiteError> {
        self.tests += 1;
        check_references(&test.value, self.known, &test.location)?;
        let mut merged = merge_default(&self.default_test, test.value);
        let vars = match merged.shift_remove("vars") {
            Some(Json::Object(v)) => v,
            Some(Json::Null) | None => Map::new(),
            Some(_) => {
                return Err(err_at(
                    &test.location,
                    "`vars` must be a mapping of names to values",
                ));
            }
        };
        let shared = Arc::new(MergedTest::from_object(merged, &test.location)?);
        if let Some(spec) = &shared.provider {
            let key = spec.to_string();
            if !self.test_provider_keys.contains_key(&key) {
                let built = super::provider_spec(spec)
                    .map_err(|m| err_at(format!("{}.provider", test.location), m))?;
                self.test_provider_keys
                    .insert(key, self.test_providers.len());
                self.test_providers.push(built);
            }
        }
        if let Some(f) = &shared.scoring_function {
            check_scoring_function(f, self.base, &test.location)?;
        }
        check_comparisons(&shared, self.known, &test.location)?;
        let repeat = shared
            .options
            .get("repeat")
            .and_then(Json::as_u64)
            .map_or(self.repeat_default, |r| r.max(1) as usize);
        for name in vars.keys() {
            if !self.var_names.contains(name) {
                self.var_names.push(name.clone());
            }
        }
        let expand = self.expand_vars
            && !shared
                .options
                .get("disableVarExpansion")
                .and_then(Json::as_bool)
                .unwrap_or(false);
        let combinations = if expand {
            var_combinations(&vars, self.base, &test.location)?
        } else {
            vec![vars.clone()]
        };
        let loaded: Vec<Map<String, Json>> = combinations
            .iter()
            .map(|combo| self.file_vars.load(combo, self.base, &test.location))
            .collect::<Result<_, _>>()?;
        for _ in 0..repeat {
            for (combo, loaded) in combinations.iter().zip(&loaded) {
                let step = TestStep {
                    test_idx: self.steps.len(),
                    vars: combo.clone(),
                    loaded: loaded.clone(),
                    test: shared.clone(),
                };
                self.steps
                    .push(&step)
                    .map_err(|e| err_at(&test.location, e.to_string()))?;
            }
        }
        Ok(())
    }
}

impl MergedTest {
    /// A test (merged with `defaultTest`, without its `vars`) as the runner uses it; its
    /// assertions are checked here.
    pub(super) fn from_object(
        mut object: Map<String, Json>,
        location: &str,
    ) -> Result<MergedTest, SuiteError> {
        let asserts = parse_asserts(object.shift_remove("assert").as_ref(), location)?;
        let threshold = object.get("threshold").and_then(Json::as_f64);
        let options = match object.get("options") {
            Some(Json::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        let description = object
            .get("description")
            .and_then(Json::as_str)
            .map(str::to_owned);
        let prompts = reference_key(&object, "prompts", location)?;
        let providers = reference_key(&object, "providers", location)?;
        let provider = object.get("provider").filter(|p| !p.is_null()).cloned();
        let scoring_function = match object.get("assertScoringFunction") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(err_at(
                    format!("{location}.assertScoringFunction"),
                    "`assertScoringFunction` names a function file: `file://scoring.js[:name]` or `file://scoring.py[:name]`",
                ));
            }
        };
        object
            .entry("options")
            .or_insert_with(|| Json::Object(Map::new()));
        object
            .entry("metadata")
            .or_insert_with(|| Json::Object(Map::new()));
        Ok(MergedTest {
            description,
            asserts,
            threshold,
            options,
            object,
            prompts,
            providers,
            provider,
            scoring_function,
        })
    }
}

/// A test with `select-best` or `max-score` must give them something to compare: two
/// outputs or more (promptfoo stops the whole run otherwise) and, for `max-score`, other
/// assertions to score them by.
fn check_comparisons(
    test: &MergedTest,
    known: &Known<'_>,
    location: &str,
) -> Result<(), SuiteError> {
    let kinds: Vec<&str> = test
        .asserts
        .iter()
        .filter_map(|a| match a {
            AssertItem::One(a) if assertions::compare::is_comparison(&a.kind) => {
                Some(a.kind.as_str())
            }
            _ => None,
        })
        .collect();
    let Some(first) = kinds.first() else {
        return Ok(());
    };
    let outputs = known
        .columns
        .iter()
        .filter(|c| {
            super::filters::prompt_allowed(&known.prompts[c.prompt], test.prompts.as_deref())
                && super::filters::provider_allowed(
                    &known.providers[c.provider],
                    test.providers.as_deref(),
                )
        })
        .count();
    if outputs < 2 {
        return Err(err_at(
            location,
            format!(
                "{first} compares a test's outputs across prompts and providers, but this test runs with {outputs} prompt × provider pair{}; it needs two or more",
                if outputs == 1 { "" } else { "s" }
            ),
        ));
    }
    let others = test.asserts.iter().any(|a| match a {
        AssertItem::One(a) => !assertions::compare::is_comparison(&a.kind),
        AssertItem::Set { .. } => true,
    });
    if kinds.contains(&"max-score") && !others {
        return Err(err_at(
            location,
            "max-score requires at least one other assertion (besides max-score or select-best) to aggregate scores from",
        ));
    }
    Ok(())
}

/// `assertScoringFunction` must name a JavaScript or Python file that exists (promptfoo
/// loads it before the run and stops when it cannot).
fn check_scoring_function(spec: &str, base: &Path, location: &str) -> Result<(), SuiteError> {
    let at = format!("{location}.assertScoringFunction");
    let (path, _) = crate::assertions::scoring::split_spec(spec).map_err(|m| err_at(&at, m))?;
    let full = base.join(path);
    if !full.is_file() {
        return Err(err_at(
            at,
            format!("{spec}: no such file (relative to {})", base.display()),
        ));
    }
    Ok(())
}

/// One item of a `tests:` list: a test, or a path to a file of tests.
fn each_item(
    item: Json,
    at: String,
    base: &Path,
    unsupported: &mut super::UnsupportedKeys,
    take: &mut dyn FnMut(RawTest) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    match item {
        Json::String(s) => tests_from_path(&s, base, &at, false, unsupported, take),
        Json::Object(o) => take(RawTest {
            value: o,
            location: at,
        }),
        _ => Err(err_at(
            at,
            "a test is a mapping (vars, assert, ...) or a path to a file of tests",
        )),
    }
}

/// Hands each test of `tests:` to `take`, in order.
fn each_test(
    value: Json,
    base: &Path,
    location: &str,
    unsupported: &mut super::UnsupportedKeys,
    take: &mut dyn FnMut(RawTest) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    match value {
        Json::String(s) => tests_from_path(&s, base, location, true, unsupported, take),
        Json::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                each_item(item, format!("{location}[{i}]"), base, unsupported, take)?;
            }
            Ok(())
        }
        Json::Object(o) if o.contains_key("path") => {
            let path = o.get("path").and_then(Json::as_str).unwrap_or_default();
            tests_from_path(path, base, location, true, unsupported, take)
        }
        _ => Err(err_at(
            location,
            "`tests` is a list of tests, or a path to a file of tests",
        )),
    }
}

/// Tests from a file (or glob: its files in promptfoo's order), handed to `take` one by
/// one as they are read. Files named directly in `tests:` as a string get `Row #n`
/// descriptions when they have none, as in promptfoo.
fn tests_from_path(
    spec: &str,
    base: &Path,
    location: &str,
    standalone: bool,
    unsupported: &mut super::UnsupportedKeys,
    take: &mut dyn FnMut(RawTest) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    let relative = spec.strip_prefix("file://").unwrap_or(spec);
    let files = expand_path(base, relative);
    if files.is_empty() {
        return Err(err_at(
            location,
            format!(
                "no test file matches `{spec}` (relative to {})",
                base.display()
            ),
        ));
    }
    for path in files {
        let shown = path.display().to_string();
        let lower = shown.to_lowercase();
        let numbered = standalone || lower.ends_with(".csv");
        let mut n = 0usize;
        let mut take_row = |row: Json| -> Result<(), SuiteError> {
            let Json::Object(mut test) = row else {
                return Err(err_at(format!("{shown}: [{n}]"), "each test is a mapping"));
            };
            if numbered && !test.contains_key("description") {
                test.insert(
                    "description".into(),
                    Json::String(format!("Row #{}", n + 1)),
                );
            }
            take(RawTest {
                value: test,
                location: format!("{shown}: [{n}]"),
            })?;
            n += 1;
            Ok(())
        };
        if lower.ends_with(".csv") {
            csv_tests(&path, &mut take_row)?;
        } else if lower.ends_with(".jsonl") {
            jsonl_tests(&path, unsupported, &mut take_row)?;
        } else {
            match read_data_file_audited(&path, Place::Test, unsupported)? {
                Json::Array(items) => items.into_iter().try_for_each(&mut take_row)?,
                Json::Object(o) => take_row(Json::Object(o))?,
                _ => return Err(err_at(&shown, "a test file holds a list of tests")),
            }
        }
    }
    Ok(())
}

/// A JSON Lines file, one test a line (blank lines skipped), read a line at a time;
/// bytes that are not UTF-8 are read as U+FFFD, as promptfoo's reader does.
fn jsonl_tests(
    path: &Path,
    unsupported: &mut super::UnsupportedKeys,
    take: &mut dyn FnMut(Json) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    use std::io::BufRead;
    let shown = path.display().to_string();
    let cannot_read = |e: std::io::Error| err_at(&shown, format!("cannot read: {e}"));
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(cannot_read)?);
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(cannot_read)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(text)
            .map_err(|e| err_at(format!("{shown}:{number}"), format!("invalid JSON: {e}")))?;
        super::keys::audit(
            &row,
            Place::Test,
            &format!("{shown}:{number}"),
            "",
            unsupported,
        );
        take(row)?;
    }
    Ok(())
}

/// A CSV row: `__expected*` columns become assertions, `__description`, `__threshold`,
/// `__metric`, `__prefix`/`__suffix` go where promptfoo puts them, other columns are vars.
fn csv_tests(
    path: &Path,
    take: &mut dyn FnMut(Json) -> Result<(), SuiteError>,
) -> Result<(), SuiteError> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| err_at(&shown, format!("cannot read CSV: {e}")))?;
    // Fields that are not UTF-8 are read with U+FFFD, as promptfoo's reader does.
    let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| err_at(&shown, format!("cannot read the CSV header: {e}")))?
        .iter()
        .map(|h| text(h).trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    for (n, record) in reader.byte_records().enumerate() {
        let record = record.map_err(|e| {
            err_at(
                format!("{shown}: row {}", n + 1),
                format!("bad CSV row: {e}"),
            )
        })?;
        let record: csv::StringRecord = record.iter().map(text).collect();
        let mut vars = Map::new();
        let mut asserts = Vec::new();
        let mut test = Map::new();
        let mut options = Map::new();
        let mut metric = None;
        for (header, cell) in headers.iter().zip(record.iter()) {
            match header.as_str() {
                h if h.starts_with("__expected") => {
                    if !cell.trim().is_empty() {
                        asserts.push(assertion_from_string(cell.trim()));
                    }
                }
                "__description" => {
                    test.insert("description".into(), Json::String(cell.to_owned()));
                }
                "__threshold" => {
                    if let Ok(t) = cell.trim().parse::<f64>() {
                        test.insert("threshold".into(), crate::number(t));
                    }
                }
                "__metric" => metric = Some(cell.to_owned()),
                "__prefix" => {
                    options.insert("prefix".into(), Json::String(cell.to_owned()));
                }
                "__suffix" => {
                    options.insert("suffix".into(), Json::String(cell.to_owned()));
                }
                h if h.starts_with("__") => {}
                h => {
                    vars.insert(h.to_owned(), Json::String(cell.to_owned()));
                }
            }
        }
        if let Some(m) = metric {
            for a in &mut asserts {
                a["metric"] = Json::String(m.clone());
            }
        }
        test.insert("vars".into(), Json::Object(vars));
        test.insert("assert".into(), Json::Array(asserts));
        if !options.is_empty() {
            test.insert("options".into(), Json::Object(options));
        }
        take(Json::Object(test))?;
    }
    Ok(())
}

/// promptfoo's shorthand for an `__expected` cell.
fn assertion_from_string(s: &str) -> Json {
    use serde_json::json;
    for prefix in ["javascript:", "fn:", "eval:"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return json!({"type": "javascript", "value": rest.trim()});
        }
    }
    for prefix in ["grade:", "llm-rubric:"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return json!({"type": "llm-rubric", "value": rest});
        }
    }
    if let Some(rest) = s.strip_prefix("python:") {
        return json!({"type": "python", "value": rest.trim()});
    }
    const THRESHOLD_TYPES: &[&str] = &[
        "answer-relevance",
        "classifier",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "cost",
        "latency",
        "levenshtein",
        "perplexity",
        "perplexity-score",
        "rouge-n",
        "similar",
        "starts-with",
    ];
    let (negation, body) = match s.strip_prefix("not-") {
        Some(rest) => ("not-", rest),
        None => ("", s),
    };
    let type_end = body.find([':', '(']).unwrap_or(body.len());
    let kind = &body[..type_end];
    if assertions::is_known_type(kind) {
        let mut rest = &body[type_end..];
        let mut threshold = None;
        if let Some(inner) = rest.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            threshold = inner[..close].trim().parse::<f64>().ok();
            rest = &inner[close + 1..];
        }
        let value = rest.strip_prefix(':');
        if rest.is_empty() || value.is_some() {
            let mut a = json!({"type": format!("{negation}{kind}")});
            if let Some(v) = value {
                a["value"] = match kind {
                    "contains-all" | "contains-any" | "icontains-all" | "icontains-any" => {
                        Json::Array(
                            assertions::split_list(v)
                                .unwrap_or_default()
                                .into_iter()
                                .map(Json::String)
                                .collect(),
                        )
                    }
                    "is-json" | "contains-json" => Json::String(v.to_owned()),
                    _ => Json::String(v.trim().to_owned()),
                };
            }
            if THRESHOLD_TYPES.contains(&kind) {
                let default = if kind == "similar" { 0.8 } else { 0.75 };
                a["threshold"] = crate::number(threshold.unwrap_or(default));
            }
            return a;
        }
    }
    json!({"type": "equals", "value": s})
}

fn scenario_tests(value: &Json, location: &str) -> Result<Vec<RawTest>, SuiteError> {
    let Json::Array(scenarios) = value else {
        return Err(err_at(
            location,
            "`scenarios` is a list of `{config: [...], tests: [...]}`",
        ));
    };
    let mut out = Vec::new();
    for (k, scenario) in scenarios.iter().enumerate() {
        let at = format!("{location}[{k}]");
        let configs = match scenario.get("config") {
            Some(Json::Array(c)) => c.clone(),
            _ => vec![Json::Object(Map::new())],
        };
        let tests = match scenario.get("tests") {
            Some(Json::Array(t)) => t.clone(),
            _ => vec![Json::Object(Map::new())],
        };
        for data in &configs {
            for t in &tests {
                let (Json::Object(data), Json::Object(t)) = (data, t) else {
                    return Err(err_at(&at, "scenario configs and tests are mappings"));
                };
                let mut merged = data.clone();
                for (key, value) in t {
                    match key.as_str() {
                        "vars" | "options" | "metadata" => {
                            let mut m = data
                                .get(key)
                                .and_then(Json::as_object)
                                .cloned()
                                .unwrap_or_default();
                            if let Json::Object(extra) = value {
                                m.extend(extra.clone());
                            }
                            merged.insert(key.clone(), Json::Object(m));
                        }
                        "assert" => {
                            let mut a = data
                                .get("assert")
                                .and_then(Json::as_array)
                                .cloned()
                                .unwrap_or_default();
                            a.extend(value.as_array().cloned().unwrap_or_default());
                            merged.insert(key.clone(), Json::Array(a));
                        }
                        _ => {
                            merged.insert(key.clone(), value.clone());
                        }
                    }
                }
                let metadata = merged
                    .entry("metadata")
                    .or_insert_with(|| Json::Object(Map::new()));
                if let Json::Object(m) = metadata {
                    m.entry("conversationId")
                        .or_insert_with(|| Json::String(format!("__scenario_{k}__")));
                }
                out.push(RawTest {
                    value: merged,
                    location: at.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// `defaultTest` under the test: vars, options and metadata merged (the test wins),
/// asserts concatenated with the defaults first, other keys taken from the test first.
fn merge_default(default: &Map<String, Json>, test: Map<String, Json>) -> Map<String, Json> {
    let mut merged = test;
    for (key, value) in default {
        match key.as_str() {
            "vars" | "options" | "metadata" => {
                let mut m = value.as_object().cloned().unwrap_or_default();
                if let Some(Json::Object(own)) = merged.get(key) {
                    m.extend(own.clone());
                }
                merged.insert(key.clone(), Json::Object(m));
            }
            "assert" => {
                let disabled = merged
                    .get("options")
                    .and_then(|o| o.get("disableDefaultAsserts"))
                    .and_then(Json::as_bool)
                    .unwrap_or(false);
                if !disabled {
                    let mut a = value.as_array().cloned().unwrap_or_default();
                    a.extend(
                        merged
                            .get("assert")
                            .and_then(Json::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                    merged.insert(key.clone(), Json::Array(a));
                }
            }
            _ => {
                if !merged.contains_key(key) {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
    }
    merged
}

/// Every combination of the vars: a list whose first item is a string expands, the
/// first var varying slowest.
/// The cartesian product of the vars (first var slowest): a list whose first item is a
/// string gives one combination per item, and so does a `file://` glob (one per matching
/// file, as `file://<path relative to the config>`, in path order).
fn var_combinations(
    vars: &Map<String, Json>,
    base: &Path,
    location: &str,
) -> Result<Vec<Map<String, Json>>, SuiteError> {
    let mut combos = vec![Map::new()];
    for (name, value) in vars {
        let choices: Vec<Json> = match value {
            Json::Array(items) if items.first().is_some_and(Json::is_string) => items.clone(),
            Json::String(s) if super::file_vars::is_glob(s) => {
                super::file_vars::expand_glob(s, base)
                    .map_err(|e| err_at(format!("{location}.vars.{name}"), e))?
            }
            other => vec![other.clone()],
        };
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                choices.iter().map(move |choice| {
                    let mut c = combo.clone();
                    c.insert(name.clone(), choice.clone());
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}

fn parse_asserts(value: Option<&Json>, location: &str) -> Result<Vec<AssertItem>, SuiteError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Json::Array(items) = value else {
        return Err(err_at(location, "`assert` must be a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(j, item)| parse_assert_item(item, &format!("{location}.assert[{j}]")))
        .collect()
}

fn parse_assert_item(item: &Json, at: &str) -> Result<AssertItem, SuiteError> {
    if item.get("type").and_then(Json::as_str) == Some("assert-set") {
        let children = match item.get("assert") {
            Some(Json::Array(a)) => a,
            _ => return Err(err_at(at, "an `assert-set` needs an `assert` list")),
        };
        let assertions = children
            .iter()
            .enumerate()
            .map(|(k, c)| parse_assertion(c, &format!("{at}.assert[{k}]")))
            .collect::<Result<_, _>>()?;
        return Ok(AssertItem::Set {
            assertions,
            threshold: item.get("threshold").and_then(Json::as_f64),
            weight: item.get("weight").and_then(Json::as_f64).unwrap_or(1.0),
            metric: item.get("metric").and_then(Json::as_str).map(str::to_owned),
            raw: Arc::new(item.clone()),
        });
    }
    parse_assertion(item, at).map(AssertItem::One)
}

fn parse_assertion(item: &Json, at: &str) -> Result<Assertion, SuiteError> {
    let Json::Object(o) = item else {
        return Err(err_at(at, "an assertion is a mapping with a `type`"));
    };
    let Some(type_name) = o.get("type").and_then(Json::as_str) else {
        return Err(err_at(at, "the assertion has no `type`"));
    };
    let base = type_name.strip_prefix("not-").unwrap_or(type_name);
    if !assertions::is_known_type(base) {
        let hint = assertions::suggest_type(base)
            .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        return Err(err_at(
            at,
            format!("unknown assertion type `{type_name}`{hint}"),
        ));
    }
    if !assertions::is_supported_type(base) {
        return Err(err_at(
            at,
            format!("assertion type `{type_name}` is not supported by promptops eval yet"),
        ));
    }
    match base {
        "select-best" if !o.get("value").is_some_and(Json::is_string) => {
            return Err(err_at(
                at,
                "select-best needs a `value`: the criterion the grader picks the best output by",
            ));
        }
        "max-score" => {
            assertions::compare::check_max_score_value(o.get("value"))
                .map_err(|m| err_at(at, m))?;
        }
        _ => {}
    }
    let mut a = Assertion::new(type_name, o.get("value").cloned());
    a.raw = Arc::new(item.clone());
    a.threshold = o.get("threshold").and_then(Json::as_f64);
    a.weight = o.get("weight").and_then(Json::as_f64).unwrap_or(1.0);
    a.metric = o.get("metric").and_then(Json::as_str).map(str::to_owned);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cartesian_product_first_var_slowest() {
        let vars = json!({"a": ["1", "2"], "b": ["x", "y"], "n": [1, 2], "c": "k"});
        let combos = var_combinations(vars.as_object().unwrap(), Path::new("."), "t").unwrap();
        let got: Vec<String> = combos
            .iter()
            .map(|c| format!("{}{}", c["a"].as_str().unwrap(), c["b"].as_str().unwrap()))
            .collect();
        assert_eq!(got, ["1x", "1y", "2x", "2y"]);
        assert_eq!(combos[0]["n"], json!([1, 2]), "lists of numbers stay whole");
    }

    #[test]
    fn default_test_merges_under_the_test() {
        let default = json!({"vars": {"a": 1, "b": 2}, "assert": [{"type": "contains", "value": "x"}], "threshold": 0.5, "options": {"p": 1}});
        let test = json!({"vars": {"b": 3}, "assert": [{"type": "equals", "value": "y"}]});
        let m = merge_default(
            default.as_object().unwrap(),
            test.as_object().unwrap().clone(),
        );
        assert_eq!(m["vars"], json!({"a": 1, "b": 3}));
        assert_eq!(m["assert"][0]["type"], "contains", "defaults come first");
        assert_eq!(m["threshold"], 0.5);
    }

    #[test]
    fn expected_shorthands() {
        assert_eq!(
            assertion_from_string("LABEL-1"),
            json!({"type": "equals", "value": "LABEL-1"})
        );
        assert_eq!(
            assertion_from_string("contains:abc "),
            json!({"type": "contains", "value": "abc"})
        );
        assert_eq!(
            assertion_from_string("not-icontains:x"),
            json!({"type": "not-icontains", "value": "x"})
        );
        assert_eq!(
            assertion_from_string("contains-any:a, \"b,c\""),
            json!({"type": "contains-any", "value": ["a", "b,c"]})
        );
        assert_eq!(
            assertion_from_string("levenshtein(3):kitten"),
            json!({"type": "levenshtein", "value": "kitten", "threshold": 3})
        );
        assert_eq!(
            assertion_from_string("starts-with:ab"),
            json!({"type": "starts-with", "value": "ab", "threshold": 0.75})
        );
        assert_eq!(
            assertion_from_string("grade: is polite"),
            json!({"type": "llm-rubric", "value": " is polite"})
        );
        assert_eq!(
            assertion_from_string("fn: output.length > 3"),
            json!({"type": "javascript", "value": "output.length > 3"})
        );
        assert_eq!(
            assertion_from_string("nosuchtype:x"),
            json!({"type": "equals", "value": "nosuchtype:x"})
        );
    }
}
