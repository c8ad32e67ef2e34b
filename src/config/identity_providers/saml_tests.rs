//! The SAML keys of `[[identity_provider]]`: metadata sources, the metadata URL's form, SHA-1,
//! and the Entra preset over SAML, one test per default and per refusal.

use super::*;

const TENANT: &str = "b9f3c2d1-4e5a-4f6b-8c7d-9e0f1a2b3c4d";
const APP: &str = "0d6f7a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn saml(extra: &str) -> IdentityProviderDecl {
    toml::from_str(&format!(
        "realm = \"r\"\nalias = \"acme-saml\"\nkind = \"saml\"\n{extra}"
    ))
    .expect("parses")
}

fn file(name: &str) -> String {
    format!("metadata_file = \"{}\"\n", fixture(name))
}

fn entra(extra: &str) -> IdentityProviderDecl {
    saml(&format!(
        "preset = \"entra\"\ntenant_id = \"{TENANT}\"\n{extra}"
    ))
}

fn refusal(idp: &IdentityProviderDecl) -> String {
    idp.validate().expect_err("refused")
}

#[test]
fn a_metadata_url_alone_is_a_source() {
    let idp = saml("metadata_url = \"https://idp.example.com/metadata\"");
    idp.validate().expect("valid");
    assert_eq!(
        idp.metadata_source(),
        Ok(MetadataSource::Url(
            "https://idp.example.com/metadata".into()
        ))
    );
    // Read from the config, it is not: the runtime fetches it.
    assert!(idp.saml_metadata().unwrap_err().contains("fetched"));
}

#[test]
fn two_metadata_sources_are_refused() {
    let idp = saml(&format!(
        "{}metadata_url = \"https://idp.example.com/metadata\"",
        file("idp-metadata.xml")
    ));
    assert!(refusal(&idp).contains("not several"), "{}", refusal(&idp));
}

#[test]
fn no_metadata_source_is_refused() {
    assert!(refusal(&saml("")).contains("metadata_url"));
}

#[test]
fn an_http_metadata_url_is_refused_without_allow_insecure() {
    let err = refusal(&saml("metadata_url = \"http://idp.example.com/metadata\""));
    assert!(
        err.contains("not https") && err.contains("allow_insecure_metadata_url"),
        "{err}"
    );
}

#[test]
fn an_http_metadata_url_is_taken_with_allow_insecure() {
    saml("metadata_url = \"http://127.0.0.1:9/metadata\"\nallow_insecure_metadata_url = true")
        .validate()
        .expect("valid");
}

#[test]
fn a_metadata_url_of_another_scheme_is_refused_even_with_allow_insecure() {
    let idp = saml("metadata_url = \"file:///etc/passwd\"\nallow_insecure_metadata_url = true");
    assert!(
        refusal(&idp).contains("not an https URL"),
        "{}",
        refusal(&idp)
    );
}

#[test]
fn a_metadata_url_with_credentials_is_refused() {
    let idp = saml("metadata_url = \"https://user:pass@idp.example.com/metadata\"");
    assert!(refusal(&idp).contains("credentials"), "{}", refusal(&idp));
}

#[test]
fn allow_insecure_metadata_url_without_a_url_is_refused() {
    let idp = saml(&format!(
        "{}allow_insecure_metadata_url = true",
        file("idp-metadata.xml")
    ));
    assert!(refusal(&idp).contains("allow_insecure_metadata_url"));
}

#[test]
fn allow_sha1_and_an_insecure_metadata_url_are_warned_about() {
    let idp = saml(
        "metadata_url = \"http://127.0.0.1:9/metadata\"\nallow_insecure_metadata_url = true\nallow_sha1 = true",
    );
    let warnings = idp.warnings().join("\n");
    assert!(warnings.contains("allow_sha1 = true"), "{warnings}");
    assert!(
        warnings.contains("allow_insecure_metadata_url = true") && warnings.contains("tests only"),
        "{warnings}"
    );
    let quiet = saml(&file("idp-metadata.xml"));
    assert!(!quiet.warnings().join("\n").contains("allow_"));
}

#[test]
fn saml_metadata_keys_on_an_oidc_idp_are_refused() {
    for key in [
        "metadata_url = \"https://idp.example.com/m\"",
        "allow_sha1 = true",
        "allow_insecure_metadata_url = true",
        &format!("app_id = \"{APP}\""),
    ] {
        let idp: IdentityProviderDecl = toml::from_str(&format!(
            "realm = \"r\"\nalias = \"o\"\nkind = \"oidc\"\nclient_id = \"c\"\nclient_secret = {{ env = \"S\" }}\ndiscovery_url = \"https://idp.test/.well-known/openid-configuration\"\n{key}"
        ))
        .unwrap();
        assert!(refusal(&idp).contains("is a SAML setting"), "{key}");
    }
}

