//! An OpenID Connect relying party for the tests: the code flow with PKCE through the real login
//! form, the token endpoint, userinfo, and reading a JWT's claims.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{TestServer, REALM};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PASSWORD: &str = "alice-password";

/// RFC 7636 §4.2: S256.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A JWT's payload, unverified (the tests read what the issuer wrote).
pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
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
    pub fn id(&self) -> &Value {
        self.id.as_ref().expect("an ID token")
    }
}

pub struct RelyingParty<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl<'a> RelyingParty<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        RelyingParty {
            server,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/realms/{REALM}{path}", self.server.base)
    }

    pub fn oidc(&self, path: &str) -> String {
        self.url(&format!("/protocol/openid-connect{path}"))
    }

    /// Signs `username` in through `client_id` with `params` added to the authorization
    /// request; returns the authorization code.
    pub async fn login(&self, client_id: &str, params: &[(&str, &str)], username: &str) -> String {
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
        let page = self
            .http
            .get(self.oidc("/auth"))
            .query(&query)
            .send()
            .await
            .expect("authorization request")
            .text()
            .await
            .expect("login page");
        let form = [
            ("request", hidden(&page, "request").expect("request field")),
            ("csrf", hidden(&page, "csrf").expect("csrf field")),
            ("username", username.to_string()),
            ("password", PASSWORD.to_string()),
        ];
        let reply = self
            .http
            .post(self.url("/login-actions/authenticate"))
            .form(&form)
            .send()
            .await
            .expect("login");
        assert_eq!(
            reply.status(),
            302,
            "{}",
            reply.text().await.unwrap_or_default()
        );
        let location = reply.headers()["location"].to_str().expect("location");
        let redirect: HashMap<String, String> = url::Url::parse(location)
            .expect("redirect URI")
            .query_pairs()
            .into_owned()
            .collect();
        redirect["code"].clone()
    }

    /// Exchanges a code; `secret` is None for a public client.
    pub async fn exchange(&self, client: (&str, Option<&str>), code: &str) -> Tokens {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let mut req = self.http.post(self.oidc("/token"));
        match client.1 {
            Some(secret) => req = req.basic_auth(client.0, Some(secret)),
            None => form.push(("client_id", client.0)),
        }
        let reply = req.form(&form).send().await.expect("token request");
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.expect("token response");
        Tokens {
            access: claims_of(body["access_token"].as_str().expect("access_token")),
            id: body["id_token"].as_str().map(claims_of),
            body,
        }
    }

    /// Signs alice in through the confidential client `web` and exchanges the code.
    pub async fn tokens(&self, params: &[(&str, &str)]) -> Tokens {
        let code = self.login("web", params, "alice").await;
        self.exchange(("web", Some("web-secret")), &code).await
    }

    /// The userinfo response for an access token.
    pub async fn userinfo(&self, access_token: &str) -> Value {
        let reply = self
            .http
            .get(self.oidc("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request");
        assert_eq!(reply.status(), 200);
        reply.json().await.expect("userinfo JSON")
    }
}
