//! A mapper plan made real, inside the callback's write transaction: what the user looked like
//! to the mappers before this login ([`before`]), and the plan's effects ([`apply`]): profile
//! properties, attributes, and the roles and groups granted under each mapper's name (in
//! `mapper_grants`, beside manual grants, so a revocation never touches what someone granted
//! by hand). Entra's group GUIDs become the groups the organization's directory pushed with
//! those `externalId`s ([`entra_groups`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{GroupPath, IdentityProviderDecl, RoleRef};
use crate::db::models::broker::{self as broker_rows, GrantKind};
use crate::db::models::group as group_rows;
use crate::db::models::roles as role_rows;
use crate::db::models::user::{self as user_rows, User};
use crate::db::{DbConnection, DbError, Micros};
use crate::federation::idp_mappers::{AttributeChange, Before, Grant, Plan, Property};
use crate::users::{self, Profile};

/// The mapper name under which Entra's `groups` claim is recorded.
pub const ENTRA_GROUPS: &str = "entra-groups";

fn role_ref(client: &str, name: &str) -> Option<RoleRef> {
    let text = if client.is_empty() {
        name.to_string()
    } else {
        format!("{client}:{name}")
    };
    RoleRef::parse(&text).ok()
}

/// The user as the mappers see them before this login; empty for a user about to be created.
pub fn before(
    conn: &mut DbConnection,
    user: Option<&User>,
    alias: &str,
) -> Result<Before, DbError> {
    let mut before = Before::default();
    let Some(user) = user else {
        return Ok(before);
    };
    for (property, value) in [
        (Property::Username, Some(&user.username)),
        (Property::Email, user.email.as_ref()),
        (Property::FirstName, user.first_name.as_ref()),
        (Property::LastName, user.last_name.as_ref()),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            before.properties.insert(property, v.clone());
        }
    }
    for (name, value) in user_rows::attributes(conn, &user.id)? {
        before.attributes.entry(name).or_default().push(value);
    }
    let role_grants = broker_rows::grants(conn, &user.id, alias, GrantKind::Role)?;
    let role_ids: Vec<String> = role_grants.iter().map(|(_, id)| id.clone()).collect();
    let roles: BTreeMap<String, RoleRef> = role_rows::by_ids(conn, &role_ids)?
        .into_iter()
        .filter_map(|r| Some((r.id.clone(), role_ref(&r.client_id, &r.name)?)))
        .collect();
    for (mapper, id) in role_grants {
        if let Some(role) = roles.get(&id) {
            before.roles.insert(Grant::new(&mapper, role.clone()));
        }
    }
    let group_grants = broker_rows::grants(conn, &user.id, alias, GrantKind::Group)?;
    let group_ids: Vec<String> = group_grants.iter().map(|(_, id)| id.clone()).collect();
    let groups: BTreeMap<String, GroupPath> = group_rows::with_ids(conn, &group_ids)?
        .into_iter()
        .filter_map(|g| Some((g.id.clone(), GroupPath::parse(&g.path).ok()?)))
        .collect();
    for (mapper, id) in group_grants {
        if let Some(path) = groups.get(&id) {
            before.groups.insert(Grant::new(&mapper, path.clone()));
        }
    }
    Ok(before)
}

/// Where a plan lands: the user, their realm, and the IdP's organization.
pub struct Target<'a> {
    pub realm_id: &'a str,
    pub organization_id: Option<&'a str>,
    pub user: &'a User,
    /// Whether an email the plan sets counts as verified (the IdP is trusted for email and
    /// says it is).
    pub email_verified: bool,
}

fn role_id(
    conn: &mut DbConnection,
    realm_id: &str,
    role: &RoleRef,
) -> Result<Option<String>, DbError> {
    Ok(role_rows::find(conn, realm_id, role.client().unwrap_or(""), role.name())?.map(|r| r.id))
}

fn group_id(
    conn: &mut DbConnection,
    target: &Target<'_>,
    path: &GroupPath,
) -> Result<Option<String>, DbError> {
    Ok(
        group_rows::find_by_path(conn, target.realm_id, target.organization_id, path.as_str())?
            .map(|g| g.id),
    )
}

