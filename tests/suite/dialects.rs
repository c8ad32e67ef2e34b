//! Every refusal in its route's own dialect, never actix's plain text: OAuth JSON (RFC 6749
//! §5.2) for machine endpoints, the HTML error page for people, SCIM errors under SCIM, and
//! problem details (RFC 9457) for paths that are no protocol's.

use serde_json::Value;

use crate::common::oidc::{start_issuer, RelyingParty};
use crate::common::{tenant, Backend};

fn content_type(reply: &reqwest::Response) -> String {
    reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string()
}

both_backends!(
    malformed_requests_are_answered_in_the_routes_dialect,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer(backend, &[&acme]).await;
        let rp = RelyingParty::new(&server);
        // Machine endpoints: a body that is not a form, a form too large, a method not served.
        for endpoint in ["/token", "/token/introspect", "/revoke"] {
            let reply = rp
                .http
                .post(rp.oidc(endpoint))
                .header("content-type", "application/json")
                .body(r#"{"grant_type": "client_credentials"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "{endpoint}");
            assert!(content_type(&reply).starts_with("application/json"));
            let body: Value = reply.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{endpoint}");
            assert_eq!(body["error_description"], "the form is not valid");
        }
        let huge = format!(
            "grant_type=client_credentials&pad={}",
            "x".repeat(64 * 1024)
        );
        let reply = rp
            .http
            .post(rp.oidc("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 413);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let reply = rp.http.get(rp.oidc("/token")).send().await.unwrap();
        assert_eq!(reply.status(), 405);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");

        // People: the login form's actions answer with the HTML page.
        for action in ["/login-actions/authenticate", "/login-actions/organization"] {
            let reply = rp
                .http
                .post(rp.url(action))
                .header("content-type", "text/plain")
                .body("request=x")
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "{action}");
            assert!(content_type(&reply).starts_with("text/html"), "{action}");
            assert!(reply
                .text()
                .await
                .unwrap()
                .contains("the form is not valid"));
        }
        let reply = rp
            .http
            .delete(rp.url("/login-actions/authenticate"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 405);
        assert!(content_type(&reply).starts_with("text/html"));

        // No protocol's path: problem details.
        for path in ["/nowhere", "/realms/test/nowhere"] {
            let reply = rp
                .http
                .get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 404, "{path}");
            assert_eq!(content_type(&reply), "application/problem+json");
            let body: Value = reply.json().await.unwrap();
            assert_eq!(body["status"], 404);
            assert_eq!(body["title"], "Not Found");
        }
        server.stop().await;
    }
);
