//! `promptops serve`: opens the store (SQLite by default) and serves the API until
//! Ctrl-C or SIGTERM.

use crate::Outcome;
use anyhow::{Context, Result, bail};
use promptops_server::bootstrap;
use promptops_store::{PostgresStore, SqliteStore, Store};
use std::path::{Path, PathBuf};

/// Where the embedded registry lives, relative to the folder `serve` runs in.
pub const DEFAULT_DATABASE: &str = ".promptops/registry.db";

/// Where the signing key file goes when the registry is not a SQLite file.
pub const DEFAULT_SECRET_FILE: &str = ".promptops/jwt-secret";

/// What `promptops serve` was asked for.
pub struct ServeArgs {
    pub addr: String,
    pub database_url: Option<String>,
    pub schema: Option<String>,
    pub jwt_secret_file: Option<PathBuf>,
    pub options: promptops_server::Options,
}

pub fn run(args: &ServeArgs) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(Outcome::Ok)
}

async fn serve(args: &ServeArgs) -> Result<()> {
    let (addr, database_url, schema) = (
        args.addr.as_str(),
        args.database_url.as_deref(),
        args.schema.as_deref(),
    );
    init_logging();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is another server using it? choose another with --addr")
    })?;
    let local = listener
        .local_addr()
        .context("the listener has no address")?;
    match database_url {
        None => {
            let store = SqliteStore::open(Path::new(DEFAULT_DATABASE)).await?;
            let secret = secret_file(args, Some(store.path()));
            start(
                store,
                listener,
                local,
                &format!("SQLite {DEFAULT_DATABASE}"),
                (secret, &args.options),
            )
            .await?;
        }
        Some(url) if url.starts_with("sqlite:") && schema.is_some() => {
            bail!("--database-schema is for PostgreSQL; a SQLite registry is its own file")
        }
        Some(url) if url.starts_with("sqlite:") => {
            let store = SqliteStore::open_url(url).await?;
            let label = format!("SQLite {}", store.path().display());
            let secret = secret_file(args, Some(store.path()));
            start(store, listener, local, &label, (secret, &args.options)).await?;
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::connect_in_schema(url, schema).await?;
            let label = format!(
                "PostgreSQL{}",
                schema.map(|s| format!(", schema {s}")).unwrap_or_default()
            );
            let secret = secret_file(args, None);
            start(store, listener, local, &label, (secret, &args.options)).await?;
        }
        Some(url) => {
            bail!("--database-url `{url}`: use postgres://user@host:port/db or sqlite://PATH")
        }
    }
    eprintln!("promptops registry stopped");
    Ok(())
}

/// The signing key file: as given, else beside the SQLite database, else
/// `.promptops/jwt-secret`.
fn secret_file(args: &ServeArgs, database: Option<&Path>) -> PathBuf {
    if let Some(file) = &args.jwt_secret_file {
        return file.clone();
    }
    match database.and_then(Path::parent) {
        Some(dir) => dir.join("jwt-secret"),
        None => PathBuf::from(DEFAULT_SECRET_FILE),
    }
}

/// Signing secret and first admin, then serve.
async fn start<S: Store>(
    store: S,
    listener: tokio::net::TcpListener,
    local: std::net::SocketAddr,
    label: &str,
    (secret_file, options): (PathBuf, &promptops_server::Options),
) -> Result<()> {
    let sources = bootstrap::SecretSources {
        env: std::env::var("PROMPTOPS_JWT_SECRET").ok(),
        previous_env: std::env::var("PROMPTOPS_JWT_SECRET_PREVIOUS").ok(),
        file: secret_file,
    };
    let (auth, origin) = bootstrap::auth_config(&store, &sources).await?;
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
    promptops_server::serve(store, auth, options.clone(), listener, shutdown()).await?;
    Ok(())
}

/// Request and auth lines on stderr; `PROMPTOPS_LOG=warn` (or `off`) quietens them.
fn init_logging() {
    let level = match std::env::var("PROMPTOPS_LOG").ok().as_deref() {
        Some("off") => return,
        Some("error") => tracing::Level::ERROR,
        Some("warn") => tracing::Level::WARN,
        Some("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
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
