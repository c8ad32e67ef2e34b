//! Organizations with their domains and multi-valued attributes.

use diesel::prelude::*;

use crate::db::schema::{organization_attributes, organization_domains, organizations};
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: String,
    pub realm_id: String,
    pub alias: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub redirect_url: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = organizations, treat_none_as_null = true)]
pub struct OrganizationChanges {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub redirect_url: Option<String>,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organization_domains)]
pub struct Domain {
    pub organization_id: String,
    pub realm_id: String,
    pub name: String,
    pub verified: bool,
}

pub fn find_by_alias(
    conn: &mut DbConnection,
    realm_id: &str,
    alias: &str,
) -> Result<Option<Organization>, DbError> {
    Ok(organizations::table
        .filter(organizations::realm_id.eq(realm_id))
        .filter(organizations::alias.eq(alias))
        .select(Organization::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Organization>, DbError> {
    Ok(organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, org: &Organization) -> Result<(), DbError> {
    diesel::insert_into(organizations::table)
        .values(org)
        .execute(conn)?;
    Ok(())
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    changes: &OrganizationChanges,
) -> Result<(), DbError> {
    diesel::update(organizations::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

pub fn domains(conn: &mut DbConnection, org_id: &str) -> Result<Vec<Domain>, DbError> {
    Ok(organization_domains::table
        .filter(organization_domains::organization_id.eq(org_id))
        .order(organization_domains::name)
        .select(Domain::as_select())
        .load(conn)?)
}

/// Makes the organization's domains exactly `wanted`.
pub fn set_domains(
    conn: &mut DbConnection,
    org_id: &str,
    wanted: &[Domain],
) -> Result<(), DbError> {
    diesel::delete(
        organization_domains::table.filter(organization_domains::organization_id.eq(org_id)),
    )
    .execute(conn)?;
    for domain in wanted {
        diesel::insert_into(organization_domains::table)
            .values(domain)
            .execute(conn)?;
    }
    Ok(())
}

pub fn attributes(conn: &mut DbConnection, org_id: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(organization_attributes::table
        .filter(organization_attributes::organization_id.eq(org_id))
        .order((
            organization_attributes::name,
            organization_attributes::value,
        ))
        .select((
            organization_attributes::name,
            organization_attributes::value,
        ))
        .load(conn)?)
}

/// Makes the organization's attributes exactly `wanted` (name, value) pairs.
pub fn set_attributes(
    conn: &mut DbConnection,
    org_id: &str,
    wanted: &[(String, String)],
) -> Result<(), DbError> {
    diesel::delete(
        organization_attributes::table.filter(organization_attributes::organization_id.eq(org_id)),
    )
    .execute(conn)?;
    for (name, value) in wanted {
        diesel::insert_into(organization_attributes::table)
            .values((
                organization_attributes::organization_id.eq(org_id),
                organization_attributes::name.eq(name),
                organization_attributes::value.eq(value),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The enabled organization of the realm that declares `domain` (lower-cased) as verified.
pub fn find_by_verified_domain(
    conn: &mut DbConnection,
    realm_id: &str,
    domain: &str,
) -> Result<Option<Organization>, DbError> {
    let org_id: Option<String> = organization_domains::table
        .filter(organization_domains::realm_id.eq(realm_id))
        .filter(organization_domains::name.eq(domain.to_ascii_lowercase()))
        .filter(organization_domains::verified.eq(true))
        .select(organization_domains::organization_id)
        .first(conn)
        .optional()?;
    match org_id {
        Some(id) => Ok(find(conn, &id)?.filter(|o| o.enabled)),
        None => Ok(None),
    }
}
