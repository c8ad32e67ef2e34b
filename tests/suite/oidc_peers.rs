//! Third-party OpenID Connect relying parties against a live `vestibule serve`, on SQLite and
//! PostgreSQL: openid-client (npm), Authlib (PyPI), Debian's Chromium driven by
//! playwright-core through the login and organization pages, and jose (npm) verifying the ES256
//! and EdDSA tokens against the JWKS. The peers live in `tests/peers/oidc/`; scripts/test.sh
//! installs them (`npm ci`, pip, `apt-get install chromium`). A missing peer fails the test with
//! what to install: these tests never skip. Each peer's exact summary, `N passed, 0 failed`, is
//! pinned here: a check dropped from a script fails its test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::daemon::{free_port, off_the_runtime, Daemon};
use crate::common::{Backend, TestDb};

const REALM: &str = "quickstart";
const USERNAME: &str = "alice@acme.test";
const ORGANIZATION: &str = "acme";
const ORGANIZATION_NAME: &str = "Acme Inc.";
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one peer script may run before it is stopped and the test fails.
const PEER_TIME_LIMIT: Duration = Duration::from_secs(240);
/// The checks each peer script runs, every one of which must pass.
const OPENID_CLIENT_CHECKS: usize = 11;
const AUTHLIB_CHECKS: usize = 8;
const BROWSER_CHECKS: usize = 7;
/// Discovery, then five checks for each of ES256 and EdDSA.
const JOSE_CHECKS: usize = 11;
/// The clients whose tokens are signed with ES256 and EdDSA (the others' with RS256).
const ES256_CLIENT: &str = "es256-app";
const EDDSA_CLIENT: &str = "eddsa-app";

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/oidc")
}

/// What the relying parties are registered with, on their own callback port.
struct Rp {
    callback_port: u16,
    client_secret: String,
    password: String,
}

impl Rp {
    fn new() -> Rp {
        Rp {
            callback_port: free_port(),
            client_secret: format!("secret-{}", uuid::Uuid::new_v4().simple()),
            password: format!("pw-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.callback_port)
    }

    fn redirect_uri(&self) -> String {
        format!("{}/callback", self.origin())
    }

    fn organization_redirect_uri(&self) -> String {
        format!("{}/organization-callback", self.origin())
    }

    fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.origin())
    }

    /// The quickstart realm with `demo-app` (confidential) and `organization-app` (public, PKCE,
    /// asks for the organization first), both redirecting to this RP's port, and two confidential
    /// clients that sign with ES256 and EdDSA, sharing demo-app's secret and redirect URI.
    fn write_config(&self, dir: &Path) -> PathBuf {
        let path = dir.join("vestibule.toml");
        let (origin, redirect, organization_redirect, post_logout) = (
            self.origin(),
            self.redirect_uri(),
            self.organization_redirect_uri(),
            self.post_logout_redirect_uri(),
        );
        std::fs::write(
            &path,
            format!(
                r#"
[[realm]]
name = "{REALM}"

[[organization]]
realm = "{REALM}"
alias = "{ORGANIZATION}"
name = "{ORGANIZATION_NAME}"
domains = ["acme.test"]

[[directory]]
realm = "{REALM}"
organization = "{ORGANIZATION}"
name = "acme-entra"
token = {{ env = "SCIM_TOKEN" }}

[[client]]
realm = "{REALM}"
client_id = "demo-app"
name = "Demo application"
confidential = true
secret = {{ env = "DEMO_CLIENT_SECRET" }}
redirect_uris = ["{redirect}"]
post_logout_redirect_uris = ["{post_logout}"]
web_origins = ["{origin}"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
service_account_roles = ["demo-app:api"]

[[client]]
realm = "{REALM}"
client_id = "organization-app"
name = "Organization application"
confidential = false
redirect_uris = ["{organization_redirect}"]
post_logout_redirect_uris = ["{post_logout}"]
grant_types = ["authorization_code", "refresh_token"]
organization_prompt = true

[[client]]
realm = "{REALM}"
client_id = "{ES256_CLIENT}"
confidential = true
secret = {{ env = "DEMO_CLIENT_SECRET" }}
redirect_uris = ["{redirect}"]
grant_types = ["authorization_code", "client_credentials"]
signing_alg = "ES256"

[[client]]
realm = "{REALM}"
client_id = "{EDDSA_CLIENT}"
confidential = true
secret = {{ env = "DEMO_CLIENT_SECRET" }}
redirect_uris = ["{redirect}"]
grant_types = ["authorization_code", "client_credentials"]
signing_alg = "EdDSA"

[[role]]
realm = "{REALM}"
client = "demo-app"
name = "editor"

[[user]]
realm = "{REALM}"
username = "{USERNAME}"
email = "{USERNAME}"
first_name = "Alice"
last_name = "Liddell"
password = {{ env = "DEMO_USER_PASSWORD" }}
organizations = ["{ORGANIZATION}"]
roles = ["demo-app:editor"]
"#
            ),
        )
        .unwrap();
        path
    }
}

/// Runs a peer to completion (or its time limit): exit success, stdout, stderr.
pub(crate) fn run_peer(mut command: Command, what: &str) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}. Install it (scripts/test.sh does)."));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PEER_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.is_some(),
        "{what} did not finish within {PEER_TIME_LIMIT:?}:\n{stdout}\n{stderr}"
    );
    (status.unwrap().success(), stdout, stderr)
}

