//! `cargo bench --bench saml -- [options]`: brokered logins through an upstream SAML IdP, on a
//! live daemon (the `vestibule` binary, spawned with `serve`, on the real clock) and SQLite and
//! PostgreSQL. The IdP is declared from the fixtures' metadata file and played by this process
//! (`tests/suite/common/saml_idp.rs`, the tests' own), which reads each AuthnRequest's ID from the broker's redirect and answers it
//! with a freshly signed Response. Figures, not assertions:
//!
//! - the ACS's time: the browser's POST of the Response to `/broker/{alias}/endpoint` until its
//!   redirect to the client, p50 and p99, one login at a time, for a signed assertion and for
//!   one encrypted to the SP's published certificate, each for first logins (a user created,
//!   linked, made a member) and returning ones. The IdP's signing and encrypting happen before
//!   the POST starts, so they are no part of it. Beside it, the CPU the daemon's threads ran
//!   for during the POST (PostgreSQL's own not counted), which other processes on the shared
//!   cores hardly inflate;
//! - logins per second through the whole chain (authorization request, broker start, the
//!   Response's POST, the client's code exchange) at a concurrency. The chain runs in rounds:
//!   every browser of a round goes to the IdP, the IdP signs their answers, then all of them
//!   post them and exchange their codes; only Vestibule's two halves are on the clock, so the
//!   IdP's signing neither counts nor takes the cores from the daemon while it is measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use openssl::pkey::{PKey, Public};

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/browser.rs"]
mod browser;

/// The tests' SAML IdP, as they use it.
#[path = "../../tests/suite/common/saml_idp.rs"]
mod idp;

use browser::{
    authorization_url, exchange, followed, realm_config, redirected, Jar, Live, LoginOptions,
    SECRET,
};
use idp::{Addressee, Idp};
use support::{ms, percentile, CommonOptions};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cargo bench --bench saml --",
    about = "Brokered SAML login: the ACS's time for signed and encrypted assertions, and logins/s through the chain"
)]
struct SamlBenchOptions {
    #[command(flatten)]
    common: CommonOptions,
    #[command(flatten)]
    load: LoginOptions,
}

const ALIAS: &str = "acme-saml";

fn config_text() -> String {
    format!(
        "{}[[identity_provider]]\nrealm = \"bench\"\nalias = \"{ALIAS}\"\nkind = \"saml\"\n\
         organization = \"acme\"\ndisplay_name = \"Acme SAML\"\nmetadata_file = \"{}\"\n",
        realm_config(),
        idp::fixture("idp-metadata.xml").display()
    )
}

/// The daemon as the bench reaches it, and the SP's side of the connection.
struct Sp {
    live: Live,
    issuer: String,
    acs: String,
    /// The certificate's key the SP's metadata publishes to encrypt to.
    key: PKey<Public>,
}

/// How the IdP answers.
#[derive(Clone, Copy)]
enum Kind {
    Signed,
    Encrypted,
}

/// A browser at the IdP: its cookies, and the AuthnRequest it brought.
struct AtTheIdp {
    jar: Jar,
    request_id: String,
}

/// Client `web`'s authorization request, on to the broker's start and its redirect to the IdP.
async fn to_the_idp(sp: &Sp, state: &str) -> anyhow::Result<AtTheIdp> {
    let mut jar = Jar::default();
    let authorize = authorization_url(&sp.issuer, state);
    let client = &sp.live.client;
    let broker = redirected(client, &mut jar, &authorize, &sp.live.base, "authorize").await?;
    let sso = redirected(
        client,
        &mut jar,
        &broker,
        &sp.live.base,
        "the broker's start",
    )
    .await?;
    Ok(AtTheIdp {
        jar,
        request_id: idp::request_id(&sso)?,
    })
}

/// The IdP's answer to `browser` about `name_id`: a Response, base64.
fn answer(
    idp: &Idp,
    sp: &Sp,
    browser: &AtTheIdp,
    name_id: &str,
    kind: Kind,
) -> anyhow::Result<String> {
    let to = Addressee {
        request_id: &browser.request_id,
        acs: &sp.acs,
        audience: &sp.issuer,
        name_id,
        attributes: &[],
    };
    match kind {
        Kind::Signed => idp.signed(&to),
        Kind::Encrypted => idp.encrypted(&to, &sp.key),
    }
}

