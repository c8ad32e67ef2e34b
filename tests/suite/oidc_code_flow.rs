//! The authorization code flow with PKCE through the login form, on both databases: what the
//! redirect and the tokens carry (RFC 9207 `iss`, nonce, roles with composites expanded), codes
//! that are single-use and revoke what they issued when replayed, single sign-on through the
//! session cookie, userinfo, refresh token rotation with reuse detection, introspection and
//! revocation, and RP-initiated logout ending the session's tokens.

use crate::common::oidc::{
    authorization_code, challenge, location, query_of, start_issuer, RelyingParty, CODE_REQUEST,
    REDIRECT, VERIFIER, WEB,
};
use crate::common::{tenant, Backend};
use crate::oidc_negatives::{error_page, ledger, redirect_to_client};
use serde_json::json;
use std::collections::HashMap;

both_backends!(
    code_flow_refresh_userinfo_introspection_logout,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer(backend, &[&acme]).await;
        let rp = RelyingParty::new(&server);
        let login = rp.login("web", &[], "alice").await;
        assert_eq!(login.redirect["state"], "st-1");
        assert_eq!(login.redirect["iss"], rp.url(""), "RFC 9207");
        let tokens = rp.exchange(WEB, login.code()).await;
        let id = tokens.id();
        assert_eq!(id["aud"], "web");
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["iss"], rp.url(""));
        assert!(id["sid"].is_string() && id["auth_time"].is_i64());
        assert_eq!(id["preferred_username"], "alice");
        assert_eq!(id["email"], "alice@acme.test");
        let access = &tokens.access;
        assert_eq!(access["realm_access"]["roles"], json!(["SUPER_ADMIN"]));
        assert_eq!(
            access["resource_access"]["web"]["roles"],
            json!(["editor", "viewer"]),
            "composite expanded"
        );
        assert!(
            access.get("organization").is_none(),
            "no organization scope, no claim"
        );
        assert_eq!(access["allowed-origins"], json!(["http://127.0.0.1:9"]));

        // The code is single-use, and reusing it revokes what it issued.
        let (status, err) = rp.token(WEB, &authorization_code(login.code())).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 400, "the refresh token of a reused code is revoked");
        assert_eq!(
            rp.introspect(tokens.access_token()).await["active"],
            false,
            "and its access token"
        );

        // The replay ended the session too: its cookie now gets the login form again.
        let form = rp.authorize(&CODE_REQUEST, Some(&login.cookie)).await;
        assert_eq!(form.status(), 200);
        let login = rp.login("web", &[], "alice").await;

        // A fresh login through the SSO cookie, no form this time.
        let reply = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("scope", "openid profile"),
                    ("state", "s2"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
                Some(&login.cookie),
            )
            .await;
        assert_eq!(reply.status(), 302);
        let code = query_of(&location(&reply))["code"].clone();
        let sso = rp.exchange(WEB, &code).await;
        let access_token = sso.access_token().to_string();
        let refresh = sso.refresh_token().to_string();

        let info = rp.userinfo(&access_token).await;
        assert_eq!(info["sub"], id["sub"]);
        assert_eq!(info["given_name"], "Alice");

        // Rotation: the new refresh works once; replaying the old one revokes the family.
        let (status, rotated) = rp.refresh(WEB, &refresh).await;
        assert_eq!(status, 200, "{rotated}");
        let newer = rotated["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(newer, refresh);
        let (status, replay) = rp.refresh(WEB, &refresh).await;
        assert_eq!(
            (status, replay["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = rp.refresh(WEB, &newer).await;
        assert_eq!(status, 400, "reuse detection revoked the whole family");

        // Introspection and revocation.
        assert_eq!(rp.introspect(&access_token).await["active"], true);
        assert_eq!(rp.introspect(&access_token).await["username"], "alice");
        let revoked = rp
            .http
            .post(rp.oidc("/revoke"))
            .basic_auth("web", Some("web-secret"))
            .form(&[("token", access_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        assert_eq!(rp.introspect(&access_token).await["active"], false);
        assert_eq!(rp.userinfo_status(&access_token).await, 401);

        // RP-initiated logout with id_token_hint and a registered post_logout_redirect_uri.
        let login = rp.login("web", &[], "alice").await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let bad = rp
            .http
            .get(rp.oidc("/logout"))
            .query(&[
                ("id_token_hint", tokens.id_token()),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        let (status, message) = error_page(bad).await;
        assert_eq!(
            (status, message.as_str()),
            (
                400,
                "The post_logout_redirect_uri is not registered for this client."
            ),
            "unregistered post-logout URI"
        );
        assert_eq!(
            rp.introspect(tokens.access_token()).await["active"],
            true,
            "the refused logout ended nothing"
        );
        let sso = rp.authorize(&CODE_REQUEST, Some(&login.cookie)).await;
        let back = redirect_to_client(&sso);
        assert!(
            back.contains_key("code") && !back.contains_key("error"),
            "the session stands: {back:?}"
        );
        let out = rp
            .http
            .get(rp.oidc("/logout"))
            .header("cookie", format!("VESTIBULE_SESSION={}", login.cookie))
            .query(&[
                ("id_token_hint", tokens.id_token()),
                ("post_logout_redirect_uri", "http://127.0.0.1:9/"),
                ("state", "bye"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 302);
        assert_eq!(out.headers()["location"], "http://127.0.0.1:9/?state=bye");
        let (status, _) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 400, "logout ends the session's refresh tokens");
        assert_eq!(
            rp.introspect(tokens.access_token()).await["active"],
            false,
            "and its access tokens"
        );
        let before = ledger(&server);
        let prompt_none = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("prompt", "none"),
                    ("state", "s"),
                ],
                Some(&login.cookie),
            )
            .await;
        // OIDC Core §3.1.2.6: back to the client with login_required, never a login page.
        assert_eq!(
            redirect_to_client(&prompt_none),
            HashMap::from([
                ("error".into(), "login_required".into()),
                (
                    "error_description".into(),
                    "the user is not signed in".into()
                ),
                ("state".into(), "s".into()),
                ("iss".into(), rp.url("")),
            ])
        );
        assert_eq!(ledger(&server), before);
        server.stop().await;
    }
);
