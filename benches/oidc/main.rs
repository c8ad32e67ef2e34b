//! `cargo bench --bench oidc -- [options]`: measures the issuer of a live daemon (the
//! `vestibule` binary, spawned with `serve`) on SQLite and PostgreSQL: client_credentials tokens/s per signing algorithm, the
//! authorization-code round trip, idle memory and start-to-ready time; the single-core signing
//! rate of each key type with the server's own signing code; and node `oidc-provider` on the
//! same client_credentials requests in the same run. Figures, not assertions.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use vestibule::issuer::jwt::Alg;

mod code_flow;
// The SCIM bench sends lists of requests; this one, one request many times.
#[allow(dead_code)]
#[path = "../support/load.rs"]
mod load;
mod requests;
mod signing;
#[path = "../support/mod.rs"]
mod support;

use load::Run;
use support::{
    free_port, ms, percentile, rss_bytes, spawn_serve, CommonOptions, Process, ScratchDb,
};

use code_flow::code_round_trip;
use requests::{claims_of, hammer, measure_client_credentials, measure_client_credentials_reqwest};
use signing::{cores, fallback_claims, fresh_key, signing_rate, SigningLimit};

/// What to measure and against what.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "cargo bench --bench oidc --",
    about = "OIDC issuer: client_credentials tokens/s per algorithm, code flow, idle RSS, start time, against node oidc-provider"
)]
struct OidcBenchOptions {
    #[command(flatten)]
    common: CommonOptions,
    /// Concurrent clients in the timed phases.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds each timed phase runs at most (one algorithm's client_credentials, the code flow).
    #[arg(long, default_value_t = 5.0)]
    duration_secs: f64,
    /// Tokens each client_credentials phase requests at most (the phase ends at whichever of
    /// duration and count comes first).
    #[arg(long, default_value_t = 20_000)]
    max_tokens: usize,
    /// Authorization-code round trips at most in the code-flow phase.
    #[arg(long, default_value_t = 2_000)]
    max_round_trips: usize,
    /// Seconds of single-core signing per key type.
    #[arg(long, default_value_t = 2.0)]
    sign_secs: f64,
    /// Restarts on the migrated database timed for start-to-ready (the median is reported).
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// The node project of the `oidc-provider` peer (`npm ci` done in it); skipped when node
    /// or its node_modules are missing.
    #[arg(long, default_value = "tests/peers/oidc-provider")]
    oidc_provider_dir: PathBuf,
    /// The node executable for the peer.
    #[arg(long, default_value = "node")]
    node: String,
}

const SECRET: &str = "bench-client-secret";
const PASSWORD: &str = "bench-user-password";
const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
const CLIENTS: [(Alg, &str); 3] = [
    (Alg::RS256, "m2m-rs256"),
    (Alg::ES256, "m2m-es256"),
    (Alg::EdDSA, "m2m-eddsa"),
];

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Polls `url` every millisecond until it answers 200; returns how long that took from `since`.
async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    since: Instant,
    child: &mut Process,
) -> anyhow::Result<Duration> {
    let deadline = since + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 {
                return Ok(since.elapsed());
            }
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            bail!("the process serving {url} exited with {status} before it was ready");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    bail!("{url} did not become ready")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    if v.is_empty() {
        Duration::ZERO
    } else {
        v[v.len() / 2]
    }
}

fn config_text() -> String {
    let mut text = String::from("[[realm]]\nname = \"bench\"\n\n");
    for (alg, id) in CLIENTS {
        text.push_str(&format!(
            "[[client]]\nrealm = \"bench\"\nclient_id = \"{id}\"\nconfidential = true\n\
             secret = {{ env = \"BENCH_SECRET\" }}\ngrant_types = [\"client_credentials\"]\n\
             signing_alg = \"{}\"\nservice_account_roles = [\"api:read\"]\n\n",
            alg.as_str()
        ));
    }
    text.push_str(&format!(
        "[[client]]\nrealm = \"bench\"\nclient_id = \"web\"\nconfidential = true\n\
         secret = {{ env = \"BENCH_SECRET\" }}\nredirect_uris = [\"{REDIRECT_URI}\"]\n\
         grant_types = [\"authorization_code\", \"refresh_token\"]\n\n\
         [[organization]]\nrealm = \"bench\"\nalias = \"acme\"\nname = \"Acme\"\n\n\
         [[user]]\nrealm = \"bench\"\nusername = \"bench@acme.test\"\nemail = \"bench@acme.test\"\n\
         password = {{ env = \"BENCH_PASSWORD\" }}\norganizations = [\"acme\"]\n"
    ));
    text
}

