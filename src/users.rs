//! The one writer of user rows. Every way a person or a machine becomes a user goes through
//! here: a local user declared in the config, one a SCIM directory provisions into its
//! organization, a service account of a client, and (with federation) one an identity provider
//! vouches for. So the rules live in one place:
//!
//! - a user is *active* when it is enabled and not deprovisioned ([`is_active`]); nothing else
//!   decides whether someone may sign in or keep a token;
//! - a user who stops being active is out at once: its SSO sessions end and its refresh tokens
//!   are revoked in the same transaction;
//! - a provisioned user's email values are indexed in its organization, in the same
//!   transaction as the row that holds them.

use crate::config::Deprovisioning;
use crate::db::models::federated::{self, FederatedIdentity};
use crate::db::models::sessions;
use crate::db::models::user::{self as rows, User, UserChanges};
use crate::db::{DbConnection, DbError, Micros};

/// Whether the user may sign in, and whether tokens issued to it still stand.
pub fn is_active(user: &User) -> bool {
    user.enabled && user.deprovisioned_at.is_none()
}

/// A new user's row, with nothing but a name and its place: enabled, no profile yet.
fn new_row(realm_id: &str, username: &str, now: Micros) -> User {
    User {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        organization_id: String::new(),
        directory_id: None,
        username: username.to_string(),
        username_lower: username.to_lowercase(),
        email: None,
        email_verified: false,
        first_name: None,
        last_name: None,
        display_name: None,
        display_name_lower: None,
        external_id: None,
        enabled: true,
        scim_json: None,
        deprovisioned_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Creates a realm-level user (owned by no directory): a declared local user, or a person an
/// identity provider vouched for.
pub fn create_local(
    conn: &mut DbConnection,
    realm_id: &str,
    username: &str,
    now: Micros,
) -> Result<User, DbError> {
    let user = new_row(realm_id, username, now);
    rows::insert(conn, &user)?;
    Ok(user)
}

/// The name of a client's service account (Keycloak's `service-account-{clientId}`).
pub fn service_account_name(client_id: &str) -> String {
    format!("service-account-{client_id}")
}

/// Creates the service account of a client: the subject of its client_credentials tokens.
pub fn create_service_account(
    conn: &mut DbConnection,
    realm_id: &str,
    client_id: &str,
    now: Micros,
) -> Result<User, DbError> {
    create_local(conn, realm_id, &service_account_name(client_id), now)
}

/// Where a provisioned user comes from.
pub struct Directory<'a> {
    pub realm_id: &'a str,
    pub organization_id: &'a str,
    pub directory_id: &'a str,
}

/// Creates a user a SCIM directory pushed into its organization, with its profile and its
/// email values (lower-cased) indexed.
pub fn create_provisioned(
    conn: &mut DbConnection,
    from: &Directory<'_>,
    profile: UserChanges,
    emails_lower: &[String],
    now: Micros,
) -> Result<User, DbError> {
    let user = User {
        organization_id: from.organization_id.to_string(),
        directory_id: Some(from.directory_id.to_string()),
        username: profile.username,
        username_lower: profile.username_lower,
        email: profile.email,
        first_name: profile.first_name,
        last_name: profile.last_name,
        display_name: profile.display_name,
        display_name_lower: profile.display_name_lower,
        external_id: profile.external_id,
        enabled: profile.enabled,
        scim_json: profile.scim_json,
        version: profile.version,
        updated_at: profile.updated_at,
        ..new_row(from.realm_id, "", now)
    };
    rows::insert(conn, &user)?;
    rows::insert_emails(conn, &user.id, from.organization_id, emails_lower)?;
    Ok(user)
}

/// Updates a user's profile. `emails_lower`, when given, becomes the indexed email values of
/// the user's organization. A user disabled by this update is signed out everywhere.
pub fn update(
    conn: &mut DbConnection,
    user: &User,
    changes: &UserChanges,
    emails_lower: Option<&[String]>,
    now: Micros,
) -> Result<(), DbError> {
    rows::update(conn, &user.id, changes)?;
    if user.enabled && !changes.enabled {
        sessions::end_everything_of_user(conn, &user.id, now)?;
    }
    if let Some(emails) = emails_lower {
        rows::set_emails(conn, &user.id, &user.organization_id, emails)?;
    }
    Ok(())
}

/// What a login through an identity provider knows of a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Sets the profile fields an identity provider vouches for; the rest of the row stays.
pub fn update_profile(
    conn: &mut DbConnection,
    user: &User,
    profile: &Profile,
    now: Micros,
) -> Result<(), DbError> {
    let changes = UserChanges {
        username: user.username.clone(),
        username_lower: user.username_lower.clone(),
        email: profile.email.clone(),
        first_name: profile.first_name.clone(),
        last_name: profile.last_name.clone(),
        display_name: user.display_name.clone(),
        display_name_lower: user.display_name_lower.clone(),
        external_id: user.external_id.clone(),
        enabled: user.enabled,
        scim_json: user.scim_json.clone(),
        version: user.version + 1,
        updated_at: now,
    };
    rows::update(conn, &user.id, &changes)?;
    rows::set_email_verified(
        conn,
        &user.id,
        profile.email_verified && profile.email.is_some(),
    )
}

/// A free realm-level user name from `wanted`: itself, or with `-2`, `-3`, ... appended.
pub fn unique_username(
    conn: &mut DbConnection,
    realm_id: &str,
    wanted: &str,
) -> Result<String, DbError> {
    let base = wanted.trim();
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        if !rows::realm_username_taken(conn, realm_id, &candidate.to_lowercase())? {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{}", crate::db::new_id()))
}

/// Whether the user's email address is known to be theirs.
pub fn set_email_verified(
    conn: &mut DbConnection,
    user_id: &str,
    verified: bool,
) -> Result<(), DbError> {
    rows::set_email_verified(conn, user_id, verified)
}

/// Makes the user's attributes exactly `wanted` (name, value) pairs.
pub fn set_attributes(
    conn: &mut DbConnection,
    user_id: &str,
    wanted: &[(String, String)],
) -> Result<(), DbError> {
    rows::set_attributes(conn, user_id, wanted)
}

/// Links the user to who they are at an identity provider (Keycloak's federated identity).
pub fn link_identity(
    conn: &mut DbConnection,
    user: &User,
    identity_provider: &str,
    subject: &str,
    username: &str,
    now: Micros,
) -> Result<(), DbError> {
    federated::insert(
        conn,
        &FederatedIdentity {
            user_id: user.id.clone(),
            realm_id: user.realm_id.clone(),
            identity_provider: identity_provider.to_string(),
            subject: subject.to_string(),
            username: username.to_string(),
            created_at: now,
        },
    )
}

/// A directory's removal of a user: signed out everywhere, then kept disabled and out of the
/// directory's sight, or deleted, as the directory's policy says.
pub fn deprovision(
    conn: &mut DbConnection,
    user: &User,
    policy: Deprovisioning,
    now: Micros,
) -> Result<(), DbError> {
    sessions::end_everything_of_user(conn, &user.id, now)?;
    match policy {
        Deprovisioning::Delete => rows::delete(conn, &user.id),
        Deprovisioning::Disable => rows::deprovision(conn, &user.id, now),
    }
}
