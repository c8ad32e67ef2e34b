//! The SAML IdP of `tests/peers/saml` (SimpleSAMLphp from Debian) behaves as the broker's
//! tests assume, seen from a tiny SP written here: its metadata, SP-initiated login through the
//! login page with a Redirect-binding AuthnRequest, the signed Response posted to the ACS (checked
//! with Debian's `xmlsec1`), NameID formats, attributes, an encrypted assertion for a second SP,
//! IdP-initiated login, and single logout both ways. No Vestibule, no database.

mod test_sp;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::common::saml_peer::{
    pem_body, redirect_binding_message, redirect_binding_signature_verifies, redirect_binding_url,
    signed_redirect_binding_url, SamlSp, SamlVisit, TestKeyPair,
};
use test_sp::*;

#[actix_web::test]
async fn saml_peer_metadata_has_a_signing_certificate_and_its_endpoints() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let metadata = peer.metadata_xml();
    assert_eq!(
        attr(metadata, "md:EntityDescriptor", "entityID").as_deref(),
        Some(peer.entity_id().as_str())
    );
    assert_eq!(
        peer.entity_id(),
        format!("{}/saml2/idp/metadata.php", peer.base)
    );
    assert_eq!(
        pem_body(&metadata_signing_cert(&peer)),
        peer.keys.cert_base64()
    );
    let sso = format!(
        r#"<md:SingleSignOnService Binding="{REDIRECT}" Location="{}"/>"#,
        peer.sso_url()
    );
    assert!(metadata.contains(&sso), "{metadata}");
    let slo = format!(
        r#"<md:SingleLogoutService Binding="{REDIRECT}" Location="{}"/>"#,
        peer.slo_url()
    );
    assert!(metadata.contains(&slo), "{metadata}");
    assert!(metadata.contains(&format!(
        "<md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>"
    )));
    assert!(metadata.contains(&format!(
        "<md:NameIDFormat>{PERSISTENT_FORMAT}</md:NameIDFormat>"
    )));
    assert_eq!(peer.sp_entity_ids(), [SP]);
    // The same document from its URL.
    let fetched = reqwest::get(peer.metadata_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fetched.contains(&sso));
}

#[actix_web::test]
async fn saml_peer_login_posts_a_signed_response_to_the_acs() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let (url, request_id) = sp.authn_request(&peer, None);
    let browser = peer.browser();
    let SamlVisit::Form(login) = browser.visit(&url).await else {
        panic!("no login page\n{}", peer.log());
    };
    assert!(login.fields.contains_key("username") && login.fields.contains_key("password"));
    let form = browser
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, relay_state) = sp.receive_at_acs(&form).await;
    assert_eq!(relay_state, "relay-1");

    assert_eq!(
        attr(&response, "samlp:Response", "InResponseTo"),
        Some(request_id.clone())
    );
    assert_eq!(
        attr(&response, "samlp:Response", "Destination"),
        Some(sp.acs.clone())
    );
    assert_eq!(
        attr(&response, "samlp:StatusCode", "Value").as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:Success")
    );
    assert_eq!(text(&response, "saml:Issuer"), peer.entity_id());
    assert_eq!(text(&response, "saml:NameID"), "alice@acme.test");
    assert_eq!(
        attr(&response, "saml:NameID", "Format").as_deref(),
        Some(EMAIL_FORMAT)
    );
    assert_eq!(text(&response, "saml:Audience"), SP);
    assert_eq!(
        attr(&response, "saml:SubjectConfirmationData", "Recipient"),
        Some(sp.acs.clone())
    );
    assert_eq!(
        attr(&response, "saml:SubjectConfirmationData", "InResponseTo"),
        Some(request_id)
    );
    assert!(attr(&response, "saml:AuthnStatement", "SessionIndex").is_some());
    assert_eq!(attribute_values(&response, OID), [ALICE_OID]);
    assert_eq!(attribute_values(&response, "email"), ["alice@acme.test"]);
    assert_eq!(attribute_values(&response, "givenName"), ["Alice"]);
    assert_eq!(
        attribute_values(&response, "role"),
        ["MY_PROJECT_SUPER_ADMIN", "MY_PROJECT_VIEWER"]
    );
    assert!(
        !response.contains("vestibule:nameid"),
        "the NameID source leaked:\n{response}"
    );

    // Both the Response and the Assertion are signed, and xmlsec1 verifies each with the
    // certificate from the metadata; a stranger's certificate does not verify them.
    let dir = tempfile::tempdir().unwrap();
    let cert = metadata_signing_cert(&peer);
    for node in [RESPONSE_SIGNATURE, ASSERTION_SIGNATURE] {
        let (ok, printed) = verify_signature(&response, node, &cert, dir.path());
        assert!(ok, "xmlsec1 --verify {node}:\n{printed}\n{response}");
        let (ok, _) = verify_signature(&response, node, &sp.keys.cert_pem, dir.path());
        assert!(!ok, "verified with the wrong certificate");
    }
    assert!(response.contains(
        r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#
    ));
}

