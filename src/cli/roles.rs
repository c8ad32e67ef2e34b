//! `vestibule role list|create|grant|revoke`: realm and client roles, and who holds them.

use anyhow::bail;
use clap::Subcommand;
use vestibule::config::Config;

use super::print_lines;

#[derive(Subcommand)]
pub enum RoleCommand {
    /// List roles (`client:role` for client roles) with their composites.
    List {
        #[arg(long)]
        realm: String,
    },
    /// Create a role: `NAME` for a realm role, `CLIENT:NAME` for a client role.
    Create {
        #[arg(long)]
        realm: String,
        role: String,
        /// Roles it includes (repeatable).
        #[arg(long = "composite")]
        composites: Vec<String>,
    },
    /// Grant a role to a user, or to an organization's group (its members inherit it).
    Grant {
        #[arg(long)]
        realm: String,
        role: String,
        #[arg(long, conflicts_with_all = ["organization", "group"])]
        user: Option<String>,
        #[arg(long, requires = "group")]
        organization: Option<String>,
        #[arg(long, requires = "organization")]
        group: Option<String>,
    },
    /// Take a role back from a user.
    Revoke {
        #[arg(long)]
        realm: String,
        role: String,
        #[arg(long)]
        user: String,
    },
}

pub fn run(config: Config, command: RoleCommand) -> anyhow::Result<()> {
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    match command {
        RoleCommand::List { realm } => {
            print_lines(vestibule::admin::list_roles(&mut conn, &realm)?)
        }
        RoleCommand::Create {
            realm,
            role,
            composites,
        } => {
            vestibule::admin::create_role(&mut conn, &realm, &role, &composites)?;
            println!("role {role} created");
        }
        RoleCommand::Grant {
            realm,
            role,
            user,
            organization,
            group,
        } => {
            let group = organization.as_deref().zip(group.as_deref());
            println!(
                "{}",
                vestibule::admin::grant_role(&mut conn, &realm, &role, user.as_deref(), group)?
            );
        }
        RoleCommand::Revoke { realm, role, user } => {
            if !vestibule::admin::revoke_role(&mut conn, &realm, &role, &user)? {
                bail!("{user} did not hold {role}");
            }
            println!("{role} revoked from {user}");
        }
    }
    Ok(())
}
