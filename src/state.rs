//! Everything a request handler may touch, passed explicitly: no globals. Front ends (HTTP, the
//! CLI, jobs) hold it; feature modules get only their own runtime or the database from it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::federation::http_client::UpstreamHttpError;
use crate::federation::runtime::Runtime as FederationRuntime;
use crate::issuer::runtime::Runtime as IssuerRuntime;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub issuer: Arc<IssuerRuntime>,
    pub federation: Arc<FederationRuntime>,
}

impl AppState {
    pub fn new(config: Config, db: Db, clock: Arc<dyn Clock>) -> Result<Self, UpstreamHttpError> {
        let issuer = Arc::new(IssuerRuntime::new(&config, db.clone(), clock.clone()));
        let federation = Arc::new(FederationRuntime::new(&config, issuer.clone())?);
        Ok(AppState {
            config: Arc::new(config),
            db,
            clock,
            issuer,
            federation,
        })
    }

    pub fn base_url(&self) -> String {
        self.config.server.base_url()
    }
}
