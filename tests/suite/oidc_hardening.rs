//! Issue 7's defects, each pinned through HTTP on both databases: logout that asks before it
//! ends a session (OIDC RP-Initiated Logout 1.0 §2, §6); refused token requests that spend
//! neither the code nor the refresh token (RFC 6749 §4.1.2, §6); an `aud` in every access token
//! (RFC 9068 §2.2); failed client authentication throttled before argon2; and an unknown `kid`
//! that costs one key reload, not one per request. (What crosses realms: `oidc_realms`.)

use std::sync::Arc;

use serde_json::{json, Value};
use vestibule::clock::{Clock, FixedClock};

use crate::common::oidc::{
    authorization_code, claims_of, hidden, location, start_issuer, start_issuer_with, RelyingParty,
    CHALLENGE, REDIRECT, VERIFIER, WEB,
};
use crate::common::{tenant, Backend, REALM};
use crate::oidc_forgeries::{tampered, with_header};
use crate::oidc_negatives::error_page;

const NOW: i64 = 1_900_000_000_000_000;
const SIGNED_OUT: &str = "You are signed out";
const HINT_NOT_VALID: &str = "The id_token_hint is not valid.";
const FORM_NOT_VALID: &str =
    "This sign-out form is not valid for your session. Nothing was changed.";
const POST_LOGOUT: &str = "http://127.0.0.1:9/";
const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

fn token<'v>(body: &'v Value, name: &str) -> &'v str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

/// The hidden inputs of a page's form, with the entities minijinja writes decoded.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let decode = |v: &str| {
        v.replace("&#x2f;", "/")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"")?;
            let (value, _) = rest.split_once('"')?;
            Some((name.to_string(), decode(value)))
        })
        .collect()
}

/// The `action` of a page's form.
fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + 8;
    let end = html[start..].find('"').expect("a closed action");
    html[start..start + end].replace("&#x2f;", "/")
}

/// Whether a response removes the SSO cookie.
fn removes_cookie(reply: &reqwest::Response) -> bool {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("VESTIBULE_SESSION=;") || v.starts_with("VESTIBULE_SESSION=\"\""))
}

fn session_cookie(cookie: &str) -> String {
    format!("VESTIBULE_SESSION={cookie}")
}

/// `GET .../logout` with `params`, from a browser holding session `cookie` if any.
async fn logout_get(
    rp: &RelyingParty<'_>,
    cookie: Option<&str>,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = rp.http.get(rp.oidc("/logout")).query(params);
    if let Some(c) = cookie {
        req = req.header("cookie", session_cookie(c));
    }
    req.send().await.expect("logout request")
}

/// `POST .../logout` with `form`, from a browser holding session `cookie`.
async fn logout_post(
    rp: &RelyingParty<'_>,
    cookie: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    rp.http
        .post(rp.oidc("/logout"))
        .header("cookie", session_cookie(cookie))
        .form(form)
        .send()
        .await
        .expect("logout form")
}

both_backends!(
    access_tokens_always_name_an_audience,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        // alice's only client roles are web's own, and no audience mapper applies: RFC 9068
        // §2.2 still wants an `aud`, and it is the client.
        let tokens = rp.tokens(&[]).await;
        assert_eq!(tokens.access["aud"], "web", "{}", tokens.access);
        assert_eq!(tokens.id()["aud"], "web");
        assert_eq!(rp.introspect(tokens.access_token()).await["aud"], "web");
        let (_, refreshed) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(claims_of(token(&refreshed, "access_token"))["aud"], "web");
        server.stop().await;
    }
);

