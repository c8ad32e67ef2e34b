//! The clap tree and what each command prints, one file per command group. How a command
//! reaches the database is part of what it is: `serve`, `migrate` and `apply` resolve the
//! config's secrets and write (migrations, declarations); `check-config` reads only the config;
//! the admin commands [`open`] a migrated database, apply nothing and need no secret.

mod audit;
mod check_config;
mod clients;
mod directory_tokens;
mod idp;
mod keys;
mod roles;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use vestibule::clock::SystemClock;
use vestibule::config::{Config, LogFormat};
use vestibule::state::AppState;

#[derive(Parser)]
#[command(
    name = "vestibule",
    version,
    about = "SCIM provisioning, federated login, organizations and an OIDC issuer for multi-tenant apps"
)]
pub struct Cli {
    /// The TOML config file. Every key can be overridden by VESTIBULE_<SECTION>__<KEY>.
    #[arg(long, short, global = true, env = "VESTIBULE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates and applies the config's declarations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Apply pending migrations and the config's declarations, then exit.
    Apply,
    /// Load and validate the config and print what it declares; each secret is checked (and
    /// noted when it cannot be resolved here), never printed, never required.
    CheckConfig,
    /// SCIM directories.
    Directory {
        #[command(subcommand)]
        command: directory_tokens::DirectoryCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// The issuer's signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// OAuth clients (applications).
    Client {
        #[command(subcommand)]
        command: clients::ClientCommand,
    },
    /// Realm and client roles, and who holds them.
    Role {
        #[command(subcommand)]
        command: roles::RoleCommand,
    },
    /// The declared identity providers (from the config), and SAML connections' SP keys.
    Idp {
        #[command(subcommand)]
        command: idp::IdpCommand,
    },
}

pub fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::serve(config),
        Command::Migrate => serve::migrate(config),
        Command::Apply => serve::apply(config),
        Command::CheckConfig => check_config::check_config(&config),
        Command::Directory { command } => directory_tokens::run(config, command),
        Command::Audit { command } => audit::run(config, command),
        Command::Keys { command } => keys::run(config, command),
        Command::Client { command } => clients::run(config, command),
        Command::Role { command } => roles::run(config, command),
        Command::Idp { command } => idp::run(config, command),
    }
}

/// The database as every admin command uses it: migrated already, and changed only by what
/// the command itself does (see [`vestibule::open`]).
fn open(config: Config) -> anyhow::Result<AppState> {
    Ok(vestibule::open(config, Arc::new(SystemClock))?)
}

/// The process environment, where `{ env = "X" }` secret references point.
fn process_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

fn print_lines(lines: Vec<String>) {
    for line in lines {
        println!("{line}");
    }
}
