//! A SAML IdP's metadata (SAML Metadata 2.0) as an SP needs it: the entity ID responses must
//! be issued by, where AuthnRequests and LogoutRequests go per binding, and the certificates
//! its signatures are verified with. Read from a file, inline text or a fetched document; the
//! same checks apply to each (federation.md §2.5, §2.6):
//!
//! - the text is size-capped, and a DOCTYPE is refused before any XML parser sees it (entity
//!   expansion, external entities);
//! - exactly one IdP entity: an aggregate (`EntitiesDescriptor`) must hold one IDPSSODescriptor
//!   only, so that no other entity's keys are trusted by accident;
//! - at least one certificate usable for signing (`use="signing"`, or no `use`): samael accepts
//!   unsigned responses from an IdP whose metadata has none (stack-notes.md), so such metadata
//!   is refused here, at start and by `check-config`.

use openssl::asn1::Asn1Time;
use openssl::x509::X509;
use samael::metadata::{EntitiesDescriptor, EntityDescriptor, EntityDescriptorType};

/// Metadata larger than this is refused unread (an IdP's is a few KiB; aggregates are not
/// what an SP connection takes).
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// One of the IdP's certificates, with its validity as seconds since the epoch.
#[derive(Debug, Clone)]
pub struct IdpCertificate {
    pub der: Vec<u8>,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Named `use="signing"`, or no `use` (good for both).
    pub signing: bool,
    pub encryption: bool,
}

impl IdpCertificate {
    /// Whether the certificate stops being valid within `days` of `now` (seconds), or has.
    pub fn expires_within(&self, now: i64, days: i64) -> bool {
        self.not_after <= now + days * 86_400
    }
}

/// An endpoint of the IdP for one binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpEndpoint {
    pub binding: String,
    pub location: String,
    /// Where responses go, when not to `location` (SAML Metadata §2.2.2).
    pub response_location: Option<String>,
}

/// What an SP connection takes from the IdP's metadata.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub single_sign_on: Vec<IdpEndpoint>,
    pub single_logout: Vec<IdpEndpoint>,
    pub certificates: Vec<IdpCertificate>,
    /// The IdP asks for signed AuthnRequests.
    pub wants_authn_requests_signed: bool,
    /// Until when the document holds (`validUntil`, seconds since the epoch), and how long it
    /// may be cached (`cacheDuration`, seconds): the earliest of the entity's and its
    /// aggregate's (SAML Metadata §2.2.1, §2.3.1).
    pub valid_until: Option<i64>,
    pub cache_duration_secs: Option<i64>,
    /// The raw entity, for samael's service provider.
    pub entity: EntityDescriptor,
}

impl IdpMetadata {
    /// Parses and checks metadata text; the message says what is wrong with it.
    pub fn parse(text: &str) -> Result<IdpMetadata, String> {
        if text.len() > MAX_METADATA_BYTES {
            return Err(format!("is larger than {MAX_METADATA_BYTES} bytes"));
        }
        if refuses_doctype(text) {
            return Err("holds a DOCTYPE, which SAML metadata never needs".into());
        }
        let (entity, validity) = single_idp_entity(text)?;
        let entity_id = entity
            .entity_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or("names no entityID")?;
        let descriptors = entity.idp_sso_descriptors.as_deref().unwrap_or_default();
        let [descriptor] = descriptors else {
            return Err(format!(
                "must describe one IDPSSODescriptor, not {}",
                descriptors.len()
            ));
        };
        let endpoints = |list: &[samael::metadata::Endpoint]| {
            list.iter()
                .map(|e| IdpEndpoint {
                    binding: e.binding.clone(),
                    location: e.location.clone(),
                    response_location: e.response_location.clone(),
                })
                .collect::<Vec<_>>()
        };
        let single_sign_on = endpoints(&descriptor.single_sign_on_services);
        if !single_sign_on
            .iter()
            .any(|e| e.binding == HTTP_REDIRECT || e.binding == HTTP_POST)
        {
            return Err(
                "has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding".into(),
            );
        }
        let mut certificates = Vec::new();
        for key in &descriptor.key_descriptors {
            let key_use = key.key_use.as_deref().unwrap_or_default();
            let (signing, encryption) = match key_use {
                "" => (true, true),
                "signing" => (true, false),
                "encryption" => (false, true),
                other => return Err(format!("a KeyDescriptor has the unknown use {other:?}")),
            };
            let x509 = key.key_info.x509_data.as_ref();
            for encoded in x509.map(|d| d.certificates.as_slice()).unwrap_or_default() {
                certificates.push(certificate(encoded, signing, encryption)?);
            }
        }
        if !certificates.iter().any(|c| c.signing) {
            return Err(
                "holds no certificate usable for signing (use=\"signing\" or no use): responses could not be verified"
                    .into(),
            );
        }
        Ok(IdpMetadata {
            entity_id,
            single_sign_on,
            single_logout: endpoints(&descriptor.single_logout_services),
            certificates,
            wants_authn_requests_signed: descriptor.want_authn_requests_signed.unwrap_or(false),
            valid_until: earliest(
                validity.valid_until,
                entity.valid_until.map(|t| t.timestamp()),
            ),
            cache_duration_secs: earliest(
                validity.cache_duration_secs,
                entity
                    .cache_duration
                    .as_deref()
                    .map(duration_secs)
                    .transpose()?,
            ),
            entity,
        })
    }

