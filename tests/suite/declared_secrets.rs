//! Declared client secrets across restarts: a start with unchanged declarations trusts its
//! fingerprint instead of checking each secret, so these pin down that every change still takes
//! effect at the next start: a new secret in the environment, and a secret rotated by the CLI
//! behind the config's back (the declaration wins again).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::daemon::{Daemon, BIN};
use crate::common::{Backend, TestDb};

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("vestibule.toml");
    std::fs::write(
        &path,
        r#"
[[realm]]
name = "quickstart"

[[client]]
realm = "quickstart"
client_id = "machine"
confidential = true
secret = { env = "MACHINE_SECRET" }
grant_types = ["client_credentials"]

[[user]]
realm = "quickstart"
username = "alice@acme.test"
password = { env = "ALICE_PASSWORD" }
"#,
    )
    .unwrap();
    path
}

fn start(config: &Path, db: &TestDb, secret: &str) -> Daemon {
    Daemon::spawn(
        config,
        &db.url,
        &[("MACHINE_SECRET", secret), ("ALICE_PASSWORD", "alice-pw")],
        &[],
    )
}

/// The token endpoint's status for client_credentials with `secret`.
fn token_status(daemon: &Daemon, secret: &str) -> u16 {
    daemon.client_credentials("quickstart", "machine", secret).0
}

fn declared_secrets_follow_the_config(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());

    let daemon = start(&config, &db, "first-secret");
    assert_eq!(token_status(&daemon, "first-secret"), 200);
    drop(daemon);

    // Unchanged declarations: the fingerprint vouches for the stored hash.
    let daemon = start(&config, &db, "first-secret");
    assert_eq!(token_status(&daemon, "first-secret"), 200);
    assert_eq!(token_status(&daemon, "second-secret"), 401);
    drop(daemon);

    // The CLI rotates the declared client's secret (an admin command: it needs none of the
    // config's secrets); the next start restores the declared one.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args([
            "client",
            "secret",
            "--realm",
            "quickstart",
            "--client-id",
            "machine",
        ])
        .env_remove("MACHINE_SECRET")
        .env_remove("ALICE_PASSWORD")
        .env("VESTIBULE_DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let daemon = start(&config, &db, "first-secret");
    assert_eq!(token_status(&daemon, "first-secret"), 200);
    assert_eq!(token_status(&daemon, &rotated), 401);
    drop(daemon);

    // A new secret in the environment replaces the old one at the next start.
    let daemon = start(&config, &db, "second-secret");
    assert_eq!(token_status(&daemon, "second-secret"), 200);
    assert_eq!(token_status(&daemon, "first-secret"), 401);
    drop(daemon);

    // And going back works too: nothing about the first secret was kept.
    let daemon = start(&config, &db, "first-secret");
    assert_eq!(token_status(&daemon, "first-secret"), 200);
    assert_eq!(token_status(&daemon, "second-secret"), 401);
}

#[test]
fn declared_secrets_follow_the_config_sqlite() {
    declared_secrets_follow_the_config(Backend::Sqlite);
}

#[test]
fn declared_secrets_follow_the_config_postgres() {
    declared_secrets_follow_the_config(Backend::Postgres);
}
