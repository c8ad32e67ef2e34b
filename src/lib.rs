//! Vestibule: SCIM provisioning, federated login, organization membership and an OpenID Connect
//! issuer for multi-tenant applications. `main.rs` and the tests build the same app from here.

pub mod admin;
pub mod audit;
pub mod bench;
pub mod bench_load;
pub mod bench_oidc;
pub mod clock;
pub mod config;
pub mod db;
pub mod declarations;
pub mod directories;
pub mod http;
pub mod issuer;
pub mod membership;
pub mod provisioning;
pub mod state;
pub mod web;

use std::sync::Arc;

use clock::Clock;
use config::Config;
use db::Db;
use state::AppState;

/// Connects, migrates, applies the config's declarations: everything `serve` needs but the socket.
pub fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database.url, config.database.pool_size)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    let mut conn = db.get()?;
    let declared = declarations::apply(&mut conn, &config, clock.now())?;
    issuer::declare::apply(&mut conn, &config, clock.now())?;
    for name in &declared.revoked_config_tokens {
        tracing::warn!(directory = %name, "the config token of this directory was revoked; set a new one");
    }
    drop(conn);
    Ok(AppState::new(config, db, clock))
}
