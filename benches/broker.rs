//! `cargo bench --bench broker -- [options]`: brokered logins through a live daemon (the
//! `vestibule` binary, spawned with `serve`) and the tests' forged upstream IdP (in this
//! process), on SQLite and PostgreSQL. Figures, not assertions:
//!
//! - the callback's time on Vestibule's side: the browser's GET of
//!   `/broker/{alias}/endpoint?code=...` until its redirect to the client, less the time the
//!   IdP itself spent answering Vestibule's calls (`/token`, `/userinfo`, `/jwks`, as the IdP's
//!   own handlers measure it), p50 and p99, one login at a time, for first logins (a user
//!   created, linked, made a member) and for returning ones;
//! - logins per second through the whole chain (authorization request, broker start, the IdP's
//!   authorization, the callback, the client's code exchange) at a concurrency.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::Value;

#[path = "support/mod.rs"]
mod support;

/// The forged IdP of the tests, as they use it.
#[path = "../tests/suite/common"]
mod common {
    pub mod oidc {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use base64::Engine;
        use sha2::{Digest, Sha256};

        /// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
        pub fn challenge(verifier: &str) -> String {
            B64.encode(Sha256::digest(verifier.as_bytes()))
        }
    }
    #[allow(dead_code, unused_imports)]
    pub mod forged_idp;
}

use common::forged_idp::{Busy, ForgedIdp, Settings, User};
use support::{free_port, ms, percentile, spawn_serve, CommonOptions, Process, ScratchDb};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cargo bench --bench broker --",
    about = "Brokered OIDC login: the callback's time on Vestibule's side, and logins/s through the chain"
)]
struct BrokerBenchOptions {
    #[command(flatten)]
    common: CommonOptions,
    /// Logins timed one at a time, for first logins and again for returning ones.
    #[arg(long, default_value_t = 300)]
    logins: usize,
    /// Logins through the whole chain in the throughput phase.
    #[arg(long, default_value_t = 1_000)]
    chain_logins: usize,
    /// Browsers logging in at once in the throughput phase.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

const SECRET: &str = "bench-client-secret";
const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const ALIAS: &str = "acme-idp";

fn config_text(idp: &ForgedIdp) -> String {
    format!(
        "[[realm]]\nname = \"bench\"\n\n\
         [[organization]]\nrealm = \"bench\"\nalias = \"acme\"\nname = \"Acme\"\n\n\
         [[client]]\nrealm = \"bench\"\nclient_id = \"web\"\nconfidential = true\n\
         secret = {{ env = \"BENCH_SECRET\" }}\nredirect_uris = [\"{REDIRECT_URI}\"]\n\
         grant_types = [\"authorization_code\", \"refresh_token\"]\n\
         optional_scopes = [\"organization\"]\n\n\
         [[identity_provider]]\nrealm = \"bench\"\nalias = \"{ALIAS}\"\nkind = \"oidc\"\n\
         organization = \"acme\"\ndisplay_name = \"Acme SSO\"\nclient_id = \"{}\"\n\
         client_secret = {{ env = \"BENCH_IDP_SECRET\" }}\ndiscovery_url = \"{}\"\n",
        idp.client_id(),
        idp.discovery_url()
    )
}

fn spawn_vestibule(
    config: &Path,
    db_url: &str,
    port: u16,
    idp: &ForgedIdp,
) -> anyhow::Result<Process> {
    let idp_secret = idp.client_secret();
    spawn_serve(
        config,
        db_url,
        port,
        &[("BENCH_SECRET", SECRET), ("BENCH_IDP_SECRET", &idp_secret)],
    )
}

async fn wait_ready(
    client: &reqwest::Client,
    base: &str,
    child: &mut Process,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await {
            if r.status() == 200 {
                return Ok(());
            }
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            bail!("vestibule exited with {status} before it was ready");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("vestibule did not become ready")
}

/// One browser's cookies (name -> value); every cookie goes back to Vestibule, as all of them
/// are scoped to its realm.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, reply: &reqwest::Response) {
        for value in reply.headers().get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.0.remove(name);
                } else {
                    self.0.insert(name.to_string(), value.to_string());
                }
            }
        }
    }

    fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }
}

