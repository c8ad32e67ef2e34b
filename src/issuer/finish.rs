//! The one finish step of every login, local or brokered (Dex's `finalize`): in one write
//! transaction it re-checks the login transaction (realm, browser, the organization it is
//! pinned to, single use), consumes it, clears the person's brute-force counters, opens the SSO
//! session with its session notes, and issues the authorization code. A refusal changes
//! nothing but what it says it does.

use std::collections::BTreeMap;

use crate::db::models::sessions as rows;
use crate::db::models::user::User;
use crate::db::{DbConnection, Micros};
use crate::issuer::flows::{self, AuthParams};
use crate::issuer::runtime::Runtime;
use crate::issuer::throttle::{self, Key};
use crate::issuer::transaction;
use crate::issuer::{clients, tokens, OAuthError, Result};

/// Someone whose identity a login mechanism has established, arriving at the end of a login.
pub struct Arrival<'a> {
    pub realm_id: &'a str,
    /// The login transaction and the browser's login cookie.
    pub transaction_id: &'a str,
    pub browser: Option<&'a str>,
    pub user_id: &'a str,
    /// What only this login knows, for the session-note mapper (the identity provider's alias
    /// and the user's identity there, for a brokered login).
    pub notes: BTreeMap<String, String>,
    /// The brute-force counters the login was counted on.
    pub throttle: &'a [Key],
    /// The organization the session is pinned to when the transaction named none (a brokered
    /// login: the identity provider's organization).
    pub organization_id: Option<&'a str>,
    /// When the upstream IdP's session ends, if it says (SAML's SessionNotOnOrAfter): the SSO
    /// session ends no later.
    pub session_until: Option<Micros>,
}

/// How long the SSO session lasts: the realm's maximum, capped by the IdP's session.
fn session_secs(rt: &Runtime, arrival: &Arrival<'_>, now: Micros) -> i64 {
    let max = rt.settings.sso_session_max_secs;
    match arrival.session_until {
        Some(until) => max.min(((until - now) / 1_000_000).max(0)),
        None => max,
    }
}

/// Why a login that established an identity is still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    NotMember,
}

/// A finished login: back to the client with the code, and the new SSO session's cookie.
#[derive(Debug)]
pub struct SignedIn {
    pub params: AuthParams,
    pub code: String,
    pub sso_cookie: String,
    /// The SSO session the login opened.
    pub session_id: String,
}

/// How a login ends.
pub enum Finished {
    SignedIn(Box<SignedIn>),
    /// The identity is established but may not sign in here: the transaction stays open.
    Refused(Refusal),
    /// The login transaction is gone, used, expired, or not this realm's or browser's.
    Expired,
}

/// The person whose identity the login proved, if they may sign in here (active, of this
/// realm). Their brute-force counters start again either way.
fn proven_user(conn: &mut DbConnection, arrival: &Arrival<'_>) -> Result<Option<User>> {
    throttle::clear_person(conn, arrival.throttle)?;
    Ok(tokens::active_user(conn, arrival.user_id)
        .ok()
        .filter(|user| user.realm_id == arrival.realm_id))
}

/// A login nobody asked for (an IdP-initiated SAML login): the SSO session alone, with no
/// transaction and no code; the client then starts its own request, which the session answers.
/// The SSO cookie and the session's id, or None when the user may not sign in. Runs inside the
/// caller's write transaction.
pub fn open_unasked(
    rt: &Runtime,
    conn: &mut DbConnection,
    arrival: &Arrival<'_>,
    now: Micros,
) -> Result<Option<(String, String)>> {
    let Some(user) = proven_user(conn, arrival)? else {
        return Ok(None);
    };
    let (session, sso_cookie) = flows::open_session(
        conn,
        arrival.realm_id,
        &user,
        arrival.organization_id,
        &arrival.notes,
        now,
        session_secs(rt, arrival, now),
    )?;
    Ok(Some((sso_cookie, session.id)))
}

/// Finishes a login. Runs inside the caller's write transaction.
pub fn finish(
    rt: &Runtime,
    conn: &mut DbConnection,
    arrival: &Arrival<'_>,
    now: Micros,
) -> Result<Finished> {
    let Some(tx) = transaction::find(
        conn,
        arrival.realm_id,
        arrival.transaction_id,
        arrival.browser,
        now,
    )?
    else {
        return Ok(Finished::Expired);
    };
    let Some(user) = proven_user(conn, arrival)? else {
        return Ok(Finished::Refused(Refusal::Disabled));
    };
    if let Some(org) = &tx.request.organization_id {
        if !flows::is_member(conn, org, &user.id)? {
            return Ok(Finished::Refused(Refusal::NotMember));
        }
    }
    // Single use: of two submissions of one form, only the first finds the row to delete.
    if !rows::take_auth_request(conn, &tx.request.id)? {
        return Ok(Finished::Expired);
    }
    let client = clients::find_by_pk(conn, &tx.request.client_pk)?
        .filter(|c| c.row.enabled && c.row.realm_id == arrival.realm_id)
        .ok_or_else(|| OAuthError::invalid_request("the client is gone"))?;
    let organization = tx
        .request
        .organization_id
        .as_deref()
        .or(arrival.organization_id);
    let (session, sso_cookie) = flows::open_session(
        conn,
        arrival.realm_id,
        &user,
        organization,
        &arrival.notes,
        now,
        session_secs(rt, arrival, now),
    )?;
    let code = flows::issue_code(
        conn,
        arrival.realm_id,
        &client,
        &session,
        &tx.params,
        now,
        rt.settings.code_lifespan_secs,
    )?;
    Ok(Finished::SignedIn(Box::new(SignedIn {
        params: tx.params,
        code,
        sso_cookie,
        session_id: session.id,
    })))
}
