//! Vestibule: SCIM provisioning, federated login, organization membership and an OpenID Connect
//! issuer for multi-tenant applications. `main.rs` and the tests build the same app from here.

pub mod admin;
pub mod audit;
pub mod clock;
pub mod config;
pub mod db;
pub mod declarations;
pub mod directories;
pub mod federation;
pub mod http;
pub mod issuer;
pub mod membership;
pub mod provisioning;
pub mod state;
pub mod users;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use clock::Clock;
use config::Config;
use db::Db;
use state::AppState;

/// Connects, migrates, applies the config's declarations: everything `serve` needs but the socket.
pub fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    Ok(apply(config, clock)?.state)
}

/// What [`apply`] did, beside the state it leaves ready to serve.
pub struct Prepared {
    pub state: AppState,
    /// The migrations this run applied (none when the schema was current).
    pub migrations: Vec<String>,
    pub declarations: declarations::Applied,
}

/// [`prepare`], reporting what it changed (`vestibule apply` prints it). The config's secrets
/// must be resolved: a bare reference would leave a declared token or secret unset.
pub fn apply(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Prepared> {
    config.require_resolved_secrets()?;
    let db = Db::connect(&config.database.url, config.database.pool_size)?;
    let migrations = db.migrate()?;
    if !migrations.is_empty() {
        tracing::info!(migrations = ?migrations, "applied migrations");
    }
    let mut conn = db.get()?;
    let declared = declarations::apply(&mut conn, &config, clock.now())?;
    issuer::declare::apply(&mut conn, &config, clock.now())?;
    for name in &declared.revoked_config_tokens {
        tracing::warn!(directory = %name, "the config token of this directory was revoked; set a new one");
    }
    drop(conn);
    let state = AppState::new(config, db, clock)?;
    state
        .federation
        .fetch_saml_metadata()
        .map_err(anyhow::Error::msg)?;
    Ok(Prepared {
        state,
        migrations,
        declarations: declared,
    })
}

/// Why [`open`] refused.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the database is not migrated ({0}): run `vestibule migrate`, or `vestibule apply` to \
         also apply the config's declarations, and try again"
    )]
    NotMigrated(String),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("the HTTP client toward identity providers cannot start: {0}")]
    Http(String),
}

/// Connects to a fully migrated database and changes nothing: no migration, no declaration,
/// no secret needed. For the commands that only read, or write just what they are told to
/// (the admin commands), so that inspecting a database never alters it.
pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, OpenError> {
    let url = db::DbUrl::parse(&config.database.url)?;
    // Connecting would create the file; a typo in the path must not leave an empty database.
    if url.is_missing_file() {
        return Err(OpenError::NotMigrated(
            "there is no database file at that path".into(),
        ));
    }
    let db = Db::connect(&config.database.url, config.database.pool_size)?;
    let pending = db.pending_migrations()?;
    if !pending.is_empty() {
        return Err(OpenError::NotMigrated(format!(
            "{} migration(s) pending",
            pending.len()
        )));
    }
    AppState::new(config, db, clock).map_err(|e| OpenError::Http(e.to_string()))
}

/// The HTTP server over `state` on `listener`, with every middleware: the one way to serve, used
/// by `main` and by the tests. `signals` lets SIGTERM/SIGINT drain it (the daemon's case).
/// Called inside the Tokio runtime that will run it, which also runs the SAML metadata
/// refresh.
pub fn serve(
    state: AppState,
    listener: TcpListener,
    signals: bool,
) -> std::io::Result<actix_web::dev::Server> {
    let workers = match state.config.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let shutdown = state.config.server.shutdown_timeout_secs;
    state.federation.spawn_saml_metadata_refresh();
    let server = actix_web::HttpServer::new(move || {
        use actix_web::http::header::X_CONTENT_TYPE_OPTIONS;
        // The last `wrap` runs first: the access line sees the final status and headers.
        actix_web::App::new()
            // Every response, errors and 404s included: browsers must not guess a type.
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((X_CONTENT_TYPE_OPTIONS, "nosniff")),
            )
            .wrap(http::AccessLog::new(&state.config))
            .configure(http::configure(state.clone()))
    })
    .workers(workers)
    .shutdown_timeout(shutdown);
    let server = if signals {
        server
    } else {
        server.disable_signals()
    };
    Ok(server.listen(listener)?.run())
}
