//! The one template engine: Jinja syntax through minijinja, strict about undefined
//! variables, no HTML escaping (prompts are not HTML), bounded by fuel so a hostile
//! template cannot loop forever.
//!
//! Eval suites extend it ([`Extensions`]): custom filters and a loader for
//! `{% include %}`, `{% import %}` and `{% extends %}`. Prompt files get neither: they
//! are self-contained (see [`analyze`]).

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Rest, Serde};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, LazyLock};

/// Instructions a render may execute: far above any real prompt, far below "hangs".
const FUEL: u64 = 5_000_000;

/// A template problem and the byte offset in the template text where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

/// How a template treats a variable it is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// An error: prompt files declare their variables.
    Strict,
    /// Renders as nothing, as promptfoo (nunjucks) does for eval suites' prompts.
    Lenient,
}

fn environment() -> Environment<'static> {
    environment_with(Undefined::Strict)
}

/// A custom filter: called with the filtered value and the filter's arguments (as JSON);
/// `Ok(None)` is JavaScript's `undefined`, which renders as nothing.
pub type Filter =
    Arc<dyn Fn(&[serde_json::Value]) -> Result<Option<serde_json::Value>, String> + Send + Sync>;

/// Where `{% include %}`, `{% import %}` and `{% extends %}` find other templates.
pub trait Loader: Send + Sync {
    /// The text of the template named `name` (a name [`Loader::join`] gave), or
    /// `Ok(None)` when there is none (`{% include ... ignore missing %}` skips it).
    fn load(&self, name: &str) -> Result<Option<String>, String>;
    /// The name under which `name`, written in the template `parent`, is loaded.
    /// `parent` is [`INLINE_NAME`] for a template rendered from text.
    fn join(&self, name: &str, parent: &str) -> String;
}

/// The name of a template rendered from text (not loaded by a [`Loader`]).
pub const INLINE_NAME: &str = "<string>";

/// What an eval suite adds to the engine.
#[derive(Clone, Default)]
pub struct Extensions {
    /// By name; a name the engine already has (`upper`, `load`, ...) is replaced.
    pub filters: Vec<(String, Filter)>,
    pub loader: Option<Arc<dyn Loader>>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field(
                "filters",
                &self.filters.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("loader", &self.loader.is_some())
            .finish()
    }
}

fn environment_with(undefined: Undefined) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(match undefined {
        Undefined::Strict => UndefinedBehavior::Strict,
        Undefined::Lenient => UndefinedBehavior::Lenient,
    });
    env.set_auto_escape_callback(|_| AutoEscape::None);
    if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env.set_fuel(Some(FUEL));
    env.add_filter("load", load_filter);
    // Debug mode keeps spans on errors, so a finding can point at the failing spot.
    env.set_debug(true);
    env
}

fn extended_environment(undefined: Undefined, extensions: &Extensions) -> Environment<'static> {
    let mut env = environment_with(undefined);
    for (name, filter) in &extensions.filters {
        let filter = filter.clone();
        env.add_filter(
            name.clone(),
            move |value: Value, rest: Rest<Value>| -> Result<Value, minijinja::Error> {
                let args: Vec<serde_json::Value> = std::iter::once(&value)
                    .chain(rest.0.iter())
                    .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
                    .collect();
                match filter(&args) {
                    // `null` and `undefined` both render as nothing, as in nunjucks.
                    Ok(None | Some(serde_json::Value::Null)) => Ok(Value::UNDEFINED),
                    Ok(Some(v)) => Ok(Value::from(Serde(v))),
                    Err(message) => Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        message,
                    )),
                }
            },
        );
    }
    if let Some(loader) = &extensions.loader {
        let load = loader.clone();
        env.set_loader(move |name| {
            load.load(name)
                .map_err(|m| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, m))
        });
        let join = loader.clone();
        env.set_path_join_callback(move |name, parent| join.join(name, parent).into());
    }
    env
}

