//! The Entra ID-like upstream OpenID Connect provider of `tests/peers/entra` (node
//! `oidc-provider`, one issuer per tenant) as a child process on a free loopback port: its
//! config, its URLs, its admin switches, and signing in through its login page without a
//! browser. scripts/test.sh installs it (`npm ci`); a missing node or module fails the test with
//! what to install, it never skips.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::daemon::free_port;

/// The tenants, users and app registrations the peer serves (server.js documents the format).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntraConfig {
    pub tenants: Vec<EntraTenant>,
    pub clients: Vec<EntraClient>,
}

/// One directory: `tid` a GUID, signing with the keys shared by all tenants unless `own_keys`.
#[derive(Debug, Clone, Serialize)]
pub struct EntraTenant {
    pub tid: String,
    pub name: String,
    pub own_keys: bool,
    pub users: Vec<EntraUser>,
}

impl EntraTenant {
    /// A tenant with a fresh random `tid` and no users.
    pub fn new(name: &str) -> EntraTenant {
        EntraTenant {
            tid: guid(),
            name: name.into(),
            own_keys: false,
            users: Vec::new(),
        }
    }
}

/// A member of a tenant; `oid` and `groups` are GUIDs, `upn` is what the login page asks for.
#[derive(Debug, Clone, Serialize)]
pub struct EntraUser {
    pub oid: String,
    pub upn: String,
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub xms_edov: bool,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

impl EntraUser {
    /// `given family` signing in as `upn` with `password`: a fresh `oid`, email = upn from a
    /// verified domain (`xms_edov: true`), no groups, no roles.
    pub fn new(upn: &str, password: &str, given: &str, family: &str) -> EntraUser {
        EntraUser {
            oid: guid(),
            upn: upn.into(),
            password: password.into(),
            email: Some(upn.into()),
            xms_edov: true,
            name: format!("{given} {family}"),
            given_name: given.into(),
            family_name: family.into(),
            preferred_username: None,
            groups: Vec::new(),
            roles: Vec::new(),
        }
    }
}

/// An app registration (confidential client). Without `tenants` it is multi-tenant: every
/// tenant knows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntraClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<String>>,
}

impl EntraClient {
    /// A multi-tenant app redirecting to `redirect_uri`, with a fresh GUID as `client_id` (as
    /// Entra's application ids are) and a random secret.
    pub fn new(redirect_uri: &str) -> EntraClient {
        EntraClient {
            client_id: guid(),
            client_secret: format!("secret-{}", uuid::Uuid::new_v4().simple()),
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            tenants: None,
        }
    }
}

/// A random GUID, lower case, as Entra writes them.
pub fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// One logout token the peer POSTed, and the status the relying party answered (0: none).
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutDelivery {
    pub client_id: String,
    pub sid: String,
    pub sub: String,
    pub uri: String,
    pub status: u16,
    pub error: Option<String>,
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/entra")
}

