//! RP-initiated logout for a brokered session: Vestibule's own logout (the issuer's), and then,
//! when the session came from an IdP whose logout Vestibule goes on to (`logout_upstream`:
//! off by default for OIDC, on for SAML), the browser goes on to the IdP's logout: its
//! end-session endpoint (OIDC RP-Initiated Logout 1.0 §2) with the stored ID token as
//! `id_token_hint` (and Entra's `logout_hint`, as Keycloak's Entra provider sends it), or its
//! SingleLogoutService with a signed LogoutRequest (`saml_logout`), coming back to the
//! client's registered post-logout URI.

use std::sync::Arc;

use crate::db::models::broker::{self as broker_rows, BrokerSession};
use crate::db::models::sessions as session_rows;
use crate::federation::runtime::Runtime;
use crate::federation::{oidc, saml_logout};
use crate::issuer::flows::RawParams;
use crate::issuer::logout::LoggedOut;
use crate::issuer::runtime::RealmRow;
use crate::issuer::tokens::sha256_hex;
use crate::issuer::{api, OAuthError, Result};

/// The brokered session behind the browser's SSO cookie, if it is one.
async fn brokered(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    cookie: Option<&str>,
) -> Result<Option<BrokerSession>> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let (realm_id, hash) = (realm.id.clone(), sha256_hex(cookie));
    rt.issuer
        .db
        .run(move |conn| -> Result<Option<BrokerSession>> {
            let Some(session) = session_rows::session_by_cookie(conn, &hash)?
                .filter(|s| s.realm_id == realm_id && s.ended_at.is_none())
            else {
                return Ok(None);
            };
            Ok(broker_rows::session(conn, &session.id)?)
        })
        .await
}

/// Logs out, and sends the browser on to the IdP's logout when the session's IdP asks for it.
pub async fn logout(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    raw: RawParams,
    cookie: Option<String>,
    confirmation: Option<String>,
) -> Result<LoggedOut> {
    let brokered = brokered(rt, realm, cookie.as_deref()).await?;
    let outcome = api::logout(&rt.issuer, realm, raw, cookie, confirmation).await?;
    let back = match &outcome {
        LoggedOut::Redirect(url) => Some(url.clone()),
        LoggedOut::Page => None,
        LoggedOut::Confirm { .. } | LoggedOut::Refused(_) => return Ok(outcome),
    };
    let Some(session) = brokered else {
        return Ok(outcome);
    };
    let Some(idp) = rt
        .provider(&realm.name, &session.identity_provider)
        .filter(|i| i.enabled && i.logs_out_upstream())
    else {
        return Ok(outcome);
    };
    if idp.is_saml() {
        let upstream = saml_logout::request_upstream(rt, realm, idp, &session, back).await?;
        return Ok(upstream.map(LoggedOut::Redirect).unwrap_or(outcome));
    }
    let now = rt.issuer.now();
    let metadata = match rt.upstreams.metadata(&rt.http, idp, now).await {
        Ok(m) => m,
        Err(e) => {
            // Signed out here; the IdP's session outlives it, which the log says.
            tracing::warn!(identity_provider = %idp.alias, error = %e, "upstream logout skipped");
            return Ok(outcome);
        }
    };
    let Some(end_session) = &metadata.end_session_endpoint else {
        return Ok(outcome);
    };
    let mut url = url::Url::parse(end_session).map_err(|_| {
        OAuthError::new(
            "server_error",
            "the IdP's end-session endpoint is not a URL",
        )
    })?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("id_token_hint", &session.id_token);
        query.append_pair("client_id", &idp.client_id);
        if let Some(back) = &back {
            query.append_pair("post_logout_redirect_uri", back);
        }
        let login_hint = oidc::parts(&session.id_token).ok().and_then(|(_, c)| {
            c.get("login_hint")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        if let (true, Some(hint)) = (idp.is_entra(), login_hint) {
            query.append_pair("logout_hint", &hint);
        }
    }
    Ok(LoggedOut::Redirect(url.to_string()))
}
