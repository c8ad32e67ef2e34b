//! What the forged IdP received and decided, as tests read it: authorization requests, the
//! authorizations granted (with their callbacks), token exchanges and counters.

use std::collections::BTreeMap;

use super::{endpoints, ClientAuth, User};

/// An authorization request as `/authorize` received it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub domain_hint: Option<String>,
    /// Every parameter, those above included (the last value of a repeated one).
    pub params: BTreeMap<String, String>,
}

impl AuthorizeRequest {
    pub(super) fn from_params(params: BTreeMap<String, String>) -> AuthorizeRequest {
        let get = |name: &str| params.get(name).cloned();
        AuthorizeRequest {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            scope: get("scope"),
            state: get("state"),
            nonce: get("nonce"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            prompt: get("prompt"),
            login_hint: get("login_hint"),
            domain_hint: get("domain_hint"),
            params,
        }
    }
}

/// An authorization `/authorize` granted: the request, whom it signed in, the code.
#[derive(Clone, Debug, PartialEq)]
pub struct Authorization {
    pub request: AuthorizeRequest,
    pub user: User,
    /// The issuer of this user's tokens.
    pub issuer: String,
    pub code: String,
    /// The upstream session (`sid` of the ID token and of logout tokens).
    pub sid: String,
    pub auth_time: i64,
    /// The parameters of the redirect back (`code`, `state`, `iss`), in order.
    pub response: Vec<(String, String)>,
}

impl Authorization {
    /// The URL `/authorize` redirected the browser to.
    pub fn callback(&self) -> String {
        self.callback_with(&[])
    }

    /// The callback with parameters replaced, added, or (`None`) removed: for replayed codes,
    /// tampered `state` or `iss`, mix-ups.
    pub fn callback_with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut params = self.response.clone();
        for (name, value) in changes {
            params.retain(|(n, _)| n != name);
            if let Some(value) = value {
                params.push((name.to_string(), value.to_string()));
            }
        }
        let redirect_uri = self.request.redirect_uri.as_deref().unwrap_or_default();
        endpoints::with_query(redirect_uri, &params)
    }
}

/// What `/token` is about to answer, as scripts see it.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub authorization: Authorization,
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The access token of this answer (for `at_hash`).
    pub access_token: String,
    /// The IdP's time, in seconds.
    pub now: i64,
}

/// A request to `/token` and how it was answered.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub form: BTreeMap<String, String>,
    /// The method the client authenticated with, if it sent credentials at all.
    pub client_auth: Option<ClientAuth>,
    pub client_id: Option<String>,
    /// The `private_key_jwt` assertion, as sent.
    pub client_assertion: Option<String>,
    /// Whether the assertion verified against `client_jwks_uri` (`None`: not checked).
    pub assertion_verified: Option<bool>,
    pub status: u16,
    /// The OAuth `error` of a refusal.
    pub error: Option<String>,
}

/// How many times an endpoint was asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub discovery: usize,
    pub jwks: usize,
    pub userinfo: usize,
    pub token: usize,
}

/// How long the IdP spent answering, per endpoint, from the request's arrival at its handler
/// to its response: the upstream's share of a login, which a benchmark of Vestibule's callback
/// takes out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Busy {
    pub authorize: std::time::Duration,
    pub token: std::time::Duration,
    pub userinfo: std::time::Duration,
    pub jwks: std::time::Duration,
    pub other: std::time::Duration,
}

impl Busy {
    pub(super) fn add(&mut self, path: &str, spent: std::time::Duration) {
        let slot = match path {
            "/authorize" => &mut self.authorize,
            "/token" => &mut self.token,
            "/userinfo" => &mut self.userinfo,
            "/jwks" => &mut self.jwks,
            _ => &mut self.other,
        };
        *slot += spent;
    }
}
