//! The login transaction: what an authorization request waits on while a person signs in (the
//! validated request, its client, the organization it is pinned to). It belongs to one realm
//! and one browser: the authorization endpoint sets a login cookie (Keycloak's
//! `AUTH_SESSION_ID`) and the transaction keeps its hash, so a form fetched by someone else
//! and posted from another browser (login CSRF) finds no transaction. Anything that does not
//! match is answered exactly as an expired transaction, so a probe learns nothing.

use subtle::ConstantTimeEq;

use crate::db::models::sessions::{self as rows, AuthRequest};
use crate::db::{DbConnection, Micros};
use crate::issuer::clients::Client;
use crate::issuer::flows::AuthParams;
use crate::issuer::tokens::{opaque, sha256_hex};
use crate::issuer::{OAuthError, Result};

/// What a person reads when a login transaction cannot go on.
pub const EXPIRED: &str = "The login page expired; start again from the application.";

/// A pending login transaction with its parameters.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub request: AuthRequest,
    pub params: AuthParams,
}

impl Transaction {
    /// True when the authorization request itself named the organization: the pin is then
    /// fixed for the whole transaction.
    pub fn organization_named(&self) -> bool {
        self.params.organization.is_some()
    }
}

/// The login cookie's value: the browser's own when it has a well-formed one (several tabs of a
/// browser share it, each with its own transaction), else a new random one to set.
pub fn browser_cookie(presented: Option<&str>) -> (String, bool) {
    match presented {
        Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (v.to_string(), false)
        }
        _ => (opaque(""), true),
    }
}

/// What a new login transaction waits on.
pub struct NewTransaction<'a> {
    pub realm_id: &'a str,
    pub client: &'a Client,
    pub params: &'a AuthParams,
    /// The organization the request pinned the login to.
    pub org_id: Option<&'a str>,
    /// The browser's login cookie value.
    pub browser: &'a str,
}

/// Starts a login transaction.
pub fn begin(
    conn: &mut DbConnection,
    new: &NewTransaction<'_>,
    now: Micros,
    ttl_secs: i64,
) -> Result<AuthRequest> {
    let NewTransaction {
        realm_id,
        client,
        params,
        org_id,
        browser,
    } = *new;
    let request = AuthRequest {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        client_pk: client.row.id.clone(),
        params: serde_json::to_string(params)
            .map_err(|e| OAuthError::new("server_error", e.to_string()))?,
        csrf_token: opaque(""),
        organization_id: org_id.map(str::to_string),
        created_at: now,
        expires_at: now + ttl_secs * 1_000_000,
        browser_hash: sha256_hex(browser),
    };
    rows::insert_auth_request(conn, &request)?;
    Ok(request)
}

/// The transaction `id`, if it is pending, of this realm and of this browser; None otherwise.
pub fn find(
    conn: &mut DbConnection,
    realm_id: &str,
    id: &str,
    browser: Option<&str>,
    now: Micros,
) -> Result<Option<Transaction>> {
    let Some(browser) = browser else {
        return Ok(None);
    };
    let Some(request) = rows::auth_request(conn, id)? else {
        return Ok(None);
    };
    let same_browser: bool = request
        .browser_hash
        .as_bytes()
        .ct_eq(sha256_hex(browser).as_bytes())
        .into();
    if request.realm_id != realm_id || !same_browser || request.expires_at <= now {
        return Ok(None);
    }
    let params = serde_json::from_str(&request.params)
        .map_err(|e| OAuthError::new("server_error", e.to_string()))?;
    Ok(Some(Transaction { request, params }))
}

/// The transaction a form posted, when `csrf` is the form's own token too.
pub fn find_form(
    conn: &mut DbConnection,
    realm_id: &str,
    id: &str,
    csrf: &str,
    browser: Option<&str>,
    now: Micros,
) -> Result<Option<Transaction>> {
    Ok(find(conn, realm_id, id, browser, now)?
        .filter(|t| bool::from(t.request.csrf_token.as_bytes().ct_eq(csrf.as_bytes()))))
}
