//! Federated identities: a user's links to who they are at external identity providers.

use diesel::prelude::*;

use crate::db::schema::federated_identities;
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = federated_identities)]
pub struct FederatedIdentity {
    pub user_id: String,
    pub realm_id: String,
    pub identity_provider: String,
    pub subject: String,
    pub username: String,
    pub created_at: Micros,
}

/// The user's links, by identity provider alias.
pub fn for_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<FederatedIdentity>, DbError> {
    Ok(federated_identities::table
        .filter(federated_identities::user_id.eq(user_id))
        .order(federated_identities::identity_provider)
        .select(FederatedIdentity::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, link: &FederatedIdentity) -> Result<(), DbError> {
    diesel::insert_into(federated_identities::table)
        .values(link)
        .execute(conn)?;
    Ok(())
}

/// The user linked to `subject` at the identity provider `alias` of the realm.
pub fn find_user(
    conn: &mut DbConnection,
    realm_id: &str,
    identity_provider: &str,
    subject: &str,
) -> Result<Option<String>, DbError> {
    Ok(federated_identities::table
        .filter(federated_identities::realm_id.eq(realm_id))
        .filter(federated_identities::identity_provider.eq(identity_provider))
        .filter(federated_identities::subject.eq(subject))
        .select(federated_identities::user_id)
        .first(conn)
        .optional()?)
}
