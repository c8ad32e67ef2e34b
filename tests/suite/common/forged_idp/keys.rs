//! The forged IdP's keys and how it signs. Real signatures come from Vestibule's own
//! `issuer::jwt` (`SigningKey::sign`); the tokens that module refuses to make (`alg: none`,
//! HS256 keyed with a public key, a stranger's signature, an edited header) are assembled here by
//! hand. Also a strict JWKS verifier, for the IdP's `private_key_jwt` check and the self-tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde_json::{json, Map, Value};
use vestibule::issuer::jwt::{self, Alg, SigningKey, VerifyingKey};

/// The `kid` of [`Forgery::UnknownKid`]: no JWKS of the forged IdP ever holds it.
pub const UNKNOWN_KID: &str = "kid-not-in-the-jwks";

/// How a token's JOSE header and signature are made. The claims are the script's; a forgery
/// touches only the header and the signature.
#[derive(Clone, Debug, PartialEq)]
pub enum Forgery {
    /// A real signature by the current signing key, header `{alg, typ, kid}`, made by Vestibule's
    /// own `SigningKey::sign`.
    Valid,
    /// `alg: none` (RFC 7519 §6: an unsecured JWT), the current `kid`, an empty signature: the
    /// token ends in `.`.
    AlgNone,
    /// `alg: HS256`, the current `kid`, signed with HMAC-SHA256 keyed with the current key's
    /// public key **as PEM**: the SubjectPublicKeyInfo as OpenSSL writes it
    /// (`-----BEGIN PUBLIC KEY-----`, 64-column base64, LF line ends, a final LF), the bytes a
    /// library that hands "the key" to HMAC uses (the classic algorithm-confusion attack).
    /// [`super::ForgedIdp::public_key_pem`] gives the same bytes.
    Hs256WithPublicKey,
    /// As [`Forgery::Hs256WithPublicKey`], keyed with the DER bytes of the SubjectPublicKeyInfo.
    Hs256WithPublicKeyDer,
    /// The current key's `alg` and `kid`, signed by a key that no JWKS publishes.
    WrongSignature,
    /// A real signature by the current key, the header without `kid`.
    NoKid,
    /// A real signature by the current key under [`UNKNOWN_KID`]: only a `kid` check refuses it.
    UnknownKid,
    /// A real signature by key `kid` of the IdP (an old key, a removed one, one of `use: enc`).
    SignWith(String),
    /// The header of the inner forgery with members set (a JSON null removes one), signed as
    /// the inner forgery signs but over the edited header. Build it with [`Forgery::with_header`].
    Header(Box<Forgery>, Map<String, Value>),
}

impl Forgery {
    /// This forgery with header member `name` set to `value` (null: removed), e.g.
    /// `Forgery::Valid.with_header("typ", json!("at+jwt"))`.
    pub fn with_header(self, name: &str, value: Value) -> Forgery {
        let (base, mut edits) = match self {
            Forgery::Header(base, edits) => (base, edits),
            other => (Box::new(other), Map::new()),
        };
        edits.insert(name.to_string(), value);
        Forgery::Header(base, edits)
    }
}

/// What makes the signature bytes of a hand-assembled token.
enum Signature {
    Empty,
    Hmac(Vec<u8>),
    Key(PKey<Private>, Alg),
}

impl Signature {
    fn over(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Signature::Empty => Vec::new(),
            Signature::Hmac(secret) => hmac_sha256(secret, input),
            Signature::Key(key, alg) => raw_signature(key, *alg, input),
        }
    }
}

/// HMAC-SHA256 of `input` keyed with `secret` (what an HS256 verifier computes).
pub fn hmac_sha256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(secret).expect("HMAC key");
    let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("HMAC");
    signer.sign_oneshot_to_vec(input).expect("HMAC-SHA256")
}

