//! What every handler shares.

use crate::Settings;
use crate::auth::limit::{HashPool, LoginLimiter};
use crate::auth::token::Signer;
use crate::delivery::Delivery;
use std::sync::Arc;

pub struct AppState<S> {
    pub store: Arc<S>,
    /// What environments serve, from memory first (see [`crate::delivery`]).
    pub delivery: Arc<Delivery<S>>,
    pub auth: Arc<AuthState>,
    /// The server's settings (`[server]`).
    pub settings: Arc<Settings>,
    /// Execution events in and metrics out (see [`crate::telemetry`]).
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// What `/metrics` shows (see [`crate::exposition`]).
    pub metrics: Arc<crate::exposition::ServerMetrics>,
    /// Outbound webhooks: sealing secrets, waking the dispatcher.
    pub hooks: Arc<crate::webhooks::Hooks<S>>,
    /// OTLP export, when `otlp_endpoint` is set (see [`crate::otlp`]).
    pub otlp: Option<Arc<crate::otlp::Otlp>>,
    /// What the web UI keeps between visits (see [`crate::ui`]).
    pub ui: Arc<crate::ui::UiState>,
    /// Signs audit checkpoints (see [`crate::checkpoints`]).
    pub checkpoints: Arc<crate::checkpoints::Checkpointer>,
}

/// Token signing, the login limiter and the pool password hashes run on.
#[derive(Debug)]
pub struct AuthState {
    pub signer: Signer,
    pub login_limiter: LoginLimiter,
    pub hash_pool: HashPool,
    /// What the web UI's CSRF tokens are keyed with (the token-signing secret).
    pub csrf_secret: Secret,
}

/// Key material that must never be printed (`Debug` says so instead).
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<S> AppState<S> {
    /// Where the server's gauges read their values.
    pub fn gauges(&self) -> crate::exposition::Gauges<S> {
        crate::exposition::Gauges {
            store: self.store.clone(),
            delivery: self.delivery.clone(),
            telemetry: self.telemetry.clone(),
            hooks: self.hooks.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

// Not derived: a derive would demand `S: Clone`, and the store is behind an Arc.
impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
            delivery: self.delivery.clone(),
            auth: self.auth.clone(),
            settings: self.settings.clone(),
            telemetry: self.telemetry.clone(),
            metrics: self.metrics.clone(),
            hooks: self.hooks.clone(),
            otlp: self.otlp.clone(),
            ui: self.ui.clone(),
            checkpoints: self.checkpoints.clone(),
        }
    }
}