fn spawn_vestibule(config: &Path, db_url: &str, port: u16) -> anyhow::Result<Process> {
    spawn_serve(
        config,
        db_url,
        port,
        &[("BENCH_SECRET", SECRET), ("BENCH_PASSWORD", PASSWORD)],
    )
}

/// One database's figures.
struct Figures {
    database: String,
    first_start: Duration,
    tokens: Vec<(Alg, Run)>,
    samples: Vec<(Alg, String)>,
    /// The RS256 signing limit, read between the slices of this database's RS256 load.
    rs256_limit: SigningLimit,
    code: Run,
    rss_after_load: Option<u64>,
    start_to_ready: Vec<Duration>,
    idle_rss: Vec<u64>,
}

fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

async fn measure_vestibule(opts: &OidcBenchOptions, database: &str) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let scratch = ScratchDb::create(database, dir.path(), &opts.common.postgres_url)?;
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, config_text())?;
    let client = http_client(opts.concurrency)?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let ready_url = format!("{base}/health/ready");
    let started = Instant::now();
    let mut daemon = spawn_vestibule(&config, &scratch.url, port)?;
    let first_start = wait_ready(&client, &ready_url, started, &mut daemon).await?;
    eprintln!(
        "[{database}] first start (migrations, declarations, key generation) ready in {:.0} ms",
        ms(first_start)
    );

    let token_url = format!("{base}/realms/bench/protocol/openid-connect/token");
    let mut tokens = Vec::new();
    let mut samples = Vec::new();
    let mut rs256_limit = SigningLimit::default();
    for (alg, id) in CLIENTS {
        let against_limit = alg == Alg::RS256;
        let (run, sample, limit) =
            measure_client_credentials(opts, &client, &token_url, id, alg, against_limit).await?;
        if let Some(limit) = limit {
            rs256_limit = limit;
        }
        eprintln!(
            "[{database}] {}: {} tokens in {:.1}s",
            alg.as_str(),
            run.done,
            run.elapsed.as_secs_f64()
        );
        tokens.push((alg, run));
        samples.push((alg, sample));
    }

    code_round_trip(&client, &base, usize::MAX).await?;
    let code = hammer(
        opts.concurrency,
        Duration::from_secs_f64(opts.duration_secs),
        opts.max_round_trips,
        {
            let (client, base) = (client.clone(), base.clone());
            move |i| {
                let (client, base) = (client.clone(), base.clone());
                async move { code_round_trip(&client, &base, i).await }
            }
        },
    )
    .await?;
    eprintln!(
        "[{database}] code flow: {} round trips in {:.1}s",
        code.done,
        code.elapsed.as_secs_f64()
    );
    let rss_after_load = rss_bytes(&daemon);
    drop(daemon);

    // Restarts on the migrated database with its keys: start-to-ready and idle memory.
    let mut start_to_ready = Vec::new();
    let mut idle_rss = Vec::new();
    for _ in 0..opts.starts {
        let port = free_port()?;
        let ready_url = format!("http://127.0.0.1:{port}/health/ready");
        // A fresh client: no pooled connection to a previous daemon.
        let probe = reqwest::Client::builder().build()?;
        let started = Instant::now();
        let mut daemon = spawn_vestibule(&config, &scratch.url, port)?;
        start_to_ready.push(wait_ready(&probe, &ready_url, started, &mut daemon).await?);
        drop(probe);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(rss) = rss_bytes(&daemon) {
            idle_rss.push(rss);
        }
    }
    Ok(Figures {
        database: database.to_string(),
        first_start,
        tokens,
        samples,
        rs256_limit,
        code,
        rss_after_load,
        start_to_ready,
        idle_rss,
    })
}

/// The peer's figures.
struct PeerFigures {
    start_to_ready: Duration,
    idle_rss: Option<u64>,
    tokens: Vec<(Alg, Run)>,
    rss_after_load: Option<u64>,
}

