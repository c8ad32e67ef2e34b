//! SAML 2.0 Web Browser SSO as a service provider (SAML Profiles §4.1): the AuthnRequest sent
//! to the IdP (HTTP-Redirect or HTTP-POST binding, signed with the connection's SP key),
//! Vestibule's SP metadata, and the checks a Response
//! posted to a connection's ACS must pass before anything of it is believed.
//!
//! Signatures are verified by samael (xmlsec) in the mode that drops unsigned ancestors, with
//! the SP entity ID set explicitly and an algorithm allow-list without SHA-1 unless the
//! connection allows it (`saml_algorithms`); everything else
//! is checked here, on the verified, reduced document only, with Vestibule's clock. samael
//! compares times with the system clock, so its own time checks are widened out of the way and
//! made again below (federation.md §2.2, §2.6; stack-notes.md "samael"):
//!
//! - before libxml2 sees the text: a size cap, no DOCTYPE, no comment or processing
//!   instruction anywhere (a comment inside a NameID is the classic truncation attack);
//! - signed as configured (the assertion, the response, or both); Issuer is the metadata's
//!   entity ID; exactly one assertion; status Success;
//! - Destination, and the bearer SubjectConfirmation's Recipient, are this connection's ACS;
//!   InResponseTo is the AuthnRequest the caller found for this browser and connection;
//! - Conditions with an AudienceRestriction naming our entity ID, NotBefore / NotOnOrAfter
//!   within the skew, the SubjectConfirmationData's NotOnOrAfter, an AuthnStatement.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use samael::crypto::{CertificateDer, ReduceMode};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    EncryptionMethod, Endpoint, EntityDescriptor, IndexedEndpoint, KeyDescriptor, SpSsoDescriptor,
    HTTP_POST_BINDING,
};
use samael::schema::{Assertion, AuthnRequest, Issuer, NameIdPolicy};
use samael::service_provider::ServiceProvider;
use samael::signature::{DigestAlgorithm, Signature};
use samael::traits::ToXml;
use serde_json::{Map, Value};

use crate::config::saml_metadata::{refuses_doctype, IdpMetadata, HTTP_REDIRECT};
use crate::config::{IdentityProviderDecl, SamlBinding};
use crate::db::Micros;
use crate::federation::saml_algorithms::{reduce, Policy};
use crate::federation::{saml_crypt, saml_xml};

/// A Response larger than this is refused unread: an IdP's is a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 128 * 1024;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// One SP connection: the IdP as declared and as its metadata says, and our side of it.
pub struct Connection<'a> {
    pub idp: &'a IdentityProviderDecl,
    pub metadata: &'a IdpMetadata,
    /// Our entity ID at this IdP.
    pub sp_entity_id: String,
    /// This connection's ACS: `{issuer}/broker/{alias}/endpoint`.
    pub acs_url: String,
}

impl Connection<'_> {
    fn policy(&self) -> Policy {
        Policy {
            allow_sha1: self.idp.allow_sha1,
        }
    }
}

/// Why a response was refused, for the log (never the response or the person's data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(why.into()))
}

/// What a verified response says about the person.
#[derive(Debug, Clone)]
pub struct Verified {
    pub assertion_id: String,
    /// The NameID, or the principal attribute when the connection names one.
    pub principal: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The attributes as claims: by Name and by FriendlyName, a string when the attribute has
    /// one value, an array when it has several; `name_id` too.
    pub claims: Value,
    pub session_index: Option<String>,
    /// When the IdP's session ends (the AuthnStatement's SessionNotOnOrAfter): ours ends then.
    pub session_not_on_or_after: Option<Micros>,
    /// Until when the assertion's ID must be remembered (its latest NotOnOrAfter).
    pub remember_until: Micros,
}

fn micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

fn instant(now: Micros) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(now).unwrap_or_default()
}

/// Vestibule's key at this IdP, the one its requests are signed with.
pub struct Signer {
    pub key: PKey<Private>,
    pub certificate_der: Vec<u8>,
}

/// A message on its way to the IdP, through the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// HTTP-Redirect: the URL with the DEFLATEd message (and its signature) in the query.
    Redirect(String),
    /// HTTP-POST: a form auto-submitted to `url`.
    Post {
        url: String,
        fields: Vec<(String, String)>,
    },
}

