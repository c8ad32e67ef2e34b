//! JSON Web Tokens (RFC 7515/7519) signed and verified with OpenSSL: RS256, ES256 and EdDSA.
//! OpenSSL because it signs RSA more than twice as fast as ring on this hardware, and samael
//! links it anyway. No `alg: none`, and a token's `alg` must be its key's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

/// The signing algorithms a client may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("no key with the token's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("key error: {0}")]
    Key(String),
}

impl From<openssl::error::ErrorStack> for JwtError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        JwtError::Key(e.to_string())
    }
}

/// A fresh private key for `alg`.
pub fn generate(alg: Alg) -> Result<PKey<Private>, JwtError> {
    Ok(match alg {
        Alg::RS256 => PKey::from_rsa(Rsa::generate(2048)?)?,
        Alg::ES256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        Alg::EdDSA => PKey::generate_ed25519()?,
    })
}

pub fn private_pem(key: &PKey<Private>) -> Result<String, JwtError> {
    Ok(String::from_utf8_lossy(&key.private_key_to_pem_pkcs8()?).into_owned())
}

pub fn private_from_pem(pem: &str) -> Result<PKey<Private>, JwtError> {
    Ok(PKey::private_key_from_pem(pem.as_bytes())?)
}

/// The public half as a JWK (RFC 7517/7518/8037), with `kid`, `alg` and `use`.
pub fn public_jwk(alg: Alg, kid: &str, key: &PKey<Private>) -> Result<Value, JwtError> {
    let mut jwk = match alg {
        Alg::RS256 => {
            let rsa = key.rsa()?;
            json!({"kty": "RSA", "n": B64.encode(rsa.n().to_vec()), "e": B64.encode(rsa.e().to_vec())})
        }
        Alg::ES256 => {
            let ec = key.ec_key()?;
            let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
            let mut ctx = BigNumContext::new()?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
            json!({"kty": "EC", "crv": "P-256",
                   "x": B64.encode(x.to_vec_padded(32)?), "y": B64.encode(y.to_vec_padded(32)?)})
        }
        Alg::EdDSA => {
            json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(key.raw_public_key()?)})
        }
    };
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok(jwk)
}

/// How many ready signing contexts a key keeps at most (one per thread that signs at once).
const CONTEXT_POOL_MAX: usize = 64;

/// A key that signs.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    key: PKey<Private>,
    /// RS256 and ES256 sign a SHA-256 digest through contexts initialised once and reused:
    /// OpenSSL 3 looks up the algorithm implementations (under shared locks) on every context
    /// set-up, which cost an ES256 signature inside the busy server about half as much again
    /// as the signature itself.
    contexts: Mutex<Vec<PkeyCtx<Private>>>,
}

impl SigningKey {
    pub fn new(kid: String, alg: Alg, key: PKey<Private>) -> Self {
        SigningKey {
            kid,
            alg,
            key,
            contexts: Mutex::new(Vec::new()),
        }
    }

    /// A context ready to sign a SHA-256 digest with this key (RS256: PKCS#1 v1.5).
    fn context(&self) -> Result<PkeyCtx<Private>, JwtError> {
        if let Some(ctx) = self.contexts.lock().ok().and_then(|mut pool| pool.pop()) {
            return Ok(ctx);
        }
        let mut ctx = PkeyCtx::new(&self.key)?;
        ctx.sign_init()?;
        if self.alg == Alg::RS256 {
            ctx.set_rsa_padding(Padding::PKCS1)?;
        }
        ctx.set_signature_md(Md::sha256())?;
        Ok(ctx)
    }

    fn give_back(&self, ctx: PkeyCtx<Private>) {
        if let Ok(mut pool) = self.contexts.lock() {
            if pool.len() < CONTEXT_POOL_MAX {
                pool.push(ctx);
            }
        }
    }

    /// The signature of SHA-256(`input`), through a pooled context.
    fn sign_digest(&self, input: &[u8]) -> Result<Vec<u8>, JwtError> {
        let digest = Sha256::digest(input);
        let mut ctx = self.context()?;
        let mut signature = Vec::new();
        ctx.sign_to_vec(&digest, &mut signature)?;
        self.give_back(ctx);
        Ok(signature)
    }

    /// Signs `claims` as a compact JWS with `typ` (e.g. `JWT`).
    pub fn sign(&self, claims: &Value, typ: &str) -> Result<String, JwtError> {
        let header = json!({"alg": self.alg.as_str(), "typ": typ, "kid": self.kid});
        let mut token = B64.encode(header.to_string());
        token.push('.');
        token.push_str(&B64.encode(claims.to_string()));
        let signature = self.signature(token.as_bytes())?;
        token.push('.');
        token.push_str(&B64.encode(signature));
        Ok(token)
    }

