//! A forged upstream OpenID Connect IdP, in process on a free loopback port, whose every answer
//! a test scripts: the ID token's claims, header and signature (forgeries included), refusals,
//! userinfo, the JWKS (rotation, removals, unparseable entries, failures) and back-channel
//! logout tokens. It plays a plain OpenID provider, or Entra ID with its tenant-templated
//! issuer, `issuer` members on JWKS keys and `tid`/`oid` claims
//! (`/work/shared/reference/federation.md` §1). Nothing here is Vestibule's own code but the
//! real signatures, made with `vestibule::issuer::jwt`.
//!
//! Routes (all under [`ForgedIdp::base`]): `/.well-known/openid-configuration`, in Entra mode
//! also `/{tenant}/v2.0/.well-known/openid-configuration` (`common` and `organizations` answer
//! the `{tenantid}` template, `consumers` the consumer tenant, a GUID its own issuer);
//! `/authorize`, `/token`, `/userinfo`, `/jwks`, `/logout` (the end-session endpoint).

pub mod claims;
mod endpoints;
mod keys;
mod records;
mod settings;
mod token;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use vestibule::issuer::jwt::VerifyingKey;

pub use claims::{User, CONSUMER_TENANT, HOME_TENANT, OTHER_TENANT};
pub use keys::{hmac_sha256, signature_verifies, verify_with_jwks};
pub use keys::{Forgery, UNKNOWN_KID};
pub use records::{Authorization, AuthorizeRequest, Busy, Counters, Exchange, TokenRequest};
pub use settings::{ClientAuth, Flavor, Settings};
pub use vestibule::issuer::jwt::Alg;

/// The script of the ID token: edit the default claims, say how to sign them.
pub type IdTokenScript = dyn Fn(&Exchange, &mut Value) -> Forgery + Send + Sync;
/// Edits a token response's JSON body after the ID token is in it.
pub type TokenResponseScript = dyn Fn(&Exchange, &mut Value) + Send + Sync;
/// Edits userinfo claims.
pub type UserinfoScript = dyn Fn(&Authorization, &mut Value) + Send + Sync;
/// Edits a discovery document; the first argument is the request path.
pub type DiscoveryScript = dyn Fn(&str, &mut Value) + Send + Sync;

#[derive(Default)]
struct Scripts {
    id_token: Option<Arc<IdTokenScript>>,
    id_token_once: VecDeque<Arc<IdTokenScript>>,
    token_response: Option<Arc<TokenResponseScript>>,
    userinfo: Option<Arc<UserinfoScript>>,
    discovery: Option<Arc<DiscoveryScript>>,
}

/// An access token and what `/userinfo` answers for it.
struct Issued {
    authorization: usize,
    /// The `sub` of the ID token issued with it (userinfo's default `sub`).
    sub: Option<Value>,
}

/// Everything the IdP knows, behind one mutex; no lock is held while a script runs.
struct State {
    base: String,
    settings: Settings,
    user: User,
    keys: keys::KeySet,
    requests: Vec<AuthorizeRequest>,
    authorizations: Vec<Authorization>,
    /// Code -> (authorization, used).
    codes: HashMap<String, (usize, bool)>,
    access_tokens: HashMap<String, Issued>,
    refresh_tokens: HashMap<String, usize>,
    refusals: VecDeque<(String, String)>,
    scripts: Scripts,
    token_requests: Vec<TokenRequest>,
    logouts: Vec<BTreeMap<String, String>>,
    counters: Counters,
    busy: Busy,
    jwks_fails: bool,
    allow_code_reuse: bool,
}

impl State {
    fn now(&self) -> i64 {
        self.settings.clock.now().div_euclid(1_000_000)
    }

    /// The issuer of `tid`'s tokens (Entra), or the IdP's issuer.
    fn issuer_for(&self, tid: Option<&str>) -> String {
        match &self.settings.flavor {
            Flavor::Generic => self.base.clone(),
            Flavor::Entra { tenant } => {
                format!("{}/{}/v2.0", self.base, tid.unwrap_or(tenant))
            }
        }
    }
}

type Shared = Mutex<State>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running forged IdP. It stops when dropped, or with [`ForgedIdp::stop`].
pub struct ForgedIdp {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
    http: reqwest::Client,
}

