//! SCIM directories and their bearer tokens (stored as SHA-256 hashes).

use diesel::prelude::*;

use crate::db::schema::{directories, directory_tokens, realms};
use crate::db::{on_backend, DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = directories)]
pub struct Directory {
    pub id: String,
    pub realm_id: String,
    pub organization_id: String,
    pub name: String,
    pub deprovisioning: String,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = directory_tokens)]
pub struct DirectoryToken {
    pub id: String,
    pub directory_id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub label: String,
    pub source: String,
    pub created_at: Micros,
    pub revoked_at: Option<Micros>,
}

pub fn find_by_name(
    conn: &mut DbConnection,
    realm_id: &str,
    name: &str,
) -> Result<Option<Directory>, DbError> {
    Ok(directories::table
        .filter(directories::realm_id.eq(realm_id))
        .filter(directories::name.eq(name))
        .select(Directory::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, dir: &Directory) -> Result<(), DbError> {
    diesel::insert_into(directories::table)
        .values(dir)
        .execute(conn)?;
    Ok(())
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    organization_id: &str,
    deprovisioning: &str,
    now: Micros,
) -> Result<(), DbError> {
    diesel::update(directories::table.find(id))
        .set((
            directories::organization_id.eq(organization_id),
            directories::deprovisioning.eq(deprovisioning),
            directories::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The directory behind an active (unrevoked) token hash in the named realm, with the hash.
pub fn find_by_token_hash(
    conn: &mut DbConnection,
    realm_name: &str,
    token_hash: &str,
) -> Result<Option<(Directory, String)>, DbError> {
    // Written out in the macro: `as_select` is typed by the backend it runs on.
    Ok(on_backend!(conn, |c| directory_tokens::table
        .inner_join(directories::table.inner_join(realms::table))
        .filter(directory_tokens::token_hash.eq(token_hash))
        .filter(directory_tokens::revoked_at.is_null())
        .filter(realms::name.eq(realm_name))
        .select((Directory::as_select(), directory_tokens::token_hash))
        .first(c))
    .optional()?)
}

pub fn insert_token(conn: &mut DbConnection, token: &DirectoryToken) -> Result<(), DbError> {
    diesel::insert_into(directory_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn tokens(conn: &mut DbConnection, directory_id: &str) -> Result<Vec<DirectoryToken>, DbError> {
    Ok(directory_tokens::table
        .filter(directory_tokens::directory_id.eq(directory_id))
        .order(directory_tokens::created_at)
        .select(DirectoryToken::as_select())
        .load(conn)?)
}

/// Revokes one token of the directory; false when there was no such active token.
pub fn revoke_token(
    conn: &mut DbConnection,
    directory_id: &str,
    token_id: &str,
    now: Micros,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        directory_tokens::table
            .filter(directory_tokens::directory_id.eq(directory_id))
            .filter(directory_tokens::id.eq(token_id))
            .filter(directory_tokens::revoked_at.is_null()),
    )
    .set(directory_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?
        > 0)
}