both_backends!(
    a_refused_request_spends_neither_code_nor_refresh_token,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let login = rp.login("web", &[], "alice").await;
        let wrong_verifier = [
            ("grant_type", "authorization_code"),
            ("code", login.code()),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "not-the-verifier-not-the-verifier-00000000",
            ),
        ];
        let wrong_redirect = [
            ("grant_type", "authorization_code"),
            ("code", login.code()),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ];
        for (form, what) in [
            (wrong_verifier, "verifier"),
            (wrong_redirect, "redirect_uri"),
        ] {
            let (status, body) = rp.token(WEB, &form).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "wrong {what}: {body}"
            );
        }
        // The right request still gets its tokens (RFC 6749 §4.1.3: the code is the client's
        // until it is exchanged).
        let tokens = rp.exchange(WEB, login.code()).await;

        // A refresh that would widen the scope is refused (§6) and spends nothing.
        let wider = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token()),
            ("scope", "openid offline_access"),
        ];
        let (status, body) = rp.token(WEB, &wider).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );
        let (status, rotated) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 200, "the retry is the first use: {rotated}");
        let rotated_refresh = token(&rotated, "refresh_token").to_string();
        let rotated_access = token(&rotated, "access_token").to_string();

        // Refused requests naming spent grants are not second uses either.
        let (status, _) = rp.token(WEB, &wrong_verifier).await;
        assert_eq!(status, 400);
        let (status, body) = rp.token(WEB, &wider).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );
        assert_eq!(rp.introspect(&rotated_access).await["active"], true);

        // A genuine second use of the refresh token still revokes its family.
        let (status, replay) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(
            (status, replay["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(rp.refresh(WEB, &rotated_refresh).await.0, 400);

        // And a genuine second use of the code revokes what it issued, session and all.
        let login = rp.login("web", &[], "alice").await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let (status, _) = rp.token(WEB, &authorization_code(login.code())).await;
        assert_eq!(status, 400);
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], false);
        assert_eq!(rp.refresh(WEB, tokens.refresh_token()).await.0, 400);
        server.stop().await;
    }
);

both_backends!(
    an_unknown_kid_reloads_the_keys_at_most_once,
    |backend: Backend| async move {
        let clock = Arc::new(FixedClock::new(NOW));
        let server = start_issuer_with(backend, &[&tenant("acme")], clock.clone(), |_| {}).await;
        let rp = RelyingParty::new(&server);
        let tokens = rp.tokens(&[]).await;
        let keys = &server.state.issuer.keys;
        let before = keys.loads();
        let unknown = with_header(
            tokens.access_token(),
            json!({"alg": "RS256", "kid": "no-such-kid", "typ": "JWT"}),
        );
        for _ in 0..10 {
            assert_eq!(rp.userinfo_status(&unknown).await, 401);
            assert_eq!(rp.introspect(&unknown).await["active"], false);
        }
        assert!(
            keys.loads() - before <= 1,
            "20 requests with an unknown kid reloaded the keys {} times",
            keys.loads() - before
        );

        // The trade: a key another instance adds is taken once the few seconds have passed.
        let added = {
            use vestibule::db::models::{keys as key_rows, realm};
            use vestibule::issuer::jwt::{self, Alg, SigningKey};
            let mut conn = server.state.db.get().unwrap();
            let realm_id = realm::find_by_name(&mut conn, REALM).unwrap().unwrap().id;
            let now = clock.now();
            let kid = vestibule::issuer::keys::rotate(
                &mut conn,
                &realm_id,
                &[Alg::RS256],
                now,
                3_600_000_000,
            )
            .unwrap()
            .remove(0);
            let row = key_rows::published(&mut conn, &realm_id, now)
                .unwrap()
                .into_iter()
                .find(|r| r.kid == kid)
                .unwrap();
            let key = SigningKey::new(
                kid,
                Alg::RS256,
                jwt::private_from_pem(&row.private_pem).unwrap(),
            );
            key.sign(&tokens.access, "JWT").unwrap()
        };
        assert_eq!(rp.userinfo_status(&added).await, 401, "not yet");
        clock.advance(5_000_000);
        assert_eq!(
            rp.userinfo_status(&added).await,
            200,
            "after the negative cache"
        );
        server.stop().await;
    }
);

