use super::{PromptPath, VersionPath};
use crate::auth::{Caller, Principal};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_version};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_api::{DiffFormat, PublishRequest, Published, Version, VersionDiff};
use promptops_core::canonical::{canonical_json, content_hash};
use promptops_core::prompt::Prompt;
use promptops_core::validate::{Rules, check_source};
use promptops_store::{NewVersion, Store};
use serde::Deserialize;
use serde_json::Value as JsonValue;

/// The path a prompt id's file has under `prompts/`.
pub(crate) fn default_path(id: &str) -> String {
    format!("prompts/{}.yaml", id.replace('.', "/"))
}

/// Validates a prompt file exactly as `promptops validate` does, expecting `id`, with
/// the server's cap on a version's size (aliases expanded).
pub fn validated(
    id: &str,
    path: &str,
    source: &str,
    max_version_bytes: usize,
) -> ApiResult<Prompt> {
    let rules = Rules {
        max_version_bytes,
        ..Rules::default()
    };
    let report = check_source(path, Some(id), source.as_bytes(), &rules);
    if report.has_errors() {
        return Err(ApiError::invalid_prompt(report.diagnostics));
    }
    report.valid_prompt().cloned().ok_or_else(|| {
        ApiError::unprocessable(format!(
            "{path} is not a prompt file; push files from the prompts/ folder"
        ))
    })
}

/// The canonical content to store, refused when it is over the cap (the YAML measure
/// bounds it already; this is the stored bytes themselves).
fn stored_content(prompt: &Prompt, path: &str, max_version_bytes: usize) -> ApiResult<String> {
    let content = canonical_json(prompt);
    if content.len() > max_version_bytes {
        return Err(ApiError::invalid_prompt(vec![
            promptops_core::diagnostic::Diagnostic::new(
                path.to_owned(),
                promptops_core::diagnostic::Pos::START,
                promptops_core::diagnostic::Code::YamlSyntax,
                format!(
                    "the prompt's canonical content is {} bytes; this registry keeps at most {max_version_bytes} per version",
                    content.len()
                ),
            ),
        ]));
    }
    Ok(content)
}

/// Publishes a prompt file as a new immutable version. The server validates it with the
/// same rules as `promptops validate` and hashes it with the same function as
/// `promptops hash`. The same content again returns the existing version (200).
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/versions", tag = "prompts", params(PromptPath), request_body = PublishRequest,
    responses((status = 201, description = "created", body = Published), (status = 200, description = "the same content was already published", body = Published),
              (status = 409, description = "the version number is taken by other content, or is not newer than the latest", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "the file does not validate", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn publish<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<PromptPath>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> ApiResult<(StatusCode, Json<Published>)> {
    if let Some(problem) = promptops_core::prompt::id::syntax_problem(&p.id) {
        return Err(ApiError::unprocessable(format!(
            "invalid prompt id `{}`: {problem}",
            p.id
        )));
    }
    let path = body.path.clone().unwrap_or_else(|| default_path(&p.id));
    let prompt = validated(&p.id, &path, &body.source, state.settings.max_version_bytes)?;
    let published = store_version(&state, &p.project, &prompt, body.source, &path, &caller).await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(published)))
}

/// Stores a validated prompt file as a version: its canonical content and hash, the
/// file as given (`source`). The same content again returns the existing version.
pub(crate) async fn store_version<S: Store>(
    state: &AppState<S>,
    project: &str,
    prompt: &Prompt,
    source: String,
    path: &str,
    caller: &Principal,
) -> ApiResult<Published> {
    let new = NewVersion {
        prompt_id: prompt.id.clone(),
        version: prompt.version.clone(),
        content_hash: content_hash(prompt).to_string(),
        content: stored_content(prompt, path, state.settings.max_version_bytes)?,
        source,
        parent: prompt.parent.clone(),
        changelog: prompt.changelog.clone(),
    };
    Ok(state.store.publish(project, &new, &caller.actor()).await?)
}

/// Every version of a prompt, oldest first.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions", tag = "prompts", params(PromptPath),
    responses((status = 200, body = Vec<Version>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn versions<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PromptPath>,
) -> ApiResult<Json<Vec<Version>>> {
    Ok(Json(state.store.versions(&p.project, &p.id).await?))
}

#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/versions/{version}", tag = "prompts", params(VersionPath),
    responses((status = 200, body = Version), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn version<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<VersionPath>,
) -> ApiResult<Json<Version>> {
    let v = parse_version(&p.version)?;
    Ok(Json(
        state
            .store
            .version(&p.project, &p.id, &v.to_string())
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older version.
    #[param(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub from: String,
    /// The newer version.
    #[param(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub to: String,
    /// `json` (default): text and metadata changes with the semver verdict; `unified`:
    /// a unified diff of the two files, as text.
    #[param(inline, value_type = Option<DiffFormat>)]
    pub format: Option<String>,
}

/// What changed between two versions.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/diff", tag = "prompts", params(PromptPath, DiffQuery),
    responses((status = 200, description = "JSON by default; a unified diff as text with format=unified",
                content((VersionDiff = "application/json"), (String = "text/plain"))),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn diff<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<PromptPath>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Response> {
    let unified = match q.format.as_deref() {
        None | Some("json") => false,
        Some("unified") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format `{other}`; use `json` or `unified`"
            )));
        }
    };
    let (from, to) = (
        parse_version(&q.from)?.to_string(),
        parse_version(&q.to)?.to_string(),
    );
    let old = state.store.version(&p.project, &p.id, &from).await?;
    let new = state.store.version(&p.project, &p.id, &to).await?;
    if unified {
        return Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            source_diff(&old, &new),
        )
            .into_response());
    }
    Ok(Json(version_diff(&old, &new)?).into_response())
}

/// The two files as pushed, as a unified diff.
fn source_diff(old: &Version, new: &Version) -> String {
    similar::TextDiff::from_lines(&old.source, &new.source)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{}@{}", old.id, old.version),
            &format!("{}@{}", new.id, new.version),
        )
        .to_string()
}

/// What changed from `old` to `new`: text, metadata with semver impact, the files.
pub(crate) fn version_diff(old: &Version, new: &Version) -> ApiResult<VersionDiff> {
    let (old_name, new_name) = (
        format!("{}@{}", old.id, old.version),
        format!("{}@{}", new.id, new.version),
    );
    let diff = promptops_core::diff::diff(
        &stored_prompt(old)?,
        &stored_prompt(new)?,
        &old_name,
        &new_name,
    );
    Ok(VersionDiff {
        id: new.id.clone(),
        from: old.version.clone(),
        to: new.version.clone(),
        diff: serde_json::to_value(diff).unwrap_or(JsonValue::Null),
        source_diff: source_diff(old, new),
    })
}

/// A stored version's prompt, re-read from its source (it passed the size cap in force
/// when it was stored, which may have been higher than today's).
pub(crate) fn stored_prompt(v: &Version) -> ApiResult<Prompt> {
    let rules = Rules {
        max_version_bytes: usize::MAX,
        ..Rules::default()
    };
    let report = check_source(&default_path(&v.id), None, v.source.as_bytes(), &rules);
    report.valid_prompt().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("stored version {}@{} no longer parses", v.id, v.version),
        )
    })
}
