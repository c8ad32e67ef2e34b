//! What the OpenID Provider must refuse, one case per test on both databases, each refusal read
//! back as the protocol words it (the error code and description, the redirect and its query)
//! and shown to have changed nothing: PKCE `plain` (RFC 7636 §4.2, RFC 9700 §2.1.1), redirect
//! URIs that nearly match (RFC 9700 §4.1.3: exact string comparison), a code or refresh token
//! of another client (RFC 6749 §4.1.3, §6), a refresh that widens the scope (§6), PKCE
//! downgrades (RFC 9700 §4.8.2), a confidential client without its secret (§3.2.1), and a
//! revocation of another client's token (RFC 7009 §2.1).

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::common::oidc::{
    authorization_code, location, query_of, start_issuer, Client, Login, RelyingParty, CHALLENGE,
    REDIRECT, VERIFIER, WEB,
};
use crate::common::{tenant, Backend, TestServer};
use vestibule::db::schema::{auth_codes, auth_requests, refresh_tokens, revoked_tokens, sessions};

const SPA: Client<'static> = ("spa", None);
/// A confidential client of `with_issuer` that has nothing to do with `web`'s tokens.
const M2M: Client<'static> = ("m2m-rs256", Some("web-secret"));

/// Everything the issuer writes for a login and its tokens, counted: a refused request must
/// leave every count as it was.
#[derive(Debug, PartialEq, Eq)]
pub struct Ledger {
    pub sessions: i64,
    pub ended_sessions: i64,
    pub login_transactions: i64,
    pub codes: i64,
    pub spent_codes: i64,
    pub refresh_tokens: i64,
    pub spent_refresh_tokens: i64,
    pub revoked_refresh_tokens: i64,
    pub revoked_access_tokens: i64,
}

/// The server's [`Ledger`], read from its database.
pub fn ledger(server: &TestServer) -> Ledger {
    let mut conn = server.state.db.get().expect("connection");
    let count = |query: Result<i64, diesel::result::Error>| query.expect("count");
    Ledger {
        sessions: count(sessions::table.count().get_result(&mut conn)),
        ended_sessions: count(
            sessions::table
                .filter(sessions::ended_at.is_not_null())
                .count()
                .get_result(&mut conn),
        ),
        login_transactions: count(auth_requests::table.count().get_result(&mut conn)),
        codes: count(auth_codes::table.count().get_result(&mut conn)),
        spent_codes: count(
            auth_codes::table
                .filter(auth_codes::used_at.is_not_null())
                .count()
                .get_result(&mut conn),
        ),
        refresh_tokens: count(refresh_tokens::table.count().get_result(&mut conn)),
        spent_refresh_tokens: count(
            refresh_tokens::table
                .filter(refresh_tokens::used_at.is_not_null())
                .count()
                .get_result(&mut conn),
        ),
        revoked_refresh_tokens: count(
            refresh_tokens::table
                .filter(refresh_tokens::revoked_at.is_not_null())
                .count()
                .get_result(&mut conn),
        ),
        revoked_access_tokens: count(revoked_tokens::table.count().get_result(&mut conn)),
    }
}

/// The message of the HTML error page a person is shown (never a redirect), with the
/// entities minijinja writes decoded.
pub async fn error_page(reply: reqwest::Response) -> (u16, String) {
    assert!(
        reply.headers().get("location").is_none(),
        "an error page, not a redirect"
    );
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let status = reply.status().as_u16();
    let html = reply.text().await.unwrap();
    let start = html.find("role=\"alert\">").expect("an error message") + 13;
    let end = html[start..].find("</div>").unwrap();
    let message = html[start..start + end]
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    (status, message)
}

/// The query of a redirect back to `web`'s registered redirect URI (RFC 6749 §4.1.2.1).
pub fn redirect_to_client(reply: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(reply.status(), 302);
    let target = location(reply);
    let (uri, _) = target.split_once('?').expect("a query");
    assert_eq!(uri, REDIRECT, "{target}");
    query_of(&target)
}

/// An OAuth error body: (status, error, error_description).
fn oauth_error((status, body): (u16, Value)) -> (u16, String, String) {
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    (status, text("error"), text("error_description"))
}

