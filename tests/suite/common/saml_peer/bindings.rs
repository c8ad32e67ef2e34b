//! The HTTP-Redirect binding (SAML Bindings §3.4.4) as the tests speak it to the peer and read
//! what it sends: DEFLATE, base64 and URL-encoding, and the query-string signature.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use url::Url;

/// `endpoint?{parameter}=...&RelayState=...`: `xml` in the HTTP-Redirect binding (SAML
/// Bindings §3.4.4.1: DEFLATE, base64, URL-encoding), unsigned.
pub fn redirect_binding_url(
    endpoint: &str,
    parameter: &str,
    xml: &str,
    relay_state: Option<&str>,
) -> String {
    use flate2::write::DeflateEncoder;
    let mut encoder = DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(xml.as_bytes()).unwrap();
    let deflated = encoder.finish().unwrap();
    let mut url = Url::parse(endpoint).expect("endpoint URL");
    url.query_pairs_mut()
        .append_pair(parameter, &STANDARD.encode(deflated));
    if let Some(relay_state) = relay_state {
        url.query_pairs_mut().append_pair("RelayState", relay_state);
    }
    url.into()
}

/// [`redirect_binding_url`] signed as SAML Bindings §3.4.4.1 says: `SigAlg` (RSA-SHA256) and
/// `Signature` over `{parameter}=..&RelayState=..&SigAlg=..` as encoded in the URL, with
/// `key_pem` (PKCS#8 or PKCS#1 PEM).
pub fn signed_redirect_binding_url(
    endpoint: &str,
    parameter: &str,
    xml: &str,
    relay_state: Option<&str>,
    key_pem: &str,
) -> String {
    use openssl::hash::MessageDigest;
    let mut url = Url::parse(&redirect_binding_url(endpoint, parameter, xml, relay_state)).unwrap();
    url.query_pairs_mut().append_pair("SigAlg", RSA_SHA256);
    let signed = url.query().unwrap().to_string();
    let key = openssl::pkey::PKey::private_key_from_pem(key_pem.as_bytes()).expect("key PEM");
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(signed.as_bytes()).unwrap();
    let signature = STANDARD.encode(signer.sign_to_vec().unwrap());
    url.query_pairs_mut().append_pair("Signature", &signature);
    url.into()
}

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The XML of an HTTP-Redirect binding message: `parameter` (`SAMLRequest` or `SAMLResponse`)
/// of `url`, base64-decoded and inflated.
pub fn redirect_binding_message(url: &str, parameter: &str) -> String {
    let url = Url::parse(url).expect("URL");
    let value = url
        .query_pairs()
        .find(|(k, _)| k == parameter)
        .unwrap_or_else(|| panic!("no {parameter} in {url}"))
        .1;
    let deflated = STANDARD.decode(value.as_bytes()).expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .expect("DEFLATE");
    xml
}

/// Whether the HTTP-Redirect binding signature of `url` (SAML Bindings §3.4.4.1: `SigAlg`
/// RSA-SHA256 over `SAMLRequest|SAMLResponse=..&RelayState=..&SigAlg=..` as sent) verifies
/// with `cert_pem`.
pub fn redirect_binding_signature_verifies(url: &str, cert_pem: &str) -> bool {
    use openssl::hash::MessageDigest;
    let query = Url::parse(url)
        .expect("URL")
        .query()
        .unwrap_or("")
        .to_string();
    // The signed octets are the parameters as they were sent, still URL-encoded.
    let raw: BTreeMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let decoded: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(signature) = decoded.get("Signature") else {
        return false;
    };
    assert_eq!(
        decoded.get("SigAlg").map(String::as_str),
        Some(RSA_SHA256),
        "SigAlg of {url}"
    );
    let signed: Vec<String> = ["SAMLRequest", "SAMLResponse", "RelayState", "SigAlg"]
        .iter()
        .filter_map(|k| raw.get(k).map(|v| format!("{k}={v}")))
        .collect();
    let signature = STANDARD.decode(signature).expect("base64 signature");
    let cert = openssl::x509::X509::from_pem(cert_pem.as_bytes()).expect("certificate");
    let key = cert.public_key().unwrap();
    let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
    verifier.update(signed.join("&").as_bytes()).unwrap();
    verifier.verify(&signature).unwrap_or(false)
}
