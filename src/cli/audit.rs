//! `vestibule audit list`: the newest audit events, as a table or as JSON lines.

use anyhow::Context;
use clap::Subcommand;
use vestibule::clock::rfc3339;
use vestibule::config::Config;
use vestibule::db::models::{audit, realm};
use vestibule::directories;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Show the newest audit events, newest first.
    List {
        /// Only this realm.
        #[arg(long)]
        realm: Option<String>,
        /// Only this directory (needs --realm).
        #[arg(long, requires = "realm")]
        directory: Option<String>,
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        realm: realm_name,
        directory,
        limit,
        json,
    } = command;
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    let realm_id = match &realm_name {
        Some(name) => Some(
            realm::find_by_name(&mut conn, name)?
                .with_context(|| format!("realm {name:?} does not exist"))?
                .id,
        ),
        None => None,
    };
    let actor_id = match (&realm_name, &directory) {
        (Some(r), Some(d)) => Some(directories::find(&mut conn, r, d)?.id),
        _ => None,
    };
    let events = audit::list(&mut conn, realm_id.as_deref(), actor_id.as_deref(), limit)?;
    for e in events {
        if json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            println!(
                "{}  {:<9} {:<10} {:<7} {:<6} {:<36} {:<8} {}{}",
                rfc3339(e.at),
                e.actor_type,
                e.actor_name.as_deref().unwrap_or("-"),
                e.operation,
                e.resource_type,
                e.resource_id.as_deref().unwrap_or("-"),
                e.outcome,
                e.status,
                e.detail.map(|d| format!("  {d}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}
