//! IdP mappers as the operator declares them in an `[[identity_provider]]` table
//! (`mappers = [ { name = "...", type = "...", ... } ]`): Keycloak's mapper types and sync modes
//! (reference/keycloak-organizations.md §2.4, §2.5), spelled in snake_case. Claim paths, role
//! references, group paths and username templates are parsed when the file is read, so a bad one
//! is refused with its line and its mapper's name; [`validate`] adds the rules that span a whole
//! list (unique names) or need a compiled regex. What the mappers do at a login is
//! `federation::idp_mappers`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Deserialize;

/// An identity provider's sync mode: the default of its mappers (Keycloak's IdP "Sync Mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Mappers run on the first login only (Keycloak's default for a new IdP).
    #[default]
    Import,
    /// Mappers run on every login: they set, grant and revoke each time.
    Force,
    /// Keycloak's behaviour from before sync modes (per type; see `federation::idp_mappers`).
    Legacy,
}

/// A mapper's "Sync mode override".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapperSyncMode {
    /// The identity provider's [`SyncMode`].
    #[default]
    Inherit,
    Import,
    Force,
    Legacy,
}

impl MapperSyncMode {
    /// The mode the mapper runs in under an IdP whose mode is `idp` (Keycloak's
    /// `IdentityProviderMapperSyncModeDelegate.combineIdpAndMapperSyncMode`).
    pub fn resolve(self, idp: SyncMode) -> SyncMode {
        match self {
            MapperSyncMode::Inherit => idp,
            MapperSyncMode::Import => SyncMode::Import,
            MapperSyncMode::Force => SyncMode::Force,
            MapperSyncMode::Legacy => SyncMode::Legacy,
        }
    }
}

/// One IdP mapper: its name (unique in its identity provider; grants are recorded under it),
/// its sync mode override and what it does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct IdpMapperDecl {
    pub name: String,
    pub sync_mode: MapperSyncMode,
    pub kind: IdpMapperKind,
}

/// The mapper types, by their `type` key (Keycloak's display names in the comments).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdpMapperKind {
    /// Attribute Importer (`oidc-user-attribute-idp-mapper`): the claim's values into a user
    /// attribute, or into the user's `email`, `firstName`, `lastName` or `username`.
    AttributeImporter { claim: ClaimPath, attribute: String },
    /// Hardcoded Role (`oidc-hardcoded-role-idp-mapper`).
    HardcodedRole { role: RoleRef },
    /// Hardcoded Attribute (`hardcoded-attribute-idp-mapper`).
    HardcodedAttribute { attribute: String, value: String },
    /// Hardcoded Group (`oidc-hardcoded-group-idp-mapper`).
    HardcodedGroup { group: GroupPath },
    /// Claim to Role (`oidc-role-idp-mapper`): the claim equals `value`, or, an array, holds it.
    ClaimToRole {
        claim: ClaimPath,
        value: String,
        role: RoleRef,
    },
    /// Advanced Claim to Role (`oidc-advanced-role-idp-mapper`): every claim matches its value.
    AdvancedClaimToRole {
        claims: BTreeMap<ClaimPath, String>,
        /// Keycloak's "Regex Claim Values": each value is a regex the whole claim must match.
        #[serde(default)]
        regex: bool,
        role: RoleRef,
    },
    /// Advanced Claim to Group (`oidc-advanced-group-idp-mapper`).
    AdvancedClaimToGroup {
        claims: BTreeMap<ClaimPath, String>,
        #[serde(default)]
        regex: bool,
        group: GroupPath,
    },
    /// Username Template Importer (`oidc-username-idp-mapper`).
    UsernameTemplate {
        template: UsernameTemplate,
        #[serde(default)]
        target: TemplateTarget,
    },
}

/// Where a username template's result goes (Keycloak's `Target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateTarget {
    /// The local user's username (`LOCAL`).
    #[default]
    Local,
    /// The subject the federated identity link is looked up by (`BROKER_ID`).
    BrokerId,
    /// The username stored on the federated identity link (`BROKER_USERNAME`).
    BrokerUsername,
}

impl fmt::Display for TemplateTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TemplateTarget::Local => "username",
            TemplateTarget::BrokerId => "broker id",
            TemplateTarget::BrokerUsername => "broker username",
        })
    }
}

/// `name` and `sync_mode` are common to every type, so they are taken off before the type's own
/// keys are read; serde's `flatten` cannot be combined with `deny_unknown_fields`.
impl TryFrom<toml::Table> for IdpMapperDecl {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) => name,
            Some(other) => return Err(format!("a mapper's `name` must be a string, not {other}")),
            None => return Err("a mapper needs a `name`".into()),
        };
        let sync_mode = match table.remove("sync_mode") {
            None => MapperSyncMode::Inherit,
            Some(value) => MapperSyncMode::deserialize(value)
                .map_err(|e| format!("mapper {name:?}: sync_mode: {}", e.message().trim_end()))?,
        };
        let kind = IdpMapperKind::deserialize(toml::Value::Table(table))
            .map_err(|e| format!("mapper {name:?}: {}", e.message().trim_end()))?;
        Ok(IdpMapperDecl {
            name,
            sync_mode,
            kind,
        })
    }
}

