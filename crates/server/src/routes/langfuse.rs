//! The Langfuse-compatible prompt API (`/api/public/…`): applications on the Langfuse
//! SDKs fetch governed prompts by changing their base URL and keys. A key's project is
//! the project (Langfuse's SDKs name none); names are prompt ids (folders `a/b` are
//! modules `a.b`); versions are revisions (1 for the first published); environments
//! are labels (`prod` ↔ `production` by default, `[server.langfuse] labels`); `latest`
//! is the newest version. Moving labels goes through [`Governance::promote`], the same
//! policy gates, approvals and audit log as `promptops promote`. What maps how, and
//! what does not: `docs/langfuse.md`.
//!
//! [`Governance::promote`]: promptops_store::Governance::promote

use super::labels::blocked;
use super::prompts::{store_version, stored_prompt};
use crate::auth::{Caller, Principal};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_api::langfuse::*;
use promptops_api::{DEFAULT_ENVIRONMENTS, Label, PromotionOutcome, Version};
use promptops_core::config::LangfuseSettings;
use promptops_core::langfuse::{self as lf, LATEST, NewBody, NewMessage, NewVersionError};
use promptops_core::prompt::id::comparable;
use promptops_core::role::Role;
use promptops_core::validate::Rules;
use promptops_store::{Promote, PromoteMode, Store, StoreError};
use serde::Deserialize;
use serde_json::Value as JsonValue;

/// Where the Langfuse SDKs' API lives (every route under it is declared `[langfuse]`).
pub const PREFIX: &str = "/api/public/";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NamePath {
    /// The prompt's name, percent-encoded as one path segment: `support.answer`, or
    /// `support%2Fanswer` for the folder form.
    pub prompt_name: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NameVersionPath {
    /// The prompt's name, percent-encoded as one path segment.
    pub prompt_name: String,
    /// The version: its place in the publication order, 1 for the first.
    #[param(value_type = u64, minimum = 1)]
    pub version: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetQuery {
    /// A version number (1 for the first published); excludes `label`.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub version: Option<String>,
    /// An environment as a label (`production`, `staging`…) or `latest`; with neither
    /// this nor `version`, `production`.
    pub label: Option<String>,
    /// Accepted and ignored: promptops prompts include no others.
    pub resolve: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only this prompt.
    pub name: Option<String>,
    /// Only prompts with a version under this label.
    pub label: Option<String>,
    /// Only prompts whose newest version has this tag.
    pub tag: Option<String>,
    /// From 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Prompts per page: 1 to 100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Only prompts whose newest version was published at or after this time (RFC 3339).
    pub from_updated_at: Option<String>,
    /// Only prompts whose newest version was published before this time (RFC 3339).
    pub to_updated_at: Option<String>,
}

/// The last page a list may ask for: far past any project's prompts, and a bound the
/// schema can state.
const MAX_PAGE: u64 = 1_000_000;

/// The project the caller's key acts in (the permission check made sure there is one).
fn key_project(caller: &Principal) -> ApiResult<&str> {
    caller
        .key
        .as_ref()
        .map(|k| k.project.as_str())
        .ok_or_else(|| {
            crate::auth::forbidden("the Langfuse-compatible API acts in an API key's project")
        })
}

/// The prompt a name names; a name that cannot be an id names no prompt (404).
fn prompt_of(name: &str) -> ApiResult<String> {
    lf::id_of_name(name).map_err(ApiError::not_found)
}

fn not_found_prompt(name: &str, project: &str) -> ApiError {
    ApiError::not_found(format!(
        "prompt `{}` not found in project `{project}` (the API key's project); publish it with `promptops push` or POST /api/public/v2/prompts",
        crate::problem::shown(name)
    ))
}

/// Store errors, with an unknown prompt or project said the Langfuse way.
fn read_error(e: StoreError, name: &str, project: &str) -> ApiError {
    match e {
        StoreError::NotFound {
            what: "prompt" | "project",
            ..
        } => not_found_prompt(name, project),
        other => other.into(),
    }
}

/// A version number from a path or query: a whole number from 1.
fn revision(text: &str) -> ApiResult<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "version `{}` is not a version number: Langfuse versions are whole numbers counting from 1 (the first published version of the prompt)",
                crate::problem::shown(text)
            ))
        })
}

