//! A real SAML 2.0 IdP for the tests: SimpleSAMLphp 1.19.7 from Debian bookworm (package
//! `simplesamlphp`, 1.19.7-1+deb12u2), served by PHP's built-in web server (`php -S`, no
//! Apache) on a free loopback port, as a child process of the test.
//!
//! The peer's files are `tests/peers/saml`: a config directory (`SIMPLESAMLPHP_CONFIG_DIR`), a
//! metadata directory and a router for `php -S` (one endpoint of its own, `/vestibule/sps`, the SPs
//! it loaded), whose PHP files read one JSON file, `peer.json`, that
//! [`SamlPeer::start`] writes into a scratch directory with the IdP's fresh key and certificate,
//! the users (`exampleauth:UserPass`, a username/password login page) and each trusted SP's
//! metadata XML exactly as given. SimpleSAMLphp's own `SAMLParser` reads that XML, so a test
//! can hand it Vestibule's `/broker/{alias}/endpoint/descriptor` output unchanged; per-SP
//! switches (encrypt the assertion, sign the response or the assertion, ...) go on top.
//!
//! What SimpleSAMLphp does, pinned by `tests/suite/saml_peer.rs`, and what an SP must live with:
//! - The entity ID and metadata URL are `{base}/saml2/idp/metadata.php`; SSO and SLO are
//!   `{base}/saml2/idp/SSOService.php` and `{base}/saml2/idp/SingleLogoutService.php`. Its
//!   metadata lists the HTTP-Redirect binding only, though both endpoints also take HTTP-POST.
//!   It publishes its one certificate twice, `use="signing"` and `use="encryption"`.
//! - The SP's metadata needs an `SPSSODescriptor` whose `protocolSupportEnumeration` names SAML
//!   2.0 (else the SP is unknown), an HTTP-POST `AssertionConsumerService`, and for logout a
//!   `SingleLogoutService`. An AuthnRequest naming an ACS the metadata lacks is not refused: the
//!   Response goes to the metadata's default ACS. Without a `NameIDFormat` in the metadata or a
//!   NameIDPolicy in the request, the NameID is transient (random).
//! - `AuthnRequestsSigned="true"` makes it require Redirect-binding signatures on AuthnRequests,
//!   checked against every `use="signing"` (or use-less) certificate of the SP's metadata.
//!   `WantAssertionsSigned="false"` turns off the assertion's signature.
//! - It signs the Response and the Assertion (RSA-SHA256, exclusive C14N, the certificate in
//!   KeyInfo). It encrypts with RSA-OAEP-MGF1P key transport and **AES-128-CBC** content (its
//!   saml2 library hard-wires it), to the *first* encryption certificate of the SP's metadata;
//!   the Response signature then covers the `EncryptedAssertion`, and the assertion inside is
//!   signed as well.
//! - Every Response gets a new SessionIndex, also from one IdP session; its LogoutRequest names
//!   the latest only. Logout is front-channel (the browser's IdP cookie), never SOAP; its
//!   LogoutRequests and LogoutResponses carry Redirect-binding signatures; an SP's LogoutResponse
//!   must echo the RelayState of the LogoutRequest ("RelayState lost during logout").
//! - It shows refusals as an HTML error page, with status 200 for those seen here
//!   ([`SamlVisit::Refused`]).
//! - PHP's built-in server takes a request split over several TCP writes as malformed.
//!
//! scripts/test.sh installs it (`apt-get install simplesamlphp php-cli php-xml ...`); a machine
//! without it fails the test with what to install, it never skips.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use url::Url;

use super::daemon::free_port;

/// The login page's fields and button, for a browser driven by CSS selectors (Chromium).
pub const LOGIN_USERNAME_SELECTOR: &str = "#username";
pub const LOGIN_PASSWORD_SELECTOR: &str = "#password";
pub const LOGIN_SUBMIT_SELECTOR: &str = "#submit_button";

/// Where Debian's package puts SimpleSAMLphp's web root.
pub const SIMPLESAMLPHP_WWW: &str = "/usr/share/simplesamlphp/www";

const INSTALL_HINT: &str = "SimpleSAMLphp from Debian is needed: `apt-get install simplesamlphp \
     php-cli php-xml php-mbstring php-cgi micro-httpd netcat-traditional` (scripts/test.sh does)";

/// The users the IdP knows and the SPs it trusts.
#[derive(Debug, Clone, Default)]
pub struct SamlPeerConfig {
    pub users: Vec<SamlUser>,
    pub sps: Vec<SamlSp>,
}