/// `{% include %}`, `{% import %}`, `{% from %}` and `{% extends %}` outside raw blocks.
static MULTI_TEMPLATE_TAG: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"\{%[-+]?\s*(include|import|from|extends)\b").expect("a constant pattern")
});
static RAW_BLOCK: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?s)\{%[-+]?\s*raw\s*[-+]?%\}.*?\{%[-+]?\s*endraw\s*[-+]?%\}")
        .expect("a constant pattern")
});

/// `{{ text | load }}`: JSON text as a value, as promptfoo's nunjucks `load` filter
/// (`JSON.parse`) gives it.
fn load_filter(text: String) -> Result<minijinja::Value, minijinja::Error> {
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| minijinja::Value::from(minijinja::value::Serde(v)))
        .map_err(|e| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("`load` needs JSON text: {e}"),
            )
        })
}

/// Names the environment provides (`range`, `namespace`, ...), which are not variables.
static GLOBALS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    environment()
        .globals()
        .map(|(name, _)| name.to_owned())
        .collect()
});

/// Checks a template's syntax and returns the top-level names it reads from outside
/// (variables, and globals such as `range` unless a variable of that name is declared:
/// see [`is_global`]).
///
/// A prompt file is self-contained (its content hash is what is published), so a tag
/// that reads another template (`include`, `import`, `from`, `extends`) is an error here.
pub fn analyze(text: &str) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let template = env
        .template_from_str(text)
        .map_err(|e| template_error(&e, text))?;
    let without_raw = RAW_BLOCK.replace_all(text, |c: &regex::Captures<'_>| " ".repeat(c[0].len()));
    if let Some(tag) = MULTI_TEMPLATE_TAG.captures(&without_raw) {
        let whole = tag.get(0).expect("a match");
        return Err(TemplateError {
            message: format!(
                "`{{% {} %}}` reads another template; a prompt file must be self-contained (put the text in the file)",
                &tag[1]
            ),
            offset: whole.start(),
        });
    }
    Ok(template.undeclared_variables(false).into_iter().collect())
}

/// Whether the engine itself provides `name` (`range`, `namespace`, ...). A declared
/// variable of the same name shadows it.
pub fn is_global(name: &str) -> bool {
    GLOBALS.contains(name)
}

/// Renders a template with the given variables.
pub fn render(
    text: &str,
    vars: &BTreeMap<String, serde_json::Value>,
) -> Result<String, TemplateError> {
    render_with(text, vars, Undefined::Strict)
}

/// Renders a template, treating undefined variables as `undefined` says.
pub fn render_with<V: serde::Serialize>(
    text: &str,
    vars: &V,
    undefined: Undefined,
) -> Result<String, TemplateError> {
    let env = environment_with(undefined);
    let template = env
        .template_from_str(text)
        .map_err(|e| template_error(&e, text))?;
    template
        .render(minijinja::Value::from(Serde(vars)))
        .map_err(|e| template_error(&e, text))
}

/// Templates compiled once and rendered many times (an eval renders the same prompt
/// for every test). Safe to share between threads.
pub struct TemplateSet {
    env: Environment<'static>,
}

impl TemplateSet {
    pub fn new(undefined: Undefined) -> TemplateSet {
        TemplateSet {
            env: environment_with(undefined),
        }
    }

    /// A set whose templates may also use `extensions`' filters and loaded templates.
    pub fn with_extensions(undefined: Undefined, extensions: &Extensions) -> TemplateSet {
        TemplateSet {
            env: extended_environment(undefined, extensions),
        }
    }

    /// Renders `text` once (not kept), with this set's filters and loader.
    pub fn render_str<V: serde::Serialize>(
        &self,
        text: &str,
        vars: &V,
    ) -> Result<String, TemplateError> {
        let template = self
            .env
            .template_from_str(text)
            .map_err(|e| template_error(&e, text))?;
        template
            .render(Value::from(Serde(vars)))
            .map_err(|e| template_error(&e, text))
    }

