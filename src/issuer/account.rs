//! The account page's content (the built-in `account` client): who the signed-in person is,
//! the organizations they belong to, and the identities at external IdPs linked to them.

use crate::db::models::{federated, membership};
use crate::db::{DbConnection, Micros};
use crate::issuer::{flows, tokens, Result};

/// What the account page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The person's full name, or their username when no name is known.
    pub name: String,
    pub username: String,
    pub email: Option<String>,
    /// (name, alias) of each enabled organization they are a member of.
    pub organizations: Vec<(String, String)>,
    /// (identity provider alias, their username there) of each linked identity.
    pub identities: Vec<(String, String)>,
}

/// The signed-in person's account, or None when the cookie names no live session of an
/// enabled user.
pub fn overview(
    conn: &mut DbConnection,
    realm_id: &str,
    cookie: Option<&str>,
    now: Micros,
) -> Result<Option<Account>> {
    let Some(session) = (match cookie {
        Some(c) => flows::session_from_cookie(conn, realm_id, c, now)?,
        None => None,
    }) else {
        return Ok(None);
    };
    let Ok(user) = tokens::active_user(conn, &session.user_id) else {
        return Ok(None);
    };
    let organizations = membership::enabled_organizations(conn, &user.id)?
        .into_iter()
        .map(|o| (o.name, o.alias))
        .collect();
    let identities = federated::for_user(conn, &user.id)?
        .into_iter()
        .map(|link| (link.identity_provider, link.username))
        .collect();
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(Account {
        name: if name.is_empty() {
            user.username.clone()
        } else {
            name
        },
        username: user.username,
        email: user.email,
        organizations,
        identities,
    }))
}