/// The browser's POST of `response` to the ACS; where Vestibule sends it back to the client.
async fn post(sp: &Sp, browser: &mut AtTheIdp, response: &str) -> anyhow::Result<String> {
    let reply = sp
        .live
        .client
        .post(&sp.acs)
        .header("cookie", browser.jar.header())
        .form(&[("SAMLResponse", response)])
        .send()
        .await?;
    browser.jar.keep(&reply);
    followed(reply, &sp.live.base, "the ACS").await
}

/// What one ACS POST took: as the browser saw it, and of the daemon's CPU.
struct Posted {
    elapsed: Duration,
    cpu: Duration,
}

/// One login of a fresh browser as `name_id`, answered by `kind`: the ACS's time.
async fn login(
    sp: &Sp,
    idp: &Idp,
    name_id: &str,
    kind: Kind,
    state: &str,
) -> anyhow::Result<Posted> {
    let mut browser = to_the_idp(sp, state).await?;
    let response = answer(idp, sp, &browser, name_id, kind)?;
    let cpu_before = sp.live.cpu();
    let started = Instant::now();
    let back = post(sp, &mut browser, &response).await?;
    let elapsed = started.elapsed();
    let cpu = sp.live.cpu().saturating_sub(cpu_before);
    exchange(&sp.live.client, &sp.issuer, &back).await?;
    Ok(Posted { elapsed, cpu })
}

/// The ACS's figures for one kind of login: p50 and p99 as the browser saw it, the p50 of the
/// daemon's CPU.
struct Acs {
    p50: Duration,
    p99: Duration,
    cpu_p50: Duration,
}

impl Acs {
    fn of(posts: Vec<Posted>) -> Acs {
        let (mut elapsed, mut cpu): (Vec<Duration>, Vec<Duration>) =
            posts.into_iter().map(|p| (p.elapsed, p.cpu)).unzip();
        elapsed.sort();
        cpu.sort();
        Acs {
            p50: percentile(&elapsed, 50.0),
            p99: percentile(&elapsed, 99.0),
            cpu_p50: percentile(&cpu, 50.0),
        }
    }
}

/// `logins` first logins (a new person each) and as many returning ones (one person) answered
/// by `kind`: the ACS's figures of each.
async fn timed(
    sp: &Sp,
    idp: &Idp,
    kind: Kind,
    logins: usize,
    tag: &str,
) -> anyhow::Result<[Acs; 2]> {
    let mut first = Vec::with_capacity(logins);
    for i in 0..logins {
        let name_id = format!("first{i}-{tag}@acme.test");
        first.push(login(sp, idp, &name_id, kind, &format!("f{i}")).await?);
    }
    let returning_id = format!("back-{tag}@acme.test");
    login(sp, idp, &returning_id, kind, "warm").await?;
    let mut returning = Vec::with_capacity(logins);
    for i in 0..logins {
        returning.push(login(sp, idp, &returning_id, kind, &format!("r{i}")).await?);
    }
    Ok([first, returning].map(Acs::of))
}

/// Runs `step` for each of `items` over `concurrency` tasks, returning the results in order.
async fn at_once<T, R, F, Fut>(items: Vec<T>, concurrency: usize, step: F) -> anyhow::Result<Vec<R>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<R>>,
{
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<T>>> = items
        .into_iter()
        .map(|item| std::sync::Mutex::new(Some(item)))
        .collect();
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(i) else {
                return Ok::<_, anyhow::Error>(done);
            };
            let item = slot.lock().ok().and_then(|mut s| s.take());
            if let Some(item) = item {
                done.push((i, step(item).await?));
            }
        }
    });
    let mut all: Vec<(usize, R)> = futures_util::future::try_join_all(workers)
        .await?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// Returning logins through the whole chain at `concurrency`, in rounds: the time Vestibule's
