//! Which XML signature algorithms a SAML connection accepts, and the signature reduction under
//! them (federation.md §2.6, requirement 18).
//!
//! By default samael checks every Signature's SignatureMethod and each Reference's
//! DigestMethod against [`ALGORITHMS`]: RSA and ECDSA with SHA-256 or stronger. Its allow-list
//! has no SHA-1 member, so a connection with `allow_sha1 = true` (IdPs that still sign with
//! RSA-SHA1, which Entra offers) is checked here instead, against the same list plus the SHA-1
//! ones, and samael is then called without a list. The check is deliberately broader than
//! xmlsec's view: every SignatureMethod and every Reference's DigestMethod anywhere in the
//! document, by local name, whatever its namespace.

use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use crate::federation::saml::Refusal;
use crate::federation::saml_xml::{self, Element};

/// The signature algorithms accepted: RSA and ECDSA with SHA-256 or stronger.
pub const ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What `allow_sha1 = true` adds (XML Signature 1.1 §6.4.1, RFC 4051 §2.3.6).
const SHA1_SIGNATURE_METHODS: [&str; 2] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
];
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// The connection's policy: [`ALGORITHMS`], with or without SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub allow_sha1: bool,
}

impl Policy {
    /// The list samael checks with: ours, or none when this module has checked the document.
    pub fn samael_list(self) -> Option<Vec<AllowedSignatureAlgorithm>> {
        (!self.allow_sha1).then(|| ALGORITHMS.to_vec())
    }

    fn accepts_signature_method(self, uri: &str) -> bool {
        ALGORITHMS.iter().any(|a| a.signature_uri() == uri)
            || (self.allow_sha1 && SHA1_SIGNATURE_METHODS.contains(&uri))
    }

    fn accepts_digest(self, uri: &str) -> bool {
        ALGORITHMS.iter().any(|a| a.digest_uri() == uri) || (self.allow_sha1 && uri == SHA1_DIGEST)
    }

    /// Refuses a document any of whose signatures uses an algorithm outside the policy, or
    /// whose shape hides one (no SignedInfo, several, no SignatureMethod, no Reference).
    pub fn check(self, list: &[Element]) -> Result<(), Refusal> {
        let children = |at: usize, local: &'static str| {
            list.iter()
                .enumerate()
                .filter(move |(_, e)| e.parent == Some(at) && e.local == local)
        };
        let outside =
            || Refusal("a signature uses an algorithm this connection does not accept".into());
        for (at, _) in list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.local == "Signature")
        {
            let signed_info: Vec<usize> = children(at, "SignedInfo").map(|(i, _)| i).collect();
            let [signed_info] = signed_info.as_slice() else {
                return Err(Refusal("a signature without exactly one SignedInfo".into()));
            };
            let methods: Vec<&Element> = children(*signed_info, "SignatureMethod")
                .map(|(_, e)| e)
                .collect();
            let references: Vec<usize> = children(*signed_info, "Reference")
                .map(|(i, _)| i)
                .collect();
            if methods.len() != 1 || references.is_empty() {
                return Err(Refusal(
                    "a signature without one SignatureMethod and a Reference".into(),
                ));
            }
            for reference in references {
                let digests: Vec<&Element> = children(reference, "DigestMethod")
                    .map(|(_, e)| e)
                    .collect();
                let [digest] = digests.as_slice() else {
                    return Err(Refusal("a Reference without one DigestMethod".into()));
                };
                if !digest
                    .attribute("Algorithm")
                    .is_some_and(|a| self.accepts_digest(a))
                {
                    return Err(outside());
                }
            }
        }
        // Wherever else they stand: nothing names an algorithm outside the policy.
        for e in list {
            let algorithm = e.attribute("Algorithm").unwrap_or_default();
            let refused = match e.local.as_str() {
                "SignatureMethod" => !self.accepts_signature_method(algorithm),
                "DigestMethod" => {
                    let parent = e.parent.and_then(|p| list.get(p)).map(|p| p.local.as_str());
                    // RSA-OAEP names its mask digest inside an EncryptionMethod: not a signature's.
                    parent == Some("Reference") && !self.accepts_digest(algorithm)
                }
                _ => false,
            };
            if refused {
                return Err(outside());
            }
        }
        Ok(())
    }
}