/// The checks that span an identity provider's whole mapper list, or that need a regex
/// compiled: names non-empty and unique (grants are recorded under them), attribute names
/// non-empty, advanced mappers with at least one claim and, with `regex = true`, values that
/// compile, one username template per target, and no `${UUID}` in a broker id or broker
/// username template (the person would get a new identity at every login). Paths, roles, groups
/// and templates were parsed when the file was read. Messages name the mapper.
pub fn validate(mappers: &[IdpMapperDecl]) -> Result<(), String> {
    let mut names = HashSet::new();
    let mut targets = HashSet::new();
    for mapper in mappers {
        let name = &mapper.name;
        if name.trim().is_empty() {
            return Err("a mapper has an empty name".into());
        }
        if !names.insert(name.as_str()) {
            return Err(format!("mapper {name:?} is declared twice"));
        }
        match &mapper.kind {
            IdpMapperKind::AttributeImporter { attribute, .. }
            | IdpMapperKind::HardcodedAttribute { attribute, .. } => {
                if attribute.trim().is_empty() {
                    return Err(format!("mapper {name:?}: `attribute` is empty"));
                }
            }
            IdpMapperKind::AdvancedClaimToRole { claims, regex, .. }
            | IdpMapperKind::AdvancedClaimToGroup { claims, regex, .. } => {
                if claims.is_empty() {
                    return Err(format!(
                        "mapper {name:?}: `claims` is empty; a mapper that always applies is a \
                         hardcoded_role or hardcoded_group"
                    ));
                }
                if *regex {
                    for (claim, pattern) in claims {
                        full_match_regex(pattern).map_err(|e| {
                            format!("mapper {name:?}: the regex for claim {claim} does not compile: {e}")
                        })?;
                    }
                }
            }
            IdpMapperKind::UsernameTemplate { template, target } => {
                if !targets.insert(*target) {
                    return Err(format!(
                        "mapper {name:?}: a second username template for the {target}"
                    ));
                }
                if *target != TemplateTarget::Local && template.uses_uuid() {
                    return Err(format!(
                        "mapper {name:?}: ${{UUID}} in a {target} template would give the person a \
                         new identity at every login"
                    ));
                }
            }
            IdpMapperKind::HardcodedRole { .. }
            | IdpMapperKind::HardcodedGroup { .. }
            | IdpMapperKind::ClaimToRole { .. } => {}
        }
    }
    Ok(())
}

/// A regex that must match the whole value, as Java's `String.matches` in Keycloak's
/// `RegexUtils.valueMatchesRegex`. The pattern is compiled alone first: a pattern with an
/// unbalanced `)` such as `a)|(b` would otherwise escape the anchors once wrapped.
pub fn full_match_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(pattern)?;
    regex::Regex::new(&format!(r"\A(?:{pattern})\z"))
}

/// The `TryFrom<String>` (serde's `try_from`), `as_str` and `Display` of a parsed config string
/// that keeps its source text.
macro_rules! parsed_text {
    ($type:ident) => {
        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                $type::parse(&text)
            }
        }

        impl $type {
            /// The text as declared.
            pub fn as_str(&self) -> &str {
                &self.source
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.source)
            }
        }
    };
}

/// A claim path (Keycloak's `JsonUtils.splitClaimPath` plus `getJsonValue`'s indexes): `.`
/// separates nested names (`address.locality`), a backslash makes the next character literal
/// (`a\.b` is the one name `a.b`, as in Entra's URL-like claim names), `[i]` after a name takes
/// element `i` of an array (`emails[0]`, `a[0][1]`). Unescaped dots always split: a top-level name
/// containing dots must be written with `\.` (Keycloak's rule; no fallback to the whole text).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ClaimPath {
    source: String,
    segments: Vec<ClaimSegment>,
}

/// One name of a [`ClaimPath`] and the array indexes that follow it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClaimSegment {
    pub name: String,
    pub indexes: Vec<usize>,
}

parsed_text!(ClaimPath);

impl ClaimPath {
    pub fn parse(text: &str) -> Result<ClaimPath, String> {
        let refuse = |why: &str| Err(format!("claim path {text:?} {why}"));
        let mut segments = Vec::new();
        let mut name = String::new();
        let mut indexes = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if name.is_empty() {
                        return refuse("has an empty name (two dots, or a dot at an end)");
                    }
                    segments.push(ClaimSegment {
                        name: std::mem::take(&mut name),
                        indexes: std::mem::take(&mut indexes),
                    });
                }
                '[' => {
                    if name.is_empty() {
                        return refuse("has an index without a claim name before it");
                    }
                    let mut digits = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        digits.push(c);
                    }
                    // `parse` alone would take "+1"; an index is digits only.
                    let index = digits
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| digits.parse::<usize>().ok())
                        .flatten();
                    match index {
                        Some(i) if closed => indexes.push(i),
                        _ => return refuse("has an index that is not `[` digits `]`"),
                    }
                }
                ']' => return refuse("has a `]` without its `[` (write `\\]` for the character)"),
                _ if !indexes.is_empty() => {
                    return refuse("continues after an index without a dot");
                }
                '\\' => match chars.next() {
                    Some(escaped) => name.push(escaped),
                    None => return refuse("ends with a lone backslash"),
                },
                other => name.push(other),
            }
        }
        if name.is_empty() {
            return refuse("has an empty name (two dots, or a dot at an end)");
        }
        segments.push(ClaimSegment { name, indexes });
        Ok(ClaimPath {
            source: text.to_string(),
            segments,
        })
    }

    pub fn segments(&self) -> &[ClaimSegment] {
        &self.segments
    }

    /// The top-level claim name: the one an IdP withholds (Entra's `_claim_names`).
    pub fn top_level(&self) -> &str {
        // A parsed path has at least one segment.
        self.segments.first().map_or("", |s| s.name.as_str())
    }
}

