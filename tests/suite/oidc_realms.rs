//! What one realm issued is nothing in another, on both databases with the two-realm fixture:
//! each realm is an issuer of its own (RFC 7662 §2.2, RFC 9068 §4), so a code, an access, refresh
//! or ID token, an `id_token_hint` and a client of one realm, presented at the other's
//! endpoints, are refused there and change nothing in either; and CORS preflights answer only
//! the origins a realm's own clients registered.

use std::sync::Arc;

use serde_json::{json, Value};
use vestibule::clock::{Clock, FixedClock};

use crate::common::oidc::{
    authorization_code, claims_of, hidden, location, query_of, CHALLENGE, REDIRECT,
};
use crate::common::realms::{
    start_two_realms_with, ALICE, BOB, OTHER_WEB_SECRET, QUICKSTART_WEB_SECRET,
};
use crate::common::{Backend, TestServer};
use crate::oidc_negatives::{error_page, ledger};

const NOW: i64 = 1_900_000_000_000_000;
const POST_LOGOUT: &str = "http://127.0.0.1:9/";

fn token<'v>(body: &'v Value, name: &str) -> &'v str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

/// A person's browser and the confidential client `web` of one realm of the two-realm fixture.
struct RealmParty<'a> {
    server: &'a TestServer,
    realm: &'static str,
    secret: &'static str,
    http: reqwest::Client,
}

