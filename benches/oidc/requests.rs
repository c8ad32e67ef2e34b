//! client_credentials load: one request with reqwest, a phase with the lean load generator
//! (`load`), optionally sliced with signing-limit readings, and the same with reqwest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::{STANDARD as B64_STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use serde_json::Value;

use vestibule::issuer::jwt::Alg;

use super::load::{self, Run};
use super::signing::{cores, fallback_claims, fresh_key, signing_rate, SigningLimit};
use super::{OidcBenchOptions, SECRET};

/// Runs `op` from `concurrency` tasks until `duration` has passed or `max` operations started.
pub(super) async fn hammer<F, Fut>(
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
    Ok(Run::new(latencies, started.elapsed()))
}

/// One client_credentials request, client_secret_basic; returns the access token.
pub(super) async fn client_credentials(
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
    let start = load::find(&body, b"\"access_token\":\"")
        .with_context(|| format!("{client_id}: no access_token in the answer"))?
        + 16;
    let len = body[start..]
        .iter()
        .position(|&b| b == b'"')
        .context("unterminated access_token")?;
    Ok(String::from_utf8_lossy(&body[start..start + len]).into_owned())
}

pub(super) fn claims_of(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

pub(super) fn header_alg(token: &str) -> Option<String> {
    let header: Value = serde_json::from_slice(&B64.decode(token.split('.').next()?).ok()?).ok()?;
    header["alg"].as_str().map(str::to_string)
}

/// A token endpoint answer must be a 200 with an access token in it. Only its presence is
/// checked: parsing the whole answer would cost the client CPU that the server needs here.
pub(super) fn token_answered(response: &load::Response) -> anyhow::Result<()> {
    if response.status != 200 {
        bail!(
            "the token endpoint answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    if load::find(&response.body, b"\"access_token\":\"").is_none() {
        bail!("no access_token in the answer");
    }
    Ok(())
}

/// client_credentials throughput of one client (one algorithm), after a warm-up, driven by the
/// lean load generator (`load`) so that the client's CPU stays small. With
/// `against_limit`, the load runs in slices with readings of the signing limit between them.
pub(super) async fn measure_client_credentials(
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
    let request = load::Request::post_form(
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
        load::hammer(
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
            load::hammer(addr, request, concurrency, duration, max, token_answered)
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
                load::hammer(addr, request, concurrency, slice, max, token_answered)
            })
            .await??,
        );
    }
    Ok((Run::merge(runs), sample, Some(limit)))
}

/// client_credentials throughput driven by reqwest on the multi-threaded runtime (a general
/// HTTP client), after a warm-up.
pub(super) async fn measure_client_credentials_reqwest(
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