/// A role reference: `NAME` (a realm role) or `client:NAME` (a client's role), as everywhere in
/// the config (`issuer::roles::split_ref`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct RoleRef {
    source: String,
}

parsed_text!(RoleRef);

impl RoleRef {
    pub fn parse(text: &str) -> Result<RoleRef, String> {
        let (client, name) = text.split_once(':').unwrap_or(("", text));
        let part_ok = |p: &str| !p.is_empty() && p.trim() == p;
        if !part_ok(name) || name.contains(':') || (text.contains(':') && !part_ok(client)) {
            return Err(format!(
                "role {text:?} is neither `NAME` (a realm role) nor `client:NAME` (a client role)"
            ));
        }
        Ok(RoleRef {
            source: text.to_string(),
        })
    }

    /// The client whose role this is; `None` for a realm role.
    pub fn client(&self) -> Option<&str> {
        self.source.split_once(':').map(|(client, _)| client)
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        self.source
            .split_once(':')
            .map_or(self.source.as_str(), |(_, name)| name)
    }
}

/// A group's full path, `/Engineering/Platform` (Keycloak's group paths, as the `groups` claim
/// carries them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct GroupPath {
    source: String,
}

parsed_text!(GroupPath);

impl GroupPath {
    pub fn parse(text: &str) -> Result<GroupPath, String> {
        let well_formed = text
            .strip_prefix('/')
            .is_some_and(|rest| rest.split('/').all(|n| !n.trim().is_empty()));
        match well_formed {
            true => Ok(GroupPath {
                source: text.to_string(),
            }),
            false => Err(format!(
                "group {text:?} is not a full path like \"/Engineering/Platform\""
            )),
        }
    }

    /// The group names from the top, `["Engineering", "Platform"]`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.source.split('/').skip(1)
    }
}

/// A username template (Keycloak's Username Template Importer): text with substitutions
/// `${ALIAS}` (the identity provider's alias), `${UUID}` (a new UUID), `${CLAIM.path}` (a
/// [`ClaimPath`]), each optionally followed by transformers, `${CLAIM.email | lowercase}`.
/// Unlike Keycloak, which prints an unknown substitution's name and ignores an unknown
/// transformer, both are refused here: they are typos. A claim path in a template cannot hold
/// `}` or `|`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UsernameTemplate {
    source: String,
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Substitution {
        value: TemplateValue,
        transformers: Vec<Transformer>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateValue {
    Alias,
    Uuid,
    Claim(ClaimPath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    Lowercase,
    Uppercase,
}

parsed_text!(UsernameTemplate);

impl UsernameTemplate {
    pub fn parse(text: &str) -> Result<UsernameTemplate, String> {
        let refuse = |why: String| Err(format!("username template {text:?}: {why}"));
        if text.trim().is_empty() {
            return refuse("it is empty".into());
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(TemplatePart::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return refuse("a `${` has no closing `}`".into());
            };
            let mut pieces = after[..end].split('|').map(str::trim);
            let value = match pieces.next().unwrap_or_default() {
                "ALIAS" => TemplateValue::Alias,
                "UUID" => TemplateValue::Uuid,
                other => match other.strip_prefix("CLAIM.") {
                    Some(path) => TemplateValue::Claim(ClaimPath::parse(path)?),
                    None => {
                        return refuse(format!(
                            "unknown substitution ${{{other}}} (ALIAS, UUID or CLAIM.<claim>)"
                        ))
                    }
                },
            };
            let mut transformers = Vec::new();
            for name in pieces {
                transformers.push(match name {
                    "lowercase" => Transformer::Lowercase,
                    "uppercase" => Transformer::Uppercase,
                    other => {
                        return refuse(format!(
                            "unknown transformer {other:?} (lowercase or uppercase)"
                        ))
                    }
                });
            }
            parts.push(TemplatePart::Substitution {
                value,
                transformers,
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_string()));
        }
        Ok(UsernameTemplate {
            source: text.to_string(),
            parts,
        })
    }

    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// Whether the template makes a new UUID each time it is rendered.
    pub fn uses_uuid(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                TemplatePart::Substitution {
                    value: TemplateValue::Uuid,
                    ..
                }
            )
        })
    }
}

#[cfg(test)]
#[path = "idp_mappers_tests.rs"]
mod tests;
