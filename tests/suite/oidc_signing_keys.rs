//! Discovery and signing keys through HTTP on both databases: the provider metadata, a JWKS of
//! public keys for RS256, ES256 and EdDSA, and client_credentials tokens signed with each of them
//! (JOSE header, roles, audience, introspection), with the refusals of a wrong secret and of a
//! client that may not use the grant.

use crate::common::oidc::{claims_of, header_of, start_issuer, RelyingParty, WEB};
use crate::common::{tenant, Backend};
use serde_json::json;

both_backends!(discovery_and_keys, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = start_issuer(backend, &[&acme]).await;
    let rp = RelyingParty::new(&server);
    let meta = rp
        .get_json(&rp.url("/.well-known/openid-configuration"))
        .await;
    assert_eq!(meta["issuer"], rp.url(""));
    assert_eq!(meta["token_endpoint"], rp.oidc("/token"));
    assert_eq!(meta["jwks_uri"], rp.oidc("/certs"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    let jwks = rp.get_json(&rp.oidc("/certs")).await;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} in {algs:?}");
    }
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none() && k["kid"].is_string()),
        "public keys only"
    );
    server.stop().await;
});

both_backends!(
    client_credentials_per_algorithm,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer(backend, &[&acme]).await;
        let rp = RelyingParty::new(&server);
        for alg in ["RS256", "ES256", "EdDSA"] {
            let id = format!("m2m-{}", alg.to_lowercase());
            let (status, body) = rp
                .token(
                    (&id, Some("web-secret")),
                    &[("grant_type", "client_credentials")],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
            let access_token = body["access_token"].as_str().unwrap();
            let header = header_of(access_token);
            assert_eq!(header["alg"], alg);
            assert!(header["kid"].is_string());
            let claims = claims_of(access_token);
            assert_eq!(claims["azp"], id.as_str());
            assert_eq!(claims["resource_access"]["api"]["roles"], json!(["read"]));
            assert_eq!(
                claims["aud"], "api",
                "audience resolve: the client whose role the token carries"
            );
            let intro = rp.introspect(access_token).await;
            assert_eq!(intro["active"], true, "{intro}");
        }
        let (status, body) = rp
            .token(
                ("m2m-rs256", Some("wrong")),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        let (status, body) = rp.token(WEB, &[("grant_type", "client_credentials")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unauthorized_client"))
        );
        server.stop().await;
    }
);
