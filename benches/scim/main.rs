//! `cargo bench --bench scim -- [options]`: measures a live daemon (the `vestibule` binary,
//! spawned with `serve`) on SQLite and PostgreSQL, python `scim2-server` on the same creates, and
//! (with `--polis`) Ory Polis in memory on the three loads of issue 10, all in the same run.
//! Figures, not assertions: the tests never time anything.

// This bench sends lists of requests; the OIDC bench, one request many times.
#[allow(dead_code)]
#[path = "../support/load.rs"]
mod load;
mod pinning;
#[path = "../support/mod.rs"]
mod support;
mod versus;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};

use pinning::Pinning;
use support::{
    free_port, ms, percentile, rss_bytes, serve_command, CommonOptions, Process, ScratchDb,
};

/// What to measure and against what.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "cargo bench --bench scim --",
    about = "SCIM throughput and latency on SQLite and PostgreSQL, against python scim2-server and Ory Polis"
)]
struct ScimBenchOptions {
    #[command(flatten)]
    common: CommonOptions,
    #[command(flatten)]
    versus: versus::VersusOptions,
    /// Users created in the timed POST /Users phase.
    #[arg(long, default_value_t = 20_000)]
    creates: usize,
    /// Users in the organization when lookups are timed.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Members of the big group when single-member PATCHes are timed.
    #[arg(long, default_value_t = 50_000)]
    members: usize,
    /// Timed `filter=userName eq` lookups.
    #[arg(long, default_value_t = 2_000)]
    lookups: usize,
    /// Timed single-member PATCHes.
    #[arg(long, default_value_t = 300)]
    member_patches: usize,
    /// Concurrent clients for the create phases.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// A `scim2-server` executable (PyPI) to measure on the same creates; skipped when absent.
    #[arg(long)]
    scim2_server: Option<PathBuf>,
}

const TOKEN: &str = "bench-token";

/// A SCIM server to send requests to: where it listens, its base path, its bearer token.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    prefix: String,
    token: String,
}

impl Target {
    fn base(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }
}

/// Waits until `GET {base}/Users` answers 200: what every SCIM server under measure serves
/// (Polis has no ServiceProviderConfig).
async fn wait_ready(client: &reqwest::Client, target: &Target) -> anyhow::Result<()> {
    let url = format!("{}/Users?count=1", target.base());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(&url).bearer_auth(&target.token).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready")
}

fn group_body(display_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
    })
}

fn user_body(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": format!("bench.user.{i}@acme.test"),
        "externalId": format!("ext-{i}"),
        "active": true,
        "displayName": format!("Bench User {i}"),
        "emails": [{"primary": true, "type": "work", "value": format!("bench.user.{i}@acme.test")}],
        "name": {"givenName": "Bench", "familyName": format!("User{i}")},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Load", "employeeNumber": i.to_string()}
    })
}

/// POSTs users `range` at `concurrency`; returns (ids in index order, elapsed).
async fn create_users(
    client: &reqwest::Client,
    target: &Target,
    range: std::ops::Range<usize>,
    concurrency: usize,
) -> anyhow::Result<(Vec<String>, Duration)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, url, token, end) = (
            client.clone(),
            next.clone(),
            format!("{}/Users", target.base()),
            target.token.clone(),
            range.end,
        );
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, anyhow::Error>(made);
                }
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(user_body(i).to_string())
                    .send()
                    .await?;
                if resp.status() != 201 {
                    bail!(
                        "POST /Users answered {}: {}",
                        resp.status(),
                        resp.text().await.unwrap_or_default()
                    );
                }
                let body: Value = resp.json().await?;
                made.push((i, body["id"].as_str().unwrap_or_default().to_string()));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    Ok((all.into_iter().map(|(_, id)| id).collect(), elapsed))
}

/// One backend's figures.
#[derive(Debug)]
struct Figures {
    database: String,
    creates_per_sec: f64,
    fill_per_sec: f64,
    lookup_p50: Duration,
    lookup_p99: Duration,
    group_fill_secs: f64,
    member_add_p50: Duration,
    member_add_p99: Duration,
    rss_after_fill: Option<u64>,
    rss_after_loads: Option<u64>,
}

