//! The token endpoint's grants (RFC 6749): authorization_code with PKCE (§4.1.3, RFC 7636),
//! refresh_token with rotation and reuse detection (§6), client_credentials (§4.4). Codes are
//! single-use: a reused code revokes what it issued. A reused refresh token revokes its family.
//! A request is checked whole before its code or refresh token is spent, so a refused one (a
//! wrong verifier, redirect_uri or scope) changes nothing, and only a correct request for a
//! grant already exchanged counts as a second use.
//!
//! client_credentials has a second, memory-only path: when the client, its verified secret, its
//! service account, the realm's keys and its declared scopes are all cached, the token is minted without a database
//! trip or a thread hop. Anything not cached sends the request down the database path, which
//! fills the caches; errors are always decided there, so both paths answer alike.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::db::models::sessions as session_rows;
use crate::db::models::user::User;
use crate::db::{DbConnection, Micros};
use crate::issuer::claims;
use crate::issuer::clients::{self, Client, ClientCredentials};
use crate::issuer::flows::{self, AuthParams};
use crate::issuer::runtime::Runtime;
use crate::issuer::tokens::{self, Grant, Realm, Subject};
use crate::issuer::{OAuthError, Result};

/// A token request's form fields, by name.
pub type TokenForm = HashMap<String, String>;

/// Whether a token request may run on the parallel read path: client_credentials writes
/// nothing, the other grants consume codes and rotate refresh tokens.
pub fn is_read_only(form: &TokenForm) -> bool {
    grant_type(form) == "client_credentials"
}

fn grant_type(form: &TokenForm) -> &str {
    form.get("grant_type")
        .map(String::as_str)
        .unwrap_or_default()
}

/// Authenticates the client and runs its grant. A refused grant may still have written (a
/// reused code or refresh token revokes what it issued): protocol errors come back as the
/// inner result so that the caller's transaction commits; only database failures are outer.
pub fn exchange(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    creds: &ClientCredentials,
    form: &TokenForm,
    now: Micros,
) -> Result<Result<(Arc<Client>, Value)>> {
    let result = (|| {
        let client = Arc::new(clients::authenticate(
            conn,
            &rt.secrets,
            realm.id,
            creds,
            now,
        )?);
        rt.clients.remember(client.clone(), now);
        let grant_type = grant_type(form);
        if !client.allows_grant(grant_type) {
            return Err(match grant_type {
                "authorization_code" | "refresh_token" | "client_credentials" => OAuthError::new(
                    "unauthorized_client",
                    format!("the client may not use {grant_type}"),
                ),
                _ => OAuthError::new(
                    "unsupported_grant_type",
                    "grant_type is missing or not supported",
                ),
            });
        }
        let body = match grant_type {
            "authorization_code" => code_grant(rt, conn, realm, &client, form, now)?,
            "refresh_token" => refresh_grant(rt, conn, realm, &client, form, now)?,
            _ => client_credentials_grant(rt, conn, realm, &client, form, now)?,
        };
        Ok((client, body))
    })();
    match result {
        Err(OAuthError::Db(e)) => Err(OAuthError::Db(e)),
        other => Ok(other),
    }
}

/// client_credentials from memory alone, or None when something it needs is not cached (or the
/// request would be refused: the database path decides refusals).
pub fn client_credentials_from_memory(
    rt: &Runtime,
    realm: &Realm<'_>,
    creds: &ClientCredentials,
    form: &TokenForm,
    now: Micros,
) -> Option<Result<(Arc<Client>, Value)>> {
    if grant_type(form) != "client_credentials" {
        return None;
    }
    let client = rt.clients.get(realm.id, creds.client_id.as_deref()?, now)?;
    let usable = client.row.enabled
        && client.row.confidential
        && client.allows_grant("client_credentials")
        && rt
            .secrets
            .check_cached(&client, creds.secret.as_deref()?, now);
    if !usable {
        return None;
    }
    let account = client.row.service_account_user_id.as_deref()?;
    let (user, subject) = rt.service_accounts.cached(&client, account, now)?;
    let keys = rt.keys.cached(realm.id, now)?;
    let declared = rt.scopes.cached(realm.id, now)?;
    let grant = machine_grant(&client, &user, subject, form);
    Some(tokens::sign(rt, realm, &grant, &keys, &declared, now).map(|body| (client.clone(), body)))
}

/// A client_credentials grant for the client's service account. Its scopes have no `openid`
/// (there is no person and no ID token) and no `offline_access` (there is no refresh token).
fn machine_grant<'a>(
    client: &'a Client,
    user: &'a User,
    subject: Arc<Subject>,
    form: &TokenForm,
) -> Grant<'a> {
    let requested = form.get("scope").map(String::as_str).unwrap_or_default();
    let scopes = claims::grant_scopes(requested, &client.settings)
        .into_iter()
        .filter(|s| s != "openid" && s != "offline_access")
        .collect();
    Grant {
        client,
        user,
        scopes,
        session: None,
        organization_id: None,
        nonce: None,
        refresh: false,
        family_id: None,
        code_hash: None,
        subject,
    }
}

