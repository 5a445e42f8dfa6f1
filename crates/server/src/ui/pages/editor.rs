//! `/p/{project}/prompts/{id}/edit`: a new version started from the latest — the file
//! checked live with the same rules as `promptops validate` (line, column, message), a
//! preview with sample variables, a playground that runs it against a configured eval
//! provider, and Publish, which goes through the API's publish.

use super::{caller, crumbs, json, prompt_href, prompt_path, version_href};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::forms::Form;
use crate::ui::guard::UiSession;
use crate::ui::page::render;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect};
use minijinja::Value;
use promptops_api::PublishRequest;
use promptops_core::diagnostic::{Diagnostic, Severity};
use promptops_core::render::{Inputs, Rendered, bind, render as render_prompt};
use promptops_core::validate::{FileReport, Rules, check_source};
use promptops_store::Store;
use std::collections::BTreeMap;

/// The file as the editor first shows it: the latest version's, with the version
/// bumped (patch) and `parent:` pointing at the latest.
pub fn next_version_source(source: &str, latest: &semver::Version) -> String {
    let next = semver::Version::new(latest.major, latest.minor, latest.patch + 1);
    let mut out = Vec::new();
    let mut saw_parent = false;
    let mut version_at = None;
    for line in source.lines() {
        if line.starts_with("version:") {
            version_at = Some(out.len());
            out.push(format!("version: {next}"));
        } else if line.starts_with("parent:") {
            saw_parent = true;
            out.push(format!("parent: {latest}"));
        } else {
            out.push(line.to_owned());
        }
    }
    if !saw_parent && let Some(at) = version_at {
        out.insert(at + 1, format!("parent: {latest}"));
    }
    let mut text = out.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The draft a form sends: the file (with Windows line ends made plain) and the sample
/// variables.
fn draft(form: &Form) -> (String, String) {
    (
        form.get("source").unwrap_or_default().replace("\r\n", "\n"),
        form.get("vars").unwrap_or_default().to_owned(),
    )
}

/// `name=value` lines (sample variables), blank lines and `#` comments skipped.
fn sample_vars(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().replace("\\n", "\n")))
        .collect()
}

/// A `name=` line per declared variable (with its default, if any).
fn default_vars(report: &FileReport) -> String {
    let Some(prompt) = &report.prompt else {
        return String::new();
    };
    let names: Vec<(String, String)> = match &prompt.variables {
        Some(vars) => vars
            .iter()
            .map(|(n, v)| {
                let d = v.default.as_ref().map_or(String::new(), |d| {
                    d.as_str().map_or_else(|| d.to_string(), str::to_owned)
                });
                (n.clone(), d)
            })
            .collect(),
        None => report
            .used_variables
            .iter()
            .map(|n| (n.clone(), String::new()))
            .collect(),
    };
    names
        .into_iter()
        .map(|(n, d)| format!("{n}={d}\n"))
        .collect()
}

fn check(id: &str, source: &str, max_bytes: usize) -> FileReport {
    let rules = Rules {
        max_version_bytes: max_bytes,
        ..Rules::default()
    };
    check_source(
        &crate::routes::prompts::default_path(id),
        Some(id),
        source.as_bytes(),
        &rules,
    )
}

#[derive(serde::Serialize)]
struct Finding<'a> {
    line: u32,
    column: u32,
    severity: &'static str,
    code: String,
    message: &'a str,
    hint: Option<&'a str>,
}

fn findings(diagnostics: &[Diagnostic]) -> Vec<Finding<'_>> {
    diagnostics
        .iter()
        .map(|d| Finding {
            line: d.line,
            column: d.column,
            severity: if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            },
            code: d.code.to_string(),
            message: &d.message,
            hint: d.hint.as_deref(),
        })
        .collect()
}

