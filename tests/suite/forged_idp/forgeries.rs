//! Each forgery makes the token it names (decoded, verified or not, HMAC recomputed), and each
//! claim edit makes the change it names.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::pkey::PKey;
use serde_json::{json, Value};
use vestibule::issuer::jwt::{self, JwtError};

use super::{code_flow, jwk_of};
use crate::common::forged_idp::{
    claims, hmac_sha256, signature_verifies, verify_with_jwks, Alg, ForgedIdp, Forgery, Settings,
    CONSUMER_TENANT, OTHER_TENANT, UNKNOWN_KID,
};
use crate::common::oidc::{claims_of, header_of};

#[actix_web::test]
async fn each_forgery_makes_the_token_it_names() {
    let idp = ForgedIdp::start(Settings::default()).await;
    let kid = idp.signing_kid();
    let jwks = idp.jwks();
    let key = jwk_of(&jwks, &kid);
    let claims = json!({"iss": idp.base, "sub": "alice", "aud": "vestibule"});
    let sign = |forgery: Forgery| idp.sign(&claims, "JWT", &forgery);
    let signed_part = |token: &str| token.rsplit_once('.').unwrap().0.to_string();
    let signature = |token: &str| B64.decode(token.rsplit_once('.').unwrap().1).unwrap();

    let valid = sign(Forgery::Valid);
    assert_eq!(
        header_of(&valid),
        json!({"alg": "RS256", "typ": "JWT", "kid": kid})
    );
    assert_eq!(verify_with_jwks(&valid, &jwks).unwrap(), claims);

    let none = sign(Forgery::AlgNone);
    assert_eq!(
        header_of(&none),
        json!({"alg": "none", "typ": "JWT", "kid": kid})
    );
    assert!(none.ends_with('.') && signature(&none).is_empty());
    assert_eq!(claims_of(&none), claims);
    assert!(verify_with_jwks(&none, &jwks).is_err());
    assert_eq!(
        jwt::verify(&none, &idp.verifying_keys()),
        Err(JwtError::Algorithm)
    );

    // HS256 keyed with the public key: the PEM (SubjectPublicKeyInfo) as OpenSSL writes it,
    // or its DER.
    let pem = idp.public_key_pem(&kid);
    let text = String::from_utf8(pem.clone()).unwrap();
    assert!(
        text.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && text.ends_with("-----END PUBLIC KEY-----\n")
    );
    let der = PKey::public_key_from_pem(&pem)
        .unwrap()
        .public_key_to_der()
        .unwrap();
    for (forgery, secret) in [
        (Forgery::Hs256WithPublicKey, pem),
        (Forgery::Hs256WithPublicKeyDer, der),
    ] {
        let token = sign(forgery);
        assert_eq!(
            header_of(&token),
            json!({"alg": "HS256", "typ": "JWT", "kid": kid})
        );
        let input = signed_part(&token);
        assert_eq!(signature(&token), hmac_sha256(&secret, input.as_bytes()));
        assert!(!signature_verifies(&token, key));
        assert!(verify_with_jwks(&token, &jwks).is_err());
    }

    let wrong = sign(Forgery::WrongSignature);
    assert_eq!(
        header_of(&wrong),
        header_of(&valid),
        "the current alg and kid"
    );
    assert!(!signature_verifies(&wrong, key));
    assert_eq!(
        jwt::verify(&wrong, &idp.verifying_keys()),
        Err(JwtError::Signature)
    );

    let no_kid = sign(Forgery::NoKid);
    assert_eq!(header_of(&no_kid), json!({"alg": "RS256", "typ": "JWT"}));
    assert!(signature_verifies(&no_kid, key), "a real signature");
    assert_eq!(
        sign(Forgery::Valid.with_header("kid", Value::Null))
            .split('.')
            .next(),
        no_kid.split('.').next()
    );

    let unknown = sign(Forgery::UnknownKid);
    assert_eq!(header_of(&unknown)["kid"], UNKNOWN_KID);
    assert!(signature_verifies(&unknown, key), "a real signature");
    assert!(verify_with_jwks(&unknown, &jwks)
        .unwrap_err()
        .contains("no signing key"));

    let edited = sign(
        Forgery::Valid
            .with_header("typ", json!("at+jwt"))
            .with_header("jku", json!("https://attacker.invalid/jwks")),
    );
    let header = header_of(&edited);
    assert_eq!(
        (header["typ"].as_str(), header["kid"].as_str()),
        (Some("at+jwt"), Some(kid.as_str()))
    );
    assert_eq!(header["jku"], "https://attacker.invalid/jwks");
    assert!(
        verify_with_jwks(&edited, &jwks).is_ok(),
        "signed over the edited header"
    );
    let lying = sign(Forgery::AlgNone.with_header("alg", json!("RS256")));
    assert_eq!(header_of(&lying)["alg"], "RS256");
    assert!(signature(&lying).is_empty());

    // After a rotation the old key still signs on request; ES256 signs as RFC 7518 §3.4 says.
    let new = idp.rotate_to(Alg::ES256);
    let jwks = idp.jwks();
    let old = sign(Forgery::SignWith(kid.clone()));
    assert_eq!(header_of(&old)["kid"], kid);
    assert!(verify_with_jwks(&old, &jwks).is_ok());
    for forgery in [Forgery::Valid, Forgery::Valid.with_header("x", json!(1))] {
        let token = sign(forgery);
        assert_eq!(
            (
                header_of(&token)["alg"].as_str(),
                header_of(&token)["kid"].as_str()
            ),
            (Some("ES256"), Some(new.as_str()))
        );
        assert!(verify_with_jwks(&token, &jwks).is_ok());
        assert!(jwt::verify(&token, &idp.verifying_keys()).is_ok());
    }

    // Through the flow: the once-script comes first, then the standing one, then valid again.
    idp.rotate_to(Alg::RS256);
    idp.forge(Forgery::NoKid);
    idp.forge_once(Forgery::AlgNone);
    let alg_of = |body: &Value| header_of(body["id_token"].as_str().unwrap());
    assert_eq!(alg_of(&code_flow(&idp).await)["alg"], "none");
    assert!(alg_of(&code_flow(&idp).await).get("kid").is_none());
    idp.clear_scripts();
    let body = code_flow(&idp).await;
    assert!(verify_with_jwks(body["id_token"].as_str().unwrap(), &idp.jwks()).is_ok());
}