impl ForgedIdp {
    /// Binds a free loopback port and serves `settings` there.
    pub async fn start(settings: Settings) -> ForgedIdp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let key_issuer = match settings.flavor {
            Flavor::Generic => None,
            Flavor::Entra { .. } => Some(format!("{base}/{{tenantid}}/v2.0")),
        };
        let state = State {
            keys: keys::KeySet::new(settings.alg, key_issuer),
            user: settings.user.clone(),
            base: base.clone(),
            settings,
            requests: Vec::new(),
            authorizations: Vec::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            refusals: VecDeque::new(),
            scripts: Scripts::default(),
            token_requests: Vec::new(),
            logouts: Vec::new(),
            counters: Counters::default(),
            busy: Busy::default(),
            jwks_fails: false,
            allow_code_reuse: false,
        };
        let shared = Arc::new(Mutex::new(state));
        let handle = endpoints::serve(shared.clone(), listener);
        ForgedIdp {
            base,
            shared,
            handle,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
        }
    }

    /// Stops the server now (open connections are dropped).
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// The issuer of the IdP: the base URL, or in Entra mode that of the home tenant.
    pub fn issuer(&self) -> String {
        self.state().issuer_for(None)
    }

    /// In Entra mode, the issuer of tenant `tid`'s tokens.
    pub fn issuer_for(&self, tid: &str) -> String {
        self.state().issuer_for(Some(tid))
    }

    /// The discovery URL a connection is configured with: `{issuer}/.well-known/...` (in
    /// Entra mode the home tenant's).
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// Entra's tenant-independent discovery URL, whose `issuer` is the `{tenantid}` template.
    pub fn common_discovery_url(&self) -> String {
        format!("{}/common/v2.0/.well-known/openid-configuration", self.base)
    }

    pub fn client_id(&self) -> String {
        self.state().settings.client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.state().settings.client_secret.clone()
    }

    /// The IdP's time, in seconds.
    pub fn now(&self) -> i64 {
        self.state().now()
    }

    /// `/authorize` signs `user` in from now on.
    pub fn sign_in_as(&self, user: User) {
        self.state().user = user;
    }

    /// Where `/token` reads the client's keys to verify `private_key_jwt` assertions from now
    /// on (`None`: assertions are recorded, not verified). The client's keys are often known
    /// only once the client runs.
    pub fn set_client_jwks_uri(&self, uri: Option<String>) {
        self.state().settings.client_jwks_uri = uri;
    }

    pub fn user(&self) -> User {
        self.state().user.clone()
    }

    /// The next authorization request is refused: the browser goes back with `error` and
    /// `error_description` (and `state`). Calls queue up, one refusal a request.
    pub fn refuse_next(&self, error: &str, description: &str) {
        let refusal = (error.to_string(), description.to_string());
        self.state().refusals.push_back(refusal);
    }

    /// Every authorization request received, refused and malformed ones included.
    pub fn requests(&self) -> Vec<AuthorizeRequest> {
        self.state().requests.clone()
    }

    pub fn last_request(&self) -> Option<AuthorizeRequest> {
        self.state().requests.last().cloned()
    }

    /// Every authorization granted (a code issued).
    pub fn authorizations(&self) -> Vec<Authorization> {
        self.state().authorizations.clone()
    }

    pub fn last_authorization(&self) -> Option<Authorization> {
        self.state().authorizations.last().cloned()
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state().token_requests.clone()
    }

    /// The parameters of every request to the end-session endpoint.
    pub fn logouts(&self) -> Vec<BTreeMap<String, String>> {
        self.state().logouts.clone()
    }

    /// Every token response from now on: `script` edits the default ID token claims and
    /// returns how to sign them. Replaces the previous standing script.
    pub fn script(
        &self,
        script: impl Fn(&Exchange, &mut Value) -> Forgery + Send + Sync + 'static,
    ) {
        self.state().scripts.id_token = Some(Arc::new(script));
    }

    /// The next token response only (before the standing script; calls queue up).
    pub fn script_once(
        &self,
        script: impl Fn(&Exchange, &mut Value) -> Forgery + Send + Sync + 'static,
    ) {
        self.state()
            .scripts
            .id_token_once
            .push_back(Arc::new(script));
    }

    /// Every ID token from now on has the default claims, signed as `forgery` says.
    pub fn forge(&self, forgery: Forgery) {
        self.script(move |_, _| forgery.clone());
    }

    /// The next ID token has the default claims, signed as `forgery` says.
    pub fn forge_once(&self, forgery: Forgery) {
        self.script_once(move |_, _| forgery.clone());
    }

    /// Edits every token response body (remove `id_token`, change `token_type`, ...).
    pub fn script_token_response(
        &self,
        script: impl Fn(&Exchange, &mut Value) + Send + Sync + 'static,
    ) {
        self.state().scripts.token_response = Some(Arc::new(script));
    }

    /// Edits every userinfo answer, e.g. `claims["sub"] = json!("someone-else")`.
    pub fn script_userinfo(
        &self,
        script: impl Fn(&Authorization, &mut Value) + Send + Sync + 'static,
    ) {
        self.state().scripts.userinfo = Some(Arc::new(script));
    }

    /// Edits every discovery document (an `issuer` that does not match, a missing `jwks_uri`).
    pub fn script_discovery(&self, script: impl Fn(&str, &mut Value) + Send + Sync + 'static) {
        self.state().scripts.discovery = Some(Arc::new(script));
    }

    /// Back to valid ID tokens, answers and documents.
    pub fn clear_scripts(&self) {
        self.state().scripts = Scripts::default();
    }

    /// Whether `/token` takes a code it already redeemed (replay tests).
    pub fn allow_code_reuse(&self, allow: bool) {
        self.state().allow_code_reuse = allow;
    }

    /// The kid that signs now.
    pub fn signing_kid(&self) -> String {
        self.state().keys.signing_kid().to_string()
    }

    /// A new key of the current algorithm signs from now on; the old ones stay published.
    pub fn rotate(&self) -> String {
        let mut state = self.state();
        let alg = state.keys.signing_alg();
        state.keys.rotate(alg)
    }

    /// A new key of `alg` signs from now on; the old ones stay published.
    pub fn rotate_to(&self, alg: Alg) -> String {
        self.state().keys.rotate(alg)
    }

    /// Publishes another real key with JWK `use` `key_use` (`sig`, `enc`, `x-unknown`); it
    /// signs only through [`Forgery::SignWith`]. Its kid.
    pub fn add_key(&self, alg: Alg, key_use: &str) -> String {
        self.state().keys.add(alg, key_use)
    }

    /// The JWKS stops publishing `kid` (the signing key goes on signing if it is that one).
    pub fn remove_key(&self, kid: &str) {
        self.state().keys.remove(kid);
    }

    /// Sets (or removes) Entra's `issuer` member of key `kid`, e.g. a concrete tenant's.
    pub fn set_key_issuer(&self, kid: &str, issuer: Option<&str>) {
        self.state().keys.set_issuer(kid, issuer.map(String::from));
    }

    /// Publishes `entry` in the JWKS as it is.
    pub fn publish_raw_key(&self, entry: Value) {
        self.state().keys.push_raw(entry);
    }

    /// Publishes the unusable keys of `oidcc-client-test-ignores-unparseable-key-in-jwks`: a
    /// made-up `kty` and a post-quantum `kty: AKP` one (RFC 7517 §5: a JWKS consumer ignores
    /// keys it does not understand).
    pub fn add_unparseable_keys(&self) {
        self.publish_raw_key(json!({"kty": "XYZ", "kid": "unparseable-xyz", "use": "sig",
                                    "alg": "XYZ256", "x": "AAAA"}));
        self.publish_raw_key(json!({"kty": "AKP", "kid": "unparseable-akp", "use": "sig",
                                    "alg": "ML-DSA-65", "pub": "AAAA"}));
    }

    /// The JWKS as `/jwks` serves it now (without counting a fetch).
    pub fn jwks(&self) -> Value {
        self.state().keys.jwks()
    }

    /// Key `kid`'s public key as PEM: the HMAC key of [`Forgery::Hs256WithPublicKey`].
    pub fn public_key_pem(&self, kid: &str) -> Vec<u8> {
        self.state().keys.public_key_pem(kid)
    }

    /// Verifying keys for every key the IdP holds, published or not, for `jwt::verify`.
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.state().keys.verifying_keys()
    }

    /// `/jwks` answers 500 while `fail` is true (fetches still count).
    pub fn fail_jwks(&self, fail: bool) {
        self.state().jwks_fails = fail;
    }

    /// How many times each endpoint was asked.
    pub fn counters(&self) -> Counters {
        self.state().counters
    }

    /// How long each endpoint has spent answering so far.
    pub fn busy(&self) -> Busy {
        self.state().busy
    }

    pub fn jwks_fetches(&self) -> usize {
        self.counters().jwks
    }

    /// `claims` signed as a compact JWS with header `typ`, made as `forgery` says: for tokens
    /// a test delivers itself.
    pub fn sign(&self, claims: &Value, typ: &str, forgery: &Forgery) -> String {
        self.state().keys.sign(claims, typ, forgery)
    }

    /// The claims of a valid logout token (OIDC Back-Channel Logout 1.0 §2.4) for
    /// `authorization`'s session: `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`, `events`.
    pub fn logout_claims(&self, authorization: &Authorization) -> Value {
        let state = self.state();
        let now = state.now();
        json!({
            "iss": authorization.issuer,
            "aud": state.settings.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": uuid::Uuid::new_v4().to_string(),
            "sub": authorization.user.sub,
            "sid": authorization.sid,
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        })
    }

    /// POSTs `logout_token=<claims signed as forgery says, typ logout+jwt>` to `url` as
    /// `application/x-www-form-urlencoded` (OIDC Back-Channel Logout 1.0 §2.5); the status.
    pub async fn backchannel_logout(&self, url: &str, claims: &Value, forgery: Forgery) -> u16 {
        let token = self.sign(claims, "logout+jwt", &forgery);
        self.http
            .post(url)
            .form(&[("logout_token", token)])
            .send()
            .await
            .expect("back-channel logout request")
            .status()
            .as_u16()
    }

    /// The browser's visit to the IdP: GETs `authorize_url` (Vestibule's redirect to
    /// `/authorize`) and returns where the IdP sends the browser back (its `Location`).
    pub async fn visit(&self, authorize_url: &str) -> String {
        let reply = self
            .http
            .get(authorize_url)
            .send()
            .await
            .expect("authorize");
        assert_eq!(
            reply.status(),
            302,
            "{}",
            reply.text().await.unwrap_or_default()
        );
        reply.headers()["location"]
            .to_str()
            .expect("location")
            .to_string()
    }
}

impl Drop for ForgedIdp {
    fn drop(&mut self) {
        // The stop command is sent at once; waiting for it is what `stop` adds.
        drop(self.handle.stop(false));
    }
}
