//! A SAML IdP's metadata from its `metadata_url` (federation.md requirement 27): fetched from a
//! loopback server inside the test (`allow_insecure_metadata_url = true`, the testing-only
//! switch) and logged in through, refreshed, and refused for each way a URL or its answer can
//! be wrong. Logins run through HTTP on both databases with the fixtures and clock of
//! `brokering_saml.rs`; what is refused before any login is shown through the fetcher, the
//! daemon's start and `check-config`, each with proof that no connection was made where none
//! may be.

use std::sync::Arc;

use vestibule::clock::FixedClock;
use vestibule::config::{Config, IdentityProviderDecl};
use vestibule::federation::saml_metadata_url;

use crate::brokering::refused;
use crate::brokering_saml::{
    login_answered_by, quickstart_saml, run, saml_idp, sp_config, start_sp, ALIAS, T,
};
use crate::common::metadata_server::{Answer, MetadataServer, Silent};
use crate::common::{fixture, tenant, Backend, TestDb, REALM};

/// The fixtures' instant, in seconds.
const NOW: i64 = T / 1_000_000;

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("saml/{name}"))).expect("fixture")
}

/// A certificate PEM's base64 body, as metadata carries it.
fn cert_b64(pem: &str) -> String {
    read(pem)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// `idp-metadata.xml` with the attacker's certificate in place of the IdP's: the same entity,
/// a signing key the fixtures were not signed with.
fn metadata_with_another_key() -> String {
    let text = read("idp-metadata.xml");
    let ours = cert_b64("idp-cert.pem");
    assert!(text.contains(&ours));
    text.replace(&ours, &cert_b64("attacker-cert.pem"))
}

/// A declaration of the acme SAML IdP whose metadata is at `url`.
fn from_url(url: &str, insecure: bool) -> IdentityProviderDecl {
    let mut idp = saml_idp(&format!(
        "metadata_url = \"{url}\"\nallow_insecure_metadata_url = {insecure}"
    ));
    idp.metadata_file = None;
    idp
}

fn use_url(config: &mut Config, url: &str) {
    config.identity_providers[0] = from_url(url, true);
}

/// The fetcher's answer for `idp` at the fixtures' instant.
async fn fetch(idp: &IdentityProviderDecl) -> Result<String, String> {
    let url = idp.metadata_url.clone().expect("a metadata URL");
    saml_metadata_url::fetch(idp, &url, NOW)
        .await
        .map(|m| m.entity_id)
}

both_backends!(
    a_saml_idp_signs_a_person_in_through_metadata_fetched_from_its_url,
    |backend: Backend| async move {
        let idp = MetadataServer::start(Answer::ok(read("idp-metadata.xml")));
        let server = start_sp(backend, |c| use_url(c, &idp.url("/metadata"))).await;
        assert_eq!(idp.connections(), 1, "fetched once, at start");
        let (_, landing) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        server.stop().await;
    }
);

both_backends!(
    a_metadata_refresh_picks_up_a_new_signing_certificate,
    |backend: Backend| async move {
        let idp = MetadataServer::start(Answer::ok(metadata_with_another_key()));
        let server = start_sp(backend, |c| use_url(c, &idp.url("/metadata"))).await;
        // Signed with a key the metadata does not hold yet.
        let (_, before) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        refused(&before, 400);
        // The IdP rolls over to the key it signs with; the refresh is the background task's step.
        idp.serve(Answer::ok(read("idp-metadata.xml")));
        let next = server
            .state
            .federation
            .refresh_saml_metadata(REALM, ALIAS)
            .await
            .expect("refreshed");
        assert_eq!(next, 86_400, "no validUntil or cacheDuration: daily");
        let (_, after) = login_answered_by(&server, "valid-both-signed.xml").await;
        assert_eq!(after.status, 302, "{}", after.body);
        server.stop().await;
    }
);

both_backends!(
    a_failed_metadata_refresh_keeps_the_last_good_metadata,
    |backend: Backend| async move {
        let idp = MetadataServer::start(Answer::ok(read("idp-metadata.xml")));
        let server = start_sp(backend, |c| use_url(c, &idp.url("/metadata"))).await;
        let federation = &server.state.federation;
        for (n, answer) in [
            Answer::status(500),
            Answer::ok(read("idp-metadata-no-signing-cert.xml")),
            Answer::ok(metadata_with_another_key().replace(
                "entityID=\"https://idp.test/saml/metadata\"",
                "entityID=\"https://evil.test/saml/metadata\"",
            )),
        ]
        .into_iter()
        .enumerate()
        {
            idp.serve(answer);
            assert!(federation
                .refresh_saml_metadata(REALM, ALIAS)
                .await
                .is_err());
            assert_eq!(
                federation.saml_metadata_failures(REALM, ALIAS),
                n as u32 + 1
            );
        }
        // Three failures in a row (the third a warning in the log): logins go on as before.
        let (_, landing) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        idp.serve(Answer::ok(read("idp-metadata.xml")));
        federation
            .refresh_saml_metadata(REALM, ALIAS)
            .await
            .expect("refreshed");
        assert_eq!(federation.saml_metadata_failures(REALM, ALIAS), 0);
        server.stop().await;
    }
);

both_backends!(
    the_daemon_does_not_start_on_metadata_it_cannot_fetch,
    |backend: Backend| async move {
        let idp = MetadataServer::start(Answer::status(404));
        let db = TestDb::new(backend);
        let mut config = sp_config(&db, &tenant("acme"), from_url(&idp.url("/metadata"), true));
        config.server.public_url = "https://sp.test".into();
        let started = tokio::task::spawn_blocking(move || {
            vestibule::prepare(config, Arc::new(FixedClock::new(T))).map(|_| ())
        })
        .await
        .unwrap();
        let err = started.expect_err("refused").to_string();
        assert!(
            err.contains(&format!("identity_provider \"{ALIAS}\"")) && err.contains("HTTP 404"),
            "{err}"
        );
    }
);

#[actix_web::test]
async fn an_https_metadata_url_to_a_loopback_address_is_refused_before_connecting() {
    let silent = Silent::bind();
    let idp = from_url(
        &format!("https://127.0.0.1:{}/metadata", silent.port()),
        false,
    );
    let err = fetch(&idp).await.unwrap_err();
    assert!(
        err.contains("127.0.0.1") && err.contains("not a globally routable address"),
        "{err}"
    );
    assert!(!silent.was_reached());
}

#[actix_web::test]
async fn a_metadata_host_that_resolves_to_loopback_is_refused_before_connecting() {
    let silent = Silent::bind();
    let idp = from_url(
        &format!("https://localhost:{}/metadata", silent.port()),
        false,
    );
    let err = fetch(&idp).await.unwrap_err();
    assert!(err.contains("not a globally routable address"), "{err}");
    assert!(!silent.was_reached());
}

#[actix_web::test]
async fn an_http_metadata_url_is_refused_by_the_fetcher_without_allow_insecure() {
    // The config refuses it at load already; the fetcher does not rely on that.
    let silent = Silent::bind();
    let idp = from_url(
        &format!("http://127.0.0.1:{}/metadata", silent.port()),
        false,
    );
    assert!(fetch(&idp).await.unwrap_err().contains("is not https"));
    assert!(!silent.was_reached());
}

#[actix_web::test]
async fn a_metadata_redirect_is_not_followed() {
    let target = Silent::bind();
    let idp = MetadataServer::start(Answer::redirect(&format!(
        "http://127.0.0.1:{}/metadata",
        target.port()
    )));
    let err = fetch(&from_url(&idp.url("/metadata"), true))
        .await
        .unwrap_err();
    assert!(
        err.contains("HTTP 302") && err.contains("not followed"),
        "{err}"
    );
    assert_eq!(idp.connections(), 1);
    assert!(!target.was_reached());
}

/// A metadata document padded past the cap with whitespace inside the root element.
fn oversized() -> Vec<u8> {
    let text = read("idp-metadata.xml");
    let padding = " ".repeat(vestibule::config::saml_metadata::MAX_METADATA_BYTES);
    text.replacen(
        "<md:IDPSSODescriptor",
        &format!("{padding}<md:IDPSSODescriptor"),
        1,
    )
    .into_bytes()
}

#[actix_web::test]
async fn an_oversized_metadata_document_is_refused() {
    let idp = MetadataServer::start(Answer::ok(oversized()));
    let err = fetch(&from_url(&idp.url("/metadata"), true))
        .await
        .unwrap_err();
    assert!(err.contains("larger than 262144 bytes"), "{err}");
    assert!(
        !err.contains("EntityDescriptor"),
        "never the document: {err}"
    );
}

#[actix_web::test]
async fn an_oversized_metadata_document_of_no_announced_length_is_refused() {
    let mut answer = Answer::ok(oversized());
    answer.with_length = false;
    let idp = MetadataServer::start(answer);
    let err = fetch(&from_url(&idp.url("/metadata"), true))
        .await
        .unwrap_err();
    assert!(err.contains("larger than 262144 bytes"), "{err}");
}

#[actix_web::test]
async fn fetched_metadata_without_a_signing_certificate_is_refused() {
    let idp = MetadataServer::start(Answer::ok(read("idp-metadata-no-signing-cert.xml")));
    let err = fetch(&from_url(&idp.url("/metadata"), true))
        .await
        .unwrap_err();
    assert!(
        err.contains(&format!("identity_provider \"{ALIAS}\""))
            && err.contains("no certificate usable for signing"),
        "{err}"
    );
}

#[actix_web::test]
async fn fetched_metadata_whose_valid_until_has_passed_is_refused() {
    let stale = read("idp-metadata.xml").replacen(
        "<md:EntityDescriptor ",
        "<md:EntityDescriptor validUntil=\"2029-12-31T00:00:00Z\" ",
        1,
    );
    let idp = MetadataServer::start(Answer::ok(stale));
    let err = fetch(&from_url(&idp.url("/metadata"), true))
        .await
        .unwrap_err();
    assert!(err.contains("validUntil has passed"), "{err}");
}

#[actix_web::test]
async fn fetched_metadata_is_refreshed_as_soon_as_its_cache_duration_says() {
    let short = read("idp-metadata.xml").replacen(
        "<md:EntityDescriptor ",
        "<md:EntityDescriptor cacheDuration=\"PT1H\" ",
        1,
    );
    let idp = MetadataServer::start(Answer::ok(short));
    let decl = from_url(&idp.url("/metadata"), true);
    let metadata = saml_metadata_url::fetch(&decl, &idp.url("/metadata"), NOW)
        .await
        .expect("metadata");
    assert_eq!(metadata.cache_duration_secs, Some(3_600));
    assert_eq!(
        vestibule::federation::saml_metadata_refresh::refresh_after(&metadata, NOW),
        3_600
    );
}

/// `check-config` on a config whose acme-saml IdP has `metadata_line`; (success, output).
fn check_config(metadata_line: &str) -> (bool, String) {
    vestibule_with(metadata_line, &["check-config"])
}

/// The `vestibule` command `args` on a config whose acme-saml IdP has `metadata_line`.
fn vestibule_with(metadata_line: &str, args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    run(
        &quickstart_saml(dir.path(), "vestibule.toml", metadata_line),
        args,
    )
}

#[test]
fn check_config_refuses_an_http_metadata_url_without_allow_insecure_and_connects_nowhere() {
    let silent = Silent::bind();
    let (ok, text) = check_config(&format!(
        "metadata_url = \"http://127.0.0.1:{}/metadata\"",
        silent.port()
    ));
    assert!(!ok, "{text}");
    assert!(
        text.contains("acme-saml") && text.contains("metadata_url") && text.contains("not https"),
        "{text}"
    );
    assert!(!silent.was_reached());
}

#[test]
fn check_config_refuses_an_https_metadata_url_to_loopback_and_connects_nowhere() {
    let silent = Silent::bind();
    let (ok, text) = check_config(&format!(
        "metadata_url = \"https://127.0.0.1:{}/metadata\"",
        silent.port()
    ));
    assert!(!ok, "{text}");
    assert!(
        text.contains("identity_provider \"acme-saml\"")
            && text.contains("not a globally routable address"),
        "{text}"
    );
    assert!(!silent.was_reached());
}

#[test]
fn check_config_and_idp_show_and_list_fetch_a_metadata_url_and_warn_that_it_is_insecure() {
    let idp = MetadataServer::start(Answer::ok(read("idp-metadata.xml")));
    let (ok, text) = check_config(&format!(
        "metadata_url = \"{}\"\nallow_insecure_metadata_url = true",
        idp.url("/metadata")
    ));
    assert!(ok, "{text}");
    assert!(
        text.contains("entity ID https://idp.test/saml/metadata, 1 signing certificate(s)"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: identity_provider \"acme-saml\": allow_insecure_metadata_url = true"
        ),
        "{text}"
    );
    assert_eq!(idp.connections(), 1);
    let line = format!(
        "metadata_url = \"{}\"\nallow_insecure_metadata_url = true",
        idp.url("/metadata")
    );
    let (ok, show) = vestibule_with(
        &line,
        &["idp", "show", "--realm", "quickstart", "acme-saml"],
    );
    assert!(ok, "{show}");
    assert!(
        show.contains(&format!("IdP metadata: {}", idp.url("/metadata")))
            && show.contains("IdP entity ID: https://idp.test/saml/metadata"),
        "{show}"
    );
    let (ok, list) = vestibule_with(&line, &["idp", "list"]);
    assert!(
        ok && list.contains("IdP entity ID https://idp.test/saml/metadata"),
        "{list}"
    );
    assert_eq!(idp.connections(), 3);
    // The document fetched but refused: the IdP and the reason, not the document.
    idp.serve(Answer::ok(read("idp-metadata-no-signing-cert.xml")));
    let (ok, text) = check_config(&format!(
        "metadata_url = \"{}\"\nallow_insecure_metadata_url = true",
        idp.url("/metadata")
    ));
    assert!(!ok, "{text}");
    assert!(
        text.contains("identity_provider \"acme-saml\"")
            && text.contains("no certificate usable for signing")
            && !text.contains("X509Certificate"),
        "{text}"
    );
}
