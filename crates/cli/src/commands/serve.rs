//! `promptops serve`: opens the store the settings name (SQLite by default) and serves
//! the API until Ctrl-C or SIGTERM.

use crate::Outcome;
use crate::cli::ServeArgs;
use anyhow::{Context, Result, bail};
use promptops_core::config::{LogFormat, LogLevel, ServerConfig};
use promptops_server::bootstrap;
use promptops_store::SqlStore;
use std::path::{Path, PathBuf};

/// Where the embedded registry lives, relative to the folder `serve` runs in.
pub const DEFAULT_DATABASE: &str = ".promptops/registry.db";
/// Where the signing key file goes when the registry is not a SQLite file.
pub const DEFAULT_SECRET_FILE: &str = ".promptops/jwt-secret";

/// The settings in effect: `[server]` and PROMPTOPS_* (already in `base`), then flags.
pub fn settings(base: &ServerConfig, flags: &ServeArgs) -> Result<ServerConfig> {
    let mut s = base.clone();
    if let Some(v) = &flags.addr {
        s.addr.clone_from(v);
    }
    if flags.database_url.is_some() {
        s.database_url.clone_from(&flags.database_url);
    }
    if flags.database_schema.is_some() {
        s.database_schema.clone_from(&flags.database_schema);
    }
    if flags.redis_url.is_some() {
        s.redis_url.clone_from(&flags.redis_url);
    }
    if flags.otlp_endpoint.is_some() {
        s.otlp_endpoint.clone_from(&flags.otlp_endpoint);
    }
    if let Some(v) = &s.otlp_endpoint {
        promptops_server::otlp::check_endpoint(v)?;
    }
    if let Some(v) = flags.max_version_bytes {
        s.max_version_bytes = v;
    }
    if let Some(v) = flags.body_limit_bytes {
        s.body_limit_bytes = v;
    }
    if flags.jwt_secret_file.is_some() {
        s.jwt_secret_file.clone_from(&flags.jwt_secret_file);
    }
    if flags.trust_forwarded_for {
        s.trust_forwarded_for = true;
    }
    match flags.log_format.as_deref() {
        Some("json") => s.log_format = LogFormat::Json,
        Some(_) => s.log_format = LogFormat::Text,
        None => {}
    }
    s.langfuse.check().map_err(anyhow::Error::msg)?;
    if s.database_schema.is_some() && s.database_url.is_none() {
        bail!("database_schema is for PostgreSQL: give database_url (postgres://…) too");
    }
    Ok(s)
}

pub fn run(settings: ServerConfig) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(Outcome::Ok)
}

async fn serve(settings: ServerConfig) -> Result<()> {
    init_logging(&settings);
    let listener = tokio::net::TcpListener::bind(&settings.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? choose another with --addr",
                settings.addr
            )
        })?;
    let local = listener
        .local_addr()
        .context("the listener has no address")?;
    let (store, label) = open_store(&settings).await?;
    let secret = secret_file(&settings, store.path());
    start(store, listener, local, &label, secret, settings).await?;
    eprintln!("promptops registry stopped");
    Ok(())
}

