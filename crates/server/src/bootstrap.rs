//! First start: the token signing secret, and the first admin on an empty store.

use crate::AuthConfig;
use crate::auth::secrets::{self, SecretError};
use promptops_store::{Actor, NewUser, Store, StoreError, User};

/// The first admin's name.
pub const ADMIN: &str = "admin";
const SECRET_SETTING: &str = "jwt_secret";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("PROMPTOPS_JWT_SECRET is too short: use at least 32 characters")]
    WeakJwtSecret,
    #[error("PROMPTOPS_ADMIN_PASSWORD is too short: use at least {0} characters")]
    WeakAdminPassword(usize),
}

/// The signing secret: `from_env` when given, else the store's (made on first start).
pub async fn auth_config<S: Store>(
    store: &S,
    from_env: Option<String>,
) -> Result<AuthConfig, BootstrapError> {
    let secret = match from_env {
        Some(s) if s.len() >= 32 => s,
        Some(_) => return Err(BootstrapError::WeakJwtSecret),
        None => {
            store
                .setting_or_init(SECRET_SETTING, &secrets::random_token(32)?)
                .await?
        }
    };
    Ok(AuthConfig {
        jwt_secret: secret.into_bytes(),
    })
}

/// The admin made on an empty store, and the password when it was generated (to show
/// once).
pub struct Bootstrapped {
    pub user: User,
    pub generated_password: Option<String>,
}

/// On a store with no user: creates `admin` (admin of every project) with
/// `password` or a generated one. `None` when the store has users already.
pub async fn first_admin<S: Store>(
    store: &S,
    password: Option<String>,
) -> Result<Option<Bootstrapped>, BootstrapError> {
    if let Some(p) = &password
        && p.chars().count() < crate::routes::users::MIN_PASSWORD_CHARS
    {
        return Err(BootstrapError::WeakAdminPassword(
            crate::routes::users::MIN_PASSWORD_CHARS,
        ));
    }
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (secrets::random_token(12)?, true),
    };
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || secrets::hash_password(&password))
            .await
            .map_err(|e| SecretError::Hash(e.to_string()))??
    };
    let new = NewUser {
        name: ADMIN.to_owned(),
        password_hash: hash,
        teams: Vec::new(),
    };
    let created = store
        .bootstrap_admin(&new, &Actor::new("promptops-bootstrap"))
        .await?;
    Ok(created.map(|user| Bootstrapped {
        user,
        generated_password: generated.then_some(password),
    }))
}
