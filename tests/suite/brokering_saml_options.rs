//! A SAML connection's own settings through HTTP on both databases, with the fixtures and
//! clock of `brokering_saml.rs`: `allow_sha1` (SHA-1 refused unless set; an algorithm outside
//! every list refused even then) and `preset = "entra"` (Entra's SAML app: the object id names
//! the person and links the user the directory pushed; another tenant's response is refused).

use std::sync::Arc;

use serde_json::json;
use vestibule::clock::FixedClock;

use crate::brokering::refused;
use crate::brokering_saml::{
    login_answered_by, push_alice, saml_idp, sp_config, start_sp, PUBLIC_URL, T,
};
use crate::common::oidc::{query_of, WEB};
use crate::common::{fixture, tenant, Backend, Tenant, TestDb, TestServer};

/// The tenant and object id of the Entra fixtures (fixtures.py).
const ENTRA_TENANT: &str = "b9f3c2d1-4e5a-4f6b-8c7d-9e0f1a2b3c4d";
const ENTRA_OID: &str = "6f1d3c52-8a43-4a0e-9c6b-2f7d1e0a5b11";
const ENTRA_GROUP: &str = "3f2a9c1e-7b4d-4e8a-9f61-0c5d2b8e7a10";

async fn start_with_sha1(backend: Backend) -> TestServer {
    start_sp(backend, |c| c.identity_providers[0].allow_sha1 = true).await
}

async fn accepted(server: &TestServer, file: &str) {
    let (rp, landing) = login_answered_by(server, file).await;
    assert_eq!(landing.status, 302, "{file}: {}", landing.body);
    let back = landing.location.expect("back to the client");
    let tokens = rp.exchange(WEB, &query_of(&back)["code"]).await;
    assert_eq!(tokens.id()["email"], "alice@acme.test");
}

async fn refused_at_the_acs(server: &TestServer, file: &str) {
    let (_, landing) = login_answered_by(server, file).await;
    refused(&landing, 400);
}

both_backends!(
    a_sha1_digest_under_rsa_sha256_is_refused_by_default,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        refused_at_the_acs(&server, "sha1-digest-under-rsa-sha256.xml").await;
        server.stop().await;
    }
);

both_backends!(
    a_sha1_signature_is_accepted_with_allow_sha1,
    |backend: Backend| async move {
        let server = start_with_sha1(backend).await;
        accepted(&server, "sha1-signature.xml").await;
        server.stop().await;
    }
);

both_backends!(
    a_sha1_digest_under_rsa_sha256_is_accepted_with_allow_sha1,
    |backend: Backend| async move {
        let server = start_with_sha1(backend).await;
        accepted(&server, "sha1-digest-under-rsa-sha256.xml").await;
        server.stop().await;
    }
);

both_backends!(
    sha256_signatures_are_still_accepted_with_allow_sha1,
    |backend: Backend| async move {
        let server = start_with_sha1(backend).await;
        accepted(&server, "valid-both-signed.xml").await;
        server.stop().await;
    }
);

both_backends!(
    an_hmac_signature_is_refused_even_with_allow_sha1,
    |backend: Backend| async move {
        let server = start_with_sha1(backend).await;
        refused_at_the_acs(&server, "hmac-signature.xml").await;
        server.stop().await;
    }
);

both_backends!(
    an_hmac_signature_is_refused_by_default,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        refused_at_the_acs(&server, "hmac-signature.xml").await;
        server.stop().await;
    }
);

/// The acme connection as Entra's SAML app of the fixtures' tenant, its metadata from a file
/// (the preset's default URL is Microsoft's); with acme's directory, to push people with.
async fn start_entra(backend: Backend) -> (TestServer, Tenant) {
    let acme = tenant("acme");
    let db = TestDb::new(backend);
    let mut idp = saml_idp(&format!(
        "preset = \"entra\"\ntenant_id = \"{ENTRA_TENANT}\""
    ));
    idp.metadata_file = Some(fixture("saml/idp-metadata-entra.xml"));
    idp.validate().expect("a valid Entra SAML connection");
    let cfg = sp_config(&db, &acme, idp);
    let clock = Arc::new(FixedClock::new(T));
    let server = TestServer::start_behind(db, cfg, clock, Some(PUBLIC_URL)).await;
    (server, acme)
}

both_backends!(
    an_entra_saml_app_signs_in_the_person_the_directory_pushed_as_the_same_user,
    |backend: Backend| async move {
        let (server, acme) = start_entra(backend).await;
        // acme's directory (Entra provisioning) pushed alice, her externalId the object id.
        let scim_id = push_alice(&server, &acme, ENTRA_OID).await;
        // ...and the group behind the first object id the assertion lists.
        let group = server
            .scim(&acme)
            .post(
                "/Groups",
                &json!({"displayName": "Engineering", "externalId": ENTRA_GROUP}),
            )
            .await;
        assert_eq!(group.status, 201, "{:?}", group.body);
        let (rp, landing) = login_answered_by(&server, "valid-entra-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let back = landing.location.expect("back to the client");
        let tokens = rp.exchange(WEB, &query_of(&back)["code"]).await;
        assert_eq!(tokens.access["sub"], json!(scim_id));
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert_eq!(tokens.access["groups"], json!(["/Engineering"]));
        // The link is on the object id, not the NameID (a UPN that can change).
        let mut conn = server.state.db.get().unwrap();
        let links = vestibule::db::models::federated::for_user(&mut conn, &scim_id).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].subject, ENTRA_OID);
        drop(conn);
        server.stop().await;
    }
);

both_backends!(
    an_entra_response_issued_by_another_tenant_is_refused,
    |backend: Backend| async move {
        let (server, _) = start_entra(backend).await;
        refused_at_the_acs(&server, "entra-other-tenant.xml").await;
        server.stop().await;
    }
);
