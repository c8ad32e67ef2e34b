//! The endpoints' refusals and the test controls: the token endpoint (PKCE, codes, client
//! authentication, refresh), authorization refusals and recorded callbacks, scripted discovery
//! and token responses, the JWKS controls and counter, userinfo, `private_key_jwt`, and a
//! back-channel logout token received by a listener.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use super::{authorize, code_flow, code_grant, get, jwk_of, send, token, REDIRECT};
use crate::common::forged_idp::{
    signature_verifies, verify_with_jwks, Alg, ClientAuth, ForgedIdp, Forgery, Settings,
};
use crate::common::oidc::{claims_of, header_of, query_of, VERIFIER};

#[actix_web::test]
async fn the_token_endpoint_refuses_what_a_strict_provider_refuses() {
    let idp = ForgedIdp::start(Settings::default()).await;
    let code = authorize(&idp, &[]).await["code"].clone();
    // Each refusal names its reason, so that none passes for another.
    let refusal = |(status, body): (u16, Value)| {
        let (error, description) = (&body["error"], &body["error_description"]);
        format!(
            "{status} {}: {}",
            error.as_str().unwrap_or_default(),
            description.as_str().unwrap_or_default()
        )
    };
    let mut without_verifier = code_grant(&code, VERIFIER).to_vec();
    without_verifier.pop();
    let mut other_redirect = code_grant(&code, VERIFIER).to_vec();
    other_redirect[2].1 = "http://127.0.0.1:9/elsewhere";
    let wrong_verifier = "a-wrong-verifier-of-the-right-length-0123456789";
    for (form, expected) in [
        (
            code_grant(&code, wrong_verifier).to_vec(),
            "does not match the code_challenge",
        ),
        (without_verifier, "code_verifier is required"),
        (other_redirect, "redirect_uri is not the request's"),
        (
            code_grant("code-forged", VERIFIER).to_vec(),
            "a code this IdP did not issue",
        ),
    ] {
        let answer = refusal(token(&idp, &form).await);
        assert!(
            answer.starts_with("400 invalid_grant: ") && answer.contains(expected),
            "{answer}"
        );
    }

    let wrong_secret = reqwest::Client::new()
        .post(format!("{}/token", idp.base))
        .basic_auth("vestibule", Some("not-the-secret"));
    let reply = wrong_secret
        .form(&code_grant(&code, VERIFIER))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(reply.headers().contains_key("www-authenticate"));
    assert_eq!(
        reply.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let (status, body) = token(&idp, &code_grant(&code, VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        refusal(token(&idp, &code_grant(&code, VERIFIER)).await),
        "400 invalid_grant: the code was already used"
    );
    idp.allow_code_reuse(true);
    assert_eq!(
        token(&idp, &code_grant(&code, VERIFIER)).await.0,
        200,
        "replay allowed"
    );
    idp.allow_code_reuse(false);

    // client_secret_post, and a request without PKCE needs no verifier.
    let url = format!(
        "{}/authorize?client_id=vestibule&redirect_uri={REDIRECT}&response_type=code",
        idp.base
    );
    let code = query_of(&idp.visit(&url).await)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", "vestibule"),
        ("client_secret", "upstream-secret"),
    ];
    let (status, body) = send(
        reqwest::Client::new().post(format!("{}/token", idp.base)),
        &form,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        idp.token_requests().last().unwrap().client_auth,
        Some(ClientAuth::SecretPost)
    );

    // A refresh: a new ID token of the same user, without nonce (OIDC Core §12.2).
    let first = claims_of(body["id_token"].as_str().unwrap());
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let (status, refreshed) = token(
        &idp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let claims = claims_of(refreshed["id_token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].clone(), claims.get("nonce")),
        (first["sub"].clone(), None)
    );
    let unknown = [("grant_type", "refresh_token"), ("refresh_token", "rt-x")];
    assert_eq!(
        refusal(token(&idp, &unknown).await),
        "400 invalid_grant: a refresh token this IdP did not issue"
    );
    let password = [("grant_type", "password")];
    assert!(refusal(token(&idp, &password).await).starts_with("400 unsupported_grant_type"));
}

#[actix_web::test]
async fn authorization_refusals_and_recorded_callbacks() {
    let idp = ForgedIdp::start(Settings::default()).await;
    idp.refuse_next("access_denied", "The user declined");
    let refused = authorize(&idp, &[]).await;
    assert_eq!(refused["error"], "access_denied");
    assert_eq!(refused["error_description"], "The user declined");
    assert_eq!(refused["state"], "st-1");
    assert!(!refused.contains_key("code"));
    assert!(idp.authorizations().is_empty() && idp.requests().len() == 1);

    let unsupported = authorize(&idp, &[("response_type", "id_token")]).await;
    assert_eq!(unsupported["error"], "unsupported_response_type");
    let unknown_client = reqwest::get(format!(
        "{}/authorize?client_id=mallory&redirect_uri={REDIRECT}",
        idp.base
    ))
    .await
    .unwrap();
    assert_eq!(unknown_client.status(), 400, "shown, not redirected");

    let callback = authorize(&idp, &[]).await;
    let authorization = idp.last_authorization().unwrap();
    assert_eq!(callback["code"], authorization.code);
    assert_eq!(query_of(&authorization.callback()), callback);
    let tampered =
        query_of(&authorization.callback_with(&[("state", Some("tampered")), ("code", None)]));
    assert_eq!(
        tampered,
        HashMap::from([("state".to_string(), "tampered".to_string())])
    );
    assert_eq!(idp.requests().len(), 4);

    idp.script_discovery(|_, meta| meta["issuer"] = json!("https://elsewhere.invalid"));
    assert_eq!(
        get(&idp.discovery_url()).await.1["issuer"],
        "https://elsewhere.invalid"
    );
    idp.script_token_response(|_, body| {
        body.as_object_mut().unwrap().remove("id_token");
    });
    let body = code_flow(&idp).await;
    assert!(body.get("id_token").is_none() && body["access_token"].is_string());
}

#[actix_web::test]
async fn the_jwks_rotates_removes_publishes_junk_counts_and_fails() {
    let idp = ForgedIdp::start(Settings::default()).await;
    let jwks_url = format!("{}/jwks", idp.base);
    let first = idp.signing_kid();
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kids(&get(&jwks_url).await.1), std::slice::from_ref(&first));
    let second = idp.rotate();
    assert_ne!(second, first);
    assert_eq!(idp.signing_kid(), second);
    assert_eq!(
        kids(&get(&jwks_url).await.1),
        [first.clone(), second.clone()]
    );
    let body = code_flow(&idp).await;
    assert_eq!(header_of(body["id_token"].as_str().unwrap())["kid"], second);
    idp.remove_key(&first);
    assert_eq!(kids(&get(&jwks_url).await.1), std::slice::from_ref(&second));

    idp.add_unparseable_keys();
    let encryption = idp.add_key(Alg::RS256, "enc");
    let (_, jwks) = get(&jwks_url).await;
    let ktys: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert_eq!(ktys, ["RSA", "RSA", "XYZ", "AKP"]);
    assert_eq!(jwk_of(&jwks, &encryption)["use"], "enc");
    let valid = idp.sign(&json!({"sub": "alice"}), "JWT", &Forgery::Valid);
    assert!(
        verify_with_jwks(&valid, &jwks).is_ok(),
        "junk entries are skipped"
    );
    let by_enc_key = idp.sign(
        &json!({"sub": "alice"}),
        "JWT",
        &Forgery::SignWith(encryption.clone()),
    );
    assert!(
        verify_with_jwks(&by_enc_key, &jwks).is_err(),
        "a key of use enc does not sign"
    );
    assert!(signature_verifies(&by_enc_key, jwk_of(&jwks, &encryption)));

    assert_eq!(idp.jwks_fetches(), 4);
    idp.fail_jwks(true);
    assert_eq!(get(&jwks_url).await.0, 500);
    assert_eq!(get(&jwks_url).await.0, 500);
    idp.fail_jwks(false);
    assert_eq!(get(&jwks_url).await.0, 200);
    assert_eq!(idp.jwks_fetches(), 7, "failed fetches count");
}

#[actix_web::test]
async fn userinfo_follows_the_id_token_and_the_script() {
    let idp = ForgedIdp::start(Settings::default()).await;
    idp.script(|_, claims| {
        claims["sub"] = json!("sub-from-the-script");
        Forgery::Valid
    });
    let body = code_flow(&idp).await;
    let access_token = body["access_token"].as_str().unwrap();
    let userinfo = || async {
        // RFC 6750 §2.2: the token in the form body.
        let reply = reqwest::Client::new()
            .post(format!("{}/userinfo", idp.base))
            .form(&[("access_token", access_token)])
            .send()
            .await
            .unwrap();
        reply.json::<Value>().await.unwrap()
    };
    assert_eq!(
        userinfo().await["sub"],
        "sub-from-the-script",
        "the ID token's sub"
    );
    idp.script_userinfo(|_, claims| claims["sub"] = json!("someone-else"));
    let info = userinfo().await;
    assert_eq!(
        (info["sub"].as_str(), info["email"].as_str()),
        (Some("someone-else"), Some("alice@example.test"))
    );
}

#[actix_web::test]
async fn private_key_jwt_is_verified_against_the_clients_jwks() {
    // Another forged IdP serves the client's keys at its /jwks and signs its assertions.
    let client_keys = ForgedIdp::start(Settings::default()).await;
    let idp = ForgedIdp::start(Settings {
        client_auth: vec![ClientAuth::PrivateKeyJwt],
        client_jwks_uri: Some(format!("{}/jwks", client_keys.base)),
        ..Settings::default()
    })
    .await;
    let assertion = |forgery: Forgery| {
        let now = idp.now();
        let claims = json!({"iss": "vestibule", "sub": "vestibule", "aud": format!("{}/token", idp.base),
                            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string()});
        client_keys.sign(&claims, "JWT", &forgery)
    };
    let exchange = |assertion: String| {
        let idp = &idp;
        async move {
            let code = authorize(idp, &[]).await["code"].clone();
            let mut form = code_grant(&code, VERIFIER).to_vec();
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
            form.push(("client_assertion", &assertion));
            send(
                reqwest::Client::new().post(format!("{}/token", idp.base)),
                &form,
            )
            .await
            .0
        }
    };
    let signed = assertion(Forgery::Valid);
    assert_eq!(exchange(signed.clone()).await, 200);
    let recorded = idp.token_requests().pop().unwrap();
    assert_eq!(
        (recorded.client_auth, recorded.assertion_verified),
        (Some(ClientAuth::PrivateKeyJwt), Some(true))
    );
    assert_eq!(recorded.client_assertion, Some(signed));
    assert_eq!(exchange(assertion(Forgery::WrongSignature)).await, 401);
    assert_eq!(
        idp.token_requests().pop().unwrap().assertion_verified,
        Some(false)
    );
    assert_eq!(exchange(assertion(Forgery::AlgNone)).await, 401);
    let code = authorize(&idp, &[]).await["code"].clone();
    assert_eq!(
        token(&idp, &code_grant(&code, VERIFIER)).await.0,
        401,
        "Basic is not allowed"
    );
}

/// A listener for one HTTP request: answers `status` and hands over the request's head and body.
fn one_request_listener(status: u16) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/backchannel-logout",
        listener.local_addr().unwrap()
    );
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        write!(
            stream,
            "HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        sender
            .send((head, String::from_utf8(body).unwrap()))
            .unwrap();
    });
    (url, receiver)
}

