//! A SAML IdP on the real clock, for the tests and `benches/saml` (which includes this file):
//! the one `tests/fixtures/saml/idp-metadata.xml` declares, whose signing key (`idp-key.pem`,
//! test only) it holds. For each AuthnRequest it answers with a fresh Response (fresh IDs,
//! current times, for the ACS and the SP entity ID named), the assertion signed in this
//! process with the xmlsec bindings samael verifies with (RSA-SHA256, exclusive c14n, as
//! `make-fixtures.sh` signs the fixtures), and, when asked, encrypted to the SP's certificate:
//! RSA-OAEP (MGF1-SHA1) key transport, AES-256-GCM content (XML Encryption 1.1), with OpenSSL.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::symm::{encrypt_aead, Cipher};
use openssl::x509::X509;
use samael::crypto::{Crypto, CryptoProvider};

/// The entity ID of the fixtures' IdP metadata.
const IDP_ENTITY: &str = "https://idp.test/saml/metadata";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/saml")
        .join(name)
}

/// Who a Response is for: the request it answers, where it is posted, who it is about.
pub struct Addressee<'a> {
    pub request_id: &'a str,
    /// The connection's ACS: the Response's Destination and the bearer confirmation's Recipient.
    pub acs: &'a str,
    /// The SP's entity ID: the assertion's Audience.
    pub audience: &'a str,
    /// The NameID (an email address, as the fixtures' IdP sends), also its `email` attribute.
    pub name_id: &'a str,
    /// More attributes, one value each (Name, value).
    pub attributes: &'a [(&'a str, &'a str)],
}

pub struct Idp {
    key_der: Vec<u8>,
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn fresh_id() -> String {
    // An NCName: SAML IDs must not start with a digit.
    format!("_{}", uuid::Uuid::new_v4().simple())
}

/// What xmlsec serializes starts with an XML declaration, which cannot stand inside a
/// Response.
fn without_declaration(xml: &str) -> &str {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(rest, |(_, after)| after)
            .trim(),
        None => xml.trim(),
    }
}

impl Idp {
    pub fn load() -> anyhow::Result<Idp> {
        let pem = std::fs::read(fixture("idp-key.pem")).context("the IdP's key")?;
        let key = PKey::private_key_from_pem(&pem)?;
        Ok(Idp {
            key_der: key.private_key_to_der()?,
        })
    }

