//! The one writer of organization memberships. Every path by which a person arrives (a SCIM
//! directory, an IdP login, a domain rule, an admin) goes through here, so the rules about
//! managed and unmanaged memberships live in one place.

use crate::db::models::membership::{self as rows, Membership};
use crate::db::{DbConnection, DbError, Micros};

/// Where a membership comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Pushed by a SCIM directory: managed, removed when the directory removes the user.
    Scim { directory_id: String },
    /// Vouched for by the organization's identity provider at login: managed by it.
    IdentityProvider { alias: String },
    /// Granted by hand: unmanaged.
    Admin,
}

impl Source {
    fn parts(&self) -> (&'static str, Option<&str>, bool) {
        match self {
            Source::Scim { directory_id } => ("scim", Some(directory_id.as_str()), true),
            Source::IdentityProvider { alias } => ("idp", Some(alias.as_str()), true),
            Source::Admin => ("admin", None, false),
        }
    }
}

/// Makes the user a member of the organization from `source`. A managed source takes over an
/// existing unmanaged membership, so that the directory's later removal ends it.
pub fn ensure_member(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    source: &Source,
    now: Micros,
) -> Result<(), DbError> {
    let (kind, source_ref, managed) = source.parts();
    match rows::find(conn, org_id, user_id)? {
        None => add_new_user(conn, org_id, user_id, source, now),
        Some(existing) if managed && !existing.managed => {
            rows::set_source(conn, org_id, user_id, kind, source_ref, managed)
        }
        Some(_) => Ok(()),
    }
}

/// Makes a user created just now a member: nothing can exist to reconcile with.
pub fn add_new_user(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    source: &Source,
    now: Micros,
) -> Result<(), DbError> {
    let (kind, source_ref, managed) = source.parts();
    rows::insert(
        conn,
        &Membership {
            organization_id: org_id.to_string(),
            user_id: user_id.to_string(),
            source: kind.to_string(),
            source_ref: source_ref.map(str::to_string),
            managed,
            created_at: now,
        },
    )
}

/// Ends the membership, whatever its source. True when there was one.
pub fn end(conn: &mut DbConnection, org_id: &str, user_id: &str) -> Result<bool, DbError> {
    rows::delete(conn, org_id, user_id)
}