fn code_grant(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &TokenForm,
    now: Micros,
) -> Result<Value> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code_hash = tokens::sha256_hex(code);
    let row = session_rows::code(conn, &code_hash)?
        .ok_or_else(|| OAuthError::invalid_grant("the code is not valid"))?;
    if row.client_pk != client.row.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    // The request is checked whole before the code is touched: a wrong redirect_uri or
    // verifier (RFC 6749 §4.1.3, RFC 7636 §4.6) is refused and leaves the code to its owner.
    let params: AuthParams = serde_json::from_str(&row.params)
        .map_err(|e| OAuthError::new("server_error", e.to_string()))?;
    if form.get("redirect_uri") != Some(&params.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    check_pkce(params.code_challenge.as_deref(), form.get("code_verifier"))?;
    if row.used_at.is_some() {
        return Err(code_reused(conn, &code_hash, &row.session_id, now)?);
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let user = tokens::active_user(conn, &row.user_id)?;
    let session = tokens::live_session(conn, &row.session_id, now)?
        .ok_or_else(|| OAuthError::invalid_grant("the session has ended"))?;
    // Spent only now that the exchange succeeds; losing the race to a concurrent exchange of
    // the same code is a second use like any other.
    if !session_rows::use_code(conn, &code_hash, now)? {
        return Err(code_reused(conn, &code_hash, &row.session_id, now)?);
    }
    let scopes = claims::grant_scopes(&params.scope, &client.settings);
    let subject = Arc::new(tokens::subject(conn, realm.id, &user, client)?);
    tokens::issue(
        rt,
        conn,
        realm,
        Grant {
            client,
            user: &user,
            scopes,
            session: Some(&session),
            organization_id: session.organization_id.clone(),
            nonce: params.nonce.clone(),
            refresh: true,
            family_id: None,
            code_hash: Some(code_hash),
            subject,
        },
        now,
    )
}

/// RFC 7636 §4.6: the verifier must match the challenge the authorization request sent.
fn check_pkce(challenge: Option<&str>, verifier: Option<&String>) -> Result<()> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) if flows::pkce_matches(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier given but no code_challenge was sent",
        )),
        (None, None) => Ok(()),
    }
}

/// A correct request for a code already exchanged: RFC 6749 §4.1.2, the code was stolen or
/// replayed, so what it issued is revoked. Its access tokens are stateless JWTs carrying the
/// session's `sid`, so the session ends with them. Returns the refusal to answer with.
fn code_reused(
    conn: &mut DbConnection,
    code_hash: &str,
    session_id: &str,
    now: Micros,
) -> Result<OAuthError> {
    session_rows::revoke_by_code(conn, code_hash, now)?;
    session_rows::end_session(conn, session_id, now)?;
    session_rows::revoke_session_tokens(conn, session_id, now)?;
    Ok(OAuthError::invalid_grant(
        "the code was already used; tokens issued for it are revoked",
    ))
}

/// The scopes of a refresh: the original ones, or a narrower set (RFC 6749 §6: "MUST NOT
/// include any scope not originally granted"), keeping the client's default scopes granted.
fn refreshed_scopes(
    client: &Client,
    original: Vec<String>,
    asked: Option<&String>,
) -> Result<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(original);
    };
    let asked: Vec<String> = asked.split_whitespace().map(String::from).collect();
    if asked.iter().any(|s| !original.contains(s)) {
        return Err(OAuthError::new(
            "invalid_scope",
            "a refresh may only narrow the scope",
        ));
    }
    let mut narrowed = asked;
    narrowed.extend(
        client
            .settings
            .default_scopes
            .iter()
            .filter(|d| original.contains(d))
            .cloned(),
    );
    narrowed.sort();
    narrowed.dedup();
    Ok(narrowed)
}

fn refresh_grant(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &TokenForm,
    now: Micros,
) -> Result<Value> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let row = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(presented))?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    if row.client_pk != client.row.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if row.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    // The request is checked whole before the token is touched: a wider scope is refused and
    // the token stays good for the retry.
    let original: Vec<String> = row.scope.split_whitespace().map(String::from).collect();
    let scopes = refreshed_scopes(client, original, form.get("scope"))?;
    if row.used_at.is_some() {
        return Err(refresh_reused(conn, &row.family_id, now)?);
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let user = tokens::active_user(conn, &row.user_id)?;
    let session = match &row.session_id {
        Some(id) => tokens::live_session(conn, id, now)?,
        None => None,
    };
    if session.is_none() && !row.offline {
        return Err(OAuthError::invalid_grant("the session has ended"));
    }
    if !session_rows::use_refresh(conn, &row.id, now)? {
        return Err(refresh_reused(conn, &row.family_id, now)?);
    }
    let subject = Arc::new(tokens::subject(conn, realm.id, &user, client)?);
    tokens::issue(
        rt,
        conn,
        realm,
        Grant {
            client,
            user: &user,
            scopes,
            session: session.as_ref(),
            organization_id: row.organization_id.clone(),
            nonce: None,
            refresh: true,
            family_id: Some(row.family_id.clone()),
            code_hash: row.code_hash.clone(),
            subject,
        },
        now,
    )
}

/// A correct request for a refresh token already rotated (RFC 6749 §10.4, RFC 9700 §4.14.2):
/// someone else holds the family, so all of it is revoked. Returns the refusal to answer with.
fn refresh_reused(conn: &mut DbConnection, family_id: &str, now: Micros) -> Result<OAuthError> {
    session_rows::revoke_family(conn, family_id, now)?;
    Ok(OAuthError::invalid_grant(
        "the refresh token was already used; its family is revoked",
    ))
}

fn client_credentials_grant(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &TokenForm,
    now: Micros,
) -> Result<Value> {
    if !client.row.confidential {
        return Err(OAuthError::new(
            "unauthorized_client",
            "client_credentials needs a confidential client",
        ));
    }
    let account = client
        .row
        .service_account_user_id
        .as_deref()
        .ok_or_else(|| {
            OAuthError::new("unauthorized_client", "the client has no service account")
        })?;
    let (user, subject) = rt
        .service_accounts
        .service_account(conn, realm.id, client, account, now)?;
    tokens::issue(
        rt,
        conn,
        realm,
        machine_grant(client, &user, subject, form),
        now,
    )
}
