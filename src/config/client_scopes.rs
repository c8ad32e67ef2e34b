//! Client scopes and protocol mappers as the operator declares them (`[[client_scope]]`, a
//! client's `mappers`), and the check-config rules for them: every scope a client names is built
//! in or declared in its realm, scope names are unique per realm, mappers are well formed.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// Scope names with built-in, hard-coded behaviour (Keycloak's built-in client scopes that
/// Vestibule implements). A `[[client_scope]]` of the same name adds mappers to them.
pub const BUILTIN_SCOPES: [&str; 11] = [
    "basic",
    "profile",
    "email",
    "roles",
    "web-origins",
    "acr",
    "groups",
    "organization",
    "offline_access",
    "address",
    "phone",
];

/// A named set of protocol mappers that clients list in `default_scopes` or
/// `optional_scopes` (Keycloak's client scope).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientScopeDecl {
    pub realm: String,
    /// A built-in name (its mappers then add to, or for `organization` replace, the built-in
    /// ones) or a new one.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub mappers: Vec<MapperDecl>,
}

/// Keycloak's Organization Membership mapper shapes, plus seed 000's.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationClaimShape {
    /// `"organization": ["acme", "globex"]` (Keycloak's default).
    #[default]
    Aliases,
    /// `"organization": "acme"`: the first organization's alias (Keycloak's multivalued off).
    Single,
    /// `"organization": {"acme": {"id": "…", "attr": ["v"]}}` (Keycloak with id/attributes on).
    Map,
    /// `"organization": [{"alias": "acme", "name": "Acme"}], "organizationId": "…"` (seed 000).
    Objects,
}

/// Which tokens a mapper writes into: Keycloak's "Add to access token / ID token / userinfo"
/// switches, all on unless turned off.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Include {
    pub access_token: bool,
    pub id_token: bool,
    pub userinfo: bool,
}

impl Default for Include {
    fn default() -> Self {
        Include {
            access_token: true,
            id_token: true,
            userinfo: true,
        }
    }
}

/// A protocol mapper: a claim it writes (`kind`) and the tokens it writes it into.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct MapperDecl {
    pub kind: MapperDeclKind,
    pub include: Include,
}

/// The mapper types, by their `type` key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MapperDeclKind {
    /// A user attribute (or `email`, `username`, ... of the user) under `claim`.
    UserAttribute { attribute: String, claim: String },
    /// A fixed value.
    Hardcoded { claim: String, value: toml::Value },
    /// An extra audience in the access token.
    Audience { audience: String },
    /// A session note: `org_id`, `identity_provider`, `identity_provider_identity`.
    SessionNote { note: String, claim: String },
    /// Keycloak's User Realm Role mapper: the user's realm roles under `claim`, a path whose
    /// dots nest (`realm_access.roles`, the default, as the built-in `roles` scope writes it
    /// into access tokens only).
    RealmRoles {
        #[serde(default = "realm_roles_claim_name")]
        claim: String,
    },
    /// Keycloak's Organization Membership mapper: the organizations the granted organization
    /// scopes select, in `shape`.
    Organization {
        #[serde(default = "organization_claim_name")]
        claim: String,
        #[serde(default)]
        shape: OrganizationClaimShape,
    },
}

fn organization_claim_name() -> String {
    "organization".into()
}

fn realm_roles_claim_name() -> String {
    "realm_access.roles".into()
}

const INCLUDE_SWITCHES: [&str; 3] = ["access_token", "id_token", "userinfo"];

/// The include switches are common to every type, so they are taken off before the type's own
/// keys are read; serde's `flatten` cannot be combined with `deny_unknown_fields`.
impl TryFrom<toml::Table> for MapperDecl {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let mut switches = [true; 3];
        for (key, on) in INCLUDE_SWITCHES.iter().zip(&mut switches) {
            match table.remove(*key) {
                None => {}
                Some(toml::Value::Boolean(b)) => *on = b,
                Some(other) => {
                    return Err(format!(
                        "mapper switch `{key}` must be true or false, not {other}"
                    ))
                }
            }
        }
        let named = match table.get("type") {
            Some(toml::Value::String(t)) => format!("mapper of type {t:?}"),
            _ => "mapper".to_string(),
        };
        let kind = MapperDeclKind::deserialize(toml::Value::Table(table))
            .map_err(|e| format!("{named}: {}", e.message().trim_end()))?;
        let [access_token, id_token, userinfo] = switches;
        Ok(MapperDecl {
            kind,
            include: Include {
                access_token,
                id_token,
                userinfo,
            },
        })
    }
}

