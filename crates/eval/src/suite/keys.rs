//! Every key promptfoo 0.123.1's config schema accepts, by where it stands, and what
//! promptops does with it: implemented, without effect here (with why), or not supported
//! yet, in which case a suite that uses it is told at load time where (`file:line:column`
//! for YAML) and what promptops does instead, so no verdict changes without a word.
//!
//! The list is declared once, here. `testdata/promptfoo-0.123.1-config-keys.txt` holds
//! the keys of promptfoo's schema (`UnifiedConfigSchema` and the schemas it names, read in
//! the published 0.123.1 package); a test checks that every one of them is classified
//! and that a config using all of them has each unsupported one reported at its place.

use super::{Unsupported, UnsupportedKeys};
use promptops_core::diagnostic::Pos;
use promptops_core::yaml;
use serde_json::Value as Json;

/// What promptops does with a key promptfoo accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Support {
    /// Read and acted on as promptfoo does.
    Yes,
    /// Accepted, and changes nothing promptops produces (why).
    Inert(&'static str),
    /// promptfoo acts on it, promptops does not yet (what promptops does instead):
    /// reported at load time.
    No(&'static str),
}

/// Where a key stands in a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    Top,
    Test,
    DefaultTest,
    TestOptions,
    Assertion,
    AssertSet,
    Provider,
    EvaluateOptions,
    CommandLineOptions,
    Scenario,
}

use Support::{Inert, No, Yes};

const NO_RUN_DATABASE: &str = "promptops keeps no run database";
const CLI_OPTION: &str = "promptops reads run settings from its own command line; this one is not applied (use the matching flag)";
const NO_FILTER_OPTION: &str = "every test, prompt and provider runs (no filter)";
const DISPLAY_ONLY: &str = "it only changes what promptfoo prints";

const TOP: &[(&str, Support)] = &[
    ("tags", Inert(NO_RUN_DATABASE)),
    ("description", Yes),
    ("providers", Yes),
    ("targets", Yes),
    ("prompts", Yes),
    ("tests", Yes),
    ("scenarios", Yes),
    ("defaultTest", Yes),
    ("outputPath", Yes),
    ("sharing", Inert("promptops never uploads results")),
    ("nunjucksFilters", Yes),
    ("env", Yes),
    ("derivedMetrics", Yes),
    ("extensions", No("these hooks do not run")),
    ("metadata", Yes),
    (
        "redteam",
        No("the eval is graded as a plain eval, not with red-team rules (an empty answer fails)"),
    ),
    ("writeLatestResults", Inert(NO_RUN_DATABASE)),
    (
        "tracing",
        No("no trace receiver is started and no trace context is sent"),
    ),
    ("evaluateOptions", Yes),
    ("commandLineOptions", Yes),
];

const TEST: &[(&str, Support)] = &[
    ("description", Yes),
    ("vars", Yes),
    ("provider", Yes),
    ("providers", Yes),
    ("prompts", Yes),
    ("providerOutput", Yes),
    ("assert", Yes),
    ("assertScoringFunction", Yes),
    ("options", Yes),
    ("threshold", Yes),
    ("metadata", Yes),
];

const TEST_OPTIONS: &[(&str, Support)] = &[
    ("prefix", Yes),
    ("suffix", Yes),
    ("postprocess", Yes),
    ("transform", Yes),
    ("transformVars", Yes),
    ("storeOutputAs", Yes),
    ("rubricPrompt", Yes),
    ("provider", Yes),
    (
        "factuality",
        No("`factuality` scores each category with promptfoo's defaults"),
    ),
    ("disableVarExpansion", Yes),
    (
        "disableConversationVar",
        Inert("promptops never fills `_conversation`, as if this were always set"),
    ),
    ("disableDefaultAsserts", Yes),
    (
        "runSerially",
        Inert(
            "the order of calls changes no verdict here: a suite with `storeOutputAs` runs every call in order anyway",
        ),
    ),
    ("repeat", Yes),
];

const ASSERTION: &[(&str, Support)] = &[
    ("type", Yes),
    ("value", Yes),
    ("config", Yes),
    ("threshold", Yes),
    ("weight", Yes),
    ("provider", Yes),
    ("rubricPrompt", Yes),
    ("metric", Yes),
    ("transform", Yes),
    ("contextTransform", Yes),
];

const ASSERT_SET: &[(&str, Support)] = &[
    ("type", Yes),
    ("assert", Yes),
    ("weight", Yes),
    ("metric", Yes),
    ("threshold", Yes),
    (
        "config",
        Inert("promptfoo does not read an assert-set's `config` either"),
    ),
];

