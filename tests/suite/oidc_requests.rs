//! Parameters of the authorization request and what a browser sees, on both databases, on a
//! clock that moves only when told to: a code older than its lifespan, `response_mode=form_post`,
//! CORS on the token endpoint for registered web origins only, the account page, `login_hint`,
//! `max_age` against the session's age, and a group rule matched by externalId (Entra's object
//! id) for a user who signs in.

use std::sync::Arc;

use crate::common::oidc::{
    authorization_code, challenge, hidden, provision_user, start_issuer_with, RelyingParty,
    CODE_REQUEST, PASSWORD, REDIRECT, VERIFIER, WEB,
};
use crate::common::{tenant, Backend, REALM};
use crate::oidc_negatives::{ledger, redirect_to_client};
use serde_json::json;
use vestibule::clock::{Clock, FixedClock};

/// The origin `with_issuer` registers for its clients, and the one this file's `spa` has.
const WEB_ORIGIN: &str = "http://127.0.0.1:9";
const SPA_ORIGIN: &str = "https://spa.example";

async fn token_from(
    rp: &RelyingParty<'_>,
    origin: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    rp.http
        .post(rp.oidc("/token"))
        .header("origin", origin)
        .basic_auth(WEB.0, WEB.1)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn userinfo_from(rp: &RelyingParty<'_>, origin: &str, token: &str) -> reqwest::Response {
    rp.http
        .get(rp.oidc("/userinfo"))
        .header("origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn assert_no_cors(headers: &reqwest::header::HeaderMap, origin: &str) {
    assert!(
        headers
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-")),
        "{origin}: {headers:?}"
    );
}

both_backends!(
    expired_code_form_post_cors_and_account,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let clock = Arc::new(FixedClock::new(1_800_000_000_000_000));
        let server = start_issuer_with(backend, &[&acme], clock.clone(), |config| {
            for client in &mut config.clients {
                if client.client_id == "spa" {
                    client.web_origins = vec![SPA_ORIGIN.into()];
                }
            }
        })
        .await;
        let rp = RelyingParty::new(&server);

        // A code older than its lifespan (60 s) is refused.
        let login = rp.login("web", &[], "alice").await;
        clock.advance(61_000_000);
        let (status, body) = rp.token(WEB, &authorization_code(login.code())).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"));

        // response_mode=form_post answers with an auto-submitting form to the redirect URI.
        let page = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("response_mode", "form_post"),
                    ("scope", "openid"),
                    ("state", "fp"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
                Some(&login.cookie),
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
        let reply = token_from(&rp, WEB_ORIGIN, &authorization_code(&code)).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["access-control-allow-origin"], WEB_ORIGIN);
        assert_eq!(reply.headers()["vary"], "Origin");
        let body: serde_json::Value = reply.json().await.unwrap();
        // Successful requests from an origin nobody registered, and from one another client of
        // the realm registered: answered, but without CORS headers, so no script there reads
        // the tokens.
        let mut refresh = body["refresh_token"].as_str().unwrap().to_string();
        let mut access = body["access_token"].as_str().unwrap().to_string();
        for origin in ["https://evil.example", SPA_ORIGIN] {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            let reply = token_from(&rp, origin, &form).await;
            assert_eq!(reply.status(), 200, "{origin}");
            assert_no_cors(reply.headers(), origin);
            let rotated: serde_json::Value = reply.json().await.unwrap();
            refresh = rotated["refresh_token"].as_str().unwrap().to_string();
            access = rotated["access_token"].as_str().unwrap().to_string();
            let reply = userinfo_from(&rp, origin, &access).await;
            assert_eq!(reply.status(), 200, "{origin}");
            assert_no_cors(reply.headers(), origin);
        }
        let reply = userinfo_from(&rp, WEB_ORIGIN, &access).await;
        assert_eq!(reply.headers()["access-control-allow-origin"], WEB_ORIGIN);
        // The preflight names no client: an origin some client of the realm registered passes
        // it, one nobody registered does not.
        for (origin, allowed) in [
            (WEB_ORIGIN, true),
            (SPA_ORIGIN, true),
            ("https://evil.example", false),
        ] {
            let reply = rp
                .http
                .request(reqwest::Method::OPTIONS, rp.oidc("/token"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 204, "{origin}");
            if allowed {
                assert_eq!(reply.headers()["access-control-allow-origin"], origin);
                assert_eq!(
                    reply.headers()["access-control-allow-methods"],
                    "GET, POST, OPTIONS"
                );
            } else {
                assert_no_cors(reply.headers(), origin);
            }
        }

        // The account page: who am I, my organizations, my linked identities (as federation
        // records them); without a session, off to login.
        {
            use vestibule::db::models::{federated, realm, user};
            let mut conn = server.state.db.get().unwrap();
            let realm_id = realm::find_by_name(&mut conn, REALM).unwrap().unwrap().id;
            let alice = user::find_login(&mut conn, &realm_id, "alice")
                .unwrap()
                .into_iter()
                .next()
                .unwrap();
            let link = federated::FederatedIdentity {
                user_id: alice.id,
                realm_id,
                identity_provider: "acme-entra".into(),
                subject: "9f1c2d3e-0000-4000-8000-00000000a11c".into(),
                username: "alice@acme.onmicrosoft.com".into(),
                created_at: 0,
            };
            federated::insert(&mut conn, &link).unwrap();
        }
        let account = rp
            .http
            .get(rp.url("/account"))
            .header("cookie", format!("VESTIBULE_SESSION={}", login.cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(account.status(), 200);
        let html = account.text().await.unwrap();
        assert!(
            html.contains("alice") && html.contains("ACME") && html.contains("(acme)"),
            "{html}"
        );
        assert!(
            html.contains("alice@acme.onmicrosoft.com")
                && html.contains("(acme-entra)")
                && !html.contains("9f1c2d3e"),
            "the linked identity by its name at the IdP, not its subject: {html}"
        );
        let anonymous = rp.http.get(rp.url("/account")).send().await.unwrap();
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
        let clock = Arc::new(FixedClock::new(1_800_000_000_000_000));
        let server = start_issuer_with(backend, &[&acme], clock.clone(), |cfg| {
            cfg.group_roles.push(vestibule::config::GroupRolesDecl {
                realm: REALM.into(),
                organization: "acme".into(),
                group: None,
                external_id: Some("8aa1a0c0-entra-object-id".into()),
                roles: vec!["web:auditor".into()],
            });
        })
        .await;
        let rp = RelyingParty::new(&server);

        // login_hint fills in the user name.
        let page = rp
            .login_page(&[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("login_hint", "alice@acme.test"),
            ])
            .await;
        assert!(page.contains("value=\"alice@acme.test\""), "{page}");

        // max_age: a session older than it asks for the password again.
        let login = rp.login("web", &[], "alice").await;
        let login_time = clock.now() / 1_000_000;
        clock.advance(120_000_000);
        let mut fresh = CODE_REQUEST.to_vec();
        fresh.extend([("max_age", "300"), ("state", "fresh"), ("scope", "openid")]);
        let reply = rp.authorize(&fresh, Some(&login.cookie)).await;
        let back = redirect_to_client(&reply);
        assert_eq!(
            (back["state"].as_str(), back["iss"].clone()),
            ("fresh", rp.url("")),
            "within max_age: SSO, a code at once"
        );
        let sso = rp.exchange(WEB, &back["code"]).await;
        assert_eq!(
            sso.id()["auth_time"],
            login_time,
            "the session's own login, not a new one"
        );
        let before = ledger(&server);
        let mut stale = CODE_REQUEST.to_vec();
        stale.extend([("max_age", "60"), ("scope", "openid")]);
        let reply = rp.authorize(&stale, Some(&login.cookie)).await;
        assert_eq!(reply.status(), 200, "older than max_age: the form");
        let page = reply.text().await.unwrap();
        assert!(hidden(&page, "request").is_some() && hidden(&page, "csrf").is_some());
        let after = ledger(&server);
        assert_eq!(
            (after.codes, after.login_transactions),
            (before.codes, before.login_transactions + 1),
            "a login transaction, no code"
        );
        // Signing in again answers max_age with a new auth_time (OIDC Core §3.1.2.1).
        let reply = rp.submit_login(&page, "alice", PASSWORD).await;
        let back = redirect_to_client(&reply);
        let tokens = rp.exchange(WEB, &back["code"]).await;
        assert_eq!(tokens.id()["auth_time"], login_time + 120);

        // A group rule by externalId (Entra's object id) gives its members the role.
        let carol = provision_user(&server, &acme, "carol@acme.test").await;
        let created = server
            .scim(&acme)
            .post(
                "/Groups",
                &json!({
                    "displayName": "Auditors",
                    "externalId": "8aa1a0c0-entra-object-id",
                    "members": [{"value": carol}]
                }),
            )
            .await;
        assert_eq!(created.status, 201);
        let login = rp
            .login("web", &[("organization", "acme")], "carol@acme.test")
            .await;
        let tokens = rp.exchange(WEB, login.code()).await;
        assert_eq!(
            tokens.access["resource_access"]["web"]["roles"],
            json!(["auditor"])
        );
        assert_eq!(tokens.access["groups"], json!(["/Auditors"]));
        server.stop().await;
    }
);
