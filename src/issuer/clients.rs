//! Clients: their settings, client authentication (RFC 6749 §2.3: `client_secret_basic`,
//! `client_secret_post`, none for public clients) with failed attempts throttled, exact redirect
//! URI matching, and the realm's registered web origins for CORS.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::models::clients::{self as rows, ClientRow};
use crate::db::{DbConnection, DbError, Micros};
use crate::issuer::cache::Timed;
use crate::issuer::jwt::Alg;
use crate::issuer::mappers::MapperSetting;
use crate::issuer::{OAuthError, Result};

/// What a client may do, kept as JSON in `clients.settings`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientSettings {
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub grant_types: Vec<String>,
    pub full_scope_allowed: bool,
    pub default_scopes: Vec<String>,
    pub optional_scopes: Vec<String>,
    pub access_token_lifespan_secs: i64,
    pub refresh_token_lifespan_secs: i64,
    pub signing_alg: Alg,
    pub organization_prompt: bool,
    /// The client's own protocol mappers (its dedicated scope).
    #[serde(default)]
    pub mappers: Vec<MapperSetting>,
    /// An organization mapper of this shape in the client's dedicated scope: it wins over the
    /// organization scope's (the realm default's, or a declared one's).
    #[serde(default)]
    pub organization_claim: Option<crate::config::OrganizationClaimShape>,
}

/// A client with its settings parsed.
#[derive(Debug, Clone)]
pub struct Client {
    pub row: ClientRow,
    pub settings: ClientSettings,
}

impl Client {
    pub fn client_id(&self) -> &str {
        &self.row.client_id
    }
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.settings.grant_types.iter().any(|g| g == grant)
    }
    /// Redirect URIs match exactly (no wildcards, no prefix matching).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.settings.redirect_uris.iter().any(|r| r == uri)
    }
    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.settings
            .post_logout_redirect_uris
            .iter()
            .any(|r| r == uri)
    }
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.settings
            .web_origins
            .iter()
            .any(|o| o == origin || o == "*")
    }
}

fn parse(row: ClientRow) -> Result<Client> {
    let settings = serde_json::from_str(&row.settings)
        .map_err(|e| OAuthError::new("server_error", format!("client settings unreadable: {e}")))?;
    Ok(Client { row, settings })
}

pub fn find(conn: &mut DbConnection, realm_id: &str, client_id: &str) -> Result<Option<Client>> {
    rows::find(conn, realm_id, client_id)?
        .map(parse)
        .transpose()
}

pub fn find_by_pk(conn: &mut DbConnection, id: &str) -> Result<Option<Client>> {
    rows::find_by_pk(conn, id)?.map(parse).transpose()
}

/// argon2id with OWASP's 7 MiB / 5 passes setting, as strong as the crate's default 19 MiB / 2
/// passes but a third of the memory: 16 concurrent logins held 300 MB with the default.
fn argon2() -> Argon2<'static> {
    match argon2::Params::new(7 * 1024, 5, 1, None) {
        Ok(params) => Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params),
        Err(_) => Argon2::default(),
    }
}

/// argon2id of a client secret or a password.
pub fn hash_secret(secret: &str) -> std::result::Result<String, DbError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DbError::Pool(format!("hashing failed: {e}")))
}

/// Checks a secret against its argon2id hash.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Remembers secrets already verified against a stored hash, so a busy client pays argon2
/// once, not on every token request. Keyed by a hash of (client, presented secret) and valid
/// only while the stored hash is the one it was checked against: a new secret invalidates it.
/// Failed checks are throttled ([`Throttle`]), so guessing cannot buy argon2 runs without end.
#[derive(Default)]
pub struct SecretCache {
    verified: Mutex<HashMap<[u8; 32], String>>,
    throttle: Throttle,
}

const SECRET_CACHE_MAX: usize = 10_000;

