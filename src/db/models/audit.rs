//! The audit trail: one row per write, and per refused write.

use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::{on_backend, DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit_events)]
// None is NULL, not DEFAULT (no column of the table has a default): the INSERT's SQL is then
// the same every time, and diesel finds its prepared statement by type instead of rendering
// the SQL again to look it up (a tenth of a SCIM create's time, by the profile).
#[diesel(treat_none_as_default_value = false)]
pub struct AuditEvent {
    pub id: String,
    pub at: Micros,
    pub realm_id: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub operation: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub outcome: String,
    pub status: i32,
    pub detail: Option<String>,
}

pub fn insert(conn: &mut DbConnection, event: &AuditEvent) -> Result<(), DbError> {
    let insert = diesel::insert_into(audit_events::table).values(event);
    on_backend!(conn, |c| insert.execute(c))?;
    Ok(())
}

/// The newest `limit` events, newest first, optionally of one realm or one actor.
pub fn list(
    conn: &mut DbConnection,
    realm_id: Option<&str>,
    actor_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEvent>, DbError> {
    let mut query = audit_events::table
        .select(AuditEvent::as_select())
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(realm_id) = realm_id {
        query = query.filter(audit_events::realm_id.eq(realm_id.to_string()));
    }
    if let Some(actor_id) = actor_id {
        query = query.filter(audit_events::actor_id.eq(actor_id.to_string()));
    }
    Ok(query.load(conn)?)
}
