//! `vestibule directory token create|list|revoke`: a directory's bearer tokens. A token is
//! printed once, when it is minted; afterwards only its id and state are shown.

use anyhow::bail;
use clap::{Args, Subcommand};
use vestibule::clock::rfc3339;
use vestibule::config::Config;
use vestibule::db::models::directory;
use vestibule::directories;

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Bearer tokens of a directory.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Args)]
pub struct DirectoryRef {
    /// The realm the directory is in.
    #[arg(long)]
    realm: String,
    /// The directory's name, as declared in the config.
    #[arg(long)]
    directory: String,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Mint a new token; it is printed once and only its hash is stored.
    Create {
        #[command(flatten)]
        dir: DirectoryRef,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List the directory's tokens (ids, labels, state; never the tokens).
    List {
        #[command(flatten)]
        dir: DirectoryRef,
    },
    /// Revoke a token by its id; requests with it fail at once.
    Revoke {
        #[command(flatten)]
        dir: DirectoryRef,
        /// The token id shown by `list`.
        token_id: String,
    },
}

pub fn run(config: Config, command: DirectoryCommand) -> anyhow::Result<()> {
    let DirectoryCommand::Token { command } = command;
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    let now = state.clock.now();
    match command {
        TokenCommand::Create { dir, label } => {
            let d = directories::find(&mut conn, &dir.realm, &dir.directory)?;
            let token = directories::mint_token();
            let row = directories::add_token(&mut conn, &d.id, &token, &label, "cli", now)?;
            eprintln!(
                "token {} created for directory {}; it is shown once:",
                row.id, d.name
            );
            println!("{token}");
        }
        TokenCommand::List { dir } => {
            let d = directories::find(&mut conn, &dir.realm, &dir.directory)?;
            let org = directories::organization_alias(&mut conn, &d)?;
            println!(
                "directory {} (organization {org}, deprovisioning {})",
                d.name, d.deprovisioning
            );
            for t in directory::tokens(&mut conn, &d.id)? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", rfc3339(at)),
                    None => "active".into(),
                };
                println!(
                    "{}  {:<10} {:<7} created {}  {}",
                    t.id,
                    t.label,
                    t.source,
                    rfc3339(t.created_at),
                    state
                );
            }
        }
        TokenCommand::Revoke { dir, token_id } => {
            let d = directories::find(&mut conn, &dir.realm, &dir.directory)?;
            if !directory::revoke_token(&mut conn, &d.id, &token_id, now)? {
                bail!("directory {} has no active token {token_id}", d.name);
            }
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}
