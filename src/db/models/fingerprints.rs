//! Declaration fingerprints: argon2id hashes of what was declared when it was last applied.

use diesel::prelude::*;

use crate::db::schema::declaration_fingerprints as fingerprints;
use crate::db::{DbConnection, DbError, Micros};

pub fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>, DbError> {
    Ok(fingerprints::table
        .find(name)
        .select(fingerprints::fingerprint)
        .first(conn)
        .optional()?)
}

pub fn set(
    conn: &mut DbConnection,
    name: &str,
    fingerprint: &str,
    now: Micros,
) -> Result<(), DbError> {
    let updated = diesel::update(fingerprints::table.find(name))
        .set((
            fingerprints::fingerprint.eq(fingerprint),
            fingerprints::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(fingerprints::table)
            .values((
                fingerprints::name.eq(name),
                fingerprints::fingerprint.eq(fingerprint),
                fingerprints::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
