//! Everything a request handler may touch, passed explicitly: no globals.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::issuer::clients::{ClientCache, SecretCache};
use crate::issuer::keys::KeyRing;
use crate::issuer::scopes::ScopeCache;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub issuer: Arc<IssuerRuntime>,
}

/// The issuer's in-memory caches: keys and declared client scopes loaded from the database,
/// verified client secrets, recently authenticated clients, realm ids by name (realms are never
/// renamed or deleted), and
/// service accounts' subjects.
#[derive(Default)]
pub struct IssuerRuntime {
    pub keys: KeyRing,
    pub scopes: ScopeCache,
    pub secrets: SecretCache,
    pub clients: ClientCache,
    pub realms:
        std::sync::RwLock<std::collections::HashMap<String, crate::db::models::realm::Realm>>,
    pub service_accounts: crate::issuer::tokens::SubjectCache,
}

impl AppState {
    pub fn new(config: Config, db: Db, clock: Arc<dyn Clock>) -> Self {
        AppState {
            config: Arc::new(config),
            db,
            clock,
            issuer: Arc::new(IssuerRuntime::default()),
        }
    }

    pub fn base_url(&self) -> String {
        self.config.server.base_url()
    }
}