/// A user of the login page. `name_id` is the NameID value in every format but transient;
/// `attributes` are released as they are (name -> values, several values for a multi-valued
/// attribute), with the `basic` NameFormat unless the SP's `attribute_name_format` says
/// otherwise. Neither username nor password may contain `:`.
#[derive(Debug, Clone)]
pub struct SamlUser {
    pub username: String,
    pub password: String,
    pub name_id: String,
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl SamlUser {
    /// A user without attributes.
    pub fn new(username: &str, password: &str, name_id: &str) -> SamlUser {
        SamlUser {
            username: username.into(),
            password: password.into(),
            name_id: name_id.into(),
            attributes: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) attribute `name` with `values`.
    pub fn attribute(mut self, name: &str, values: &[&str]) -> SamlUser {
        self.attributes
            .insert(name.into(), values.iter().map(|v| v.to_string()).collect());
        self
    }
}

/// A trusted SP: its metadata XML (one `EntityDescriptor` with an `SPSSODescriptor`), loaded
/// unchanged, and switches that override what SimpleSAMLphp makes of it. `None` everywhere:
/// what the metadata implies, else SimpleSAMLphp's default.
#[derive(Debug, Clone, Default)]
pub struct SamlSp {
    pub metadata_xml: String,
    /// `assertion.encryption`: an `EncryptedAssertion` to the SP's encryption certificate
    /// (default: off).
    pub encrypt_assertion: Option<bool>,
    /// `saml20.sign.response` (default: on).
    pub sign_response: Option<bool>,
    /// `saml20.sign.assertion` (default: the metadata's `WantAssertionsSigned`, else on).
    pub sign_assertion: Option<bool>,
    /// `validate.authnrequest` (default: the metadata's `AuthnRequestsSigned`, else off).
    pub require_signed_authn_request: Option<bool>,
    /// `validate.logout`: require signed LogoutRequests and LogoutResponses (default: off).
    pub require_signed_logout: Option<bool>,
    /// `sign.logout`: sign the IdP's logout messages (default here: on).
    pub sign_logout: Option<bool>,
    /// `attributes.NameFormat`, e.g. `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`.
    pub attribute_name_format: Option<String>,
    /// `NameIDFormat` when the metadata names none, or to override it.
    pub name_id_format: Option<String>,
}

impl SamlSp {
    /// An SP trusted from `metadata_xml` with SimpleSAMLphp's defaults.
    pub fn new(metadata_xml: &str) -> SamlSp {
        SamlSp {
            metadata_xml: metadata_xml.into(),
            ..SamlSp::default()
        }
    }

    /// The same SP with assertions encrypted.
    pub fn encrypted(metadata_xml: &str) -> SamlSp {
        SamlSp {
            encrypt_assertion: Some(true),
            ..SamlSp::new(metadata_xml)
        }
    }

    fn options(&self) -> Value {
        let mut options = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            options.insert(key.into(), value.unwrap_or(Value::Null));
        };
        put(
            "assertion.encryption",
            self.encrypt_assertion.map(Value::Bool),
        );
        put("saml20.sign.response", self.sign_response.map(Value::Bool));
        put(
            "saml20.sign.assertion",
            self.sign_assertion.map(Value::Bool),
        );
        put(
            "validate.authnrequest",
            self.require_signed_authn_request.map(Value::Bool),
        );
        put(
            "validate.logout",
            self.require_signed_logout.map(Value::Bool),
        );
        put("sign.logout", self.sign_logout.map(Value::Bool));
        put(
            "attributes.NameFormat",
            self.attribute_name_format.clone().map(Value::String),
        );
        put(
            "NameIDFormat",
            self.name_id_format.clone().map(Value::String),
        );
        Value::Object(options)
    }
}

/// An RSA-2048 key and a self-signed certificate for it (SHA-256, a year), made with OpenSSL.
#[derive(Debug, Clone)]
pub struct TestKeyPair {
    pub key_pem: String,
    pub cert_pem: String,
}

impl TestKeyPair {
    pub fn generate(common_name: &str) -> TestKeyPair {
        use openssl::asn1::{Asn1Integer, Asn1Time};
        use openssl::bn::BigNum;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509Builder, X509NameBuilder};

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", common_name).unwrap();
        let name = name.build();
        let mut cert = X509Builder::new().unwrap();
        cert.set_version(2).unwrap();
        let serial = BigNum::from_u32(rand::random::<u32>() >> 1).unwrap();
        cert.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
            .unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        TestKeyPair {
            key_pem: String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            cert_pem: String::from_utf8(cert.build().to_pem().unwrap()).unwrap(),
        }
    }

    /// The certificate's DER in base64 on one line, as `ds:X509Certificate` holds it.
    pub fn cert_base64(&self) -> String {
        pem_body(&self.cert_pem)
    }
}

/// A certificate's base64 (as metadata carries it) as a PEM block.
pub fn certificate_pem(base64: &str) -> String {
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// The base64 lines of a PEM block, joined.
pub fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/saml")
}

