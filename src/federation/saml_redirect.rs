//! The HTTP-Redirect binding (SAML Bindings §3.4) for logout messages both ways: a message is
//! DEFLATEd, base64'd and put in the query, and its signature covers the query's own encoded
//! text `SAMLRequest=…&RelayState=…&SigAlg=…` (§3.4.4.1), not the XML. What arrives is read
//! from the raw query string, so the signed text is exactly what the IdP signed; the inflated
//! message is capped before it is read, and goes through the same text checks as a Response.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::config::saml_metadata::IdpMetadata;
use crate::federation::saml::{self, Refusal};

/// An inflated logout message larger than this is refused: an IdP's is well under 4 KiB.
pub const MAX_INFLATED_BYTES: usize = 32 * 1024;

/// The signature algorithms a Redirect-binding signature may use, with their digests: RSA and
/// ECDSA with SHA-256 or stronger, as for Responses, and RSA-SHA1 only under `allow_sha1`.
fn digest_of(sig_alg: &str, allow_sha1: bool) -> Option<MessageDigest> {
    match sig_alg {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if allow_sha1 => Some(MessageDigest::sha1()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// A message received through the binding, its signature verified.
#[derive(Debug)]
pub struct Received {
    pub xml: String,
    pub relay_state: Option<String>,
}

/// One parameter of the query: its text as sent (for the signature) and decoded.
struct Param<'a> {
    raw: &'a str,
    value: String,
}

fn decoded(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads the message `name` (`SAMLRequest` or `SAMLResponse`) of `raw_query` and verifies its
/// signature with the IdP's signing certificates. An unsigned message is refused: a logout
/// message must be authenticated (SAML Profiles §4.4.4.1), and nothing else authenticates it.
pub fn receive(
    raw_query: &str,
    name: &str,
    metadata: &IdpMetadata,
    allow_sha1: bool,
) -> Result<Received, Refusal> {
    let mut message = None;
    let mut relay_state = None;
    let mut sig_alg = None;
    let mut signature = None;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match decoded(key).as_str() {
            k if k == name => &mut message,
            "RelayState" => &mut relay_state,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Refusal(format!("the query names {key} twice")));
        }
        *slot = Some(Param {
            raw,
            value: decoded(raw),
        });
    }
    let Some(message) = message else {
        return Err(Refusal(format!("the query carries no {name}")));
    };
    let (Some(sig_alg), Some(signature)) = (sig_alg, signature) else {
        return Err(Refusal("the message is not signed".into()));
    };
    let Some(digest) = digest_of(&sig_alg.value, allow_sha1) else {
        return Err(Refusal(
            "the message's SigAlg is not an accepted algorithm".into(),
        ));
    };
    let mut signed = format!("{name}={}", message.raw);
    if let Some(r) = &relay_state {
        signed.push_str(&format!("&RelayState={}", r.raw));
    }
    signed.push_str(&format!("&SigAlg={}", sig_alg.raw));
    let signature = B64
        .decode(signature.value.trim())
        .map_err(|_| Refusal("the Signature is not base64".into()))?;
    let verifies = metadata.signing_certificates().any(|c| {
        let Ok(key) = X509::from_der(&c.der).and_then(|x| x.public_key()) else {
            return false;
        };
        openssl::sign::Verifier::new(digest, &key)
            .and_then(|mut v| {
                v.update(signed.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false)
    });
    if !verifies {
        return Err(Refusal("no signature by the IdP's keys verifies".into()));
    }
    Ok(Received {
        xml: inflate(&message.value)?,
        relay_state: relay_state.map(|r| r.value),
    })
}

/// The base64 DEFLATE payload as checked XML text.
fn inflate(encoded: &str) -> Result<String, Refusal> {
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.len() > MAX_INFLATED_BYTES {
        return Err(Refusal("the message is too large".into()));
    }
    let bytes = B64
        .decode(compact)
        .map_err(|_| Refusal("the message is not base64".into()))?;
    let mut xml = Vec::new();
    DeflateDecoder::new(bytes.as_slice())
        .take(MAX_INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut xml)
        .map_err(|_| Refusal("the message is not DEFLATE".into()))?;
    if xml.len() > MAX_INFLATED_BYTES {
        return Err(Refusal("the inflated message is too large".into()));
    }
    let xml = String::from_utf8(xml).map_err(|_| Refusal("the message is not UTF-8".into()))?;
    saml::check_text(xml)
}

/// The URL that carries `xml` as `name` to `destination`, with `relay_state`, signed with
/// `key` (RSA-SHA256 or ECDSA-SHA256, by samael's `sign_url`).
pub fn send(
    destination: &str,
    name: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &PKey<Private>,
) -> Result<String, Refusal> {
    let failed = |e: &dyn std::fmt::Display| Refusal(format!("the message cannot be sent: {e}"));
    let mut deflated = Vec::new();
    {
        let mut encoder = DeflateEncoder::new(&mut deflated, Compression::default());
        encoder.write_all(xml.as_bytes()).map_err(|e| failed(&e))?;
        encoder.finish().map_err(|e| failed(&e))?;
    }
    let mut url = url::Url::parse(destination).map_err(|e| failed(&e))?;
    url.query_pairs_mut()
        .append_pair(name, &B64.encode(&deflated));
    if let Some(r) = relay_state {
        url.query_pairs_mut().append_pair("RelayState", r);
    }
    samael::crypto::sign_url(url, key)
        .map(|u| u.to_string())
        .map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_query_as_sent() {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let url = send(
            "https://idp.test/slo",
            "SAMLRequest",
            "<samlp:LogoutRequest ID=\"_1\"/>",
            Some("a b&c"),
            &key,
        )
        .unwrap();
        let query = url.split_once('?').unwrap().1;
        let (signed, signature) = query.rsplit_once("&Signature=").unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier.update(signed.as_bytes()).unwrap();
        assert!(verifier
            .verify(&B64.decode(decoded(signature)).unwrap())
            .unwrap());
        assert!(signed.contains("&RelayState=a+b%26c&SigAlg="));
    }

    #[test]
    fn an_inflated_payload_past_the_cap_is_refused() {
        let big = format!("<r>{}</r>", "a".repeat(MAX_INFLATED_BYTES * 4));
        let mut deflated = Vec::new();
        {
            let mut e = DeflateEncoder::new(&mut deflated, Compression::best());
            e.write_all(big.as_bytes()).unwrap();
        }
        let encoded = B64.encode(&deflated);
        assert!(encoded.len() < MAX_INFLATED_BYTES);
        let err = inflate(&encoded).unwrap_err().0;
        assert!(err.contains("too large"), "{err}");
        assert!(inflate("!!!").is_err());
    }
}
