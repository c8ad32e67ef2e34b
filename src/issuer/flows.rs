//! The authorization code flow (OIDC Core §3.1, RFC 7636 PKCE, RFC 9207 `iss`): validating the
//! request, the organization it is pinned to, SSO sessions, codes and their single use. The
//! login transaction is `transaction`'s, the login form `login`'s, their end `finish`'s.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::models::membership as membership_rows;
use crate::db::models::organization::{self as org_rows, Organization};
use crate::db::models::sessions::{self as rows, AuthCode, Session};
use crate::db::models::user::User;
use crate::db::{DbConnection, Micros};
use crate::issuer::clients::{self, Client};
use crate::issuer::tokens::{opaque, sha256_hex};
use crate::issuer::{OAuthError, Result};

/// A validated authorization request, kept with the login transaction and the code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_mode: String,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The organization alias the request pins the login to (seed 003's `organization=`).
    pub organization: Option<String>,
    /// The identity provider the client asks for (`kc_idp_hint`, or `idp_hint`).
    #[serde(default)]
    pub idp_hint: Option<String>,
}

/// A request that cannot be answered by redirecting: unknown client or redirect URI. These
/// get an error page, never a redirect (RFC 6749 §4.1.2.1).
#[derive(Debug)]
pub struct NoRedirect(pub String);

/// An error to send back to the client's redirect URI.
#[derive(Debug)]
pub struct RedirectError {
    pub params: AuthParams,
    pub error: &'static str,
    pub description: String,
}

pub enum Rejection {
    Page(NoRedirect),
    Redirect(Box<RedirectError>),
    Internal(OAuthError),
}

impl From<OAuthError> for Rejection {
    fn from(e: OAuthError) -> Self {
        Rejection::Internal(e)
    }
}

impl From<crate::db::DbError> for Rejection {
    fn from(e: crate::db::DbError) -> Self {
        Rejection::Internal(e.into())
    }
}

/// Raw query parameters of `/auth`, by name.
pub type RawParams = std::collections::HashMap<String, String>;

/// Checks an authorization request. Unknown client or redirect URI come back as `Page`;
/// everything after that as a redirect error to the registered URI.
pub fn validate(
    conn: &mut DbConnection,
    realm_id: &str,
    raw: &RawParams,
) -> std::result::Result<(Client, AuthParams), Rejection> {
    let get = |k: &str| raw.get(k).filter(|v| !v.is_empty()).cloned();
    let client_id = get("client_id")
        .ok_or_else(|| Rejection::Page(NoRedirect("the request names no client_id".into())))?;
    let client = clients::find(conn, realm_id, &client_id)?
        .filter(|c| c.row.enabled)
        .ok_or_else(|| Rejection::Page(NoRedirect(format!("unknown client {client_id:?}"))))?;
    let redirect_uri = get("redirect_uri")
        .ok_or_else(|| Rejection::Page(NoRedirect("the request names no redirect_uri".into())))?;
    if !client.allows_redirect(&redirect_uri) {
        return Err(Rejection::Page(NoRedirect(
            "the redirect_uri is not registered for this client".into(),
        )));
    }
    let params = AuthParams {
        client_id,
        redirect_uri,
        scope: get("scope").unwrap_or_default(),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        response_mode: get("response_mode").unwrap_or_else(|| "query".into()),
        prompt: get("prompt"),
        max_age: get("max_age").and_then(|m| m.parse().ok()),
        login_hint: get("login_hint"),
        organization: get("organization").or_else(|| get("kc_org")),
        idp_hint: get("kc_idp_hint").or_else(|| get("idp_hint")),
    };
    let fail = |error: &'static str, description: &str| {
        Err(Rejection::Redirect(Box::new(RedirectError {
            params: params.clone(),
            error,
            description: description.to_string(),
        })))
    };
    if !["query", "form_post"].contains(&params.response_mode.as_str()) {
        return fail(
            "invalid_request",
            "response_mode must be query or form_post",
        );
    }
    if get("response_type").as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if !client.allows_grant("authorization_code") {
        return fail(
            "unauthorized_client",
            "the client may not use the authorization code flow",
        );
    }
    match (
        &params.code_challenge,
        params.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return fail(
                "invalid_request",
                "only code_challenge_method=S256 is accepted",
            )
        }
        (Some(_), Some(_)) => return fail("invalid_request", "unknown code_challenge_method"),
        (None, _) if !client.row.confidential => {
            return fail("invalid_request", "a public client must use PKCE (S256)")
        }
        (None, _) => {}
    }
    if let Some(prompt) = &params.prompt {
        if !prompt
            .split_whitespace()
            .all(|p| ["none", "login", "consent", "select_account"].contains(&p))
        {
            return fail("invalid_request", "unsupported prompt value");
        }
    }
    Ok((client, params))
}

/// Looks up the organization a request pins the login to: unknown or disabled is refused.
pub fn organization(conn: &mut DbConnection, realm_id: &str, alias: &str) -> Result<Organization> {
    org_rows::find_by_alias(conn, realm_id, alias)?
        .filter(|o| o.enabled)
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                format!("organization {alias:?} is unknown or disabled"),
            )
        })
}

pub fn is_member(conn: &mut DbConnection, org_id: &str, user_id: &str) -> Result<bool> {
    Ok(membership_rows::find(conn, org_id, user_id)?.is_some())
}

/// Opens an SSO session; returns it and the cookie value.
pub fn open_session(
    conn: &mut DbConnection,
    realm_id: &str,
    user: &User,
    org_id: Option<&str>,
    notes: &std::collections::BTreeMap<String, String>,
    now: Micros,
    ttl_secs: i64,
) -> Result<(Session, String)> {
    let cookie = opaque("");
    let session = Session {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        user_id: user.id.clone(),
        organization_id: org_id.map(str::to_string),
        cookie_hash: sha256_hex(&cookie),
        auth_time: now,
        // `org_id` is read from `organization_id` (see `tokens::session_notes`); the notes
        // column keeps what only a login knows, such as the identity provider's.
        notes: serde_json::to_string(notes)
            .map_err(|e| OAuthError::new("server_error", e.to_string()))?,
        created_at: now,
        expires_at: now + ttl_secs * 1_000_000,
        ended_at: None,
    };
    rows::insert_session(conn, &session)?;
    Ok((session, cookie))
}

/// The live session behind a cookie value.
pub fn session_from_cookie(
    conn: &mut DbConnection,
    realm_id: &str,
    cookie: &str,
    now: Micros,
) -> Result<Option<Session>> {
    Ok(rows::session_by_cookie(conn, &sha256_hex(cookie))?
        .filter(|s| s.realm_id == realm_id && s.ended_at.is_none() && s.expires_at > now))
}

/// Issues a code for a logged-in session; returns the code.
pub fn issue_code(
    conn: &mut DbConnection,
    realm_id: &str,
    client: &Client,
    session: &Session,
    params: &AuthParams,
    now: Micros,
    ttl_secs: i64,
) -> Result<String> {
    let code = opaque("");
    rows::insert_code(
        conn,
        &AuthCode {
            code_hash: sha256_hex(&code),
            realm_id: realm_id.to_string(),
            client_pk: client.row.id.clone(),
            session_id: session.id.clone(),
            user_id: session.user_id.clone(),
            params: serde_json::to_string(params)
                .map_err(|e| OAuthError::new("server_error", e.to_string()))?,
            created_at: now,
            expires_at: now + ttl_secs * 1_000_000,
            used_at: None,
        },
    )?;
    Ok(code)
}

/// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "wrong",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
