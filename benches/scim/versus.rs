//! Vestibule against Ory Polis in memory (issue 10): the same three loads on both servers, each
//! on its own organization (or directory) holding the same preloaded users and groups, in slices
//! taken in turn (Vestibule then Polis, Polis then Vestibule, ...) because this machine's speed
//! drifts within minutes. Polis is the `@boxyhq/saml-jackson` directory-sync SCIM handler behind
//! the node wrapper in `benches/polis`; the bench starts it and installs nothing.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::load::{hammer_each, Request, Response, Run};
use super::pinning::Pinning;
use super::support::{free_port, rss_bytes, serve_command, Process, ScratchDb};
use super::{create_users, group_body, mb, user_body, vestibule_config, wait_ready, Target, TOKEN};

/// How big the comparison is.
#[derive(Debug, Clone, clap::Args)]
pub struct VersusOptions {
    /// The node project of the Ory Polis peer (`npm ci` already run in it, e.g. benches/polis);
    /// without it the comparison is skipped.
    #[arg(long)]
    pub polis: Option<PathBuf>,
    /// The node executable for the Polis peer.
    #[arg(long, default_value = "node")]
    pub node: String,
    /// Users preloaded on each server before the Polis comparison's loads.
    #[arg(long, default_value_t = 10_000)]
    pub versus_users: usize,
    /// Groups preloaded on each server before the Polis comparison's loads.
    #[arg(long, default_value_t = 100)]
    pub versus_groups: usize,
    /// Requests of each load sent to each server in the Polis comparison.
    #[arg(long, default_value_t = 10_000)]
    pub versus_requests: usize,
    /// Slices each load is cut into, taken in turn by the two servers.
    #[arg(long, default_value_t = 5)]
    pub versus_slices: usize,
}

/// A running server under comparison, with what was preloaded on it.
struct Server {
    name: &'static str,
    process: Process,
    target: Target,
    users: Vec<String>,
    groups: Vec<String>,
    rss_after_preload: Option<u64>,
}

/// The three loads of issue 10's table.
#[derive(Debug, Clone, Copy)]
enum Load {
    Creates,
    Lookups,
    MemberAdds,
}

impl Load {
    const ALL: [Load; 3] = [Load::Creates, Load::Lookups, Load::MemberAdds];

    fn label(self) -> &'static str {
        match self {
            Load::Creates => "POST /Users",
            Load::Lookups => "GET /Users?filter=userName eq \"...\"",
            Load::MemberAdds => "PATCH /Groups add one member",
        }
    }

    fn check(self) -> fn(&Response) -> anyhow::Result<()> {
        match self {
            Load::Creates => created,
            Load::Lookups => found_one,
            Load::MemberAdds => member_added,
        }
    }

    /// Request `k` of this load for `server`. Creates make users past the preloaded ones, lookups
    /// spread over the preloaded users, member adds make distinct (group, user) pairs.
    fn request(self, server: &Server, k: usize, preloaded: usize) -> Request {
        let auth = format!("Bearer {}", server.target.token);
        let headers = [("Authorization", auth.as_str())];
        let prefix = &server.target.prefix;
        match self {
            Load::Creates => Request::new(
                "POST",
                server.target.addr,
                &format!("{prefix}/Users"),
                &headers,
                Some((
                    "application/scim+json",
                    &user_body(preloaded + k).to_string(),
                )),
            ),
            Load::Lookups => {
                let filter = format!(
                    "userName eq \"bench.user.{}@acme.test\"",
                    (k * 7919) % preloaded
                );
                let filter: String = url::form_urlencoded::byte_serialize(filter.as_bytes())
                    .collect::<String>()
                    // The form encoding's `+` for a space means `+` in a URL's query to a
                    // server that reads it as RFC 3986 (node's URLSearchParams does not).
                    .replace('+', "%20");
                Request::new(
                    "GET",
                    server.target.addr,
                    &format!("{prefix}/Users?filter={filter}"),
                    &headers,
                    None,
                )
            }
            Load::MemberAdds => {
                let group = &server.groups[k % server.groups.len()];
                let user = &server.users[(k / server.groups.len()) % server.users.len()];
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]
                });
                Request::new(
                    "PATCH",
                    server.target.addr,
                    &format!("{prefix}/Groups/{group}"),
                    &headers,
                    Some(("application/scim+json", &body.to_string())),
                )
            }
        }
    }
}

fn body_of(response: &Response) -> anyhow::Result<Value> {
    serde_json::from_slice(&response.body).context("the answer is not JSON")
}

