//! Realm and client roles, composites, and their mappings to users, groups and group rules.

use diesel::prelude::*;

use crate::db::schema::{
    group_members, group_role_rules, group_roles, groups, role_composites, roles, user_roles,
};
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq)]
#[diesel(table_name = roles)]
pub struct Role {
    pub id: String,
    pub realm_id: String,
    /// "" for a realm role.
    pub client_id: String,
    pub name: String,
    pub description: String,
}

pub fn find(
    conn: &mut DbConnection,
    realm_id: &str,
    client_id: &str,
    name: &str,
) -> Result<Option<Role>, DbError> {
    Ok(roles::table
        .filter(roles::realm_id.eq(realm_id))
        .filter(roles::client_id.eq(client_id))
        .filter(roles::name.eq(name))
        .select(Role::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection, realm_id: &str) -> Result<Vec<Role>, DbError> {
    Ok(roles::table
        .filter(roles::realm_id.eq(realm_id))
        .order((roles::client_id, roles::name))
        .select(Role::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, role: &Role) -> Result<(), DbError> {
    diesel::insert_into(roles::table)
        .values(role)
        .execute(conn)?;
    Ok(())
}

pub fn set_description(
    conn: &mut DbConnection,
    id: &str,
    description: &str,
) -> Result<(), DbError> {
    diesel::update(roles::table.find(id))
        .set(roles::description.eq(description))
        .execute(conn)?;
    Ok(())
}

/// Every (composite, child) edge of the realm: the whole graph in one query.
pub fn composite_edges(
    conn: &mut DbConnection,
    realm_id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(role_composites::table
        .inner_join(roles::table)
        .filter(roles::realm_id.eq(realm_id))
        .select((role_composites::role_id, role_composites::child_id))
        .load(conn)?)
}

pub fn add_composite(
    conn: &mut DbConnection,
    role_id: &str,
    child_id: &str,
) -> Result<(), DbError> {
    let exists = role_composites::table
        .find((role_id, child_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(role_composites::table)
            .values((
                role_composites::role_id.eq(role_id),
                role_composites::child_id.eq(child_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn user_role_ids(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>, DbError> {
    Ok(user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role_id)
        .load(conn)?)
}

pub fn grant_user(conn: &mut DbConnection, user_id: &str, role_id: &str) -> Result<(), DbError> {
    let exists = user_roles::table
        .find((user_id, role_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(user_id),
                user_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn revoke_user(conn: &mut DbConnection, user_id: &str, role_id: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(user_roles::table.find((user_id, role_id))).execute(conn)? > 0)
}

pub fn grant_group(conn: &mut DbConnection, group_id: &str, role_id: &str) -> Result<(), DbError> {
    let exists = group_roles::table
        .find((group_id, role_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(group_roles::table)
            .values((
                group_roles::group_id.eq(group_id),
                group_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A group as role rules see it: (id, organization, path, name lower, externalId).
pub type GroupRow = (String, String, String, String, Option<String>);

/// The groups a user is a direct member of.
pub fn user_groups(conn: &mut DbConnection, user_id: &str) -> Result<Vec<GroupRow>, DbError> {
    Ok(group_members::table
        .inner_join(groups::table)
        .filter(group_members::user_id.eq(user_id))
        .select((
            groups::id,
            groups::organization_id,
            groups::path,
            groups::name_lower,
            groups::external_id,
        ))
        .load(conn)?)
}

/// Groups by id, in the same shape.
pub fn groups_by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<GroupRow>, DbError> {
    Ok(groups::table
        .filter(groups::id.eq_any(ids.to_vec()))
        .select((
            groups::id,
            groups::organization_id,
            groups::path,
            groups::name_lower,
            groups::external_id,
        ))
        .load(conn)?)
}

/// Roles mapped to any of these groups directly.
pub fn group_role_ids(
    conn: &mut DbConnection,
    group_ids: &[String],
) -> Result<Vec<String>, DbError> {
    Ok(group_roles::table
        .filter(group_roles::group_id.eq_any(group_ids.to_vec()))
        .select(group_roles::role_id)
        .load(conn)?)
}

/// Group rules of these organizations: (organization, kind, value, role id).
pub fn group_rules(
    conn: &mut DbConnection,
    organization_ids: &[String],
) -> Result<Vec<(String, String, String, String)>, DbError> {
    Ok(group_role_rules::table
        .filter(group_role_rules::organization_id.eq_any(organization_ids.to_vec()))
        .select((
            group_role_rules::organization_id,
            group_role_rules::match_kind,
            group_role_rules::match_value,
            group_role_rules::role_id,
        ))
        .load(conn)?)
}

pub fn add_group_rule(
    conn: &mut DbConnection,
    realm_id: &str,
    organization_id: &str,
    kind: &str,
    value: &str,
    role_id: &str,
) -> Result<(), DbError> {
    let exists = group_role_rules::table
        .filter(group_role_rules::organization_id.eq(organization_id))
        .filter(group_role_rules::match_kind.eq(kind))
        .filter(group_role_rules::match_value.eq(value))
        .filter(group_role_rules::role_id.eq(role_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(group_role_rules::table)
            .values((
                group_role_rules::id.eq(crate::db::new_id()),
                group_role_rules::realm_id.eq(realm_id),
                group_role_rules::organization_id.eq(organization_id),
                group_role_rules::match_kind.eq(kind),
                group_role_rules::match_value.eq(value),
                group_role_rules::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Roles by id (for naming them in tokens).
pub fn by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Role>, DbError> {
    Ok(roles::table
        .filter(roles::id.eq_any(ids.to_vec()))
        .select(Role::as_select())
        .load(conn)?)
}
