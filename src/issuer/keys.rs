//! The realm's signing keys: generated on first start, stored in the database (so every
//! instance signs with the same keys), cached in memory, rotated on demand. Retired keys stay
//! in the JWKS until the tokens they signed have expired.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::db::models::keys::{self as rows, SigningKeyRow};
use crate::db::{DbConnection, DbError, Micros};
use crate::issuer::cache::Timed;
use crate::issuer::jwt::{self, Alg, SigningKey, VerifyingKey};

/// How long a loaded key set is trusted before the database is asked again (another instance
/// or the CLI may have rotated).
const RELOAD_AFTER: Micros = 30_000_000;

/// How long after a load a token naming a `kid` we do not hold is answered from memory instead
/// of reloading. Such a token (forged, from another realm, or signed by a key another instance
/// has just added) would otherwise read every key of the realm on each request, work any caller
/// can impose. The trade: a key rotated in by another instance or the CLI is accepted here at
/// most this long after it appears (before [`RELOAD_AFTER`], since its tokens ask for it).
const UNKNOWN_KID_RELOAD_AFTER: Micros = 5_000_000;

/// One realm's keys, ready to use.
pub struct RealmKeys {
    active: HashMap<Alg, Arc<SigningKey>>,
    verifying: Vec<VerifyingKey>,
    jwks: Value,
}

impl RealmKeys {
    pub fn signer(&self, alg: Alg) -> Option<&SigningKey> {
        self.active.get(&alg).map(Arc::as_ref)
    }
    pub fn verifying(&self) -> &[VerifyingKey] {
        &self.verifying
    }
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
    fn knows(&self, kid: &str) -> bool {
        self.verifying.iter().any(|k| k.kid == kid)
    }
}

/// Every realm's keys, shared by the whole process.
pub struct KeyRing {
    realms: Timed<Arc<RealmKeys>>,
    /// When each realm's keys were last read (or are being read), for [`UNKNOWN_KID_RELOAD_AFTER`].
    /// One entry per realm that asked, and realms are few.
    loaded_at: Mutex<HashMap<String, Micros>>,
    /// How many times a realm's keys were read from the database (see [`KeyRing::loads`]).
    loads: AtomicU64,
}

impl Default for KeyRing {
    fn default() -> Self {
        KeyRing {
            realms: Timed::new(RELOAD_AFTER),
            loaded_at: Mutex::new(HashMap::new()),
            loads: AtomicU64::new(0),
        }
    }
}

impl KeyRing {
    /// The realm's keys, from memory when fresh and knowing `kid` (if one is asked for). An
    /// unknown `kid` reloads them at most once per [`UNKNOWN_KID_RELOAD_AFTER`]; in between, the
    /// keys in memory answer and the token does not verify.
    pub fn get(
        &self,
        conn: &mut DbConnection,
        realm_id: &str,
        now: Micros,
        kid: Option<&str>,
    ) -> Result<Arc<RealmKeys>, DbError> {
        if let Some(keys) = self.cached(realm_id, now) {
            if kid.is_none_or(|k| keys.knows(k)) || !self.claim_reload(realm_id, now) {
                return Ok(keys);
            }
        } else {
            self.mark_loaded(realm_id, now);
        }
        let keys = Arc::new(load(conn, realm_id, now)?);
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.realms.put(realm_id.to_string(), keys.clone(), now);
        Ok(keys)
    }

    /// Whether an unknown kid may reload the realm's keys now: not when they were read less
    /// than [`UNKNOWN_KID_RELOAD_AFTER`] ago. A yes counts as the read, under the lock, so that
    /// requests arriving together reload once.
    fn claim_reload(&self, realm_id: &str, now: Micros) -> bool {
        let Ok(mut loaded) = self.loaded_at.lock() else {
            return true;
        };
        let recent = loaded
            .get(realm_id)
            .is_some_and(|at| now >= *at && now - at < UNKNOWN_KID_RELOAD_AFTER);
        if !recent {
            loaded.insert(realm_id.to_string(), now);
        }
        !recent
    }

