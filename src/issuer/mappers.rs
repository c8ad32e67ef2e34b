//! Protocol mappers as stored with a client (`clients.settings`) or a client scope
//! (`client_scopes.mappers`): the claim each writes and the tokens it writes it into. Config's
//! [`MapperDecl`] becomes a [`MapperSetting`] when declarations are applied.

use serde::{Deserialize, Serialize};

use crate::config::{Include, MapperDecl, MapperDeclKind, OrganizationClaimShape};

/// A stored protocol mapper. The include switches sit beside `type` in the JSON; mappers stored
/// before the switches existed read as included everywhere.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MapperSetting {
    #[serde(flatten)]
    pub kind: MapperKind,
    #[serde(flatten)]
    pub include: Include,
}

/// What a mapper writes (config's [`MapperDeclKind`], with JSON values).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MapperKind {
    UserAttribute {
        attribute: String,
        claim: String,
    },
    Hardcoded {
        claim: String,
        value: serde_json::Value,
    },
    Audience {
        audience: String,
    },
    SessionNote {
        note: String,
        claim: String,
    },
    /// `claim` is a path: `realm_access.roles` writes `{"realm_access": {"roles": [..]}}`.
    RealmRoles {
        claim: String,
    },
    Organization {
        claim: String,
        shape: OrganizationClaimShape,
    },
}

/// Which token a claim is being built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    AccessToken,
    IdToken,
    Userinfo,
}

impl MapperSetting {
    /// A mapper that writes into every token.
    pub fn everywhere(kind: MapperKind) -> Self {
        MapperSetting {
            kind,
            include: Include::default(),
        }
    }

    /// An organization mapper writing `organization` in `shape`, in every token.
    pub fn organization(shape: OrganizationClaimShape) -> Self {
        Self::everywhere(MapperKind::Organization {
            claim: "organization".into(),
            shape,
        })
    }

    pub fn applies_to(&self, target: Target) -> bool {
        match target {
            Target::AccessToken => self.include.access_token,
            Target::IdToken => self.include.id_token,
            Target::Userinfo => self.include.userinfo,
        }
    }

    pub fn is_organization(&self) -> bool {
        matches!(self.kind, MapperKind::Organization { .. })
    }
}

impl From<&MapperDecl> for MapperSetting {
    fn from(d: &MapperDecl) -> Self {
        let kind = match &d.kind {
            MapperDeclKind::UserAttribute { attribute, claim } => MapperKind::UserAttribute {
                attribute: attribute.clone(),
                claim: claim.clone(),
            },
            MapperDeclKind::Hardcoded { claim, value } => MapperKind::Hardcoded {
                claim: claim.clone(),
                value: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            },
            MapperDeclKind::Audience { audience } => MapperKind::Audience {
                audience: audience.clone(),
            },
            MapperDeclKind::SessionNote { note, claim } => MapperKind::SessionNote {
                note: note.clone(),
                claim: claim.clone(),
            },
            MapperDeclKind::RealmRoles { claim } => MapperKind::RealmRoles {
                claim: claim.clone(),
            },
            MapperDeclKind::Organization { claim, shape } => MapperKind::Organization {
                claim: claim.clone(),
                shape: *shape,
            },
        };
        MapperSetting {
            kind,
            include: d.include,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_json_keeps_the_switches_beside_the_type() {
        let mapper = MapperSetting {
            kind: MapperKind::UserAttribute {
                attribute: "department".into(),
                claim: "department".into(),
            },
            include: Include {
                access_token: true,
                id_token: false,
                userinfo: true,
            },
        };
        let stored = serde_json::to_value(&mapper).unwrap();
        assert_eq!(
            stored,
            json!({"type": "user_attribute", "attribute": "department", "claim": "department",
                   "access_token": true, "id_token": false, "userinfo": true})
        );
        assert_eq!(
            serde_json::from_value::<MapperSetting>(stored).unwrap(),
            mapper
        );
    }

    #[test]
    fn mappers_stored_before_the_switches_are_included_everywhere() {
        let old = json!({"type": "hardcoded", "claim": "tier", "value": "gold"});
        assert_eq!(
            serde_json::from_value::<MapperSetting>(old).unwrap(),
            MapperSetting::everywhere(MapperKind::Hardcoded {
                claim: "tier".into(),
                value: json!("gold")
            })
        );
    }
}