/// `node SCRIPT ARGS` in tests/peers/oidc, after checking that `npm ci` ran there.
pub(crate) fn node(script: &str, args: &[String]) -> Command {
    let dir = peers_dir();
    for package in ["jose", "openid-client", "playwright-core"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "{package} is not installed in {}: run `npm ci` there (scripts/test.sh does)",
            dir.display()
        );
    }
    let mut command = Command::new("node");
    command.current_dir(&dir).arg(dir.join(script)).args(args);
    command
}

/// The peers' Python (VESTIBULE_PEERS_PYTHON, the venv scripts/test.sh makes).
pub(crate) fn peers_python() -> Command {
    let python = std::env::var("VESTIBULE_PEERS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "VESTIBULE_PEERS_PYTHON is not set: run the suite with scripts/test.sh, which \
             installs the Python peers from tests/peers/requirements.txt"
        )
    });
    Command::new(python)
}

fn python(script: &str, args: &[String]) -> Command {
    let mut command = peers_python();
    command.arg(peers_dir().join(script)).args(args);
    command
}

/// A Python peer's checks must not vanish under `python -O` (PYTHONOPTIMIZE strips `assert`
/// statements, which would turn each into a pass): Python's own parser finds none in `script`.
pub(crate) fn assert_no_assert_statements(script: &Path) {
    let out = peers_python()
        .args([
            "-c",
            "import ast, sys\n\
             tree = ast.parse(open(sys.argv[1]).read())\n\
             print(' '.join(str(n.lineno) for n in ast.walk(tree) if isinstance(n, ast.Assert)))",
        ])
        .arg(script)
        .output()
        .expect("run the peers' Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        lines.is_empty(),
        "{} has assert statements (lines {lines}), which python -O skips: use expect(...)",
        script.display()
    );
}

/// Starts a daemon on `backend`, runs the peer `make` builds, and asserts it ran exactly `checks`
/// checks and passed every one.
fn peer_passes(
    backend: Backend,
    peer: &str,
    checks: usize,
    make: impl FnOnce(&Daemon, &Rp) -> Command,
) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::new();
    let config = rp.write_config(dir.path());
    let daemon = Daemon::spawn(
        &config,
        &db.url,
        &[
            ("SCIM_TOKEN", "scim-token"),
            ("DEMO_CLIENT_SECRET", &rp.client_secret),
            ("DEMO_USER_PASSWORD", &rp.password),
        ],
        &[],
    );
    let (ok, stdout, stderr) = run_peer(make(&daemon, &rp), peer);
    println!("{stdout}");
    let report = || {
        format!(
            "{stdout}\n--- stderr ---\n{stderr}\n--- vestibule log ---\n{}",
            daemon.log()
        )
    };
    assert!(ok, "{peer} reported failures:\n{}", report());
    let summary = format!("{peer}: {checks} passed, 0 failed");
    assert!(
        stdout.lines().any(|l| l == summary),
        "{peer} did not print {summary:?}:\n{}",
        report()
    );
}