fn status_is(response: &Response, expected: &[u16]) -> anyhow::Result<()> {
    if !expected.contains(&response.status) {
        bail!(
            "answered {} (expected {expected:?}): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    Ok(())
}

fn created(response: &Response) -> anyhow::Result<()> {
    status_is(response, &[201])?;
    if body_of(response)?["id"].as_str().is_none_or(str::is_empty) {
        bail!("a 201 without an id");
    }
    Ok(())
}

fn found_one(response: &Response) -> anyhow::Result<()> {
    status_is(response, &[200])?;
    let found = body_of(response)?["Resources"].as_array().map(Vec::len);
    if found != Some(1) {
        bail!("the list holds {found:?} resources, expected one");
    }
    Ok(())
}

fn member_added(response: &Response) -> anyhow::Result<()> {
    status_is(response, &[200, 204])
}

/// Starts `node {dir}/server.mjs` and reads the SCIM base URL and token it prints.
fn spawn_polis(
    opts: &VersusOptions,
    dir: &Path,
    pinning: Pinning,
) -> anyhow::Result<(Process, Target)> {
    if !dir.join("node_modules/@boxyhq/saml-jackson").is_dir() {
        bail!(
            "@boxyhq/saml-jackson is not installed in {}: run `(cd {} && npm ci)`",
            dir.display(),
            dir.display()
        );
    }
    let port = free_port()?;
    let mut command = Command::new(&opts.node);
    command
        .arg("server.mjs")
        .arg(port.to_string())
        .current_dir(dir)
        .env("NODE_ENV", "production")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    pinning.server(&mut command);
    let mut process = Process(command.spawn().context("spawn node server.mjs")?);
    let stdout = process.0.stdout.take().context("node's stdout")?;
    let (sender, receiver) = mpsc::channel();
    // Reads node's stdout to its end, so that a chatty peer never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("POLIS_SCIM ") {
                let _ = sender.send(rest.to_string());
            }
        }
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .context("node server.mjs printed no `POLIS_SCIM <url> <token>` line within 60 s")?;
    let (url, token) = line
        .split_once(' ')
        .context("the POLIS_SCIM line has no token")?;
    let rest = url
        .strip_prefix("http://")
        .context("the Polis SCIM URL is not http://")?;
    let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
    let target = Target {
        addr: addr.parse().context("the Polis SCIM URL's host:port")?,
        prefix: format!("/{path}"),
        token: token.to_string(),
    };
    Ok((process, target))
}

/// Preloads `opts.versus_users` users and `opts.versus_groups` groups.
async fn preload(
    name: &'static str,
    process: Process,
    target: Target,
    opts: &VersusOptions,
    concurrency: usize,
) -> anyhow::Result<Server> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let (users, elapsed) =
        create_users(&client, &target, 0..opts.versus_users, concurrency).await?;
    let mut groups = Vec::with_capacity(opts.versus_groups);
    for g in 0..opts.versus_groups {
        let resp = client
            .post(format!("{}/Groups", target.base()))
            .bearer_auth(&target.token)
            .header("content-type", "application/scim+json")
            .body(group_body(&format!("Bench Group {g}")).to_string())
            .send()
            .await?;
        if resp.status() != 201 {
            bail!("[{name}] POST /Groups answered {}", resp.status());
        }
        let body: Value = resp.json().await?;
        groups.push(
            body["id"]
                .as_str()
                .context("a group without an id")?
                .to_string(),
        );
    }
    eprintln!(
        "[{name}] preloaded {} users ({:.0}/s) and {} groups",
        users.len(),
        users.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        groups.len()
    );
    let rss_after_preload = rss_bytes(&process);
    Ok(Server {
        name,
        process,
        target,
        users,
        groups,
        rss_after_preload,
    })
}

/// One load's figures on both servers.
pub struct LoadFigures {
    label: &'static str,
    runs: [Run; 2],
}