fn invalid_grant(description: &str) -> (u16, String, String) {
    (400, "invalid_grant".into(), description.into())
}

/// An authorization request of `client_id` with `params` added to (or replacing) the code
/// flow's with PKCE S256.
fn code_request<'a>(client_id: &'a str, params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in params {
        query.retain(|(k, _)| k != name);
        query.push((name, value));
    }
    query.retain(|(_, v)| !v.is_empty());
    query
}

/// The token request of the code flow with `redirect_uri` and, if any, `verifier`.
fn code_exchange<'a>(
    code: &'a str,
    redirect_uri: &'a str,
    verifier: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    form
}

both_backends!(
    pkce_plain_is_refused_before_any_login,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let before = ledger(&server);
        // RFC 7636 §4.3: no method means `plain`; we take S256 only (as discovery says).
        for client_id in ["web", "spa"] {
            for (method, description) in [
                ("plain", "only code_challenge_method=S256 is accepted"),
                ("", "only code_challenge_method=S256 is accepted"),
                ("S512", "unknown code_challenge_method"),
            ] {
                let query = code_request(
                    client_id,
                    &[
                        ("code_challenge", VERIFIER),
                        ("code_challenge_method", method),
                    ],
                );
                let reply = rp.authorize(&query, None).await;
                let back = redirect_to_client(&reply);
                assert_eq!(
                    back,
                    HashMap::from([
                        ("error".into(), "invalid_request".into()),
                        ("error_description".into(), description.into()),
                        ("state".into(), "st-1".into()),
                        ("iss".into(), rp.url("")),
                    ]),
                    "{client_id} with method {method:?}"
                );
            }
        }
        assert_eq!(ledger(&server), before, "no login transaction was begun");
        server.stop().await;
    }
);

both_backends!(
    redirect_uris_that_nearly_match_are_refused,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let near_misses = [
            "http://127.0.0.1:9/callback/extra",
            "http://127.0.0.1:9/callback?next=https://evil.example",
            "http://127.0.0.1:9/callback/",
            "http://127.0.0.1:9/callback#fragment",
            "http://127.0.0.1:10/callback",
            "http://127.0.0.1:9/Callback",
            "HTTP://127.0.0.1:9/callback",
            "https://127.0.0.1:9/callback",
            "http://127.0.0.1:9/callback%2F..%2Fother",
            "http://localhost:9/callback",
        ];
        let before = ledger(&server);
        for uri in near_misses {
            let query = code_request("web", &[("redirect_uri", uri)]);
            let (status, message) = error_page(rp.authorize(&query, None).await).await;
            assert_eq!(
                (status, message.as_str()),
                (400, "the redirect_uri is not registered for this client"),
                "{uri} at the authorization endpoint"
            );
        }
        assert_eq!(ledger(&server), before, "no login transaction was begun");

        // A code issued for the registered URI is redeemed with that URI only (§4.1.3).
        let login = rp.login("web", &[], "alice").await;
        let before = ledger(&server);
        for uri in near_misses.iter().copied().chain([""]) {
            let form = code_exchange(login.code(), uri, Some(VERIFIER));
            assert_eq!(
                oauth_error(rp.token(WEB, &form).await),
                invalid_grant("redirect_uri does not match the authorization request"),
                "{uri:?} at the token endpoint"
            );
        }
        let mut form = code_exchange(login.code(), REDIRECT, Some(VERIFIER));
        form.retain(|(name, _)| *name != "redirect_uri");
        assert_eq!(
            oauth_error(rp.token(WEB, &form).await),
            invalid_grant("redirect_uri does not match the authorization request"),
            "no redirect_uri at all"
        );
        assert_eq!(ledger(&server), before, "the code was not spent");
        rp.exchange(WEB, login.code()).await;
        server.stop().await;
    }
);

/// Signs alice in through `client_id` (PKCE S256): the redirect's code and the session.
async fn login_through(rp: &RelyingParty<'_>, client_id: &str) -> Login {
    rp.login(client_id, &[], "alice").await
}

