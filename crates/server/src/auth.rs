//! The seams for who may do what. Every write carries an [`Actor`]; every route names
//! the [`Permission`] it needs and asks [`authorize`]. Until users, roles and API keys
//! arrive (the governance issue), the actor is the `X-Promptops-Actor` header and
//! every permission is granted; the routes will not change when that does.

use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use promptops_store::Actor;

/// The header that names the actor until authentication exists.
pub const ACTOR_HEADER: &str = "x-promptops-actor";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadRegistry,
    ManageProjects,
    PublishVersion,
    MoveLabel,
    AttachEval,
    ReadAudit,
}

/// The actor of a request.
pub struct RequestActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for RequestActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let name = match parts.headers.get(ACTOR_HEADER) {
            None => "anonymous".to_owned(),
            Some(v) => {
                let name = v.to_str().map_err(|_| {
                    ApiError::bad_request(format!("the {ACTOR_HEADER} header is not visible ASCII"))
                })?;
                let name = name.trim();
                if name.is_empty() || name.len() > 200 {
                    return Err(ApiError::bad_request(format!(
                        "the {ACTOR_HEADER} header must name the actor in 1 to 200 characters"
                    )));
                }
                name.to_owned()
            }
        };
        Ok(RequestActor(Actor::new(name)))
    }
}

/// Whether `actor` may do what `permission` covers. Grants everything for now.
pub fn authorize(actor: &Actor, permission: Permission) -> Result<(), ApiError> {
    let _ = (actor, permission);
    Ok(())
}