const PROVIDER: &[(&str, Support)] = &[
    ("id", Yes),
    ("label", Yes),
    ("config", Yes),
    ("prompts", Yes),
    ("transform", Yes),
    ("delay", Yes),
    (
        "env",
        No("the provider reads the suite's `env` and the process environment"),
    ),
    (
        "inputs",
        Inert(
            "it describes a target's inputs for red-team test generation, which promptops does not do",
        ),
    ),
];

const EVALUATE_OPTIONS: &[(&str, Support)] = &[
    ("cache", Yes),
    ("delay", Yes),
    (
        "generateSuggestions",
        Inert("prompt suggestions are an interactive promptfoo feature"),
    ),
    (
        "suggestionsCount",
        Inert("prompt suggestions are an interactive promptfoo feature"),
    ),
    (
        "interactiveProviders",
        Inert("removed from promptfoo in 2024; it does nothing there either"),
    ),
    ("maxConcurrency", Yes),
    (
        "progressCallback",
        Inert("a JavaScript callback, settable only from code"),
    ),
    ("repeat", Yes),
    ("showProgressBar", Inert(DISPLAY_ONLY)),
    ("timeoutMs", Yes),
    ("maxEvalTimeMs", No("the run has no overall time limit")),
    (
        "isRedteam",
        No("the eval is graded as a plain eval, not with red-team rules"),
    ),
    ("silent", Inert(DISPLAY_ONLY)),
    ("filterRange", No(NO_FILTER_OPTION)),
];

const COMMAND_LINE_OPTIONS: &[(&str, Support)] = &[
    ("description", No(CLI_OPTION)),
    ("prompts", No(CLI_OPTION)),
    ("providers", No(CLI_OPTION)),
    ("output", No(CLI_OPTION)),
    ("maxConcurrency", No(CLI_OPTION)),
    ("repeat", No(CLI_OPTION)),
    ("delay", No(CLI_OPTION)),
    ("vars", No(CLI_OPTION)),
    ("tests", No(CLI_OPTION)),
    ("config", No(CLI_OPTION)),
    ("assertions", No(CLI_OPTION)),
    ("modelOutputs", No(CLI_OPTION)),
    ("verbose", Inert(DISPLAY_ONLY)),
    ("grader", No(CLI_OPTION)),
    ("tableCellMaxLength", Inert(DISPLAY_ONLY)),
    ("write", Inert(NO_RUN_DATABASE)),
    ("cache", No(CLI_OPTION)),
    ("table", Inert(DISPLAY_ONLY)),
    ("share", Inert("promptops never uploads results")),
    ("noShare", Inert("promptops never uploads results")),
    ("progressBar", Inert(DISPLAY_ONLY)),
    ("watch", No(CLI_OPTION)),
    ("filterErrorsOnly", No(NO_FILTER_OPTION)),
    ("filterFailing", No(NO_FILTER_OPTION)),
    ("filterFailingOnly", No(NO_FILTER_OPTION)),
    ("filterFirstN", No(NO_FILTER_OPTION)),
    ("filterMetadata", No(NO_FILTER_OPTION)),
    ("filterPattern", No(NO_FILTER_OPTION)),
    ("filterPrompts", No(NO_FILTER_OPTION)),
    ("filterProviders", No(NO_FILTER_OPTION)),
    ("filterRange", No(NO_FILTER_OPTION)),
    ("filterSample", No(NO_FILTER_OPTION)),
    ("filterSampleSeed", No(NO_FILTER_OPTION)),
    ("filterTargets", No(NO_FILTER_OPTION)),
    ("var", No(CLI_OPTION)),
    ("tags", Inert(NO_RUN_DATABASE)),
    (
        "generateSuggestions",
        Inert("prompt suggestions are an interactive promptfoo feature"),
    ),
    (
        "suggestionsCount",
        Inert("prompt suggestions are an interactive promptfoo feature"),
    ),
    ("promptPrefix", No(CLI_OPTION)),
    ("promptSuffix", No(CLI_OPTION)),
    ("retryErrors", No(CLI_OPTION)),
    ("envPath", No("`.env` files are not read")),
    ("extension", No("these hooks do not run")),
];

const SCENARIO: &[(&str, Support)] = &[
    (
        "description",
        Inert("promptfoo does not read a scenario's description either"),
    ),
    ("config", Yes),
    ("tests", Yes),
];