impl SecretCache {
    fn key(client_pk: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(client_pk.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    fn knows(&self, key: &[u8; 32], stored: &str) -> bool {
        self.verified
            .lock()
            .is_ok_and(|map| map.get(key).is_some_and(|h| h == stored))
    }

    /// True when `secret` was verified against the client's current hash before and the client
    /// is not throttled: no argon2. False says nothing about the secret, only that this cache
    /// cannot answer (the database path decides).
    pub fn check_cached(&self, client: &Client, secret: &str, now: Micros) -> bool {
        client.row.secret_hash.as_deref().is_some_and(|stored| {
            !self.throttle.client_blocked(&client.row.id, now)
                && self.knows(&Self::key(&client.row.id, secret), stored)
        })
    }

    /// Whether `secret`, presented from `address`, is the client's secret. While the client is
    /// throttled every secret is refused, the right one too: answering it would tell a
    /// guesser which guess was right. While only the address is, secrets already verified
    /// still pass (they cost no argon2), new ones are refused unchecked.
    pub fn check(
        &self,
        client: &Client,
        secret: &str,
        address: Option<&str>,
        now: Micros,
    ) -> Result<()> {
        let failed = || OAuthError::invalid_client("client authentication failed");
        let Some(stored) = client.row.secret_hash.as_deref() else {
            return Err(failed());
        };
        let client_pk = client.row.id.as_str();
        if self.throttle.client_blocked(client_pk, now) {
            return Err(throttled());
        }
        let key = Self::key(client_pk, secret);
        if self.knows(&key, stored) {
            return Ok(());
        }
        if !self.throttle.admit(client_pk, address, now) {
            return Err(throttled());
        }
        if !verify_secret(secret, stored) {
            return Err(failed());
        }
        self.throttle.forgive(client_pk, address, now);
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= SECRET_CACHE_MAX {
                map.clear();
            }
            map.insert(key, stored.to_string());
        }
        Ok(())
    }
}

fn throttled() -> OAuthError {
    OAuthError::invalid_client("too many failed client authentications; try again later")
}

/// The window failed client authentications are counted in. It opens at the first counted
/// attempt; once a count is full, argon2 is not run again for that key until it closes.
const THROTTLE_WINDOW: Micros = 60_000_000;
/// Secret checks a client may fail within a window (per realm and client_id: the client row).
const CLIENT_FAILURES: u32 = 5;
/// Secret checks one address may fail within a window, all clients together: higher than a
/// client's, since several clients may share an address (a NAT, a proxy).
const ADDRESS_FAILURES: u32 = 20;
/// Keys a table holds at most. When full, closed windows go first; if every window is still
/// open, the table starts afresh. For addresses that lets a caller with very many addresses
/// reset them, but each client's own count still bounds what guessing its secret costs.
const THROTTLE_MAX_ENTRIES: usize = 10_000;

/// Attempts counted in a window that opened at `since`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Attempts {
    count: u32,
    since: Micros,
}

impl Attempts {
    fn open(&self, now: Micros) -> bool {
        now >= self.since && now - self.since < THROTTLE_WINDOW
    }
}

/// Failed secret checks per client and per address, in memory (per instance). An argon2 run
/// is counted before it starts, so that requests arriving together cannot all slip through,
/// and forgiven when the secret turns out right.
#[derive(Default)]
struct Throttle {
    tables: Mutex<ThrottleTables>,
}

#[derive(Default)]
struct ThrottleTables {
    clients: HashMap<String, Attempts>,
    addresses: HashMap<String, Attempts>,
}

fn count_in(table: &HashMap<String, Attempts>, key: &str, now: Micros) -> u32 {
    table
        .get(key)
        .filter(|a| a.open(now))
        .map_or(0, |a| a.count)
}

fn add_to(table: &mut HashMap<String, Attempts>, key: &str, now: Micros) {
    if table.len() >= THROTTLE_MAX_ENTRIES && !table.contains_key(key) {
        table.retain(|_, a| a.open(now));
        if table.len() >= THROTTLE_MAX_ENTRIES {
            table.clear();
        }
    }
    let entry = table.entry(key.to_string()).or_insert(Attempts {
        count: 0,
        since: now,
    });
    if !entry.open(now) {
        *entry = Attempts {
            count: 0,
            since: now,
        };
    }
    entry.count += 1;
}