impl MapperDecl {
    /// The claim the mapper writes, if it writes one (an audience mapper does not).
    fn claim(&self) -> Option<&str> {
        match &self.kind {
            MapperDeclKind::UserAttribute { claim, .. }
            | MapperDeclKind::Hardcoded { claim, .. }
            | MapperDeclKind::SessionNote { claim, .. }
            | MapperDeclKind::RealmRoles { claim }
            | MapperDeclKind::Organization { claim, .. } => Some(claim),
            MapperDeclKind::Audience { .. } => None,
        }
    }
}

/// RFC 6749 §3.3: a scope token is printable ASCII without space, `"` or `\`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn check_mappers(owner: &str, mappers: &[MapperDecl]) -> Result<(), ConfigError> {
    for mapper in mappers {
        if mapper.claim().is_some_and(|c| c.trim().is_empty()) {
            return Err(ConfigError::Invalid(format!(
                "{owner}: a mapper has an empty claim name"
            )));
        }
        if let MapperDeclKind::RealmRoles { claim } = &mapper.kind {
            if claim.split('.').any(|segment| segment.trim().is_empty()) {
                return Err(ConfigError::Invalid(format!(
                    "{owner}: a realm_roles mapper's claim {claim:?} has an empty part between \
                     its dots"
                )));
            }
        }
        if let MapperDeclKind::Audience { audience } = &mapper.kind {
            if audience.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{owner}: an audience mapper has an empty audience"
                )));
            }
        }
    }
    Ok(())
}

