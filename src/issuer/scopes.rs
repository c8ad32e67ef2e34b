//! Client scopes at token time: the realm's declared scopes (cached per realm and reloaded
//! after a while, like the signing keys, so minting a token does not read them), and which
//! protocol mappers a grant's scopes switch on, in precedence order.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::OrganizationClaimShape;
use crate::db::models::client_scopes as rows;
use crate::db::{DbConnection, Micros};
use crate::issuer::cache::Timed;
use crate::issuer::clients::ClientSettings;
use crate::issuer::mappers::MapperSetting;
use crate::issuer::{OAuthError, Result};

/// How long a realm's loaded scopes are trusted before the database is asked again (another
/// instance may have started with a newer config).
const RELOAD_AFTER: Micros = 30_000_000;

/// The built-in scope whose mapper writes the `organization` claim.
const ORGANIZATION: &str = "organization";

/// A declared client scope, its mappers parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientScope {
    pub name: String,
    pub mappers: Vec<MapperSetting>,
}

/// One realm's declared scopes.
#[derive(Debug, Default)]
pub struct RealmScopes {
    by_name: HashMap<String, ClientScope>,
}

impl RealmScopes {
    pub fn new(scopes: impl IntoIterator<Item = ClientScope>) -> Self {
        RealmScopes {
            by_name: scopes.into_iter().map(|s| (s.name.clone(), s)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ClientScope> {
        self.by_name.get(name)
    }

    /// The declared scopes' names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort();
        names
    }
}

/// Every realm's declared scopes, shared by the whole process.
pub struct ScopeCache {
    realms: Timed<Arc<RealmScopes>>,
}

impl Default for ScopeCache {
    fn default() -> Self {
        ScopeCache {
            realms: Timed::new(RELOAD_AFTER),
        }
    }
}

impl ScopeCache {
    /// The realm's scopes when they are in memory and fresh; None means ask [`ScopeCache::get`].
    pub fn cached(&self, realm_id: &str, now: Micros) -> Option<Arc<RealmScopes>> {
        self.realms.get(realm_id, now)
    }

    /// The realm's scopes, from memory when fresh.
    pub fn get(
        &self,
        conn: &mut DbConnection,
        realm_id: &str,
        now: Micros,
    ) -> Result<Arc<RealmScopes>> {
        if let Some(scopes) = self.cached(realm_id, now) {
            return Ok(scopes);
        }
        let scopes = Arc::new(load(conn, realm_id)?);
        self.realms.put(realm_id.to_string(), scopes.clone(), now);
        Ok(scopes)
    }
}

/// An unreadable scope fails the token request rather than minting a token without its claims.
fn load(conn: &mut DbConnection, realm_id: &str) -> Result<RealmScopes> {
    let mut scopes = Vec::new();
    for row in rows::list(conn, realm_id)? {
        let mappers = serde_json::from_str(&row.mappers).map_err(|e| {
            OAuthError::new(
                "server_error",
                format!("client scope {:?} has unreadable mappers: {e}", row.name),
            )
        })?;
        scopes.push(ClientScope {
            name: row.name,
            mappers,
        });
    }
    Ok(RealmScopes::new(scopes))
}

/// `organization:*` and `organization:<alias>` are the organization scope, asked with a
/// parameter (Keycloak's parameterized scope).
fn is_granted(granted: &[String], name: &str) -> bool {
    granted
        .iter()
        .any(|g| g == name || (name == ORGANIZATION && g.starts_with("organization:")))
}

/// The mappers the granted scopes switch on, lowest precedence first, so that a later mapper
/// writing the same claim wins: the built-in organization mapper, then the declared scopes in
/// the order the client lists them, then the client's own (its dedicated scope:
/// `organization_claim`, then `mappers`).
///
/// The built-in `organization` scope's mapper has the realm's shape; a declared `organization`
/// scope with an organization mapper replaces it, as editing that mapper does in Keycloak.
pub fn active_mappers(
    granted: &[String],
    client: &ClientSettings,
    declared: &RealmScopes,
    realm_shape: OrganizationClaimShape,
) -> Vec<MapperSetting> {
    let mut mappers = Vec::new();
    let organization_replaced = declared
        .get(ORGANIZATION)
        .is_some_and(|s| s.mappers.iter().any(MapperSetting::is_organization));
    if is_granted(granted, ORGANIZATION) && !organization_replaced {
        mappers.push(MapperSetting::organization(realm_shape));
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in client.default_scopes.iter().chain(&client.optional_scopes) {
        if seen.contains(&name.as_str()) || !is_granted(granted, name) {
            continue;
        }
        seen.push(name);
        if let Some(scope) = declared.get(name) {
            mappers.extend(scope.mappers.iter().cloned());
        }
    }
    if let Some(shape) = client.organization_claim {
        mappers.push(MapperSetting::organization(shape));
    }
    mappers.extend(client.mappers.iter().cloned());
    mappers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::jwt::Alg;
    use crate::issuer::mappers::MapperKind;
    use serde_json::json;
    use OrganizationClaimShape::{Aliases, Map, Objects, Single};

    fn client(optional: &[&str]) -> ClientSettings {
        ClientSettings {
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
            grant_types: vec![],
            full_scope_allowed: true,
            default_scopes: vec!["profile".into()],
            optional_scopes: optional.iter().map(|s| s.to_string()).collect(),
            access_token_lifespan_secs: 60,
            refresh_token_lifespan_secs: 60,
            signing_alg: Alg::RS256,
            organization_prompt: false,
            mappers: vec![],
            organization_claim: None,
        }
    }

    fn hardcoded(claim: &str, value: &str) -> MapperSetting {
        MapperSetting::everywhere(MapperKind::Hardcoded {
            claim: claim.into(),
            value: json!(value),
        })
    }

    fn scope(name: &str, mappers: Vec<MapperSetting>) -> ClientScope {
        ClientScope {
            name: name.into(),
            mappers,
        }
    }

    fn granted(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn which_mappers_a_grant_switches_on() {
        let department = scope("department", vec![hardcoded("tier", "gold")]);
        let declared = RealmScopes::new([department.clone()]);
        let web = client(&["organization", "department"]);
        let cases: [(&str, &[&str], Vec<MapperSetting>); 5] = [
            ("nothing optional asked", &["openid", "profile"], vec![]),
            (
                "the organization scope: the built-in mapper in the realm's shape",
                &["openid", "organization"],
                vec![MapperSetting::organization(Map)],
            ),
            (
                "organization:* is the organization scope too",
                &["organization:*"],
                vec![MapperSetting::organization(Map)],
            ),
            (
                "a declared optional scope, asked",
                &["department"],
                department.mappers.clone(),
            ),
            (
                "built-in before declared",
                &["department", "organization:acme"],
                vec![MapperSetting::organization(Map), hardcoded("tier", "gold")],
            ),
        ];
        for (case, asked, expected) in cases {
            assert_eq!(
                active_mappers(&granted(asked), &web, &declared, Map),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn a_declared_organization_scope_replaces_the_built_in_mapper() {
        let web = client(&["organization"]);
        let asked = granted(&["organization"]);
        let declared = RealmScopes::new([scope(
            "organization",
            vec![MapperSetting::organization(Objects)],
        )]);
        assert_eq!(
            active_mappers(&asked, &web, &declared, Aliases),
            vec![MapperSetting::organization(Objects)]
        );
        // Without an organization mapper of its own, the scope keeps the built-in one.
        let declared = RealmScopes::new([scope("organization", vec![hardcoded("b2b", "yes")])]);
        assert_eq!(
            active_mappers(&asked, &web, &declared, Aliases),
            vec![
                MapperSetting::organization(Aliases),
                hardcoded("b2b", "yes")
            ]
        );
    }

    #[test]
    fn the_clients_own_mappers_come_last() {
        let mut web = client(&["organization"]);
        web.organization_claim = Some(Single);
        web.mappers = vec![hardcoded("tier", "silver")];
        let declared = RealmScopes::new([scope(
            "organization",
            vec![
                MapperSetting::organization(Objects),
                hardcoded("tier", "gold"),
            ],
        )]);
        assert_eq!(
            active_mappers(&granted(&["organization"]), &web, &declared, Aliases),
            vec![
                MapperSetting::organization(Objects),
                hardcoded("tier", "gold"),
                MapperSetting::organization(Single),
                hardcoded("tier", "silver"),
            ]
        );
    }

    #[test]
    fn a_scope_the_client_does_not_list_adds_nothing() {
        let declared = RealmScopes::new([scope("department", vec![hardcoded("tier", "gold")])]);
        assert_eq!(
            active_mappers(&granted(&["department"]), &client(&[]), &declared, Aliases),
            vec![]
        );
    }
}
