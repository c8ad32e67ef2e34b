//! `vestibule bench oidc`: measures the issuer of a live daemon (this binary, spawned with
//! `serve`) on SQLite and PostgreSQL: client_credentials tokens/s per signing algorithm, the
//! authorization-code round trip, idle memory and start-to-ready time; the single-core signing
//! rate of each key type with the server's own signing code; and node `oidc-provider` on the
//! same client_credentials requests in the same run. Figures, not assertions.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::{STANDARD as B64_STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::bench::{free_port, ms, percentile, Process};
use crate::bench_load::{self, Run};
use crate::issuer::jwt::{self, Alg, SigningKey};

/// What to measure and against what.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcBenchOptions {
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
    /// Concurrent clients in the timed phases.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds each timed phase runs at most (one algorithm's client_credentials, the code flow).
    #[arg(long, default_value_t = 5.0)]
    pub duration_secs: f64,
    /// Tokens each client_credentials phase requests at most (the phase ends at whichever of
    /// duration and count comes first).
    #[arg(long, default_value_t = 20_000)]
    pub max_tokens: usize,
    /// Authorization-code round trips at most in the code-flow phase.
    #[arg(long, default_value_t = 2_000)]
    pub max_round_trips: usize,
    /// Seconds of single-core signing per key type.
    #[arg(long, default_value_t = 2.0)]
    pub sign_secs: f64,
    /// Restarts on the migrated database timed for start-to-ready (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub starts: usize,
    /// The node project of the `oidc-provider` peer (`npm ci` done in it); skipped when node
    /// or its node_modules are missing.
    #[arg(long, default_value = "tests/peers/oidc-provider")]
    pub oidc_provider_dir: PathBuf,
    /// The node executable for the peer.
    #[arg(long, default_value = "node")]
    pub node: String,
}

const SECRET: &str = "bench-client-secret";
const PASSWORD: &str = "bench-user-password";
const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
const CLIENTS: [(Alg, &str); 3] = [
    (Alg::RS256, "m2m-rs256"),
    (Alg::ES256, "m2m-es256"),
    (Alg::EdDSA, "m2m-eddsa"),
];

/// Resident memory of a process, in bytes (Linux `/proc`).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

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

/// Runs `op` from `concurrency` tasks until `duration` has passed or `max` operations started.
async fn hammer<F, Fut>(
    concurrency: usize,
    duration: Duration,
    max: usize,
    op: F,
) -> anyhow::Result<Run>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                if Instant::now() >= deadline {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    return Ok(latencies);
                }
                let t = Instant::now();
                op(i).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Run {
        done: latencies.len(),
        elapsed,
        latencies,
    })
}