/// The diagnostics and the preview of `source` rendered with `vars`.
fn workspace(id: &str, source: &str, vars: &str, max_bytes: usize) -> Value {
    let report = check(id, source, max_bytes);
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    let (preview, preview_problem) = match (&report.prompt, errors) {
        (Some(prompt), 0) => {
            let inputs = Inputs {
                text: sample_vars(vars),
                values: BTreeMap::new(),
            };
            match bind(prompt, &report.used_variables, &inputs) {
                Ok(bound) => match render_prompt(prompt, &bound.values) {
                    Ok(r) => (Some(r), None),
                    Err(e) => (None, Some(e.to_string())),
                },
                Err(problems) => (
                    None,
                    Some(
                        problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                ),
            }
        }
        _ => (None, None),
    };
    let (text, messages) = match &preview {
        Some(Rendered::Text(t)) => (Some(t.clone()), None),
        Some(Rendered::Messages(m)) => (None, Some(m.clone())),
        None => (None, None),
    };
    crate::ui::ctx! {
        findings => findings(&report.diagnostics),
        errors => errors,
        preview_text => text,
        preview_messages => messages,
        preview_problem => preview_problem,
    }
}

async fn latest<S: Store>(
    state: &AppState<S>,
    project: &str,
    id: &str,
) -> UiResult<promptops_api::Version> {
    Ok(state.store.version_at(project, id, None).await?)
}

#[allow(clippy::too_many_arguments)]
fn editor_page(
    session: &UiSession,
    state_settings: &crate::Settings,
    project: &str,
    id: &str,
    base: &str,
    source: &str,
    vars: &str,
    problem: Option<String>,
    playground: Option<Value>,
) -> UiResult {
    render(
        session,
        "editor.html",
        crate::ui::ctx! {
            project => project,
            id => id,
            base => base,
            source => source,
            vars => vars,
            check => workspace(id, source, vars, state_settings.max_version_bytes),
            problem => problem,
            providers => &state_settings.playground_providers,
            playground => playground,
            crumbs => crumbs(Some(project), vec![(id.to_owned(), Some(prompt_href(project, id))), ("New version".into(), None)]),
        },
    )
}

pub async fn page<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
) -> UiResult {
    let v = latest(&state, &project, &id).await?;
    let current = crate::extract::parse_version(&v.version)?;
    let source = next_version_source(&v.source, &current);
    let vars = default_vars(&check(&v.id, &source, state.settings.max_version_bytes));
    editor_page(
        &session,
        &state.settings,
        &project,
        &v.id,
        &v.version,
        &source,
        &vars,
        None,
        None,
    )
}

/// Validate (show the findings) or Publish (through the API's publish; a refusal shows
/// its reason above the same file).
pub async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    let (source, vars) = draft(&form);
    let base = form.get("base").unwrap_or_default().to_owned();
    if form.get("action") != Some("publish") {
        return editor_page(
            &session,
            &state.settings,
            &project,
            &id,
            &base,
            &source,
            &vars,
            None,
            None,
        );
    }
    let published = crate::routes::prompts::publish(
        State(state.clone()),
        caller(&session),
        prompt_path(&project, &id),
        json(PublishRequest {
            source: source.clone(),
            path: None,
        }),
    )
    .await;
    match published {
        Ok((_, axum::Json(p))) => Ok(Redirect::to(&format!(
            "{}?done=published",
            version_href(&project, &p.version.id, &p.version.version)
        ))
        .into_response()),
        Err(e) => editor_page(
            &session,
            &state.settings,
            &project,
            &id,
            &base,
            &source,
            &vars,
            Some(format!("Not published: {}", e.0.detail)),
            None,
        ),
    }
}

/// The live check (htmx): the findings and the preview, as a fragment.
pub async fn check_fragment(
    settings: &crate::Settings,
    id: &str,
    form: &Form,
) -> Result<String, minijinja::Error> {
    let (source, vars) = draft(form);
    crate::ui::templates::render(
        "editor_check.html",
        crate::ui::ctx! { check => workspace(id, &source, &vars, settings.max_version_bytes) },
    )
}

pub async fn live_check<S: Store>(
    State(state): State<AppState<S>>,
    Path((_project, id)): Path<(String, String)>,
    form: Form,
) -> UiResult {
    Ok(Html(check_fragment(&state.settings, &id, &form).await?).into_response())
}

