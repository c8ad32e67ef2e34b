//! Brokered logins beyond the first one: how Vestibule authenticates itself at the IdP's token
//! endpoint (each `client_authentication`, `private_key_jwt` with the realm's published key),
//! and a person of two organizations, each with its own IdP, sent to the second one with
//! `prompt=login` and a hint while the first session stands (seed 002), and what of the
//! client's request goes on to the IdP.

use std::sync::Arc;

use serde_json::json;
use vestibule::clock::SystemClock;
use vestibule::db::models::federated::{self, FederatedIdentity};

use crate::brokering::{code_request, identity_provider, land, refused, signed_in, start_broker};
use crate::common::forged_idp::{ClientAuth, ForgedIdp, Settings};
use crate::common::oidc::{location, query_of, RelyingParty, REDIRECT, WEB};
use crate::common::{Backend, REALM};

both_backends!(
    vestibule_authenticates_at_the_idps_token_endpoint_as_configured,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let methods = [
            ("client_secret_basic", ClientAuth::SecretBasic),
            ("client_secret_post", ClientAuth::SecretPost),
            ("private_key_jwt", ClientAuth::PrivateKeyJwt),
        ];
        let decls: Vec<_> = methods
            .iter()
            .map(|(method, _)| {
                let mut decl =
                    identity_provider(&idp, &format!("client_authentication = \"{method}\""));
                decl.alias = format!("idp-{method}").replace('_', "-");
                decl
            })
            .collect();
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.extend(decls)
        })
        .await;
        // The IdP checks assertions against the keys the realm publishes.
        idp.set_client_jwks_uri(Some(format!(
            "{}/realms/{REALM}/protocol/openid-connect/certs",
            server.base
        )));
        for (method, expected) in methods {
            let alias = format!("idp-{method}").replace('_', "-");
            let rp = RelyingParty::new(&server);
            let tokens = signed_in(&rp, &idp, &[("kc_idp_hint", alias.as_str())]).await;
            assert!(tokens.access["sub"].is_string(), "{method}");
            let sent = idp
                .token_requests()
                .last()
                .cloned()
                .expect("a token request");
            assert_eq!(sent.client_auth, Some(expected), "{method}");
            assert_eq!(sent.status, 200, "{method}: {:?}", sent.error);
            // A secret is sent only where the method sends it, and an assertion never with one.
            assert_eq!(
                sent.form.contains_key("client_secret"),
                expected == ClientAuth::SecretPost,
                "{method}"
            );
            if expected == ClientAuth::PrivateKeyJwt {
                assert_eq!(sent.assertion_verified, Some(true));
                let assertion = sent.client_assertion.expect("the assertion");
                let claims = crate::common::oidc::claims_of(&assertion);
                assert_eq!(claims["iss"], idp.client_id());
                assert_eq!(claims["sub"], idp.client_id());
                assert!(claims["jti"].is_string());
            }
        }
        // An IdP that finds the assertion does not verify (it reads another key set) refuses
        // the code: a page with a reference, and nobody signed in.
        idp.set_client_jwks_uri(Some(format!("{}/jwks", idp.issuer())));
        let rp = RelyingParty::new(&server);
        let callback =
            crate::brokering::to_idp_and_back(&rp, &idp, &[("kc_idp_hint", "idp-private-key-jwt")])
                .await;
        let landing = land(&rp, &callback).await;
        assert!(landing.status >= 400, "{}", landing.body);
        refused(&landing, landing.status);
        assert_eq!(idp.token_requests().last().unwrap().status, 401);
        server.stop().await;
    }
);