/// halves of the chain took altogether, and how many logins.
async fn chain(
    sp: &Sp,
    idp: &Idp,
    opts: &SamlBenchOptions,
    name_id: &str,
) -> anyhow::Result<(usize, Duration)> {
    let round = (opts.load.concurrency * 8).max(1);
    let mut on_the_clock = Duration::ZERO;
    let mut done = 0;
    while done < opts.load.chain_logins {
        let size = round.min(opts.load.chain_logins - done);
        let started = Instant::now();
        let browsers = at_once((done..done + size).collect(), opts.load.concurrency, |i| {
            let state = format!("c{i}");
            async move { to_the_idp(sp, &state).await }
        })
        .await?;
        on_the_clock += started.elapsed();
        let answered = browsers
            .into_iter()
            .map(|b| answer(idp, sp, &b, name_id, Kind::Signed).map(|r| (b, r)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let started = Instant::now();
        at_once(
            answered,
            opts.load.concurrency,
            |(mut browser, response)| async move {
                let back = post(sp, &mut browser, &response).await?;
                exchange(&sp.live.client, &sp.issuer, &back).await
            },
        )
        .await?;
        on_the_clock += started.elapsed();
        done += size;
    }
    Ok((done, on_the_clock))
}

struct Figures {
    database: String,
    /// Signed then encrypted; first then returning.
    acs: [[Acs; 2]; 2],
    chain_logins: usize,
    chain_elapsed: Duration,
    /// The machine's 1-minute load average as the measurement began and ended: the cores are
    /// shared, and its figures mean little when others kept them busy.
    load: (String, String),
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split(' ').next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

async fn measure(opts: &SamlBenchOptions, database: &str, idp: &Idp) -> anyhow::Result<Figures> {
    let load_before = load_average();
    let env = [("BENCH_SECRET", SECRET)];
    let text = config_text();
    let live = Live::start(&opts.common, database, &text, &env, opts.load.concurrency).await?;
    let issuer = format!("{}/realms/bench", live.base);
    let descriptor = live
        .client
        .get(format!("{issuer}/broker/{ALIAS}/endpoint/descriptor"))
        .send()
        .await?
        .text()
        .await?;
    let sp = Sp {
        key: idp::sp_key(&descriptor)?,
        acs: format!("{issuer}/broker/{ALIAS}/endpoint"),
        issuer,
        live,
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    let signed = timed(
        &sp,
        idp,
        Kind::Signed,
        opts.load.logins,
        &format!("s-{run}"),
    )
    .await?;
    let encrypted = timed(
        &sp,
        idp,
        Kind::Encrypted,
        opts.load.logins,
        &format!("e-{run}"),
    )
    .await?;
    eprintln!(
        "[{database}] {} first and {} returning logins timed for each kind of assertion",
        opts.load.logins, opts.load.logins
    );
    let chained = format!("chain-{run}@acme.test");
    login(&sp, idp, &chained, Kind::Signed, "warm").await?;
    let (chain_logins, chain_elapsed) = chain(&sp, idp, opts, &chained).await?;
    eprintln!(
        "[{database}] {chain_logins} chained logins in {:.1}s on the clock",
        chain_elapsed.as_secs_f64()
    );
    Ok(Figures {
        database: database.to_string(),
        acs: [signed, encrypted],
        chain_logins,
        chain_elapsed,
        load: (load_before, load_average()),
    })
}

fn print(figures: &[Figures], opts: &SamlBenchOptions) {
    println!();
    println!(
        "Brokered SAML login, {} timed logins of each kind one at a time; the chain at concurrency {}",
        opts.load.logins, opts.load.concurrency
    );
    println!("| database | assertion | login | ACS p50 | ACS p99 | the daemon's CPU in it, p50 |");
    println!("|---|---|---|---|---|---|");
    for f in figures {
        for (assertion, kinds) in ["signed", "encrypted"].iter().zip(&f.acs) {
            for (login, acs) in ["first", "returning"].iter().zip(kinds) {
                println!(
                    "| {} | {assertion} | {login} | {:.2} ms | {:.2} ms | {:.2} ms |",
                    f.database,
                    ms(acs.p50),
                    ms(acs.p99),
                    ms(acs.cpu_p50)
                );
            }
        }
    }
    println!();
    println!("| database | logins through the chain (signed assertions) | logins/s | load average before, after |");
    println!("|---|---|---|---|");
    for f in figures {
        println!(
            "| {} | {} | {:.1} | {}, {} |",
            f.database,
            f.chain_logins,
            f.chain_logins as f64 / f.chain_elapsed.as_secs_f64().max(1e-9),
            f.load.0,
            f.load.1
        );
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let opts = SamlBenchOptions::parse();
    let idp = Idp::load()?;
    let mut figures = Vec::new();
    for database in &opts.common.databases {
        figures.push(measure(&opts, database, &idp).await?);
    }
    print(&figures, &opts);
    Ok(())
}
