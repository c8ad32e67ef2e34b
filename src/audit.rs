//! Recording who changed what. Successful writes are recorded inside their own transaction, so
//! the record and the change land together; refused writes are recorded on their own.

use crate::db::models::audit::{self as rows, AuditEvent};
use crate::db::{DbConnection, DbError, Micros};

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: Option<String>,
}

/// One write to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub realm_id: &'a str,
    pub actor: &'a Actor,
    pub operation: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub status: u16,
    pub detail: Option<String>,
}

pub fn record(conn: &mut DbConnection, entry: &Entry<'_>, now: Micros) -> Result<(), DbError> {
    rows::insert(
        conn,
        &AuditEvent {
            id: crate::db::new_id(),
            at: now,
            realm_id: entry.realm_id.to_string(),
            actor_type: entry.actor.kind.to_string(),
            actor_id: entry.actor.id.clone(),
            actor_name: entry.actor.name.clone(),
            operation: entry.operation.to_string(),
            resource_type: entry.resource_type.to_string(),
            resource_id: entry.resource_id.map(str::to_string),
            outcome: if entry.status < 400 {
                "success"
            } else {
                "failure"
            }
            .to_string(),
            status: i32::from(entry.status),
            detail: entry.detail.clone(),
        },
    )
}
