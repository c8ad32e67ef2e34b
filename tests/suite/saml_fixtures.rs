//! Every fixture of `tests/fixtures/saml/` (made by its `make-fixtures.sh` with Debian's
//! `xmlsec1` and a fixed clock) through the SP's checks, `federation::saml::decode` then
//! `verify`, at the fixtures' instant: each one the manifest says must be refused is refused,
//! or yields only the subject the manifest allows; each valid one yields alice.

use std::path::PathBuf;

use base64::Engine;
use serde::Deserialize;
use vestibule::config::saml_metadata::IdpMetadata;
use vestibule::config::IdentityProviderDecl;
use vestibule::federation::saml::{self, Connection};

#[derive(Deserialize)]
struct Manifest {
    sp_entity_id: String,
    acs: String,
    in_response_to: String,
    refused_metadata: Vec<String>,
    fixture: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    file: String,
    expect: String,
    subject: Option<String>,
    or_subject: Option<String>,
    never_subject: Option<String>,
    metadata: String,
}

/// 2030-01-01T00:00:00Z, the manifest's clock.
const T: i64 = 1_893_456_000_000_000;

/// Valid fixtures this connection refuses by its settings: an IdP-initiated response (off
/// unless enabled).
const REFUSED_BY_SETTINGS: [&str; 1] = ["valid-idp-initiated.xml"];

/// The SP's decryption key the encrypted fixtures are encrypted to.
fn sp_keys() -> Vec<openssl::pkey::PKey<openssl::pkey::Private>> {
    let pem = std::fs::read(dir().join("sp-enc-key.pem")).expect("SP key");
    vec![openssl::pkey::PKey::private_key_from_pem(&pem).expect("a PEM key")]
}

fn dir() -> PathBuf {
    crate::common::fixture("saml")
}

fn manifest() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.toml")).expect("manifest");
    toml::from_str(&text).expect("manifest parses")
}

fn decl(m: &Manifest, metadata: &str, extra: &str) -> IdentityProviderDecl {
    let decl: IdentityProviderDecl = toml::from_str(&format!(
        "realm = \"test\"\nalias = \"acme-saml\"\nkind = \"saml\"\norganization = \"acme\"\n\
         sp_entity_id = \"{}\"\nmetadata_file = \"{}\"\n{extra}",
        m.sp_entity_id,
        dir().join(metadata).display()
    ))
    .expect("declaration");
    decl.validate().expect("a valid declaration");
    decl
}

/// The fixture through decode and verify: the principal, or the refusal.
fn outcome(m: &Manifest, decl: &IdentityProviderDecl, file: &str) -> Result<String, String> {
    let metadata = decl.saml_metadata().expect("metadata");
    let conn = Connection {
        idp: decl,
        metadata: &metadata,
        sp_entity_id: m.sp_entity_id.clone(),
        acs_url: m.acs.clone(),
    };
    let xml = std::fs::read(dir().join(file)).expect("fixture");
    let posted = base64::engine::general_purpose::STANDARD.encode(xml);
    let text = saml::decode(&posted).map_err(|e| e.0)?;
    saml::verify(&conn, &text, Some(m.in_response_to.as_str()), T, &sp_keys())
        .map(|v| v.principal)
        .map_err(|e| e.0)
}

/// The connection settings a fixture is meant for: a Response signed as a whole, its assertion
/// not, only for a connection that asks for the response's signature instead of the assertion's.
fn settings_for(file: &str) -> &'static str {
    match file {
        "valid-signed-response.xml" | "valid-encrypted-cbc-signed-response.xml" => {
            "want_assertions_signed = false\nwant_response_signed = true"
        }
        _ => "",
    }
}

#[test]
fn every_fixture_is_refused_or_yields_only_the_signed_subject() {
    let m = manifest();
    assert!(m.fixture.len() >= 50, "the corpus is there");
    let mut checked = 0;
    for f in &m.fixture {
        let decl = decl(&m, &f.metadata, settings_for(&f.file));
        let got = outcome(&m, &decl, &f.file);
        if let Ok(principal) = &got {
            assert_ne!(Some(principal), f.never_subject.as_ref(), "{}", f.file);
        }
        match (
            f.expect.as_str(),
            REFUSED_BY_SETTINGS.contains(&f.file.as_str()),
        ) {
            ("accept", false) => {
                assert_eq!(got.as_ref(), Ok(f.subject.as_ref().unwrap()), "{}", f.file)
            }
            ("accept", true) => {
                let why = got.expect_err(&f.file);
                assert!(why.contains("InResponseTo"), "{}: {why}", f.file);
            }
            _ => match &got {
                Err(_) => {}
                Ok(principal) => assert_eq!(
                    Some(principal),
                    f.or_subject.as_ref(),
                    "{} was accepted",
                    f.file
                ),
            },
        }
        checked += 1;
    }
    assert_eq!(checked, m.fixture.len());
}