fn location(reply: &reqwest::Response, base: &str) -> anyhow::Result<String> {
    let status = reply.status();
    let location = reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("a {status} answer without Location"))?;
    Ok(if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_string()
    })
}

/// A GET as the browser: its cookies sent, the ones set kept, redirects not followed.
async fn visit(
    client: &reqwest::Client,
    jar: &mut Jar,
    url: &str,
) -> anyhow::Result<reqwest::Response> {
    let reply = client
        .get(url)
        .header("cookie", jar.header())
        .send()
        .await?;
    jar.keep(&reply);
    Ok(reply)
}

async fn redirected(
    client: &reqwest::Client,
    jar: &mut Jar,
    url: &str,
    base: &str,
    step: &str,
) -> anyhow::Result<String> {
    let reply = visit(client, jar, url).await?;
    if reply.status() != 302 {
        let status = reply.status();
        bail!(
            "{step} answered {status}: {}",
            reply.text().await.unwrap_or_default()
        );
    }
    location(&reply, base)
}

/// What one login measured.
struct Login {
    /// The callback, as the browser saw it.
    callback: Duration,
    /// The IdP's own time within it.
    upstream: Duration,
}

fn upstream_share(before: Busy, after: Busy) -> Duration {
    (after.token + after.userinfo + after.jwks + after.other)
        .saturating_sub(before.token + before.userinfo + before.jwks + before.other)
}

/// One brokered login of a fresh browser, the code exchanged at the end.
async fn login(
    client: &reqwest::Client,
    base: &str,
    idp: &ForgedIdp,
    state: &str,
) -> anyhow::Result<Login> {
    let issuer = format!("{base}/realms/bench");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "web"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid organization"),
            ("state", state),
            ("organization", "acme"),
            ("code_challenge", &common::oidc::challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let mut jar = Jar::default();
    let authorize = format!("{issuer}/protocol/openid-connect/auth?{query}");
    let broker = redirected(client, &mut jar, &authorize, base, "authorize").await?;
    let upstream = redirected(client, &mut jar, &broker, base, "the broker's start").await?;
    let callback = redirected(client, &mut jar, &upstream, base, "the IdP").await?;
    let before = idp.busy();
    let started = Instant::now();
    let back = redirected(client, &mut jar, &callback, base, "the callback").await?;
    let elapsed = started.elapsed();
    let after = idp.busy();
    let url = url::Url::parse(&back).context("the client's redirect")?;
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no code in {back}"))?;
    let reply = client
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .basic_auth("web", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?;
    let status = reply.status();
    let body: Value = reply.json().await?;
    if status != 200 || body["access_token"].as_str().is_none() {
        bail!("the code exchange answered {status}: {body}");
    }
    Ok(Login {
        callback: elapsed,
        upstream: upstream_share(before, after),
    })
}

/// Percentiles of one phase's callbacks.
struct Latency {
    vestibule_p50: Duration,
    vestibule_p99: Duration,
    callback_p50: Duration,
    upstream_p50: Duration,
}

fn latency(logins: &[Login]) -> Latency {
    let mut own: Vec<Duration> = logins
        .iter()
        .map(|l| l.callback.saturating_sub(l.upstream))
        .collect();
    let mut callback: Vec<Duration> = logins.iter().map(|l| l.callback).collect();
    let mut upstream: Vec<Duration> = logins.iter().map(|l| l.upstream).collect();
    own.sort();
    callback.sort();
    upstream.sort();
    Latency {
        vestibule_p50: percentile(&own, 50.0),
        vestibule_p99: percentile(&own, 99.0),
        callback_p50: percentile(&callback, 50.0),
        upstream_p50: percentile(&upstream, 50.0),
    }
}

struct Figures {
    database: String,
    first: Latency,
    returning: Latency,
    chain_logins: usize,
    chain_elapsed: Duration,
}

async fn measure(
    opts: &BrokerBenchOptions,
    database: &str,
    idp: &ForgedIdp,
) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let scratch = ScratchDb::create(database, dir.path(), &opts.common.postgres_url)?;
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, config_text(idp))?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = spawn_vestibule(&config, &scratch.url, port, idp)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.concurrency * 4)
        .build()?;
    wait_ready(&client, &base, &mut daemon).await?;
    let run = uuid::Uuid::new_v4().simple().to_string();

    // First logins: each a person the realm has never seen.
    let mut first = Vec::with_capacity(opts.logins);
    for i in 0..opts.logins {
        idp.sign_in_as(User::generic(&format!("first{i}-{}", &run[..8])));
        first.push(login(&client, &base, idp, &format!("f{i}")).await?);
    }
    // Returning logins: one person, linked since the first of them.
    idp.sign_in_as(User::generic(&format!("back-{}", &run[..8])));
    login(&client, &base, idp, "warm").await?;
    let mut returning = Vec::with_capacity(opts.logins);
    for i in 0..opts.logins {
        returning.push(login(&client, &base, idp, &format!("r{i}")).await?);
    }
    eprintln!(
        "[{database}] {} first and {} returning logins timed",
        first.len(),
        returning.len()
    );

    // The whole chain at a concurrency: returning logins, each its own browser.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..opts.concurrency)
        .map(|_| {
            let (client, base, next) = (client.clone(), base.clone(), next.clone());
            let total = opts.chain_logins;
            async move {
                let mut done = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return Ok::<usize, anyhow::Error>(done);
                    }
                    login(&client, &base, idp, &format!("c{i}")).await?;
                    done += 1;
                }
            }
        })
        .collect();
    let done: usize = futures_util::future::try_join_all(workers)
        .await?
        .into_iter()
        .sum();
    let chain_elapsed = started.elapsed();
    eprintln!(
        "[{database}] {done} chained logins in {:.1}s",
        chain_elapsed.as_secs_f64()
    );
    drop(daemon);
    Ok(Figures {
        database: database.to_string(),
        first: latency(&first),
        returning: latency(&returning),
        chain_logins: done,
        chain_elapsed,
    })
}

