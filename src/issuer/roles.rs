//! The roles a user holds for a token: direct grants, their groups' grants, the organization
//! group rules (an Entra group's displayName or externalId), composites expanded, and (with
//! full-scope-allowed off) only those in the client's scope.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::db::models::broker::{self as broker_rows, GrantKind};
use crate::db::models::roles as rows;
use crate::db::{DbConnection, DbError};

/// Roles split as Keycloak's `realm_access` and `resource_access` claims show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectiveRoles {
    pub realm: BTreeSet<String>,
    pub clients: BTreeMap<String, BTreeSet<String>>,
}

/// A user's groups, as the `groups` claim and the role rules see them.
#[derive(Debug, Clone)]
pub struct UserGroup {
    pub id: String,
    pub organization_id: String,
    pub path: String,
    pub name_lower: String,
    pub external_id: Option<String>,
}

/// The groups a user is in: those a directory or an admin put them in, and those an identity
/// provider's mappers did.
pub fn groups_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<UserGroup>, DbError> {
    let mut rows = rows::user_groups(conn, user_id)?;
    let granted = broker_rows::granted_targets(conn, user_id, GrantKind::Group)?;
    if !granted.is_empty() {
        for group in rows::groups_by_ids(conn, &granted)? {
            if !rows.iter().any(|g| g.0 == group.0) {
                rows.push(group);
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, organization_id, path, name_lower, external_id)| UserGroup {
                id,
                organization_id,
                path,
                name_lower,
                external_id,
            },
        )
        .collect())
}

/// Every role id reachable from `start` through composites.
fn expand(start: impl IntoIterator<Item = String>, edges: &[(String, String)]) -> HashSet<String> {
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (parent, child) in edges {
        children.entry(parent).or_default().push(child);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut stack: Vec<String> = start.into_iter().collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id.clone()) {
            if let Some(kids) = children.get(id.as_str()) {
                stack.extend(kids.iter().map(|k| k.to_string()));
            }
        }
    }
    seen
}

/// The effective roles of `user_id`, limited to `scope` (role ids, expanded) when given.
pub fn effective(
    conn: &mut DbConnection,
    realm_id: &str,
    user_id: &str,
    groups: &[UserGroup],
    scope: Option<&[String]>,
) -> Result<EffectiveRoles, DbError> {
    let mut ids: Vec<String> = rows::user_role_ids(conn, user_id)?;
    ids.extend(broker_rows::granted_targets(
        conn,
        user_id,
        GrantKind::Role,
    )?);
    if !groups.is_empty() {
        let group_ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        ids.extend(rows::group_role_ids(conn, &group_ids)?);
        let orgs: Vec<String> = groups
            .iter()
            .filter(|g| !g.organization_id.is_empty())
            .map(|g| g.organization_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !orgs.is_empty() {
            for (org, kind, value, role_id) in rows::group_rules(conn, &orgs)? {
                let hit = groups.iter().any(|g| {
                    g.organization_id == org
                        && match kind.as_str() {
                            "displayName" => g.name_lower == value,
                            "externalId" => g.external_id.as_deref() == Some(value.as_str()),
                            _ => false,
                        }
                });
                if hit {
                    ids.push(role_id);
                }
            }
        }
    }
    if ids.is_empty() {
        return Ok(EffectiveRoles::default());
    }
    let edges = rows::composite_edges(conn, realm_id)?;
    let mut held = expand(ids, &edges);
    if let Some(scope) = scope {
        let allowed = expand(scope.iter().cloned(), &edges);
        held.retain(|id| allowed.contains(id));
    }
    let mut out = EffectiveRoles::default();
    for role in rows::by_ids(conn, &held.into_iter().collect::<Vec<_>>())? {
        if role.client_id.is_empty() {
            out.realm.insert(role.name);
        } else {
            out.clients
                .entry(role.client_id)
                .or_default()
                .insert(role.name);
        }
    }
    Ok(out)
}

/// `"role"` is a realm role, `"client:role"` a client role.
pub fn split_ref(reference: &str) -> (&str, &str) {
    match reference.split_once(':') {
        Some((client, role)) => (client, role),
        None => ("", reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composites_expand_transitively_and_survive_cycles() {
        let edges = vec![
            ("admin".to_string(), "editor".to_string()),
            ("editor".to_string(), "viewer".to_string()),
            ("viewer".to_string(), "admin".to_string()),
        ];
        let got = expand(["editor".to_string()], &edges);
        assert_eq!(got.len(), 3);
        assert_eq!(split_ref("app:editor"), ("app", "editor"));
        assert_eq!(split_ref("SUPER_ADMIN"), ("", "SUPER_ADMIN"));
    }
}