/// The comparison's figures.
pub struct VersusFigures {
    preloaded: (usize, usize),
    requests: usize,
    slices: usize,
    concurrency: usize,
    names: [&'static str; 2],
    loads: Vec<LoadFigures>,
    rss: [(Option<u64>, Option<u64>); 2],
}

/// Runs the comparison, when `--polis` names the peer.
pub async fn measure(
    opts: &VersusOptions,
    concurrency: usize,
    pinning: Pinning,
) -> anyhow::Result<Option<VersusFigures>> {
    let Some(dir) = &opts.polis else {
        return Ok(None);
    };
    if opts.versus_users == 0 || opts.versus_groups == 0 || opts.versus_slices == 0 {
        bail!("--versus-users, --versus-groups and --versus-slices must be above zero");
    }
    let scratch_dir = tempfile::tempdir()?;
    // The quickstart's settings (default pool, synchronous=FULL): durable, as issue 10 asks.
    let scratch = ScratchDb::create("sqlite", scratch_dir.path(), "")?;
    let port = free_port()?;
    let config = vestibule_config(scratch_dir.path())?;
    let mut command = serve_command(&config, &scratch.url, port, &[("BENCH_SCIM_TOKEN", TOKEN)]);
    pinning.server(&mut command);
    let vestibule_process = Process(command.spawn().context("spawn vestibule serve")?);
    let vestibule_target = Target {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        prefix: "/realms/bench/scim/v2".into(),
        token: TOKEN.into(),
    };
    let client = reqwest::Client::new();
    wait_ready(&client, &vestibule_target).await?;
    let (polis_process, polis_target) = spawn_polis(opts, dir, pinning)?;
    wait_ready(&client, &polis_target).await?;

    let servers = [
        preload(
            "vestibule",
            vestibule_process,
            vestibule_target,
            opts,
            concurrency,
        )
        .await?,
        preload("polis", polis_process, polis_target, opts, concurrency).await?,
    ];
    let per_slice = opts.versus_requests.div_ceil(opts.versus_slices);
    let mut loads = Vec::new();
    for load in Load::ALL {
        let mut slices: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
        for s in 0..opts.versus_slices {
            let ks = s * per_slice..((s + 1) * per_slice).min(opts.versus_requests);
            // Who goes first alternates, so neither server always gets the warmer machine.
            let order = if s % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let server = &servers[i];
                let requests = ks
                    .clone()
                    .map(|k| load.request(server, k, opts.versus_users))
                    .collect();
                slices[i].push(hammer_each(
                    server.target.addr,
                    requests,
                    concurrency,
                    load.check(),
                )?);
            }
        }
        let [v, p] = slices;
        let runs = [Run::merge(v), Run::merge(p)];
        eprintln!(
            "[versus] {}: {} {:.0}/s, {} {:.0}/s",
            load.label(),
            servers[0].name,
            runs[0].per_sec(),
            servers[1].name,
            runs[1].per_sec()
        );
        loads.push(LoadFigures {
            label: load.label(),
            runs,
        });
    }
    let rss = servers
        .each_ref()
        .map(|s| (s.rss_after_preload, rss_bytes(&s.process)));
    Ok(Some(VersusFigures {
        preloaded: (opts.versus_users, opts.versus_groups),
        requests: opts.versus_requests,
        slices: opts.versus_slices,
        concurrency,
        names: servers.each_ref().map(|s| s.name),
        loads,
        rss,
    }))
}

/// Prints the comparison: both rates and the ratio of each load, or the errors that void it.
pub fn print(figures: &VersusFigures) {
    let [ours, theirs] = figures.names;
    println!(
        "versus Ory Polis in memory (@boxyhq/saml-jackson, directory sync): vestibule on SQLite, quickstart settings, durable (synchronous=FULL); {} users and {} groups preloaded on each; {} requests a load a server at concurrency {}, in {} slices taken in turn",
        figures.preloaded.0, figures.preloaded.1, figures.requests, figures.concurrency, figures.slices
    );
    for load in &figures.loads {
        let [v, p] = &load.runs;
        let rates = format!(
            "{:<36} {ours} {:>7.0}/s  {theirs} {:>7.0}/s",
            load.label,
            v.per_sec(),
            p.per_sec()
        );
        if v.errors.is_empty() && p.errors.is_empty() {
            println!("{rates}  ratio {:.2}x", v.per_sec() / p.per_sec().max(1e-9));
        } else {
            println!("{rates}  no ratio: errors");
            for (name, run) in [(ours, v), (theirs, p)] {
                if let Some(first) = run.errors.first() {
                    println!(
                        "    {name}: {} errors of {}, first: {first}",
                        run.errors.len(),
                        run.errors.len() + run.done
                    );
                }
            }
        }
    }
    for (name, (preloaded, loaded)) in figures.names.iter().zip(&figures.rss) {
        println!(
            "{name:<9} RSS {} after preloading, {} after the loads",
            mb(*preloaded),
            mb(*loaded)
        );
    }
}