both_backends!(
    a_code_or_refresh_token_of_another_client_is_refused,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let web_login = login_through(&rp, "web").await;
        let spa_login = login_through(&rp, "spa").await;
        let before = ledger(&server);
        // Each client's code, presented by the other, with everything else right.
        for (thief, code) in [(SPA, web_login.code()), (WEB, spa_login.code())] {
            assert_eq!(
                oauth_error(rp.token(thief, &authorization_code(code)).await),
                invalid_grant("the code was issued to another client"),
                "{} presenting another client's code",
                thief.0
            );
        }
        assert_eq!(ledger(&server), before, "neither code was spent");
        let web = rp.exchange(WEB, web_login.code()).await;
        let spa = rp.exchange(SPA, spa_login.code()).await;

        let before = ledger(&server);
        for (thief, refresh_token) in [(SPA, web.refresh_token()), (WEB, spa.refresh_token())] {
            assert_eq!(
                oauth_error(rp.refresh(thief, refresh_token).await),
                invalid_grant("the refresh token was issued to another client"),
                "{} presenting another client's refresh token",
                thief.0
            );
        }
        assert_eq!(ledger(&server), before, "neither refresh token was spent");
        assert_eq!(rp.refresh(WEB, web.refresh_token()).await.0, 200);
        assert_eq!(rp.refresh(SPA, spa.refresh_token()).await.0, 200);
        server.stop().await;
    }
);

both_backends!(
    a_refresh_cannot_widen_the_scope,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let tokens = rp.tokens(&[("scope", "openid")]).await;
        let granted = tokens.body["scope"].as_str().unwrap().to_string();
        assert!(!granted.contains("organization") && !granted.contains("offline_access"));
        let before = ledger(&server);
        for wider in [
            "openid organization",
            "openid offline_access",
            "openid organization:*",
            "openid admin",
            "profile phone",
        ] {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh_token()),
                ("scope", wider),
            ];
            assert_eq!(
                oauth_error(rp.token(WEB, &form).await),
                (
                    400,
                    "invalid_scope".into(),
                    "a refresh may only narrow the scope".into()
                ),
                "{wider}"
            );
        }
        assert_eq!(ledger(&server), before, "the refresh token was not spent");
        let (status, refreshed) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 200, "{refreshed}");
        assert_eq!(refreshed["scope"], granted.as_str());
        let access = refreshed["access_token"].as_str().unwrap();
        assert_eq!(rp.introspect(access).await["scope"], granted.as_str());
        assert!(rp.introspect(access).await.get("organization").is_none());
        server.stop().await;
    }
);

