//! `vestibule client list|create|secret|delete`: OAuth clients made beside the declared ones.
//! A secret is printed once, when it is made.

use clap::Subcommand;
use vestibule::config::Config;

use super::print_lines;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// List the realm's clients.
    List {
        #[arg(long)]
        realm: String,
    },
    /// Create a client; a confidential client's secret is printed once.
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client_id: String,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Exact redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// authorization_code, refresh_token, client_credentials (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Give a confidential client a new secret (printed once); the old one stops working.
    Secret {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client_id: String,
    },
    /// Delete a client and everything it was issued.
    Delete {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        client_id: String,
    },
}

pub fn run(config: Config, command: ClientCommand) -> anyhow::Result<()> {
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    let now = state.clock.now();
    match command {
        ClientCommand::List { realm } => {
            print_lines(vestibule::admin::list_clients(&mut conn, &realm)?)
        }
        ClientCommand::Create {
            realm,
            client_id,
            public,
            redirect_uris,
            grants,
        } => {
            match vestibule::admin::create_client(
                &mut conn,
                &realm,
                &client_id,
                public,
                redirect_uris,
                grants,
                now,
            )? {
                Some(secret) => {
                    eprintln!("client {client_id} created; its secret is shown once:");
                    println!("{secret}");
                }
                None => println!("public client {client_id} created"),
            }
        }
        ClientCommand::Secret { realm, client_id } => {
            let secret =
                vestibule::admin::rotate_client_secret(&mut conn, &realm, &client_id, now)?;
            eprintln!("new secret for {client_id}, shown once:");
            println!("{secret}");
        }
        ClientCommand::Delete { realm, client_id } => {
            vestibule::admin::delete_client(&mut conn, &realm, &client_id)?;
            println!("client {client_id} deleted");
        }
    }
    Ok(())
}
