//! The one template engine: Jinja syntax through minijinja, strict about undefined
//! variables, no HTML escaping (prompts are not HTML), bounded by fuel so a hostile
//! template cannot loop forever.

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

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
pub fn analyze(text: &str) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let template = env
        .template_from_str(text)
        .map_err(|e| template_error(&e, text))?;
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
        .render(minijinja::Value::from(minijinja::value::Serde(vars)))
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
            .render(minijinja::Value::from(minijinja::value::Serde(vars)))
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
    let message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
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
    fn variable_use_positions() {
        let t = "Hello user, {{ x.user }} {{ 'user' }} {% if user %}";
        assert_eq!(find_variable_use(t, "user"), Some(t.rfind("user").unwrap()));
        assert_eq!(find_variable_use("{{ username }}", "user"), None);
    }
}