/// `--name value` pairs as a peer's arguments.
fn flags<const N: usize>(pairs: [(&str, String); N]) -> Vec<String> {
    pairs
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
}

/// The options openid_client_check.mjs and authlib_check.py share.
fn relying_party_args(daemon: &Daemon, rp: &Rp) -> Vec<String> {
    flags([
        ("--issuer", format!("{}/realms/{REALM}", daemon.base)),
        ("--client-id", "demo-app".into()),
        ("--client-secret", rp.client_secret.clone()),
        ("--redirect-uri", rp.redirect_uri()),
        ("--post-logout-redirect-uri", rp.post_logout_redirect_uri()),
        ("--username", USERNAME.into()),
        ("--password", rp.password.clone()),
    ])
}

/// [`relying_party_args`] without the option `name` and its value.
fn without(mut args: Vec<String>, name: &str) -> Vec<String> {
    let at = args.iter().position(|a| a == name).unwrap();
    args.drain(at..at + 2);
    args
}

fn openid_client(backend: Backend) {
    peer_passes(
        backend,
        "openid-client",
        OPENID_CLIENT_CHECKS,
        |daemon, rp| node("openid_client_check.mjs", &relying_party_args(daemon, rp)),
    );
}

#[test]
fn openid_client_passes_sqlite() {
    openid_client(Backend::Sqlite);
}

#[test]
fn openid_client_passes_postgres() {
    openid_client(Backend::Postgres);
}

fn authlib(backend: Backend) {
    assert_no_assert_statements(&peers_dir().join("authlib_check.py"));
    peer_passes(backend, "authlib", AUTHLIB_CHECKS, |daemon, rp| {
        python("authlib_check.py", &relying_party_args(daemon, rp))
    });
}

#[test]
fn authlib_passes_sqlite() {
    authlib(Backend::Sqlite);
}

#[test]
fn authlib_passes_postgres() {
    authlib(Backend::Postgres);
}

fn browser(backend: Backend) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test.sh does)"
    );
    peer_passes(backend, "browser", BROWSER_CHECKS, |daemon, rp| {
        // The browser check has no logout step.
        let mut args = without(relying_party_args(daemon, rp), "--post-logout-redirect-uri");
        args.extend(flags([
            ("--organization-client-id", "organization-app".to_string()),
            (
                "--organization-redirect-uri",
                rp.organization_redirect_uri(),
            ),
            ("--organization", ORGANIZATION.into()),
            ("--organization-name", ORGANIZATION_NAME.into()),
        ]));
        node("browser_check.mjs", &args)
    });
}

#[test]
fn browser_login_pages_sqlite() {
    browser(Backend::Sqlite);
}

#[test]
fn browser_login_pages_postgres() {
    browser(Backend::Postgres);
}

fn jose(backend: Backend) {
    peer_passes(backend, "jose", JOSE_CHECKS, |daemon, rp| {
        // Two clients of its own, no logout step.
        let mut args = without(
            without(relying_party_args(daemon, rp), "--client-id"),
            "--post-logout-redirect-uri",
        );
        args.extend(flags([
            ("--es256-client-id", ES256_CLIENT.into()),
            ("--eddsa-client-id", EDDSA_CLIENT.into()),
        ]));
        node("jose_check.mjs", &args)
    });
}

both_backends!(
    jose_verifies_es256_and_eddsa_tokens_against_the_jwks,
    |backend| { off_the_runtime(move || jose(backend)) }
);
