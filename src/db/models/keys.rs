//! Signing keys of a realm's issuer.

use diesel::prelude::*;

use crate::db::schema::signing_keys;
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub realm_id: String,
    pub algorithm: String,
    pub private_pem: String,
    pub public_jwk: String,
    pub created_at: Micros,
    pub retired_at: Option<Micros>,
    pub expires_at: Option<Micros>,
}

/// Keys still published: active ones and retired ones whose tokens may still be alive.
pub fn published(
    conn: &mut DbConnection,
    realm_id: &str,
    now: Micros,
) -> Result<Vec<SigningKeyRow>, DbError> {
    Ok(signing_keys::table
        .filter(signing_keys::realm_id.eq(realm_id))
        .filter(
            signing_keys::expires_at
                .is_null()
                .or(signing_keys::expires_at.gt(now)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), DbError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Retires the realm's active keys of `algorithm`, publishing them until `expires_at`.
pub fn retire(
    conn: &mut DbConnection,
    realm_id: &str,
    algorithm: &str,
    now: Micros,
    expires_at: Micros,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::realm_id.eq(realm_id))
            .filter(signing_keys::algorithm.eq(algorithm))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set((
        signing_keys::retired_at.eq(Some(now)),
        signing_keys::expires_at.eq(Some(expires_at)),
    ))
    .execute(conn)?)
}
