//! Who a person arriving from an identity provider is (Keycloak's first broker login, with the
//! holes its attackers use closed): the user already linked to their identity at the IdP;
//! else the user the organization's own SCIM directory pushed with the same `externalId`
//! (Entra's `oid`); else, only when the IdP is trusted for email, the email is verified, its
//! domain is a verified domain of the IdP's own organization and the existing user's email is
//! verified too, the user with that email; else a new user. An email never links or creates a
//! user in another organization (nOAuth, federation.md §1.4). Runs inside the callback's
//! write transaction.

use crate::config::{FirstLogin, IdentityProviderDecl};
use crate::db::models::federated;
use crate::db::models::membership as membership_rows;
use crate::db::models::organization::{self as org_rows, Organization};
use crate::db::models::user::{self as user_rows, User, UserKey};
use crate::db::{DbConnection, DbError, Micros};
use crate::users::{self, Profile};

/// A person as the identity provider vouched for them, normalised across IdPs (Dex's
/// `UpstreamIdentity`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamIdentity {
    /// Who they are at the IdP: `sub` (Entra: `tid/oid`).
    pub subject: String,
    /// Their name at the IdP, for people to read (the account page, session notes).
    pub username: String,
    pub email: Option<String>,
    /// The IdP says the email is theirs (`email_verified`; Entra: `xms_edov`).
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The value matched against the `externalId` the organization's directory pushed.
    pub external_id: Option<String>,
}

/// How the person was found.
#[derive(Debug, Clone)]
pub enum Found {
    /// Linked before.
    Linked(User),
    /// Newly linked: the user the directory pushed.
    ByExternalId(User),
    /// Newly linked: by a verified email in the IdP's organization.
    ByEmail(User),
    /// A user created for them just now.
    Created(User),
}

impl Found {
    pub fn user(&self) -> &User {
        match self {
            Found::Linked(u) | Found::ByExternalId(u) | Found::ByEmail(u) | Found::Created(u) => u,
        }
    }

    /// Whether this login is the person's first through the IdP.
    pub fn first_login(&self) -> bool {
        !matches!(self, Found::Linked(_))
    }
}

fn domain_of(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// The user a verified email may link to, if every condition holds.
fn by_email(
    conn: &mut DbConnection,
    idp: &IdentityProviderDecl,
    realm_id: &str,
    org: Option<&Organization>,
    identity: &UpstreamIdentity,
) -> Result<Option<User>, DbError> {
    let (Some(org), Some(email)) = (org, identity.email.as_deref()) else {
        return Ok(None);
    };
    if !idp.trust_email || !identity.email_verified {
        return Ok(None);
    }
    let Some(domain) = domain_of(email) else {
        return Ok(None);
    };
    let verified_domain = org_rows::domains(conn, &org.id)?
        .iter()
        .any(|d| d.verified && d.name == domain);
    if !verified_domain {
        return Ok(None);
    }
    let lower = email.to_lowercase();
    let mut candidates = Vec::new();
    for user in user_rows::find_login(conn, realm_id, email)? {
        if !user.email_verified
            || user.email.as_deref().map(str::to_lowercase) != Some(lower.clone())
        {
            continue;
        }
        // Only a member of the IdP's organization, or a realm-level user of no organization:
        // never someone another organization owns or has.
        let memberships = membership_rows::for_user(conn, &user.id)?;
        let member_here = memberships.iter().any(|m| m.organization_id == org.id);
        let nowhere = user.organization_id.is_empty() && memberships.is_empty();
        let owned_elsewhere = !user.organization_id.is_empty() && user.organization_id != org.id;
        if (member_here || nowhere) && !owned_elsewhere {
            candidates.push(user);
        }
    }
    Ok(if candidates.len() == 1 {
        candidates.pop()
    } else {
        None
    })
}

/// The user already linked to the identity, if any.
pub fn linked(
    conn: &mut DbConnection,
    idp: &IdentityProviderDecl,
    realm_id: &str,
    identity: &UpstreamIdentity,
) -> Result<Option<User>, DbError> {
    match federated::find_user(conn, realm_id, &idp.alias, &identity.subject)? {
        Some(id) => user_rows::find(conn, &id),
        None => Ok(None),
    }
}

/// Finds the person, links them, or creates them (named `wanted_username` when the mappers
/// chose a name); None when the IdP's first-login policy allows no new user and none exists.
pub fn find_or_create(
    conn: &mut DbConnection,
    idp: &IdentityProviderDecl,
    realm_id: &str,
    org: Option<&Organization>,
    identity: &UpstreamIdentity,
    wanted_username: Option<&str>,
    now: Micros,
) -> Result<Option<Found>, DbError> {
    if let Some(user) = linked(conn, idp, realm_id, identity)? {
        return Ok(Some(Found::Linked(user)));
    }
    let found = match (org, identity.external_id.as_deref()) {
        (Some(org), Some(value)) => {
            let mut pushed = user_rows::lookup(conn, &org.id, &UserKey::ExternalId(value.into()))?;
            if pushed.len() == 1 {
                pushed.pop().map(Found::ByExternalId)
            } else {
                None
            }
        }
        _ => None,
    };
    let found = match found {
        Some(f) => Some(f),
        None => by_email(conn, idp, realm_id, org, identity)?.map(Found::ByEmail),
    };
    let found = match (found, idp.first_login) {
        (Some(f), _) => f,
        (None, FirstLogin::ExistingOnly) => return Ok(None),
        (None, FirstLogin::Create) => {
            let wanted = match wanted_username {
                Some(name) => name.to_string(),
                None if identity.username.trim().is_empty() => identity.subject.clone(),
                None => identity.username.clone(),
            };
            let username = users::unique_username(conn, realm_id, &wanted)?;
            let user = users::create_local(conn, realm_id, &username, now)?;
            let profile = Profile {
                email: identity.email.clone(),
                email_verified: idp.trust_email && identity.email_verified,
                first_name: identity.first_name.clone(),
                last_name: identity.last_name.clone(),
            };
            users::update_profile(conn, &user, &profile, now)?;
            let user = user_rows::find(conn, &user.id)?.unwrap_or(user);
            Found::Created(user)
        }
    };
    users::link_identity(
        conn,
        found.user(),
        &idp.alias,
        &identity.subject,
        &identity.username,
        now,
    )?;
    Ok(Some(found))
}