/// The signature reduction: what the IdP's certificates verify, under the connection's policy.
pub fn reduce(xml: &str, certs: &[CertificateDer], policy: Policy) -> Result<String, Refusal> {
    if policy.allow_sha1 {
        policy.check(&saml_xml::elements(xml).map_err(Refusal)?)?;
    }
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        policy.samael_list().as_deref(),
    )
    .map_err(|_| Refusal("no signature by the IdP's keys verifies".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
    const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    const MD5: &str = "http://www.w3.org/2001/04/xmldsig-more#md5";

    fn signed(method: &str, digest: &str) -> Vec<Element> {
        saml_xml::elements(&format!(
            r##"<r><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#a"><ds:DigestMethod Algorithm="{digest}"/></ds:Reference></ds:SignedInfo></ds:Signature></r>"##
        ))
        .unwrap()
    }

    const STRICT: Policy = Policy { allow_sha1: false };
    const SHA1: Policy = Policy { allow_sha1: true };

    #[test]
    fn sha1_is_accepted_only_with_allow_sha1() {
        assert!(STRICT.check(&signed(RSA_SHA256, SHA256)).is_ok());
        assert!(SHA1.check(&signed(RSA_SHA256, SHA256)).is_ok());
        assert!(STRICT.check(&signed(RSA_SHA1, SHA1_DIGEST)).is_err());
        assert!(STRICT.check(&signed(RSA_SHA256, SHA1_DIGEST)).is_err());
        assert!(SHA1.check(&signed(RSA_SHA1, SHA1_DIGEST)).is_ok());
        assert!(SHA1.check(&signed(RSA_SHA256, SHA1_DIGEST)).is_ok());
        assert_eq!(STRICT.samael_list().unwrap().len(), ALGORITHMS.len());
        assert!(SHA1.samael_list().is_none());
    }

    #[test]
    fn an_algorithm_outside_both_lists_is_refused_even_with_allow_sha1() {
        for (method, digest) in [(HMAC_SHA256, SHA256), (RSA_SHA256, MD5), ("", SHA256)] {
            let err = SHA1.check(&signed(method, digest)).unwrap_err();
            assert!(
                err.0.contains("does not accept"),
                "{method} {digest}: {err}"
            );
        }
    }

    #[test]
    fn a_signature_whose_shape_hides_its_algorithm_is_refused() {
        let two_signed_info = saml_xml::elements(&format!(
            r#"<Signature><SignedInfo><SignatureMethod Algorithm="{RSA_SHA256}"/><Reference><DigestMethod Algorithm="{SHA256}"/></Reference></SignedInfo><SignedInfo><SignatureMethod Algorithm="{HMAC_SHA256}"/></SignedInfo></Signature>"#
        ))
        .unwrap();
        assert!(SHA1.check(&two_signed_info).is_err());
        let no_reference = saml_xml::elements(&format!(
            r#"<Signature><SignedInfo><SignatureMethod Algorithm="{RSA_SHA256}"/></SignedInfo></Signature>"#
        ))
        .unwrap();
        assert!(SHA1.check(&no_reference).is_err());
        // A method outside any SignedInfo is still one the document names.
        let stray = saml_xml::elements(&format!(
            r#"<r><x><SignatureMethod Algorithm="{HMAC_SHA256}"/></x></r>"#
        ))
        .unwrap();
        assert!(SHA1.check(&stray).is_err());
    }

    #[test]
    fn the_rsa_oaep_mask_digest_is_not_a_signature_digest() {
        let encrypted = saml_xml::elements(&format!(
            r#"<EncryptedKey><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><DigestMethod Algorithm="{MD5}"/></EncryptionMethod></EncryptedKey>"#
        ))
        .unwrap();
        assert!(SHA1.check(&encrypted).is_ok());
    }
}
