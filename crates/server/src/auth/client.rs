//! The client's address, as the login limiter counts it: the TCP peer, or — only when
//! the server is told it sits behind a proxy — the last `X-Forwarded-For` entry (the
//! address the proxy itself saw; earlier entries are whatever the client wrote).

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The client's address (`None`: unknown, as for requests made in-process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<AppState<S>> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if !state.settings.trust_forwarded_for {
            return Ok(ClientAddress(peer));
        }
        // Only the entry the proxy appended; anything before it came from the client.
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
        Ok(ClientAddress(forwarded.or(peer)))
    }
}
