//! OAuth clients (downstream applications).

use diesel::prelude::*;

use crate::db::schema::{client_scope_roles, clients};
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub realm_id: String,
    pub client_id: String,
    pub name: String,
    pub enabled: bool,
    pub confidential: bool,
    pub secret_hash: Option<String>,
    pub settings: String,
    pub service_account_user_id: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

pub fn find(
    conn: &mut DbConnection,
    realm_id: &str,
    client_id: &str,
) -> Result<Option<ClientRow>, DbError> {
    Ok(clients::table
        .filter(clients::realm_id.eq(realm_id))
        .filter(clients::client_id.eq(client_id))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_pk(conn: &mut DbConnection, id: &str) -> Result<Option<ClientRow>, DbError> {
    Ok(clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection, realm_id: &str) -> Result<Vec<ClientRow>, DbError> {
    Ok(clients::table
        .filter(clients::realm_id.eq(realm_id))
        .order(clients::client_id)
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> Result<(), DbError> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Replaces everything but the id, realm, client_id and creation time.
pub fn update(conn: &mut DbConnection, row: &ClientRow) -> Result<(), DbError> {
    diesel::update(clients::table.find(&row.id))
        .set((
            clients::name.eq(&row.name),
            clients::enabled.eq(row.enabled),
            clients::confidential.eq(row.confidential),
            clients::secret_hash.eq(&row.secret_hash),
            clients::settings.eq(&row.settings),
            clients::service_account_user_id.eq(&row.service_account_user_id),
            clients::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(clients::table.find(id)).execute(conn)? > 0)
}

pub fn scope_role_ids(conn: &mut DbConnection, client_pk: &str) -> Result<Vec<String>, DbError> {
    Ok(client_scope_roles::table
        .filter(client_scope_roles::client_pk.eq(client_pk))
        .select(client_scope_roles::role_id)
        .load(conn)?)
}

pub fn set_scope_roles(
    conn: &mut DbConnection,
    client_pk: &str,
    role_ids: &[String],
) -> Result<(), DbError> {
    diesel::delete(client_scope_roles::table.filter(client_scope_roles::client_pk.eq(client_pk)))
        .execute(conn)?;
    for role_id in role_ids {
        diesel::insert_into(client_scope_roles::table)
            .values((
                client_scope_roles::client_pk.eq(client_pk),
                client_scope_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}
