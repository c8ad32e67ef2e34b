//! An OpenID Connect relying party for the tests: the authorization request and the login form,
//! the code flow with PKCE, the token endpoint, userinfo, introspection, and reading a JWT.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vestibule::clock::{Clock, SystemClock};
use vestibule::config::Config;

use super::{config, entra_user, with_issuer, Backend, Tenant, TestDb, TestServer, REALM};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PASSWORD: &str = "alice-password";

/// A client as the token endpoint sees it: `client_id` and, for a confidential client, its
/// secret (HTTP Basic); a public client sends `client_id` in the form.
pub type Client<'a> = (&'a str, Option<&'a str>);

/// The confidential client of `with_issuer`.
pub const WEB: Client<'static> = ("web", Some("web-secret"));

/// The issuer's test setup (`with_issuer`) for `tenants`, on the system clock.
pub async fn start_issuer(backend: Backend, tenants: &[&Tenant]) -> TestServer {
    start_issuer_with(backend, tenants, Arc::new(SystemClock), |_| {}).await
}

/// The issuer's test setup for `tenants` on `clock`; `adjust` has the last word on the config.
pub async fn start_issuer_with(
    backend: Backend,
    tenants: &[&Tenant],
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let db = TestDb::new(backend);
    let mut cfg = config(&db, tenants);
    with_issuer(&mut cfg);
    adjust(&mut cfg);
    TestServer::start_with(db, cfg, clock).await
}

/// Provisions `user_name` through `tenant`'s SCIM directory (an Entra-shaped user) and gives it
/// the test password, so that it can sign in through the login form. Returns its id.
pub async fn provision_user(server: &TestServer, tenant: &Tenant, user_name: &str) -> String {
    let id = server
        .scim(tenant)
        .post("/Users", &entra_user(user_name))
        .await
        .id();
    let hash = vestibule::issuer::clients::hash_secret(PASSWORD).expect("hash");
    let mut conn = server.state.db.get().expect("connection");
    vestibule::db::models::sessions::set_password_hash(&mut conn, &id, &hash, 0)
        .expect("set password");
    id
}

/// The S256 challenge of `VERIFIER`: the pair of RFC 7636 Appendix B.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The smallest authorization request of the code flow with PKCE, for the client `web`.
pub const CODE_REQUEST: [(&str, &str); 5] = [
    ("client_id", "web"),
    ("redirect_uri", REDIRECT),
    ("response_type", "code"),
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
];

/// RFC 7636 §4.2: S256.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// One part of a JWT (0: the header, 1: the claims), decoded and unverified.
fn jwt_part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON")
}