/// The AuthnRequest for `request_id`, in the connection's binding, signed with `signer`
/// when there is one (SAML Bindings §3.4.4.1 for Redirect; an enveloped signature for POST).
pub fn authn_request(
    conn: &Connection<'_>,
    request_id: &str,
    now: Micros,
    signer: Option<&Signer>,
) -> Result<Outgoing, Refusal> {
    let binding = conn.idp.authn_request_binding;
    let Some(destination) = conn.metadata.sso_location(binding.urn()) else {
        return refuse(format!(
            "the IdP's metadata has no SingleSignOnService for {}",
            binding.urn()
        ));
    };
    let mut request = AuthnRequest {
        id: request_id.to_string(),
        version: "2.0".into(),
        issue_instant: instant(now),
        destination: Some(destination.to_string()),
        issuer: Some(Issuer {
            value: Some(conn.sp_entity_id.clone()),
            ..Issuer::default()
        }),
        assertion_consumer_service_url: Some(conn.acs_url.clone()),
        protocol_binding: Some(HTTP_POST_BINDING.to_string()),
        name_id_policy: Some(NameIdPolicy {
            allow_create: Some(true),
            format: conn.idp.name_id_format.clone(),
            ..NameIdPolicy::default()
        }),
        force_authn: conn.idp.force_authn.then_some(true),
        ..AuthnRequest::default()
    };
    let encode_failed =
        |e: &dyn std::fmt::Display| Refusal(format!("the AuthnRequest could not be encoded: {e}"));
    match binding {
        SamlBinding::Redirect => {
            let url = match signer {
                Some(s) => request.signed_redirect("", &s.key),
                None => request.redirect(""),
            };
            match url {
                Ok(Some(url)) => Ok(Outgoing::Redirect(url.to_string())),
                Ok(None) => refuse("the AuthnRequest has no destination"),
                Err(e) => Err(encode_failed(&e)),
            }
        }
        SamlBinding::Post => {
            let xml = match signer {
                Some(s) => {
                    let der = s.key.private_key_to_der().map_err(|e| encode_failed(&e))?;
                    let mut signature =
                        Signature::template(request_id, &s.certificate_der.clone().into());
                    // samael's template digests with SHA-1, which we refuse from IdPs too.
                    for reference in &mut signature.signed_info.reference {
                        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
                    }
                    request.signature = Some(signature);
                    request.to_signed_xml(&der)
                }
                None => request.to_string(),
            }
            .map_err(|e| encode_failed(&e))?;
            Ok(Outgoing::Post {
                url: destination.to_string(),
                fields: vec![("SAMLRequest".into(), B64.encode(xml))],
            })
        }
    }
}

/// Vestibule's SP metadata for this connection (SAML Metadata §2.4.4): our entity ID, the ACS
/// (HTTP-POST), the SingleLogoutService (HTTP-Redirect), whether requests are signed and
/// assertions must be, the NameID format asked for, and each of `certificates` (DER) as a key
/// that signs and a key to encrypt to. Built here rather than by samael's
/// `ServiceProvider::metadata`, which publishes one certificate and advertises AES-CBC first.
pub fn sp_metadata(conn: &Connection<'_>, certificates: &[Vec<u8>]) -> Result<String, Refusal> {
    let key_info = |der: &Vec<u8>| KeyInfo {
        id: None,
        x509_data: Some(X509Data {
            certificates: vec![B64.encode(der)],
        }),
    };
    // Every certificate not retired verifies our signatures: the successor is published
    // before it signs, the predecessor until it is retired.
    let signing = certificates
        .iter()
        .filter(|_| conn.idp.sign_authn_requests)
        .map(|der| KeyDescriptor {
            key_use: Some("signing".into()),
            key_info: key_info(der),
            encryption_methods: None,
        });
    let encryption = certificates.iter().map(|der| KeyDescriptor {
        key_use: Some("encryption".into()),
        key_info: key_info(der),
        encryption_methods: Some(
            [
                "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                "http://www.w3.org/2009/xmlenc11#aes128-gcm",
                "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
            ]
            .iter()
            .map(|a| EncryptionMethod {
                algorithm: a.to_string(),
            })
            .collect(),
        ),
    });
    let descriptor = SpSsoDescriptor {
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
        key_descriptors: Some(signing.chain(encryption).collect()),
        authn_requests_signed: Some(conn.idp.sign_authn_requests),
        // Logout messages come to the ACS's URL too (Keycloak's layout), as a query.
        single_logout_services: Some(vec![Endpoint {
            binding: HTTP_REDIRECT.to_string(),
            location: conn.acs_url.clone(),
            response_location: None,
        }]),
        want_assertions_signed: Some(conn.idp.want_assertions_signed),
        name_id_formats: conn.idp.name_id_format.clone().map(|f| vec![f]),
        assertion_consumer_services: vec![IndexedEndpoint {
            binding: HTTP_POST_BINDING.to_string(),
            location: conn.acs_url.clone(),
            response_location: None,
            index: 0,
            is_default: Some(true),
        }],
        ..SpSsoDescriptor::default()
    };
    let entity = EntityDescriptor {
        entity_id: Some(conn.sp_entity_id.clone()),
        sp_sso_descriptors: Some(vec![descriptor]),
        ..EntityDescriptor::default()
    };
    entity
        .to_string()
        .map_err(|e| Refusal(format!("SP metadata: {e}")))
}