/// Why the peer cannot run here, if it cannot.
fn peer_unavailable(opts: &OidcBenchOptions) -> Option<String> {
    match Command::new(&opts.node)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        _ => return Some(format!("`{}` is not available", opts.node)),
    }
    let dir = &opts.oidc_provider_dir;
    if !dir.join("server.js").is_file() {
        return Some(format!("{} has no server.js", dir.display()));
    }
    if !dir.join("node_modules/oidc-provider").is_dir() {
        return Some(format!(
            "oidc-provider is not installed: run `npm ci` in {}",
            dir.display()
        ));
    }
    None
}

async fn measure_oidc_provider(opts: &OidcBenchOptions) -> anyhow::Result<PeerFigures> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client(opts.concurrency)?;
    let started = Instant::now();
    let mut server = Process(
        Command::new(&opts.node)
            .arg("server.js")
            .current_dir(&opts.oidc_provider_dir)
            .env("PORT", port.to_string())
            .env("BENCH_SECRET", SECRET)
            .env("NODE_ENV", "production")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn node server.js")?,
    );
    let start_to_ready = wait_ready(
        &client,
        &format!("{base}/.well-known/openid-configuration"),
        started,
        &mut server,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_bytes(&server);
    let token_url = format!("{base}/token");
    let mut tokens = Vec::new();
    for (alg, id) in CLIENTS {
        // The peer is measured with both load generators and keeps its better figure, so the
        // lean one cannot flatter the ratio by suiting us better than it suits node.
        let (lean, _, _) =
            measure_client_credentials(opts, &client, &token_url, id, alg, false).await?;
        let general = measure_client_credentials_reqwest(opts, &client, &token_url, id).await?;
        eprintln!(
            "[oidc-provider] {}: {:.0}/s with the lean load generator, {:.0}/s with reqwest",
            alg.as_str(),
            lean.per_sec(),
            general.per_sec(),
        );
        tokens.push((
            alg,
            if lean.per_sec() >= general.per_sec() {
                lean
            } else {
                general
            },
        ));
    }
    let rss_after_load = rss_bytes(&server);
    Ok(PeerFigures {
        start_to_ready,
        idle_rss,
        tokens,
        rss_after_load,
    })
}

fn rate_of(runs: &[(Alg, Run)], alg: Alg) -> f64 {
    runs.iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, r)| r.per_sec())
        .unwrap_or(0.0)
}

fn mb_or_dash(rss: Option<u64>) -> String {
    rss.map(|b| format!("{:.1} MB", mb(b)))
        .unwrap_or_else(|| "-".into())
}

/// One line per algorithm: client_credentials tokens/s and latencies.
fn print_token_runs(runs: &[(Alg, Run)]) {
    for (alg, run) in runs {
        println!(
            "  client_credentials {:<5} {:>8.0} tokens/s  ({} in {:.1} s; p50 {:.2} ms p99 {:.2} ms)",
            alg.as_str(),
            run.per_sec(),
            run.done,
            run.elapsed.as_secs_f64(),
            ms(percentile(&run.latencies, 50.0)),
            ms(percentile(&run.latencies, 99.0)),
        );
    }
}

