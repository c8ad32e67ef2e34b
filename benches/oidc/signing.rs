//! The signing limit: signatures per second with the daemon's own signing code, from one thread
//! and from every core at once, read in slices between the slices of a load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use vestibule::issuer::jwt::{self, Alg, SigningKey};

/// Signing-limit readings taken between the slices of a load.
#[derive(Debug, Clone, Default)]
pub(super) struct SigningLimit {
    /// One thread's signatures per second, one reading per slice.
    pub(super) single_core: Vec<f64>,
    /// Every core's signatures per second together, one reading per slice.
    pub(super) all_cores: Vec<f64>,
}

impl SigningLimit {
    pub(super) fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / (v.len().max(1) as f64)
    }

    /// The limit itself: what every core signs when all of them sign at once, as the server's
    /// do under load.
    pub(super) fn measured(&self) -> f64 {
        Self::mean(&self.all_cores)
    }

    /// The limit extrapolated from one thread. On this virtual machine one busy core runs
    /// faster than each of two busy ones, so this reads higher than [`Self::measured`].
    pub(super) fn extrapolated(&self) -> f64 {
        cores() as f64 * Self::mean(&self.single_core)
    }
}

/// A fresh signing key of `alg`, as the server would hold it.
pub(super) fn fresh_key(alg: Alg) -> anyhow::Result<Arc<SigningKey>> {
    Ok(Arc::new(SigningKey::new(
        "bench".into(),
        alg,
        jwt::generate(alg).map_err(|e| anyhow::anyhow!("{e}"))?,
    )))
}

/// Signs `claims` with `key` from `threads` threads at once for `secs`, the way the server
/// shares its key; signatures per second, all threads together.
pub(super) fn signing_rate(
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

pub(super) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// A typical access token's claims when no live sample is at hand.
pub(super) fn fallback_claims() -> Value {
    json!({
        "exp": 1_900_000_300, "iat": 1_900_000_000, "jti": "0193a7c4-1f2e-7b3c-9d8e-4a5b6c7d8e9f",
        "iss": "http://127.0.0.1:8080/realms/bench", "sub": "0193a7c4-1f2e-7b3c-9d8e-4a5b6c7d8e90",
        "typ": "Bearer", "azp": "m2m-rs256", "scope": "profile email roles",
        "realm_access": {"roles": ["api:read"]}, "email_verified": false,
        "preferred_username": "service-account-m2m-rs256", "client_id": "m2m-rs256"
    })
}
