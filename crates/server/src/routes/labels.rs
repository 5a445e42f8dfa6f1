use super::PromptPath;
use crate::auth::{Permission, RequestActor, authorize};
use crate::extract::{ApiJson, ApiPath, ApiQuery, parse_version};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptops_store::{Label, LabelMove, LabelMoveRequest, MoveTarget, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use utoipa::ToSchema;

/// Where each environment's label points.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/labels", tag = "labels", params(PromptPath),
    responses((status = 200, body = Vec<Label>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn labels<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiPath(p): ApiPath<PromptPath>,
) -> ApiResult<Json<Vec<Label>>> {
    authorize(&actor, Permission::ReadRegistry)?;
    Ok(Json(state.store.labels(&p.project, &p.id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only this environment's moves.
    pub env: Option<String>,
}

/// Every move of the prompt's labels: who, when, from, to, why.
#[utoipa::path(get, path = "/v1/projects/{project}/prompts/{id}/history", tag = "labels", params(PromptPath, HistoryQuery),
    responses((status = 200, body = Vec<LabelMove>), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn history<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiPath(p): ApiPath<PromptPath>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<LabelMove>>> {
    authorize(&actor, Permission::ReadRegistry)?;
    Ok(Json(
        state
            .store
            .label_history(&p.project, &p.id, q.env.as_deref())
            .await?,
    ))
}

/// `expected_from`: the version the caller saw the label at (`null`: not set). When the
/// label has moved since, the move is refused with 409 and the current state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub environment: String,
    #[schema(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub version: String,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub expected_from: Option<Option<String>>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub environment: String,
    /// A version that was live in the environment before; by default the one served
    /// before the current one.
    #[schema(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub expected_from: Option<Option<String>>,
    pub reason: Option<String>,
}

/// Tells an absent `expected_from` (no check) from an explicit `null` (expect unset).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn normalise_expected(expected: Option<Option<String>>) -> ApiResult<Option<Option<String>>> {
    expected
        .map(|e| {
            e.map(|v| parse_version(&v).map(|v| v.to_string()))
                .transpose()
        })
        .transpose()
}

/// Points an environment at a version.
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/promote", tag = "labels", params(PromptPath), request_body = PromoteRequest,
    responses((status = 200, body = LabelMove), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, description = "the label moved since it was read, or already points there", body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn promote<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiPath(p): ApiPath<PromptPath>,
    ApiJson(body): ApiJson<PromoteRequest>,
) -> ApiResult<Json<LabelMove>> {
    authorize(&actor, Permission::MoveLabel)?;
    let request = LabelMoveRequest {
        prompt_id: p.id,
        environment: body.environment,
        target: MoveTarget::Promote(parse_version(&body.version)?),
        expected_from: normalise_expected(body.expected_from)?,
        reason: body.reason,
    };
    Ok(Json(
        state.store.move_label(&p.project, &request, &actor).await?,
    ))
}

/// Moves an environment back to the version it served before (or to `to`).
#[utoipa::path(post, path = "/v1/projects/{project}/prompts/{id}/rollback", tag = "labels", params(PromptPath), request_body = RollbackRequest,
    responses((status = 200, body = LabelMove), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 409, body = crate::problem::Problem, content_type = "application/problem+json"),
              (status = 422, description = "nothing to roll back to, or `to` was never live there", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn rollback<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiPath(p): ApiPath<PromptPath>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> ApiResult<Json<LabelMove>> {
    authorize(&actor, Permission::MoveLabel)?;
    let target = match &body.to {
        Some(v) => MoveTarget::RollbackTo(parse_version(v)?),
        None => MoveTarget::RollbackPrevious,
    };
    let request = LabelMoveRequest {
        prompt_id: p.id,
        environment: body.environment,
        target,
        expected_from: normalise_expected(body.expected_from)?,
        reason: body.reason,
    };
    Ok(Json(
        state.store.move_label(&p.project, &request, &actor).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResolvePath {
    pub project: String,
    /// Environment name.
    pub env: String,
    pub id: String,
}

/// What an environment serves now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resolved {
    pub id: String,
    pub environment: String,
    pub version: String,
    pub content_hash: String,
    /// `{provider, name, params}`.
    #[schema(value_type = Object)]
    pub model: JsonValue,
    /// Declared variables: name → `{type, required, default}`.
    #[schema(value_type = Object)]
    pub variables: JsonValue,
    /// The whole canonical content (template or messages included).
    #[schema(value_type = Object)]
    pub content: JsonValue,
}

/// Fetches what an environment serves now, with `ETag` = the content hash; answers
/// `304 Not Modified` when `If-None-Match` already names it.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/prompts/{id}", tag = "delivery", params(ResolvePath),
    responses((status = 200, body = Resolved, headers(("ETag" = String, description = "the content hash, quoted"))),
              (status = 304, description = "the caller's copy is current"),
              (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn resolve<S: Store>(
    State(state): State<AppState<S>>,
    RequestActor(actor): RequestActor,
    ApiPath(p): ApiPath<ResolvePath>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    authorize(&actor, Permission::ReadRegistry)?;
    let v = state.store.resolve(&p.project, &p.id, &p.env).await?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", v.content_hash)).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stored content hash is not a header value",
        )
    })?;
    if headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|h| if_none_match_hits(h, &v.content_hash))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let content = v.content;
    let model = content.get("model").cloned().unwrap_or(JsonValue::Null);
    let variables = content
        .get("variables")
        .cloned()
        .unwrap_or_else(|| JsonValue::Object(Default::default()));
    let body = Resolved {
        id: v.id,
        environment: p.env,
        version: v.version,
        content_hash: v.content_hash,
        model,
        variables,
        content,
    };
    Ok(([(header::ETAG, etag)], Json(body)).into_response())
}

/// Whether an `If-None-Match` header value names `hash` (weak comparison, `*` matches).
fn if_none_match_hits(header: &HeaderValue, hash: &str) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    text.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(if_none_match_hits(&h("\"abc\""), "abc"));
        assert!(if_none_match_hits(&h("\"x\", W/\"abc\""), "abc"));
        assert!(if_none_match_hits(&h("*"), "abc"));
        assert!(!if_none_match_hits(&h("\"abd\""), "abc"));
    }
}