/// A JWS signature by `key` under a header of our own (Vestibule's `SigningKey` writes its
/// own header, so the forgeries with a real signature sign here).
fn raw_signature(key: &PKey<Private>, alg: Alg, input: &[u8]) -> Vec<u8> {
    match alg {
        Alg::RS256 => Signer::new(MessageDigest::sha256(), key)
            .and_then(|mut s| s.sign_oneshot_to_vec(input))
            .expect("RS256"),
        Alg::ES256 => {
            let der = Signer::new(MessageDigest::sha256(), key)
                .and_then(|mut s| s.sign_oneshot_to_vec(input))
                .expect("ES256");
            // RFC 7518 §3.4: r || s, 32 bytes each, not OpenSSL's DER.
            let sig = EcdsaSig::from_der(&der).expect("ECDSA DER");
            let mut raw = sig.r().to_vec_padded(32).expect("r");
            raw.extend(sig.s().to_vec_padded(32).expect("s"));
            raw
        }
        Alg::EdDSA => Signer::new_without_digest(key)
            .and_then(|mut s| s.sign_oneshot_to_vec(input))
            .expect("EdDSA"),
    }
}

/// One key of the IdP.
struct IdpKey {
    kid: String,
    alg: Alg,
    private: PKey<Private>,
    jwt: SigningKey,
    /// The JWK `use` it is published with (`sig`, or whatever a test chose).
    key_use: String,
    /// Entra's non-standard JWK member `issuer`, if the key carries one.
    issuer: Option<String>,
    published: bool,
}

/// The IdP's keys: the signing one, those the JWKS publishes, and raw entries a test added.
pub(super) struct KeySet {
    keys: Vec<IdpKey>,
    signing: usize,
    /// Keys no JWKS publishes, one per algorithm, made when first needed.
    strangers: Vec<(Alg, PKey<Private>)>,
    /// Entries published as they are (unparseable keys and such), after the real keys.
    raw: Vec<Value>,
    /// The `issuer` member new keys get (Entra mode: the issuer template).
    key_issuer: Option<String>,
}

impl KeySet {
    pub fn new(alg: Alg, key_issuer: Option<String>) -> KeySet {
        let mut set = KeySet {
            keys: Vec::new(),
            signing: 0,
            strangers: Vec::new(),
            raw: Vec::new(),
            key_issuer,
        };
        set.add(alg, "sig");
        set
    }

    /// Publishes a new key of `alg` with JWK `use` `key_use`; the signing key stays. Its kid.
    pub fn add(&mut self, alg: Alg, key_use: &str) -> String {
        let kid = format!("key-{}-{}", self.keys.len() + 1, alg.as_str());
        let private = jwt::generate(alg).expect("key generation");
        self.keys.push(IdpKey {
            jwt: SigningKey::new(kid.clone(), alg, private.clone()),
            kid: kid.clone(),
            alg,
            private,
            key_use: key_use.to_string(),
            issuer: self.key_issuer.clone(),
            published: true,
        });
        kid
    }

    /// A new key of `alg` signs from now on; the old ones stay published. Its kid.
    pub fn rotate(&mut self, alg: Alg) -> String {
        let kid = self.add(alg, "sig");
        self.signing = self.keys.len() - 1;
        kid
    }

