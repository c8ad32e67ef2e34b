//! client_credentials answered from memory: once a client has authenticated through the
//! database, its next tokens are minted from cached rows for up to two seconds. These pin down
//! what that may and may not change: a wrong secret is still refused, tokens from memory are as
//! good as the others, and a client deleted or given a new secret by another process (the CLI,
//! another instance) is refused once the two seconds have passed.

use std::sync::Arc;

use crate::common::oidc::{claims_of, start_issuer_with, RelyingParty};
use crate::common::{tenant, Backend, TestServer, REALM};
use vestibule::clock::{Clock, FixedClock};

const CACHE_LIFETIME_MICROS: i64 = 2_000_000;
const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

/// The issuer's test setup on a clock that moves only when told to.
async fn start(backend: Backend) -> (TestServer, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(1_900_000_000_000_000));
    let server = start_issuer_with(backend, &[&tenant("acme")], clock.clone(), |_| {}).await;
    (server, clock)
}

both_backends!(
    tokens_from_memory_are_checked_like_the_others,
    |backend: Backend| async move {
        let (server, _clock) = start(backend).await;
        let rp = RelyingParty::new(&server);
        // The first request goes through the database and fills the caches; the next ones
        // come from memory.
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let (status, body) = rp
                .token(("m2m-es256", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await;
            assert_eq!(status, 200, "{body}");
            tokens.push(body["access_token"].as_str().unwrap().to_string());
        }
        for token in &tokens {
            let info = rp.introspect(token).await;
            assert_eq!(info["active"], true, "{info}");
            assert_eq!(info["client_id"], "m2m-es256");
            assert_eq!(
                info["resource_access"]["api"]["roles"],
                serde_json::json!(["read"]),
                "{info}"
            );
        }
        // ECDSA signatures differ even over the same claims: the jti is what must differ.
        let jtis: std::collections::BTreeSet<String> = tokens
            .iter()
            .map(|token| claims_of(token)["jti"].as_str().expect("a jti").to_string())
            .collect();
        assert_eq!(
            jtis.len(),
            tokens.len(),
            "each token has its own jti: {jtis:?}"
        );
        let without_jti = |token: &str| {
            let mut claims = claims_of(token);
            claims.as_object_mut().unwrap().remove("jti");
            claims
        };
        for token in &tokens[1..] {
            assert_eq!(
                without_jti(token),
                without_jti(&tokens[0]),
                "tokens from memory say what the database's said"
            );
        }

        // A wrong secret is refused even while the client is in memory.
        let (status, body) = rp
            .token(("m2m-es256", Some("not-the-secret")), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        let (status, _) = rp
            .token(("m2m-es256", Some("web-secret")), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(status, 200, "the refusal did not evict the right secret");
    }
);

both_backends!(
    another_process_changing_a_client_shows_within_the_cache_lifetime,
    |backend: Backend| async move {
        let (server, clock) = start(backend).await;
        let rp = RelyingParty::new(&server);
        assert_eq!(
            rp.token(("m2m-rs256", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await
                .0,
            200
        );
        assert_eq!(
            rp.token(("m2m-eddsa", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await
                .0,
            200
        );

        // What `vestibule client secret` and `vestibule client delete` do, from outside the
        // running server's memory.
        let new_secret = {
            let mut conn = server.state.db.get().unwrap();
            let secret =
                vestibule::admin::rotate_client_secret(&mut conn, REALM, "m2m-rs256", clock.now())
                    .unwrap();
            vestibule::admin::delete_client(&mut conn, REALM, "m2m-eddsa").unwrap();
            secret
        };

        // Within the lifetime, memory still answers for both.
        assert_eq!(
            rp.token(("m2m-rs256", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await
                .0,
            200
        );
        assert_eq!(
            rp.token(("m2m-eddsa", Some("web-secret")), &CLIENT_CREDENTIALS)
                .await
                .0,
            200
        );

        clock.advance(CACHE_LIFETIME_MICROS);
        let (status, body) = rp
            .token(("m2m-rs256", Some("web-secret")), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(
            status, 401,
            "the old secret is refused after the lifetime: {body}"
        );
        let (status, body) = rp
            .token(("m2m-eddsa", Some("web-secret")), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(status, 401, "the deleted client is refused: {body}");
        let (status, body) = rp
            .token(("m2m-rs256", Some(&new_secret)), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(status, 200, "the new secret works: {body}");
    }
);