/// Applies a plan. A role or group the plan names that does not exist is skipped (and said so
/// in the log, by name only): a mapper must not fail a login over a missing target.
pub fn apply(
    conn: &mut DbConnection,
    idp: &IdentityProviderDecl,
    target: &Target<'_>,
    plan: &Plan,
    now: Micros,
) -> Result<(), DbError> {
    let user = target.user;
    let property = |p: Property, current: &Option<String>| {
        plan.properties.get(&p).cloned().or_else(|| current.clone())
    };
    let touched = [Property::Email, Property::FirstName, Property::LastName]
        .iter()
        .any(|p| plan.properties.contains_key(p));
    if touched {
        let email = property(Property::Email, &user.email);
        let profile = Profile {
            email_verified: if plan.properties.contains_key(&Property::Email) {
                target.email_verified
            } else {
                user.email_verified
            },
            email,
            first_name: property(Property::FirstName, &user.first_name),
            last_name: property(Property::LastName, &user.last_name),
        };
        users::update_profile(conn, user, &profile, now)?;
    }
    if !plan.attributes.is_empty() {
        let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in user_rows::attributes(conn, &user.id)? {
            attributes.entry(name).or_default().push(value);
        }
        for (name, change) in &plan.attributes {
            match change {
                AttributeChange::Set(values) => {
                    attributes.insert(name.clone(), values.clone());
                }
                AttributeChange::Remove => {
                    attributes.remove(name);
                }
            }
        }
        let pairs: Vec<(String, String)> = attributes
            .into_iter()
            .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
            .collect();
        users::set_attributes(conn, &user.id, &pairs)?;
    }
    for grant in &plan.revoke_roles {
        if let Some(id) = role_id(conn, target.realm_id, &grant.granted)? {
            broker_rows::revoke(
                conn,
                &user.id,
                &idp.alias,
                &grant.mapper,
                GrantKind::Role,
                &id,
            )?;
        }
    }
    for grant in &plan.grant_roles {
        match role_id(conn, target.realm_id, &grant.granted)? {
            Some(id) => broker_rows::grant(
                conn,
                &user.id,
                &idp.alias,
                &grant.mapper,
                GrantKind::Role,
                &id,
                now,
            )?,
            None => tracing::warn!(identity_provider = %idp.alias, mapper = %grant.mapper,
                role = %grant.granted.as_str(), "an IdP mapper names a role that does not exist"),
        }
    }
    for grant in &plan.leave_groups {
        if let Some(id) = group_id(conn, target, &grant.granted)? {
            broker_rows::revoke(
                conn,
                &user.id,
                &idp.alias,
                &grant.mapper,
                GrantKind::Group,
                &id,
            )?;
        }
    }
    for grant in &plan.join_groups {
        match group_id(conn, target, &grant.granted)? {
            Some(id) => broker_rows::grant(
                conn,
                &user.id,
                &idp.alias,
                &grant.mapper,
                GrantKind::Group,
                &id,
                now,
            )?,
            None => tracing::warn!(identity_provider = %idp.alias, mapper = %grant.mapper,
                group = %grant.granted.as_str(), "an IdP mapper names a group that does not exist"),
        }
    }
    Ok(())
}

/// Entra sends group object ids (GUIDs): they become the organization's groups its directory
/// pushed with those `externalId`s, granted under [`ENTRA_GROUPS`] and taken back when a later
/// token no longer lists them. A token with the overage marker (`_claim_names.groups`,
/// `hasgroups`) lists none, so it changes nothing: the directory's own pushes stand, and an
/// overage never revokes (federation.md §1.5).
pub fn entra_groups(
    conn: &mut DbConnection,
    alias: &str,
    organization_id: &str,
    user: &User,
    claims: &Value,
    now: Micros,
) -> Result<(), DbError> {
    let withheld = claims.pointer("/_claim_names/groups").is_some()
        || claims.get("hasgroups").and_then(Value::as_bool) == Some(true);
    if withheld {
        return Ok(());
    }
    let Some(listed) = claims.get("groups").and_then(Value::as_array) else {
        return Ok(());
    };
    let guids: Vec<String> = listed
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let wanted: Vec<String> = group_rows::by_external_ids(conn, organization_id, &guids)?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let held: Vec<String> = broker_rows::grants(conn, &user.id, alias, GrantKind::Group)?
        .into_iter()
        .filter(|(mapper, _)| mapper == ENTRA_GROUPS)
        .map(|(_, id)| id)
        .collect();
    for id in held.iter().filter(|id| !wanted.contains(id)) {
        broker_rows::revoke(conn, &user.id, alias, ENTRA_GROUPS, GrantKind::Group, id)?;
    }
    for id in wanted.iter().filter(|id| !held.contains(id)) {
        broker_rows::grant(
            conn,
            &user.id,
            alias,
            ENTRA_GROUPS,
            GrantKind::Group,
            id,
            now,
        )?;
    }
    Ok(())
}
