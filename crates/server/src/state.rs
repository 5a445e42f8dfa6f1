//! What every handler shares.

use crate::auth::limit::LoginLimiter;
use crate::auth::token::Signer;
use std::sync::Arc;

pub struct AppState<S> {
    pub store: Arc<S>,
    pub auth: Arc<AuthState>,
}

/// Token signing and the login limiter.
#[derive(Debug)]
pub struct AuthState {
    pub signer: Signer,
    pub login_limiter: LoginLimiter,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimiter")
    }
}

// Not derived: a derive would demand `S: Clone`, and the store is behind an Arc.
impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
            auth: self.auth.clone(),
        }
    }
}