/// A JWT's payload, unverified (the tests read what the issuer wrote).
pub fn claims_of(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

/// A JWT's JOSE header, unverified.
pub fn header_of(jwt: &str) -> Value {
    jwt_part(jwt, 0)
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// The `Location` of a redirect.
pub fn location(reply: &reqwest::Response) -> String {
    reply.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

/// The query parameters of a URI, such as the redirect back to a client.
pub fn query_of(uri: &str) -> HashMap<String, String> {
    url::Url::parse(uri)
        .expect("a URI")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The token request of the code flow (RFC 6749 §4.1.3) with the test's PKCE verifier.
pub fn authorization_code(code: &str) -> [(&str, &str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// A signed-in browser: the query of the redirect back to the client, and its session cookie.
pub struct Login {
    pub redirect: HashMap<String, String>,
    pub cookie: String,
}

impl Login {
    pub fn code(&self) -> &str {
        &self.redirect["code"]
    }
}

/// The tokens of one exchange, their claims decoded.
pub struct Tokens {
    pub body: Value,
    pub access: Value,
    pub id: Option<Value>,
}

impl Tokens {
    pub fn access_token(&self) -> &str {
        self.body["access_token"].as_str().expect("access_token")
    }
    pub fn refresh_token(&self) -> &str {
        self.body["refresh_token"].as_str().expect("refresh_token")
    }
    pub fn id_token(&self) -> &str {
        self.body["id_token"].as_str().expect("id_token")
    }
    pub fn id(&self) -> &Value {
        self.id.as_ref().expect("an ID token")
    }
}

/// The login cookie a browser keeps between the authorization request and the login form.
pub const LOGIN_COOKIE: &str = "VESTIBULE_LOGIN";

/// The value of cookie `name` a response sets, if it does.
pub fn set_cookie(reply: &reqwest::Response, name: &str) -> Option<String> {
    cookie_set_in(reply.headers(), name)
}

/// The value of cookie `name` that the headers of an answer set, if they set it.
pub fn cookie_set_in(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(prefix.as_str())
                .and_then(|r| r.split(';').next())
                .map(String::from)
        })
}

/// One browser of a relying party's users: it keeps the login cookie the issuer sets (as a
/// browser would), and shows the SSO session cookie only when a test passes it.
pub struct RelyingParty<'a> {
    server: &'a TestServer,
    realm: String,
    /// A client that does not follow redirects: the tests read them.
    pub http: reqwest::Client,
    login_cookie: std::sync::Mutex<Option<String>>,
}

impl<'a> RelyingParty<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self::in_realm(server, REALM)
    }

    /// A browser talking to realm `realm`.
    pub fn in_realm(server: &'a TestServer, realm: &str) -> Self {
        RelyingParty {
            server,
            realm: realm.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            login_cookie: std::sync::Mutex::new(None),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/realms/{}{path}", self.server.base, self.realm)
    }

    /// The login cookie this browser holds, if the issuer set one.
    pub fn login_cookie(&self) -> Option<String> {
        self.login_cookie.lock().expect("lock").clone()
    }

    /// Makes this browser hold `value` as its login cookie (another browser's, in CSRF tests).
    pub fn set_login_cookie(&self, value: Option<String>) {
        *self.login_cookie.lock().expect("lock") = value;
    }

    /// The `cookie` header this browser sends: its login cookie, and `session` if given.
    pub fn cookie_header(&self, session: Option<&str>) -> Option<String> {
        let mut pairs = Vec::new();
        if let Some(login) = self.login_cookie() {
            pairs.push(format!("{LOGIN_COOKIE}={login}"));
        }
        if let Some(s) = session {
            pairs.push(format!("VESTIBULE_SESSION={s}"));
        }
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Keeps the login cookie a response sets.
    fn keep_login_cookie(&self, reply: &reqwest::Response) {
        if let Some(value) = set_cookie(reply, LOGIN_COOKIE) {
            self.set_login_cookie(Some(value));
        }
    }

    /// A GET of `url` (absolute, or a path on the server) as this browser: its login cookie
    /// and `session` sent, the login cookie it sets kept, redirects not followed.
    pub async fn browse(&self, url: &str, session: Option<&str>) -> reqwest::Response {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.server.base)
        } else {
            url.to_string()
        };
        let mut req = self.http.get(url);
        if let Some(cookies) = self.cookie_header(session) {
            req = req.header("cookie", cookies);
        }
        let reply = req.send().await.expect("GET");
        self.keep_login_cookie(&reply);
        reply
    }

    /// A form post to `path` under the realm, as this browser (its login cookie sent).
    pub async fn post_form(&self, path: &str, form: &[(&str, String)]) -> reqwest::Response {
        self.post_form_with(path, form, &[]).await
    }

    /// [`Self::post_form`] with extra request headers.
    pub async fn post_form_with(
        &self,
        path: &str,
        form: &[(&str, String)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(cookies) = self.cookie_header(None) {
            req = req.header("cookie", cookies);
        }
        let reply = req.send().await.expect("form post");
        self.keep_login_cookie(&reply);
        reply
    }

    pub fn oidc(&self, path: &str) -> String {
        self.url(&format!("/protocol/openid-connect{path}"))
    }

    /// A GET answered with JSON.
    pub async fn get_json(&self, url: &str) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON")
    }

    /// The authorization request with `params`, from a browser holding session `cookie` if any.
    pub async fn authorize(
        &self,
        params: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.http.get(self.oidc("/auth")).query(params);
        if let Some(cookies) = self.cookie_header(cookie) {
            req = req.header("cookie", cookies);
        }
        let reply = req.send().await.expect("authorization request");
        self.keep_login_cookie(&reply);
        reply
    }

    /// The page an authorization request without a session answers with: the login form.
    pub async fn login_page(&self, params: &[(&str, &str)]) -> String {
        self.authorize(params, None)
            .await
            .text()
            .await
            .expect("login page")
    }

    /// Posts the login form of `page`; returns the response.
    pub async fn submit_login(
        &self,
        page: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = [
            ("request", hidden(page, "request").expect("request field")),
            ("csrf", hidden(page, "csrf").expect("csrf field")),
            ("username", username.to_string()),
            ("password", password.to_string()),
        ];
        self.post_form("/login-actions/authenticate", &form).await
    }

    /// Signs `username` in with the test password through `client_id`, with `params` added to
    /// (or replacing those of) the authorization request with PKCE; returns the redirect back
    /// to the client and the session cookie.
    pub async fn login(&self, client_id: &str, params: &[(&str, &str)], username: &str) -> Login {
        let ch = challenge(VERIFIER);
        let mut query = vec![
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", ch.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in params {
            query.retain(|(key, _)| key != k);
            query.push((k, v));
        }
        let page = self.login_page(&query).await;
        let reply = self.submit_login(&page, username, PASSWORD).await;
        assert_eq!(
            reply.status(),
            302,
            "{}",
            reply.text().await.unwrap_or_default()
        );
        let cookie = set_cookie(&reply, "VESTIBULE_SESSION").expect("session cookie");
        let location = location(&reply);
        assert!(location.starts_with(REDIRECT), "{location}");
        Login {
            redirect: query_of(&location),
            cookie,
        }
    }

    /// A token request as `client`: the status and the answer (JSON null if there is none).
    pub async fn token(&self, client: Client<'_>, form: &[(&str, &str)]) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.oidc("/token"));
        match client.1 {
            Some(secret) => req = req.basic_auth(client.0, Some(secret)),
            None => form.push(("client_id", client.0)),
        }
        let reply = req.form(&form).send().await.expect("token request");
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    /// Exchanges a code as `client`, which must succeed.
    pub async fn exchange(&self, client: Client<'_>, code: &str) -> Tokens {
        let (status, body) = self.token(client, &authorization_code(code)).await;
        assert_eq!(status, 200, "{body}");
        Tokens {
            access: claims_of(body["access_token"].as_str().expect("access_token")),
            id: body["id_token"].as_str().map(claims_of),
            body,
        }
    }

    /// The refresh_token grant as `client`: the status and the answer.
    pub async fn refresh(&self, client: Client<'_>, refresh_token: &str) -> (u16, Value) {
        self.token(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Signs alice in through the confidential client `web` and exchanges the code.
    pub async fn tokens(&self, params: &[(&str, &str)]) -> Tokens {
        let login = self.login("web", params, "alice").await;
        self.exchange(WEB, login.code()).await
    }

    /// The userinfo request with an access token; returns the response.
    async fn userinfo_reply(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(self.oidc("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request")
    }

    /// The userinfo response for an access token, which must succeed.
    pub async fn userinfo(&self, access_token: &str) -> Value {
        let reply = self.userinfo_reply(access_token).await;
        assert_eq!(reply.status(), 200);
        reply.json().await.expect("userinfo JSON")
    }

    /// The status of the userinfo request with an access token.
    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        self.userinfo_reply(access_token).await.status().as_u16()
    }

    /// RFC 7662 introspection by the confidential client `web`.
    pub async fn introspect(&self, token: &str) -> Value {
        self.http
            .post(self.oidc("/token/introspect"))
            .basic_auth(WEB.0, WEB.1)
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection request")
            .json()
            .await
            .expect("introspection JSON")
    }
}
