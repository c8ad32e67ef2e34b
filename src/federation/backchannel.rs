//! OpenID Connect Back-Channel Logout 1.0 from an upstream IdP:
//! `POST {issuer}/broker/{alias}/backchannel-logout` with a `logout_token`. A valid token
//! (§2.6: signed by the IdP with an accepted algorithm, never `none`; `iss` the IdP's, by
//! Entra's rule where it applies; `aud` our client; `iat`; the back-channel logout event; `sid`
//! or `sub`; no `nonce`) ends every SSO session it names and their refresh tokens. Anything
//! else is refused with 400 and ends nothing (§2.8).
//!
//! openidconnect verifies ID tokens only (a logout token may carry no `sub`, and has no
//! nonce), so the signature and times are checked by [`jws`].

use std::sync::Arc;

use serde_json::Value;

use crate::config::IdentityProviderDecl;
use crate::db::models::broker as broker_rows;
use crate::db::models::sessions as session_rows;
use crate::db::{DbError, Micros};
use crate::federation::runtime::Runtime;
use crate::federation::upstream::{Keys, Metadata};
use crate::federation::{entra, jws};
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
    let skew = idp.clock_skew_secs();
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
    jws::check_times(claims, now_s, skew, false)?;
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
    let accepted = &idp.signature_algorithms;
    if let Err(why) = jws::verify_signature(&keys, &token, &header, accepted, secret.as_deref()) {
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
