//! The Langfuse-compatible prompt API's wire types (`/api/public/v2/prompts…`): what the
//! Langfuse SDKs send and parse, with Langfuse's field names (camelCase). Requests are
//! read leniently (unknown fields ignored), as Langfuse's own server does: an SDK newer
//! than this API may send fields it does not know.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// `text` or `chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LangfusePromptType {
    Text,
    Chat,
}

/// One message of a chat prompt as Langfuse answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseChatMessage {
    pub role: String,
    /// `{{variable}}` placeholders only (see `docs/langfuse.md`).
    pub content: String,
    /// Always `chatmessage` (Langfuse's SDKs tell messages from placeholders by it).
    #[serde(rename = "type")]
    pub kind: String,
    /// The message's `name`, when the prompt file gives one (Langfuse's `compile()`
    /// does not pass it on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A text prompt's text, or a chat prompt's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LangfuseContent {
    Text(String),
    Chat(Vec<LangfuseChatMessage>),
}

/// One prompt version, as `GET /api/public/v2/prompts/{name}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePrompt {
    /// The name asked for (`support/answer` and `support.answer` name the same prompt).
    pub name: String,
    /// The version's place in the prompt's publication order: 1 for the first.
    pub version: u64,
    #[serde(rename = "type")]
    pub kind: LangfusePromptType,
    pub prompt: LangfuseContent,
    /// The model binding: `model` (name), `provider`, then its parameters.
    #[schema(value_type = Object)]
    pub config: Json,
    /// The environments serving this version, as labels (`prod` is `production` unless
    /// configured otherwise), and `latest` when it is the newest version. Never null.
    pub labels: Vec<String>,
    /// The version's tags. Never null.
    pub tags: Vec<String>,
    /// The version's changelog.
    pub commit_message: Option<String>,
    /// Langfuse resolves prompts that include others; promptops prompts are
    /// self-contained, so this is always null.
    #[schema(value_type = Option<Object>)]
    pub resolution_graph: Option<Json>,
    /// `<prompt id>@<semver>`.
    pub id: String,
    /// The project (the API key's).
    pub project_id: String,
    pub created_at: String,
    /// Versions are immutable: the same as `createdAt`.
    pub updated_at: String,
    /// Who published it.
    pub created_by: String,
    /// The prompt id, the semver version and the content hash, as the promptops API
    /// and execution events name them.
    pub promptops_id: String,
    pub promptops_version: String,
    pub content_hash: String,
}

/// A prompt in the list answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePromptMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: LangfusePromptType,
    /// Every version, 1 to the newest.
    pub versions: Vec<u64>,
    /// Every label on any version of the prompt (`latest` included).
    pub labels: Vec<String>,
    /// The newest version's tags.
    pub tags: Vec<String>,
    /// When the newest version was published.
    pub last_updated_at: String,
    /// The newest version's config.
    #[schema(value_type = Object)]
    pub last_config: Json,
}

/// The list's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LangfusePageMeta {
    pub page: u64,
    pub limit: u64,
    pub total_items: u64,
    pub total_pages: u64,
}

/// `GET /api/public/v2/prompts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfusePromptList {
    pub data: Vec<LangfusePromptMeta>,
    pub meta: LangfusePageMeta,
}

/// A chat message as a Langfuse SDK sends it to create a version (placeholders,
/// `{"type": "placeholder", "name": …}`, are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseNewMessage {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A text, or chat messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LangfuseNewContent {
    Text(String),
    Chat(Vec<LangfuseNewMessage>),
}

/// `POST /api/public/v2/prompts`: a new version of `name` (the prompt is created with
/// its first version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LangfuseCreatePrompt {
    pub name: String,
    /// `text` (the default) or `chat`.
    #[serde(default, rename = "type")]
    pub kind: Option<LangfusePromptType>,
    pub prompt: LangfuseNewContent,
    /// `model` (`provider:name`), `provider` and parameters; absent or `{}` keeps the
    /// previous version's model binding.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Json>,
    /// Environments (as labels) to promote the new version to, through their policies.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// The new version's tags (absent: the previous version's).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The new version's changelog.
    #[serde(default)]
    pub commit_message: Option<String>,
}

/// `PATCH /api/public/v2/prompts/{name}/versions/{version}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LangfuseUpdateLabels {
    /// Environments (as labels) to promote this version to, each through its policy;
    /// labels it has already stay.
    pub new_labels: Vec<String>,
}

/// An error as Langfuse's server answers it: `message` says what and how to fix it,
/// `error` names the kind. A blocked promotion adds the gates and the request it
/// opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseError {
    pub message: String,
    pub error: String,
    /// Every gate of a blocked promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub gates: Option<Json>,
    /// The promotion request waiting for approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub request: Option<Json>,
    /// On a conflict: the state that won.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<Json>,
    /// A prompt file that does not validate: the findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Json>,
}

/// The organisation of [`LangfuseProject`]: promptops has none, so the registry itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseOrganization {
    pub id: String,
    pub name: String,
}

/// The API key's project, as `GET /api/public/projects` answers it (what the SDKs'
/// `auth_check()` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseProject {
    pub id: String,
    pub name: String,
    pub organization: LangfuseOrganization,
    #[schema(value_type = Object)]
    pub metadata: Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LangfuseProjects {
    pub data: Vec<LangfuseProject>,
}
