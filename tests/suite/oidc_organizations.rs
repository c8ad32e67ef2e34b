//! Organizations and roles in tokens, on both databases: the organization scope and its
//! `organization:<alias>` and `organization:*` forms, `organization=<alias>` pinning a login to
//! members, groups pushed by SCIM becoming roles and a groups claim, a user disabled by SCIM
//! losing sessions and tokens at once, a client without full scope getting only its scope's
//! roles, the client's organization claim shape beating the realm's, and offline tokens
//! outliving logout.

use std::sync::Arc;

use crate::common::oidc::{
    provision_user, start_issuer, start_issuer_with, RelyingParty, CODE_REQUEST, PASSWORD,
    REDIRECT, WEB,
};
use crate::common::{tenant, Backend};
use serde_json::json;
use vestibule::clock::SystemClock;

both_backends!(
    organizations_and_roles_in_tokens,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let globex = tenant("globex");
        let server = start_issuer(backend, &[&acme, &globex]).await;
        let rp = RelyingParty::new(&server);
        // alice is a member of acme only.
        for (scope, expected) in [
            ("openid organization", Some(json!(["acme"]))),
            ("openid organization:*", Some(json!(["acme"]))),
            ("openid organization:acme", Some(json!(["acme"]))),
            ("openid organization:globex", None),
            ("openid", None),
        ] {
            let tokens = rp.tokens(&[("scope", scope)]).await;
            assert_eq!(
                tokens.access.get("organization").cloned(),
                expected,
                "{scope}"
            );
            assert_eq!(
                tokens.id().get("organization").cloned(),
                expected,
                "{scope} (ID token)"
            );
        }
        // organization=<alias> pins the login: a member gets in, a non-member does not.
        let tokens = rp
            .tokens(&[("organization", "acme"), ("scope", "openid organization")])
            .await;
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        let page = rp
            .login_page(&[
                ("client_id", "web"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("organization", "globex"),
            ])
            .await;
        let refused = rp.submit_login(&page, "alice", PASSWORD).await;
        assert_eq!(refused.status(), 401);
        assert!(refused
            .text()
            .await
            .unwrap()
            .contains("not a member of this organization"));
        let unknown = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("organization", "initech"),
                ],
                None,
            )
            .await;
        assert_eq!(unknown.status(), 400);
        assert!(unknown
            .text()
            .await
            .unwrap()
            .contains("unknown or disabled"));

        // An Entra group pushed by SCIM becomes roles and a groups claim, with no manual step.
        let scim = server.scim(&acme);
        let bob = provision_user(&server, &acme, "bob@acme.test").await;
        scim.post(
            "/Groups",
            &json!({"displayName": "Engineering", "members": [{"value": bob}]}),
        )
        .await;
        let login = rp
            .login("web", &[("organization", "acme")], "bob@acme.test")
            .await;
        let tokens = rp.exchange(WEB, login.code()).await;
        assert_eq!(
            tokens.access["resource_access"]["web"]["roles"],
            json!(["deployer"])
        );
        assert_eq!(tokens.access["groups"], json!(["/Engineering"]));

        // A user disabled by SCIM loses sessions and refresh tokens at once.
        scim.patch(
            &format!("/Users/{bob}"),
            &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
        let (status, body) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], false);
        assert_eq!(rp.userinfo_status(tokens.access_token()).await, 401);
        let page = rp.login_page(&CODE_REQUEST).await;
        assert!(rp
            .submit_login(&page, "bob@acme.test", PASSWORD)
            .await
            .text()
            .await
            .unwrap()
            .contains("disabled"));
        server.stop().await;
    }
);

both_backends!(
    scoped_roles_offline_tokens_and_claim_shape,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer_with(backend, &[&acme], Arc::new(SystemClock), |cfg| {
            // The realm's default shape is the map; this client's own mapper says objects, and
            // wins.
            cfg.issuer.organization_claim = vestibule::config::OrganizationClaimShape::Map;
            let web = cfg
                .clients
                .iter_mut()
                .find(|c| c.client_id == "web")
                .unwrap();
            web.full_scope_allowed = false;
            web.organization_claim = Some(vestibule::config::OrganizationClaimShape::Objects);
            web.scope_roles = vec!["web:viewer".into()];
        })
        .await;
        let rp = RelyingParty::new(&server);

        let login = rp
            .login(
                "web",
                &[("scope", "openid organization offline_access")],
                "alice",
            )
            .await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let access = &tokens.access;
        // alice holds SUPER_ADMIN and web:editor (-> web:viewer); the client's scope allows viewer.
        assert!(access.get("realm_access").is_none(), "{access}");
        assert_eq!(access["resource_access"]["web"]["roles"], json!(["viewer"]));
        assert_eq!(
            access["organization"],
            json!([{"alias": "acme", "name": "ACME"}])
        );
        assert!(access["organizationId"].is_string());
        assert_eq!(tokens.body["refresh_expires_in"], 0, "an offline token");

        // Logging out ends the session; the offline token outlives it. With only the cookie,
        // the logout asks first (RP-Initiated Logout 1.0 §2), and the confirmation ends it.
        let asked = rp
            .http
            .get(rp.oidc("/logout"))
            .header("cookie", format!("VESTIBULE_SESSION={}", login.cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), 200);
        let csrf = crate::common::oidc::hidden(&asked.text().await.unwrap(), "csrf").unwrap();
        let out = rp
            .http
            .post(rp.oidc("/logout"))
            .header("cookie", format!("VESTIBULE_SESSION={}", login.cookie))
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 200);
        assert_eq!(
            rp.introspect(tokens.access_token()).await["active"],
            false,
            "the session ended"
        );
        let (status, refreshed) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 200, "{refreshed}");
        assert!(refreshed.get("id_token").is_none());
        server.stop().await;
    }
);
