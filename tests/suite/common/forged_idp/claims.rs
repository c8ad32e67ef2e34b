//! ID token claims: the users the forged IdP signs in, the claims a valid ID token for a
//! recorded authorization holds, and the edits tests make to them, one function per case of
//! the relying-party checks (OpenID RP conformance `oidcc-client-test-*`, Entra's issuer rules).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::Exchange;

/// The tenant of the Entra-mode IdP's app registration, and of its default user.
pub const HOME_TENANT: &str = "3c9d6e2a-51f0-4b7e-9a64-0d1e2f3a4b5c";
/// Another organization's Entra tenant.
pub const OTHER_TENANT: &str = "8e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
/// Entra's tenant of personal Microsoft accounts (`id-token-claims-reference.md`, `tid` row).
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A user the IdP signs in: `sub` and the claims its ID tokens carry beside the protocol's.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub sub: String,
    pub claims: Map<String, Value>,
}

impl User {
    /// A user of a plain OpenID provider: `name`, a verified `email` at `example.test`,
    /// `preferred_username`.
    pub fn generic(name: &str) -> User {
        let claims = json!({
            "name": capitalized(name),
            "preferred_username": name,
            "email": format!("{name}@example.test"),
            "email_verified": true,
        });
        User {
            sub: format!("sub-{name}"),
            claims: object(claims),
        }
    }

    /// A work account of Entra tenant `tid`, as a v2.0 ID token shows it (`profile` and `email`
    /// scopes): a pairwise `sub`, `oid`, `tid`, `upn`, `email` with `xms_edov: true`, `name`,
    /// `preferred_username`, two `groups` (object IDs), one app role, `ver: "2.0"`.
    pub fn entra(tid: &str, name: &str) -> User {
        let guid = || uuid::Uuid::new_v4().to_string();
        let address = format!("{name}@contoso.test");
        let claims = json!({
            "oid": guid(),
            "tid": tid,
            "upn": address,
            "email": address,
            "xms_edov": true,
            "name": capitalized(name),
            "preferred_username": address,
            "groups": [guid(), guid()],
            "roles": ["Reader"],
            "ver": "2.0",
        });
        User {
            // Entra's `sub` is pairwise per application: opaque, base64url, 43 characters.
            sub: B64.encode(Sha256::digest(guid().as_bytes())),
            claims: object(claims),
        }
    }

    /// This user with claim `name` set to `value` (null: removed).
    pub fn with(mut self, name: &str, value: Value) -> User {
        if value.is_null() {
            self.claims.remove(name);
        } else {
            self.claims.insert(name.to_string(), value);
        }
        self
    }