both_backends!(pkce_cannot_be_downgraded, |backend: Backend| async move {
    let server = start_issuer(backend, &[&tenant("acme")]).await;
    let rp = RelyingParty::new(&server);

    // Issued with a challenge, redeemed without its verifier: refused, the code kept.
    let login = login_through(&rp, "web").await;
    let before = ledger(&server);
    let without = code_exchange(login.code(), REDIRECT, None);
    assert_eq!(
        oauth_error(rp.token(WEB, &without).await),
        invalid_grant("code_verifier is required")
    );
    assert_eq!(ledger(&server), before);
    rp.exchange(WEB, login.code()).await;

    // Issued without a challenge (a confidential client may), redeemed with a verifier: the
    // attacker's injected code of RFC 9700 §4.8.2, refused.
    let login = rp
        .login(
            "web",
            &[("code_challenge", ""), ("code_challenge_method", "")],
            "alice",
        )
        .await;
    let before = ledger(&server);
    let with = code_exchange(login.code(), REDIRECT, Some(VERIFIER));
    assert_eq!(
        oauth_error(rp.token(WEB, &with).await),
        invalid_grant("code_verifier given but no code_challenge was sent")
    );
    assert_eq!(ledger(&server), before);
    let (status, body) = rp.token(WEB, &without_verifier(login.code())).await;
    assert_eq!(status, 200, "{body}");

    // A public client must send a challenge: no code is ever issued to it without one.
    let query = code_request(
        "spa",
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    let before = ledger(&server);
    let back = redirect_to_client(&rp.authorize(&query, None).await);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(
        back["error_description"],
        "a public client must use PKCE (S256)"
    );
    assert!(!back.contains_key("code"));
    assert_eq!(ledger(&server), before);
    server.stop().await;
});

fn without_verifier(code: &str) -> Vec<(&str, &str)> {
    code_exchange(code, REDIRECT, None)
}

/// A token request with `credentials` in the form and `basic` in the header, then `form`.
async fn token_request(
    rp: &RelyingParty<'_>,
    credentials: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = rp.http.post(rp.oidc("/token"));
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let fields: Vec<(&str, &str)> = credentials.iter().chain(form).copied().collect();
    request.form(&fields).send().await.unwrap()
}

both_backends!(
    a_confidential_client_must_send_its_secret,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let login = login_through(&rp, "web").await;
        let before = ledger(&server);
        let exchange = authorization_code(login.code());
        for (form, basic, description) in [
            (
                vec![("client_id", "web")],
                None,
                "client secret is required",
            ),
            (
                vec![("client_id", "web"), ("client_secret", "")],
                None,
                "client authentication failed",
            ),
            (vec![], Some(("web", "")), "client authentication failed"),
            (vec![], None, "client authentication is required"),
        ] {
            let reply = token_request(&rp, &form, basic, &exchange).await;
            assert_eq!(
                reply.headers()["www-authenticate"],
                "Basic realm=\"vestibule\", error=\"invalid_client\""
            );
            let status = reply.status().as_u16();
            assert_eq!(
                oauth_error((status, reply.json().await.unwrap())),
                (401, "invalid_client".into(), description.into()),
                "{form:?} {basic:?}"
            );
        }
        // A public client has no secret to send.
        let public_with_secret = [("client_id", "spa"), ("client_secret", "web-secret")];
        let reply = token_request(&rp, &public_with_secret, None, &exchange).await;
        let status = reply.status().as_u16();
        assert_eq!(
            oauth_error((status, reply.json().await.unwrap())),
            (
                401,
                "invalid_client".into(),
                "a public client has no secret".into()
            )
        );
        assert_eq!(ledger(&server), before, "the code was not spent");
        let tokens = rp.exchange(WEB, login.code()).await;

        // Introspection and revocation want the secret too, and reveal nothing without it.
        for endpoint in ["/token/introspect", "/revoke"] {
            let reply = rp
                .http
                .post(rp.oidc(endpoint))
                .form(&[("client_id", "web"), ("token", tokens.access_token())])
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            assert_eq!(
                oauth_error((status, reply.json().await.unwrap())),
                (
                    401,
                    "invalid_client".into(),
                    "client secret is required".into()
                ),
                "{endpoint}"
            );
        }
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], true);
        server.stop().await;
    }
);

/// RFC 7009 revocation of `token` as `client` (HTTP Basic, or the form for a public one).
async fn revoke(rp: &RelyingParty<'_>, client: Client<'_>, token: &str) -> u16 {
    let mut form = vec![("token", token)];
    let mut request = rp.http.post(rp.oidc("/revoke"));
    match client.1 {
        Some(secret) => request = request.basic_auth(client.0, Some(secret)),
        None => form.push(("client_id", client.0)),
    }
    request.form(&form).send().await.unwrap().status().as_u16()
}

both_backends!(
    revoking_another_client_s_token_changes_nothing,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let tokens = rp.tokens(&[]).await;
        let before = ledger(&server);
        for other in [M2M, SPA] {
            for (kind, token) in [
                ("access token", tokens.access_token()),
                ("refresh token", tokens.refresh_token()),
            ] {
                // §2.2: answered as a revocation would be, whether or not it was one.
                assert_eq!(
                    revoke(&rp, other, token).await,
                    200,
                    "{kind} by {}",
                    other.0
                );
            }
        }
        assert_eq!(ledger(&server), before, "nothing was revoked");
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], true);
        assert_eq!(rp.introspect(tokens.refresh_token()).await["active"], true);
        assert_eq!(
            rp.userinfo(tokens.access_token()).await["sub"],
            tokens.access["sub"]
        );

        // The owner's revocation is one: both tokens end.
        assert_eq!(revoke(&rp, WEB, tokens.access_token()).await, 200);
        assert_eq!(revoke(&rp, WEB, tokens.refresh_token()).await, 200);
        assert_eq!(
            rp.introspect(tokens.access_token()).await,
            json!({"active": false})
        );
        assert_eq!(
            oauth_error(rp.refresh(WEB, tokens.refresh_token()).await),
            invalid_grant("the refresh token was revoked")
        );
        server.stop().await;
    }
);
