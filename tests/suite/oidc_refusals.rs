//! What the OpenID Provider refuses, on both databases, one case after the other: an unknown
//! client or redirect URI (an error page, never a redirect), a public client without PKCE, a
//! wrong PKCE verifier or redirect URI at the token endpoint, a wrong client secret, tokens with
//! `alg: none` or tampered claims, a wrong password, a forged CSRF token, and repeated failed
//! logins backing off even the right password.

use crate::common::oidc::{
    claims_of, hidden, location, start_issuer, RelyingParty, CODE_REQUEST, PASSWORD, REDIRECT,
    VERIFIER, WEB,
};
use crate::common::{tenant, Backend};
use base64::Engine;
use serde_json::json;

both_backends!(refusals, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = start_issuer(backend, &[&acme]).await;
    let rp = RelyingParty::new(&server);
    // Unknown client or redirect URI: an error page, never a redirect.
    for params in [
        vec![
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", "web"),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ],
    ] {
        let reply = rp.authorize(&params, None).await;
        assert_eq!(reply.status(), 400);
        assert!(reply.headers().get("location").is_none());
        assert!(reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    // A public client must use PKCE.
    let reply = rp
        .authorize(
            &[
                ("client_id", "spa"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("state", "x"),
            ],
            None,
        )
        .await;
    let location = location(&reply);
    assert!(
        location.contains("error=invalid_request") && location.contains("state=x"),
        "{location}"
    );
    // A wrong PKCE verifier and a wrong redirect_uri at the token endpoint.
    let login = rp.login("web", &[], "alice").await;
    let (status, body) = rp
        .token(
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", login.code()),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "not-the-verifier-not-the-verifier-00000000",
                ),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let login = rp.login("web", &[], "alice").await;
    let (status, _) = rp
        .token(
            WEB,
            &[
                ("grant_type", "authorization_code"),
                ("code", login.code()),
                ("redirect_uri", "http://127.0.0.1:9/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, 400);
    // Wrong client secret.
    let reply = rp
        .http
        .post(rp.oidc("/token"))
        .basic_auth("web", Some("nope"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(reply.headers().get("www-authenticate").is_some());
    // alg none and tampering are not active on introspection.
    let tokens = rp.tokens(&[]).await;
    let token = tokens.access_token();
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        parts[1]
    );
    assert_eq!(rp.introspect(&none).await["active"], false);
    let mut forged = claims_of(token);
    forged["realm_access"] = json!({"roles": ["GOD"]});
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(forged.to_string()),
        parts[2]
    );
    assert_eq!(rp.introspect(&tampered).await["active"], false);
    // Wrong password: the form again, with a message, and no session.
    let page = rp.login_page(&CODE_REQUEST).await;
    let wrong = rp.submit_login(&page, "alice", "wrong-password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Invalid username or password."));
    // A forged CSRF token is refused.
    let forged_form = [
        ("request", hidden(&page, "request").unwrap()),
        ("csrf", "forged".to_string()),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    // Sent from the same browser (its login cookie), so the CSRF token is what is refused.
    let reply = rp
        .post_form("/login-actions/authenticate", &forged_form)
        .await;
    assert_eq!(reply.status(), 400);
    server.stop().await;
});

both_backends!(brute_force_backs_off, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = start_issuer(backend, &[&acme]).await;
    let rp = RelyingParty::new(&server);
    let page = rp
        .login_page(&[
            ("client_id", "web"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .await;
    let mut wrong_page = String::new();
    for _ in 0..5 {
        let reply = rp.submit_login(&page, "alice", "guess").await;
        assert_eq!(reply.status(), 401);
        wrong_page = reply.text().await.unwrap();
    }
    // Locked out even with the right password, and answered exactly as a wrong password is:
    // a lockout must not tell an attacker that the account exists.
    let locked = rp.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(
        locked.status(),
        401,
        "locked out even with the right password"
    );
    assert!(locked.headers().get("set-cookie").is_none());
    assert_eq!(locked.text().await.unwrap(), wrong_page);
    server.stop().await;
});