#[test]
fn a_connection_that_wants_the_assertion_signed_refuses_a_response_signed_alone() {
    let m = manifest();
    let decl = decl(&m, "idp-metadata.xml", "");
    let why = outcome(&m, &decl, "valid-signed-response.xml").unwrap_err();
    assert!(why.contains("Assertion is not signed"), "{why}");
    let strict = self::decl(&m, "idp-metadata.xml", "want_response_signed = true");
    let why = outcome(&m, &strict, "valid-signed-assertion.xml").unwrap_err();
    assert!(why.contains("Response is not signed"), "{why}");
    assert_eq!(
        outcome(&m, &strict, "valid-both-signed.xml").as_deref(),
        Ok("alice@acme.test")
    );
}

#[test]
fn the_fixtures_times_hold_only_at_their_instant() {
    let m = manifest();
    let decl = decl(&m, "idp-metadata.xml", "");
    let metadata = decl.saml_metadata().unwrap();
    let conn = Connection {
        idp: &decl,
        metadata: &metadata,
        sp_entity_id: m.sp_entity_id.clone(),
        acs_url: m.acs.clone(),
    };
    let xml = std::fs::read_to_string(dir().join("valid-signed-assertion.xml")).unwrap();
    let keys = sp_keys();
    let at = |now: i64| {
        saml::verify(&conn, &xml, Some(m.in_response_to.as_str()), now, &keys).map(|v| v.principal)
    };
    assert!(at(T).is_ok());
    // Ten minutes on (NotOnOrAfter is T + 5 min, skew 60 s): expired.
    assert!(at(T + 600_000_000).unwrap_err().0.contains("expired"));
    // Five minutes before (NotBefore is T - 1 min): not yet.
    assert!(at(T - 300_000_000).unwrap_err().0.contains("not valid yet"));
    // Two minutes before (within NotBefore's skew): issued (at T) in the future.
    assert!(at(T - 120_000_000)
        .unwrap_err()
        .0
        .contains("issued in the future"));
    // Another request: the response answers someone else's.
    let other = saml::verify(&conn, &xml, Some("_another_request"), T, &keys).unwrap_err();
    assert!(other.0.contains("InResponseTo"), "{other}");
}

#[test]
fn metadata_without_a_signing_certificate_is_refused_as_a_configuration() {
    let m = manifest();
    for file in &m.refused_metadata {
        let decl: IdentityProviderDecl = toml::from_str(&format!(
            "realm = \"test\"\nalias = \"acme-saml\"\nkind = \"saml\"\nmetadata_file = \"{}\"",
            dir().join(file).display()
        ))
        .unwrap();
        let err = decl.validate().unwrap_err();
        assert!(err.contains("no certificate usable for signing"), "{err}");
        assert!(IdpMetadata::parse(&std::fs::read_to_string(dir().join(file)).unwrap()).is_err());
    }
}

#[test]
fn the_sha1_fixtures_are_accepted_only_with_allow_sha1() {
    let m = manifest();
    let strict = decl(&m, "idp-metadata.xml", "");
    let sha1 = decl(&m, "idp-metadata.xml", "allow_sha1 = true");
    for file in ["sha1-signature.xml", "sha1-digest-under-rsa-sha256.xml"] {
        assert!(outcome(&m, &strict, file).is_err(), "{file}");
        assert_eq!(
            outcome(&m, &sha1, file).as_deref(),
            Ok("alice@acme.test"),
            "{file}"
        );
    }
    let why = outcome(&m, &sha1, "hmac-signature.xml").unwrap_err();
    assert!(why.contains("does not accept"), "{why}");
}

#[test]
fn the_entra_fixture_names_the_person_by_the_object_id_under_the_entra_preset() {
    let m = manifest();
    let entra = decl(
        &m,
        "idp-metadata-entra.xml",
        "preset = \"entra\"\ntenant_id = \"b9f3c2d1-4e5a-4f6b-8c7d-9e0f1a2b3c4d\"",
    );
    assert_eq!(
        outcome(&m, &entra, "valid-entra-signed-assertion.xml").as_deref(),
        Ok("6f1d3c52-8a43-4a0e-9c6b-2f7d1e0a5b11")
    );
    let why = outcome(&m, &entra, "entra-other-tenant.xml").unwrap_err();
    assert!(why.contains("Issuer"), "{why}");
}

#[test]
fn allow_sha1_changes_the_outcome_of_the_sha1_fixtures_only() {
    let m = manifest();
    let sha1_files = ["sha1-signature.xml", "sha1-digest-under-rsa-sha256.xml"];
    for f in &m.fixture {
        let extra = settings_for(&f.file);
        let strict = outcome(&m, &decl(&m, &f.metadata, extra), &f.file);
        let sha1_extra = format!("{extra}\nallow_sha1 = true");
        let relaxed = outcome(&m, &decl(&m, &f.metadata, &sha1_extra), &f.file);
        if sha1_files.contains(&f.file.as_str()) {
            assert!(strict.is_err(), "{}", f.file);
            assert_eq!(relaxed.as_deref(), Ok("alice@acme.test"), "{}", f.file);
        } else {
            assert_eq!(strict.ok(), relaxed.ok(), "{}", f.file);
        }
    }
}