    /// The certificates responses are verified with.
    pub fn signing_certificates(&self) -> impl Iterator<Item = &IdpCertificate> {
        self.certificates.iter().filter(|c| c.signing)
    }

    /// Where the IdP takes requests of `binding` for single sign-on.
    pub fn sso_location(&self, binding: &str) -> Option<&str> {
        location(&self.single_sign_on, binding)
    }

    /// Where the IdP takes requests of `binding` for single logout.
    pub fn slo_location(&self, binding: &str) -> Option<&str> {
        location(&self.single_logout, binding)
    }
}

fn location<'a>(endpoints: &'a [IdpEndpoint], binding: &str) -> Option<&'a str> {
    endpoints
        .iter()
        .find(|e| e.binding == binding)
        .map(|e| e.location.as_str())
}

/// A DOCTYPE anywhere, in any case: XML allows one only in the prolog, but nothing that looks
/// like one is let through to a parser.
pub fn refuses_doctype(text: &str) -> bool {
    text.to_ascii_uppercase().contains("<!DOCTYPE")
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An `xs:duration` (`PnYnMnDTnHnMnS`, the form `cacheDuration` takes) in seconds, a year
/// counted as 365 days and a month as 30: it only bounds how long a cache may hold.
pub fn duration_secs(text: &str) -> Result<i64, String> {
    let bad = || format!("its cacheDuration {text:?} is not an xs:duration");
    let rest = text.trim().strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(bad()),
        Some((date, time)) => (date, time),
        None => (rest, ""),
    };
    if date.is_empty() && time.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    for (part, units) in [
        (
            date,
            &[('Y', 365 * 86_400), ('M', 30 * 86_400), ('D', 86_400)][..],
        ),
        (time, &[('H', 3_600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == c)
                .ok_or_else(bad)?;
            let value: f64 = number.parse().map_err(|_| bad())?;
            total = total.saturating_add((value * units[next_unit + at].1 as f64) as i64);
            next_unit += at + 1;
            number.clear();
        }
        if !number.is_empty() {
            return Err(bad());
        }
    }
    Ok(total)
}

/// What an aggregate says of its own validity, which bounds the entities it holds.
#[derive(Default)]
struct Validity {
    valid_until: Option<i64>,
    cache_duration_secs: Option<i64>,
}

/// The one entity with an IDPSSODescriptor: the document itself, or the only such entity of an
/// aggregate (with the aggregate's validity).
fn single_idp_entity(text: &str) -> Result<(EntityDescriptor, Validity), String> {
    if let Ok(entity) = text.parse::<EntityDescriptor>() {
        if entity.entity_id.is_some() {
            return Ok((entity, Validity::default()));
        }
    }
    let aggregate: EntitiesDescriptor = text
        .parse()
        .map_err(|_| "is not SAML metadata (an EntityDescriptor)".to_string())?;
    let validity = Validity {
        valid_until: aggregate.valid_until.map(|t| t.timestamp()),
        cache_duration_secs: aggregate
            .cache_duration
            .as_deref()
            .map(duration_secs)
            .transpose()?,
    };
    let mut idps: Vec<EntityDescriptor> = Vec::new();
    collect_idps(aggregate, &mut idps, 0)?;
    match idps.len() {
        1 => Ok((idps.remove(0), validity)),
        n => Err(format!(
            "must describe one IdP entity, not {n}: give the IdP's own metadata"
        )),
    }
}

/// Aggregates nest; a few levels are plenty, and no input decides how deep this goes.
const MAX_AGGREGATE_DEPTH: usize = 4;

fn collect_idps(
    aggregate: EntitiesDescriptor,
    out: &mut Vec<EntityDescriptor>,
    depth: usize,
) -> Result<(), String> {
    if depth >= MAX_AGGREGATE_DEPTH {
        return Err("nests EntitiesDescriptor elements too deep".into());
    }
    for descriptor in aggregate.descriptors {
        match descriptor {
            EntityDescriptorType::EntityDescriptor(e) if e.idp_sso_descriptors.is_some() => {
                out.push(e)
            }
            EntityDescriptorType::EntityDescriptor(_) => {}
            EntityDescriptorType::EntitiesDescriptor(inner) => collect_idps(inner, out, depth + 1)?,
        }
    }
    Ok(())
}

fn certificate(encoded: &str, signing: bool, encryption: bool) -> Result<IdpCertificate, String> {
    use base64::Engine;
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "an X509Certificate is not base64".to_string())?;
    let x509 = X509::from_der(&der).map_err(|_| "an X509Certificate does not parse".to_string())?;
    let epoch = Asn1Time::from_unix(0).map_err(|e| e.to_string())?;
    let seconds = |t: &openssl::asn1::Asn1TimeRef| -> Result<i64, String> {
        let d = epoch.diff(t).map_err(|e| e.to_string())?;
        Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
    };
    let subject = x509
        .subject_name()
        .entries()
        .filter_map(|e| e.data().to_string().ok())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(IdpCertificate {
        not_before: seconds(x509.not_before())?,
        not_after: seconds(x509.not_after())?,
        subject,
        der,
        signing,
        encryption,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Integer;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    /// A self-signed certificate valid from `from` for `days`, base64 DER.
    fn cert(cn: &str, from: i64, days: u32) -> String {
        use base64::Engine;
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = Asn1Integer::from_bn(&BigNum::from_u32(1).unwrap()).unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(from).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(from + i64::from(days) * 86_400).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(b.build().to_der().unwrap())
    }

    fn key(use_attr: &str, cert: &str) -> String {
        format!(
            r#"<md:KeyDescriptor{use_attr}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    }

    fn entity(id: &str, keys: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{id}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">{keys}<md:SingleLogoutService Binding="{HTTP_REDIRECT}" Location="https://idp.test/slo"/><md:SingleSignOnService Binding="{HTTP_REDIRECT}" Location="https://idp.test/sso"/><md:SingleSignOnService Binding="{HTTP_POST}" Location="https://idp.test/sso-post"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    const NOW: i64 = 1_900_000_000;

    #[test]
    fn an_idps_metadata_gives_its_entity_endpoints_and_signing_certificates() {
        let text = entity(
            "https://idp.test/saml",
            &(key(" use=\"signing\"", &cert("current", NOW - 86_400, 365))
                + &key(" use=\"encryption\"", &cert("enc", NOW - 86_400, 365))
                + &key("", &cert("next", NOW, 20))),
        );
        let md = IdpMetadata::parse(&text).expect("metadata");
        assert_eq!(md.entity_id, "https://idp.test/saml");
        assert_eq!(md.sso_location(HTTP_REDIRECT), Some("https://idp.test/sso"));
        assert_eq!(
            md.sso_location(HTTP_POST),
            Some("https://idp.test/sso-post")
        );
        assert_eq!(md.slo_location(HTTP_REDIRECT), Some("https://idp.test/slo"));
        assert!(md.wants_authn_requests_signed);
        let signing: Vec<&str> = md
            .signing_certificates()
            .map(|c| c.subject.as_str())
            .collect();
        assert_eq!(signing, ["current", "next"]);
        let next = &md.certificates[2];
        assert_eq!(next.not_before, NOW);
        assert!(next.expires_within(NOW, 30));
        assert!(!md.certificates[0].expires_within(NOW, 30));
    }

    #[test]
    fn metadata_without_a_signing_certificate_is_refused() {
        let only_encryption = entity(
            "https://idp.test/saml",
            &key(" use=\"encryption\"", &cert("enc", NOW, 365)),
        );
        let err = IdpMetadata::parse(&only_encryption).unwrap_err();
        assert!(err.contains("no certificate usable for signing"), "{err}");
        let none = entity("https://idp.test/saml", "");
        assert!(IdpMetadata::parse(&none).is_err());
    }

    #[test]
    fn cache_duration_is_read_as_an_xs_duration() {
        for (text, secs) in [
            ("PT1H", 3_600),
            ("PT30M", 1_800),
            ("P1D", 86_400),
            ("P1DT2H", 93_600),
            ("PT90S", 90),
            ("PT0.5S", 0),
            ("P1Y", 365 * 86_400),
            ("P1M", 30 * 86_400),
        ] {
            assert_eq!(duration_secs(text), Ok(secs), "{text}");
        }
        for bad in [
            "", "P", "PT", "1H", "PT1", "PH", "P1H", "-P1D", "PT1S1H", "P1D2D",
        ] {
            assert!(duration_secs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn validity_comes_from_the_entity_and_its_aggregate() {
        let good = entity("https://idp.test/saml", &key("", &cert("c", NOW, 365)));
        let timed = good.replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor validUntil=\"2030-01-02T00:00:00Z\" cacheDuration=\"PT6H\" ",
            1,
        );
        let md = IdpMetadata::parse(&timed).unwrap();
        assert_eq!(md.valid_until, Some(1_893_542_400));
        assert_eq!(md.cache_duration_secs, Some(6 * 3_600));
        assert!(IdpMetadata::parse(&good).unwrap().valid_until.is_none());
        let inner = timed.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", "");
        let aggregate = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" cacheDuration="PT1H" validUntil="2030-06-01T00:00:00Z">{inner}</md:EntitiesDescriptor>"#
        );
        let md = IdpMetadata::parse(&aggregate).unwrap();
        assert_eq!(
            md.cache_duration_secs,
            Some(3_600),
            "the aggregate's is shorter"
        );
        assert_eq!(
            md.valid_until,
            Some(1_893_542_400),
            "the entity's is earlier"
        );
        let bad = good.replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor cacheDuration=\"an hour\" ",
            1,
        );
        assert!(IdpMetadata::parse(&bad)
            .unwrap_err()
            .contains("cacheDuration"));
    }

    #[test]
    fn hostile_or_ambiguous_metadata_is_refused() {
        let good = entity("https://idp.test/saml", &key("", &cert("c", NOW, 365)));
        let doctype = format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{good}");
        assert!(IdpMetadata::parse(&doctype)
            .unwrap_err()
            .contains("DOCTYPE"));
        let lower = format!("<!doctype x>{good}");
        assert!(IdpMetadata::parse(&lower).is_err());
        let huge = format!("{good}{}", " ".repeat(MAX_METADATA_BYTES));
        assert!(IdpMetadata::parse(&huge).unwrap_err().contains("larger"));
        // An aggregate of two IdPs: whose keys to trust is not ours to guess.
        let strip = |s: &str| s.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", "");
        let two = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{}{}</md:EntitiesDescriptor>"#,
            strip(&good),
            strip(&entity(
                "https://other.test",
                &key("", &cert("o", NOW, 365))
            ))
        );
        let err = IdpMetadata::parse(&two).unwrap_err();
        assert!(err.contains("one IdP entity, not 2"), "{err}");
        let one = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{}</md:EntitiesDescriptor>"#,
            strip(&good)
        );
        assert_eq!(
            IdpMetadata::parse(&one).unwrap().entity_id,
            "https://idp.test/saml"
        );
        let bad_cert = entity("https://idp.test/saml", &key("", "bm90IGEgY2VydA=="));
        assert!(IdpMetadata::parse(&bad_cert)
            .unwrap_err()
            .contains("does not parse"));
        assert!(IdpMetadata::parse("<html/>").is_err());
    }
}
