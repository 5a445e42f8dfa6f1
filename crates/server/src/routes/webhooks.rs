//! Outbound webhooks of a project: subscriptions (admins only: a URL may carry a
//! receiver's token, and a subscription makes the server call out), their delivery log
//! and test deliveries. The secret is in the answer to the creation and nowhere else:
//! the store keeps it sealed ([`crate::webhooks::seal`]), lists never carry it.

use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::routes::projects::ProjectPath;
use crate::state::AppState;
use crate::webhooks::{new_secret, now_ms, send};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use promptops_api::webhooks::is_event_type;
use promptops_api::{CreateWebhook, CreatedWebhook, Webhook, WebhookDelivery};
use promptops_core::clock::now_rfc3339;
use promptops_store::Store;
use promptops_store::webhooks::{NewWebhook, test_event};
use serde::Deserialize;

/// The longest description.
const MAX_DESCRIPTION_CHARS: usize = 500;
/// The most event types one subscription may list.
const MAX_EVENTS: usize = 64;
/// Deliveries listed by default, and at most.
const DEFAULT_DELIVERIES: u64 = 50;
const MAX_DELIVERIES: u64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookPath {
    pub project: String,
    /// The subscription's id (`wh_…`).
    pub webhook: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<u64>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The project's webhook subscriptions, oldest first. Never their secrets.
#[utoipa::path(get, path = "/v1/projects/{project}/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(ProjectPath), responses((status = 200, body = Vec<Webhook>)))]
pub async fn list<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<ProjectPath>,
) -> ApiResult<Json<Vec<Webhook>>> {
    state.store.project(&p.project).await?;
    Ok(Json(state.store.webhooks(&p.project).await?))
}

/// Subscribes a URL to the project's events. The answer holds the signing secret
/// (`whsec_…`), shown this once.
#[utoipa::path(post, path = "/v1/projects/{project}/webhooks", tag = "webhooks", operation_id = "create_webhook",
    params(ProjectPath), request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook),
              (status = 422, description = "a URL that is not http(s) or reaches a non-public address, an unknown event type", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn create<S: Store>(
    State(state): State<AppState<S>>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    send::check_url(&body.url, state.hooks.allow_private)
        .map_err(|e| ApiError::unprocessable(format!("url: {e}")))?;
    if body.events.len() > MAX_EVENTS {
        return Err(ApiError::unprocessable(format!(
            "events: at most {MAX_EVENTS} event types"
        )));
    }
    if let Some(bad) = body.events.iter().find(|e| !is_event_type(e)) {
        return Err(ApiError::unprocessable(format!(
            "events: unknown event type `{}`; use one of {} or `*` (every type)",
            crate::problem::shown(bad),
            promptops_api::webhooks::EVENT_TYPES.join(", ")
        )));
    }
    if let Some(d) = &body.description
        && d.chars().count() > MAX_DESCRIPTION_CHARS
    {
        return Err(ApiError::unprocessable(format!(
            "description: at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    let id = format!(
        "wh_{}",
        crate::auth::secrets::random_token(8).map_err(internal)?
    );
    let secret = new_secret().map_err(internal)?;
    let sealed = state.hooks.sealer.seal(&id, &secret).map_err(internal)?;
    let new = NewWebhook {
        id,
        project: p.project,
        url: body.url,
        events: body.events,
        description: body.description,
        secret_sealed: sealed,
    };
    let webhook = state.store.create_webhook(&new, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook { secret, webhook }),
    ))
}

/// Deletes a subscription: nothing more is sent to it, pending deliveries included,
/// and its delivery log goes with it.
#[utoipa::path(delete, path = "/v1/projects/{project}/webhooks/{webhook}", tag = "webhooks", operation_id = "delete_webhook",
    params(WebhookPath), responses((status = 200, body = Webhook),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn remove<S: Store>(
    State(state): State<AppState<S>>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiPath(p): ApiPath<WebhookPath>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(
        state
            .store
            .delete_webhook(&p.project, &p.webhook, &caller.actor())
            .await?,
    ))
}

/// A subscription's deliveries, newest first, each with its attempts (status code,
/// error, duration) and the body sent.
#[utoipa::path(get, path = "/v1/projects/{project}/webhooks/{webhook}/deliveries", tag = "webhooks", operation_id = "webhook_deliveries",
    params(WebhookPath, DeliveriesQuery), responses((status = 200, body = Vec<WebhookDelivery>),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn deliveries<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<WebhookPath>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    let limit = q
        .limit
        .unwrap_or(DEFAULT_DELIVERIES)
        .clamp(1, MAX_DELIVERIES);
    Ok(Json(
        state
            .store
            .deliveries(&p.project, &p.webhook, limit)
            .await?,
    ))
}

/// Sends a `webhook.test` event to the subscription now (signed, retried and logged
/// like any delivery). Answers the pending delivery; its outcome shows in the log.
#[utoipa::path(post, path = "/v1/projects/{project}/webhooks/{webhook}/test", tag = "webhooks", operation_id = "test_webhook",
    params(WebhookPath), responses((status = 202, body = WebhookDelivery),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn test<S: Store>(
    State(state): State<AppState<S>>,
    ApiPath(p): ApiPath<WebhookPath>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let event_id = format!(
        "evt_test_{}",
        crate::auth::secrets::random_token(12).map_err(internal)?
    );
    let event = test_event(&p.project, &p.webhook, event_id, now_rfc3339());
    let delivery = state
        .store
        .enqueue_test_delivery(&p.project, &p.webhook, &event, now_ms())
        .await?;
    state.hooks.wake();
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