    fn signature(&self, input: &[u8]) -> Result<Vec<u8>, JwtError> {
        Ok(match self.alg {
            Alg::RS256 => self.sign_digest(input)?,
            Alg::ES256 => {
                // JWS wants r || s, 32 bytes each (RFC 7518 §3.4), not OpenSSL's DER.
                let der = self.sign_digest(input)?;
                let sig = EcdsaSig::from_der(&der)?;
                let mut raw = sig.r().to_vec_padded(32)?;
                raw.extend(sig.s().to_vec_padded(32)?);
                raw
            }
            Alg::EdDSA => Signer::new_without_digest(&self.key)?.sign_oneshot_to_vec(input)?,
        })
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, JwtError> {
        let der = self.key.public_key_to_der()?;
        Ok(VerifyingKey {
            kid: self.kid.clone(),
            alg: self.alg,
            key: PKey::public_key_from_der(&der)?,
        })
    }
}

/// A key that verifies.
pub struct VerifyingKey {
    pub kid: String,
    pub alg: Alg,
    key: PKey<Public>,
}

impl VerifyingKey {
    fn verifies(&self, input: &[u8], signature: &[u8]) -> Result<bool, JwtError> {
        Ok(match self.alg {
            Alg::RS256 => {
                let mut v = Verifier::new(MessageDigest::sha256(), &self.key)?;
                v.verify_oneshot(signature, input)?
            }
            Alg::ES256 => {
                if signature.len() != 64 || self.key.id() != Id::EC {
                    return Ok(false);
                }
                let r = BigNum::from_slice(&signature[..32])?;
                let s = BigNum::from_slice(&signature[32..])?;
                let der = EcdsaSig::from_private_components(r, s)?.to_der()?;
                let mut v = Verifier::new(MessageDigest::sha256(), &self.key)?;
                v.verify_oneshot(&der, input)?
            }
            Alg::EdDSA => {
                let mut v = Verifier::new_without_digest(&self.key)?;
                v.verify_oneshot(signature, input)?
            }
        })
    }
}

/// The parts of a token, decoded but not yet trusted.
struct Parts {
    header: Value,
    claims: Value,
    signed: String,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Parts, JwtError> {
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| -> Result<Value, JwtError> {
        let bytes = B64.decode(part).map_err(|_| JwtError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
    };
    Ok(Parts {
        header: decode(h)?,
        claims: decode(c)?,
        signed: format!("{h}.{c}"),
        signature: B64.decode(s).map_err(|_| JwtError::Malformed)?,
    })
}

/// Verifies a token against `keys` and returns its claims. The header's `alg` must be the
/// key's own (no `none`, no algorithm confusion). Time and audience are the caller's checks.
pub fn verify<'a>(
    token: &str,
    keys: impl IntoIterator<Item = &'a VerifyingKey>,
) -> Result<Value, JwtError> {
    let parts = split(token)?;
    let alg = parts
        .header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Alg::parse)
        .ok_or(JwtError::Algorithm)?;
    let kid = parts.header.get("kid").and_then(Value::as_str);
    let key = keys
        .into_iter()
        .find(|k| Some(k.kid.as_str()) == kid)
        .ok_or(JwtError::UnknownKey)?;
    if key.alg != alg {
        return Err(JwtError::Algorithm);
    }
    if !key.verifies(parts.signed.as_bytes(), &parts.signature)? {
        return Err(JwtError::Signature);
    }
    Ok(parts.claims)
}

/// The claims of a token without checking anything: only for `id_token_hint` on logout, where
/// an expired token is still a valid hint once its signature has been checked by [`verify`].
pub fn header_kid(token: &str) -> Option<String> {
    split(token)
        .ok()?
        .header
        .get("kid")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
#[path = "jwt_rfc_vectors.rs"]
mod rfc_vectors;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: Alg) -> SigningKey {
        SigningKey::new(format!("k-{}", alg.as_str()), alg, generate(alg).unwrap())
    }

    #[test]
    fn each_algorithm_signs_and_verifies_its_own_tokens() {
        for alg in Alg::ALL {
            let k = key(alg);
            let token = k.sign(&json!({"sub": "alice", "n": 1}), "JWT").unwrap();
            let vk = k.verifying_key().unwrap();
            assert_eq!(verify(&token, [&vk]).unwrap()["sub"], "alice", "{alg:?}");
            let header: Value =
                serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap())
                    .unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], k.kid.as_str());
            let jwk = public_jwk(
                alg,
                &k.kid,
                &private_from_pem(&private_pem(&k.key).unwrap()).unwrap(),
            )
            .unwrap();
            assert_eq!(jwk["alg"], alg.as_str());
        }
    }

    #[test]
    fn tampering_alg_none_and_confusion_are_refused() {
        let k = key(Alg::ES256);
        let vk = k.verifying_key().unwrap();
        let token = k.sign(&json!({"sub": "alice"}), "JWT").unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = B64.encode(json!({"sub": "mallory"}).to_string());
        let tampered = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(verify(&tampered, [&vk]), Err(JwtError::Signature));
        let none_header = B64.encode(json!({"alg": "none", "kid": k.kid}).to_string());
        assert_eq!(
            verify(&format!("{none_header}.{}.", parts[1]), [&vk]),
            Err(JwtError::Algorithm)
        );
        let rs_header = B64.encode(json!({"alg": "RS256", "kid": k.kid}).to_string());
        assert_eq!(
            verify(&format!("{rs_header}.{}.{}", parts[1], parts[2]), [&vk]),
            Err(JwtError::Algorithm)
        );
        // HS256 keyed with the public key the JWKS publishes: the classic confusion.
        let hs_header = B64.encode(json!({"alg": "HS256", "kid": k.kid}).to_string());
        let hs_input = format!("{hs_header}.{}", parts[1]);
        let public_pem = k.key.public_key_to_pem().unwrap();
        let hmac = PKey::hmac(&public_pem).unwrap();
        let mac = Signer::new(MessageDigest::sha256(), &hmac)
            .unwrap()
            .sign_oneshot_to_vec(hs_input.as_bytes())
            .unwrap();
        assert_eq!(
            verify(&format!("{hs_input}.{}", B64.encode(mac)), [&vk]),
            Err(JwtError::Algorithm)
        );
        assert_eq!(verify("a.b", [&vk]), Err(JwtError::Malformed));
        let other = SigningKey::new("another".into(), Alg::ES256, generate(Alg::ES256).unwrap());
        assert_eq!(
            verify(&other.sign(&json!({}), "JWT").unwrap(), [&vk]),
            Err(JwtError::UnknownKey)
        );
    }
}
