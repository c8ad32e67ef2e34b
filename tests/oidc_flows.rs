//! The OpenID Provider through HTTP on both databases: discovery, keys, the code flow with PKCE
//! and the login form, refresh rotation, userinfo, introspection, revocation, logout,
//! client_credentials per algorithm, organizations, roles, and the refusals.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use common::{config, entra_user, tenant, with_issuer, Backend, TestDb, TestServer, REALM};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

struct Issuer<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl<'a> Issuer<'a> {
    fn new(server: &'a TestServer) -> Self {
        Issuer {
            server,
            http: http(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}/realms/{REALM}{path}", self.server.base)
    }
    fn oidc(&self, path: &str) -> String {
        self.url(&format!("/protocol/openid-connect{path}"))
    }

    async fn authorize(&self, params: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.oidc("/auth")).query(params);
        if let Some(c) = cookie {
            req = req.header("cookie", format!("VESTIBULE_SESSION={c}"));
        }
        req.send().await.unwrap()
    }

    /// Posts the login form of an auth page; returns the response.
    async fn submit_login(&self, page: &str, username: &str, password: &str) -> reqwest::Response {
        let form = [
            ("request", hidden(page, "request").expect("request field")),
            ("csrf", hidden(page, "csrf").expect("csrf field")),
            ("username", username.to_string()),
            ("password", password.to_string()),
        ];
        self.http
            .post(self.url("/login-actions/authenticate"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Logs alice in through `client_id` and returns (redirect query, session cookie).
    async fn login(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
        username: &str,
    ) -> (HashMap<String, String>, String) {
        let ch = challenge(VERIFIER);
        let mut params = vec![
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", ch.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.retain(|(key, _)| key != k);
            params.push((k, v));
        }
        let page = self.authorize(&params, None).await.text().await.unwrap();
        let reply = self.submit_login(&page, username, "alice-password").await;
        assert_eq!(
            reply.status(),
            302,
            "{}",
            reply.text().await.unwrap_or_default()
        );
        let cookie = reply
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.strip_prefix("VESTIBULE_SESSION=")
                    .map(|r| r.split(';').next().unwrap().to_string())
            })
            .expect("session cookie");
        let location = reply.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(REDIRECT), "{location}");
        let query = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        (query, cookie)
    }

    async fn token(&self, client: (&str, Option<&str>), form: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.post(self.oidc("/token"));
        let mut form: Vec<(&str, &str)> = form.to_vec();
        match client.1 {
            Some(secret) => req = req.basic_auth(client.0, Some(secret)),
            None => form.push(("client_id", client.0)),
        }
        let resp = req.form(&form).send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn exchange(&self, code: &str) -> (u16, Value) {
        self.token(
            ("web", Some("web-secret")),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await
    }
}

both_backends!(
    expired_code_form_post_cors_and_account,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let db = TestDb::new(backend);
        let mut cfg = config(&db, &[&acme]);
        with_issuer(&mut cfg);
        let clock = Arc::new(vestibule::clock::FixedClock::new(1_800_000_000_000_000));
        let server = TestServer::start_with(db, cfg, clock.clone()).await;
        let op = Issuer::new(&server);

        // A code older than its lifespan (60 s) is refused.
        let (query, cookie) = op.login("web", &[], "alice").await;
        clock.advance(61_000_000);
        let (status, body) = op.exchange(&query["code"]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"));

        // response_mode=form_post answers with an auto-submitting form to the redirect URI.
        let page = op
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("response_mode", "form_post"),
                    ("state", "fp"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status(), 200);
        // Attribute values are HTML-escaped (`/` as `&#x2f;`), as a browser reads them.
        let html = page.text().await.unwrap().replace("&#x2f;", "/");
        assert!(
            html.contains(&format!("action=\"{REDIRECT}\""))
                && html.contains("name=\"code\"")
                && html.contains("value=\"fp\""),
            "{html}"
        );

        // CORS on the token endpoint for the client's registered web origin only.
        let code = hidden(&html, "code").unwrap();
        let reply = op
            .http
            .post(op.oidc("/token"))
            .header("origin", "http://127.0.0.1:9")
            .basic_auth("web", Some("web-secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(
            reply.headers()["access-control-allow-origin"],
            "http://127.0.0.1:9"
        );
        let reply = op
            .http
            .post(op.oidc("/token"))
            .header("origin", "https://evil.example")
            .basic_auth("web", Some("web-secret"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        assert!(reply.headers().get("access-control-allow-origin").is_none());

        // The account page: who am I, my organizations; without a session, off to login.
        let account = op
            .http
            .get(op.url("/account"))
            .header("cookie", format!("VESTIBULE_SESSION={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(account.status(), 200);
        let html = account.text().await.unwrap();
        assert!(
            html.contains("alice") && html.contains("ACME") && html.contains("(acme)"),
            "{html}"
        );
        let anonymous = op.http.get(op.url("/account")).send().await.unwrap();
        assert_eq!(anonymous.status(), 302);
        assert!(anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .contains("client_id=account"));
        server.stop().await;
    }
);

both_backends!(
    max_age_login_hint_and_external_id_rules,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let db = TestDb::new(backend);
        let mut cfg = config(&db, &[&acme]);
        with_issuer(&mut cfg);
        cfg.group_roles.push(vestibule::config::GroupRolesDecl {
            realm: REALM.into(),
            organization: "acme".into(),
            group: None,
            external_id: Some("8aa1a0c0-entra-object-id".into()),
            roles: vec!["web:auditor".into()],
        });
        let clock = Arc::new(vestibule::clock::FixedClock::new(1_800_000_000_000_000));
        let server = TestServer::start_with(db, cfg, clock.clone()).await;
        let op = Issuer::new(&server);

        // login_hint fills in the user name.
        let page = op
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("login_hint", "alice@acme.test"),
                ],
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("value=\"alice@acme.test\""), "{page}");

        // max_age: a session older than it asks for the password again.
        let (_, cookie) = op.login("web", &[], "alice").await;
        clock.advance(120_000_000);
        let params = [
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ];
        let mut fresh = params.to_vec();
        fresh.push(("max_age", "300"));
        assert_eq!(
            op.authorize(&fresh, Some(&cookie)).await.status(),
            302,
            "within max_age: SSO"
        );
        let mut stale = params.to_vec();
        stale.push(("max_age", "60"));
        assert_eq!(
            op.authorize(&stale, Some(&cookie)).await.status(),
            200,
            "older than max_age: the form"
        );

        // A group rule by externalId (Entra's object id) gives its members the role.
        let scim = server.scim(&acme);
        let uid = scim
            .post("/Users", &entra_user("carol@acme.test"))
            .await
            .id();
        let hash = vestibule::issuer::clients::hash_secret("alice-password").unwrap();
        let mut conn = server.state.db.get().unwrap();
        vestibule::db::models::sessions::set_password_hash(&mut conn, &uid, &hash, 0).unwrap();
        drop(conn);
        let created = scim.post("/Groups", &json!({"displayName": "Auditors", "externalId": "8aa1a0c0-entra-object-id", "members": [{"value": uid}]})).await;
        assert_eq!(created.status, 201);
        let (query, _) = op
            .login("web", &[("organization", "acme")], "carol@acme.test")
            .await;
        let (_, tokens) = op.exchange(&query["code"]).await;
        let access = claims_of(tokens["access_token"].as_str().unwrap());
        assert_eq!(
            access["resource_access"]["web"]["roles"],
            json!(["auditor"])
        );
        assert_eq!(access["groups"], json!(["/Auditors"]));
        server.stop().await;
    }
);