    fn key(&self, kid: &str) -> &IdpKey {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("the forged IdP has no key {kid}"))
    }

    fn key_mut(&mut self, kid: &str) -> &mut IdpKey {
        self.keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("the forged IdP has no key {kid}"))
    }

    /// The JWKS stops publishing `kid`; if it is the signing key, it still signs.
    pub fn remove(&mut self, kid: &str) {
        self.key_mut(kid).published = false;
    }

    /// Sets (or, with `None`, removes) Entra's `issuer` member of key `kid`.
    pub fn set_issuer(&mut self, kid: &str, issuer: Option<String>) {
        self.key_mut(kid).issuer = issuer;
    }

    pub fn push_raw(&mut self, entry: Value) {
        self.raw.push(entry);
    }

    pub fn signing_kid(&self) -> &str {
        &self.keys[self.signing].kid
    }

    pub fn signing_alg(&self) -> Alg {
        self.keys[self.signing].alg
    }

    /// The published keys and raw entries, as `/jwks` serves them.
    pub fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.published)
            .map(|k| {
                let mut jwk = jwt::public_jwk(k.alg, &k.kid, &k.private).expect("JWK");
                jwk["use"] = json!(k.key_use);
                if let Some(issuer) = &k.issuer {
                    jwk["issuer"] = json!(issuer);
                }
                jwk
            })
            .collect();
        keys.extend(self.raw.iter().cloned());
        json!({ "keys": keys })
    }

    /// The algorithms of the published keys, for the discovery document.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = Vec::new();
        for k in self.keys.iter().filter(|k| k.published) {
            if !algs.contains(&k.alg.as_str()) {
                algs.push(k.alg.as_str());
            }
        }
        algs
    }

    /// Key `kid`'s public key as PEM (SubjectPublicKeyInfo), the HMAC key of
    /// [`Forgery::Hs256WithPublicKey`].
    pub fn public_key_pem(&self, kid: &str) -> Vec<u8> {
        self.key(kid).private.public_key_to_pem().expect("PEM")
    }

    /// Verifying keys for every key the IdP holds, published or not, for `jwt::verify`.
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.keys
            .iter()
            .map(|k| k.jwt.verifying_key().expect("verifying key"))
            .collect()
    }

    fn stranger(&mut self, alg: Alg) -> PKey<Private> {
        if let Some((_, key)) = self.strangers.iter().find(|(a, _)| *a == alg) {
            return key.clone();
        }
        let key = jwt::generate(alg).expect("key generation");
        self.strangers.push((alg, key.clone()));
        key
    }

    /// The header and the signer of a hand-assembled token.
    fn plan(&mut self, forgery: &Forgery, typ: &str) -> (Value, Signature) {
        let current = &self.keys[self.signing];
        let (alg, kid) = (current.alg, current.kid.clone());
        let header = |alg: &str, kid: Option<&str>| {
            let mut header = json!({"alg": alg, "typ": typ});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            header
        };
        let public = |der: bool| {
            let key = &current.private;
            Signature::Hmac(if der {
                key.public_key_to_der().expect("DER")
            } else {
                key.public_key_to_pem().expect("PEM")
            })
        };
        let own = Signature::Key(current.private.clone(), alg);
        match forgery {
            Forgery::Valid => (header(alg.as_str(), Some(&kid)), own),
            Forgery::AlgNone => (header("none", Some(&kid)), Signature::Empty),
            Forgery::Hs256WithPublicKey => (header("HS256", Some(&kid)), public(false)),
            Forgery::Hs256WithPublicKeyDer => (header("HS256", Some(&kid)), public(true)),
            Forgery::NoKid => (header(alg.as_str(), None), own),
            Forgery::UnknownKid => (header(alg.as_str(), Some(UNKNOWN_KID)), own),
            Forgery::WrongSignature => {
                let header = header(alg.as_str(), Some(&kid));
                (header, Signature::Key(self.stranger(alg), alg))
            }
            Forgery::SignWith(kid) => {
                let key = self.key(kid);
                let signer = Signature::Key(key.private.clone(), key.alg);
                (header(key.alg.as_str(), Some(kid)), signer)
            }
            Forgery::Header(base, edits) => {
                let (mut header, signer) = self.plan(base, typ);
                for (name, value) in edits {
                    match value {
                        Value::Null => header.as_object_mut().expect("header").remove(name),
                        value => header
                            .as_object_mut()
                            .expect("header")
                            .insert(name.clone(), value.clone()),
                    };
                }
                (header, signer)
            }
        }
    }

    /// `claims` as a compact JWS with header `typ`, made as `forgery` says.
    pub fn sign(&mut self, claims: &Value, typ: &str, forgery: &Forgery) -> String {
        match forgery {
            Forgery::Valid => return self.keys[self.signing].jwt.sign(claims, typ).expect("sign"),
            Forgery::SignWith(kid) => return self.key(kid).jwt.sign(claims, typ).expect("sign"),
            _ => {}
        }
        let (header, signer) = self.plan(forgery, typ);
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = signer.over(input.as_bytes());
        format!("{input}.{}", B64.encode(signature))
    }
}