both_backends!(
    failed_client_authentication_is_throttled,
    |backend: Backend| async move {
        let clock = Arc::new(FixedClock::new(NOW));
        let server = start_issuer_with(backend, &[&tenant("acme")], clock.clone(), |_| {}).await;
        let rp = RelyingParty::new(&server);
        let machine = ("m2m-rs256", Some("web-secret"));
        assert_eq!(rp.token(machine, &CLIENT_CREDENTIALS).await.0, 200);
        for _ in 0..5 {
            let (status, body) = rp
                .token(("m2m-rs256", Some("a-guess")), &CLIENT_CREDENTIALS)
                .await;
            assert_eq!(
                (status, body["error"].as_str()),
                (401, Some("invalid_client"))
            );
        }
        // Now even the right secret is refused, though it is known: otherwise the throttle
        // would tell a guesser when a guess is right.
        let (status, body) = rp.token(machine, &CLIENT_CREDENTIALS).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        let introspection = rp
            .http
            .post(rp.oidc("/token/introspect"))
            .basic_auth("m2m-rs256", Some("web-secret"))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(introspection.status(), 401);
        // Another client from the same address is not held up.
        assert_eq!(
            rp.token(("m2m-es256", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await
                .0,
            200
        );
        // Once the window has passed, the right secret works again.
        clock.advance(60_000_000);
        let (status, body) = rp.token(machine, &CLIENT_CREDENTIALS).await;
        assert_eq!(status, 200, "{body}");
        server.stop().await;
    }
);

both_backends!(
    logout_without_a_valid_hint_asks_first,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let login = rp.login("web", &[], "alice").await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let access = tokens.access_token();
        let still_signed_in = |why: &'static str| {
            let rp = &rp;
            async move {
                assert_eq!(rp.introspect(access).await["active"], true, "{why}");
            }
        };

        // §2: with no id_token_hint the OP must ask, so any page linking here ends nothing.
        let asked = logout_get(&rp, Some(&login.cookie), &[]).await;
        assert_eq!(asked.status(), 200);
        assert!(!removes_cookie(&asked), "the confirmation keeps the cookie");
        let page = asked.text().await.unwrap();
        let csrf = hidden(&page, "csrf").expect("the confirmation form carries a CSRF token");
        assert!(form_action(&page).ends_with("/protocol/openid-connect/logout"));
        still_signed_in("a GET with only the cookie ends nothing").await;

        // The token is bound to this browser's session: another browser's is not this one's.
        let elsewhere = rp.login("web", &[], "alice").await;
        let page = logout_get(&rp, Some(&elsewhere.cookie), &[])
            .await
            .text()
            .await
            .unwrap();
        let elsewhere_csrf = hidden(&page, "csrf").unwrap();
        assert_ne!(elsewhere_csrf, csrf);

        // A POST without the token (another site's form) asks again; a wrong token, or another
        // browser's, is refused. None of them ends anything.
        let asked_again = logout_post(&rp, &login.cookie, &[]).await;
        assert_eq!(asked_again.status(), 200);
        assert!(hidden(&asked_again.text().await.unwrap(), "csrf").is_some());
        for wrong in ["forged", elsewhere_csrf.as_str(), ""] {
            let reply = logout_post(&rp, &login.cookie, &[("csrf".into(), wrong.into())]).await;
            assert!(!removes_cookie(&reply));
            assert_eq!(
                error_page(reply).await,
                (400, FORM_NOT_VALID.to_string()),
                "csrf {wrong:?}"
            );
        }
        still_signed_in("a POST without the right CSRF token ends nothing").await;

        // The hint must be an ID token of this realm: not an access token, not a forged one.
        for (hint, what) in [
            (access.to_string(), "an access token"),
            (
                tampered(tokens.id_token(), "sid", json!("another-session")),
                "a tampered ID token",
            ),
        ] {
            let reply = logout_get(&rp, Some(&login.cookie), &[("id_token_hint", &hint)]).await;
            assert!(!removes_cookie(&reply));
            assert_eq!(
                error_page(reply).await,
                (400, HINT_NOT_VALID.to_string()),
                "{what} as id_token_hint"
            );
            still_signed_in("a refused hint ends nothing").await;
        }

        // §2: a client_id must be the hint's audience.
        let reply = logout_get(
            &rp,
            Some(&login.cookie),
            &[("id_token_hint", tokens.id_token()), ("client_id", "spa")],
        )
        .await;
        assert_eq!(
            error_page(reply).await,
            (
                400,
                "The client_id is not the one the id_token_hint was issued to.".to_string()
            )
        );
        still_signed_in("a client_id that is not the hint's audience ends nothing").await;

        // Confirmed with this browser's token, the session ends with its tokens.
        let confirmed = logout_post(&rp, &login.cookie, &[("csrf".into(), csrf)]).await;
        assert_eq!(confirmed.status(), 200);
        assert!(removes_cookie(&confirmed));
        assert!(confirmed.text().await.unwrap().contains(SIGNED_OUT));
        assert_eq!(rp.introspect(access).await["active"], false);
        assert_eq!(rp.refresh(WEB, tokens.refresh_token()).await.0, 400);

        // The other browser's session was never named: it stands.
        let reply = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
                Some(&elsewhere.cookie),
            )
            .await;
        assert_eq!(reply.status(), 302, "single sign-on still works there");
        server.stop().await;
    }
);