fn print(figures: &[Figures], opts: &BrokerBenchOptions) {
    println!();
    println!(
        "Brokered OIDC login, {} timed logins of each kind one at a time; the chain at concurrency {}",
        opts.logins, opts.concurrency
    );
    println!(
        "| database | login | callback on Vestibule's side p50 | p99 | callback as seen p50 | IdP's share p50 |"
    );
    println!("|---|---|---|---|---|---|");
    for f in figures {
        for (kind, l) in [("first", &f.first), ("returning", &f.returning)] {
            println!(
                "| {} | {kind} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                f.database,
                ms(l.vestibule_p50),
                ms(l.vestibule_p99),
                ms(l.callback_p50),
                ms(l.upstream_p50)
            );
        }
    }
    println!();
    println!("| database | logins through the chain | logins/s |");
    println!("|---|---|---|");
    for f in figures {
        println!(
            "| {} | {} | {:.1} |",
            f.database,
            f.chain_logins,
            f.chain_logins as f64 / f.chain_elapsed.as_secs_f64()
        );
    }
    if let Some(sqlite) = figures.iter().find(|f| f.database == "sqlite") {
        let worst = sqlite
            .first
            .vestibule_p99
            .max(sqlite.returning.vestibule_p99);
        println!();
        println!(
            "callback p99 on SQLite, Vestibule's side: {:.2} ms against the 10 ms target ({:.2}x of it)",
            ms(worst),
            ms(worst) / 10.0
        );
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let opts = BrokerBenchOptions::parse();
    let idp = ForgedIdp::start(Settings::default()).await;
    let mut figures = Vec::new();
    for database in &opts.common.databases {
        figures.push(measure(&opts, database, &idp).await?);
    }
    print(&figures, &opts);
    Ok(())
}
