//! The forged upstream IdP (`common::forged_idp`) on its own, without Vestibule: a code flow
//! with PKCE S256 whose ID token verifies against the JWKS (with Vestibule's `jwt::verify` and
//! with OpenSSL from the published JWK), Entra's discovery documents, each forgery making the
//! token it names, the claim edits, the token endpoint's refusals, the JWKS controls and
//! counters, userinfo, the fixed clock, `private_key_jwt`, and a back-channel logout token
//! POSTed to a listener. Forgeries and claim edits are in `forgeries`, the endpoints' refusals and
//! controls in `endpoints`.

mod endpoints;
mod forgeries;

use std::collections::HashMap;

use serde_json::{json, Value};
use vestibule::issuer::jwt;

use crate::common::forged_idp::{
    signature_verifies, verify_with_jwks, ClientAuth, ForgedIdp, Settings, User, CONSUMER_TENANT,
    HOME_TENANT, OTHER_TENANT,
};
use crate::common::oidc::{challenge, claims_of, header_of, query_of, VERIFIER};

const REDIRECT: &str = "http://127.0.0.1:9/upstream-callback";

/// The authorization request of the code flow with PKCE S256, `changes` replacing or adding
/// parameters; returns the query of the redirect back.
async fn authorize(idp: &ForgedIdp, changes: &[(&str, &str)]) -> HashMap<String, String> {
    let challenge = challenge(VERIFIER);
    let mut params = vec![
        ("client_id", idp.client_id()),
        ("redirect_uri", REDIRECT.to_string()),
        ("response_type", "code".into()),
        ("scope", "openid profile email".into()),
        ("state", "st-1".into()),
        ("nonce", "n-1".into()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
    ];
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        params.push((name, value.to_string()));
    }
    let url = url::Url::parse_with_params(&format!("{}/authorize", idp.base), &params).unwrap();
    let location = idp.visit(url.as_str()).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    query_of(&location)
}

/// A token request with HTTP Basic client authentication: the status and the JSON answer.
async fn token(idp: &ForgedIdp, form: &[(&str, &str)]) -> (u16, Value) {
    let request = reqwest::Client::new()
        .post(format!("{}/token", idp.base))
        .basic_auth(idp.client_id(), Some(idp.client_secret()));
    send(request, form).await
}

