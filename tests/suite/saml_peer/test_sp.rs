//! The tiny SP the peer's self-tests speak for: its metadata (ACS and SLO on a port of the test),
//! its AuthnRequests and LogoutRequests, an ACS that takes the auto-submitted form, and reading
//! and checking what comes back (string-level XML reading, Debian's `xmlsec1` for signatures and
//! decryption).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::saml_peer::{
    redirect_binding_url, Form, SamlBrowser, SamlPeer, SamlPeerConfig, SamlSp, SamlUser,
    TestKeyPair,
};

pub(super) const SP: &str = "https://sp.example/realms/test";
pub(super) const SP_ENCRYPTED: &str = "https://sp.example/realms/test/encrypted";
pub(super) const OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
pub(super) const ALICE_OID: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
pub(super) const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub(super) const PERSISTENT_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub(super) const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub(super) const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// An SP as the broker will be one: ACS and SLO on a port of this test, a key pair for signing
/// and encryption, its metadata.
pub(super) struct TestSp {
    pub(super) entity_id: String,
    pub(super) acs: String,
    pub(super) slo: String,
    pub(super) keys: TestKeyPair,
    pub(super) metadata: String,
    pub(super) listener: tokio::net::TcpListener,
}

impl TestSp {
    pub(super) async fn new(entity_id: &str) -> TestSp {
        TestSp::with_metadata(entity_id, false).await
    }

    /// An SP whose metadata says `AuthnRequestsSigned="{authn_requests_signed}"`.
    pub(super) async fn with_metadata(entity_id: &str, authn_requests_signed: bool) -> TestSp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let acs = format!("{base}/broker/acme/endpoint");
        let slo = format!("{base}/broker/acme/endpoint/logout");
        let keys = TestKeyPair::generate("sp.example");
        let cert = keys.cert_base64();
        let key_info = format!(
            r#"<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"#
        );
        let metadata = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="{authn_requests_signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">{key_info}</md:KeyDescriptor>
    <md:KeyDescriptor use="encryption">{key_info}</md:KeyDescriptor>
    <md:SingleLogoutService Binding="{REDIRECT}" Location="{slo}"/>
    <md:NameIDFormat>{EMAIL_FORMAT}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{POST}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#
        );
        TestSp {
            entity_id: entity_id.into(),
            acs,
            slo,
            keys,
            metadata,
            listener,
        }
    }

    /// An AuthnRequest from this SP to `peer` in the HTTP-Redirect binding, and its ID.
    pub(super) fn authn_request(
        &self,
        peer: &SamlPeer,
        name_id_format: Option<&str>,
    ) -> (String, String) {
        let (xml, id) = self.authn_request_xml(peer, &self.acs, name_id_format);
        let url = redirect_binding_url(&peer.sso_url(), "SAMLRequest", &xml, Some("relay-1"));
        (url, id)
    }

    /// The AuthnRequest's XML, asking for the response at `acs`, and its ID.
    pub(super) fn authn_request_xml(
        &self,
        peer: &SamlPeer,
        acs: &str,
        name_id_format: Option<&str>,
    ) -> (String, String) {
        let id = format!("_{}", uuid::Uuid::new_v4().simple());
        let policy = name_id_format
            .map(|f| format!(r#"<samlp:NameIDPolicy Format="{f}" AllowCreate="true"/>"#))
            .unwrap_or_default();
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{sso}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{POST}"><saml:Issuer>{sp}</saml:Issuer>{policy}</samlp:AuthnRequest>"#,
            now = now(),
            sso = peer.sso_url(),
            sp = self.entity_id,
        );
        (xml, id)
    }

    /// Delivers the auto-submitting form to the ACS listener, as a browser would, and returns
    /// what the ACS received: the decoded `SAMLResponse` and the `RelayState`.
    pub(super) async fn receive_at_acs(&self, form: &Form) -> (String, String) {
        assert_eq!(form.action.as_str(), self.acs);
        assert!(
            form.html.contains("postLoginSubmitButton"),
            "not SimpleSAMLphp's auto-submitting page:\n{}",
            form.html
        );
        let post = reqwest::Client::new()
            .post(&self.acs)
            .form(&form.fields)
            .send();
        let accept = async {
            let (mut socket, _) = self.listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 16384];
            loop {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await
                            .unwrap();
                        assert!(head.starts_with("POST /broker/acme/endpoint "), "{head}");
                        return body.to_string();
                    }
                }
            }
        };
        let (reply, body) = tokio::join!(post, accept);
        assert_eq!(reply.unwrap().status().as_u16(), 200);
        let fields: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let response = STANDARD.decode(&fields["SAMLResponse"]).expect("base64");
        (
            String::from_utf8(response).unwrap(),
            fields.get("RelayState").cloned().unwrap_or_default(),
        )
    }
}