both_backends!(
    prompt_login_and_a_hint_reach_the_second_organizations_idp_and_the_first_session_stands,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let acme_idp = identity_provider(&idp, "");
        let mut globex_idp = identity_provider(&idp, "");
        globex_idp.alias = "globex-idp".into();
        globex_idp.organization = Some("globex".into());
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.extend([acme_idp, globex_idp])
        })
        .await;
        let rp = RelyingParty::new(&server);
        // Through acme's IdP first: an SSO session pinned to acme.
        let callback =
            crate::brokering::to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        let landing = land(&rp, &callback).await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let sso = landing.sso_cookie.expect("an SSO session");
        let code = query_of(&landing.location.expect("back"))["code"].clone();
        let first = rp.exchange(WEB, &code).await;
        assert_eq!(first.access["organization"], json!(["acme"]));
        let user = first.access["sub"].as_str().expect("sub").to_string();
        // The same person is also known to globex's IdP (they linked it on their account).
        {
            let mut conn = server.state.db.get().unwrap();
            let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
                .unwrap()
                .unwrap();
            federated::insert(
                &mut conn,
                &FederatedIdentity {
                    user_id: user.clone(),
                    realm_id: realm.id,
                    identity_provider: "globex-idp".into(),
                    subject: "sub-alice".into(),
                    username: "alice".into(),
                    created_at: 0,
                },
            )
            .unwrap();
        }
        // Seed 002: prompt=login with the hint sends the browser, session and all, to
        // globex's IdP, and passes prompt=login on.
        let query = code_request(&[
            ("organization", "globex"),
            ("kc_idp_hint", "globex-idp"),
            ("prompt", "login"),
        ]);
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = rp.authorize(&pairs, Some(&sso)).await;
        assert_eq!(reply.status(), 302);
        let broker = location(&reply);
        assert!(
            broker.contains("/broker/globex-idp/login?request="),
            "{broker}"
        );
        let reply = rp.browse(&broker, Some(&sso)).await;
        assert_eq!(reply.status(), 302);
        let callback = idp.visit(&location(&reply)).await;
        let sent = idp.last_request().expect("an authorization request");
        assert_eq!(sent.prompt.as_deref(), Some("login"));
        assert!(sent
            .redirect_uri
            .unwrap_or_default()
            .ends_with("/broker/globex-idp/endpoint"));
        let landing = land(&rp, &callback).await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let back = landing.location.expect("back to the client");
        assert!(back.starts_with(REDIRECT), "{back}");
        let second = rp.exchange(WEB, &query_of(&back)["code"]).await;
        // The same person, now in globex, a member through globex's IdP.
        assert_eq!(second.access["sub"], json!(user));
        assert_eq!(second.access["organization"], json!(["globex"]));
        // The first session stands: its refresh token still works, still for acme.
        let (status, refreshed) = rp.refresh(WEB, first.refresh_token()).await;
        assert_eq!(status, 200, "{refreshed}");
        let access = crate::common::oidc::claims_of(refreshed["access_token"].as_str().unwrap());
        assert_eq!(access["organization"], json!(["acme"]));
        assert_eq!(access["sub"], json!(user));
        let mut conn = server.state.db.get().unwrap();
        let memberships = vestibule::db::models::membership::for_user(&mut conn, &user).unwrap();
        assert_eq!(memberships.len(), 2, "{memberships:?}");
        assert_eq!(idp.requests().len(), 2);
        server.stop().await;
    }
);

both_backends!(
    prompt_and_login_hint_go_on_to_the_idp_unless_switched_off,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let passing = identity_provider(&idp, "");
        let mut silent = identity_provider(&idp, "pass_prompt = false\npass_login_hint = false");
        silent.alias = "acme-silent".into();
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.extend([passing, silent])
        })
        .await;
        let asked = [("prompt", "login"), ("login_hint", "alice@example.test")];
        for (alias, passed) in [("acme-idp", true), ("acme-silent", false)] {
            let rp = RelyingParty::new(&server);
            let mut extra = vec![("kc_idp_hint", alias)];
            extra.extend(asked);
            crate::brokering::to_idp_and_back(&rp, &idp, &extra).await;
            let sent = idp.last_request().expect("an authorization request");
            assert!(sent.redirect_uri.unwrap_or_default().contains(alias));
            let expected = |v: &str| passed.then(|| v.to_string());
            assert_eq!(sent.prompt, expected("login"), "{alias}");
            assert_eq!(sent.login_hint, expected("alice@example.test"), "{alias}");
        }
        server.stop().await;
    }
);
