//! The issuer's runtime: what its flows need besides a database connection (settings, the
//! clock, the public URL) and the in-memory caches shared by the whole process. `AppState`
//! holds one; the issuer never sees `AppState`, so it cannot reach another feature's state.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::config::{Config, IssuerConfig};
use crate::db::models::realm;
/// A realm as the issuer's callers name it: looked up once with [`Runtime::realm`].
pub use crate::db::models::realm::Realm as RealmRow;
use crate::db::{Db, Micros};
use crate::issuer::clients::{ClientCache, SecretCache};
use crate::issuer::keys::KeyRing;
use crate::issuer::routing::IdpRoute;
use crate::issuer::scopes::ScopeCache;
use crate::issuer::tokens::SubjectCache;
use crate::issuer::{OAuthError, Result};

/// Settings, clock, database and caches of the issuer.
pub struct Runtime {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub settings: IssuerConfig,
    /// `server.public_url` without a trailing slash: issuers and redirects are built on it.
    pub base_url: String,
    /// Signing keys per realm.
    pub keys: KeyRing,
    /// Declared client scopes per realm.
    pub scopes: ScopeCache,
    /// Client secrets verified once.
    pub secrets: SecretCache,
    /// Clients recently authenticated (client_credentials from memory).
    pub clients: ClientCache,
    /// Service accounts' subjects.
    pub service_accounts: SubjectCache,
    /// Realm rows by name (realms are never renamed or deleted).
    realms: RwLock<HashMap<String, RealmRow>>,
    /// Passwords verified (argon2 runs of the login form) since start: what the brute-force
    /// limit bounds.
    pub password_checks: AtomicU64,
    /// The declared identity providers, as login routing sees them.
    pub identity_providers: Vec<IdpRoute>,
}

impl Runtime {
    pub fn new(config: &Config, db: Db, clock: Arc<dyn Clock>) -> Runtime {
        Runtime {
            db,
            clock,
            settings: config.issuer.clone(),
            base_url: config.server.base_url(),
            keys: KeyRing::default(),
            scopes: ScopeCache::default(),
            secrets: SecretCache::default(),
            clients: ClientCache::default(),
            service_accounts: SubjectCache::default(),
            realms: RwLock::new(HashMap::new()),
            password_checks: AtomicU64::new(0),
            identity_providers: config
                .identity_providers
                .iter()
                .map(IdpRoute::from)
                .collect(),
        }
    }

    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// `{public_url}/realms/{realm}`: the realm's issuer identifier.
    pub fn issuer_url(&self, realm: &str) -> String {
        crate::issuer::issuer_url(&self.base_url, realm)
    }

    /// The realm by name, from memory after the first read; an unknown realm is refused.
    pub async fn realm(&self, name: &str) -> Result<RealmRow> {
        if let Some(found) = self.realms.read().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(found);
        }
        let key = name.to_string();
        let found = self
            .db
            .run(move |conn| realm::find_by_name(conn, &key).map_err(OAuthError::from))
            .await?
            .ok_or_else(|| OAuthError::new("invalid_request", "unknown realm"))?;
        if let Ok(mut map) = self.realms.write() {
            map.insert(name.to_string(), found.clone());
        }
        Ok(found)
    }
}