/// The posted `SAMLResponse` as XML text, refused before any XML parser sees it when it is
/// too large, not base64 or UTF-8, or carries a DOCTYPE, a comment or a processing instruction.
pub fn decode(posted: &str) -> Result<String, Refusal> {
    if posted.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return refuse("the SAMLResponse is too large");
    }
    let compact: String = posted
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = B64
        .decode(compact)
        .map_err(|_| Refusal("the SAMLResponse is not base64".into()))?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return refuse("the SAMLResponse is too large");
    }
    let xml =
        String::from_utf8(bytes).map_err(|_| Refusal("the SAMLResponse is not UTF-8".into()))?;
    check_text(xml)
}

/// Refuses text with a DOCTYPE, a comment or a processing instruction (an XML declaration
/// aside), before any XML parser sees it.
pub(crate) fn check_text(xml: String) -> Result<String, Refusal> {
    if refuses_doctype(&xml) {
        return refuse("the SAMLResponse holds a DOCTYPE");
    }
    let body = xml
        .trim_start_matches('\u{feff}')
        .trim_start()
        .strip_prefix("<?xml")
        .map(|rest| rest.split_once("?>").map(|(_, after)| after).unwrap_or(""))
        .unwrap_or(&xml);
    if body.contains("<!--") || body.contains("<?") {
        return refuse("the SAMLResponse holds a comment or a processing instruction");
    }
    Ok(xml)
}

/// The InResponseTo the (not yet verified) Response names: only a key to find the request
/// this browser sent; the verified assertion must name the same.
pub fn in_response_to(xml: &str) -> Option<String> {
    let list = saml_xml::elements(xml).ok()?;
    let root = list.first().filter(|r| r.local == "Response")?;
    root.attribute("InResponseTo").map(str::to_string)
}

/// The canonicalizations and transforms a SAML signature needs (SAML Core §5.4.3, §5.4.4):
/// enveloped-signature and exclusive C14N, and inclusive C14N some IdPs still use. XPath, XSLT
/// and the rest are where signature-wrapping and denial-of-service attacks live.
const TRANSFORMS: [&str; 5] = [
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
];

/// Refuses a signature with a transform or canonicalization outside [`TRANSFORMS`], before
/// xmlsec runs any.
fn check_transforms(list: &[saml_xml::Element]) -> Result<(), Refusal> {
    let outside = list
        .iter()
        .filter(|e| e.local == "Transform" || e.local == "CanonicalizationMethod")
        .any(|e| {
            !e.attribute("Algorithm")
                .is_some_and(|a| TRANSFORMS.contains(&a))
        });
    if outside {
        return refuse("a signature uses a transform other than enveloped-signature and C14N");
    }
    Ok(())
}

/// The local name of a document's root element.
fn root_name(xml: &str) -> Result<String, Refusal> {
    saml_xml::elements(xml)
        .map_err(Refusal)?
        .first()
        .map(|e| e.local.clone())
        .ok_or(Refusal("an empty document".into()))
}

