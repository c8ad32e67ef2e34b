//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): `id_token_hint` names the client and
//! session and must be an ID token of this realm, `client_id` must be its audience, and
//! `post_logout_redirect_uri` must be registered for that client (§2, §3). Without a hint for
//! the browser's own session the person is asked first (§2; Keycloak asks too), through a
//! form whose CSRF token is derived from the HttpOnly SSO cookie, so that no other site can
//! sign a person out (§6). Whatever is refused ends nothing; what is honoured ends every session
//! the request names (the hint's `sid`, the browser's cookie) with its tokens.

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::models::sessions as session_rows;
use crate::db::{DbConnection, Micros};
use crate::issuer::flows::{self, RawParams};
use crate::issuer::runtime::Runtime;
use crate::issuer::tokens::{self, Realm};
use crate::issuer::{claims, clients, OAuthError, Result};

/// How a logout ends.
pub enum LoggedOut {
    /// Back to the client's registered post-logout URI (with `state`).
    Redirect(String),
    /// No redirect asked for: the "you are logged out" page.
    Page,
    /// Nothing ended yet: ask the person. The form posts `fields` back to the logout endpoint
    /// with `csrf` in the field [`CSRF_FIELD`].
    Confirm {
        csrf: String,
        fields: Vec<(String, String)>,
    },
    /// The request cannot be honoured; nothing was ended. The message is for the person.
    Refused(String),
}

/// The form field that carries the confirmation's CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// What the confirmation form carries back: the parameters of §2 this endpoint reads.
const CARRIED: [&str; 6] = [
    "id_token_hint",
    "logout_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

/// Domain separation: the same cookie hashed for another purpose gives another value.
const CSRF_LABEL: &[u8] = b"vestibule logout confirmation\0";

/// The CSRF token of the browser holding SSO cookie `cookie`: SHA-256 of a fixed label and the
/// cookie value. The cookie is HttpOnly and random, so another site can neither read the token
/// nor make one, and the token reveals nothing of the cookie.
pub fn csrf_token(cookie: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(CSRF_LABEL);
    hash.update(cookie.as_bytes());
    hex::encode(hash.finalize())
}

/// Whether `presented` is the CSRF token of `cookie`, compared in constant time.
fn csrf_matches(cookie: Option<&str>, presented: &str) -> bool {
    cookie.is_some_and(|c| bool::from(csrf_token(c).as_bytes().ct_eq(presented.as_bytes())))
}

/// §2: the OP must have issued the hint, so it is verified with this realm's keys, its `iss`
/// is this realm, and it is an ID token (`typ`, see `claims`), not an access token. Its expiry
/// is not checked: an expired ID token is still a hint. None when it is not such a token.
fn id_token_hint(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    token: &str,
    now: Micros,
) -> Result<Option<Value>> {
    Ok(tokens::issued_here(rt, conn, realm, token, now)?
        .filter(|c| c["typ"] == claims::ID_TOKEN_TYP))
}

/// Whether `client_id` is among the hint's audiences (OIDC Core §2: a string or an array).
fn is_audience(hint: &Value, client_id: &str) -> bool {
    match &hint["aud"] {
        Value::String(one) => one == client_id,
        Value::Array(many) => many.iter().any(|a| a == client_id),
        _ => false,
    }
}

/// The logout endpoint. `confirmation` is the CSRF token a posted confirmation form carries
/// (never read from a query: a link must not confirm).
pub fn logout(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    raw: &RawParams,
    cookie: Option<&str>,
    confirmation: Option<&str>,
    now: Micros,
) -> Result<LoggedOut> {
    let confirmed = match confirmation {
        Some(presented) if csrf_matches(cookie, presented) => true,
        Some(_) => {
            return Ok(LoggedOut::Refused(
                "This sign-out form is not valid for your session. Nothing was changed.".into(),
            ))
        }
        None => false,
    };
    let hint = match raw.get("id_token_hint") {
        Some(token) => match id_token_hint(rt, conn, realm, token, now)? {
            Some(claims) => Some(claims),
            None => return Ok(LoggedOut::Refused("The id_token_hint is not valid.".into())),
        },
        None => None,
    };
    // §2: "the OP MUST verify that the Client Identifier matches the one used when issuing
    // the ID Token".
    if let (Some(asked), Some(hint)) = (raw.get("client_id"), &hint) {
        if !is_audience(hint, asked) {
            return Ok(LoggedOut::Refused(
                "The client_id is not the one the id_token_hint was issued to.".into(),
            ));
        }
    }
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
    let browser = match cookie {
        Some(c) => flows::session_from_cookie(conn, realm.id, c, now)?,
        None => None,
    };
    let hinted = hint
        .as_ref()
        .and_then(|c| c["sid"].as_str())
        .map(String::from);
    // §2: the OP "MUST ask the End-User" when there is no hint, or the hint is not about the
    // session the browser is signed in with. A browser with no session has nothing to lose.
    if let (Some(session), Some(c), false) = (&browser, cookie, confirmed) {
        if hinted.as_deref() != Some(session.id.as_str()) {
            let fields = CARRIED
                .iter()
                .filter_map(|name| raw.get(*name).map(|v| (name.to_string(), v.clone())))
                .collect();
            return Ok(LoggedOut::Confirm {
                csrf: csrf_token(c),
                fields,
            });
        }
    }
    for sid in browser.map(|s| s.id).into_iter().chain(hinted) {
        session_rows::end_session(conn, &sid, now)?;
        session_rows::revoke_session_tokens(conn, &sid, now)?;
    }
    Ok(match redirect {
        Some(url) => LoggedOut::Redirect(url),
        None => LoggedOut::Page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_bound_to_the_cookie() {
        let token = csrf_token("cookie-a");
        assert_eq!(token.len(), 64);
        assert!(!token.contains("cookie-a"));
        assert_ne!(token, csrf_token("cookie-b"));
        assert!(csrf_matches(Some("cookie-a"), &token));
        assert!(!csrf_matches(Some("cookie-b"), &token));
        assert!(!csrf_matches(None, &token), "no cookie, no match");
        assert!(!csrf_matches(Some("cookie-a"), ""));
    }

    #[test]
    fn the_audience_is_a_string_or_an_array() {
        let one = serde_json::json!({"aud": "web"});
        let many = serde_json::json!({"aud": ["web", "api"]});
        assert!(is_audience(&one, "web") && !is_audience(&one, "spa"));
        assert!(is_audience(&many, "api") && !is_audience(&many, "spa"));
        assert!(!is_audience(&serde_json::json!({}), "web"));
    }
}