/// What the answers about one prompt need besides the version itself.
struct Facts {
    labels: Vec<Label>,
    latest: Version,
}

impl Facts {
    async fn read<S: Store>(
        state: &AppState<S>,
        project: &str,
        id: &str,
        name: &str,
    ) -> ApiResult<Facts> {
        let labels = state
            .store
            .labels(project, id)
            .await
            .map_err(|e| read_error(e, name, project))?;
        let latest = state
            .store
            .version_at(project, id, None)
            .await
            .map_err(|e| read_error(e, name, project))?;
        Ok(Facts { labels, latest })
    }

    /// The labels on `version`: the environments serving it, then `latest`.
    fn labels_of(&self, settings: &LangfuseSettings, version: &Version) -> Vec<String> {
        let mut out: Vec<String> = self
            .labels
            .iter()
            .filter(|l| l.version == version.version)
            .map(|l| settings.label_of(&l.environment).to_owned())
            .collect();
        if version.revision == self.latest.revision {
            out.push(LATEST.to_owned());
        }
        out
    }
}

/// A version as Langfuse's SDKs read it, under the name it was asked by.
fn answer(
    settings: &LangfuseSettings,
    project: &str,
    name: &str,
    version: &Version,
    facts: &Facts,
) -> ApiResult<LangfusePrompt> {
    let content = &version.content;
    let unservable = |place: &str, e: lf::text::TextError| {
        let mut err = ApiError::unprocessable(format!(
            "{}@{} (version {}) cannot be served through the Langfuse API: {place} {e}",
            version.id, version.version, version.revision
        ));
        err.0.kind = "https://promptops.dev/problems/not-langfuse-expressible".into();
        err
    };
    let (kind, prompt) = match (content.get("template"), content.get("messages")) {
        (Some(JsonValue::String(t)), _) => (
            LangfusePromptType::Text,
            LangfuseContent::Text(lf::text::to_langfuse(t).map_err(|e| unservable("template", e))?),
        ),
        (_, Some(JsonValue::Array(messages))) => {
            let mut out = Vec::with_capacity(messages.len());
            for (i, m) in messages.iter().enumerate() {
                let text = m.get("content").and_then(JsonValue::as_str).unwrap_or("");
                out.push(LangfuseChatMessage {
                    role: m
                        .get("role")
                        .and_then(JsonValue::as_str)
                        .unwrap_or("user")
                        .to_owned(),
                    content: lf::text::to_langfuse(text)
                        .map_err(|e| unservable(&format!("messages[{i}].content"), e))?,
                    kind: "chatmessage".to_owned(),
                    name: m.get("name").and_then(JsonValue::as_str).map(str::to_owned),
                });
            }
            (LangfusePromptType::Chat, LangfuseContent::Chat(out))
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "stored version {}@{} has neither a template nor messages",
                    version.id, version.version
                ),
            ));
        }
    };
    let tags = content
        .get("tags")
        .and_then(JsonValue::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(LangfusePrompt {
        name: name.to_owned(),
        version: version.revision,
        kind,
        prompt,
        config: lf::config_of(content.get("model").unwrap_or(&JsonValue::Null)),
        labels: facts.labels_of(settings, version),
        tags,
        commit_message: lf::commit_message(version.changelog.as_ref()),
        resolution_graph: None,
        id: format!("{}@{}", version.id, version.version),
        project_id: project.to_owned(),
        created_at: version.created_at.clone(),
        updated_at: version.created_at.clone(),
        created_by: version.author.clone(),
        promptops_id: version.id.clone(),
        promptops_version: version.version.clone(),
        content_hash: version.content_hash.clone(),
    })
}