#[test]
fn the_entra_saml_preset_needs_a_tenant() {
    let err = refusal(&saml("preset = \"entra\""));
    assert!(err.contains("tenant_id"), "{err}");
}

#[test]
fn the_entra_saml_preset_refuses_a_tenant_that_is_not_a_guid() {
    let err = refusal(&saml(
        "preset = \"entra\"\ntenant_id = \"contoso.onmicrosoft.com\"",
    ));
    assert!(err.contains("not a tenant GUID"), "{err}");
}

#[test]
fn the_entra_saml_preset_refuses_a_tenant_list() {
    let idp = entra(&format!(
        "tenant_ids = [\"{TENANT}\"]\n{}",
        file("idp-metadata-entra.xml")
    ));
    assert!(refusal(&idp).contains("tenant_ids"), "{}", refusal(&idp));
}

#[test]
fn a_tenant_without_the_preset_is_refused_on_saml() {
    let idp = saml(&format!(
        "tenant_id = \"{TENANT}\"\n{}",
        file("idp-metadata.xml")
    ));
    assert!(
        refusal(&idp).contains("only for preset"),
        "{}",
        refusal(&idp)
    );
}

#[test]
fn the_entra_saml_preset_names_the_person_by_the_object_id() {
    let idp = entra(&file("idp-metadata-entra.xml"));
    idp.validate().expect("valid");
    assert_eq!(idp.effective_principal_attribute(), Some(ENTRA_OBJECT_ID));
    assert_eq!(idp.effective_external_id_claim(), Some(ENTRA_OBJECT_ID));
    let declared = entra(&format!(
        "{}principal_attribute = \"upn\"\nexternal_id_claim = \"employeeid\"",
        file("idp-metadata-entra.xml")
    ));
    assert_eq!(declared.effective_principal_attribute(), Some("upn"));
    assert_eq!(declared.effective_external_id_claim(), Some("employeeid"));
    let plain = saml(&file("idp-metadata.xml"));
    assert_eq!(plain.effective_principal_attribute(), None);
    assert_eq!(plain.effective_external_id_claim(), None);
}

#[test]
fn the_entra_saml_preset_allows_five_minutes_of_skew_unless_set() {
    assert_eq!(
        entra(&file("idp-metadata-entra.xml")).clock_skew_secs(),
        300
    );
    let set = entra(&format!(
        "{}clock_skew_secs = 30",
        file("idp-metadata-entra.xml")
    ));
    assert_eq!(set.clock_skew_secs(), 30);
    assert_eq!(saml(&file("idp-metadata.xml")).clock_skew_secs(), 60);
}

#[test]
fn the_entra_saml_preset_defaults_to_its_tenants_metadata_url() {
    let idp = entra("");
    idp.validate().expect("valid");
    assert_eq!(
        idp.metadata_source(),
        Ok(MetadataSource::Url(format!(
            "https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml"
        )))
    );
}

#[test]
fn the_entra_saml_preset_asks_for_app_specific_keys_with_app_id() {
    let idp = entra(&format!("app_id = \"{APP}\""));
    idp.validate().expect("valid");
    assert_eq!(
        idp.metadata_source(),
        Ok(MetadataSource::Url(format!(
            "https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml?appid={APP}"
        )))
    );
}

#[test]
fn an_app_id_that_is_not_a_guid_is_refused() {
    let err = refusal(&entra("app_id = \"my-app\""));
    assert!(err.contains("not an application GUID"), "{err}");
}

#[test]
fn an_app_id_beside_explicit_metadata_is_refused() {
    let idp = entra(&format!(
        "app_id = \"{APP}\"\n{}",
        file("idp-metadata-entra.xml")
    ));
    assert!(
        refusal(&idp).contains("default metadata URL"),
        "{}",
        refusal(&idp)
    );
}

#[test]
fn the_entra_saml_preset_refuses_metadata_of_another_entity() {
    let err = refusal(&entra(&file("idp-metadata.xml")));
    assert!(
        err.contains("https://idp.test/saml/metadata")
            && err.contains(&format!("https://sts.windows.net/{TENANT}/")),
        "{err}"
    );
}

#[test]
fn the_entra_saml_preset_takes_its_tenants_metadata() {
    let idp = entra(&file("idp-metadata-entra.xml"));
    let metadata = idp.saml_metadata().expect("metadata");
    assert_eq!(
        metadata.entity_id,
        format!("https://sts.windows.net/{TENANT}/")
    );
    assert!(metadata.signing_certificates().count() >= 1);
}