impl Place {
    /// The keys promptfoo's schema accepts here.
    pub(crate) fn keys(self) -> &'static [(&'static str, Support)] {
        match self {
            Place::Top => TOP,
            // `defaultTest` is a test without `description` in promptfoo's schema.
            Place::Test | Place::DefaultTest => TEST,
            Place::TestOptions => TEST_OPTIONS,
            Place::Assertion => ASSERTION,
            Place::AssertSet => ASSERT_SET,
            Place::Provider => PROVIDER,
            Place::EvaluateOptions => EVALUATE_OPTIONS,
            Place::CommandLineOptions => COMMAND_LINE_OPTIONS,
            Place::Scenario => SCENARIO,
        }
    }

    /// How messages name the place.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Place::Top => "the config",
            Place::Test => "a test",
            Place::DefaultTest => "defaultTest",
            Place::TestOptions => "a test's options",
            Place::Assertion => "an assertion",
            Place::AssertSet => "an assert-set",
            Place::Provider => "a provider",
            Place::EvaluateOptions => "evaluateOptions",
            Place::CommandLineOptions => "commandLineOptions",
            Place::Scenario => "a scenario",
        }
    }

    pub(crate) fn support(self, key: &str) -> Option<Support> {
        self.keys().iter().find(|(k, _)| *k == key).map(|(_, s)| *s)
    }
}

/// Whether promptfoo's schema has `key` at the top level (others are ignored with a
/// warning). `assertionTemplates` is read through `$ref`s.
pub(crate) fn is_known_top_key(key: &str) -> bool {
    key == "assertionTemplates" || Place::Top.support(key).is_some()
}

/// A config tree the audit can walk: a YAML node (keys have positions) or JSON.
pub(crate) trait KeyTree {
    /// A mapping's entries, each with where its key stands when known.
    fn entries(&self) -> Option<Vec<(&str, Option<Pos>, &Self)>>;
    /// A list's items.
    fn items(&self) -> Option<Vec<&Self>>;
    fn text(&self) -> Option<&str>;
}

impl KeyTree for yaml::Node {
    fn entries(&self) -> Option<Vec<(&str, Option<Pos>, &Self)>> {
        self.as_map().map(|entries| {
            entries
                .iter()
                .map(|e| (e.key.as_str(), Some(e.key_pos), &e.value))
                .collect()
        })
    }
    fn items(&self) -> Option<Vec<&Self>> {
        self.as_seq().map(|items| items.iter().collect())
    }
    fn text(&self) -> Option<&str> {
        self.as_str()
    }
}

impl KeyTree for Json {
    fn entries(&self) -> Option<Vec<(&str, Option<Pos>, &Self)>> {
        self.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), None, v)).collect())
    }
    fn items(&self) -> Option<Vec<&Self>> {
        self.as_array().map(|items| items.iter().collect())
    }
    fn text(&self) -> Option<&str> {
        self.as_str()
    }
}

