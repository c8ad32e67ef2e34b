//! Parameters of the authorization request and what a browser sees, on both databases, on a
//! clock that moves only when told to: a code older than its lifespan, `response_mode=form_post`,
//! CORS on the token endpoint for registered web origins only, the account page, `login_hint`,
//! `max_age` against the session's age, and a group rule matched by externalId (Entra's object
//! id) for a user who signs in.

use std::sync::Arc;

use crate::common::oidc::{
    authorization_code, challenge, hidden, provision_user, start_issuer_with, RelyingParty,
    CODE_REQUEST, REDIRECT, VERIFIER, WEB,
};
use crate::common::{tenant, Backend, REALM};
use serde_json::json;
use vestibule::clock::FixedClock;

both_backends!(
    expired_code_form_post_cors_and_account,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let clock = Arc::new(FixedClock::new(1_800_000_000_000_000));
        let server = start_issuer_with(backend, &[&acme], clock.clone(), |_| {}).await;
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
        let reply = rp
            .http
            .post(rp.oidc("/token"))
            .header("origin", "http://127.0.0.1:9")
            .basic_auth("web", Some("web-secret"))
            .form(&authorization_code(&code))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(
            reply.headers()["access-control-allow-origin"],
            "http://127.0.0.1:9"
        );
        let reply = rp
            .http
            .post(rp.oidc("/token"))
            .header("origin", "https://evil.example")
            .basic_auth("web", Some("web-secret"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap();
        assert!(reply.headers().get("access-control-allow-origin").is_none());

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
        clock.advance(120_000_000);
        let mut fresh = CODE_REQUEST.to_vec();
        fresh.push(("max_age", "300"));
        assert_eq!(
            rp.authorize(&fresh, Some(&login.cookie)).await.status(),
            302,
            "within max_age: SSO"
        );
        let mut stale = CODE_REQUEST.to_vec();
        stale.push(("max_age", "60"));
        assert_eq!(
            rp.authorize(&stale, Some(&login.cookie)).await.status(),
            200,
            "older than max_age: the form"
        );

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