#[actix_web::test]
async fn saml_peer_gives_the_name_id_format_the_request_asks_for() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let (url, _) = sp.authn_request(&peer, Some(PERSISTENT_FORMAT));
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    assert_eq!(
        attr(&response, "saml:NameID", "Format").as_deref(),
        Some(PERSISTENT_FORMAT)
    );
    assert_eq!(text(&response, "saml:NameID"), "alice@acme.test");
}

#[actix_web::test]
async fn saml_peer_refuses_a_wrong_password() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let (url, _) = sp.authn_request(&peer, None);
    let browser = peer.browser();
    let SamlVisit::Form(login) = browser.visit(&url).await else {
        panic!("no login page");
    };
    let mut fields = login.fields.clone();
    fields.insert("username".into(), "alice".into());
    fields.insert("password".into(), "wrong".into());
    let SamlVisit::Form(again) = browser.submit(&login, &fields).await else {
        panic!("a wrong password got past the login page");
    };
    assert!(again.fields.contains_key("password"), "{}", again.html);
}

#[actix_web::test]
async fn saml_peer_encrypts_the_assertion_for_the_second_sp() {
    let plain = TestSp::new(SP).await;
    let sp = TestSp::new(SP_ENCRYPTED).await;
    let peer = start(vec![
        SamlSp::new(&plain.metadata),
        SamlSp::encrypted(&sp.metadata),
    ]);
    let (url, request_id) = sp.authn_request(&peer, None);
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    assert!(response.contains("<saml:EncryptedAssertion>"), "{response}");
    assert!(
        !response.contains("<saml:Assertion"),
        "a plain assertion beside:\n{response}"
    );
    assert!(!response.contains("alice@acme.test"));
    // RSA-OAEP key transport, AES-128-CBC content: SimpleSAMLphp 1.19 cannot do otherwise.
    assert!(response.contains(r#"Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p""#));
    assert!(response.contains(r#"Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc""#));
    assert_eq!(
        attr(&response, "samlp:Response", "InResponseTo"),
        Some(request_id)
    );

    // The Response signature covers the ciphertext.
    let dir = tempfile::tempdir().unwrap();
    let cert = metadata_signing_cert(&peer);
    let (ok, printed) = verify_signature(&response, RESPONSE_SIGNATURE, &cert, dir.path());
    assert!(ok, "{printed}");

    // xmlsec1 opens it with the SP's key, and the assertion inside is signed too.
    let encrypted = dir.path().join("encrypted.xml");
    let key = dir.path().join("sp.key");
    std::fs::write(&encrypted, &response).unwrap();
    std::fs::write(&key, &sp.keys.key_pem).unwrap();
    let (ok, decrypted) = xmlsec1(&[
        "--decrypt",
        "--privkey-pem",
        key.to_str().unwrap(),
        encrypted.to_str().unwrap(),
    ]);
    assert!(ok, "xmlsec1 --decrypt:\n{decrypted}");
    assert_eq!(text(&decrypted, "saml:NameID"), "alice@acme.test");
    assert_eq!(text(&decrypted, "saml:Audience"), SP_ENCRYPTED);
    assert_eq!(attribute_values(&decrypted, "role").len(), 2);
    let assertion = &decrypted[decrypted.find("<saml:Assertion").unwrap()..];
    let assertion = &assertion[..assertion.find("</saml:Assertion>").unwrap() + 17];
    let (ok, printed) = verify_signature(assertion, ASSERTION_SIGNATURE, &cert, dir.path());
    assert!(
        ok,
        "the decrypted assertion's signature:\n{printed}\n{assertion}"
    );

    // A key that is not the SP's opens nothing.
    std::fs::write(&key, &plain.keys.key_pem).unwrap();
    let (ok, _) = xmlsec1(&[
        "--decrypt",
        "--privkey-pem",
        key.to_str().unwrap(),
        encrypted.to_str().unwrap(),
    ]);
    assert!(!ok);

    // The first SP still gets its assertion in the clear.
    let (url, _) = plain.authn_request(&peer, None);
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &plain.acs)
        .await;
    let (response, _) = plain.receive_at_acs(&form).await;
    assert!(response.contains("<saml:Assertion "), "{response}");
}

#[actix_web::test]
async fn saml_peer_idp_initiated_login_has_no_in_response_to() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let url = peer.idp_initiated_login_url(SP, Some("http://127.0.0.1:9/app"));
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, relay_state) = sp.receive_at_acs(&form).await;
    assert_eq!(relay_state, "http://127.0.0.1:9/app");
    assert_eq!(attr(&response, "samlp:Response", "InResponseTo"), None);
    assert_eq!(
        attr(&response, "saml:SubjectConfirmationData", "InResponseTo"),
        None
    );
    assert_eq!(text(&response, "saml:NameID"), "alice@acme.test");
}

#[actix_web::test]
async fn saml_peer_answers_an_sp_logout_request_with_a_logout_response() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let browser = peer.browser();
    let session_index = signed_in(&peer, &sp, &browser).await;

    let (url, request_id) = logout_request(&peer, &sp, &session_index);
    let SamlVisit::Redirect(back) = browser.visit(&url).await else {
        panic!("no redirect back to the SP\n{}", peer.log());
    };
    assert!(back.starts_with(&format!("{}?", sp.slo)), "{back}");
    let response = redirect_binding_message(&back, "SAMLResponse");
    assert!(response.contains("<samlp:LogoutResponse "), "{response}");
    assert_eq!(
        attr(&response, "samlp:LogoutResponse", "InResponseTo"),
        Some(request_id)
    );
    assert_eq!(
        attr(&response, "samlp:LogoutResponse", "Destination"),
        Some(sp.slo.clone())
    );
    assert_eq!(
        attr(&response, "samlp:StatusCode", "Value").as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:status:Success")
    );
    assert_eq!(text(&response, "saml:Issuer"), peer.entity_id());
    let relay: BTreeMap<String, String> = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        relay.get("RelayState").map(String::as_str),
        Some("relay-out")
    );
    assert!(redirect_binding_signature_verifies(
        &back,
        &metadata_signing_cert(&peer)
    ));
    assert!(!redirect_binding_signature_verifies(
        &back,
        &sp.keys.cert_pem
    ));

    // The IdP session is over: a new AuthnRequest shows the login page again.
    let (url, _) = sp.authn_request(&peer, None);
    assert!(matches!(browser.visit(&url).await, SamlVisit::Form(_)));
}

