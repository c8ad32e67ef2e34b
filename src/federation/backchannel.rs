//! OpenID Connect Back-Channel Logout 1.0 from an upstream IdP:
//! `POST {issuer}/broker/{alias}/backchannel-logout` with a `logout_token`. A valid token
//! (§2.6: signed by the IdP with an accepted algorithm, never `none`; `iss` the IdP's, by
//! Entra's rule where it applies; `aud` our client; `iat`; the back-channel logout event; `sid`
//! or `sub`; no `nonce`) ends every SSO session it names and their refresh tokens. Anything
//! else is refused with 400 and ends nothing (§2.8).
//!
//! openidconnect verifies ID tokens only (a logout token may carry no `sub`, and has no
//! nonce), so the signature is checked here with its key type's own `verify_signature`, the
//! key chosen by `kid` as for ID tokens.

use std::sync::Arc;

use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyUse};
use serde_json::Value;

use crate::config::IdentityProviderDecl;
use crate::db::models::broker as broker_rows;
use crate::db::models::sessions as session_rows;
use crate::db::{DbError, Micros};
use crate::federation::entra;
use crate::federation::runtime::Runtime;
use crate::federation::upstream::{Keys, Metadata};
use crate::issuer::runtime::RealmRow;

/// The event a back-channel logout token carries (§2.4).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What the endpoint answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Backchannel {
    /// Valid: this many sessions ended (none is fine: they may have ended already).
    Ended(usize),
    /// Refused; the reason is for the log and the error description.
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> Backchannel {
    Backchannel::Invalid(why.into())
}

/// The signature of a compact JWS, checked with the IdP's keys (or the client secret for an
/// accepted HMAC algorithm).
fn verify_signature(
    idp: &IdentityProviderDecl,
    keys: &Keys,
    token: &str,
    header: &Value,
    client_secret: Option<&str>,
) -> Result<(), String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if alg_name.eq_ignore_ascii_case("none")
        || !idp.signature_algorithms.iter().any(|a| a == alg_name)
    {
        return Err(format!("the algorithm {alg_name:?} is not accepted"));
    }
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::String(alg_name.into()))
        .map_err(|_| "an unknown algorithm")?;
    let (message, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let signature = B64
        .decode(signature)
        .map_err(|_| "the signature is not base64url")?;
    if alg_name.starts_with("HS") {
        let secret = client_secret.ok_or("an HMAC algorithm without a client secret")?;
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

/// The claims checks of §2.6 on a signed token.
fn check_claims(
    idp: &IdentityProviderDecl,
    metadata: &Metadata,
    keys: &Keys,
    header: &Value,
    claims: &Value,
    now: Micros,
) -> Result<(), String> {
    let now_s = now / 1_000_000;
    let skew = idp.clock_skew_secs;
    if idp.is_entra() {
        let kid = header.get("kid").and_then(Value::as_str);
        entra::check_issuer(idp, &metadata.issuer, claims, keys.issuer_of(kid))?;
    } else if claims.get("iss").and_then(Value::as_str) != Some(metadata.issuer.as_str()) {
        return Err("the token's iss is not the IdP's".into());
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == &idp.client_id,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(idp.client_id.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err("the token is not for this client (aud)".into());
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat <= now_s + skew => {}
        Some(_) => return Err("the token was issued in the future".into()),
        None => return Err("the token has no iat".into()),
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp + skew <= now_s)
    {
        return Err("the token has expired".into());
    }
    if !claims
        .pointer("/events")
        .and_then(Value::as_object)
        .is_some_and(|e| e.get(EVENT).is_some_and(Value::is_object))
    {
        return Err("the token carries no back-channel logout event".into());
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token must not carry a nonce".into());
    }
    if claims.get("sid").is_none() && claims.get("sub").is_none() {
        return Err("the token names neither sid nor sub".into());
    }
    Ok(())
}

/// Checks a logout token and ends the sessions it names.
pub async fn logout(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    logout_token: Option<String>,
) -> Result<Backchannel, DbError> {
    let idp = match rt.provider(&realm.name, alias) {
        Some(idp) if idp.enabled => idp.clone(),
        _ => return Ok(invalid("unknown or disabled identity provider")),
    };
    let Some(token) = logout_token.filter(|t| !t.is_empty()) else {
        return Ok(invalid("logout_token is required"));
    };
    let Ok((header, claims)) = crate::federation::oidc::parts(&token) else {
        return Ok(invalid("the logout token is not a JWT"));
    };
    let now = rt.issuer.now();
    let metadata = match rt.upstreams.metadata(&rt.http, &idp, now).await {
        Ok(m) => m,
        Err(e) => return Ok(invalid(e.to_string())),
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = match rt.upstreams.keys(&rt.http, &idp, &metadata, kid, now).await {
        Ok(k) => k,
        Err(e) => return Ok(invalid(e.to_string())),
    };
    let secret = idp
        .client_secret
        .as_ref()
        .and_then(|s| s.resolved.as_ref())
        .map(|s| s.expose().to_string());
    if let Err(why) = verify_signature(&idp, &keys, &token, &header, secret.as_deref()) {
        return Ok(invalid(why));
    }
    if let Err(why) = check_claims(&idp, &metadata, &keys, &header, &claims, now) {
        return Ok(invalid(why));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    let (sid, sub) = (text("sid"), text("sub"));
    let (realm_id, alias) = (realm.id.clone(), alias.to_string());
    let ended = rt
        .issuer
        .db
        .write(move |conn| -> Result<usize, DbError> {
            let sessions = broker_rows::sessions_named(
                conn,
                &realm_id,
                &alias,
                sid.as_deref(),
                sub.as_deref(),
            )?;
            for id in &sessions {
                session_rows::end_session(conn, id, now)?;
                session_rows::revoke_session_tokens(conn, id, now)?;
            }
            Ok(sessions.len())
        })
        .await?;
    Ok(Backchannel::Ended(ended))
}