/// The running IdP. Dropping it kills PHP's server and its workers.
pub struct SamlPeer {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    /// The IdP's signing (and encryption) key pair.
    pub keys: TestKeyPair,
    pub config: SamlPeerConfig,
    metadata_xml: String,
    sp_entity_ids: Vec<String>,
    port: u16,
    secret_salt: String,
    child: Child,
    log: Arc<Mutex<String>>,
    pub(crate) http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl SamlPeer {
    /// Writes the peer's state (key, certificate, users, SP metadata), starts
    /// `php -S 127.0.0.1:P` on SimpleSAMLphp's web root (with `router.php`), waits for PHP's
    /// "started" line, fetches the IdP metadata once and checks that every SP's metadata
    /// loaded: a config or SP metadata the IdP refuses fails here, with its log.
    pub fn start(config: &SamlPeerConfig) -> SamlPeer {
        assert!(
            Path::new(SIMPLESAMLPHP_WWW)
                .join("saml2/idp/SSOService.php")
                .is_file(),
            "{SIMPLESAMLPHP_WWW} is missing. {INSTALL_HINT}"
        );
        let scratch = tempfile::tempdir().expect("tempdir");
        let state = scratch.path();
        for sub in ["cert", "log", "data", "tmp", "sessions"] {
            std::fs::create_dir(state.join(sub)).unwrap();
        }
        let keys = TestKeyPair::generate("saml-peer");
        std::fs::write(state.join("cert/idp.key"), &keys.key_pem).unwrap();
        std::fs::write(state.join("cert/idp.crt"), &keys.cert_pem).unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let secret_salt = uuid::Uuid::new_v4().simple().to_string();
        write_state(state, &base, &secret_salt, config);

        let mut child = Command::new("php")
            .current_dir(SIMPLESAMLPHP_WWW)
            .args(["-d", "log_errors=1", "-d", "display_errors=stderr"])
            .args(["-S", &format!("127.0.0.1:{port}"), "-t", SIMPLESAMLPHP_WWW])
            .arg(peer_dir().join("router.php"))
            .env("SIMPLESAMLPHP_CONFIG_DIR", peer_dir().join("config"))
            .env("VESTIBULE_SAML_PEER_STATE", state)
            // A browser opens several connections at once; one PHP process would serialise them.
            .env("PHP_CLI_SERVER_WORKERS", "3")
            // The workers are children of `php`: a group of their own lets Drop end them all.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `php`: {e}. {INSTALL_HINT}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let started = format!("Development Server ({base}) started");
        keep_lines(child.stdout.take().unwrap(), log.clone(), None);
        keep_lines(
            child.stderr.take().unwrap(),
            log.clone(),
            Some((started, ready_tx)),
        );
        let deadline = Instant::now() + super::START_WAIT;
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the SAML peer exited with {status}:\n{}",
                    log.lock().unwrap()
                );
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!(
                    "the SAML peer was not ready within {:?}:\n{}",
                    super::START_WAIT,
                    log.lock().unwrap()
                );
            }
        }
        let mut peer = SamlPeer {
            base,
            keys,
            config: config.clone(),
            metadata_xml: String::new(),
            sp_entity_ids: Vec::new(),
            port,
            secret_salt,
            child,
            log,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
            _dir: scratch,
        };
        let (status, body) = http_get(port, "/saml2/idp/metadata.php");
        assert!(
            status == 200 && body.contains("IDPSSODescriptor"),
            "the SAML peer's metadata answered {status}:\n{body}\n{}",
            peer.log()
        );
        peer.metadata_xml = body;
        peer.check_sps();
        peer
    }

    /// Trusts one more SP from now on, without a restart (SimpleSAMLphp reads the SP metadata
    /// on every request): for an SP whose metadata exists only once it runs, such as
    /// Vestibule's descriptor, which needs this IdP's metadata first. Fails when the IdP cannot
    /// load it.
    pub fn trust_sp(&mut self, sp: SamlSp) {
        self.config.sps.push(sp);
        write_state(
            self._dir.path(),
            &self.base,
            &self.secret_salt,
            &self.config,
        );
        self.check_sps();
    }

    /// Asks the router which SPs SimpleSAMLphp loaded; fails unless every configured one did.
    fn check_sps(&mut self) {
        let (status, body) = http_get(self.port, "/vestibule/sps");
        let loaded: Vec<String> = serde_json::from_str(&body).unwrap_or_default();
        assert!(
            status == 200 && loaded.len() == self.config.sps.len(),
            "the SAML peer did not load every SP's metadata ({status}): {body}\n{}",
            self.log()
        );
        self.sp_entity_ids = loaded;
    }

    /// What PHP and SimpleSAMLphp (at DEBUG, with every SAML message) printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `{base}/saml2/idp/metadata.php`, which is also the entity ID.
    pub fn metadata_url(&self) -> String {
        format!("{}/saml2/idp/metadata.php", self.base)
    }

    /// The IdP's `EntityDescriptor`, as fetched at start.
    pub fn metadata_xml(&self) -> &str {
        &self.metadata_xml
    }

    /// The entity IDs of the SPs the IdP loaded from the metadata it was given, in its order.
    pub fn sp_entity_ids(&self) -> &[String] {
        &self.sp_entity_ids
    }

    pub fn entity_id(&self) -> String {
        self.metadata_url()
    }

    /// The SingleSignOnService (HTTP-Redirect; it also takes HTTP-POST).
    pub fn sso_url(&self) -> String {
        format!("{}/saml2/idp/SSOService.php", self.base)
    }

    /// The SingleLogoutService (HTTP-Redirect; it also takes HTTP-POST).
    pub fn slo_url(&self) -> String {
        format!("{}/saml2/idp/SingleLogoutService.php", self.base)
    }

    /// IdP-initiated single logout of the browser's IdP session: visited with the IdP's
    /// cookies, it sends a LogoutRequest (HTTP-Redirect, to each SP's SLO service in turn) to
    /// every SP the session signed in to, expects their LogoutResponses at [`Self::slo_url`],
    /// and ends at `return_to`.
    pub fn logout_url(&self, return_to: &str) -> String {
        let mut url = Url::parse(&self.slo_url()).unwrap();
        url.query_pairs_mut().append_pair("ReturnTo", return_to);
        url.into()
    }

    /// IdP-initiated (unsolicited) login to `sp_entity_id`: a Response without InResponseTo,
    /// posted to the SP's default ACS.
    pub fn idp_initiated_login_url(&self, sp_entity_id: &str, relay_state: Option<&str>) -> String {
        let mut url = Url::parse(&self.sso_url()).unwrap();
        url.query_pairs_mut()
            .append_pair("spentityid", sp_entity_id);
        if let Some(relay_state) = relay_state {
            url.query_pairs_mut().append_pair("RelayState", relay_state);
        }
        url.into()
    }

    /// The IdP certificate as PEM (the one its metadata publishes for signing).
    pub fn cert_pem(&self) -> &str {
        &self.keys.cert_pem
    }

    /// A browser of its own (an empty cookie jar).
    pub fn browser(&self) -> SamlBrowser<'_> {
        SamlBrowser {
            peer: self,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Drop for SamlPeer {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Writes `peer.json` and one `sp-N.xml` per SP into `state`; `peer.json` by a rename, so that a
/// request being served never reads half of it.
fn write_state(state: &Path, base: &str, secret_salt: &str, config: &SamlPeerConfig) {
    let mut sps = Vec::new();
    for (i, sp) in config.sps.iter().enumerate() {
        let file = format!("sp-{i}.xml");
        std::fs::write(state.join(&file), &sp.metadata_xml).unwrap();
        sps.push(json!({"metadata_file": file, "options": sp.options()}));
    }
    let users: Vec<Value> = config
        .users
        .iter()
        .map(|u| {
            assert!(
                !u.username.contains(':') && !u.password.contains(':'),
                "exampleauth:UserPass keys users by `username:password`"
            );
            json!({"username": u.username, "password": u.password,
                   "name_id": u.name_id, "attributes": u.attributes})
        })
        .collect();
    let peer_json = json!({
        "base_url": format!("{base}/"),
        "secret_salt": secret_salt,
        "users": users,
        "sps": sps,
    });
    let next = state.join("peer.json.next");
    std::fs::write(&next, serde_json::to_vec_pretty(&peer_json).unwrap()).unwrap();
    std::fs::rename(&next, state.join("peer.json")).unwrap();
}

fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) on the process group this child leads; no memory is involved.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Appends every line of `pipe` to `log`; the first line containing `ready.0` is signalled.
fn keep_lines(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    ready: Option<(String, mpsc::Sender<()>)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some((marker, tx)) = &ready {
                if line.contains(marker.as_str()) {
                    let _ = tx.send(());
                }
            }
            let mut all = log.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
}

/// A blocking HTTP/1.0 GET on loopback (start runs inside the tests' async runtime, where
/// reqwest's blocking client may not): the status and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // One write: PHP's built-in server takes a request split over several packets as malformed.
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read reply");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

mod bindings;
mod browser;
pub use bindings::{
    redirect_binding_message, redirect_binding_signature_verifies, redirect_binding_url,
    signed_redirect_binding_url,
};
pub use browser::{Form, SamlBrowser, SamlVisit};