    /// The assertion for `to`, signed over itself (enveloped signature, no KeyInfo: Vestibule
    /// verifies with the certificates of the IdP's metadata only).
    fn signed_assertion(&self, to: &Addressee<'_>, now: DateTime<Utc>) -> anyhow::Result<String> {
        let id = fresh_id();
        let (issued, not_before) = (at(now), at(now - chrono::Duration::seconds(60)));
        let not_after = at(now + chrono::Duration::minutes(5));
        let session_end = at(now + chrono::Duration::hours(8));
        let Addressee {
            request_id,
            acs,
            audience,
            name_id,
            attributes,
        } = to;
        let more: String = attributes
            .iter()
            .map(|(name, value)| {
                format!(
                    "\n<saml:Attribute Name=\"{name}\"><saml:AttributeValue>{value}</saml:AttributeValue></saml:Attribute>"
                )
            })
            .collect();
        let template = format!(
            r##"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}">
<saml:Issuer>{IDP_ENTITY}</saml:Issuer>
<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#{id}">
<ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue></ds:DigestValue>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue></ds:SignatureValue>
</ds:Signature>
<saml:Subject>
<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData InResponseTo="{request_id}" NotOnOrAfter="{not_after}" Recipient="{acs}"/>
</saml:SubjectConfirmation>
</saml:Subject>
<saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}">
<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="_session{id}" SessionNotOnOrAfter="{session_end}">
<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
</saml:AuthnStatement>
<saml:AttributeStatement>
<saml:Attribute Name="email"><saml:AttributeValue>{name_id}</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="givenName"><saml:AttributeValue>Bench</saml:AttributeValue></saml:Attribute>{more}
</saml:AttributeStatement>
</saml:Assertion>"##
        );
        let signed = Crypto::sign_xml(&template, &self.key_der)
            .map_err(|e| anyhow::anyhow!("xmlsec could not sign the assertion: {e}"))?;
        Ok(without_declaration(&signed).to_string())
    }

    /// The Response to `to` around `body` (a signed or an encrypted assertion), itself unsigned.
    fn response(to: &Addressee<'_>, body: &str, now: DateTime<Utc>) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}" InResponseTo="{}">
<saml:Issuer>{IDP_ENTITY}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{body}
</samlp:Response>
"#,
            fresh_id(),
            at(now),
            to.acs,
            to.request_id
        )
    }

    /// A Response carrying the signed assertion in the clear, base64 as the HTTP-POST binding
    /// sends it.
    pub fn signed(&self, to: &Addressee<'_>) -> anyhow::Result<String> {
        let now = Utc::now();
        let assertion = self.signed_assertion(to, now)?;
        Ok(B64.encode(Self::response(to, &assertion, now)))
    }

    /// A Response carrying the signed assertion encrypted to `sp`, base64.
    pub fn encrypted(&self, to: &Addressee<'_>, sp: &PKey<Public>) -> anyhow::Result<String> {
        let now = Utc::now();
        let assertion = self.signed_assertion(to, now)?;
        let cipher = Cipher::aes_256_gcm();
        let mut key = vec![0u8; cipher.key_len()];
        let mut iv = [0u8; 12];
        openssl::rand::rand_bytes(&mut key)?;
        openssl::rand::rand_bytes(&mut iv)?;
        let mut tag = [0u8; 16];
        let body = encrypt_aead(cipher, &key, Some(&iv), &[], assertion.as_bytes(), &mut tag)?;
        // XML Encryption 1.1 §5.2.4: the CipherValue is the IV, the ciphertext, then the tag.
        let content = B64.encode([iv.as_slice(), &body, &tag].concat());
        let rsa = sp.rsa()?;
        let mut wrapped = vec![0u8; rsa.size() as usize];
        let n = rsa.public_encrypt(&key, &mut wrapped, Padding::PKCS1_OAEP)?;
        let wrapped = B64.encode(&wrapped[..n]);
        let encrypted = format!(
            r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{content}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#
        );
        Ok(B64.encode(Self::response(to, &encrypted, now)))
    }
}

/// The AuthnRequest an HTTP-Redirect URL carries, as XML (`SAMLRequest`: base64 of raw
/// DEFLATE, SAML Bindings §3.4.4.1).
pub fn authn_request(sso_url: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(sso_url).context("the IdP's SSO URL")?;
    let encoded = url
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no SAMLRequest in {sso_url}"))?;
    let deflated = B64.decode(encoded).context("SAMLRequest is not base64")?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .context("SAMLRequest is not raw DEFLATE")?;
    Ok(xml)
}

/// The ID of the AuthnRequest an HTTP-Redirect URL carries.
pub fn request_id(sso_url: &str) -> anyhow::Result<String> {
    let xml = authn_request(sso_url)?;
    let Some(at) = xml.find(" ID=\"").map(|at| at + 5) else {
        bail!("an AuthnRequest without ID: {xml}");
    };
    let end = xml[at..].find('"').context("an unterminated ID")?;
    Ok(xml[at..at + end].to_string())
}

/// The key the SP's metadata (`.../endpoint/descriptor`) publishes to encrypt to.
pub fn sp_key(descriptor: &str) -> anyhow::Result<PKey<Public>> {
    let start = descriptor
        .find("X509Certificate>")
        .map(|at| at + "X509Certificate>".len())
        .with_context(|| format!("no certificate in the SP's metadata: {descriptor}"))?;
    let end = descriptor[start..]
        .find('<')
        .context("an unterminated certificate")?;
    let text: String = descriptor[start..start + end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let cert = X509::from_der(&B64.decode(text)?)?;
    Ok(cert.public_key()?)
}