#[actix_web::test]
async fn saml_peer_sends_an_idp_initiated_logout_request_to_the_sp() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let browser = peer.browser();
    let first_index = signed_in(&peer, &sp, &browser).await;
    // Signed in already: a second AuthnRequest is answered without the login page, with a
    // SessionIndex of its own, and the LogoutRequest names only the latest one.
    let (url, _) = sp.authn_request(&peer, None);
    let SamlVisit::Post(form) = browser.visit(&url).await else {
        panic!("the IdP session did not answer the second AuthnRequest");
    };
    let (response, _) = sp.receive_at_acs(&form).await;
    let session_index = attr(&response, "saml:AuthnStatement", "SessionIndex").unwrap();
    assert_ne!(session_index, first_index);

    let return_to = "http://127.0.0.1:9/signed-out";
    let SamlVisit::Redirect(to_sp) = browser.visit(&peer.logout_url(return_to)).await else {
        panic!("no LogoutRequest to the SP\n{}", peer.log());
    };
    assert!(to_sp.starts_with(&format!("{}?", sp.slo)), "{to_sp}");
    let request = redirect_binding_message(&to_sp, "SAMLRequest");
    assert!(request.contains("<samlp:LogoutRequest "), "{request}");
    assert_eq!(
        attr(&request, "samlp:LogoutRequest", "Destination"),
        Some(sp.slo.clone())
    );
    assert_eq!(text(&request, "saml:Issuer"), peer.entity_id());
    assert_eq!(text(&request, "saml:NameID"), "alice@acme.test");
    assert_eq!(text(&request, "samlp:SessionIndex"), session_index);
    assert!(redirect_binding_signature_verifies(
        &to_sp,
        &metadata_signing_cert(&peer)
    ));
    let request_id = attr(&request, "samlp:LogoutRequest", "ID").unwrap();
    let relay_state: BTreeMap<String, String> = url::Url::parse(&to_sp)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();

    // The SP answers; the IdP then finishes at ReturnTo.
    let xml = format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{id}" Version="2.0" IssueInstant="{now}" Destination="{slo}" InResponseTo="{request_id}"><saml:Issuer>{SP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#,
        id = uuid::Uuid::new_v4().simple(),
        now = now(),
        slo = peer.slo_url(),
    );
    // SimpleSAMLphp keeps its logout state under the RelayState it sent: an answer without it
    // is refused.
    let without = redirect_binding_url(&peer.slo_url(), "SAMLResponse", &xml, None);
    let visit = browser.visit(&without).await;
    let SamlVisit::Refused(_, error) = visit else {
        panic!("a LogoutResponse without RelayState was taken: {visit:?}");
    };
    assert!(error.contains("RelayState lost during logout"), "{error}");
    let relay_state = relay_state.get("RelayState").expect("a RelayState");
    let answer = redirect_binding_url(&peer.slo_url(), "SAMLResponse", &xml, Some(relay_state));
    let SamlVisit::Redirect(done) = browser.visit(&answer).await else {
        panic!("the IdP did not finish at ReturnTo\n{}", peer.log());
    };
    assert_eq!(done, return_to);
    let (url, _) = sp.authn_request(&peer, None);
    assert!(matches!(browser.visit(&url).await, SamlVisit::Form(_)));
}

