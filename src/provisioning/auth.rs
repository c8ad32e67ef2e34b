//! Who a SCIM request speaks for. Three credentials name a directory of the request's realm:
//! one of its static bearer tokens (`directories`), an access token of this realm's issuer for
//! a client bound to it (Entra's client-credentials flow for gallery apps), and the JWT Entra's
//! provisioning service sends when the Secret Token is left blank ([`entra_token`]). The first
//! two are checked in the request's database job. Entra's needs keys that may have to be
//! fetched over the network, which no database job may wait for, so it is checked before the
//! job and the job only finds the directory it named. Either way nothing else the request
//! carries is parsed until the credential is good, and every refusal is the same 401.
//!
//! [`entra_token`]: super::entra_token

use std::sync::Arc;

use scim::ScimError;

use crate::config::Config;
use crate::db::models::realm;
use crate::db::{DbConnection, Micros};
use crate::directories::{self, AuthenticatedDirectory};
use crate::issuer::introspection;
use crate::issuer::runtime::Runtime as IssuerRuntime;
use crate::issuer::tokens::Realm;
use crate::issuer::OAuthError;

use super::{ProvisioningError, Result, ScimContext};

/// What a request claims to be before anything is looked up: the realm of its URL and its
/// credential. Authentication happens inside the same database job as the work it guards, so
/// a request costs one trip to the database's threads, not two.
#[derive(Clone)]
pub struct Caller {
    pub realm: String,
    pub credential: Credential,
    /// `{public_url}/realms/{realm}/scim/v2`.
    pub base_url: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// A request's bearer token, as far as it is known before the database job.
#[derive(Clone)]
pub enum Credential {
    /// Checked in the job: a directory's static token, or an access token of the realm's
    /// issuer for a bound client.
    Bearer(String),
    /// Entra's JWT, already checked (signature, issuer, tenant, audience, times): it speaks for
    /// this directory of the caller's realm.
    Entra { directory: String },
}

/// What checking a credential in the job needs besides the connection: the issuer (its keys,
/// clients and revocations) and the declared directories (which client each is bound to).
#[derive(Clone)]
pub struct Verifier {
    pub issuer: Arc<IssuerRuntime>,
    pub config: Arc<Config>,
}

/// The refusal of every credential that is not good, whatever the reason: a client learns
/// nothing from it, as with a bad static token.
pub fn refused() -> ProvisioningError {
    ScimError::new(401, None, "the bearer token is not valid for this realm").into()
}

/// The directory behind a caller's credential, or 401.
pub fn authenticate(
    conn: &mut DbConnection,
    caller: &Caller,
    verifier: &Verifier,
    now: Micros,
) -> Result<ScimContext> {
    let found = match &caller.credential {
        Credential::Bearer(token) => match directories::authenticate(conn, &caller.realm, token)? {
            Some(directory) => Some(directory),
            None => bound_client(conn, caller, verifier, token, now)?,
        },
        Credential::Entra { directory } => {
            directories::authenticate_by_name(conn, &caller.realm, directory)?
        }
    };
    let directory = found.ok_or_else(refused)?;
    Ok(ScimContext::new(directory, caller.base_url.clone()))
}

/// The directory a client_credentials access token of this realm speaks for: the one its
/// client is bound to. Not a compact JWS, or not a token of a bound client: None.
fn bound_client(
    conn: &mut DbConnection,
    caller: &Caller,
    verifier: &Verifier,
    token: &str,
    now: Micros,
) -> Result<Option<AuthenticatedDirectory>> {
    if token.split('.').count() != 3 {
        return Ok(None);
    }
    let Some(row) = realm::find_by_name(conn, &caller.realm)? else {
        return Ok(None);
    };
    let issuer = verifier.issuer.issuer_url(&caller.realm);
    let realm = Realm {
        id: &row.id,
        issuer: &issuer,
    };
    let client =
        introspection::client_credentials_client(&verifier.issuer, conn, &realm, token, now)
            .map_err(from_issuer)?;
    let Some(client) = client else {
        return Ok(None);
    };
    let bound = verifier
        .config
        .directories
        .iter()
        .find(|d| d.realm == caller.realm && d.clients.iter().any(|c| c == client.client_id()));
    match bound {
        Some(d) => Ok(directories::authenticate_by_name(
            conn,
            &caller.realm,
            &d.name,
        )?),
        None => Ok(None),
    }
}

/// The issuer's failures in provisioning's terms: its database errors stay database errors,
/// keys it cannot read are the server's fault, and a token it refuses is not a good one.
fn from_issuer(e: OAuthError) -> ProvisioningError {
    match e {
        OAuthError::Db(e) => e.into(),
        OAuthError::Key(_) => ScimError::new(500, None, "the realm's keys cannot be read").into(),
        OAuthError::Protocol { .. } => refused(),
    }
}