impl<'a> RealmParty<'a> {
    fn new(server: &'a TestServer, realm: &'static str, secret: &'static str) -> Self {
        RealmParty {
            server,
            realm,
            secret,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/realms/{}{path}", self.server.base, self.realm)
    }

    fn oidc(&self, path: &str) -> String {
        self.url(&format!("/protocol/openid-connect{path}"))
    }

    /// Signs `person` in through `web` with `scope`: the code the redirect carries.
    async fn code(&self, person: (&str, &str), scope: &str) -> String {
        let asked = self
            .http
            .get(self.oidc("/auth"))
            .query(&[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        // Whatever cookies the authorization request sets, the login form is posted with them.
        let cookies: Vec<String> = asked
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(String::from))
            .collect();
        let page = asked.text().await.unwrap();
        let mut login = self
            .http
            .post(self.url("/login-actions/authenticate"))
            .form(&[
                ("request", hidden(&page, "request").expect("login form")),
                ("csrf", hidden(&page, "csrf").unwrap()),
                ("username", person.0.into()),
                ("password", person.1.into()),
            ]);
        if !cookies.is_empty() {
            login = login.header("cookie", cookies.join("; "));
        }
        let back = login.send().await.unwrap();
        assert_eq!(back.status(), 302, "{}", back.text().await.unwrap());
        query_of(&location(&back))["code"].clone()
    }

    /// Signs `person` in through `web` with `scope` and exchanges the code (from `origin`, if
    /// given): the token response and the response's headers.
    async fn sign_in(
        &self,
        person: (&str, &str),
        scope: &str,
        origin: Option<&str>,
    ) -> (Value, reqwest::header::HeaderMap) {
        let code = self.code(person, scope).await;
        let mut exchange = self
            .http
            .post(self.oidc("/token"))
            .basic_auth("web", Some(self.secret))
            .form(&authorization_code(&code));
        if let Some(origin) = origin {
            exchange = exchange.header("origin", origin);
        }
        let reply = exchange.send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let headers = reply.headers().clone();
        (reply.json().await.unwrap(), headers)
    }

    /// A request to this realm's `endpoint` as `client` (HTTP Basic): the status and the
    /// OAuth error's code and description, if it is one.
    async fn as_client(
        &self,
        endpoint: &str,
        client: (&str, &str),
        form: &[(&str, &str)],
    ) -> (u16, Option<String>, Option<String>) {
        let reply = self
            .http
            .post(self.oidc(endpoint))
            .basic_auth(client.0, Some(client.1))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        let text = |name: &str| body[name].as_str().map(String::from);
        (status, text("error"), text("error_description"))
    }

    async fn tokens(&self, person: (&str, &str), scope: &str) -> Value {
        self.sign_in(person, scope, None).await.0
    }

    /// RFC 7662 introspection by this realm's `web`.
    async fn introspect(&self, token: &str) -> Value {
        self.http
            .post(self.oidc("/token/introspect"))
            .basic_auth("web", Some(self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// RFC 7009 revocation by this realm's `web`: the status.
    async fn revoke(&self, token: &str) -> u16 {
        self.http
            .post(self.oidc("/revoke"))
            .basic_auth("web", Some(self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn userinfo_status(&self, token: &str) -> u16 {
        self.http
            .get(self.oidc("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn refresh_status(&self, refresh_token: &str) -> u16 {
        self.http
            .post(self.oidc("/token"))
            .basic_auth("web", Some(self.secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn logout(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.oidc("/logout"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    async fn preflight(&self, path: &str, origin: &str) -> Option<String> {
        let reply = self
            .http
            .request(reqwest::Method::OPTIONS, self.oidc(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    }
}

both_backends!(
    tokens_of_one_realm_are_nothing_in_the_other,
    |backend: Backend| async move {
        let clock = Arc::new(FixedClock::new(NOW));
        let server = start_two_realms_with(backend, clock.clone(), |_| {}).await;
        let quickstart = RealmParty::new(&server, "quickstart", QUICKSTART_WEB_SECRET);
        let other = RealmParty::new(&server, "other", OTHER_WEB_SECRET);
        let alice = quickstart.tokens(ALICE, "openid").await;
        let offline = quickstart.tokens(ALICE, "openid offline_access").await;
        let bob = other.tokens(BOB, "openid").await;
        let kinds = [
            ("access token", token(&alice, "access_token")),
            ("refresh token", token(&alice, "refresh_token")),
            ("offline token", token(&offline, "refresh_token")),
            ("ID token", token(&alice, "id_token")),
        ];

        // The same client_id in the other realm learns nothing and changes nothing.
        for (kind, t) in kinds {
            assert_eq!(
                other.introspect(t).await,
                json!({"active": false}),
                "{kind} of quickstart introspected in other"
            );
            assert_eq!(
                other.userinfo_status(t).await,
                401,
                "{kind} at other's userinfo"
            );
            assert_eq!(other.revoke(t).await, 200, "RFC 7009 §2.2: answered alike");
        }
        for (kind, t) in &kinds[..3] {
            assert_eq!(
                quickstart.introspect(t).await["active"],
                true,
                "other's revocation left quickstart's {kind} alone"
            );
        }
        assert_eq!(
            quickstart.introspect(token(&alice, "id_token")).await["active"],
            false,
            "an ID token is not an access token"
        );
        for t in [token(&bob, "access_token"), token(&bob, "refresh_token")] {
            assert_eq!(quickstart.introspect(t).await, json!({"active": false}));
        }

        // A hint signed by the other realm is no hint here, and ends nothing there.
        let reply = quickstart
            .logout(&[("id_token_hint", token(&bob, "id_token"))])
            .await;
        assert_eq!(
            error_page(reply).await,
            (400, "The id_token_hint is not valid.".to_string())
        );
        assert_eq!(
            other.introspect(token(&bob, "access_token")).await["active"],
            true
        );

        // An expired ID token is still a hint (§2): the session it names ends.
        clock.advance(600_000_000);
        let hint_expired = claims_of(token(&alice, "id_token"))["exp"]
            .as_i64()
            .unwrap();
        assert!(hint_expired < clock.now() / 1_000_000);
        let refresh = token(&alice, "refresh_token");
        assert_eq!(quickstart.introspect(refresh).await["active"], true);
        let out = quickstart
            .logout(&[
                ("id_token_hint", token(&alice, "id_token")),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ])
            .await;
        assert_eq!(out.status(), 302);
        assert_eq!(location(&out), "http://127.0.0.1:9/?state=bye");
        assert_eq!(quickstart.introspect(refresh).await["active"], false);
        assert_eq!(quickstart.refresh_status(refresh).await, 400);
        server.stop().await;
    }
);
both_backends!(
    preflight_answers_registered_origins_only,
    |backend: Backend| async move {
        let clock = Arc::new(FixedClock::new(NOW));
        let server = start_two_realms_with(backend, clock, |config| {
            for client in &mut config.clients {
                if client.realm == "other" {
                    client.web_origins = vec!["https://other.example".into()];
                }
            }
        })
        .await;
        let quickstart = RealmParty::new(&server, "quickstart", QUICKSTART_WEB_SECRET);
        let other = RealmParty::new(&server, "other", OTHER_WEB_SECRET);
        for path in ["/token", "/userinfo", "/certs"] {
            assert_eq!(
                quickstart
                    .preflight(path, "http://127.0.0.1:9")
                    .await
                    .as_deref(),
                Some("http://127.0.0.1:9"),
                "{path}: a registered origin"
            );
            assert_eq!(
                quickstart.preflight(path, "https://evil.example").await,
                None,
                "{path}: an origin nobody registered"
            );
            assert_eq!(
                quickstart.preflight(path, "https://other.example").await,
                None,
                "{path}: an origin registered in another realm"
            );
            assert_eq!(
                other
                    .preflight(path, "https://other.example")
                    .await
                    .as_deref(),
                Some("https://other.example"),
                "{path}: registered there"
            );
        }
        // A successful token request from an unregistered origin carries no CORS headers.
        let (_, headers) = quickstart
            .sign_in(ALICE, "openid", Some("https://evil.example"))
            .await;
        assert!(
            headers
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{headers:?}"
        );
        let (_, headers) = quickstart
            .sign_in(ALICE, "openid", Some("http://127.0.0.1:9"))
            .await;
        assert_eq!(headers["access-control-allow-origin"], "http://127.0.0.1:9");
        server.stop().await;
    }
);

both_backends!(
    what_one_realm_issued_is_refused_by_the_other_and_changes_nothing,
    |backend: Backend| async move {
        let clock = Arc::new(FixedClock::new(NOW));
        let server = start_two_realms_with(backend, clock, |config| {
            // A client that only realm quickstart has.
            let mut only_here = config
                .clients
                .iter()
                .find(|c| c.realm == "quickstart")
                .unwrap()
                .clone();
            only_here.client_id = "quickstart-only".into();
            config.clients.push(only_here);
        })
        .await;
        let a = RealmParty::new(&server, "quickstart", QUICKSTART_WEB_SECRET);
        let b = RealmParty::new(&server, "other", OTHER_WEB_SECRET);
        let a_web = ("web", QUICKSTART_WEB_SECRET);
        let b_web = ("web", OTHER_WEB_SECRET);
        let code = a.code(ALICE, "openid").await;
        let tokens = a.tokens(ALICE, "openid").await;
        let bobs = b.tokens(BOB, "openid").await;
        let before = ledger(&server);

        // quickstart's code and refresh token at other's token endpoint, by other's own `web`.
        let refused = |description: &str| {
            (
                400,
                Some("invalid_grant".to_string()),
                Some(description.to_string()),
            )
        };
        assert_eq!(
            b.as_client("/token", b_web, &authorization_code(&code))
                .await,
            refused("the code was issued to another client")
        );
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token(&tokens, "refresh_token")),
        ];
        assert_eq!(
            b.as_client("/token", b_web, &refresh).await,
            refused("the refresh token was issued to another client")
        );

        // quickstart's client at other's endpoints: its secret is not other's `web`'s, and a
        // client only quickstart has is unknown there.
        let access = [("token", token(&tokens, "access_token"))];
        let unauthenticated = |description: &str| {
            (
                401,
                Some("invalid_client".to_string()),
                Some(description.to_string()),
            )
        };
        for (endpoint, form) in [
            ("/token", &authorization_code(&code)[..]),
            ("/token/introspect", &access[..]),
            ("/revoke", &access[..]),
        ] {
            assert_eq!(
                b.as_client(endpoint, a_web, form).await,
                unauthenticated("client authentication failed"),
                "quickstart's web at other's {endpoint}"
            );
            assert_eq!(
                b.as_client(endpoint, ("quickstart-only", QUICKSTART_WEB_SECRET), form)
                    .await,
                unauthenticated("unknown client"),
                "quickstart-only at other's {endpoint}"
            );
        }
        let page = b
            .http
            .get(b.oidc("/auth"))
            .query(&[
                ("client_id", "quickstart-only"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_page(page).await,
            (400, "unknown client \"quickstart-only\"".to_string())
        );

        // quickstart's tokens at other's userinfo, and its ID token as other's logout hint.
        for kind in ["access_token", "id_token"] {
            assert_eq!(b.userinfo_status(token(&tokens, kind)).await, 401, "{kind}");
        }
        let hint = [("id_token_hint", token(&tokens, "id_token"))];
        assert_eq!(
            error_page(b.logout(&hint).await).await,
            (400, "The id_token_hint is not valid.".to_string())
        );
        assert_eq!(ledger(&server), before, "nothing changed in either realm");

        // Everything still works where it belongs.
        assert_eq!(
            b.introspect(token(&bobs, "access_token")).await["active"],
            true
        );
        assert_eq!(b.refresh_status(token(&bobs, "refresh_token")).await, 200);
        assert_eq!(
            a.as_client("/token", a_web, &authorization_code(&code))
                .await,
            (200, None, None)
        );
        assert_eq!(a.refresh_status(token(&tokens, "refresh_token")).await, 200);
        assert_eq!(
            a.introspect(token(&tokens, "access_token")).await["sub"],
            claims_of(token(&tokens, "access_token"))["sub"]
        );
        server.stop().await;
    }
);