/// One client_credentials request, client_secret_basic; returns the access token.
async fn client_credentials(
    client: &reqwest::Client,
    token_url: &str,
    client_id: &str,
) -> anyhow::Result<String> {
    let resp = client
        .post(token_url)
        .basic_auth(client_id, Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if status != 200 {
        bail!(
            "{client_id}: the token endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Only the token's presence is checked: parsing the whole answer would cost the client
    // CPU that the server needs on this machine.
    let start = find_bytes(&body, b"\"access_token\":\"")
        .with_context(|| format!("{client_id}: no access_token in the answer"))?
        + 16;
    let len = body[start..]
        .iter()
        .position(|&b| b == b'"')
        .context("unterminated access_token")?;
    Ok(String::from_utf8_lossy(&body[start..start + len]).into_owned())
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn claims_of(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

fn header_alg(token: &str) -> Option<String> {
    let header: Value = serde_json::from_slice(&B64.decode(token.split('.').next()?).ok()?).ok()?;
    header["alg"].as_str().map(str::to_string)
}

/// A token endpoint answer must be a 200 with an access token in it. Only its presence is
/// checked: parsing the whole answer would cost the client CPU that the server needs here.
fn token_answered(response: &bench_load::Response) -> anyhow::Result<()> {
    if response.status != 200 {
        bail!(
            "the token endpoint answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    if find_bytes(&response.body, b"\"access_token\":\"").is_none() {
        bail!("no access_token in the answer");
    }
    Ok(())
}

/// client_credentials throughput of one client (one algorithm), after a warm-up, driven by the
/// lean load generator (`bench_load`) so that the client's CPU stays small. With
/// `against_limit`, the load runs in slices with readings of the signing limit between them.
async fn measure_client_credentials(
    opts: &OidcBenchOptions,
    client: &reqwest::Client,
    token_url: &str,
    client_id: &'static str,
    alg: Alg,
    against_limit: bool,
) -> anyhow::Result<(Run, String, Option<SigningLimit>)> {
    // The first request pays the client secret's hash check; its token shows the algorithm.
    let sample = client_credentials(client, token_url, client_id).await?;
    if header_alg(&sample).as_deref() != Some(alg.as_str()) {
        bail!("{client_id}: the token is not signed with {}", alg.as_str());
    }
    let url = url::Url::parse(token_url)?;
    let addr = *url
        .socket_addrs(|| None)?
        .first()
        .context("the token URL names no address")?;
    let basic = format!(
        "Basic {}",
        B64_STANDARD.encode(format!("{client_id}:{SECRET}"))
    );
    let request = bench_load::Request::post_form(
        addr,
        url.path(),
        &[("Authorization", &basic)],
        "grant_type=client_credentials",
    );
    let (concurrency, duration, max) = (
        opts.concurrency,
        Duration::from_secs_f64(opts.duration_secs),
        opts.max_tokens,
    );
    let warm = request.clone();
    tokio::task::spawn_blocking(move || {
        bench_load::hammer(
            addr,
            warm,
            concurrency,
            Duration::from_millis(300),
            2_000,
            token_answered,
        )
    })
    .await??;
    if !against_limit {
        let run = tokio::task::spawn_blocking(move || {
            bench_load::hammer(addr, request, concurrency, duration, max, token_answered)
        })
        .await??;
        return Ok((run, sample, None));
    }
    // The machine's speed drifts by a fifth within minutes, so the signing limit is read in
    // slices between slices of the load, and each total is compared with the other.
    let rounds = (2.0 * opts.duration_secs).ceil().max(1.0) as usize;
    let slice = duration / rounds as u32;
    let key = fresh_key(alg)?;
    let claims = Arc::new(claims_of(&sample).unwrap_or_else(fallback_claims));
    let mut limit = SigningLimit::default();
    let mut runs = Vec::new();
    for _ in 0..rounds {
        let (key, claims, reading) = (key.clone(), claims.clone(), slice.as_secs_f64() / 4.0);
        let (single, parallel) = tokio::task::spawn_blocking(move || {
            Ok::<_, anyhow::Error>((
                signing_rate(&key, &claims, reading, 1)?,
                signing_rate(&key, &claims, reading, cores())?,
            ))
        })
        .await??;
        limit.single_core.push(single);
        limit.all_cores.push(parallel);
        let request = request.clone();
        runs.push(
            tokio::task::spawn_blocking(move || {
                bench_load::hammer(addr, request, concurrency, slice, max, token_answered)
            })
            .await??,
        );
    }
    Ok((Run::merge(runs), sample, Some(limit)))
}

/// Signing-limit readings taken between the slices of a load.
#[derive(Debug, Clone, Default)]
struct SigningLimit {
    /// One thread's signatures per second, one reading per slice.
    single_core: Vec<f64>,
    /// Every core's signatures per second together, one reading per slice.
    all_cores: Vec<f64>,
}

impl SigningLimit {
    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / (v.len().max(1) as f64)
    }

    /// The limit itself: what every core signs when all of them sign at once, as the server's
    /// do under load.
    fn measured(&self) -> f64 {
        Self::mean(&self.all_cores)
    }

    /// The limit extrapolated from one thread. On this virtual machine one busy core runs
    /// faster than each of two busy ones, so this reads higher than [`Self::measured`].
    fn extrapolated(&self) -> f64 {
        cores() as f64 * Self::mean(&self.single_core)
    }
}

/// client_credentials throughput driven by reqwest on the multi-threaded runtime (a general
/// HTTP client), after a warm-up.
async fn measure_client_credentials_reqwest(
    opts: &OidcBenchOptions,
    client: &reqwest::Client,
    token_url: &str,
    client_id: &'static str,
) -> anyhow::Result<Run> {
    let phase = |duration: Duration, max: usize| {
        let (client, url) = (client.clone(), token_url.to_string());
        hammer(opts.concurrency, duration, max, move |_| {
            let (client, url) = (client.clone(), url.clone());
            async move { client_credentials(&client, &url, client_id).await.map(drop) }
        })
    };
    phase(Duration::from_millis(300), 2_000).await?;
    phase(Duration::from_secs_f64(opts.duration_secs), opts.max_tokens).await
}

/// The value of the hidden input `name` in an HTML form.
fn hidden_input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(
        rest[v..v + end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// One authorization-code round trip: authorize GET, login POST, code, token POST.
async fn code_round_trip(client: &reqwest::Client, base: &str, i: usize) -> anyhow::Result<()> {
    let issuer = format!("{base}/realms/bench");
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = B64.encode(bytes);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let state = format!("s{i}");
    let query = form(&[
        ("client_id", "web"),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", &state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let resp = client
        .get(format!("{issuer}/protocol/openid-connect/auth?{query}"))
        .send()
        .await?;
    let status = resp.status();
    let html = resp.text().await?;
    if status != 200 {
        bail!("authorize answered {status}: {html}");
    }
    let request = hidden_input(&html, "request").context("no request input on the login page")?;
    let csrf = hidden_input(&html, "csrf").context("no csrf input on the login page")?;
    let resp = client
        .post(format!("{base}/realms/bench/login-actions/authenticate"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("request", &request),
            ("csrf", &csrf),
            ("username", "bench@acme.test"),
            ("password", PASSWORD),
        ]))
        .send()
        .await?;
    if resp.status() != 302 {
        let status = resp.status();
        bail!(
            "the login answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("the login's redirect has no Location")?;
    let url = url::Url::parse(location).context("the login's Location is not a URL")?;
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        bail!("the redirect lost the state: {location}");
    }
    let code = param("code").with_context(|| format!("no code in {location}"))?;
    let resp = client
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .basic_auth("web", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ]))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if status != 200 || body["access_token"].as_str().is_none() || body["id_token"].is_null() {
        bail!("the code exchange answered {status}: {body}");
    }
    Ok(())
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
    let child = Command::new(std::env::current_exe()?)
        .args(["serve", "--config"])
        .arg(config)
        .env("BENCH_SECRET", SECRET)
        .env("BENCH_PASSWORD", PASSWORD)
        .env("VESTIBULE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("VESTIBULE_DATABASE__URL", db_url)
        .env("VESTIBULE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn vestibule serve")?;
    Ok(Process(child))
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
    let scratch = crate::bench::ScratchDb::create(database, dir.path(), &opts.postgres_url)?;
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
    let rss_after_load = rss_bytes(daemon.pid());
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
        if let Some(rss) = rss_bytes(daemon.pid()) {
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
    let idle_rss = rss_bytes(server.pid());
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
    let rss_after_load = rss_bytes(server.pid());
    Ok(PeerFigures {
        start_to_ready,
        idle_rss,
        tokens,
        rss_after_load,
    })
}

/// A fresh signing key of `alg`, as the server would hold it.
fn fresh_key(alg: Alg) -> anyhow::Result<Arc<SigningKey>> {
    Ok(Arc::new(SigningKey::new(
        "bench".into(),
        alg,
        jwt::generate(alg).map_err(|e| anyhow::anyhow!("{e}"))?,
    )))
}

/// Signs `claims` with `key` from `threads` threads at once for `secs`, the way the server
/// shares its key; signatures per second, all threads together.
fn signing_rate(
    key: &Arc<SigningKey>,
    claims: &Value,
    secs: f64,
    threads: usize,
) -> anyhow::Result<f64> {
    for _ in 0..20 {
        key.sign(claims, "JWT")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let budget = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let key = key.clone();
                scope.spawn(move || -> anyhow::Result<u64> {
                    let mut n = 0u64;
                    while started.elapsed() < budget {
                        for _ in 0..16 {
                            std::hint::black_box(
                                key.sign(std::hint::black_box(claims), "JWT")
                                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                            );
                        }
                        n += 16;
                    }
                    Ok(n)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
            })
            .collect::<anyhow::Result<Vec<u64>>>()
    })?;
    Ok(counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64())
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// A typical access token's claims when no live sample is at hand.
fn fallback_claims() -> Value {
    json!({
        "exp": 1_900_000_300, "iat": 1_900_000_000, "jti": "0193a7c4-1f2e-7b3c-9d8e-4a5b6c7d8e9f",
        "iss": "http://127.0.0.1:8080/realms/bench", "sub": "0193a7c4-1f2e-7b3c-9d8e-4a5b6c7d8e90",
        "typ": "Bearer", "azp": "m2m-rs256", "scope": "profile email roles",
        "realm_access": {"roles": ["api:read"]}, "email_verified": false,
        "preferred_username": "service-account-m2m-rs256", "client_id": "m2m-rs256"
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

/// Runs the whole OIDC benchmark and prints the report.
pub fn run_oidc(opts: OidcBenchOptions) -> anyhow::Result<()> {
    if opts.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (rows, peer) = runtime.block_on(async {
        let mut rows = Vec::new();
        for database in &opts.databases {
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
        "vestibule bench oidc: concurrency {}, each phase {:.0} s or {} tokens / {} round trips, whichever first; {} cores shared by the server, its database and this load generator",
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
        for (alg, run) in &f.tokens {
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
            for (alg, run) in &p.tokens {
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