async fn send(request: reqwest::RequestBuilder, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = request.form(form).send().await.expect("token request");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn code_grant<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// A whole code flow, which must succeed: the token response.
async fn code_flow(idp: &ForgedIdp) -> Value {
    let callback = authorize(idp, &[]).await;
    let (status, body) = token(idp, &code_grant(&callback["code"], VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn get(url: &str) -> (u16, Value) {
    let reply = reqwest::get(url).await.expect("GET");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

fn jwk_of<'a>(jwks: &'a Value, kid: &str) -> &'a Value {
    let keys = jwks["keys"].as_array().unwrap();
    keys.iter().find(|k| k["kid"] == kid).expect("kid in JWKS")
}

#[actix_web::test]
async fn a_code_flow_with_pkce_gives_an_id_token_that_verifies_against_the_jwks() {
    let idp = ForgedIdp::start(Settings::default()).await;
    let (status, meta) = get(&idp.discovery_url()).await;
    assert_eq!(status, 200);
    assert_eq!(meta["issuer"], idp.base);
    assert_eq!(idp.issuer(), idp.base);
    for (name, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/logout"),
    ] {
        assert_eq!(meta[name], format!("{}{path}", idp.base), "{name}");
    }
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        false
    );
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(get(&idp.common_discovery_url()).await.0, 404, "Entra only");

    let before = idp.now();
    let callback = authorize(
        &idp,
        &[
            ("prompt", "login"),
            ("login_hint", "alice"),
            ("ui_locales", "fr"),
        ],
    )
    .await;
    assert_eq!(callback["state"], "st-1");
    assert!(!callback.contains_key("iss"), "RFC 9207 iss is off");
    let request = idp.last_request().unwrap();
    assert_eq!(request.client_id.as_deref(), Some("vestibule"));
    assert_eq!(request.nonce.as_deref(), Some("n-1"));
    assert_eq!(request.code_challenge, Some(challenge(VERIFIER)));
    assert_eq!(request.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(request.scope.as_deref(), Some("openid profile email"));
    assert_eq!(request.prompt.as_deref(), Some("login"));
    assert_eq!(request.login_hint.as_deref(), Some("alice"));
    assert_eq!(request.params["ui_locales"], "fr");

    let (status, body) = token(&idp, &code_grant(&callback["code"], VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email");
    let id_token = body["id_token"].as_str().unwrap();
    let (_, jwks) = get(&format!("{}/jwks", idp.base)).await;
    let claims = verify_with_jwks(id_token, &jwks).expect("verifies against the JWKS");
    let key = jwk_of(&jwks, &idp.signing_kid());
    assert!(signature_verifies(id_token, key) && key["use"] == "sig");
    assert!(key.get("issuer").is_none(), "no Entra issuer member");
    let keys = idp.verifying_keys();
    assert_eq!(jwt::verify(id_token, &keys).unwrap(), claims);
    assert_eq!(header_of(id_token)["typ"], "JWT");

    let user = idp.user();
    assert_eq!(claims["iss"], idp.base);
    assert_eq!(claims["aud"], "vestibule");
    assert_eq!(claims["sub"], user.sub);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["email"], "alice@example.test");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(before <= iat && iat <= idp.now());
    assert_eq!(claims["exp"], iat + 3600);
    assert_eq!(
        claims["auth_time"],
        idp.last_authorization().unwrap().auth_time
    );
    assert_eq!(claims["sid"], idp.last_authorization().unwrap().sid);

    let access_token = body["access_token"].as_str().unwrap();
    let info: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", idp.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user.sub);
    assert_eq!(info["name"], "Alice");
    let refused = reqwest::Client::new()
        .get(format!("{}/userinfo", idp.base))
        .bearer_auth("at-unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let counters = idp.counters();
    assert_eq!(
        (
            counters.discovery,
            counters.jwks,
            counters.userinfo,
            counters.token
        ),
        (2, 1, 2, 1)
    );
    let recorded = &idp.token_requests()[0];
    assert_eq!(recorded.client_auth, Some(ClientAuth::SecretBasic));
    assert_eq!(recorded.form["code_verifier"], VERIFIER);
    idp.stop().await;
}

#[actix_web::test]
async fn entra_mode_serves_the_tenant_template_and_tenant_issuers() {
    let idp = ForgedIdp::start(Settings {
        iss_in_authorization_response: true,
        ..Settings::entra()
    })
    .await;
    let home = format!("{}/{HOME_TENANT}/v2.0", idp.base);
    assert_eq!(idp.issuer(), home);
    assert_eq!(
        idp.discovery_url(),
        format!("{home}/.well-known/openid-configuration")
    );
    let template = format!("{}/{{tenantid}}/v2.0", idp.base);
    let issuer_at =
        |path: &str| format!("{}/{path}/v2.0/.well-known/openid-configuration", idp.base);
    for (url, issuer) in [
        (idp.discovery_url(), home.clone()),
        (
            format!("{}/.well-known/openid-configuration", idp.base),
            home.clone(),
        ),
        (idp.common_discovery_url(), template.clone()),
        (issuer_at("organizations"), template.clone()),
        (issuer_at("consumers"), idp.issuer_for(CONSUMER_TENANT)),
        (issuer_at(OTHER_TENANT), idp.issuer_for(OTHER_TENANT)),
    ] {
        let (status, meta) = get(&url).await;
        assert_eq!(
            (status, meta["issuer"].as_str()),
            (200, Some(issuer.as_str())),
            "{url}"
        );
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        assert_eq!(meta["subject_types_supported"], json!(["pairwise"]));
    }
    let jwks = idp.jwks();
    assert_eq!(jwk_of(&jwks, &idp.signing_kid())["issuer"], template);

    let callback = authorize(&idp, &[]).await;
    assert_eq!(callback["iss"], home, "RFC 9207");
    let (_, body) = token(&idp, &code_grant(&callback["code"], VERIFIER)).await;
    let claims = verify_with_jwks(body["id_token"].as_str().unwrap(), &jwks).unwrap();
    assert_eq!(claims["iss"], home);
    assert_eq!(claims["tid"], HOME_TENANT);
    assert!(uuid::Uuid::parse_str(claims["oid"].as_str().unwrap()).is_ok());
    assert_eq!(
        claims["sub"].as_str().unwrap().len(),
        43,
        "pairwise, opaque"
    );
    assert_eq!(claims["upn"], "alice@contoso.test");
    assert_eq!(claims["xms_edov"], true);
    assert_eq!(claims["groups"].as_array().unwrap().len(), 2);
    assert_eq!(claims["roles"], json!(["Reader"]));
    assert_eq!(claims["ver"], "2.0");

    idp.sign_in_as(User::entra(OTHER_TENANT, "bob").with("xms_edov", Value::Null));
    let callback = authorize(&idp, &[]).await;
    assert_eq!(callback["iss"], idp.issuer_for(OTHER_TENANT));
    let (_, body) = token(&idp, &code_grant(&callback["code"], VERIFIER)).await;
    let claims = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], idp.issuer_for(OTHER_TENANT));
    assert_eq!(claims["tid"], OTHER_TENANT);
    assert!(claims.get("xms_edov").is_none());

    let kid = idp.signing_kid();
    idp.set_key_issuer(&kid, Some(&idp.issuer_for(CONSUMER_TENANT)));
    assert_eq!(
        jwk_of(&idp.jwks(), &kid)["issuer"],
        idp.issuer_for(CONSUMER_TENANT)
    );
    idp.set_key_issuer(&kid, None);
    assert!(jwk_of(&idp.jwks(), &kid).get("issuer").is_none());
}

#[actix_web::test]
async fn a_fixed_clock_dates_the_tokens() {
    let idp = ForgedIdp::start(Settings::default().at(1_700_000_000)).await;
    let body = code_flow(&idp).await;
    let claims = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(
        (
            claims["iat"].as_i64(),
            claims["exp"].as_i64(),
            claims["auth_time"].as_i64()
        ),
        (
            Some(1_700_000_000),
            Some(1_700_003_600),
            Some(1_700_000_000)
        )
    );
    let logout = idp.logout_claims(&idp.last_authorization().unwrap());
    assert_eq!(logout["iat"], 1_700_000_000);
}