/// The store the settings name, and how to say which it is.
async fn open_store(s: &ServerConfig) -> Result<(SqlStore, String)> {
    match s.database_url.as_deref() {
        None => {
            let store =
                SqlStore::sqlite_with(Path::new(DEFAULT_DATABASE), s.sqlite_pool_size).await?;
            Ok((store, format!("SQLite {DEFAULT_DATABASE}")))
        }
        Some(url) if url.starts_with("sqlite:") && s.database_schema.is_some() => {
            bail!("database_schema is for PostgreSQL; a SQLite registry is its own file")
        }
        Some(url) if url.starts_with("sqlite:") => {
            let store = SqlStore::sqlite_url(url, s.sqlite_pool_size).await?;
            let label = format!(
                "SQLite {}",
                store
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            Ok((store, label))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let schema = s.database_schema.as_deref();
            let store = SqlStore::postgres_in(url, schema, s.postgres_pool_size).await?;
            let label = format!(
                "PostgreSQL{}",
                schema.map(|s| format!(", schema {s}")).unwrap_or_default()
            );
            Ok((store, label))
        }
        Some(url) => bail!(
            "database_url `{}`: use postgres://user@host:port/db or sqlite://PATH",
            promptops_core::config::redact_url(url)
        ),
    }
}

/// The signing key file: as set, else beside the SQLite database, else
/// `.promptops/jwt-secret`.
fn secret_file(settings: &ServerConfig, database: Option<&Path>) -> PathBuf {
    if let Some(file) = &settings.jwt_secret_file {
        return file.clone();
    }
    match database.and_then(Path::parent) {
        Some(dir) => dir.join("jwt-secret"),
        None => PathBuf::from(DEFAULT_SECRET_FILE),
    }
}

/// Signing secret and first admin, then serve.
async fn start(
    store: SqlStore,
    listener: tokio::net::TcpListener,
    local: std::net::SocketAddr,
    label: &str,
    secret_file: PathBuf,
    settings: ServerConfig,
) -> Result<()> {
    let sources = bootstrap::SecretSources {
        env: std::env::var("PROMPTOPS_JWT_SECRET").ok(),
        previous_env: std::env::var("PROMPTOPS_JWT_SECRET_PREVIOUS").ok(),
        file: secret_file,
    };
    let (mut auth, origin) = bootstrap::auth_config(&store, &sources).await?;
    let checkpoint_file = settings.checkpoint_key_file.clone().unwrap_or_else(|| {
        sources.file.parent().map_or_else(
            || PathBuf::from("checkpoint-key"),
            |d| d.join("checkpoint-key"),
        )
    });
    let (seed, checkpoint_origin) = bootstrap::checkpoint_seed(
        std::env::var("PROMPTOPS_CHECKPOINT_KEY").ok().as_deref(),
        &checkpoint_file,
    )?;
    auth.checkpoint_seed = Some(seed);
    if let bootstrap::SecretOrigin::NewFile(path) = checkpoint_origin {
        println!(
            "audit checkpoint key: made {} (owner-only; its public key is at /v1/audit/checkpoints/key)",
            path.display()
        );
    }
    match origin {
        bootstrap::SecretOrigin::NewFile(path) => println!(
            "token signing key: made {} (owner-only; back it up, but apart from the database's backups)",
            path.display()
        ),
        bootstrap::SecretOrigin::File(path) => {
            tracing::info!("token signing key from {}", path.display());
        }
        bootstrap::SecretOrigin::Environment => {
            tracing::info!("token signing key from PROMPTOPS_JWT_SECRET");
        }
    }
    let password = std::env::var("PROMPTOPS_ADMIN_PASSWORD").ok();
    if let Some(made) = bootstrap::first_admin(&store, password).await? {
        match made.generated_password {
            // Shown once, on the terminal that started the server: it is stored only as a hash.
            Some(p) => println!(
                "created the first admin: user `{}`, password `{p}` (shown once; log in with `promptops login --user {}`)",
                made.user.name, made.user.name
            ),
            None => println!(
                "created the first admin: user `{}` with the password in PROMPTOPS_ADMIN_PASSWORD",
                made.user.name
            ),
        }
    }
    announce(local, label);
    promptops_server::serve(store, auth, settings, listener, shutdown()).await?;
    Ok(())
}

/// Request and auth lines on stderr, as text or JSON; `log_level = "warn"` (or
/// `PROMPTOPS_LOG=off`) quietens them.
fn init_logging(settings: &ServerConfig) {
    let level = match settings.log_level {
        LogLevel::Off => return,
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn announce(addr: std::net::SocketAddr, store: &str) {
    // One line a script can wait for; stdout is flushed by println.
    println!(
        "promptops registry listening on http://{addr} ({store}); API under /v1, OpenAPI at /openapi.json"
    );
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