    /// Compiles `source` under `name`; a syntax error is returned with its offset.
    pub fn add(&mut self, name: String, source: String) -> Result<(), TemplateError> {
        let text = source.clone();
        self.env
            .add_template_owned(name, source)
            .map_err(|e| template_error(&e, &text))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// Renders the template `name` (which must have been added).
    pub fn render<V: serde::Serialize>(
        &self,
        name: &str,
        vars: &V,
    ) -> Result<String, TemplateError> {
        let template = self.env.get_template(name).map_err(|e| TemplateError {
            message: e.to_string(),
            offset: 0,
        })?;
        template
            .render(minijinja::Value::from(Serde(vars)))
            .map_err(|e| template_error(&e, template.source()))
    }
}

fn template_error(e: &minijinja::Error, text: &str) -> TemplateError {
    let offset = match (e.range(), e.line()) {
        (Some(range), _) => range.start,
        (None, Some(line)) => text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum(),
        (None, None) => 0,
    };
    let mut message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    // An error inside an included template is the cause of a `bad include`.
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        match cause.downcast_ref::<minijinja::Error>() {
            Some(inner) => {
                message.push_str(": ");
                message.push_str(&match inner.detail() {
                    Some(detail) => format!("{}: {detail}", inner.kind()),
                    None => inner.kind().to_string(),
                });
            }
            None => message.push_str(&format!(": {cause}")),
        }
        source = std::error::Error::source(cause);
    }
    TemplateError { message, offset }
}