/// A prompt version by label (default `production`) or by version number, as the
/// Langfuse SDKs' `get_prompt` / `prompt.get` ask for it. An unknown prompt, label or
/// version is a 404 with a JSON body; a prompt that does more than substitute
/// `{{variables}}` (tags, filters) is a 422 naming the place.
#[utoipa::path(get, path = "/api/public/v2/prompts/{prompt_name}", tag = "langfuse", params(NamePath, GetQuery),
    security(("basic" = [])),
    responses((status = 200, body = LangfusePrompt),
              (status = 404, description = "no such prompt, label or version", body = LangfuseError),
              (status = 422, description = "the version uses template features Langfuse's compile() cannot express", body = LangfuseError)))]
pub async fn get<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<NamePath>,
    ApiQuery(q): ApiQuery<GetQuery>,
) -> ApiResult<Json<LangfusePrompt>> {
    let project = key_project(&caller)?;
    let id = prompt_of(&p.prompt_name)?;
    let settings = &state.settings.langfuse;
    let facts = Facts::read(&state, project, &id, &p.prompt_name).await?;
    let version = match (q.version.as_deref(), q.label.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either version or label, not both",
            ));
        }
        (Some(v), None) => {
            let n = revision(v)?;
            if n == facts.latest.revision {
                facts.latest.clone()
            } else {
                state
                    .store
                    .version_at(project, &id, Some(n))
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound {
                            what: "version", ..
                        } => ApiError::not_found(format!(
                            "prompt `{}` has no version {n}; its versions are 1 to {}",
                            crate::problem::shown(&p.prompt_name),
                            facts.latest.revision
                        )),
                        other => read_error(other, &p.prompt_name, project),
                    })?
            }
        }
        (None, label) => {
            let label = label.unwrap_or(lf::PRODUCTION);
            if label == LATEST {
                facts.latest.clone()
            } else {
                let env = settings.environment_of(label);
                let served = env.and_then(|env| facts.labels.iter().find(|l| l.environment == env));
                let Some(served) = served else {
                    return Err(ApiError::not_found(format!(
                        "prompt `{}` has no version labelled `{}`{}; labels here are environments ({}) and `latest`",
                        crate::problem::shown(&p.prompt_name),
                        crate::problem::shown(label),
                        env.map(|e| format!(" (environment `{e}` serves none)"))
                            .unwrap_or_default(),
                        describe_mapping(settings),
                    )));
                };
                if served.version == facts.latest.version {
                    facts.latest.clone()
                } else {
                    state
                        .store
                        .resolve(project, &id, &served.environment)
                        .await
                        .map_err(|e| read_error(e, &p.prompt_name, project))?
                }
            }
        }
    };
    Ok(Json(answer(
        settings,
        project,
        &p.prompt_name,
        &version,
        &facts,
    )?))
}

fn describe_mapping(settings: &LangfuseSettings) -> String {
    let mapped: Vec<String> = settings
        .labels
        .iter()
        .map(|(env, label)| format!("`{env}` is `{label}`"))
        .collect();
    if mapped.is_empty() {
        "each under its own name".to_owned()
    } else {
        format!("{}, others under their own name", mapped.join(", "))
    }
}

