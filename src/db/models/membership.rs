//! Rows of `memberships`: user x organization, with where the membership came from.

use diesel::prelude::*;

use crate::db::models::organization::Organization;
use crate::db::schema::{memberships, organizations};
use crate::db::{on_backend, DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
// None is NULL, not DEFAULT (no column of the table has a default): the INSERT's SQL is then
// the same every time, and diesel finds its prepared statement by type instead of rendering
// the SQL again to look it up (a tenth of a SCIM create's time, by the profile).
#[diesel(treat_none_as_default_value = false)]
pub struct Membership {
    pub organization_id: String,
    pub user_id: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub managed: bool,
    pub created_at: Micros,
}

pub fn find(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Membership>, DbError> {
    Ok(memberships::table
        .find((org_id, user_id))
        .select(Membership::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, membership: &Membership) -> Result<(), DbError> {
    let insert = diesel::insert_into(memberships::table).values(membership);
    on_backend!(conn, |c| insert.execute(c))?;
    Ok(())
}

pub fn set_source(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    source: &str,
    source_ref: Option<&str>,
    managed: bool,
) -> Result<(), DbError> {
    diesel::update(memberships::table.find((org_id, user_id)))
        .set((
            memberships::source.eq(source),
            memberships::source_ref.eq(source_ref),
            memberships::managed.eq(managed),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, org_id: &str, user_id: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(memberships::table.find((org_id, user_id))).execute(conn)? > 0)
}

pub fn for_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Membership>, DbError> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .select(Membership::as_select())
        .load(conn)?)
}

/// The enabled organizations a user is a member of.
pub fn enabled_organizations(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<Organization>, DbError> {
    Ok(memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(organizations::enabled.eq(true))
        .order(organizations::alias)
        .select(Organization::as_select())
        .load(conn)?)
}
