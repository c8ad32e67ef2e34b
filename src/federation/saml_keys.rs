//! Vestibule's own key at each SAML IdP: an RSA key and its self-signed certificate, made the
//! first time the connection needs one and kept in the database (every instance uses the same
//! one, and it survives restarts, so the customer's IdP keeps trusting it). The SP metadata
//! publishes the certificate of every key not retired, so that a successor can be published
//! before it is used; assertions encrypted to any of them are read.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};

use crate::db::models::broker::{self as rows, SamlSpKey};
use crate::db::{DbConnection, DbError, Micros};
use crate::federation::saml::Signer;

/// How long a generated certificate says it is valid. SAML IdPs use the certificate as a key
/// container and rarely check dates, but some do: ten years, replaced by rotation, not expiry.
const CERTIFICATE_DAYS: i64 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum SpKeyError {
    #[error("cannot make an SP key: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("SP metadata: {0}")]
    Metadata(String),
}

/// A new key and certificate for connection `alias` of realm `realm_id`, named for
/// `sp_entity_id`, valid from `now`.
pub fn generate(
    realm_id: &str,
    alias: &str,
    sp_entity_id: &str,
    now: Micros,
) -> Result<SamlSpKey, SpKeyError> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    // A CN holds at most 64 characters; the entity ID is what an operator recognises.
    let cn: String = sp_entity_id.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn)?;
    let name = name.build();
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    let from = now / 1_000_000;
    let (not_before, not_after) = (
        Asn1Time::from_unix(from)?,
        Asn1Time::from_unix(from + CERTIFICATE_DAYS * 86_400)?,
    );
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(&key, MessageDigest::sha256())?;
    let private_pem = String::from_utf8(key.private_key_to_pem_pkcs8()?).unwrap_or_default();
    Ok(SamlSpKey {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        identity_provider: alias.to_string(),
        private_pem,
        certificate_der: builder.build().to_der()?,
        created_at: now,
        retired_at: None,
    })
}

/// The connection's keys, newest first; `fresh` is stored first when it has none, so that two
/// instances starting at once end with one key.
pub fn keys_or_store(
    conn: &mut DbConnection,
    realm_id: &str,
    alias: &str,
    fresh: impl FnOnce() -> Result<SamlSpKey, SpKeyError>,
) -> Result<Vec<SamlSpKey>, SpKeyError> {
    let keys = rows::saml_sp_keys(conn, realm_id, alias)?;
    if !keys.is_empty() {
        return Ok(keys);
    }
    rows::insert_saml_sp_key(conn, &fresh()?)?;
    Ok(rows::saml_sp_keys(conn, realm_id, alias)?)
}

/// The key requests are signed with: the oldest not retired, so that a successor signs only
/// once its predecessor is retired, by which time the IdP has read both from the metadata.
pub fn signer(keys: &[SamlSpKey]) -> Option<Signer> {
    let oldest = keys.last()?;
    Some(Signer {
        key: PKey::private_key_from_pem(oldest.private_pem.as_bytes()).ok()?,
        certificate_der: oldest.certificate_der.clone(),
    })
}

/// The private keys of `keys`, skipping any that does not parse.
pub fn private_keys(keys: &[SamlSpKey]) -> Vec<PKey<Private>> {
    keys.iter()
        .filter_map(|k| PKey::private_key_from_pem(k.private_pem.as_bytes()).ok())
        .collect()
}
