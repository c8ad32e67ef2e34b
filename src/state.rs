//! Everything a request handler may touch, passed explicitly: no globals.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(config: Config, db: Db, clock: Arc<dyn Clock>) -> Self {
        AppState {
            config: Arc::new(config),
            db,
            clock,
        }
    }

    pub fn base_url(&self) -> String {
        self.config.server.base_url()
    }
}
