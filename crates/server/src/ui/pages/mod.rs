//! One module per page (and the form actions on it).

pub mod audit;
pub mod catalog;
pub mod dashboard;
pub mod diff;
pub mod editor;
pub mod keys;
pub mod projects;
pub mod prompt;
pub mod requests;
pub mod version;
pub mod webhooks;

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::routes::{PromptPath, VersionPath};
use crate::ui::guard::UiSession;
use serde::Serialize;

/// `?done=…`: what the page that redirected here did (see [`prompt::notice`]).
#[derive(Debug, serde::Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

/// One step of the breadcrumb trail (`href: None` for the page itself).
#[derive(Debug, Serialize)]
pub struct Crumb {
    pub text: String,
    pub href: Option<String>,
}

/// `text` escaped for a URL path segment.
pub fn seg(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Projects › project › … (`rest`: the deeper steps, the last one being this page).
pub fn crumbs(project: Option<&str>, rest: Vec<(String, Option<String>)>) -> Vec<Crumb> {
    let mut out = vec![Crumb {
        text: "Projects".into(),
        href: Some("/".into()),
    }];
    if let Some(p) = project {
        out.push(Crumb {
            text: p.to_owned(),
            href: Some(format!("/p/{}", seg(p))),
        });
    }
    out.extend(rest.into_iter().map(|(text, href)| Crumb { text, href }));
    // The last step is this page.
    if let Some(last) = out.last_mut() {
        last.href = None;
    }
    out
}

pub fn prompt_href(project: &str, id: &str) -> String {
    format!("/p/{}/prompts/{}", seg(project), seg(id))
}

pub fn version_href(project: &str, id: &str, version: &str) -> String {
    format!("{}/v/{}", prompt_href(project, id), seg(version))
}

/// The API's view of this visitor (handlers called in-process take it).
pub fn caller(session: &UiSession) -> Caller {
    Caller(session.principal.clone())
}

pub fn prompt_path(project: &str, id: &str) -> ApiPath<PromptPath> {
    ApiPath(PromptPath {
        project: project.to_owned(),
        id: id.to_owned(),
    })
}

pub fn version_path(project: &str, id: &str, version: &str) -> ApiPath<VersionPath> {
    ApiPath(VersionPath {
        project: project.to_owned(),
        id: id.to_owned(),
        version: version.to_owned(),
    })
}

pub fn json<T>(value: T) -> ApiJson<T> {
    ApiJson(value)
}