    /// The Entra tenant of the user, if it has one.
    pub fn tid(&self) -> Option<&str> {
        self.claims.get("tid").and_then(Value::as_str)
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// The claims of a valid ID token for `exchange`: the user's claims, then `iss`, `sub`,
/// `aud` (the client), `exp`, `iat`, `auth_time`, `sid` and the recorded `nonce`. An ID token
/// from a refresh carries no `nonce` (OIDC Core §12.2).
pub(super) fn id_token(exchange: &Exchange, lifetime: i64) -> Value {
    let authorization = &exchange.authorization;
    let mut claims = authorization.user.claims.clone();
    let now = exchange.now;
    let protocol = json!({
        "iss": authorization.issuer,
        "sub": authorization.user.sub,
        "aud": authorization.request.client_id,
        "exp": now + lifetime,
        "iat": now,
        "auth_time": authorization.auth_time,
        "sid": authorization.sid,
    });
    claims.extend(object(protocol));
    if let (Some(nonce), "authorization_code") =
        (&authorization.request.nonce, exchange.grant_type.as_str())
    {
        claims.insert("nonce".into(), json!(nonce));
    }
    Value::Object(claims)
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the access token (the hash of
/// RS256 and ES256).
pub fn at_hash(access_token: &str) -> String {
    B64.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// Removes `names`.
pub fn remove(claims: &mut Value, names: &[&str]) {
    let map = claims.as_object_mut().expect("claims are an object");
    for name in names {
        map.remove(*name);
    }
}

/// `oidcc-client-test-invalid-iss`.
pub fn wrong_issuer(claims: &mut Value) {
    claims["iss"] = json!("https://wrong-issuer.invalid/v2.0");
}

/// Moves the token to Entra tenant `tid`: `tid`, and the tenant segment of `iss`, become `tid`.
/// The token stays consistent; only a check of which tenant is expected refuses it.
pub fn retenant(claims: &mut Value, tid: &str) {
    let old = claims["tid"].as_str().expect("a tid claim").to_string();
    let iss = claims["iss"].as_str().expect("an iss claim");
    claims["iss"] = json!(iss.replace(&format!("/{old}/"), &format!("/{tid}/")));
    claims["tid"] = json!(tid);
}

/// A consistent token of another organization's tenant ([`OTHER_TENANT`]).
pub fn other_tenant(claims: &mut Value) {
    retenant(claims, OTHER_TENANT);
}

/// A personal Microsoft account ([`CONSUMER_TENANT`]), which an organization's IdP refuses.
pub fn consumer_tenant(claims: &mut Value) {
    retenant(claims, CONSUMER_TENANT);
}

/// `tid` and the tenant of `iss` are a domain name, not a GUID (Entra's second issuer rule).
pub fn non_guid_tenant(claims: &mut Value) {
    retenant(claims, "contoso.onmicrosoft.com");
}

/// `tid` is another tenant's while `iss` still names the user's own.
pub fn tid_not_in_issuer(claims: &mut Value) {
    claims["tid"] = json!(OTHER_TENANT);
}

/// `oidcc-client-test-invalid-aud`.
pub fn wrong_audience(claims: &mut Value) {
    claims["aud"] = json!("someone-else");
}

/// `aud` becomes an array of the current audience and `others`; `azp` is set to `azp`, or
/// removed with `None` (OIDC Core §3.1.3.7 items 3-5).
pub fn audiences(claims: &mut Value, others: &[&str], azp: Option<&str>) {
    let mut aud = vec![claims["aud"].clone()];
    aud.extend(others.iter().map(|o| json!(o)));
    claims["aud"] = Value::Array(aud);
    match azp {
        Some(azp) => claims["azp"] = json!(azp),
        None => remove(claims, &["azp"]),
    }
}

/// `oidcc-client-test-missing-sub`.
pub fn missing_sub(claims: &mut Value) {
    remove(claims, &["sub"]);
}

/// `oidcc-client-test-missing-iat`.
pub fn missing_iat(claims: &mut Value) {
    remove(claims, &["iat"]);
}

/// Expired ten minutes ago (beyond any sensible clock skew), issued an hour before that.
pub fn expired(claims: &mut Value, now: i64) {
    claims["exp"] = json!(now - 600);
    claims["iat"] = json!(now - 600 - 3600);
}

/// `nbf` ten minutes from now.
pub fn not_yet_valid(claims: &mut Value, now: i64) {
    claims["nbf"] = json!(now + 600);
}

/// Issued a day from now (and valid for an hour after that).
pub fn issued_in_future(claims: &mut Value, now: i64) {
    claims["iat"] = json!(now + 86_400);
    claims["exp"] = json!(now + 86_400 + 3600);
}

/// `oidcc-client-test-nonce-invalid`.
pub fn wrong_nonce(claims: &mut Value) {
    claims["nonce"] = json!("not-the-nonce-that-was-sent");
}

pub fn missing_nonce(claims: &mut Value) {
    remove(claims, &["nonce"]);
}

/// `at_hash` of `access_token`, as it should be.
pub fn right_at_hash(claims: &mut Value, access_token: &str) {
    claims["at_hash"] = json!(at_hash(access_token));
}

/// `at_hash` of another token than `access_token` (`oidcc-client-test-invalid-athash`).
pub fn wrong_at_hash(claims: &mut Value, access_token: &str) {
    claims["at_hash"] = json!(at_hash(&format!("{access_token}-other")));
}

/// Entra's groups overage (`id-token-claims-reference.md`, "Groups overage claim"): no
/// `groups`, and `_claim_names`/`_claim_sources` pointing at Graph's `getMemberObjects` for the
/// user's `oid` (the shape of OIDC Core §5.6.2 distributed claims).
pub fn groups_overage(claims: &mut Value) {
    let oid = claims["oid"].as_str().unwrap_or("unknown").to_string();
    remove(claims, &["groups"]);
    claims["_claim_names"] = json!({"groups": "src1"});
    claims["_claim_sources"] = json!({"src1": {
        "endpoint": format!("https://graph.microsoft.com/v1.0/users/{oid}/getMemberObjects")
    }});
}
