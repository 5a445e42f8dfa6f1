//! What every handler shares.

use std::sync::Arc;

pub struct AppState<S> {
    pub store: Arc<S>,
}

// Not derived: a derive would demand `S: Clone`, and the store is behind an Arc.
impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            store: self.store.clone(),
        }
    }
}