fn take_from(table: &mut HashMap<String, Attempts>, key: &str, now: Micros) {
    if let Some(entry) = table.get_mut(key).filter(|a| a.open(now)) {
        entry.count = entry.count.saturating_sub(1);
    }
}

impl Throttle {
    /// Whether the client has failed too often in its current window.
    fn client_blocked(&self, client_pk: &str, now: Micros) -> bool {
        self.tables
            .lock()
            .is_ok_and(|t| count_in(&t.clients, client_pk, now) >= CLIENT_FAILURES)
    }

    /// Counts an argon2 run for the client and the address, or says no when either is full.
    fn admit(&self, client_pk: &str, address: Option<&str>, now: Micros) -> bool {
        let Ok(mut t) = self.tables.lock() else {
            return false;
        };
        let full = count_in(&t.clients, client_pk, now) >= CLIENT_FAILURES
            || address.is_some_and(|a| count_in(&t.addresses, a, now) >= ADDRESS_FAILURES);
        if full {
            return false;
        }
        add_to(&mut t.clients, client_pk, now);
        if let Some(a) = address {
            add_to(&mut t.addresses, a, now);
        }
        true
    }

    /// Takes back an admitted run whose secret was right: only failures count.
    fn forgive(&self, client_pk: &str, address: Option<&str>, now: Micros) {
        if let Ok(mut t) = self.tables.lock() {
            take_from(&mut t.clients, client_pk, now);
            if let Some(a) = address {
                take_from(&mut t.addresses, a, now);
            }
        }
    }
}

/// How long a client read from the database answers client_credentials from memory. A client
/// disabled, deleted or given a new secret by another process (the CLI, another instance) is
/// refused at most this long after the change; Keycloak's client cache has the same trade,
/// with cluster invalidation instead of a lifetime.
const CLIENT_TTL: Micros = 2_000_000;

/// How long a realm's registered web origins answer CORS preflights before the database is
/// asked again (like the declared scopes: an origin registered by another instance's config or
/// the CLI shows within this long).
const ORIGINS_TTL: Micros = 30_000_000;

/// Clients recently authenticated from the database, by realm and client_id; and each realm's
/// registered web origins.
pub struct ClientCache {
    clients: Timed<Arc<Client>>,
    origins: Timed<Arc<WebOrigins>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            clients: Timed::new(CLIENT_TTL),
            origins: Timed::new(ORIGINS_TTL),
        }
    }
}

/// The web origins the enabled clients of one realm registered.
#[derive(Debug, Default)]
pub struct WebOrigins {
    origins: HashSet<String>,
}

impl WebOrigins {
    /// Whether some client registered `origin` (or `*`, as [`Client::allows_origin`] reads it).
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.contains(origin) || self.origins.contains("*")
    }
}

impl ClientCache {
    fn key(realm_id: &str, client_id: &str) -> String {
        format!("{realm_id}/{client_id}")
    }

    /// The client, when it was read from the database less than [`CLIENT_TTL`] ago.
    pub fn get(&self, realm_id: &str, client_id: &str, now: Micros) -> Option<Arc<Client>> {
        self.clients.get(&Self::key(realm_id, client_id), now)
    }

    /// Keeps a client just read from the database.
    pub fn remember(&self, client: Arc<Client>, now: Micros) {
        let key = Self::key(&client.row.realm_id, &client.row.client_id);
        self.clients.put(key, client, now);
    }

    /// The realm's registered web origins when they are in memory and fresh.
    pub fn cached_web_origins(&self, realm_id: &str, now: Micros) -> Option<Arc<WebOrigins>> {
        self.origins.get(realm_id, now)
    }