/// The envelope's own claims, checked whether or not it is signed: they can only make a
/// refusal more likely.
fn check_envelope(
    conn: &Connection<'_>,
    list: &[saml_xml::Element],
    request_id: Option<&str>,
) -> Result<(), Refusal> {
    let Some(root) = list.first().filter(|r| r.local == "Response") else {
        return refuse("the SAMLResponse is not a Response");
    };
    let status = list
        .iter()
        .enumerate()
        .find(|(_, e)| e.local == "Status" && e.parent == Some(0))
        .and_then(|(at, _)| {
            list.iter()
                .find(|e| e.local == "StatusCode" && e.parent == Some(at))
        })
        .and_then(|e| e.attribute("Value"));
    if status != Some(SUCCESS) {
        return refuse("the Response's status is not Success");
    }
    let issuer = list
        .iter()
        .find(|e| e.local == "Issuer" && e.parent == Some(0));
    if issuer.is_some_and(|i| i.text.trim() != conn.metadata.entity_id) {
        return refuse("the Response's Issuer is not the IdP's entity ID");
    }
    if root.attribute("Destination") != Some(conn.acs_url.as_str()) {
        return refuse("the Response's Destination is not this connection's ACS");
    }
    if root.attribute("InResponseTo") != request_id {
        return refuse("the Response's InResponseTo is not this browser's request");
    }
    Ok(())
}

/// Every check of a Response to the request `request_id` (none: an IdP-initiated Response,
/// which must then name no request anywhere), at `now`; `sp_keys` are the keys an encrypted
/// assertion may be encrypted to.
pub fn verify(
    conn: &Connection<'_>,
    xml: &str,
    request_id: Option<&str>,
    now: Micros,
    sp_keys: &[PKey<Private>],
) -> Result<Verified, Refusal> {
    let list = saml_xml::elements(xml).map_err(Refusal)?;
    let certs: Vec<CertificateDer> = conn
        .metadata
        .signing_certificates()
        .map(|c| c.der.clone().into())
        .collect();
    if certs.is_empty() {
        return refuse("the IdP's metadata has no signing certificate");
    }
    // One assertion, plain or encrypted, anywhere in the document: a second one is where
    // signature wrapping hides its forgery.
    let count = |local: &str| list.iter().filter(|e| e.local == local).count();
    if count("Assertion") + count("EncryptedAssertion") != 1 {
        return refuse("a Response must carry exactly one assertion");
    }
    check_envelope(conn, &list, request_id)?;
    check_transforms(&list)?;
    if count("EncryptedAssertion") == 1 {
        return verify_encrypted(conn, xml, &list, &certs, request_id, now, sp_keys);
    }
    // What the signatures cover, to tell a signed response from a signed assertion. The
    // reduced document holds only what a verified signature covers: its root is the Response
    // when the Response is signed, the Assertion when only the assertion is.
    let policy = conn.policy();
    let reduced = reduce(xml, &certs, policy)?;
    let response_signed = match root_name(&reduced)?.as_str() {
        "Response" => true,
        "Assertion" => false,
        _ => return refuse("the signed part is neither a Response nor an Assertion"),
    };
    if conn.idp.want_response_signed && !response_signed {
        return refuse("the Response is not signed");
    }
    let sp = ServiceProvider {
        entity_id: Some(conn.sp_entity_id.clone()),
        acs_url: Some(conn.acs_url.clone()),
        metadata_url: None,
        idp_metadata: conn.metadata.entity.clone(),
        allow_idp_initiated: request_id.is_none(),
        allowed_signature_algorithms: policy.samael_list(),
        // samael reads the system clock; the times are checked below with ours.
        max_clock_skew: chrono::Duration::days(365 * 100),
        max_issue_delay: chrono::Duration::days(365 * 100),
        ..ServiceProvider::default()
    };
    let ids = request_id.map(|id| [id]);
    let assertion = sp
        .parse_xml_response_with_mode(
            xml,
            ids.as_ref().map(|one| one.as_slice()),
            ReduceMode::ValidateAndMarkNoAncestors,
        )
        .map_err(|e| Refusal(format!("samael: {e}")))?;
    // Every signature of the document verified (or reduction failed above), so a Reference to
    // the verified assertion's own ID is a verified signature over it; with only the assertion
    // signed, the reduced root is that assertion.
    let assertion_signed = !response_signed || saml_xml::references(&list, &assertion.id);
    if conn.idp.want_assertions_signed && !assertion_signed {
        return refuse("the Assertion is not signed");
    }
    check_assertion(conn, &assertion, request_id, now)
}

