//! The two-realm fixture (`tests/fixtures/configs/two-realms.toml`): realms `quickstart` and
//! `other`, organizations acme and globex (quickstart) and initech (other), a client `web` in
//! each realm, and alice (acme), gina (globex) and bob (initech, other realm).

use std::sync::Arc;

use vestibule::clock::{Clock, SystemClock};
use vestibule::config::Config;

use super::{fixture, Backend, TestDb, TestServer};

pub const QUICKSTART_WEB_SECRET: &str = "quickstart-web-secret";
pub const OTHER_WEB_SECRET: &str = "other-web-secret";
pub const ALICE: (&str, &str) = ("alice@acme.test", "alice-password");
pub const GINA: (&str, &str) = ("gina@globex.test", "gina-password");
pub const BOB: (&str, &str) = ("bob@initech.test", "bob-password");

/// The fixture's config on `db`, with its secrets.
pub fn two_realms_config(db: &TestDb) -> Config {
    let env: Vec<(String, String)> = [
        ("QUICKSTART_WEB_SECRET", QUICKSTART_WEB_SECRET),
        ("OTHER_WEB_SECRET", OTHER_WEB_SECRET),
        ("ALICE_PASSWORD", ALICE.1),
        ("GINA_PASSWORD", GINA.1),
        ("BOB_PASSWORD", BOB.1),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut config =
        Config::load_with_env(Some(&fixture("configs/two-realms.toml")), &env).expect("fixture");
    config.database.url = db.url.clone();
    config.database.pool_size = 4;
    config
}

/// A server on the two-realm fixture.
pub async fn start_two_realms(backend: Backend) -> TestServer {
    start_two_realms_with(backend, Arc::new(SystemClock), |_| {}).await
}

/// A server on the two-realm fixture and `clock`; `adjust` has the last word on the config.
pub async fn start_two_realms_with(
    backend: Backend,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let db = TestDb::new(backend);
    let mut config = two_realms_config(&db);
    adjust(&mut config);
    TestServer::start_with(db, config, clock).await
}
