//! What the OpenID Provider refuses, on both databases, one case after the other: an unknown
//! client or redirect URI (an error page, never a redirect), a public client without PKCE, a
//! wrong PKCE verifier or redirect URI at the token endpoint, a wrong client secret, a wrong
//! password, a forged CSRF token, and repeated failed logins backing off even the right
//! password. Each refusal is read back as the protocol words it, and the code, refresh token or
//! login form it named still works after it. (Forged and tampered tokens: `oidc_forgeries`.)

use crate::common::oidc::{
    authorization_code, location, set_cookie, start_issuer, RelyingParty, CODE_REQUEST, PASSWORD,
    REDIRECT, WEB,
};
use crate::common::{tenant, Backend};
use crate::oidc_negatives::{error_page, ledger, redirect_to_client};
use std::collections::HashMap;

both_backends!(refusals, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = start_issuer(backend, &[&acme]).await;
    let rp = RelyingParty::new(&server);
    // Unknown client or redirect URI: an error page, never a redirect.
    for (params, message) in [
        (
            vec![
                ("client_id", "nobody"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
            ],
            "unknown client \"nobody\"",
        ),
        (
            vec![
                ("client_id", "web"),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "code"),
            ],
            "the redirect_uri is not registered for this client",
        ),
    ] {
        let (status, shown) = error_page(rp.authorize(&params, None).await).await;
        assert_eq!((status, shown.as_str()), (400, message));
    }
    // A public client must use PKCE: the error goes back to its redirect URI (§4.1.2.1).
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
    assert_eq!(
        redirect_to_client(&reply),
        HashMap::from([
            ("error".into(), "invalid_request".into()),
            (
                "error_description".into(),
                "a public client must use PKCE (S256)".into()
            ),
            ("state".into(), "x".into()),
            ("iss".into(), rp.url("")),
        ])
    );
    // A wrong PKCE verifier and a wrong redirect_uri at the token endpoint: refused, and the
    // code still the client's.
    let login = rp.login("web", &[], "alice").await;
    let before = ledger(&server);
    for (name, value, description) in [
        (
            "code_verifier",
            "not-the-verifier-not-the-verifier-00000000",
            "code_verifier does not match the code_challenge",
        ),
        (
            "redirect_uri",
            "http://127.0.0.1:9/other",
            "redirect_uri does not match the authorization request",
        ),
    ] {
        let mut form = authorization_code(login.code()).to_vec();
        form.retain(|(k, _)| *k != name);
        form.push((name, value));
        let (status, body) = rp.token(WEB, &form).await;
        assert_eq!(
            (
                status,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (400, Some("invalid_grant"), Some(description)),
            "wrong {name}"
        );
    }
    assert_eq!(ledger(&server), before, "the code was not spent");
    let tokens = rp.exchange(WEB, login.code()).await;
    // Wrong client secret, with a real refresh token: refused, the token not spent.
    let before = ledger(&server);
    let reply = rp
        .http
        .post(rp.oidc("/token"))
        .basic_auth("web", Some("nope"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(
        reply.headers()["www-authenticate"],
        "Basic realm=\"vestibule\", error=\"invalid_client\""
    );
    assert_eq!(
        reply.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({
            "error": "invalid_client",
            "error_description": "client authentication failed"
        })
    );
    assert_eq!(ledger(&server), before);
    assert_eq!(rp.refresh(WEB, tokens.refresh_token()).await.0, 200);
    // Wrong password: the form again, with a message, and no session.
    let page = rp.login_page(&CODE_REQUEST).await;
    let before = ledger(&server);
    let wrong = rp.submit_login(&page, "alice", "wrong-password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Invalid username or password."));
    // A forged CSRF token is refused, sent from the same browser (its login cookie), so the
    // CSRF token is what is refused.
    let forged_form = [
        (
            "request",
            crate::common::oidc::hidden(&page, "request").unwrap(),
        ),
        ("csrf", "forged".to_string()),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    let reply = rp
        .post_form("/login-actions/authenticate", &forged_form)
        .await;
    assert!(set_cookie(&reply, "VESTIBULE_SESSION").is_none());
    let (status, message) = error_page(reply).await;
    assert_eq!(
        (status, message.as_str()),
        (
            400,
            "The login page expired; start again from the application."
        )
    );
    assert_eq!(ledger(&server), before, "no session, no code");
    // The form itself is untouched: with its own CSRF token it signs alice in.
    let reply = rp.submit_login(&page, "alice", PASSWORD).await;
    assert_eq!(reply.status(), 302);
    assert!(location(&reply).starts_with(&format!("{REDIRECT}?code=")));
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