/// An EncryptedAssertion (federation.md §2.3): the ciphertext read is the one the Response's
/// signature covers when the Response is signed; RSA-OAEP key transport only; AES-GCM, or
/// AES-CBC only under that signature (CBC alone is malleable); the decrypted assertion passes
/// the same text checks and, when it carries a signature, the same verification.
fn verify_encrypted(
    conn: &Connection<'_>,
    xml: &str,
    list: &[saml_xml::Element],
    certs: &[CertificateDer],
    request_id: Option<&str>,
    now: Micros,
    sp_keys: &[PKey<Private>],
) -> Result<Verified, Refusal> {
    let outer_signed = list.iter().any(|e| e.local == "Signature");
    let (response_signed, source) = if outer_signed {
        let reduced = reduce(xml, certs, conn.policy())?;
        if root_name(&reduced)? != "Response" {
            return refuse("the signed part of an encrypted response is not the Response");
        }
        (true, saml_xml::elements(&reduced).map_err(Refusal)?)
    } else {
        (false, list.to_vec())
    };
    if conn.idp.want_response_signed && !response_signed {
        return refuse("the Response is not signed");
    }
    let parts = saml_crypt::EncryptedParts::find(&source)?;
    if parts.is_cbc() && !response_signed {
        return refuse("AES-CBC is accepted only when the Response's signature covers it");
    }
    let plaintext = check_text(saml_crypt::decrypt(&parts, sp_keys)?)?;
    let inner = saml_xml::elements(&plaintext).map_err(Refusal)?;
    check_transforms(&inner)?;
    if inner.first().map(|e| e.local.as_str()) != Some("Assertion")
        || inner.iter().filter(|e| e.local == "Assertion").count() != 1
    {
        return refuse("the encrypted data is not one Assertion");
    }
    let assertion_signed = inner.iter().any(|e| e.local == "Signature");
    let verified = if assertion_signed {
        let reduced = reduce(&plaintext, certs, conn.policy())?;
        if root_name(&reduced)? != "Assertion" {
            return refuse("the decrypted assertion's signature covers something else");
        }
        reduced
    } else {
        plaintext
    };
    if conn.idp.want_assertions_signed && !assertion_signed {
        return refuse("the Assertion is not signed");
    }
    if !assertion_signed && !response_signed {
        return refuse("nothing in the Response is signed");
    }
    let assertion: Assertion = verified
        .parse()
        .map_err(|_| Refusal("the decrypted assertion does not parse".into()))?;
    check_assertion(conn, &assertion, request_id, now)
}

/// Vestibule's checks on the verified assertion, with its clock.
fn check_assertion(
    conn: &Connection<'_>,
    assertion: &Assertion,
    request_id: Option<&str>,
    now: Micros,
) -> Result<Verified, Refusal> {
    let skew = conn.idp.clock_skew_secs() * 1_000_000;
    if assertion.issuer.value.as_deref() != Some(conn.metadata.entity_id.as_str()) {
        return refuse("the Assertion's Issuer is not the IdP's entity ID");
    }
    let Some(conditions) = &assertion.conditions else {
        return refuse("the Assertion has no Conditions");
    };
    let audiences = conditions
        .audience_restrictions
        .as_deref()
        .unwrap_or_default();
    if audiences.is_empty()
        || !audiences
            .iter()
            .all(|r| r.audience.iter().any(|a| a == &conn.sp_entity_id))
    {
        return refuse("the Assertion's AudienceRestriction does not name this SP");
    }
    if conditions
        .not_before
        .is_some_and(|t| now + skew < micros(t))
    {
        return refuse("the Assertion is not valid yet");
    }
    let Some(not_on_or_after) = conditions.not_on_or_after else {
        return refuse("the Assertion's Conditions have no NotOnOrAfter");
    };
    if micros(not_on_or_after) + skew <= now {
        return refuse("the Assertion has expired");
    }
    if micros(assertion.issue_instant) > now + skew {
        return refuse("the Assertion is issued in the future");
    }
    let bearer = assertion
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find(|d| {
            d.recipient.as_deref() == Some(conn.acs_url.as_str())
                && d.in_response_to.as_deref() == request_id
                && d.not_on_or_after.is_some_and(|t| now < micros(t) + skew)
                && d.not_before.is_none_or(|t| micros(t) <= now + skew)
        });
    let Some(bearer) = bearer else {
        return refuse("no bearer SubjectConfirmation for this ACS and request holds now");
    };
    let statements = assertion.authn_statements.as_deref().unwrap_or_default();
    let Some(authn) = statements.first() else {
        return refuse("the Assertion has no AuthnStatement");
    };
    if authn
        .session_not_on_or_after
        .is_some_and(|t| micros(t) <= now)
    {
        return refuse("the IdP's session has ended (SessionNotOnOrAfter)");
    }
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| (n.value.trim().to_string(), n.format.clone()))
        .filter(|(v, _)| !v.is_empty());
    let Some((name_id, name_id_format)) = name_id else {
        return refuse("the Assertion names no subject");
    };
    let claims = claims_of(assertion, &name_id);
    let principal = match conn.idp.effective_principal_attribute() {
        None => name_id.clone(),
        Some(attribute) => match claims.get(attribute) {
            Some(Value::String(v)) if !v.trim().is_empty() => v.clone(),
            _ => return refuse("the principal attribute is missing or has several values"),
        },
    };
    let remember_until = bearer
        .not_on_or_after
        .map(micros)
        .unwrap_or_default()
        .max(micros(not_on_or_after))
        + skew;
    Ok(Verified {
        assertion_id: assertion.id.clone(),
        principal,
        name_id,
        name_id_format,
        claims,
        session_index: authn.session_index.clone(),
        session_not_on_or_after: authn.session_not_on_or_after.map(micros),
        remember_until,
    })
}

