//! Tokens an attacker makes out of ours, presented at userinfo and introspection on both
//! databases: `alg: none` and HS256 headers that name the real `kid` (so that only the
//! algorithm check stands between them and the key: RFC 8725 §2.1, §3.1), HS256 keyed with what
//! an attacker can read or guess (the published key, as PEM or as its JWK; the client secret),
//! a changed payload, a cut signature, another token's signature, and tokens that are not
//! access tokens. Each is refused as RFC 6750 §3.1 says (401, `invalid_token`) or inactive
//! (RFC 7662 §2.2), and the genuine token works before and after.

use base64::Engine;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{json, Value};

use crate::common::oidc::{claims_of, header_of, start_issuer, RelyingParty};
use crate::common::{tenant, Backend};

pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn parts(jwt: &str) -> Vec<&str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    parts
}

/// A JWT with its header replaced (the signature no longer matches, the `kid` is ours to name).
pub fn with_header(jwt: &str, header: Value) -> String {
    let parts = parts(jwt);
    format!(
        "{}.{}.{}",
        b64().encode(header.to_string()),
        parts[1],
        parts[2]
    )
}

/// A JWT with one claim changed and the original signature.
pub fn tampered(jwt: &str, claim: &str, value: Value) -> String {
    let parts = parts(jwt);
    let mut claims = claims_of(jwt);
    claims[claim] = value;
    format!(
        "{}.{}.{}",
        parts[0],
        b64().encode(claims.to_string()),
        parts[2]
    )
}

/// The payload of `jwt` under `header`, MACed with HMAC-SHA256 keyed by `key` (RFC 7518 §3.2).
fn hs256(jwt: &str, header: &Value, key: &[u8]) -> String {
    let input = format!("{}.{}", b64().encode(header.to_string()), parts(jwt)[1]);
    let key = PKey::hmac(key).unwrap();
    let mac = Signer::new(MessageDigest::sha256(), &key)
        .unwrap()
        .sign_oneshot_to_vec(input.as_bytes())
        .unwrap();
    format!("{input}.{}", b64().encode(mac))
}

/// The published RSA key of `kid`: its JWK as the JWKS serves it, and as PEM.
async fn published_key(rp: &RelyingParty<'_>, kid: &str) -> (String, Vec<u8>) {
    let jwks = rp.get_json(&rp.oidc("/certs")).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the token's key is published")
        .clone();
    let number = |member: &str| {
        BigNum::from_slice(&b64().decode(jwk[member].as_str().unwrap()).unwrap()).unwrap()
    };
    let rsa = Rsa::from_public_components(number("n"), number("e")).unwrap();
    (jwk.to_string(), rsa.public_key_to_pem().unwrap())
}

/// `token` is refused at userinfo as RFC 6750 §3.1 words it.
async fn refused_at_userinfo(rp: &RelyingParty<'_>, token: &str, what: &str) {
    let reply = rp
        .http
        .get(rp.oidc("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401, "{what} at userinfo");
    assert_eq!(
        reply.headers()["www-authenticate"],
        "Bearer realm=\"vestibule\", error=\"invalid_token\"",
        "{what}"
    );
    assert_eq!(
        reply.json::<Value>().await.unwrap(),
        json!({"error": "invalid_token", "error_description": "the access token is not active"}),
        "{what}"
    );
}

/// `token` is refused at userinfo and inactive at introspection (RFC 7662 §2.2).
async fn refused(rp: &RelyingParty<'_>, token: &str, what: &str) {
    refused_at_userinfo(rp, token, what).await;
    assert_eq!(
        rp.introspect(token).await,
        json!({"active": false}),
        "{what} at introspection"
    );
}

/// The genuine token still works at both endpoints.
async fn still_works(rp: &RelyingParty<'_>, token: &str) {
    assert_eq!(rp.userinfo(token).await["sub"], claims_of(token)["sub"]);
    assert_eq!(rp.introspect(token).await["active"], true);
}

both_backends!(
    none_and_hs256_with_the_real_kid_are_refused,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let tokens = rp.tokens(&[]).await;
        let genuine = tokens.access_token();
        still_works(&rp, genuine).await;
        let kid = header_of(genuine)["kid"].as_str().unwrap().to_string();
        assert_eq!(header_of(genuine)["alg"], "RS256");
        let (jwk, pem) = published_key(&rp, &kid).await;
        let payload = parts(genuine)[1];

        let mut forged = Vec::new();
        for alg in ["none", "None", "NONE"] {
            let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
            let unsigned = format!("{}.{payload}.", b64().encode(header.to_string()));
            forged.push((format!("alg {alg}, no signature"), unsigned));
            forged.push((
                format!("alg {alg}, the genuine signature"),
                with_header(genuine, header),
            ));
        }
        let hs = json!({"alg": "HS256", "kid": kid, "typ": "JWT"});
        for (key, name) in [
            (pem, "the published key as PEM"),
            (jwk.into_bytes(), "the published JWK"),
            (b"web-secret".to_vec(), "the client secret"),
            (kid.clone().into_bytes(), "the kid"),
        ] {
            forged.push((
                format!("HS256 keyed with {name}"),
                hs256(genuine, &hs, &key),
            ));
        }
        for (what, token) in &forged {
            assert_eq!(
                claims_of(token),
                claims_of(genuine),
                "only the JOSE part differs"
            );
            refused(&rp, token, what).await;
        }
        still_works(&rp, genuine).await;
        server.stop().await;
    }
);

both_backends!(
    tampered_tokens_are_refused_at_userinfo,
    |backend: Backend| async move {
        let server = start_issuer(backend, &[&tenant("acme")]).await;
        let rp = RelyingParty::new(&server);
        let tokens = rp.tokens(&[]).await;
        let other = rp.tokens(&[]).await;
        let genuine = tokens.access_token();
        let [header, payload, signature] = parts(genuine)[..] else {
            unreachable!()
        };
        let far_future = claims_of(genuine)["exp"].as_i64().unwrap() + 86_400;
        let forged = [
            (
                "roles added",
                tampered(genuine, "realm_access", json!({"roles": ["GOD"]})),
            ),
            ("expiry moved", tampered(genuine, "exp", json!(far_future))),
            (
                "another subject",
                tampered(genuine, "sub", json!("someone-else")),
            ),
            ("signature cut off", format!("{header}.{payload}.")),
            ("no signature part", format!("{header}.{payload}")),
            (
                "signature shortened",
                format!("{header}.{payload}.{}", &signature[..signature.len() - 4]),
            ),
            (
                "another token's signature",
                format!("{header}.{payload}.{}", parts(other.access_token())[2]),
            ),
            (
                "another token's payload",
                format!("{header}.{}.{signature}", parts(other.access_token())[1]),
            ),
            ("the ID token", tokens.id_token().to_string()),
        ];
        for (what, token) in &forged {
            refused(&rp, token, what).await;
        }
        // A refresh token is no bearer token for userinfo (introspection knows it as one).
        refused_at_userinfo(&rp, tokens.refresh_token(), "the refresh token").await;
        still_works(&rp, genuine).await;
        still_works(&rp, other.access_token()).await;
        server.stop().await;
    }
);