/// The prompts of the key's project with their versions and labels, by name, a page at
/// a time.
#[utoipa::path(get, path = "/api/public/v2/prompts", tag = "langfuse", params(ListQuery),
    security(("basic" = [])),
    responses((status = 200, body = LangfusePromptList),
              (status = 400, description = "a page, limit or time that cannot be read", body = LangfuseError)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<LangfusePromptList>> {
    let project = key_project(&caller)?;
    let settings = &state.settings.langfuse;
    let page = q.page.unwrap_or(1);
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&page) || !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "page counts from 1 (to 1,000,000), and limit is 1 to 100 (default 50)",
        ));
    }
    let time = |field: &str, t: &Option<String>| -> ApiResult<Option<i64>> {
        t.as_deref()
            .map(|t| {
                promptops_core::clock::epoch_seconds(t).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{field} `{}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z",
                        crate::problem::shown(t)
                    ))
                })
            })
            .transpose()
    };
    let from = time("fromUpdatedAt", &q.from_updated_at)?;
    let to = time("toUpdatedAt", &q.to_updated_at)?;
    let mut prompts = match state.store.prompts(project).await {
        Ok(p) => p,
        // A key's project that has nothing published yet lists nothing.
        Err(StoreError::NotFound {
            what: "project", ..
        }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if let Some(name) = &q.name {
        let wanted = lf::id_of_name(name).map(|id| comparable(&id)).ok();
        prompts.retain(|p| Some(comparable(&p.id)) == wanted);
    }
    prompts.retain(|p| p.versions > 0);
    let filtered = q.label.is_some() || q.tag.is_some() || from.is_some() || to.is_some();
    // Without filters only the page's prompts are read in full.
    let (total, window): (u64, Vec<_>) = if filtered {
        let mut kept = Vec::new();
        for p in &prompts {
            let facts = Facts::read(&state, project, &p.id, &p.id).await?;
            let meta = meta_of(settings, &p.id, &facts);
            let updated = promptops_core::clock::epoch_seconds(&facts.latest.created_at);
            let keep = q.label.as_ref().is_none_or(|l| meta.labels.contains(l))
                && q.tag.as_ref().is_none_or(|t| meta.tags.contains(t))
                && from.is_none_or(|f| updated.is_some_and(|u| u >= f))
                && to.is_none_or(|t| updated.is_some_and(|u| u < t));
            if keep {
                kept.push(meta);
            }
        }
        let total = kept.len() as u64;
        (total, window_of(kept, page, limit))
    } else {
        let total = prompts.len() as u64;
        let mut metas = Vec::new();
        for p in window_of(prompts, page, limit) {
            let facts = Facts::read(&state, project, &p.id, &p.id).await?;
            metas.push(meta_of(settings, &p.id, &facts));
        }
        (total, metas)
    };
    Ok(Json(LangfusePromptList {
        data: window,
        meta: LangfusePageMeta {
            page,
            limit,
            total_items: total,
            total_pages: total.div_ceil(limit),
        },
    }))
}

fn window_of<T>(items: Vec<T>, page: u64, limit: u64) -> Vec<T> {
    let skip = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    items.into_iter().skip(skip).take(take).collect()
}

fn meta_of(settings: &LangfuseSettings, id: &str, facts: &Facts) -> LangfusePromptMeta {
    let latest = &facts.latest;
    let mut labels: Vec<String> = Vec::new();
    for l in &facts.labels {
        let label = settings.label_of(&l.environment).to_owned();
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels.push(LATEST.to_owned());
    let kind = if latest.content.get("messages").is_some() {
        LangfusePromptType::Chat
    } else {
        LangfusePromptType::Text
    };
    LangfusePromptMeta {
        name: id.to_owned(),
        kind,
        versions: (1..=latest.revision).collect(),
        labels,
        tags: latest
            .content
            .get("tags")
            .and_then(JsonValue::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        last_updated_at: latest.created_at.clone(),
        last_config: lf::config_of(latest.content.get("model").unwrap_or(&JsonValue::Null)),
    }
}

/// The body of a create request as the core's builder takes it.
fn new_body(body: &LangfuseCreatePrompt) -> ApiResult<NewBody> {
    match (&body.prompt, body.kind) {
        (LangfuseNewContent::Text(t), None | Some(LangfusePromptType::Text)) => {
            Ok(NewBody::Text(t.clone()))
        }
        (LangfuseNewContent::Chat(messages), None | Some(LangfusePromptType::Chat)) => {
            let mut out = Vec::with_capacity(messages.len());
            for (i, m) in messages.iter().enumerate() {
                if m.kind.as_deref() == Some("placeholder") {
                    return Err(ApiError::bad_request(format!(
                        "prompt[{i}] is a placeholder (`{}`): promptops chat prompts have fixed messages; put the messages in the prompt, or add them in the application",
                        crate::problem::shown(m.name.as_deref().unwrap_or(""))
                    )));
                }
                let (Some(role), Some(content)) = (&m.role, &m.content) else {
                    return Err(ApiError::bad_request(format!(
                        "prompt[{i}] needs a `role` and a `content`"
                    )));
                };
                out.push(NewMessage {
                    role: role.clone(),
                    content: content.clone(),
                    name: m.name.clone(),
                });
            }
            Ok(NewBody::Chat(out))
        }
        (LangfuseNewContent::Text(_), Some(LangfusePromptType::Chat)) => {
            Err(ApiError::bad_request(
                "type is `chat` but prompt is a text: send a list of {role, content} messages",
            ))
        }
        (LangfuseNewContent::Chat(_), Some(LangfusePromptType::Text)) => {
            Err(ApiError::bad_request(
                "type is `text` (the default) but prompt is a list: send a text, or type `chat`",
            ))
        }
    }
}

/// Creates a version of `name` (and the prompt, with its first version) from a
/// Langfuse text or chat prompt. The file is built from what is sent and what the
/// previous version holds (owner, description, variable specs, metrics, compliance),
/// validated as `promptops validate` does, numbered with the smallest semver bump the
/// change calls for, and published; then `labels` are moved to it through their
/// environments' policies. A blocked label is a 409 naming the gates (the version
/// stays published, a request opens when approvals are asked).
#[utoipa::path(post, path = "/api/public/v2/prompts", tag = "langfuse", request_body = LangfuseCreatePrompt,
    security(("basic" = [])),
    responses((status = 201, description = "created", body = LangfusePrompt),
              (status = 200, description = "the same content was already the newest version", body = LangfusePrompt),
              (status = 400, description = "a field that cannot become a prompt file (see `message`)", body = LangfuseError),
              (status = 409, description = "a label's move is blocked by its environment's policy (see `gates`, `request`)", body = LangfuseError),
              (status = 422, description = "the prompt file built from the request does not validate (see `errors`)", body = LangfuseError)))]
pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<LangfuseCreatePrompt>,
) -> ApiResult<(StatusCode, Json<LangfusePrompt>)> {
    let project = key_project(&caller)?;
    let id = lf::id_of_name(&body.name).map_err(ApiError::bad_request)?;
    let new_body = new_body(&body)?;
    let labels = body.labels.clone().unwrap_or_default();
    let environments = match state.store.project(project).await {
        Ok(p) => p.environments,
        // The first publication creates the project with the default environments.
        Err(StoreError::NotFound { .. }) => DEFAULT_ENVIRONMENTS.map(str::to_owned).to_vec(),
        Err(e) => return Err(e.into()),
    };
    // Every label is checked before anything is written.
    let targets = targets(&state.settings.langfuse, project, &labels, &environments)?;
    let previous = match state.store.version_at(project, &id, None).await {
        Ok(v) => Some(stored_prompt(&v)?),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let rules = Rules {
        max_version_bytes: state.settings.max_version_bytes,
        ..Rules::default()
    };
    let new = lf::NewVersion {
        id: &id,
        body: &new_body,
        config: body.config.as_ref(),
        tags: body.tags.as_deref(),
        commit_message: body.commit_message.as_deref(),
    };
    let (source, prompt) = lf::new_version(&new, previous.as_ref(), &caller.user.name, &rules)
        .map_err(|e| match e {
            NewVersionError::Field { field, message } => {
                ApiError::bad_request(format!("{field}: {message}"))
            }
            NewVersionError::Invalid(diagnostics) => ApiError::invalid_prompt(diagnostics),
        })?;
    // `new_version` ran the validator on the file, with the server's size cap.
    let path = lf::file_path(&id);
    let published = store_version(&state, project, &prompt, source, &path, &caller).await?;
    let version = published.version;
    let label_targets = targets
        .iter()
        .map(|(_, env)| env.clone())
        .collect::<Vec<_>>();
    move_labels(&state, &caller, project, &id, &version, &label_targets)
        .await
        .map_err(|mut e| {
            e.0.detail = format!(
                "{id} version {} ({}) was published; {}",
                version.revision, version.version, e.0.detail
            );
            e
        })?;
    let facts = Facts::read(&state, project, &id, &body.name).await?;
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(answer(
            &state.settings.langfuse,
            project,
            &body.name,
            &version,
            &facts,
        )?),
    ))
}

/// Labels as `(label, environment)`, in the project's promotion order (so `staging`
/// moves before a `production` whose policy wants it first); `latest` is skipped (it
/// follows publication). An unknown label is a 400 naming the ones there are.
fn targets(
    settings: &LangfuseSettings,
    project: &str,
    labels: &[String],
    environments: &[String],
) -> ApiResult<Vec<(String, String)>> {
    let mut out: Vec<(usize, String, String)> = Vec::new();
    for label in labels {
        if label == LATEST {
            continue;
        }
        let position = settings
            .environment_of(label)
            .and_then(|env| environments.iter().position(|e| e == env));
        let Some(position) = position else {
            let known: Vec<&str> = environments.iter().map(|e| settings.label_of(e)).collect();
            return Err(ApiError::bad_request(format!(
                "no environment of project `{project}` is labelled `{}`; its labels are {} (environments: {}) and `latest`",
                crate::problem::shown(label),
                known.join(", "),
                environments.join(", ")
            )));
        };
        if !out.iter().any(|(p, _, _)| *p == position) {
            out.push((position, label.clone(), environments[position].clone()));
        }
    }
    out.sort_by_key(|(p, _, _)| *p);
    Ok(out.into_iter().map(|(_, l, e)| (l, e)).collect())
}

/// Promotes `version` to each environment in turn through its policy (skipping those
/// serving it already). The first blocked one stops the rest: a 409 with its gates and
/// the request it opened, saying which moved before it.
async fn move_labels<S: Store>(
    state: &AppState<S>,
    caller: &Principal,
    project: &str,
    id: &str,
    version: &Version,
    environments: &[String],
) -> ApiResult<()> {
    if environments.is_empty() {
        return Ok(());
    }
    let serving = state.store.labels(project, id).await?;
    let semver = crate::extract::parse_version(&version.version)?;
    let role = caller.role_in(project).unwrap_or(Role::Viewer);
    let mut moved: Vec<&str> = Vec::new();
    for env in environments {
        if serving
            .iter()
            .any(|l| &l.environment == env && l.version == version.version)
        {
            continue;
        }
        let request = Promote {
            prompt_id: id.to_owned(),
            environment: env.clone(),
            version: semver.clone(),
            expected_from: None,
            reason: Some("set through the Langfuse-compatible API".to_owned()),
            mode: PromoteMode::Apply,
        };
        let promotion = state
            .store
            .promote(project, &request, &caller.actor(), role)
            .await?;
        if promotion.outcome == PromotionOutcome::Blocked {
            let mut e = blocked(&promotion);
            if !moved.is_empty() {
                e.0.detail = format!("{} moved; {}", moved.join(", "), e.0.detail);
            }
            return Err(e);
        }
        moved.push(env);
    }
    Ok(())
}

/// Moves labels to a version, as Langfuse's `update_prompt(newLabels=…)` does: each
/// label's environment is promoted to it through its policy, in promotion order, with
/// the same gates, approvals and audit log as `promptops promote`. A blocked move is a
/// 409 whose `message` names the unmet gates (the SDKs show it) and whose `request` is
/// the promotion request waiting for approvals.
#[utoipa::path(patch, path = "/api/public/v2/prompts/{prompt_name}/versions/{version}", tag = "langfuse",
    params(NameVersionPath), request_body = LangfuseUpdateLabels,
    security(("basic" = [])),
    responses((status = 200, body = LangfusePrompt),
              (status = 400, description = "a label no environment has, or `latest`", body = LangfuseError),
              (status = 404, description = "no such prompt or version", body = LangfuseError),
              (status = 409, description = "a move is blocked by its environment's policy (see `gates`, `request`)", body = LangfuseError)))]
pub async fn update_labels<S: Store>(
    State(state): State<AppState<S>>,
    Caller(caller): Caller,
    ApiPath(p): ApiPath<NameVersionPath>,
    ApiJson(body): ApiJson<LangfuseUpdateLabels>,
) -> ApiResult<Json<LangfusePrompt>> {
    let project = key_project(&caller)?;
    let id = prompt_of(&p.prompt_name)?;
    let n = revision(&p.version)?;
    let version = state
        .store
        .version_at(project, &id, Some(n))
        .await
        .map_err(|e| match e {
            StoreError::NotFound {
                what: "version", ..
            } => ApiError::not_found(format!(
                "prompt `{}` has no version {n}",
                crate::problem::shown(&p.prompt_name)
            )),
            other => read_error(other, &p.prompt_name, project),
        })?;
    if body.new_labels.iter().any(|l| l == LATEST) {
        let latest = state.store.version_at(project, &id, None).await?;
        if latest.revision != version.revision {
            return Err(ApiError::bad_request(format!(
                "`latest` always names the newest version ({}); it cannot be moved",
                latest.revision
            )));
        }
    }
    let environments = state.store.project(project).await?.environments;
    let targets = targets(
        &state.settings.langfuse,
        project,
        &body.new_labels,
        &environments,
    )?;
    let envs: Vec<String> = targets.into_iter().map(|(_, env)| env).collect();
    move_labels(&state, &caller, project, &id, &version, &envs).await?;
    let facts = Facts::read(&state, project, &id, &p.prompt_name).await?;
    Ok(Json(answer(
        &state.settings.langfuse,
        project,
        &p.prompt_name,
        &version,
        &facts,
    )?))
}

/// The API key's project, as the SDKs' `auth_check()` reads it.
#[utoipa::path(get, path = "/api/public/projects", tag = "langfuse",
    security(("basic" = [])),
    responses((status = 200, body = LangfuseProjects)))]
pub async fn projects(Caller(caller): Caller) -> ApiResult<Json<LangfuseProjects>> {
    let project = key_project(&caller)?;
    Ok(Json(LangfuseProjects {
        data: vec![LangfuseProject {
            id: project.to_owned(),
            name: project.to_owned(),
            organization: LangfuseOrganization {
                id: "promptops".to_owned(),
                name: "promptops".to_owned(),
            },
            metadata: serde_json::json!({}),
        }],
    }))
}

/// Langfuse's error names by status (what its own server answers in `error`).
fn error_name(status: StatusCode, kind: &str) -> &'static str {
    if kind.ends_with("/gates-unmet") {
        return "PromotionBlockedError";
    }
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "InvalidRequestError",
        StatusCode::UNAUTHORIZED => "UnauthorizedError",
        StatusCode::FORBIDDEN => "ForbiddenError",
        StatusCode::NOT_FOUND => "LangfuseNotFoundError",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowedError",
        StatusCode::CONFLICT => "LangfuseConflictError",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLargeError",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaTypeError",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
        _ if status.is_server_error() => "InternalServerError",
        _ => "ApiError",
    }
}

/// The layer of every Langfuse-compatible route: a problem+json answer (a handler's,
/// the permission check's, an extractor's) becomes Langfuse's `{message, error}` shape,
/// with the problem's extras (gates, request, current, findings) kept, so the SDKs'
/// exceptions carry a sentence that says what to do.
pub async fn errors_as_langfuse(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Problems are small; one larger than this is not ours to reshape.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        parts.headers.remove(header::CONTENT_LENGTH);
        return (parts, "").into_response();
    };
    let problem: promptops_api::Problem = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    let error = LangfuseError {
        message: problem.detail,
        error: error_name(parts.status, &problem.kind).to_owned(),
        gates: problem.gates,
        request: problem.request,
        current: problem.current,
        errors: problem.errors,
    };
    let body = serde_json::to_vec(&error).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}
