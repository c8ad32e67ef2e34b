//! What both benchmarks need: free ports, child processes that die with their handle, scratch
//! databases, the daemon binary they measure, and percentiles. Included by each bench target
//! (`benches/scim.rs`, `benches/oidc/main.rs`) as a module of its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

/// The `vestibule` binary cargo built for this bench (release, as the bench profile is).
pub const VESTIBULE: &str = env!("CARGO_BIN_EXE_vestibule");

/// The options both benches take: the databases to measure the daemon on, and cargo's flag.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonOptions {
    /// Which databases to measure.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    pub databases: Vec<String>,
    /// A PostgreSQL server on which a scratch database is created and dropped.
    #[arg(
        long,
        env = "VESTIBULE_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Added by `cargo bench` to every bench's arguments; nothing to do with it here.
    #[arg(long, hide = true)]
    bench: bool,
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `vestibule serve --config {config}` on `127.0.0.1:{port}` and database `db_url`, logging
/// warnings only, with `env` set (the config's secrets and any override).
// The SCIM bench pins its daemons to a CPU, so it spawns `serve_command` itself.
#[allow(dead_code)]
pub fn spawn_serve(
    config: &Path,
    db_url: &str,
    port: u16,
    env: &[(&str, &str)],
) -> anyhow::Result<Process> {
    let child = serve_command(config, db_url, port, env)
        .spawn()
        .context("spawn vestibule serve")?;
    Ok(Process(child))
}

/// The command `spawn_serve` runs, for a bench that sets more on it (a CPU to run on).
pub fn serve_command(config: &Path, db_url: &str, port: u16, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(VESTIBULE);
    command
        .args(["serve", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .env("VESTIBULE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("VESTIBULE_DATABASE__URL", db_url)
        .env("VESTIBULE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Resident memory of a process, in bytes (Linux `/proc`).
// The broker bench reads no memory.
#[allow(dead_code)]
pub fn rss_bytes(process: &Process) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.0.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A database that lives for one measurement.
pub struct ScratchDb {
    pub url: String,
    admin: Option<(String, String)>,
}

impl ScratchDb {
    pub fn create(kind: &str, dir: &Path, postgres_url: &str) -> anyhow::Result<ScratchDb> {
        use diesel::{Connection, RunQueryDsl};
        match kind {
            "sqlite" => Ok(ScratchDb {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                admin: None,
            }),
            "postgres" => {
                let name = format!("vbench_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(postgres_url)
                    .with_context(|| format!("connect {postgres_url}"))?;
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
                let base = postgres_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(postgres_url);
                Ok(ScratchDb {
                    url: format!("{base}/{name}"),
                    admin: Some((postgres_url.to_string(), name)),
                })
            }
            other => bail!("unknown database {other:?}: use sqlite or postgres"),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        if let Some((admin, name)) = &self.admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}
