//! Realms: the top of the tenancy tree.

use diesel::prelude::*;

use crate::db::schema::realms;
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = realms)]
pub struct Realm {
    pub id: String,
    pub name: String,
    pub created_at: Micros,
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Realm>, DbError> {
    Ok(realms::table
        .filter(realms::name.eq(name))
        .select(Realm::as_select())
        .first(conn)
        .optional()?)
}

/// Returns the realm, creating it when absent.
pub fn ensure(conn: &mut DbConnection, name: &str, now: Micros) -> Result<Realm, DbError> {
    if let Some(realm) = find_by_name(conn, name)? {
        return Ok(realm);
    }
    let realm = Realm {
        id: crate::db::new_id(),
        name: name.to_string(),
        created_at: now,
    };
    diesel::insert_into(realms::table)
        .values(&realm)
        .execute(conn)?;
    Ok(realm)
}
