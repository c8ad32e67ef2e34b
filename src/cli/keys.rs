//! `vestibule keys rotate|list`: the issuer's signing keys.

use anyhow::Context;
use clap::Subcommand;
use vestibule::config::Config;
use vestibule::issuer::jwt::Alg;

use super::print_lines;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make new signing keys active; the old ones stay in the JWKS until their tokens expire.
    Rotate {
        #[arg(long)]
        realm: String,
        /// RS256, ES256 or EdDSA (repeatable); all three when omitted.
        #[arg(long = "algorithm")]
        algorithms: Vec<String>,
    },
    /// The published keys: active and retired.
    List {
        #[arg(long)]
        realm: String,
    },
}

pub fn run(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    let now = state.clock.now();
    match command {
        KeysCommand::Rotate { realm, algorithms } => {
            let algs = algorithms
                .iter()
                .map(|a| {
                    Alg::parse(a)
                        .with_context(|| format!("unknown algorithm {a:?}: RS256, ES256 or EdDSA"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            print_lines(vestibule::admin::rotate_keys(
                &mut conn,
                &state.config,
                &realm,
                &algs,
                now,
            )?);
        }
        KeysCommand::List { realm } => {
            print_lines(vestibule::admin::list_keys(&mut conn, &realm, now)?)
        }
    }
    Ok(())
}
