//! RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2): `id_token_hint` names the client and
//! session, `post_logout_redirect_uri` must be registered for that client, and every session the
//! request names (the hint's `sid`, the browser's cookie) ends with its tokens.

use crate::db::models::sessions as session_rows;
use crate::db::{DbConnection, Micros};
use crate::issuer::clients;
use crate::issuer::flows::{self, RawParams};
use crate::issuer::runtime::Runtime;
use crate::issuer::tokens::Realm;
use crate::issuer::{jwt, OAuthError, Result};

/// How a logout ends.
pub enum LoggedOut {
    /// Back to the client's registered post-logout URI (with `state`).
    Redirect(String),
    /// No redirect asked for: the "you are logged out" page.
    Page,
    /// The request cannot be honoured; nothing was ended. The message is for the person.
    Refused(String),
}

pub fn logout(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    raw: &RawParams,
    cookie: Option<&str>,
    now: Micros,
) -> Result<LoggedOut> {
    // An expired hint is still a hint, but its signature and issuer must hold.
    let hint = match raw.get("id_token_hint") {
        Some(token) => {
            let kid = jwt::header_kid(token).unwrap_or_default();
            let keys = rt.keys.get(conn, realm.id, now, Some(&kid))?;
            match jwt::verify(token, keys.verifying()) {
                Ok(claims) if claims["iss"] == realm.issuer => Some(claims),
                _ => return Ok(LoggedOut::Refused("The id_token_hint is not valid.".into())),
            }
        }
        None => None,
    };
    let client_id = raw.get("client_id").cloned().or_else(|| {
        hint.as_ref()
            .and_then(|c| c["azp"].as_str().map(String::from))
    });
    let redirect = match raw.get("post_logout_redirect_uri") {
        Some(uri) => {
            let client = match &client_id {
                Some(id) => clients::find(conn, realm.id, id)?,
                None => None,
            };
            match client {
                Some(c) if c.allows_post_logout_redirect(uri) => {
                    let mut url = url::Url::parse(uri)
                        .map_err(|_| OAuthError::invalid_request("bad post_logout_redirect_uri"))?;
                    if let Some(s) = raw.get("state") {
                        url.query_pairs_mut().append_pair("state", s);
                    }
                    Some(url.to_string())
                }
                _ => {
                    return Ok(LoggedOut::Refused(
                        "The post_logout_redirect_uri is not registered for this client.".into(),
                    ))
                }
            }
        }
        None => None,
    };
    let mut ended = Vec::new();
    if let Some(c) = cookie {
        if let Some(s) = flows::session_from_cookie(conn, realm.id, c, now)? {
            ended.push(s.id);
        }
    }
    if let Some(sid) = hint.as_ref().and_then(|c| c["sid"].as_str()) {
        ended.push(sid.to_string());
    }
    for sid in ended {
        session_rows::end_session(conn, &sid, now)?;
        session_rows::revoke_session_tokens(conn, &sid, now)?;
    }
    Ok(match redirect {
        Some(url) => LoggedOut::Redirect(url),
        None => LoggedOut::Page,
    })
}