    fn mark_loaded(&self, realm_id: &str, now: Micros) {
        if let Ok(mut loaded) = self.loaded_at.lock() {
            loaded.insert(realm_id.to_string(), now);
        }
    }

    /// How many key sets were read from the database since start, all realms together: what
    /// tests (and a curious operator) watch to see that requests do not reload keys.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The realm's keys when they are in memory and fresh; None means ask [`KeyRing::get`].
    pub fn cached(&self, realm_id: &str, now: Micros) -> Option<Arc<RealmKeys>> {
        self.realms.get(realm_id, now)
    }
}

fn load(conn: &mut DbConnection, realm_id: &str, now: Micros) -> Result<RealmKeys, DbError> {
    let rows = rows::published(conn, realm_id, now)?;
    let mut active = HashMap::new();
    let mut verifying = Vec::new();
    let mut jwks = Vec::new();
    for row in rows {
        let Some(alg) = Alg::parse(&row.algorithm) else {
            continue;
        };
        let private = match jwt::private_from_pem(&row.private_pem) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(kid = %row.kid, error = %e, "a stored signing key does not load");
                continue;
            }
        };
        let signer = SigningKey::new(row.kid.clone(), alg, private);
        if let Ok(v) = signer.verifying_key() {
            verifying.push(v);
        }
        if let Ok(jwk) = serde_json::from_str::<Value>(&row.public_jwk) {
            jwks.push(jwk);
        }
        // Rows come newest first: the first unretired key of an algorithm is the active one.
        if row.retired_at.is_none() {
            active.entry(alg).or_insert_with(|| Arc::new(signer));
        }
    }
    Ok(RealmKeys {
        active,
        verifying,
        jwks: json!({ "keys": jwks }),
    })
}

fn new_key(
    conn: &mut DbConnection,
    realm_id: &str,
    alg: Alg,
    now: Micros,
) -> Result<String, DbError> {
    let private = jwt::generate(alg).map_err(|e| DbError::Pool(e.to_string()))?;
    let kid = crate::db::new_id();
    let jwk = jwt::public_jwk(alg, &kid, &private).map_err(|e| DbError::Pool(e.to_string()))?;
    let pem = jwt::private_pem(&private).map_err(|e| DbError::Pool(e.to_string()))?;
    rows::insert(
        conn,
        &SigningKeyRow {
            kid: kid.clone(),
            realm_id: realm_id.to_string(),
            algorithm: alg.as_str().to_string(),
            private_pem: pem,
            public_jwk: jwk.to_string(),
            created_at: now,
            retired_at: None,
            expires_at: None,
        },
    )?;
    Ok(kid)
}

/// Generates an active key of every algorithm the realm lacks (first start).
pub fn ensure(
    conn: &mut DbConnection,
    realm_id: &str,
    now: Micros,
) -> Result<Vec<String>, DbError> {
    let existing = rows::published(conn, realm_id, now)?;
    let mut made = Vec::new();
    for alg in Alg::ALL {
        let has = existing
            .iter()
            .any(|r| r.algorithm == alg.as_str() && r.retired_at.is_none());
        if !has {
            made.push(new_key(conn, realm_id, alg, now)?);
        }
    }
    Ok(made)
}

/// A new active key for each of `algs`; the previous ones stay published for `grace` micros.
pub fn rotate(
    conn: &mut DbConnection,
    realm_id: &str,
    algs: &[Alg],
    now: Micros,
    grace: Micros,
) -> Result<Vec<String>, DbError> {
    let mut made = Vec::new();
    for alg in algs {
        rows::retire(conn, realm_id, alg.as_str(), now, now + grace)?;
        made.push(new_key(conn, realm_id, *alg, now)?);
    }
    Ok(made)
}
