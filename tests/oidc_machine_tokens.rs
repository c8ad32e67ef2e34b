//! client_credentials answered from memory: once a client has authenticated through the
//! database, its next tokens are minted from cached rows for up to two seconds. These pin down
//! what that may and may not change: a wrong secret is still refused, tokens from memory are as
//! good as the others, and a client deleted or given a new secret by another process (the CLI,
//! another instance) is refused once the two seconds have passed.

mod common;

use std::sync::Arc;

use common::{config, tenant, with_issuer, Backend, TestDb, TestServer, REALM};
use serde_json::Value;
use vestibule::clock::{Clock, FixedClock};

const CACHE_LIFETIME_MICROS: i64 = 2_000_000;

struct Machine<'a> {
    server: &'a TestServer,
    http: reqwest::Client,
}

impl Machine<'_> {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/realms/{REALM}/protocol/openid-connect{path}",
            self.server.base
        )
    }

    /// client_credentials as `client_id` with `secret`: the status and the answer.
    async fn token(&self, client_id: &str, secret: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// RFC 7662 introspection by the confidential client `web`.
    async fn introspect(&self, token: &str) -> Value {
        self.http
            .post(self.url("/token/introspect"))
            .basic_auth("web", Some("web-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The issuer's test setup on a clock that moves only when told to.
async fn start(backend: Backend) -> (TestServer, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(1_900_000_000_000_000));
    let acme = tenant("acme");
    let db = TestDb::new(backend);
    let mut cfg = config(&db, &[&acme]);
    with_issuer(&mut cfg);
    (TestServer::start_with(db, cfg, clock.clone()).await, clock)
}

both_backends!(
    tokens_from_memory_are_checked_like_the_others,
    |backend: Backend| async move {
        let (server, _clock) = start(backend).await;
        let m = Machine {
            server: &server,
            http: reqwest::Client::new(),
        };
        // The first request goes through the database and fills the caches; the next ones
        // come from memory.
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let (status, body) = m.token("m2m-es256", "web-secret").await;
            assert_eq!(status, 200, "{body}");
            tokens.push(body["access_token"].as_str().unwrap().to_string());
        }
        for token in &tokens {
            let info = m.introspect(token).await;
            assert_eq!(info["active"], true, "{info}");
            assert_eq!(info["client_id"], "m2m-es256");
            assert_eq!(
                info["resource_access"]["api"]["roles"],
                serde_json::json!(["read"]),
                "{info}"
            );
        }
        assert_ne!(tokens[1], tokens[2], "each token has its own jti");

        // A wrong secret is refused even while the client is in memory.
        let (status, body) = m.token("m2m-es256", "not-the-secret").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        let (status, _) = m.token("m2m-es256", "web-secret").await;
        assert_eq!(status, 200, "the refusal did not evict the right secret");
    }
);

both_backends!(
    another_process_changing_a_client_shows_within_the_cache_lifetime,
    |backend: Backend| async move {
        let (server, clock) = start(backend).await;
        let m = Machine {
            server: &server,
            http: reqwest::Client::new(),
        };
        assert_eq!(m.token("m2m-rs256", "web-secret").await.0, 200);
        assert_eq!(m.token("m2m-eddsa", "web-secret").await.0, 200);

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
        assert_eq!(m.token("m2m-rs256", "web-secret").await.0, 200);
        assert_eq!(m.token("m2m-eddsa", "web-secret").await.0, 200);

        clock.advance(CACHE_LIFETIME_MICROS);
        let (status, body) = m.token("m2m-rs256", "web-secret").await;
        assert_eq!(
            status, 401,
            "the old secret is refused after the lifetime: {body}"
        );
        let (status, body) = m.token("m2m-eddsa", "web-secret").await;
        assert_eq!(status, 401, "the deleted client is refused: {body}");
        let (status, body) = m.token("m2m-rs256", &new_secret).await;
        assert_eq!(status, 200, "the new secret works: {body}");
    }
);