/// The public key of an RSA or P-256 JWK; `None` for any other (or a malformed) one.
pub fn public_key_of_jwk(jwk: &Value) -> Option<PKey<Public>> {
    let field = |name: &str| -> Option<Vec<u8>> { B64.decode(jwk.get(name)?.as_str()?).ok() };
    let number = |name: &str| BigNum::from_slice(&field(name)?).ok();
    match (
        jwk.get("kty")?.as_str()?,
        jwk.get("crv").and_then(Value::as_str),
    ) {
        ("RSA", _) => {
            let rsa = Rsa::from_public_components(number("n")?, number("e")?).ok()?;
            PKey::from_rsa(rsa).ok()
        }
        ("EC", Some("P-256")) => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
            let (x, y) = (number("x")?, number("y")?);
            let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
            PKey::from_ec_key(ec).ok()
        }
        _ => None,
    }
}

/// Whether `token`'s signature verifies with the public key of `jwk` (an RSA key as RS256, a
/// P-256 key as ES256), whatever the token's header says.
pub fn signature_verifies(token: &str, jwk: &Value) -> bool {
    let verifies = || -> Option<bool> {
        let (input, signature) = token.rsplit_once('.')?;
        let key = public_key_of_jwk(jwk)?;
        let mut signature = B64.decode(signature).ok()?;
        if jwk["kty"] == "EC" {
            // RFC 7518 §3.4: r || s, 32 bytes each; OpenSSL verifies DER.
            if signature.len() != 64 {
                return Some(false);
            }
            let r = BigNum::from_slice(&signature[..32]).ok()?;
            let s = BigNum::from_slice(&signature[32..]).ok()?;
            signature = EcdsaSig::from_private_components(r, s)
                .ok()?
                .to_der()
                .ok()?;
        }
        let mut verifier = Verifier::new(MessageDigest::sha256(), &key).ok()?;
        verifier.verify_oneshot(&signature, input.as_bytes()).ok()
    };
    verifies().unwrap_or(false)
}

/// Part `index` of a compact JWS (0: the header, 1: the claims), decoded but unverified.
fn part(token: &str, index: usize) -> Option<Value> {
    let part = token.split('.').nth(index)?;
    serde_json::from_slice(&B64.decode(part).ok()?).ok()
}

/// The claims of a compact JWS, unverified; `None` if it is not one.
pub fn unverified_claims(token: &str) -> Option<Value> {
    part(token, 1)
}

/// Verifies a compact JWS against a JWKS as a strict relying party does: RS256 or ES256 only,
/// the key found by `kid` among keys of `use: sig` (or no `use`), the key's `kty` the alg's;
/// entries it cannot use are skipped (RFC 7517 §5). Returns the claims, or why not. Times and
/// audiences are the caller's checks.
pub fn verify_with_jwks(token: &str, jwks: &Value) -> Result<Value, String> {
    let header = part(token, 0).filter(|_| token.split('.').count() == 3);
    let header = header.ok_or("not a compact JWS")?;
    let kty = match header["alg"].as_str() {
        Some("RS256") => "RSA",
        Some("ES256") => "EC",
        other => return Err(format!("alg {other:?} is not accepted")),
    };
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let signs = |k: &Value| k.get("use").is_none_or(|u| u == "sig");
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid && k["kty"] == kty && signs(k))
        .ok_or_else(|| format!("no signing key {kid} of kty {kty}"))?;
    if !signature_verifies(token, jwk) {
        return Err("the signature does not verify".into());
    }
    unverified_claims(token).ok_or_else(|| "the claims are not JSON".into())
}
