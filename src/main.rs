//! The `vestibule` command: serve, migrate, check-config, and the admin commands.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use vestibule::clock::{rfc3339, SystemClock};
use vestibule::config::{Config, LogFormat};
use vestibule::db::models::{audit, directory};
use vestibule::db::Db;
use vestibule::{declarations, directories};

// glibc's allocator spent about a tenth of the server's CPU in contended malloc/free under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "vestibule",
    version,
    about = "SCIM provisioning, federated login, organizations and an OIDC issuer for multi-tenant apps"
)]
struct Cli {
    /// The TOML config file. Every key can be overridden by VESTIBULE_<SECTION>__<KEY>.
    #[arg(long, short, global = true, env = "VESTIBULE_CONFIG")]
    config: Option<PathBuf>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates and applies the config's declarations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load and validate the config (secrets included) and print what it declares.
    CheckConfig,
    /// SCIM directories.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The issuer's signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// OAuth clients (applications).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Realm and client roles, and who holds them.
    Role {
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// Benchmarks (figures, not pass/fail).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// SCIM throughput and latency on SQLite and PostgreSQL, against python scim2-server.
    Scim(vestibule::bench::ScimBenchOptions),
    /// OIDC issuer: client_credentials tokens/s per algorithm, code flow, idle RSS, start time,
    /// against node oidc-provider.
    Oidc(vestibule::bench_oidc::OidcBenchOptions),
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Bearer tokens of a directory.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Args)]
struct DirectoryRef {
    /// The realm the directory is in.
    #[arg(long)]
    realm: String,
    /// The directory's name, as declared in the config.
    #[arg(long)]
    directory: String,
}

#[derive(Subcommand)]
enum TokenCommand {
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

#[derive(Subcommand)]
enum KeysCommand {
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

#[derive(Subcommand)]
enum ClientCommand {
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

#[derive(Subcommand)]
enum RoleCommand {
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

#[derive(Subcommand)]
enum AuditCommand {
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

fn init_logging(config: &Config, format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VESTIBULE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours for a person at a terminal; a file, journald or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format.unwrap_or(config.log.format) {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// mimalloc keeps freed memory and commits arenas eagerly; for a daemon that idles most of the
/// time (and frees argon2's blocks after each login) returning memory promptly matters more.
/// The numbers are mimalloc's option ids (mimalloc.h): arena_eager_commit = 4, purge_delay = 15.
/// Transparent huge pages are off for this process too: with the kernel's `always` mode, the
/// allocator's sparsely used arena sat in 2 MiB pages, 12 MB of an idle daemon's 35 MB.
fn tune_allocator() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; prctl with
    // PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    unsafe {
        libmimalloc_sys::mi_option_set(4, 0);
        libmimalloc_sys::mi_option_set(15, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> anyhow::Result<()> {
    tune_allocator();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    init_logging(&config, cli.log_format);
    match cli.command {
        Command::Serve => serve(config),
        Command::Migrate => {
            let db = Db::connect(&config.database.url, 1)?;
            let applied = db.migrate()?;
            println!(
                "applied {} migration(s){}",
                applied.len(),
                if applied.is_empty() {
                    String::new()
                } else {
                    format!(": {}", applied.join(", "))
                }
            );
            Ok(())
        }
        Command::CheckConfig => {
            println!("config ok");
            println!(
                "listen: {}  public url: {}",
                config.server.listen,
                config.server.base_url()
            );
            let realms: Vec<&str> = config.realms.iter().map(|r| r.name.as_str()).collect();
            println!(
                "realms: {}",
                if realms.is_empty() {
                    declarations::DEFAULT_REALM.to_string()
                } else {
                    realms.join(", ")
                }
            );
            for o in &config.organizations {
                let domains: Vec<&str> = o.domains.iter().map(|d| d.name()).collect();
                println!(
                    "organization {}/{}: {:?} domains [{}]{}",
                    o.realm,
                    o.alias,
                    o.name,
                    domains.join(", "),
                    if o.enabled { "" } else { " (disabled)" }
                );
            }
            for d in &config.directories {
                println!(
                    "directory {}/{} -> organization {}: deprovisioning {}, token {}",
                    d.realm,
                    d.name,
                    d.organization,
                    d.deprovisioning.as_str(),
                    if d.token.is_some() {
                        "declared"
                    } else {
                        "none (mint one with `directory token create`)"
                    }
                );
            }
            Ok(())
        }
        Command::Directory {
            command: DirectoryCommand::Token { command },
        } => token_command(config, command),
        Command::Bench {
            command: BenchCommand::Scim(options),
        } => vestibule::bench::run_scim(options),
        Command::Bench {
            command: BenchCommand::Oidc(options),
        } => vestibule::bench_oidc::run_oidc(options),
        Command::Keys { command } => keys_command(config, command),
        Command::Client { command } => client_command(config, command),
        Command::Role { command } => role_command(config, command),
        Command::Audit {
            command:
                AuditCommand::List {
                    realm,
                    directory: dir,
                    limit,
                    json,
                },
        } => {
            let state = vestibule::prepare(config, Arc::new(SystemClock))?;
            let mut conn = state.db.get()?;
            let realm_id = match &realm {
                Some(name) => Some(
                    vestibule::db::models::realm::find_by_name(&mut conn, name)?
                        .with_context(|| format!("realm {name:?} does not exist"))?
                        .id,
                ),
                None => None,
            };
            let actor_id = match (&realm, &dir) {
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
    }
}

fn token_command(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let state = vestibule::prepare(config, Arc::new(SystemClock))?;
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

fn print_lines(lines: Vec<String>) {
    for line in lines {
        println!("{line}");
    }
}

fn keys_command(config: Config, command: KeysCommand) -> anyhow::Result<()> {
    let state = vestibule::prepare(config, Arc::new(SystemClock))?;
    let mut conn = state.db.get()?;
    let now = state.clock.now();
    match command {
        KeysCommand::Rotate { realm, algorithms } => {
            let algs = algorithms
                .iter()
                .map(|a| {
                    vestibule::issuer::jwt::Alg::parse(a)
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

fn client_command(config: Config, command: ClientCommand) -> anyhow::Result<()> {
    let state = vestibule::prepare(config, Arc::new(SystemClock))?;
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

fn role_command(config: Config, command: RoleCommand) -> anyhow::Result<()> {
    let state = vestibule::prepare(config, Arc::new(SystemClock))?;
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

fn serve(config: Config) -> anyhow::Result<()> {
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
