//! The store's typed errors. The server maps each kind to one HTTP status; nothing
//! here is a panic or a silent loss.

use serde_json::Value as Json;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The project, prompt, version, environment or event does not exist.
    #[error("{what} `{key}` not found")]
    NotFound { what: &'static str, key: String },

    /// The write lost to the stored state (a version number taken by other content, a
    /// label that moved since the caller read it, a race with another writer). Nothing
    /// was changed; `current` is the state that won.
    #[error("{detail}")]
    Conflict {
        detail: String,
        current: Option<Json>,
    },

    /// The request cannot be carried out as asked (a version that does not increase, a
    /// rollback with nowhere to go back to, an unknown environment name).
    #[error("{detail}")]
    Invalid { detail: String },

    /// The actor may not do this whatever their role (separation of duties: nobody
    /// approves their own change).
    #[error("{detail}")]
    Forbidden { detail: String },

    /// A stored row could not be read back (edited by hand, or written by a newer
    /// promptops).
    #[error("stored data is unreadable: {detail}")]
    Corrupt { detail: String },

    /// The database's schema is not one this build can use.
    #[error("migration: {detail}")]
    Migration { detail: String },

    /// The database refused or could not be reached.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub(crate) fn not_found(what: &'static str, key: impl Into<String>) -> StoreError {
        StoreError::NotFound {
            what,
            key: key.into(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            detail: detail.into(),
        }
    }

    pub(crate) fn conflict(detail: impl Into<String>, current: Option<Json>) -> StoreError {
        StoreError::Conflict {
            detail: detail.into(),
            current,
        }
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> StoreError {
        StoreError::Forbidden {
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            detail: detail.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    /// A unique-key violation is a lost race with another writer (the write lock makes
    /// this rare; the keys make it impossible to both win).
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                detail: format!("another writer got there first: {}", db.message()),
                current: None,
            },
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
