//! Client scopes declared per realm, their protocol mappers kept as JSON text.

use diesel::prelude::*;

use crate::db::schema::client_scopes;
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = client_scopes)]
pub struct ClientScopeRow {
    pub id: String,
    pub realm_id: String,
    pub name: String,
    pub description: String,
    pub mappers: String,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// What an update may change.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = client_scopes)]
pub struct ClientScopeChanges {
    pub description: String,
    pub mappers: String,
    pub updated_at: Micros,
}

/// Every scope of the realm, by name.
pub fn list(conn: &mut DbConnection, realm_id: &str) -> Result<Vec<ClientScopeRow>, DbError> {
    Ok(client_scopes::table
        .filter(client_scopes::realm_id.eq(realm_id))
        .order(client_scopes::name)
        .select(ClientScopeRow::as_select())
        .load(conn)?)
}

pub fn find(
    conn: &mut DbConnection,
    realm_id: &str,
    name: &str,
) -> Result<Option<ClientScopeRow>, DbError> {
    Ok(client_scopes::table
        .filter(client_scopes::realm_id.eq(realm_id))
        .filter(client_scopes::name.eq(name))
        .select(ClientScopeRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, row: &ClientScopeRow) -> Result<(), DbError> {
    diesel::insert_into(client_scopes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    changes: &ClientScopeChanges,
) -> Result<(), DbError> {
    diesel::update(client_scopes::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}