/// Checks `[[client_scope]]` declarations and the scopes and mappers clients name.
pub(super) fn validate(config: &Config, realms: &HashSet<&str>) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    let mut declared = HashSet::new();
    for s in &config.client_scopes {
        if !realms.contains(s.realm.as_str()) {
            return invalid(format!(
                "client_scope {:?} names realm {:?}, which is not declared",
                s.name, s.realm
            ));
        }
        if !is_scope_token(&s.name) || s.name == "openid" {
            return invalid(format!(
                "client_scope name {:?} is not a usable scope name (no spaces, quotes or \
                 backslashes; not \"openid\")",
                s.name
            ));
        }
        if s.name.starts_with("organization:") {
            // organization:<alias> and organization:* are requests of the organization scope.
            return invalid(format!(
                "client_scope {:?}: `organization:` names are forms of the organization scope; \
                 declare `organization` instead",
                s.name
            ));
        }
        if !declared.insert((s.realm.as_str(), s.name.as_str())) {
            return invalid(format!(
                "client_scope {:?} is declared twice in realm {:?}",
                s.name, s.realm
            ));
        }
        check_mappers(&format!("client_scope {:?}", s.name), &s.mappers)?;
    }
    for c in &config.clients {
        for scope in c.default_scopes.iter().chain(&c.optional_scopes) {
            let known = BUILTIN_SCOPES.contains(&scope.as_str())
                || declared.contains(&(c.realm.as_str(), scope.as_str()));
            if !known {
                return invalid(format!(
                    "client {:?} names client scope {scope:?}, which is neither built in nor \
                     declared as a [[client_scope]] in realm {:?}",
                    c.client_id, c.realm
                ));
            }
        }
        check_mappers(&format!("client {:?}", c.client_id), &c.mappers)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, text).unwrap();
        Config::load_with_env(Some(&path), &[])
    }

    fn refusal(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    const REALM: &str = "[[realm]]\nname = \"quickstart\"\n";

    const SCOPES: &str = r#"
[[client_scope]]
realm = "quickstart"
name = "organization"
description = "Organization membership"
mappers = [
  { type = "organization", shape = "objects" },
]

[[client_scope]]
realm = "quickstart"
name = "department"
mappers = [
  { type = "user_attribute", attribute = "department", claim = "department", id_token = false },
  { type = "hardcoded", claim = "tier", value = "gold" },
  { type = "audience", audience = "reporting-api" },
  { type = "session_note", note = "org_id", claim = "org_id" },
]
"#;

    fn client(optional_scopes: &str) -> String {
        format!(
            "[[client]]\nrealm = \"quickstart\"\nclient_id = \"web\"\nconfidential = false\n\
             optional_scopes = {optional_scopes}\n"
        )
    }

    #[test]
    fn declared_scopes_and_their_mappers_load() {
        let c = load(&format!(
            "{REALM}{SCOPES}{}",
            client(r#"["organization", "department"]"#)
        ))
        .unwrap();
        assert_eq!(
            c.client_scopes[0].mappers,
            vec![MapperDecl {
                kind: MapperDeclKind::Organization {
                    claim: "organization".into(),
                    shape: OrganizationClaimShape::Objects,
                },
                include: Include::default(),
            }]
        );
        let department = &c.client_scopes[1].mappers;
        assert_eq!(
            department[0].include,
            Include {
                access_token: true,
                id_token: false,
                userinfo: true
            }
        );
        assert_eq!(
            department[1].kind,
            MapperDeclKind::Hardcoded {
                claim: "tier".into(),
                value: toml::Value::String("gold".into())
            }
        );
        assert_eq!(department.len(), 4);
    }

    #[test]
    fn a_client_may_name_only_built_in_or_declared_scopes() {
        let err = refusal(&format!(
            "{REALM}{}",
            client(r#"["organization", "department"]"#)
        ));
        assert!(
            err.contains("\"web\"") && err.contains("\"department\""),
            "{err}"
        );
        let err = refusal(&format!(
            "{REALM}{SCOPES}[[realm]]\nname = \"other\"\n{}",
            client(r#"["department"]"#).replace("\"quickstart\"", "\"other\"")
        ));
        assert!(
            err.contains("\"department\"") && err.contains("\"other\""),
            "a scope of another realm does not count: {err}"
        );
    }

    #[test]
    fn scope_declarations_are_checked() {
        let cases = [
            (
                format!("{REALM}{SCOPES}{SCOPES}"),
                "client_scope \"organization\" is declared twice in realm \"quickstart\"",
            ),
            (
                SCOPES.to_string(),
                "client_scope \"organization\" names realm \"quickstart\", which is not declared",
            ),
            (
                format!(
                    "{REALM}{}",
                    SCOPES.replace("\"department\"", "\"organization:acme\"")
                ),
                "`organization:` names are forms of the organization scope",
            ),
            (
                format!("{REALM}{}", SCOPES.replace("\"department\"", "\"my dept\"")),
                "\"my dept\" is not a usable scope name",
            ),
            (
                format!(
                    "{REALM}{}",
                    SCOPES.replace("audience = \"reporting-api\"", "audience = \"\"")
                ),
                "client_scope \"department\": an audience mapper has an empty audience",
            ),
        ];
        for (text, expected) in cases {
            let err = refusal(&text);
            assert!(err.contains(expected), "{expected:?} in {err}");
        }
    }

    #[test]
    fn unknown_mapper_types_shapes_and_keys_are_named() {
        let cases = [
            (
                "type = \"organization\", shape = \"objects\"",
                "type = \"group_membership\"",
                "group_membership",
            ),
            ("shape = \"objects\"", "shape = \"tree\"", "tree"),
            (
                "id_token = false",
                "id_token = \"no\"",
                "`id_token` must be true or false",
            ),
            (
                "claim = \"tier\", value",
                "claim = \"tier\", colour = 1, value",
                "colour",
            ),
        ];
        for (from, to, named) in cases {
            let text = format!("{REALM}{}", SCOPES.replace(from, to));
            let err = refusal(&text);
            assert!(err.contains(named), "{named:?} in {err}");
            assert!(err.contains("line "), "the line is named: {err}");
        }
    }

    #[test]
    fn realm_roles_mappers_name_keycloaks_claim_unless_told_otherwise() {
        let roles = |mappers: &str| {
            format!("{REALM}[[client_scope]]\nrealm = \"quickstart\"\nname = \"roles\"\nmappers = [{mappers}]\n")
        };
        let c = load(&roles(
            r#"{ type = "realm_roles", access_token = false }, { type = "realm_roles", claim = "roles" }"#,
        ))
        .unwrap();
        let kinds: Vec<_> = c.client_scopes[0].mappers.iter().map(|m| &m.kind).collect();
        assert_eq!(
            kinds,
            [
                &MapperDeclKind::RealmRoles {
                    claim: "realm_access.roles".into()
                },
                &MapperDeclKind::RealmRoles {
                    claim: "roles".into()
                },
            ]
        );
        assert!(!c.client_scopes[0].mappers[0].include.access_token);
        let err = refusal(&roles(
            r#"{ type = "realm_roles", claim = "realm_access..roles" }"#,
        ));
        assert!(err.contains("an empty part between its dots"), "{err}");
    }

    #[test]
    fn single_is_a_shape_for_the_realm_and_for_a_client() {
        let c = load(&format!(
            "{REALM}[issuer]\norganization_claim = \"single\"\n{}organization_claim = \"single\"\n",
            client(r#"["organization"]"#)
        ))
        .unwrap();
        assert_eq!(c.issuer.organization_claim, OrganizationClaimShape::Single);
        assert_eq!(
            c.clients[0].organization_claim,
            Some(OrganizationClaimShape::Single)
        );
    }
}
