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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

#[path = "support/mod.rs"]
mod support;

/// `Live::cpu` is the SAML bench's only.
#[allow(dead_code)]
#[path = "support/browser.rs"]
mod browser;

/// The forged IdP of the tests, as they use it.
#[path = "../tests/suite/common"]
mod common {
    pub mod oidc {
        pub use crate::browser::challenge;
    }
    #[allow(dead_code, unused_imports)]
    pub mod forged_idp;
}

use browser::{
    authorization_url, exchange, realm_config, redirected, Jar, Live, LoginOptions, SECRET,
};
use common::forged_idp::{Busy, ForgedIdp, Settings, User};
use support::{ms, percentile, CommonOptions};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cargo bench --bench broker --",
    about = "Brokered OIDC login: the callback's time on Vestibule's side, and logins/s through the chain"
)]
struct BrokerBenchOptions {
    #[command(flatten)]
    common: CommonOptions,
    #[command(flatten)]
    load: LoginOptions,
}

const ALIAS: &str = "acme-idp";

fn config_text(idp: &ForgedIdp) -> String {
    format!(
        "{}[[identity_provider]]\nrealm = \"bench\"\nalias = \"{ALIAS}\"\nkind = \"oidc\"\n\
         organization = \"acme\"\ndisplay_name = \"Acme SSO\"\nclient_id = \"{}\"\n\
         client_secret = {{ env = \"BENCH_IDP_SECRET\" }}\ndiscovery_url = \"{}\"\n",
        realm_config(),
        idp.client_id(),
        idp.discovery_url()
    )
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
    let mut jar = Jar::default();
    let authorize = authorization_url(&issuer, state);
    let broker = redirected(client, &mut jar, &authorize, base, "authorize").await?;
    let upstream = redirected(client, &mut jar, &broker, base, "the broker's start").await?;
    let callback = redirected(client, &mut jar, &upstream, base, "the IdP").await?;
    let before = idp.busy();
    let started = Instant::now();
    let back = redirected(client, &mut jar, &callback, base, "the callback").await?;
    let elapsed = started.elapsed();
    let after = idp.busy();
    exchange(client, &issuer, &back).await?;
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
    let secret = idp.client_secret();
    let env = [
        ("BENCH_SECRET", SECRET),
        ("BENCH_IDP_SECRET", secret.as_str()),
    ];
    let text = config_text(idp);
    let live = Live::start(&opts.common, database, &text, &env, opts.load.concurrency).await?;
    let (client, base) = (&live.client, &live.base);
    let run = uuid::Uuid::new_v4().simple().to_string();

    // First logins: each a person the realm has never seen.
    let mut first = Vec::with_capacity(opts.load.logins);
    for i in 0..opts.load.logins {
        idp.sign_in_as(User::generic(&format!("first{i}-{}", &run[..8])));
        first.push(login(client, base, idp, &format!("f{i}")).await?);
    }
    // Returning logins: one person, linked since the first of them.
    idp.sign_in_as(User::generic(&format!("back-{}", &run[..8])));
    login(client, base, idp, "warm").await?;
    let mut returning = Vec::with_capacity(opts.load.logins);
    for i in 0..opts.load.logins {
        returning.push(login(client, base, idp, &format!("r{i}")).await?);
    }
    eprintln!(
        "[{database}] {} first and {} returning logins timed",
        first.len(),
        returning.len()
    );

    // The whole chain at a concurrency: returning logins, each its own browser.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..opts.load.concurrency)
        .map(|_| {
            let (client, base, next) = (client.clone(), base.clone(), next.clone());
            let total = opts.load.chain_logins;
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
    drop(live);
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
        opts.load.logins, opts.load.concurrency
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
