//! Every `examples/*.toml` still says what the code understands: each parses into a `Config`
//! and passes `check-config` with none of its secrets set (an unknown or misspelt key fails
//! both), and the quickstart, served on a fresh SQLite file with the secrets
//! `scripts/quickstart.sh` sets, becomes ready.

use std::path::{Path, PathBuf};
use std::process::Command;

use vestibule::config::Config;

use crate::common::daemon::{Daemon, BIN};
use crate::common::{Backend, TestDb};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no examples in {}", dir.display());
    found
}

#[test]
fn every_example_loads_and_passes_check_config_without_secrets() {
    for example in examples() {
        let config = Config::load_references_with_env(Some(&example), &[])
            .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
        let secret_vars: Vec<String> = config
            .check_secrets(&[])
            .into_iter()
            .filter_map(|c| c.source.strip_prefix("env ").map(str::to_string))
            .collect();
        let mut command = Command::new(BIN);
        command.arg("--config").arg(&example).arg("check-config");
        // The example's own settings, not this machine's.
        for (var, _) in std::env::vars() {
            if var.starts_with("VESTIBULE_") {
                command.env_remove(var);
            }
        }
        for var in &secret_vars {
            command.env_remove(var);
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            example.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("config ok"), "{stdout}");
        for var in &secret_vars {
            assert!(
                stdout.contains(&format!("(env {var}) cannot be resolved here")),
                "{}: check-config does not name {var}:\n{stdout}",
                example.display()
            );
        }
    }
}

#[test]
fn the_quickstart_serves_on_a_fresh_sqlite_file() {
    let db = TestDb::new(Backend::Sqlite);
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.toml");
    // The demo values scripts/quickstart.sh sets when the variables are unset.
    let daemon = Daemon::spawn(
        &quickstart,
        &db.url,
        &[
            ("SCIM_TOKEN", "quickstart-scim-token"),
            ("DEMO_CLIENT_SECRET", "demo-app-secret"),
            ("DEMO_USER_PASSWORD", "alice-password"),
        ],
        &[],
    );
    // Daemon::spawn waits for /health/ready; the declared client answers too.
    let (status, body) = daemon.client_credentials("quickstart", "demo-app", "demo-app-secret");
    assert_eq!(status, 200, "{body}");
}