/// Notes every unsupported key of `node` (standing at `place`) and of what it holds.
/// `path` names the node for a tree without positions (`tests[3]`); `file` is the file.
pub(crate) fn audit<T: KeyTree>(
    node: &T,
    place: Place,
    file: &str,
    path: &str,
    out: &mut UnsupportedKeys,
) {
    let Some(entries) = node.entries() else {
        return;
    };
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    for (key, pos, value) in entries {
        if let Some((name, No(effect))) = place.keys().iter().find(|(k, _)| *k == key) {
            let location = match pos {
                Some(p) => format!("{file}:{}:{}", p.line, p.column),
                None => format!("{file}: {}", join(key)),
            };
            out.note(Unsupported {
                location,
                key: name,
                place: place.describe(),
                effect,
                count: 1,
            });
        }
        let at = join(key);
        let each = |items: Option<Vec<&T>>, inner: Place, out: &mut UnsupportedKeys| {
            for (i, item) in items.into_iter().flatten().enumerate() {
                audit(item, inner, file, &format!("{at}[{i}]"), out);
            }
        };
        match (place, key) {
            (Place::Top, "tests") => each(value.items(), Place::Test, out),
            (Place::Top, "defaultTest") => audit(value, Place::DefaultTest, file, &at, out),
            (Place::Top, "providers" | "targets") => {
                for (i, item) in value.items().into_iter().flatten().enumerate() {
                    audit_provider(item, file, &format!("{at}[{i}]"), out);
                }
            }
            (Place::Top, "evaluateOptions") => audit(value, Place::EvaluateOptions, file, &at, out),
            (Place::Top, "commandLineOptions") => {
                audit(value, Place::CommandLineOptions, file, &at, out)
            }
            (Place::Top, "scenarios") => each(value.items(), Place::Scenario, out),
            (Place::Scenario, "config" | "tests") => each(value.items(), Place::Test, out),
            (Place::Test | Place::DefaultTest, "options") => {
                audit(value, Place::TestOptions, file, &at, out)
            }
            (Place::Test | Place::DefaultTest | Place::AssertSet, "assert") => {
                for (i, item) in value.items().into_iter().flatten().enumerate() {
                    let is_set = item
                        .entries()
                        .into_iter()
                        .flatten()
                        .any(|(k, _, v)| k == "type" && v.text() == Some("assert-set"));
                    let inner = if is_set {
                        Place::AssertSet
                    } else {
                        Place::Assertion
                    };
                    audit(item, inner, file, &format!("{at}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}

/// A provider entry: `{id, ...}`, or promptfoo's `{<id>: {config, ...}}`.
fn audit_provider<T: KeyTree>(node: &T, file: &str, path: &str, out: &mut UnsupportedKeys) {
    let Some(entries) = node.entries() else {
        return;
    };
    match entries.as_slice() {
        [(key, _, value)] if *key != "id" && value.entries().is_some() => {
            audit(*value, Place::Provider, file, &format!("{path}.{key}"), out)
        }
        _ => audit(node, Place::Provider, file, path, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_core::diagnostic::Findings;

    const FIXTURE: &str = include_str!("testdata/promptfoo-0.123.1-config-keys.txt");

    fn place_named(name: &str) -> Place {
        match name {
            "top" => Place::Top,
            "test" => Place::Test,
            "defaultTest" => Place::DefaultTest,
            "testOptions" => Place::TestOptions,
            "assertion" => Place::Assertion,
            "assertSet" => Place::AssertSet,
            "provider" => Place::Provider,
            "evaluateOptions" => Place::EvaluateOptions,
            "commandLineOptions" => Place::CommandLineOptions,
            "scenario" => Place::Scenario,
            other => panic!("unknown place `{other}` in the fixture"),
        }
    }

    /// promptfoo's keys, by place, from the fixture.
    fn schema() -> Vec<(Place, &'static str)> {
        FIXTURE
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (place, key) = l.split_once(' ').expect("`<place> <key>`");
                (place_named(place), key.trim())
            })
            .collect()
    }

    #[test]
    fn every_key_of_promptfoos_schema_is_classified_and_no_other() {
        let schema = schema();
        for (place, key) in &schema {
            assert!(
                place.support(key).is_some(),
                "`{key}` ({}) is in promptfoo's schema but not classified in keys.rs",
                place.describe()
            );
        }
        for place in [
            Place::Top,
            Place::Test,
            Place::TestOptions,
            Place::Assertion,
            Place::AssertSet,
            Place::Provider,
            Place::EvaluateOptions,
            Place::CommandLineOptions,
            Place::Scenario,
        ] {
            for (key, _) in place.keys() {
                assert!(
                    schema.contains(&(place, key)),
                    "keys.rs classifies `{key}` ({}) which promptfoo's schema does not have",
                    place.describe()
                );
            }
        }
    }

    /// A config that uses every key of promptfoo's schema at every place, each on its own
    /// line; returns the text and, for each place and key, the line it is on.
    fn config_with_every_key(schema: &[(Place, &str)]) -> (String, Vec<(Place, String, u32)>) {
        struct Writer<'a> {
            schema: &'a [(Place, &'a str)],
            lines: Vec<String>,
            at: Vec<(Place, String, u32)>,
        }
        impl<'a> Writer<'a> {
            fn keys(&self, place: Place) -> Vec<&'a str> {
                self.schema
                    .iter()
                    .filter(|(p, _)| *p == place)
                    .map(|(_, k)| *k)
                    .collect()
            }
            fn line(&mut self, indent: usize, text: String) -> u32 {
                self.lines.push(format!("{}{text}", " ".repeat(indent)));
                self.lines.len() as u32
            }
            /// The keys of `place` as a block mapping at `indent` (the first one after
            /// `first`, e.g. `- ` for a list item).
            fn mapping(&mut self, place: Place, indent: usize, first: &str, skip: &[&str]) {
                let keys = self.keys(place);
                let mut lead = first.to_owned();
                for key in keys {
                    if skip.contains(&key) {
                        continue;
                    }
                    let line = self.line(indent, format!("{lead}{key}:"));
                    self.at.push((place, key.to_owned(), line));
                    lead = " ".repeat(first.len());
                    let inner = indent + first.len() + 2;
                    self.value(place, key, inner);
                }
            }
            fn value(&mut self, place: Place, key: &str, indent: usize) {
                let last = self.lines.len() - 1;
                match (place, key) {
                    (Place::Top, "tests") | (Place::Scenario, "config" | "tests") => {
                        self.mapping(Place::Test, indent, "- ", &[])
                    }
                    (Place::Top, "defaultTest") => {
                        self.mapping(Place::DefaultTest, indent, "", &["description"])
                    }
                    (Place::Top, "providers" | "targets") => {
                        self.mapping(Place::Provider, indent, "- ", &[])
                    }
                    (Place::Top, "evaluateOptions") => {
                        self.mapping(Place::EvaluateOptions, indent, "", &[])
                    }
                    (Place::Top, "commandLineOptions") => {
                        self.mapping(Place::CommandLineOptions, indent, "", &[])
                    }
                    (Place::Top, "scenarios") => self.mapping(Place::Scenario, indent, "- ", &[]),
                    (Place::Test | Place::DefaultTest, "options") => {
                        self.mapping(Place::TestOptions, indent, "", &[])
                    }
                    (Place::Test | Place::DefaultTest, "assert") => {
                        self.mapping(Place::Assertion, indent, "- ", &[]);
                        self.line(indent, "- type: assert-set".into());
                        self.mapping(Place::AssertSet, indent, "  ", &["type"]);
                    }
                    (Place::AssertSet, "assert") => {
                        self.mapping(Place::Assertion, indent, "- ", &[])
                    }
                    (Place::Assertion, "type") => self.lines[last].push_str(" contains"),
                    _ => self.lines[last].push_str(" 1"),
                }
            }
        }
        let mut w = Writer {
            schema,
            lines: Vec::new(),
            at: Vec::new(),
        };
        w.mapping(Place::Top, 0, "", &[]);
        (w.lines.join("\n") + "\n", w.at)
    }

    /// Walks a config that uses every key promptfoo accepts, through the reader suites
    /// go through: each key is implemented, inert, or reported at its own line.
    #[test]
    fn no_key_of_promptfoos_schema_falls_through() {
        let schema = schema();
        let (text, at) = config_with_every_key(&schema);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("promptfooconfig.yaml");
        std::fs::write(&path, &text).unwrap();
        let config = super::super::read_suite(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let reported = config
            .audit
            .clone()
            .expect("a YAML suite is audited as it is read");
        let file = path.display().to_string();
        let mut places_seen = std::collections::HashSet::new();
        for (place, key, _) in &at {
            places_seen.insert(*place);
            let support = place.support(key).unwrap();
            let found: Vec<&Unsupported> = reported
                .iter()
                .filter(|u| u.key == key && u.place == place.describe())
                .collect();
            match support {
                No(_) => {
                    let u = found.first().unwrap_or_else(|| {
                        panic!("`{key}` ({}) is not reported\n{text}", place.describe())
                    });
                    let (l, _) = u.location[file.len() + 1..].split_once(':').unwrap();
                    let first_line = at
                        .iter()
                        .filter(|(p, k, _)| p == place && k == key)
                        .map(|(_, _, l)| *l)
                        .min()
                        .unwrap();
                    assert_eq!(
                        l.parse::<u32>().unwrap(),
                        first_line,
                        "`{key}` ({}) reported at {}",
                        place.describe(),
                        u.location
                    );
                }
                Yes | Inert(_) => assert!(
                    found.is_empty(),
                    "`{key}` ({}) is implemented but reported: {found:?}",
                    place.describe()
                ),
            }
        }
        assert_eq!(places_seen.len(), 10, "every place was written");
        // The same walk over JSON (a `.json` suite) names the places by path.
        let json = yaml::into_json(
            yaml::parse(&text, &mut Findings::new("t.yaml")).expect("the YAML parses"),
        );
        let mut out = UnsupportedKeys::default();
        audit(&json, Place::Top, "c.json", "", &mut out);
        let json_reported = out.into_vec();
        assert_eq!(json_reported.len(), reported.len());
        assert!(
            json_reported
                .iter()
                .any(|u| u.location == "c.json: tests[0].options.factuality"),
            "{json_reported:?}"
        );
    }

    #[test]
    fn provider_maps_keyed_by_id_are_walked() {
        let (node, _) = {
            let mut f = Findings::new("c.yaml");
            (
                yaml::parse(
                    "providers:\n  - openai:gpt-4o:\n      env: {OPENAI_API_KEY: x}\n",
                    &mut f,
                )
                .unwrap(),
                f,
            )
        };
        let mut out = UnsupportedKeys::default();
        audit(&node, Place::Top, "c.yaml", "", &mut out);
        let out = out.into_vec();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].location.as_str(), out[0].key),
            ("c.yaml:3:7", "env")
        );
    }
}