/// Runs the edited prompt, rendered with the sample variables, against one of the
/// configured providers (`[server] playground_providers`): output, tokens, cost and
/// latency. A fragment for htmx; the whole editor page without it.
pub async fn playground<S: Store>(
    State(state): State<AppState<S>>,
    session: UiSession,
    Path((project, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Form,
) -> UiResult {
    let (source, vars) = draft(&form);
    let provider = form.get("provider").unwrap_or_default().to_owned();
    let result = crate::ui::playground::run(&state.settings, &id, &source, &vars, &provider).await;
    let result = Value::from(minijinja::value::Serde(&result));
    if headers.contains_key("hx-request") {
        let body = crate::ui::templates::render(
            "playground.html",
            crate::ui::ctx! { playground => result },
        )?;
        return Ok(Html(body).into_response());
    }
    let base = form.get("base").unwrap_or_default().to_owned();
    editor_page(
        &session,
        &state.settings,
        &project,
        &id,
        &base,
        &source,
        &vars,
        None,
        Some(result),
    )
}

/// The prompt rendered for a provider call: text as it is, a chat as the JSON array of
/// messages the eval providers take.
pub fn rendered_for_provider(
    id: &str,
    source: &str,
    vars: &str,
    max_bytes: usize,
) -> Result<String, String> {
    let report = check(id, source, max_bytes);
    if let Some(first) = report.diagnostics.iter().find(|d| d.is_error()) {
        return Err(format!(
            "the file does not validate: line {}, column {}: {}",
            first.line, first.column, first.message
        ));
    }
    let prompt = report.prompt.as_ref().ok_or("the file holds no prompt")?;
    let inputs = Inputs {
        text: sample_vars(vars),
        values: BTreeMap::new(),
    };
    let bound = bind(prompt, &report.used_variables, &inputs).map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    match render_prompt(prompt, &bound.values).map_err(|e| e.to_string())? {
        Rendered::Text(t) => Ok(t),
        Rendered::Messages(m) => serde_json::to_string(&m).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is read as sample variables without panicking, and every
        /// `name=value` line we write is read back.
        #[test]
        fn sample_variables_parse_any_text(junk in "\\PC{0,300}", name in "[a-z_]{1,12}", value in "[ -~&&[^\\\\]]{0,40}") {
            let _ = sample_vars(&junk);
            let vars = sample_vars(&format!("{junk}\n{name}={value}\n"));
            prop_assert_eq!(vars.get(&name).map(String::as_str), Some(value.trim()));
        }

        /// The next version's file always names the next patch and its parent, whatever
        /// else the file holds.
        #[test]
        fn the_next_version_is_always_named(body in "[ -~\n]{0,200}", major in 0u64..50, minor in 0u64..50, patch in 0u64..50) {
            let latest = semver::Version::new(major, minor, patch);
            let body: String = body.lines().filter(|l| !l.starts_with("version:") && !l.starts_with("parent:")).collect::<Vec<_>>().join("\n");
            let src = format!("id: a.b\nversion: {latest}\n{body}\n");
            let next = next_version_source(&src, &latest);
            let wanted_version = format!("version: {major}.{minor}.{}", patch + 1);
            let wanted_parent = format!("parent: {latest}");
            prop_assert!(next.lines().any(|l| l == wanted_version));
            prop_assert!(next.lines().any(|l| l == wanted_parent));
        }
    }

    #[test]
    fn the_next_version_bumps_the_patch_and_points_at_its_parent() {
        let latest = semver::Version::new(1, 2, 3);
        let src = "id: a.b\nversion: 1.2.3\nowner: x\n";
        assert_eq!(
            next_version_source(src, &latest),
            "id: a.b\nversion: 1.2.4\nparent: 1.2.3\nowner: x\n"
        );
        let with_parent = "id: a.b\nversion: 1.2.3\nparent: 1.0.0\n";
        assert_eq!(
            next_version_source(with_parent, &latest),
            "id: a.b\nversion: 1.2.4\nparent: 1.2.3\n"
        );
    }

    #[test]
    fn sample_variables_are_name_value_lines() {
        let v = sample_vars("a=1\n# note\n\nb = two words\nc=x\\ny\nbad line\n");
        assert_eq!(v.get("a").map(String::as_str), Some("1"));
        assert_eq!(v.get("b").map(String::as_str), Some("two words"));
        assert_eq!(v.get("c").map(String::as_str), Some("x\ny"));
        assert_eq!(v.len(), 3);
    }
}