/// The running peer. Dropping it kills the process.
pub struct EntraPeer {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    pub config: EntraConfig,
    child: Child,
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl EntraPeer {
    /// Writes `config`, starts `node tests/peers/entra/server.js --port P --config FILE` and
    /// waits for its ready line.
    pub fn start(config: &EntraConfig) -> EntraPeer {
        let dir = peer_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed in {}: run `npm ci` there (scripts/test.sh does)",
            dir.display()
        );
        let scratch = tempfile::tempdir().expect("tempdir");
        let config_file = scratch.path().join("entra.json");
        std::fs::write(&config_file, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let port = free_port();
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg(dir.join("server.js"))
            .args(["--port", &port.to_string(), "--config"])
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start node for the Entra peer: {e}. Install Node.js (scripts/test.sh does).")
            });
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        keep_lines(child.stdout.take().unwrap(), log.clone(), Some(ready_tx));
        keep_lines(child.stderr.take().unwrap(), log.clone(), None);
        let deadline = Instant::now() + super::START_WAIT;
        let base = loop {
            if let Ok(base) = ready_rx.recv_timeout(Duration::from_millis(50)) {
                break base;
            }
            if let Some(status) = child.try_wait().unwrap() {
                // Let the readers take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the Entra peer exited with {status}:\n{}",
                    log.lock().unwrap()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "the Entra peer was not ready within {:?}:\n{}",
                    super::START_WAIT,
                    log.lock().unwrap()
                );
            }
        };
        EntraPeer {
            base,
            config: config.clone(),
            child,
            log,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
            _dir: scratch,
        }
    }

    /// What the peer printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:{port}/{tid}/v2.0`, as `https://login.microsoftonline.com/{tid}/v2.0`.
    pub fn issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.base)
    }

    /// The issuer template of the tenant-independent documents, `{tenantid}` literally.
    pub fn issuer_template(&self) -> String {
        self.issuer("{tenantid}")
    }

    pub fn discovery_url(&self, tid: &str) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer(tid))
    }

    /// `/common/v2.0/.well-known/openid-configuration`.
    pub fn common_discovery_url(&self) -> String {
        self.discovery_url("common")
    }

    /// `/{tenant}/oauth2/v2.0/authorize`; `tenant` is a tid, `common` or `organizations`.
    pub fn authorization_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/authorize", self.base)
    }

    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base)
    }

    pub fn jwks_uri(&self, tenant: &str) -> String {
        format!("{}/{tenant}/discovery/v2.0/keys", self.base)
    }

    /// A POST to an admin endpoint, which must answer 200.
    async fn admin(&self, path: &str, body: Value) -> Value {
        let reply = self
            .http
            .post(format!("{}/admin{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("admin {path}: {e}\n{}", self.log()));
        let status = reply.status();
        let answer: Value = reply.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "admin {path}: {answer}\n{}", self.log());
        answer
    }

    /// A new key signs for every tenant without keys of its own; the old stays published.
    /// Returns the new kid.
    pub async fn rotate_keys(&self) -> String {
        let answer = self.admin("/keys/rotate", json!({})).await;
        answer["kid"].as_str().expect("kid").to_string()
    }

    /// A new key for the key set that signs for `tid` (its own, or the shared one).
    pub async fn rotate_tenant_keys(&self, tid: &str) -> String {
        let answer = self.admin("/keys/rotate", json!({ "tid": tid })).await;
        answer["kid"].as_str().expect("kid").to_string()
    }

    /// Publishes (or stops publishing) an unparseable key (`kty: "XYZ"`) in every JWKS.
    pub async fn set_bad_key(&self, enabled: bool) {
        self.admin("/keys/bad", json!({ "enabled": enabled })).await;
    }

    /// Turns the groups overage on or off for the user `oid`'s next ID tokens.
    pub async fn set_overage(&self, oid: &str, enabled: bool) {
        self.admin("/users/overage", json!({ "oid": oid, "enabled": enabled }))
            .await;
    }

    /// Signs `upn` out of every session at the peer (or of the session that gave some client
    /// `sid`): one logout token POSTed per client with a `backchannel_logout_uri`.
    pub async fn backchannel_logout_sessions(
        &self,
        upn: &str,
        sid: Option<&str>,
    ) -> Vec<LogoutDelivery> {
        let answer = self
            .admin("/backchannel-logout", json!({ "upn": upn, "sid": sid }))
            .await;
        serde_json::from_value(answer["deliveries"].clone()).expect("deliveries")
    }

    /// [`Self::backchannel_logout_sessions`] for all of `upn`'s sessions: the HTTP status the
    /// first relying party answered. Fails if no logout token was sent.
    pub async fn backchannel_logout(&self, upn: &str) -> u16 {
        let deliveries = self.backchannel_logout_sessions(upn, None).await;
        let first = deliveries
            .first()
            .unwrap_or_else(|| panic!("no logout token sent for {upn}\n{}", self.log()));
        first.status
    }

    /// The sessions the peer holds: `[{tid, oid, upn, clients: [{client_id, sid, sub}]}]`.
    pub async fn sessions(&self) -> Vec<Value> {
        let reply = self
            .http
            .get(format!("{}/admin/sessions", self.base))
            .send()
            .await
            .expect("admin sessions");
        let answer: Value = reply.json().await.expect("JSON");
        answer["sessions"].as_array().cloned().unwrap_or_default()
    }

    /// A browser of its own (an empty cookie jar).
    pub fn browser(&self) -> EntraBrowser<'_> {
        EntraBrowser {
            peer: self,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// Signs `upn` in from a fresh browser, starting at `authorization_url` (the relying party's
    /// authorization request): returns the redirect back to the relying party, such as
    /// `redirect_uri?code=...&state=...`.
    pub async fn sign_in(&self, authorization_url: &str, upn: &str, password: &str) -> String {
        self.browser()
            .sign_in(authorization_url, upn, password)
            .await
    }
}

impl Drop for EntraPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends every line of `pipe` to `log`; the line `ready {base}` also goes to `ready`.
fn keep_lines(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let (Some(tx), Some(base)) = (&ready, line.strip_prefix("ready ")) {
                let _ = tx.send(base.trim().to_string());
            }
            let mut all = log.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
}

/// Where a visit ended: back at the relying party, or on one of the peer's forms.
#[derive(Debug)]
pub enum Visit {
    /// A redirect away from the peer: the URL.
    Back(String),
    /// A page with a form (login, account name, sign-out).
    Form(Box<Form>),
    /// A page without one (signed out): its HTML.
    Page(String),
}

/// The one form of a peer page.
#[derive(Debug, Clone)]
pub struct Form {
    pub page_url: Url,
    pub action: Url,
    pub fields: BTreeMap<String, String>,
    /// The text of `#error`, if the page shows one.
    pub error: Option<String>,
    pub html: String,
}

/// A browser as far as the peer's pages need one: cookies kept per name (one origin), redirects
/// followed by hand, forms read from the HTML.
pub struct EntraBrowser<'a> {
    peer: &'a EntraPeer,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl EntraBrowser<'_> {
    /// Follows redirects from `url` until they leave the peer or a page with a form shows.
    pub async fn visit(&self, url: &str) -> Visit {
        self.follow(reqwest::Method::GET, Url::parse(url).expect("URL"), &[])
            .await
    }

    /// Visits `authorization_url` and fills whatever forms show with `upn` and `password` until
    /// the peer redirects back; the redirect URL. A form shown twice with an error fails.
    pub async fn sign_in(&self, authorization_url: &str, upn: &str, password: &str) -> String {
        let mut visit = self.visit(authorization_url).await;
        for _ in 0..4 {
            let form = match visit {
                Visit::Back(url) => return url,
                Visit::Form(form) => form,
                Visit::Page(html) => panic!("signing in ended on a page without a form:\n{html}"),
            };
            if let Some(error) = &form.error {
                panic!("the peer's sign-in page says: {error}\n{}", form.html);
            }
            let mut fields = form.fields.clone();
            if fields.contains_key("username") {
                fields.insert("username".into(), upn.into());
            }
            if fields.contains_key("password") {
                fields.insert("password".into(), password.into());
            }
            visit = self.submit(&form, &fields).await;
        }
        panic!(
            "signing in at {authorization_url} did not come back\n{}",
            self.peer.log()
        );
    }

    /// Posts `form` with `fields`, then follows as [`Self::visit`] does.
    pub async fn submit(&self, form: &Form, fields: &BTreeMap<String, String>) -> Visit {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.follow(reqwest::Method::POST, form.action.clone(), &fields)
            .await
    }

    async fn follow(
        &self,
        mut method: reqwest::Method,
        mut url: Url,
        form: &[(&str, &str)],
    ) -> Visit {
        let peer = Url::parse(&self.peer.base).unwrap().origin();
        for _ in 0..12 {
            if url.origin() != peer {
                return Visit::Back(url.to_string());
            }
            let mut request = self.peer.http.request(method.clone(), url.clone());
            if method == reqwest::Method::POST {
                request = request.form(form);
            }
            let cookie = self.cookie_header();
            if !cookie.is_empty() {
                request = request.header("cookie", cookie);
            }
            let reply = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}\n{}", self.peer.log()));
            self.keep_cookies(reply.headers());
            let status = reply.status().as_u16();
            if (300..400).contains(&status) {
                let location = reply.headers()["location"].to_str().expect("location");
                url = url.join(location).expect("redirect URL");
                method = reqwest::Method::GET;
                continue;
            }
            let html = reply.text().await.unwrap_or_default();
            assert_eq!(status, 200, "{method} {url}:\n{html}\n{}", self.peer.log());
            if !html.contains("<form") {
                return Visit::Page(html);
            }
            return Visit::Form(Box::new(read_form(&html, &url)));
        }
        panic!("more than 12 redirects from {url}\n{}", self.peer.log());
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().unwrap();
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps each `Set-Cookie` by name; an expired or empty one is dropped.
    fn keep_cookies(&self, headers: &reqwest::header::HeaderMap) {
        let mut cookies = self.cookies.lock().unwrap();
        for line in headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let lower = line.to_ascii_lowercase();
            if value.is_empty()
                || lower.contains("expires=thu, 01 jan 1970")
                || lower.contains("max-age=0")
            {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().into(), value.trim().into());
            }
        }
    }
}

/// The first form of a peer page (pages.js writes double-quoted attributes).
fn read_form(html: &str, page_url: &Url) -> Form {
    let start = html
        .find("<form")
        .unwrap_or_else(|| panic!("no form on {page_url}:\n{html}"));
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let tag = &form[..form.find('>').unwrap_or(form.len())];
    let action = page_url
        .join(&attribute(tag, "action").unwrap_or_default())
        .expect("form action");
    let mut fields = BTreeMap::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if let Some(name) = attribute(tag, "name") {
            fields.insert(name, attribute(tag, "value").unwrap_or_default());
        }
    }
    let error = html.find("id=\"error\"").map(|at| {
        let text = &html[at..];
        let text = &text[text.find('>').map_or(0, |g| g + 1)..];
        unescape(&text[..text.find('<').unwrap_or(text.len())])
    });
    Form {
        page_url: page_url.clone(),
        action,
        fields,
        error,
        html: html.to_string(),
    }
}

/// The value of attribute `name` in a tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

/// HTML character references as pages.js writes them (`&#NN;`), and the usual named ones.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(semi) = after.find(';') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let decoded = match &after[..semi] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            reference => reference
                .strip_prefix('#')
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