    /// The realm's registered web origins, from memory when fresh.
    pub fn web_origins(
        &self,
        conn: &mut DbConnection,
        realm_id: &str,
        now: Micros,
    ) -> Result<Arc<WebOrigins>> {
        if let Some(found) = self.cached_web_origins(realm_id, now) {
            return Ok(found);
        }
        let mut origins = HashSet::new();
        for row in rows::list(conn, realm_id)? {
            let client = parse(row)?;
            if client.row.enabled {
                origins.extend(client.settings.web_origins);
            }
        }
        let found = Arc::new(WebOrigins { origins });
        self.origins.put(realm_id.to_string(), found.clone(), now);
        Ok(found)
    }
}

/// How a request identified its client.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// Whether the credentials came in the Authorization header (client_secret_basic).
    pub basic: bool,
    /// Where the request came from, for the failed-authentication throttle.
    pub address: Option<String>,
}

/// Authenticates the client of a token, introspection or revocation request. A confidential
/// client must present its secret; a public client presents only its id.
pub fn authenticate(
    conn: &mut DbConnection,
    cache: &SecretCache,
    realm_id: &str,
    creds: &ClientCredentials,
    now: Micros,
) -> Result<Client> {
    let client_id = creds
        .client_id
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    let client = find(conn, realm_id, client_id)?
        .filter(|c| c.row.enabled)
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    if client.row.confidential {
        let secret = creds
            .secret
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_client("client secret is required"))?;
        cache.check(&client, secret, creds.address.as_deref(), now)?;
    } else if creds.secret.is_some() {
        return Err(OAuthError::invalid_client("a public client has no secret"));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Micros = 1_900_000_000_000_000;

    #[test]
    fn a_client_is_held_back_after_its_failures_until_the_window_closes() {
        let throttle = Throttle::default();
        for _ in 0..CLIENT_FAILURES {
            assert!(throttle.admit("web", Some("10.0.0.1"), T));
        }
        assert!(throttle.client_blocked("web", T + THROTTLE_WINDOW - 1));
        assert!(
            !throttle.admit("web", Some("10.0.0.2"), T + 1),
            "from anywhere"
        );
        assert!(!throttle.client_blocked("api", T), "other clients are not");
        assert!(!throttle.client_blocked("web", T + THROTTLE_WINDOW));
        assert!(throttle.admit("web", Some("10.0.0.1"), T + THROTTLE_WINDOW));
    }

    #[test]
    fn an_address_is_held_back_after_its_failures_over_all_clients() {
        let throttle = Throttle::default();
        for i in 0..ADDRESS_FAILURES {
            assert!(throttle.admit(&format!("client-{i}"), Some("10.0.0.1"), T));
        }
        assert!(!throttle.admit("another", Some("10.0.0.1"), T));
        assert!(
            !throttle.client_blocked("another", T),
            "its cached secrets still pass"
        );
        assert!(throttle.admit("another", Some("10.0.0.2"), T));
        assert!(
            throttle.admit("another", None, T),
            "no address, no address count"
        );
        assert!(throttle.admit("another", Some("10.0.0.1"), T + THROTTLE_WINDOW));
    }

    #[test]
    fn only_failures_count() {
        let throttle = Throttle::default();
        for _ in 0..CLIENT_FAILURES - 1 {
            assert!(throttle.admit("web", None, T));
        }
        assert!(throttle.admit("web", None, T));
        throttle.forgive("web", None, T);
        assert!(
            !throttle.client_blocked("web", T),
            "four failures and a success"
        );
        assert!(throttle.admit("web", None, T));
        assert!(throttle.client_blocked("web", T), "the fifth failure");
    }

    #[test]
    fn the_tables_stay_bounded() {
        let mut table = HashMap::new();
        for i in 0..THROTTLE_MAX_ENTRIES {
            add_to(&mut table, &format!("old-{i}"), T);
        }
        add_to(&mut table, "new", T + THROTTLE_WINDOW);
        assert_eq!(table.len(), 1, "closed windows went first");
        for i in 0..THROTTLE_MAX_ENTRIES {
            add_to(&mut table, &format!("open-{i}"), T);
        }
        add_to(&mut table, "one-more", T);
        assert!(table.len() <= THROTTLE_MAX_ENTRIES);
        assert_eq!(count_in(&table, "one-more", T), 1);
    }
}
