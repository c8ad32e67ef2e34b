//! Compact JWS checks for the upstream tokens openidconnect does not verify (it verifies ID
//! tokens only): back-channel logout tokens, and the JWT Entra's provisioning service sends in
//! place of a SCIM Secret Token. The signature by the IdP's keys with an accepted algorithm
//! (never `none`; HMAC only keyed with a secret we share, never with a public key), the key
//! chosen by `kid` as for ID tokens, and the times within a clock skew.

use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyUse};
use serde_json::Value;

use crate::federation::upstream::Keys;

/// Checks the signature of `token` (whose decoded header is `header`) with `keys`, by one of
/// the `accepted` algorithms; an HMAC one (`HS*`) is keyed with `hmac_secret` only.
pub fn verify_signature(
    keys: &Keys,
    token: &str,
    header: &Value,
    accepted: &[impl AsRef<str>],
    hmac_secret: Option<&str>,
) -> Result<(), String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if alg_name.eq_ignore_ascii_case("none") || !accepted.iter().any(|a| a.as_ref() == alg_name) {
        return Err(format!("the algorithm {alg_name:?} is not accepted"));
    }
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(alg_name.into()))
        .map_err(|_| "an unknown algorithm")?;
    let (message, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let signature = B64
        .decode(signature)
        .map_err(|_| "the signature is not base64url")?;
    if alg_name.starts_with("HS") {
        let secret = hmac_secret.ok_or("an HMAC algorithm without a shared secret")?;
        let key = CoreJsonWebKey::new_symmetric(secret.as_bytes().to_vec());
        return key
            .verify_signature(&alg, message.as_bytes(), &signature)
            .map_err(|_| "the signature does not verify".into());
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&CoreJsonWebKey> = keys
        .set
        .keys()
        .iter()
        .filter(|k| match kid {
            Some(kid) => k.key_id().is_some_and(|id| id.as_str() == kid),
            None => true,
        })
        .filter(|k| k.key_use().is_none_or(|u| u.allows_signature()))
        .collect();
    let key = match candidates.as_slice() {
        [one] => *one,
        [] => return Err("no key of the IdP has this kid".into()),
        _ => return Err("several keys fit and the token names none".into()),
    };
    key.verify_signature(&alg, message.as_bytes(), &signature)
        .map_err(|_| "the signature does not verify".into())
}

/// RFC 7519 §4.1.4-6 with `skew` seconds of leeway at `now_s`: `iat` present and not in the
/// future, `nbf` (when present) reached, `exp` not passed (absent only when not `exp_required`).
pub fn check_times(
    claims: &Value,
    now_s: i64,
    skew: i64,
    exp_required: bool,
) -> Result<(), String> {
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    match time("iat") {
        Some(iat) if iat <= now_s + skew => {}
        Some(_) => return Err("the token was issued in the future".into()),
        None => return Err("the token has no iat".into()),
    }
    if time("nbf").is_some_and(|nbf| nbf > now_s + skew) {
        return Err("the token is not valid yet (nbf)".into());
    }
    match time("exp") {
        Some(exp) if exp + skew <= now_s => Err("the token has expired".into()),
        None if exp_required => Err("the token has no exp".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_within_the_skew() {
        let now = 1_000_000;
        let ok = json!({"iat": now - 10, "nbf": now - 10, "exp": now + 10});
        assert!(check_times(&ok, now, 60, true).is_ok());
        // Within the skew either way.
        let edge = json!({"iat": now + 60, "nbf": now + 60, "exp": now - 59});
        assert!(check_times(&edge, now, 60, true).is_ok());
        for bad in [
            json!({"iat": now + 61, "exp": now + 10}),
            json!({"iat": now, "nbf": now + 61, "exp": now + 100}),
            json!({"iat": now - 100, "exp": now - 60}),
            json!({"exp": now + 10}),
        ] {
            assert!(check_times(&bad, now, 60, true).is_err(), "{bad}");
        }
        assert!(check_times(&json!({"iat": now}), now, 60, true).is_err());
        assert!(check_times(&json!({"iat": now}), now, 60, false).is_ok());
    }

    #[test]
    fn none_and_unlisted_algorithms_are_refused_before_any_key() {
        let keys = crate::federation::upstream::keys_from(&json!({"keys": []})).expect("keys");
        for alg in ["none", "NONE", "HS256", "ES256"] {
            let header = json!({"alg": alg});
            let err = verify_signature(&keys, "a.b.c", &header, &["RS256"], None);
            assert!(err.is_err_and(|e| e.contains("not accepted")), "{alg}");
        }
        // HMAC, when accepted, needs the shared secret: never a key of the set.
        let header = json!({"alg": "HS256"});
        assert!(verify_signature(&keys, "a.b.c", &header, &["HS256"], None).is_err());
    }
}