/// Runs the whole OIDC benchmark and prints the report.
fn main() -> anyhow::Result<()> {
    let opts = OidcBenchOptions::parse();
    if opts.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (rows, peer) = runtime.block_on(async {
        let mut rows = Vec::new();
        for database in &opts.common.databases {
            rows.push(measure_vestibule(&opts, database).await?);
        }
        let peer = match peer_unavailable(&opts) {
            Some(why) => Err(why),
            None => Ok(measure_oidc_provider(&opts).await?),
        };
        Ok::<_, anyhow::Error>((rows, peer))
    })?;
    drop(runtime);

    // Signing alone, with nothing else running, on the claims the daemon really signs: one
    // thread per key type.
    let cores = cores();
    let claims_for = |alg: Alg| {
        rows.first()
            .and_then(|f| f.samples.iter().find(|(a, _)| *a == alg))
            .and_then(|(_, t)| claims_of(t))
            .unwrap_or_else(fallback_claims)
    };
    let mut signing = Vec::new();
    for alg in Alg::ALL {
        let key = fresh_key(alg)?;
        signing.push((
            alg,
            signing_rate(&key, &claims_for(alg), opts.sign_secs, 1)?,
        ));
    }
    let signs = |alg: Alg| {
        signing
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, r)| *r)
            .unwrap_or(0.0)
    };

    println!(
        "oidc bench: concurrency {}, each phase {:.0} s or {} tokens / {} round trips, whichever first; {} cores shared by the server, its database and this load generator",
        opts.concurrency,
        opts.duration_secs,
        opts.max_tokens,
        opts.max_round_trips,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    );
    println!(
        "single-core signing (vestibule::issuer::jwt, one thread, {:.1} s each): RS256 {:.0}/s  ES256 {:.0}/s  EdDSA {:.0}/s",
        opts.sign_secs,
        signs(Alg::RS256),
        signs(Alg::ES256),
        signs(Alg::EdDSA)
    );
    for f in &rows {
        println!("[{}]", f.database);
        print_token_runs(&f.tokens);
        let rs = rate_of(&f.tokens, Alg::RS256);
        let (measured, extrapolated) = (f.rs256_limit.measured(), f.rs256_limit.extrapolated());
        println!(
            "  RS256 fraction of the {cores}-core signing limit: {:.0} / {:.0} = {:.1} %  (target >= 80 %; {cores} threads signing at once, read between the load's {} slices)",
            rs,
            measured,
            100.0 * rs / measured.max(1e-9),
            f.rs256_limit.all_cores.len(),
        );
        println!(
            "  RS256 fraction of {cores} x the one-thread rate read in the same slices: {:.0} / ({cores} x {:.0}) = {:.1} %",
            rs,
            extrapolated / cores as f64,
            100.0 * rs / extrapolated.max(1e-9),
        );
        println!(
            "  authorization code round trip (authorize, login with argon2id, token): {:.1}/s  ({} in {:.1} s; p50 {:.1} ms p99 {:.1} ms)",
            f.code.per_sec(),
            f.code.done,
            f.code.elapsed.as_secs_f64(),
            ms(percentile(&f.code.latencies, 50.0)),
            ms(percentile(&f.code.latencies, 99.0)),
        );
        let rss_median = {
            let mut v = f.idle_rss.clone();
            v.sort();
            v.get(v.len() / 2).copied()
        };
        let ready = median(f.start_to_ready.clone());
        println!(
            "  idle RSS {} (median of {} starts; target < 30 MB)  RSS after the load {}",
            mb_or_dash(rss_median),
            f.idle_rss.len(),
            mb_or_dash(f.rss_after_load),
        );
        println!(
            "  start to ready {:.1} ms (median of {} starts on the migrated database: {}; target < 200 ms)  first start {:.0} ms",
            ms(ready),
            f.start_to_ready.len(),
            f.start_to_ready
                .iter()
                .map(|d| format!("{:.1}", ms(*d)))
                .collect::<Vec<_>>()
                .join(", "),
            ms(f.first_start),
        );
    }
    match &peer {
        Err(why) => println!("oidc-provider: skipped ({why})"),
        Ok(p) => {
            println!("[oidc-provider] (node, one process, in-memory adapter)");
            print_token_runs(&p.tokens);
            println!(
                "  idle RSS {}  RSS after the load {}  start to ready {:.0} ms",
                mb_or_dash(p.idle_rss),
                mb_or_dash(p.rss_after_load),
                ms(p.start_to_ready)
            );
            for f in &rows {
                let ratio = |alg| rate_of(&f.tokens, alg) / rate_of(&p.tokens, alg).max(1e-9);
                println!(
                    "ratio {} / oidc-provider tokens/s: RS256 {:.2}x  ES256 {:.2}x  EdDSA {:.2}x  (target ES256 and EdDSA >= 2x)",
                    f.database,
                    ratio(Alg::RS256),
                    ratio(Alg::ES256),
                    ratio(Alg::EdDSA),
                );
            }
        }
    }
    println!("targets: RS256 >= 80 % of the two-core signing limit; ES256 and EdDSA >= 2x oidc-provider; idle RSS < 30 MB; start to ready < 200 ms");
    Ok(())
}
