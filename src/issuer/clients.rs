//! Clients: their settings, client authentication (RFC 6749 §2.3: `client_secret_basic`,
//! `client_secret_post`, none for public clients) and exact redirect URI matching.

use std::collections::HashMap;
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
#[derive(Default)]
pub struct SecretCache {
    verified: Mutex<HashMap<[u8; 32], String>>,
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

    /// True when `secret` was verified against the client's current hash before: no argon2.
    /// False says nothing about the secret, only that this cache does not know it.
    pub fn check_cached(&self, client: &Client, secret: &str) -> bool {
        client
            .row
            .secret_hash
            .as_deref()
            .is_some_and(|stored| self.knows(&Self::key(&client.row.id, secret), stored))
    }

    /// True when `secret` is the client's secret.
    pub fn check(&self, client: &Client, secret: &str) -> bool {
        let Some(stored) = client.row.secret_hash.as_deref() else {
            return false;
        };
        let key = Self::key(&client.row.id, secret);
        if self.knows(&key, stored) {
            return true;
        }
        if !verify_secret(secret, stored) {
            return false;
        }
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= SECRET_CACHE_MAX {
                map.clear();
            }
            map.insert(key, stored.to_string());
        }
        true
    }
}

/// How long a client read from the database answers client_credentials from memory. A client
/// disabled, deleted or given a new secret by another process (the CLI, another instance) is
/// refused at most this long after the change; Keycloak's client cache has the same trade,
/// with cluster invalidation instead of a lifetime.
const CLIENT_TTL: Micros = 2_000_000;

/// Clients recently authenticated from the database, by realm and client_id.
pub struct ClientCache {
    clients: Timed<Arc<Client>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            clients: Timed::new(CLIENT_TTL),
        }
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
}

/// How a request identified its client.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// Whether the credentials came in the Authorization header (client_secret_basic).
    pub basic: bool,
}

/// Authenticates the client of a token, introspection or revocation request. A confidential
/// client must present its secret; a public client presents only its id.
pub fn authenticate(
    conn: &mut DbConnection,
    cache: &SecretCache,
    realm_id: &str,
    creds: &ClientCredentials,
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
        if !cache.check(&client, secret) {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
    } else if creds.secret.is_some() {
        return Err(OAuthError::invalid_client("a public client has no secret"));
    }
    Ok(client)
}