both_backends!(
    the_confirmation_carries_the_request_and_a_matching_hint_needs_none,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);

        // Without a hint, client_id and a registered post_logout_redirect_uri make it through
        // the confirmation to the redirect, with `state`.
        let login = rp.login("web", &[], "alice").await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let page = logout_get(
            &rp,
            Some(&login.cookie),
            &[
                ("client_id", "web"),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
        let fields = hidden_fields(&page);
        assert!(fields.contains(&("post_logout_redirect_uri".into(), POST_LOGOUT.into())));
        let out = logout_post(&rp, &login.cookie, &fields).await;
        assert_eq!(out.status(), 302);
        assert_eq!(location(&out), "http://127.0.0.1:9/?state=bye");
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], false);

        // A hint for another session than the browser's: the browser's person is asked.
        let first = rp.login("web", &[], "alice").await;
        let second = rp.login("web", &[], "alice").await;
        let first_tokens = rp.exchange(WEB, first.code()).await;
        let second_tokens = rp.exchange(WEB, second.code()).await;
        let asked = logout_get(
            &rp,
            Some(&second.cookie),
            &[("id_token_hint", first_tokens.id_token())],
        )
        .await;
        assert_eq!(asked.status(), 200);
        assert!(hidden(&asked.text().await.unwrap(), "csrf").is_some());
        assert_eq!(
            rp.introspect(first_tokens.access_token()).await["active"],
            true
        );
        assert_eq!(
            rp.introspect(second_tokens.access_token()).await["active"],
            true
        );

        // The hint of the browser's own session is all the confirmation needed (§2).
        let out = logout_get(
            &rp,
            Some(&second.cookie),
            &[
                ("id_token_hint", second_tokens.id_token()),
                ("client_id", "web"),
            ],
        )
        .await;
        assert_eq!(out.status(), 200);
        assert!(removes_cookie(&out));
        assert!(out.text().await.unwrap().contains(SIGNED_OUT));
        assert_eq!(
            rp.introspect(second_tokens.access_token()).await["active"],
            false
        );
        server.stop().await;
    }
);

both_backends!(
    the_account_page_signs_out_with_its_csrf_token,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let login = rp.login("web", &[], "alice").await;
        let tokens = rp.exchange(WEB, login.code()).await;
        let account = rp
            .http
            .get(rp.url("/account"))
            .header("cookie", session_cookie(&login.cookie))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&account, "csrf").expect("the sign-out form carries the CSRF token");
        let action = form_action(&account);
        assert!(
            action.ends_with("/protocol/openid-connect/logout"),
            "{action}"
        );

        let forged = rp
            .http
            .post(format!("{}{action}", server.base))
            .header("cookie", session_cookie(&login.cookie))
            .form(&[("csrf", "0".repeat(csrf.len()))])
            .send()
            .await
            .unwrap();
        assert!(!removes_cookie(&forged));
        assert_eq!(error_page(forged).await, (400, FORM_NOT_VALID.to_string()));
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], true);

        let out = rp
            .http
            .post(format!("{}{action}", server.base))
            .header("cookie", session_cookie(&login.cookie))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 200);
        assert!(out.text().await.unwrap().contains(SIGNED_OUT));
        assert_eq!(rp.introspect(tokens.access_token()).await["active"], false);
        server.stop().await;
    }
);