/// The byte offset of the first place `name` is read inside a `{{ }}` or `{% %}` block,
/// to point a finding at it. Attribute names (`x.name`) and string literals do not count.
pub fn find_variable_use(text: &str, name: &str) -> Option<usize> {
    let mut search_from = 0;
    while let Some(open) = find_block_open(&text[search_from..]) {
        let block_start = search_from + open + 2;
        let closer = if text[search_from + open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let block_end = text[block_start..]
            .find(closer)
            .map_or(text.len(), |i| block_start + i);
        if let Some(at) = find_identifier(&text[block_start..block_end], name) {
            return Some(block_start + at);
        }
        search_from = block_end;
    }
    None
}

fn find_block_open(s: &str) -> Option<usize> {
    match (s.find("{{"), s.find("{%")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn find_identifier(block: &str, name: &str) -> Option<usize> {
    let bytes = block.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            i += 1;
            continue;
        }
        if block[i..].starts_with(name) {
            let before_ok = i == 0 || (!is_ident(bytes[i - 1]) && bytes[i - 1] != b'.');
            let end = i + name.len();
            let after_ok = end >= bytes.len() || !is_ident(bytes[end]);
            if before_ok && after_ok {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_variables_but_not_globals_or_locals() {
        let vars = analyze("{% for x in items %}{{ x.name }}{{ loop.index }}{% endfor %}{{ user.name | upper }}{{ range(3) | list }}{% set y = 1 %}{{ y }}").unwrap();
        assert_eq!(
            vars.into_iter().collect::<Vec<_>>(),
            ["items", "range", "user"]
        );
        assert!(is_global("range"));
        assert!(!is_global("user"));
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let e = analyze("line one\nline {{ two").unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert!(e.offset >= 9, "{e:?}");
    }

    #[test]
    fn render_is_strict_and_keeps_text_verbatim() {
        let mut vars = BTreeMap::new();
        vars.insert("name".to_owned(), serde_json::json!("<Ann & Bob>"));
        assert_eq!(
            render("Hi {{ name }}\n", &vars).unwrap(),
            "Hi <Ann & Bob>\n"
        );
        assert!(render("Hi {{ nobody }}", &vars).is_err());
    }

    #[test]
    fn template_sets_compile_once_and_render_many_times() {
        let mut set = TemplateSet::new(Undefined::Lenient);
        set.add("p".into(), "Hi {{ name }}{{ missing }}!".into())
            .unwrap();
        for name in ["Ann", "Bo"] {
            let mut vars = BTreeMap::new();
            vars.insert("name".to_owned(), serde_json::json!(name));
            assert_eq!(set.render("p", &vars).unwrap(), format!("Hi {name}!"));
        }
        assert!(set.add("bad".into(), "{{ oops".into()).is_err());
        assert!(!set.contains("bad"));
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let err = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            err.message.to_lowercase().contains("fuel"),
            "{}",
            err.message
        );
    }

    #[test]
    fn prompt_files_cannot_read_other_templates() {
        for text in [
            "{% include 'x.txt' %}",
            "a {%- import 'm' as m %}",
            "{% from 'm' import f %}",
            "{% extends 'base' %}",
        ] {
            let e = analyze(text).unwrap_err();
            assert!(e.message.contains("self-contained"), "{text}: {e:?}");
        }
        assert_eq!(
            analyze("{% raw %}{% include 'x' %}{% endraw %}{{ a }}")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["a"]
        );
        let e = analyze("ok\n{% include 'x' %}").unwrap_err();
        assert_eq!(e.offset, 3);
    }

    struct Files;

    impl Loader for Files {
        fn load(&self, name: &str) -> Result<Option<String>, String> {
            Ok(match name {
                "part.txt" => Some("[{{ x | shout }}]".into()),
                "dir/a.txt" => Some("A{% include './b.txt' %}".into()),
                "dir/b.txt" => Some("B".into()),
                "bad.txt" => Some("{{ x | nosuch }}".into()),
                _ => None,
            })
        }

        fn join(&self, name: &str, parent: &str) -> String {
            match (name.strip_prefix("./"), parent.rsplit_once('/')) {
                (Some(rest), Some((dir, _))) if parent != INLINE_NAME => format!("{dir}/{rest}"),
                _ => name.to_owned(),
            }
        }
    }

    #[test]
    fn extensions_add_filters_and_loaded_templates() {
        let shout: Filter = Arc::new(|args| {
            let text = args[0].as_str().unwrap_or_default().to_uppercase();
            let times = args.get(1).and_then(|n| n.as_u64()).unwrap_or(1) as usize;
            Ok(Some(serde_json::json!(format!(
                "{text}{}",
                "!".repeat(times)
            ))))
        });
        let nothing: Filter = Arc::new(|_| Ok(None));
        let failing: Filter = Arc::new(|_| Err("boom".into()));
        let set = TemplateSet::with_extensions(
            Undefined::Lenient,
            &Extensions {
                filters: vec![
                    ("shout".into(), shout),
                    ("nothing".into(), nothing),
                    ("failing".into(), failing),
                ],
                loader: Some(Arc::new(Files)),
            },
        );
        let vars = serde_json::json!({"x": "hi"});
        let render = |t: &str| set.render_str(t, &vars);
        assert_eq!(
            render("{{ x | shout(3) }}|{{ x | nothing }}|").unwrap(),
            "HI!!!||"
        );
        assert_eq!(render("{% include 'part.txt' %}").unwrap(), "[HI!]");
        assert_eq!(render("{% include 'dir/a.txt' %}").unwrap(), "AB");
        assert_eq!(
            render("{% include 'gone.txt' ignore missing %}.").unwrap(),
            "."
        );
        let e = render("{% include 'gone.txt' %}").unwrap_err();
        assert!(
            e.message.contains("template not found") && e.message.contains("gone.txt"),
            "{e:?}"
        );
        let e = render("{{ x | failing }}").unwrap_err();
        assert!(e.message.contains("boom"), "{e:?}");
        let e = render("{% include 'bad.txt' %}").unwrap_err();
        assert!(
            e.message.contains("nosuch"),
            "the cause inside the include is shown: {e:?}"
        );
        // Without extensions, nothing is loaded.
        assert!(render_with("{% include 'part.txt' %}", &vars, Undefined::Lenient).is_err());
    }

    #[test]
    fn variable_use_positions() {
        let t = "Hello user, {{ x.user }} {{ 'user' }} {% if user %}";
        assert_eq!(find_variable_use(t, "user"), Some(t.rfind("user").unwrap()));
        assert_eq!(find_variable_use("{{ username }}", "user"), None);
    }
}