#[actix_web::test]
async fn the_claim_edits_do_what_they_say() {
    let idp = ForgedIdp::start(Settings::entra()).await;
    idp.script(|exchange, claims| {
        claims::right_at_hash(claims, &exchange.access_token);
        Forgery::Valid
    });
    let body = code_flow(&idp).await;
    let valid = claims_of(body["id_token"].as_str().unwrap());
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(valid["at_hash"], claims::at_hash(access_token));
    // OIDC Core Appendix A.3's pair.
    assert_eq!(
        claims::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    let now = valid["iat"].as_i64().unwrap();
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        edit(&mut claims);
        claims
    };
    let iss_of = |tid: &str| format!("{}/{tid}/v2.0", idp.base);

    assert_eq!(
        edited(&claims::wrong_issuer)["iss"],
        "https://wrong-issuer.invalid/v2.0"
    );
    for (edit, tid) in [
        (&claims::other_tenant as &dyn Fn(&mut Value), OTHER_TENANT),
        (&claims::consumer_tenant, CONSUMER_TENANT),
        (&claims::non_guid_tenant, "contoso.onmicrosoft.com"),
    ] {
        let claims = edited(edit);
        assert_eq!(
            (claims["tid"].as_str(), claims["iss"].clone()),
            (Some(tid), json!(iss_of(tid)))
        );
    }
    let claims = edited(&claims::tid_not_in_issuer);
    assert_eq!(
        (claims["tid"].as_str(), claims["iss"].clone()),
        (Some(OTHER_TENANT), valid["iss"].clone())
    );
    assert_eq!(edited(&claims::wrong_audience)["aud"], "someone-else");
    let claims = edited(&|c| claims::audiences(c, &["api"], Some("vestibule")));
    assert_eq!(
        (claims["aud"].clone(), claims["azp"].clone()),
        (json!(["vestibule", "api"]), json!("vestibule"))
    );
    let claims = edited(&|c| claims::audiences(c, &["api"], None));
    assert!(claims.get("azp").is_none());
    assert!(edited(&claims::missing_sub).get("sub").is_none());
    assert!(edited(&claims::missing_iat).get("iat").is_none());
    assert!(edited(&claims::missing_nonce).get("nonce").is_none());
    assert_eq!(
        edited(&claims::wrong_nonce)["nonce"],
        "not-the-nonce-that-was-sent"
    );
    let claims = edited(&|c| claims::expired(c, now));
    assert!(
        claims["exp"].as_i64().unwrap() < now - 300
            && claims["iat"].as_i64() < claims["exp"].as_i64()
    );
    assert!(
        edited(&|c| claims::not_yet_valid(c, now))["nbf"]
            .as_i64()
            .unwrap()
            > now + 300
    );
    let claims = edited(&|c| claims::issued_in_future(c, now));
    assert!(
        claims["iat"].as_i64().unwrap() >= now + 86_400
            && claims["exp"].as_i64() > claims["iat"].as_i64()
    );
    let claims = edited(&|c| claims::wrong_at_hash(c, access_token));
    assert_ne!(claims["at_hash"], valid["at_hash"]);
    assert_eq!(
        claims["at_hash"].as_str().unwrap().len(),
        22,
        "still 128 bits"
    );
    let claims = edited(&claims::groups_overage);
    assert!(claims.get("groups").is_none());
    assert_eq!(claims["_claim_names"], json!({"groups": "src1"}));
    let endpoint = format!(
        "https://graph.microsoft.com/v1.0/users/{}/getMemberObjects",
        valid["oid"].as_str().unwrap()
    );
    assert_eq!(claims["_claim_sources"]["src1"]["endpoint"], endpoint);
}