#[actix_web::test]
async fn saml_peer_takes_an_authn_request_by_http_post() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let (xml, request_id) = sp.authn_request_xml(&peer, &sp.acs, None);
    let browser = peer.browser();
    let encoded = STANDARD.encode(&xml);
    let visit = browser
        .post(
            &peer.sso_url(),
            &[("SAMLRequest", &encoded), ("RelayState", "relay-post")],
        )
        .await;
    let SamlVisit::Form(login) = visit else {
        panic!(
            "no login page for a POSTed AuthnRequest: {visit:?}\n{}",
            peer.log()
        );
    };
    let mut fields = login.fields.clone();
    fields.insert("username".into(), "alice".into());
    fields.insert("password".into(), "alice-saml-password".into());
    let SamlVisit::Post(form) = browser.submit(&login, &fields).await else {
        panic!("no POST to the ACS\n{}", peer.log());
    };
    let (response, relay_state) = sp.receive_at_acs(&form).await;
    assert_eq!(relay_state, "relay-post");
    assert_eq!(
        attr(&response, "samlp:Response", "InResponseTo"),
        Some(request_id)
    );
}

#[actix_web::test]
async fn saml_peer_posts_to_the_metadata_acs_whatever_the_request_names() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let elsewhere = format!("{}/elsewhere", sp.acs);
    let (xml, _) = sp.authn_request_xml(&peer, &elsewhere, None);
    let url = redirect_binding_url(&peer.sso_url(), "SAMLRequest", &xml, None);
    // Not refused: logged, and replaced by the metadata's default ACS.
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    assert_eq!(
        attr(&response, "samlp:Response", "Destination"),
        Some(sp.acs.clone())
    );
    assert!(peer
        .log()
        .contains("specifies invalid AssertionConsumerService"));
}

