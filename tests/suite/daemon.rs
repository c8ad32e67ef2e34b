//! The `vestibule` binary itself: serve, health, env overrides, the admin commands (directory
//! tokens, audit list), and scim2-tester from PyPI against the live daemon. That read-only
//! commands write nothing is `cli.rs`'s subject; kill -9 with writes in flight is
//! `durability.rs`'s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::daemon::{Daemon, BIN};
use crate::common::{entra_user, Backend, TestDb};
use crate::oidc_peers::{assert_no_assert_statements, peers_python};
use serde_json::Value;

/// The daemon tests' config (a copy in `dir`, so the test owns its file), with the directory
/// token in `SCIM_TOKEN`.
pub(crate) fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("vestibule.toml");
    std::fs::copy(crate::common::fixture("configs/scim-daemon.toml"), &path).unwrap();
    path
}

/// The daemon with the quickstart-shaped config's directory token.
pub(crate) fn start_daemon(config: &Path, db_url: &str, token: &str, extra: &[&str]) -> Daemon {
    Daemon::spawn(config, db_url, &[("SCIM_TOKEN", token)], extra)
}

pub(crate) fn scim_base(daemon: &Daemon) -> String {
    format!("{}/realms/quickstart/scim/v2", daemon.base)
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn scim_call(method: &str, url: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json; charset=utf-8")
            .body(body.to_string());
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// A command of the binary on `db_url` with the config's directory token set.
fn vestibule(config: &Path, db_url: &str, args: &[&str]) -> (bool, String, String) {
    crate::cli::vestibule(config, db_url, &[("SCIM_TOKEN", "config-token")], args)
}

fn admin_commands(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());

    let (ok, out, err) = vestibule(&config, &db.url, &["check-config"]);
    assert!(ok, "{err}");
    assert!(out.contains("organization quickstart/acme"), "{out}");
    assert!(
        !out.contains("config-token") && !err.contains("config-token"),
        "secrets never print"
    );

    let (ok, _, err) = vestibule(&config, &db.url, &["migrate"]);
    assert!(ok, "{err}");
    // The admin commands apply no declarations: `apply` creates the declared directory.
    let (ok, applied, err) = vestibule(&config, &db.url, &["apply"]);
    assert!(ok, "{err}");
    assert!(applied.contains("directories 1 created"), "{applied}");
    let (ok, token, err) = vestibule(
        &config,
        &db.url,
        &[
            "directory",
            "token",
            "create",
            "--realm",
            "quickstart",
            "--directory",
            "acme-entra",
            "--label",
            "entra-prod",
        ],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert!(token.starts_with("vst_") && token.len() > 60, "{token}");

    let daemon = start_daemon(&config, &db.url, "config-token", &[]);
    let (status, created) = scim_call(
        "POST",
        &format!("{}/Users", scim_base(&daemon)),
        &token,
        Some(&entra_user("cli@acme.test")),
    );
    assert_eq!(status, 201);
    // The config token works too; a wrong one does not.
    assert_eq!(
        scim_call(
            "GET",
            &format!("{}/Users", scim_base(&daemon)),
            "config-token",
            None
        )
        .0,
        200
    );
    assert_eq!(
        scim_call(
            "GET",
            &format!("{}/Users", scim_base(&daemon)),
            "wrong",
            None
        )
        .0,
        401
    );
    let duplicate = scim_call(
        "POST",
        &format!("{}/Users", scim_base(&daemon)),
        &token,
        Some(&entra_user("cli@acme.test")),
    );
    assert_eq!(duplicate.0, 409);

    let (ok, listing, _) = vestibule(
        &config,
        &db.url,
        &[
            "directory",
            "token",
            "list",
            "--realm",
            "quickstart",
            "--directory",
            "acme-entra",
        ],
    );
    assert!(ok);
    assert!(
        listing.contains("entra-prod") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&token), "tokens are never shown again");
    let token_id = listing
        .lines()
        .find(|l| l.contains("entra-prod"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (ok, _, err) = vestibule(
        &config,
        &db.url,
        &[
            "directory",
            "token",
            "revoke",
            "--realm",
            "quickstart",
            "--directory",
            "acme-entra",
            &token_id,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        scim_call(
            "GET",
            &format!("{}/Users", scim_base(&daemon)),
            &token,
            None
        )
        .0,
        401,
        "revocation is immediate"
    );

    let (ok, audit, err) = vestibule(
        &config,
        &db.url,
        &[
            "audit",
            "list",
            "--realm",
            "quickstart",
            "--directory",
            "acme-entra",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{audit}");
    assert_eq!(events[0]["outcome"], "failure");
    assert_eq!(events[0]["status"], 409);
    assert_eq!(events[1]["outcome"], "success");
    assert_eq!(events[1]["operation"], "create");
    assert_eq!(events[1]["resource_id"], created["id"]);
    assert_eq!(events[1]["actor_name"], "acme-entra");
    let (ok, table, err) = vestibule(&config, &db.url, &["audit", "list"]);
    assert!(
        ok && table.contains("acme-entra") && table.contains("create"),
        "{table}\n{err}"
    );
}

#[test]
fn admin_commands_sqlite() {
    admin_commands(Backend::Sqlite);
}

#[test]
fn admin_commands_postgres() {
    admin_commands(Backend::Postgres);
}

#[test]
fn sigterm_drains_and_exits_and_logs_are_json_without_secrets() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut daemon = start_daemon(
        &config,
        &db.url,
        "very-secret-token",
        &["--log-format", "json"],
    );
    let (status, _) = scim_call(
        "POST",
        &format!("{}/Users", scim_base(&daemon)),
        "very-secret-token",
        Some(&entra_user("log@acme.test")),
    );
    assert_eq!(status, 201);
    assert_eq!(
        scim_call(
            "GET",
            &format!("{}/Users", scim_base(&daemon)),
            "wrong-token-value",
            None
        )
        .0,
        401
    );
    // A body over server.max_body_bytes is refused in SCIM's dialect.
    let big =
        serde_json::json!({"userName": "big@acme.test", "nickName": "x".repeat(2 * 1024 * 1024)});
    let (status, body) = scim_call(
        "POST",
        &format!("{}/Users", scim_base(&daemon)),
        "very-secret-token",
        Some(&big),
    );
    assert_eq!(status, 413);
    assert_eq!(body["status"], "413");
    assert_eq!(
        http()
            .get(format!("{}/health/live", daemon.base))
            .send()
            .unwrap()
            .status(),
        200
    );

    let exit = daemon.terminate();
    assert!(exit.success(), "graceful exit: {exit:?}");
    let log = daemon.log();
    assert!(!log.is_empty());
    for line in log.lines() {
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(log.contains("vestibule is serving"));
    assert!(
        !log.contains("very-secret-token") && !log.contains("wrong-token-value"),
        "tokens never reach the log"
    );
}

#[test]
fn bad_config_is_refused_with_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listn") && err.contains("line 3"), "{err}");
    let help = Command::new(BIN)
        .args(["directory", "token", "create", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--directory"));
}

/// The checks scim2-tester 0.5.2 runs against our discovery documents: every one must run (a
/// SKIPPED check proves nothing) and pass.
const SCIM2_TESTER_CHECKS: usize = 135;

fn scim2_tester(backend: Backend) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/scim2_tester_check.py");
    assert_no_assert_statements(&script);
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let daemon = start_daemon(&config, &db.url, "tester-token", &[]);
    let out = peers_python()
        .arg(script)
        .arg(scim_base(&daemon))
        .arg("tester-token")
        .output()
        .expect("run scim2-tester");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "scim2-tester reported failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = format!("scim2-tester: {SCIM2_TESTER_CHECKS} checks, 0 failed, 0 skipped");
    assert!(
        stdout.lines().any(|l| l == summary),
        "scim2-tester did not print {summary:?}:\n{stdout}"
    );
}

#[test]
fn scim2_tester_passes_sqlite() {
    scim2_tester(Backend::Sqlite);
}

#[test]
fn scim2_tester_passes_postgres() {
    scim2_tester(Backend::Postgres);
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn issuer_admin_commands(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let run = |args: &[&str]| {
        let (ok, out, err) = vestibule(&config, &db.url, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    // The admin commands need a migrated database with the declared realm in it.
    run(&["apply"]);
    let secret = run(&[
        "client",
        "create",
        "--realm",
        "quickstart",
        "--client-id",
        "ops",
        "--grant",
        "client_credentials",
    ])
    .trim()
    .to_string();
    run(&[
        "role",
        "create",
        "--realm",
        "quickstart",
        "ops:admin",
        "--composite",
        "ops:read",
    ]);
    run(&[
        "role",
        "grant",
        "--realm",
        "quickstart",
        "ops:admin",
        "--user",
        "service-account-ops",
    ]);
    assert!(run(&["role", "list", "--realm", "quickstart"]).contains("ops:admin -> ops:read"));
    assert!(run(&["client", "list", "--realm", "quickstart"]).contains("ops"));

    let daemon = start_daemon(&config, &db.url, "config-token", &[]);
    let (status, before) = daemon.client_credentials("quickstart", "ops", &secret);
    assert_eq!(status, 200, "{before}");
    let old_token = before["access_token"].as_str().unwrap().to_string();
    let claims = {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(old_token.split('.').nth(1).unwrap())
            .unwrap();
        serde_json::from_slice::<Value>(&payload).unwrap()
    };
    assert_eq!(
        claims["resource_access"]["ops"]["roles"],
        serde_json::json!(["admin", "read"])
    );
    drop(daemon);

    let rotated = run(&[
        "keys",
        "rotate",
        "--realm",
        "quickstart",
        "--algorithm",
        "RS256",
    ]);
    assert!(rotated.contains("RS256 key"), "{rotated}");
    let listing = run(&["keys", "list", "--realm", "quickstart"]);
    assert!(listing.contains("retired, published until"), "{listing}");

    let new_secret = run(&[
        "client",
        "secret",
        "--realm",
        "quickstart",
        "--client-id",
        "ops",
    ])
    .trim()
    .to_string();
    let daemon = start_daemon(&config, &db.url, "config-token", &[]);
    assert_eq!(
        daemon.client_credentials("quickstart", "ops", &secret).0,
        401,
        "the old secret stops working"
    );
    let (status, after) = daemon.client_credentials("quickstart", "ops", &new_secret);
    assert_eq!(status, 200);
    let new_token = after["access_token"].as_str().unwrap();
    assert_ne!(
        kid_of(new_token),
        kid_of(&old_token),
        "signed with the new key"
    );
    let jwks: Value = http()
        .get(format!(
            "{}/realms/quickstart/protocol/openid-connect/certs",
            daemon.base
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&kid_of(&old_token).as_str()),
        "the retired key stays published"
    );
    assert!(kids.contains(&kid_of(new_token).as_str()));
}

#[test]
fn issuer_admin_commands_sqlite() {
    issuer_admin_commands(Backend::Sqlite);
}

#[test]
fn issuer_admin_commands_postgres() {
    issuer_admin_commands(Backend::Postgres);
}