#[actix_web::test]
async fn a_backchannel_logout_token_is_posted_as_a_form() {
    let idp = ForgedIdp::start(Settings::default()).await;
    code_flow(&idp).await;
    let authorization = idp.last_authorization().unwrap();
    for (forgery, status) in [(Forgery::Valid, 200), (Forgery::AlgNone, 400)] {
        let (url, received) = one_request_listener(status);
        let mut claims = idp.logout_claims(&authorization);
        claims["nonce"] = json!("forbidden in a logout token");
        assert_eq!(
            idp.backchannel_logout(&url, &claims, forgery.clone()).await,
            status
        );
        let (head, body) = received.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(head.starts_with("POST /backchannel-logout "), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/x-www-form-urlencoded"),
            "{head}"
        );
        let form = query_of(&format!("http://x/?{body}"));
        let token = &form["logout_token"];
        assert_eq!(claims_of(token), claims);
        let header = header_of(token);
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(
            header["alg"],
            if forgery == Forgery::Valid {
                "RS256"
            } else {
                "none"
            }
        );
    }
    let claims = idp.logout_claims(&authorization);
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert_eq!(
        (claims["sid"].as_str(), claims["aud"].as_str()),
        (Some(authorization.sid.as_str()), Some("vestibule"))
    );
    assert!(claims.get("nonce").is_none());
}