/// The assertion's attributes as claims, by Name and by FriendlyName.
fn claims_of(assertion: &Assertion, name_id: &str) -> Value {
    let mut claims = Map::new();
    claims.insert("name_id".into(), Value::String(name_id.to_string()));
    let attributes = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter());
    for attribute in attributes {
        let values: Vec<Value> = attribute
            .values
            .iter()
            .filter_map(|v| v.value.clone())
            .map(Value::String)
            .collect();
        let value = match values.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(values),
        };
        for key in [&attribute.name, &attribute.friendly_name]
            .into_iter()
            .flatten()
        {
            claims.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    Value::Object(claims)
}

/// The person's email, first and last name in the claims (common attribute names, or the
/// NameID when its format is an email address).
pub fn profile(verified: &Verified) -> (Option<String>, Option<String>, Option<String>) {
    let text = |names: &[&str]| {
        names.iter().find_map(|n| match verified.claims.get(*n) {
            Some(Value::String(v)) if !v.trim().is_empty() => Some(v.clone()),
            _ => None,
        })
    };
    let email = text(&[
        "email",
        "mail",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ])
    .or_else(|| {
        (verified.name_id_format.as_deref() == Some(EMAIL_FORMAT)).then(|| verified.name_id.clone())
    });
    let first = text(&[
        "givenName",
        "firstName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ]);
    let last = text(&[
        "surname",
        "sn",
        "lastName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ]);
    (email, first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(xml: &str) -> String {
        B64.encode(xml.as_bytes())
    }

    #[test]
    fn hostile_text_is_refused_before_any_parser() {
        let ok = "<?xml version=\"1.0\"?>\n<samlp:Response/>";
        assert!(decode(&encoded(ok)).is_ok());
        for (bad, why) in [
            ("<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", "DOCTYPE"),
            (
                "<r><NameID>alice@acme.test<!---->.evil.test</NameID></r>",
                "comment",
            ),
            ("<r><?pi data?></r>", "processing instruction"),
        ] {
            let err = decode(&encoded(bad)).unwrap_err().0;
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(decode("not base64 at all!").is_err());
        assert!(decode(&B64.encode([0xff, 0xfe, 0x00])).is_err());
        let huge = format!("<r>{}</r>", "a".repeat(MAX_RESPONSE_BYTES));
        assert!(decode(&encoded(&huge)).unwrap_err().0.contains("too large"));
    }

    #[test]
    fn only_enveloped_signature_and_c14n_transforms_pass() {
        let with = |algorithm: &str| {
            format!(
                "<ds:Signature xmlns:ds=\"urn:d\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
                 <ds:Reference URI=\"#_a\"><ds:Transforms><ds:Transform Algorithm=\"{algorithm}\"/></ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature>"
            )
        };
        for ok in TRANSFORMS {
            assert!(
                check_transforms(&saml_xml::elements(&with(ok)).unwrap()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
            "http://www.w3.org/2000/09/xmldsig#base64",
        ] {
            let err = check_transforms(&saml_xml::elements(&with(bad)).unwrap()).unwrap_err();
            assert!(err.0.contains("transform"), "{bad}");
        }
        let no_algorithm = "<ds:Signature xmlns:ds=\"urn:d\"><ds:Transform/></ds:Signature>";
        assert!(check_transforms(&saml_xml::elements(no_algorithm).unwrap()).is_err());
    }
}
