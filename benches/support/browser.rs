//! One browser of the brokered-login benches (`benches/broker.rs`, `benches/saml/main.rs`):
//! its cookies, the client's authorization request, redirects read rather than followed, and
//! the client's code exchange at the end. Included by each as a module of its own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{free_port, spawn_serve, CommonOptions, Process, ScratchDb};

/// What the brokered-login benches take besides the databases.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginOptions {
    /// Logins timed one at a time, of each kind (first logins, then returning ones).
    #[arg(long, default_value_t = 300)]
    pub logins: usize,
    /// Logins through the whole chain in the throughput phase.
    #[arg(long, default_value_t = 1_000)]
    pub chain_logins: usize,
    /// Browsers logging in at once in the throughput phase.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

pub const SECRET: &str = "bench-client-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Realm `bench`, its organization `acme` and confidential client `web` (secret from
/// `BENCH_SECRET`), in the daemon's TOML; the benches add their identity provider.
pub fn realm_config() -> String {
    format!(
        "[[realm]]\nname = \"bench\"\n\n\
         [[organization]]\nrealm = \"bench\"\nalias = \"acme\"\nname = \"Acme\"\n\n\
         [[client]]\nrealm = \"bench\"\nclient_id = \"web\"\nconfidential = true\n\
         secret = {{ env = \"BENCH_SECRET\" }}\nredirect_uris = [\"{REDIRECT_URI}\"]\n\
         grant_types = [\"authorization_code\", \"refresh_token\"]\n\
         optional_scopes = [\"organization\"]\n\n"
    )
}

/// A daemon serving a config on a scratch database, and the client a bench reaches it with.
/// Dropped in field order: the daemon before its database and their directory.
pub struct Live {
    pub client: reqwest::Client,
    /// `http://127.0.0.1:{port}`, also its public URL.
    pub base: String,
    daemon: Process,
    _db: ScratchDb,
    _dir: tempfile::TempDir,
}

impl Live {
    /// `vestibule serve` with the config `text` and `env` on a scratch `database`, ready; its
    /// client keeps `concurrency` browsers' connections alive.
    pub async fn start(
        common: &CommonOptions,
        database: &str,
        text: &str,
        env: &[(&str, &str)],
        concurrency: usize,
    ) -> anyhow::Result<Live> {
        let dir = tempfile::tempdir()?;
        let db = ScratchDb::create(database, dir.path(), &common.postgres_url)?;
        let config = dir.path().join("bench.toml");
        std::fs::write(&config, text)?;
        let port = free_port()?;
        let mut daemon = spawn_serve(&config, &db.url, port, env)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency * 4)
            .build()?;
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&client, &base, &mut daemon).await?;
        Ok(Live {
            client,
            base,
            daemon,
            _db: db,
            _dir: dir,
        })
    }
}

impl Live {
    /// The CPU time the daemon's threads have had so far (the first field of each thread's
    /// `schedstat`, which counts what it ran, not what it waited for a core): unlike a request's
    /// time as the client sees it, it hardly grows when other processes take the cores.
    pub fn cpu(&self) -> Duration {
        let pid = self.daemon.0.id();
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Duration::ZERO;
        };
        let nanos: u64 = threads
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|text| text.split(' ').next().and_then(|n| n.parse::<u64>().ok()))
            .sum();
        Duration::from_nanos(nanos)
    }
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
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    pub fn keep(&mut self, reply: &reqwest::Response) {
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

    pub fn header(&self) -> String {
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

/// Where a 302 answer of `step` sends the browser; anything else is an error with its body.
pub async fn followed(reply: reqwest::Response, base: &str, step: &str) -> anyhow::Result<String> {
    if reply.status() != 302 {
        let status = reply.status();
        bail!(
            "{step} answered {status}: {}",
            reply.text().await.unwrap_or_default()
        );
    }
    location(&reply, base)
}

/// A GET as the browser: its cookies sent, the ones set kept, the redirect not followed but
/// returned.
pub async fn redirected(
    client: &reqwest::Client,
    jar: &mut Jar,
    url: &str,
    base: &str,
    step: &str,
) -> anyhow::Result<String> {
    let reply = client
        .get(url)
        .header("cookie", jar.header())
        .send()
        .await?;
    jar.keep(&reply);
    followed(reply, base, step).await
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

/// Client `web`'s authorization request for organization acme, with PKCE.
pub fn authorization_url(issuer: &str, state: &str) -> String {
    let challenge = challenge(VERIFIER);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "web"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid organization"),
            ("state", state),
            ("organization", "acme"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    format!("{issuer}/protocol/openid-connect/auth?{query}")
}

/// The client's end of a login: the code of its redirect `back`, exchanged for tokens.
pub async fn exchange(client: &reqwest::Client, issuer: &str, back: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(back).context("the client's redirect")?;
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
    Ok(())
}