pub(super) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn alice() -> SamlUser {
    SamlUser::new("alice", "alice-saml-password", "alice@acme.test")
        .attribute(OID, &[ALICE_OID])
        .attribute("email", &["alice@acme.test"])
        .attribute("givenName", &["Alice"])
        .attribute("role", &["MY_PROJECT_SUPER_ADMIN", "MY_PROJECT_VIEWER"])
}

/// The peer trusting `sps`, with alice.
pub(super) fn start(sps: Vec<SamlSp>) -> SamlPeer {
    SamlPeer::start(&SamlPeerConfig {
        users: vec![alice()],
        sps,
    })
}

/// The value of attribute `name` on the first `<element` tag in `xml`.
pub(super) fn attr(xml: &str, element: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{element} "))?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let marker = format!(" {name}=\"");
    let at = tag.find(&marker)? + marker.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// The text of the first `<element ...>text</element>` in `xml`.
pub(super) fn text(xml: &str, element: &str) -> String {
    let start = [format!("<{element}>"), format!("<{element} ")]
        .iter()
        .filter_map(|open| xml.find(open.as_str()))
        .min()
        .unwrap_or_else(|| panic!("no {element} in {xml}"));
    let body = &xml[start + xml[start..].find('>').unwrap() + 1..];
    body[..body.find('<').unwrap()].to_string()
}

/// The values of the SAML attribute `name`.
pub(super) fn attribute_values(xml: &str, name: &str) -> Vec<String> {
    let marker = format!("<saml:Attribute Name=\"{name}\"");
    let Some(start) = xml.find(&marker) else {
        return Vec::new();
    };
    let attribute = &xml[start..start + xml[start..].find("</saml:Attribute>").unwrap()];
    attribute
        .split("<saml:AttributeValue")
        .skip(1)
        .map(|v| v[v.find('>').unwrap() + 1..v.find('<').unwrap()].to_string())
        .collect()
}

/// Runs Debian's `xmlsec1` with `args`; whether it succeeded, and what it printed.
pub(super) fn xmlsec1(args: &[&str]) -> (bool, String) {
    let output = Command::new("xmlsec1")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmlsec1: {e}. `apt-get install xmlsec1` (scripts/test.sh does)")
        });
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

pub(super) const ID_ATTRIBUTES: [&str; 4] = [
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
];

/// Verifies the signature at `node_xpath` of `xml` with `cert_pem` alone (the KeyInfo's
/// certificate is ignored: `--enabled-key-data key-name`).
pub(super) fn verify_signature(
    xml: &str,
    node_xpath: &str,
    cert_pem: &str,
    dir: &Path,
) -> (bool, String) {
    let document = dir.join("signed.xml");
    let cert = dir.join("idp.crt");
    std::fs::write(&document, xml).unwrap();
    std::fs::write(&cert, cert_pem).unwrap();
    let mut args = vec![
        "--verify",
        "--pubkey-cert-pem",
        cert.to_str().unwrap(),
        "--enabled-key-data",
        "key-name",
        "--node-xpath",
        node_xpath,
    ];
    args.extend(ID_ATTRIBUTES);
    args.push(document.to_str().unwrap());
    xmlsec1(&args)
}

pub(super) const RESPONSE_SIGNATURE: &str =
    "/*[local-name()='Response']/*[local-name()='Signature']";
pub(super) const ASSERTION_SIGNATURE: &str =
    "//*[local-name()='Assertion']/*[local-name()='Signature']";

/// The IdP's signing certificate as its metadata publishes it, in PEM.
pub(super) fn metadata_signing_cert(peer: &SamlPeer) -> String {
    let metadata = peer.metadata_xml();
    let signing = metadata
        .find(r#"<md:KeyDescriptor use="signing">"#)
        .expect("a signing KeyDescriptor");
    crate::common::saml_peer::certificate_pem(&text(&metadata[signing..], "ds:X509Certificate"))
}

/// Signs alice in to `sp` from `browser`; the response's SessionIndex.
pub(super) async fn signed_in(peer: &SamlPeer, sp: &TestSp, browser: &SamlBrowser<'_>) -> String {
    let (url, _) = sp.authn_request(peer, None);
    let form = browser
        .sign_in_to(&url, "alice", "alice-saml-password", &sp.acs)
        .await;
    let (response, _) = sp.receive_at_acs(&form).await;
    attr(&response, "saml:AuthnStatement", "SessionIndex").expect("SessionIndex")
}

pub(super) fn logout_request(
    peer: &SamlPeer,
    sp: &TestSp,
    session_index: &str,
) -> (String, String) {
    let id = format!("_{}", uuid::Uuid::new_v4().simple());
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{slo}"><saml:Issuer>{sp}</saml:Issuer><saml:NameID SPNameQualifier="{sp}" Format="{EMAIL_FORMAT}">alice@acme.test</saml:NameID><samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>"#,
        now = now(),
        slo = peer.slo_url(),
        sp = sp.entity_id,
    );
    (
        redirect_binding_url(&peer.slo_url(), "SAMLRequest", &xml, Some("relay-out")),
        id,
    )
}
