//! The commands that write what the config declares: `serve` (then serves), `migrate` and
//! `apply`. Each resolves the config's secrets first and fails on a missing one, naming it.

use std::sync::Arc;

use anyhow::Context;
use vestibule::clock::SystemClock;
use vestibule::config::Config;
use vestibule::db::Db;

use super::process_env;

pub fn serve(mut config: Config) -> anyhow::Result<()> {
    config.resolve_secrets(&process_env())?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let workers = if config.server.workers == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        config.server.workers
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let listen = config.server.listen.clone();
        let state = tokio::task::spawn_blocking(move || vestibule::prepare(config, Arc::new(SystemClock))).await??;
        let listener = std::net::TcpListener::bind(&listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        let server = vestibule::serve(state, listener, true)?;
        tracing::info!(%listen, ready_ms = started.elapsed().as_millis() as u64, "vestibule is serving");
        server.await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Migrations only. The secrets are still required, as by a start: migrating is the first step
/// of a deploy, and a config whose secrets cannot be read is not ready for one.
pub fn migrate(mut config: Config) -> anyhow::Result<()> {
    config.resolve_secrets(&process_env())?;
    let db = Db::connect(&config.database.url, 1)?;
    println!("{}", migrations_line(&db.migrate()?));
    Ok(())
}

/// Everything `serve` does before it listens, then exit: for deploys that migrate and apply
/// declarations in a step of their own.
pub fn apply(mut config: Config) -> anyhow::Result<()> {
    config.resolve_secrets(&process_env())?;
    let prepared = vestibule::apply(config, Arc::new(SystemClock))?;
    println!("{}", migrations_line(&prepared.migrations));
    let d = &prepared.declarations;
    println!(
        "declarations applied: {} realm(s); organizations {} created, {} updated; \
         directories {} created, {} updated; clients, client scopes, roles, users and group roles as declared",
        d.realms,
        d.organizations_created,
        d.organizations_updated,
        d.directories_created,
        d.directories_updated
    );
    Ok(())
}

fn migrations_line(applied: &[String]) -> String {
    format!(
        "applied {} migration(s){}",
        applied.len(),
        if applied.is_empty() {
            String::new()
        } else {
            format!(": {}", applied.join(", "))
        }
    )
}
