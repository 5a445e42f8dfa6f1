//! The page templates (minijinja, HTML-escaped by default), compiled into the binary
//! and parsed once.

use std::sync::LazyLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "macros.html",
    "error.html",
    "login.html",
    "projects.html",
    "catalog.html",
    "prompt.html",
    "version.html",
    "diff.html",
    "editor.html",
    "editor_check.html",
    "playground.html",
    "requests.html",
    "request.html",
    "audit.html",
    "dashboard.html",
    "keys.html",
    "webhooks.html",
];

static ENV: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    // `.html` templates escape every value (minijinja's default for the extension).
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.add_global("asset_version", super::assets::VERSION);
    // A value as one percent-encoded URL path segment or query value.
    env.add_filter("seg", |text: &str| super::pages::seg(text));
    // At most `n` characters, with an ellipsis when cut.
    env.add_filter("truncate", |text: &str, n: usize| {
        if text.chars().count() <= n {
            text.to_owned()
        } else {
            let mut cut: String = text.chars().take(n.saturating_sub(1)).collect();
            cut.push('…');
            cut
        }
    });
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // Every template is rendered by the tests: this cannot ship.
            tracing::error!(template = name, error = %e, "a UI template does not parse");
        }
    }
    env
});

/// Renders template `name` with `context`.
pub fn render(name: &str, context: minijinja::Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            if let Err(e) = ENV.get_template(name) {
                panic!("{name}: {e:#}");
            }
        }
    }
}
