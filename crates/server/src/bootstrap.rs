//! First start: the token signing secret, and the first admin on an empty store.
//!
//! The secret never lives in the database (a backup or a readable file would let its
//! reader mint an admin token): it comes from `PROMPTOPS_JWT_SECRET`, or from a key
//! file made owner-only (0600) on first start. A secret that older versions kept in the
//! database is moved into the file. Rotation: move the file to `<file>.previous` (or
//! set `PROMPTOPS_JWT_SECRET_PREVIOUS`) and restart — a new secret is made, sessions
//! signed with the previous one keep working until they expire.

use crate::AuthConfig;
use crate::auth::secrets::{self, SecretError};
use promptops_api::User;
use promptops_store::private_files;
use promptops_store::{Actor, NewUser, Store, StoreError};
use std::path::{Path, PathBuf};

/// The first admin's name.
pub const ADMIN: &str = "admin";
/// Where versions before 0.2 kept the signing secret.
const LEGACY_SECRET_SETTING: &str = "jwt_secret";
/// The shortest secret accepted from the environment or a file.
pub const MIN_SECRET_CHARS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{what} is too short: use at least {MIN_SECRET_CHARS} characters")]
    WeakJwtSecret { what: String },
    #[error("PROMPTOPS_ADMIN_PASSWORD is too short: use at least {0} characters")]
    WeakAdminPassword(usize),
    #[error(
        "{what} is not an audit checkpoint key: use 64 hex digits (an Ed25519 seed), e.g. from `openssl rand -hex 32`"
    )]
    BadCheckpointKey { what: String },
    #[error("the signing key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the signing secret may come from, in order.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `PROMPTOPS_JWT_SECRET`.
    pub env: Option<String>,
    /// `PROMPTOPS_JWT_SECRET_PREVIOUS`: a secret being rotated out.
    pub previous_env: Option<String>,
    /// The key file (made on first start when neither variable is set).
    pub file: PathBuf,
}

/// Where the secret in use came from, for the start-up line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    Environment,
    File(PathBuf),
    /// Made now (or moved out of the database) into this file.
    NewFile(PathBuf),
}

/// The signing secret (and a previous one during a rotation).
pub async fn auth_config<S: Store>(
    store: &S,
    sources: &SecretSources,
) -> Result<(AuthConfig, SecretOrigin), BootstrapError> {
    // Whatever else happens, the database no longer holds a secret.
    let legacy = store.take_setting(LEGACY_SECRET_SETTING).await?;
    let (secret, origin) = match &sources.env {
        Some(s) => (
            strong(s.trim(), "PROMPTOPS_JWT_SECRET")?,
            SecretOrigin::Environment,
        ),
        None => match read_key_file(&sources.file)? {
            Some(s) => (s, SecretOrigin::File(sources.file.clone())),
            None => {
                let secret = match legacy {
                    Some(old) => old,
                    None => secrets::random_token(32)?,
                };
                match write_key_file(&sources.file, &secret) {
                    Ok(()) => (secret, SecretOrigin::NewFile(sources.file.clone())),
                    // Another replica made it first: use theirs.
                    Err(BootstrapError::KeyFile { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        let theirs = read_key_file(&sources.file)?.ok_or_else(|| {
                            BootstrapError::KeyFile {
                                path: sources.file.clone(),
                                source,
                            }
                        })?;
                        (theirs, SecretOrigin::File(sources.file.clone()))
                    }
                    Err(e) => return Err(e),
                }
            }
        },
    };
    let previous = match &sources.previous_env {
        Some(p) => Some(strong(p.trim(), "PROMPTOPS_JWT_SECRET_PREVIOUS")?),
        None => read_key_file(&previous_file(&sources.file))?,
    };
    Ok((
        AuthConfig {
            jwt_secret: secret.into_bytes(),
            previous_jwt_secret: previous.map(String::into_bytes),
            checkpoint_seed: None,
        },
        origin,
    ))
}

/// The checkpoint signing key: `PROMPTOPS_CHECKPOINT_KEY` (`env`, 64 hex digits: an
/// Ed25519 seed) or `file`, made on first start (owner-only) when neither exists.
/// Kept apart from the token secret: whoever can mint tokens still cannot sign
/// checkpoints, and the reverse.
pub fn checkpoint_seed(
    env: Option<&str>,
    file: &Path,
) -> Result<([u8; 32], SecretOrigin), BootstrapError> {
    let parse = |text: &str, what: &str| {
        parse_seed(text.trim()).ok_or_else(|| BootstrapError::BadCheckpointKey {
            what: what.to_owned(),
        })
    };
    if let Some(text) = env {
        return Ok((
            parse(text, "PROMPTOPS_CHECKPOINT_KEY")?,
            SecretOrigin::Environment,
        ));
    }
    let what = file.display().to_string();
    if let Some(text) = read_key_file(file)? {
        return Ok((parse(&text, &what)?, SecretOrigin::File(file.to_path_buf())));
    }
    let seed = secrets::random_token(32)?;
    match write_key_file(file, &seed) {
        Ok(()) => Ok((
            parse(&seed, &what)?,
            SecretOrigin::NewFile(file.to_path_buf()),
        )),
        // Another replica made it first: use theirs.
        Err(BootstrapError::KeyFile { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            let theirs = read_key_file(file)?.unwrap_or_default();
            Ok((
                parse(&theirs, &what)?,
                SecretOrigin::File(file.to_path_buf()),
            ))
        }
        Err(e) => Err(e),
    }
}

fn parse_seed(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(seed)
}

/// The file a rotated-out secret is kept in: `<file>.previous`.
pub fn previous_file(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".previous");
    PathBuf::from(name)
}

fn strong(secret: &str, what: &str) -> Result<String, BootstrapError> {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(BootstrapError::WeakJwtSecret {
            what: what.to_owned(),
        });
    }
    Ok(secret.to_owned())
}

/// The secret in `path`, if the file exists (made owner-only if it was not).
fn read_key_file(path: &Path) -> Result<Option<String>, BootstrapError> {
    let key_file = |source| BootstrapError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if private_files::restrict(path).map_err(key_file)? {
                tracing::warn!(
                    "{} was readable by others; it is owner-only (0600) now",
                    path.display()
                );
            }
            strong(text.trim(), &path.display().to_string()).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(key_file(e)),
    }
}

fn write_key_file(path: &Path, secret: &str) -> Result<(), BootstrapError> {
    let key_file = |source| BootstrapError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_files::create_private_dir(dir).map_err(key_file)?;
    }
    private_files::write_new_private(path, format!("{secret}\n").as_bytes()).map_err(key_file)
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
    // The system's own actor: user names starting `promptops-` are refused.
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