/// Writes the bench's config (one organization, one directory whose token is `TOKEN`) in `dir`.
fn vestibule_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        "[[realm]]\nname = \"bench\"\n\n[[organization]]\nrealm = \"bench\"\nalias = \"acme\"\nname = \"Acme\"\n\n\
         [[directory]]\nrealm = \"bench\"\norganization = \"acme\"\nname = \"entra\"\ntoken = { env = \"BENCH_SCIM_TOKEN\" }\n",
    )?;
    Ok(config)
}

fn spawn_vestibule(
    dir: &Path,
    db_url: &str,
    port: u16,
    pinning: Pinning,
) -> anyhow::Result<Process> {
    let config = vestibule_config(dir)?;
    let mut command = serve_command(
        &config,
        db_url,
        port,
        &[
            ("BENCH_SCIM_TOKEN", TOKEN),
            ("VESTIBULE_DATABASE__POOL_SIZE", "32"),
        ],
    );
    pinning.server(&mut command);
    Ok(Process(command.spawn().context("spawn vestibule serve")?))
}

async fn measure_backend(
    opts: &ScimBenchOptions,
    database: &str,
    pinning: Pinning,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let scratch = ScratchDb::create(database, dir.path(), &opts.common.postgres_url)?;
    let port = free_port()?;
    let daemon = spawn_vestibule(dir.path(), &scratch.url, port, pinning)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency * 2)
        .build()?;
    let target = Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        prefix: "/realms/bench/scim/v2".into(),
        token: TOKEN.into(),
    };
    let base = target.base();
    wait_ready(&client, &target).await?;

    let (mut ids, elapsed) =
        create_users(&client, &target, 0..opts.creates, opts.concurrency).await?;
    let creates_per_sec = opts.creates as f64 / elapsed.as_secs_f64();
    eprintln!(
        "[{database}] {} creates in {:.1}s",
        opts.creates,
        elapsed.as_secs_f64()
    );
    let fill_target = opts
        .users
        .max(opts.creates)
        .max(opts.members + opts.member_patches);
    let (more, fill_elapsed) = create_users(
        &client,
        &target,
        opts.creates..fill_target,
        opts.concurrency,
    )
    .await?;
    let fill_per_sec = more.len() as f64 / fill_elapsed.as_secs_f64().max(1e-9);
    ids.extend(more);
    eprintln!("[{database}] organization holds {} users", ids.len());
    let rss_after_fill = rss_bytes(&daemon);

    let mut latencies = Vec::with_capacity(opts.lookups);
    for k in 0..opts.lookups {
        let i = (k * 7919) % ids.len();
        let filter = format!("userName eq \"bench.user.{i}@acme.test\"");
        let started = Instant::now();
        let resp = client
            .get(format!("{base}/Users"))
            .query(&[("filter", filter.as_str())])
            .bearer_auth(TOKEN)
            .send()
            .await?;
        let body: Value = resp.json().await?;
        latencies.push(started.elapsed());
        if body["totalResults"] != 1 {
            bail!("lookup of user {i} found {}", body["totalResults"]);
        }
    }
    latencies.sort();

    let group: Value = client
        .post(format!("{base}/Groups"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(group_body("Everyone").to_string())
        .send()
        .await?
        .json()
        .await?;
    let gid = group["id"].as_str().context("group id")?.to_string();
    let started = Instant::now();
    for chunk in ids[..opts.members].chunks(scim::limits::MAX_WRITE_VALUES) {
        let members: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        patch_group(
            &client,
            &base,
            &gid,
            json!([{"op": "add", "path": "members", "value": members}]),
        )
        .await?;
    }
    let group_fill_secs = started.elapsed().as_secs_f64();
    let mut adds = Vec::with_capacity(opts.member_patches);
    for id in &ids[opts.members..opts.members + opts.member_patches] {
        let started = Instant::now();
        patch_group(
            &client,
            &base,
            &gid,
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )
        .await?;
        adds.push(started.elapsed());
    }
    adds.sort();
    let count: Value = client
        .get(format!("{base}/Groups/{gid}"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .json()
        .await?;
    let members = count["members"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    if members != opts.members + opts.member_patches {
        bail!(
            "the group holds {members} members, expected {}",
            opts.members + opts.member_patches
        );
    }
    Ok(Figures {
        database: database.to_string(),
        creates_per_sec,
        fill_per_sec,
        lookup_p50: percentile(&latencies, 50.0),
        lookup_p99: percentile(&latencies, 99.0),
        group_fill_secs,
        member_add_p50: percentile(&adds, 50.0),
        member_add_p99: percentile(&adds, 99.0),
        rss_after_fill,
        rss_after_loads: rss_bytes(&daemon),
    })
}

async fn patch_group(
    client: &reqwest::Client,
    base: &str,
    gid: &str,
    ops: Value,
) -> anyhow::Result<()> {
    let resp = client
        .patch(format!("{base}/Groups/{gid}"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}).to_string())
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("PATCH /Groups answered {}", resp.status());
    }
    Ok(())
}

async fn measure_scim2_server(
    exe: &Path,
    creates: usize,
    concurrency: usize,
    pinning: Pinning,
) -> anyhow::Result<f64> {
    let port = free_port()?;
    let mut command = Command::new(exe);
    command
        .args(["--port", &port.to_string(), "--bearer-token", TOKEN])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    pinning.server(&mut command);
    let _server = Process(
        command
            .spawn()
            .with_context(|| format!("spawn {}", exe.display()))?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let target = Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        prefix: String::new(),
        token: TOKEN.into(),
    };
    wait_ready(&client, &target).await?;
    let (_, elapsed) = create_users(&client, &target, 0..creates, concurrency).await?;
    Ok(creates as f64 / elapsed.as_secs_f64())
}

fn mb(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "-".into())
}

/// Runs the whole SCIM benchmark and prints the report.
fn main() -> anyhow::Result<()> {
    let opts = ScimBenchOptions::parse();
    if opts.members + opts.member_patches > opts.users.max(opts.creates) {
        bail!("--members plus --member-patches must not exceed --users");
    }
    // Before the runtime starts its threads, which take their CPUs from this one.
    let pinning = Pinning::apply()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut rows = Vec::new();
        for database in &opts.common.databases {
            rows.push(measure_backend(&opts, database, pinning).await?);
        }
        let peer = match &opts.scim2_server {
            Some(exe) => Some(measure_scim2_server(exe, opts.creates.min(5_000), opts.concurrency, pinning).await?),
            None => None,
        };
        let versus = versus::measure(&opts.versus, opts.concurrency, pinning).await?;
        println!("{}", pinning.describe());
        println!("scim bench: creates at concurrency {}, lookups among {} users, single-member PATCH on a {}-member group", opts.concurrency, opts.users, opts.members);
        for f in &rows {
            println!(
                "{:<9} POST /Users {:>8.0}/s (target >= 5000 on sqlite: {:.2}x)  fill {:>7.0}/s  lookup p50 {:.2} ms p99 {:.2} ms (target < 5 ms: {:.2}x headroom)  group fill {:.1}s  1-member PATCH p50 {:.2} ms p99 {:.2} ms (target < 10 ms: {:.2}x headroom)",
                f.database,
                f.creates_per_sec,
                f.creates_per_sec / 5000.0,
                f.fill_per_sec,
                ms(f.lookup_p50),
                ms(f.lookup_p99),
                5.0 / ms(f.lookup_p99).max(1e-9),
                f.group_fill_secs,
                ms(f.member_add_p50),
                ms(f.member_add_p99),
                10.0 / ms(f.member_add_p99).max(1e-9),
            );
            println!(
                "{:<9} RSS {} after {} users, {} after the lookups and PATCHes (target < 100 MB)",
                f.database,
                mb(f.rss_after_fill),
                opts.users.max(opts.creates),
                mb(f.rss_after_loads),
            );
        }
        let rate_on = |db: &str| rows.iter().find(|f| f.database == db).map(|f| f.creates_per_sec);
        if let (Some(sqlite), Some(postgres)) = (rate_on("sqlite"), rate_on("postgres")) {
            println!(
                "POST /Users postgres / sqlite: {:.2}x (target >= 0.5x)",
                postgres / sqlite.max(1e-9)
            );
        }
        if let Some(peer) = peer {
            println!("scim2-server POST /Users {peer:>8.0}/s (python, in memory, empty organization)");
            for f in &rows {
                println!("ratio {} / scim2-server: {:.1}x (target >= 10x on sqlite)", f.database, f.creates_per_sec / peer);
            }
        }
        if let Some(versus) = &versus {
            versus::print(versus);
        }
        Ok(())
    })
}
