//! Issue 7's defects, each pinned through HTTP on both databases: an `aud` in every access
//! token (RFC 9068 §2.2).

use crate::common::oidc::{claims_of, start_issuer, RelyingParty, WEB};
use crate::common::{tenant, Backend};
use serde_json::Value;

fn token<'v>(body: &'v Value, name: &str) -> &'v str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
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