#[actix_web::test]
async fn saml_peer_checks_authn_request_signatures_when_the_metadata_asks() {
    let sp = TestSp::with_metadata(SP, true).await;
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    let (xml, _) = sp.authn_request_xml(&peer, &sp.acs, None);
    let unsigned = redirect_binding_url(&peer.sso_url(), "SAMLRequest", &xml, Some("r"));
    let visit = peer.browser().visit(&unsigned).await;
    let SamlVisit::Refused(_, error) = visit else {
        panic!("an unsigned AuthnRequest was taken: {visit:?}");
    };
    assert!(error.contains("no signature found on message"), "{error}");

    let stranger = TestKeyPair::generate("stranger");
    let forged = signed_redirect_binding_url(
        &peer.sso_url(),
        "SAMLRequest",
        &xml,
        Some("r"),
        &stranger.key_pem,
    );
    let visit = peer.browser().visit(&forged).await;
    let SamlVisit::Refused(_, error) = visit else {
        panic!("an AuthnRequest signed by a stranger was taken: {visit:?}");
    };
    assert!(error.contains("Unable to validate signature"), "{error}");

    let signed = signed_redirect_binding_url(
        &peer.sso_url(),
        "SAMLRequest",
        &xml,
        Some("r"),
        &sp.keys.key_pem,
    );
    let visit = peer.browser().visit(&signed).await;
    assert!(
        matches!(visit, SamlVisit::Form(_)),
        "signed: {visit:?}\n{}",
        peer.log()
    );
}

#[actix_web::test]
async fn saml_peer_signs_only_the_assertion_when_told() {
    let sp = TestSp::new(SP).await;
    let peer = start(vec![SamlSp {
        sign_response: Some(false),
        ..SamlSp::new(&sp.metadata)
    }]);
    let (url, _) = sp.authn_request(&peer, None);
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    assert_eq!(response.matches("<ds:Signature ").count(), 1, "{response}");
    let assertion = response.find("<saml:Assertion ").unwrap();
    assert!(response.find("<ds:Signature ").unwrap() > assertion);
    let dir = tempfile::tempdir().unwrap();
    let (ok, printed) = verify_signature(
        &response,
        ASSERTION_SIGNATURE,
        &metadata_signing_cert(&peer),
        dir.path(),
    );
    assert!(ok, "{printed}");
}

#[actix_web::test]
async fn saml_peer_takes_authn_requests_signed_by_either_published_certificate() {
    // During a rotation the SP publishes two signing certificates; either one signs.
    let mut sp = TestSp::with_metadata(SP, true).await;
    let next = TestKeyPair::generate("sp.example next");
    let descriptor = format!(
        r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
        next.cert_base64()
    );
    let encryption = r#"<md:KeyDescriptor use="encryption">"#;
    sp.metadata = sp
        .metadata
        .replacen(encryption, &format!("{descriptor}\n    {encryption}"), 1);
    let peer = start(vec![SamlSp::new(&sp.metadata)]);
    for key in [&sp.keys.key_pem, &next.key_pem] {
        let (xml, _) = sp.authn_request_xml(&peer, &sp.acs, None);
        let url = signed_redirect_binding_url(&peer.sso_url(), "SAMLRequest", &xml, None, key);
        let visit = peer.browser().visit(&url).await;
        assert!(matches!(visit, SamlVisit::Form(_)), "{visit:?}");
    }
}

#[actix_web::test]
async fn saml_peer_fails_at_start_on_sp_metadata_it_cannot_use() {
    let sp = TestSp::new(SP).await;
    let saml_1 = sp.metadata.replace(
        r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol""#,
        r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol""#,
    );
    let Err(panic) = std::panic::catch_unwind(|| start(vec![SamlSp::new(&saml_1)])) else {
        panic!("the peer started on SAML 1.1 SP metadata");
    };
    let message = panic.downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(
        message.contains("holds no SAML 2.0 SPSSODescriptor"),
        "{message}"
    );
}

#[actix_web::test]
async fn saml_peer_trusts_an_sp_added_while_it_runs() {
    // Vestibule's descriptor exists only once Vestibule runs, which needs the IdP's metadata.
    let mut peer = start(Vec::new());
    assert!(peer.sp_entity_ids().is_empty());
    let sp = TestSp::new(SP).await;
    peer.trust_sp(SamlSp::new(&sp.metadata));
    assert_eq!(peer.sp_entity_ids(), [SP]);
    let (url, request_id) = sp.authn_request(&peer, None);
    let form = peer
        .browser()
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    assert_eq!(
        attr(&response, "samlp:Response", "InResponseTo"),
        Some(request_id)
    );
}
