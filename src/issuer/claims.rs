//! What goes into tokens: pure functions of (who, which client, which scopes, which protocol
//! mappers), in Keycloak's shapes. Organization mappers write only when an organization scope is
//! granted (Keycloak issue #27993): `organization` (the one chosen at login, or the only one),
//! `organization:*` (all), `organization:<alias>` (that one, if a member).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::config::OrganizationClaimShape;
use crate::issuer::clients::ClientSettings;
use crate::issuer::mappers::{MapperKind, MapperSetting, Target};
use crate::issuer::roles::EffectiveRoles;

/// An organization as a claim may show it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgInfo {
    pub id: String,
    pub alias: String,
    pub name: String,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// The scopes granted: requested ones the client may have, plus its defaults (Keycloak's
/// default and optional client scopes). `openid` is kept as asked.
pub fn grant_scopes(requested: &str, settings: &ClientSettings) -> Vec<String> {
    let mut granted: BTreeSet<String> = settings.default_scopes.iter().cloned().collect();
    let org_allowed = settings
        .default_scopes
        .iter()
        .chain(&settings.optional_scopes)
        .any(|s| s == "organization");
    for scope in requested.split_whitespace() {
        let allowed = scope == "openid"
            || settings.optional_scopes.iter().any(|s| s == scope)
            || (org_allowed && scope.starts_with("organization:") && scope.len() > 13);
        if allowed {
            granted.insert(scope.to_string());
        }
    }
    granted.into_iter().collect()
}

pub fn has_scope(scopes: &[String], name: &str) -> bool {
    scopes.iter().any(|s| s == name)
}

/// Which organizations the claim names, from the granted scopes, the user's (enabled)
/// organizations, and the one chosen at login. `None` when no organization scope was granted.
pub fn select_organizations(
    scopes: &[String],
    member_of: &[OrgInfo],
    chosen: Option<&str>,
) -> Option<Vec<OrgInfo>> {
    let mut asked = false;
    let mut out: Vec<OrgInfo> = Vec::new();
    let push = |o: &OrgInfo, out: &mut Vec<OrgInfo>| {
        if !out.iter().any(|x| x.id == o.id) {
            out.push(o.clone());
        }
    };
    for scope in scopes {
        if scope == "organization" {
            asked = true;
            let pick = chosen
                .and_then(|id| member_of.iter().find(|o| o.id == id))
                .or(if member_of.len() == 1 {
                    member_of.first()
                } else {
                    None
                });
            if let Some(o) = pick {
                push(o, &mut out);
            }
        } else if scope == "organization:*" {
            asked = true;
            for o in member_of {
                push(o, &mut out);
            }
        } else if let Some(alias) = scope.strip_prefix("organization:") {
            asked = true;
            if let Some(o) = member_of.iter().find(|o| o.alias == alias) {
                push(o, &mut out);
            }
        }
    }
    asked.then_some(out)
}

/// Adds an organization mapper's claim in its shape (nothing when the list is empty).
pub fn add_organization_claim(
    claims: &mut Map<String, Value>,
    claim: &str,
    orgs: &[OrgInfo],
    shape: OrganizationClaimShape,
) {
    let Some(first) = orgs.first() else {
        return;
    };
    let value = match shape {
        OrganizationClaimShape::Aliases => json!(orgs.iter().map(|o| &o.alias).collect::<Vec<_>>()),
        OrganizationClaimShape::Single => json!(first.alias),
        OrganizationClaimShape::Map => {
            let mut map = Map::new();
            for o in orgs {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(o.id));
                for (k, v) in &o.attributes {
                    entry.insert(k.clone(), json!(v));
                }
                map.insert(o.alias.clone(), Value::Object(entry));
            }
            Value::Object(map)
        }
        OrganizationClaimShape::Objects => {
            claims.insert("organizationId".into(), json!(first.id));
            orgs.iter()
                .map(|o| json!({"alias": o.alias, "name": o.name}))
                .collect()
        }
    };
    claims.insert(claim.to_string(), value);
}

/// The person (or service account) a token is about.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Everything claims are made of.
#[derive(Debug, Clone)]
pub struct ClaimInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The client's settings (its web origins; its own mappers come through `mappers`).
    pub settings: &'a ClientSettings,
    pub person: &'a Person,
    pub scopes: &'a [String],
    pub roles: &'a EffectiveRoles,
    pub groups: &'a [String],
    /// None when no organization scope was granted: organization mappers then add nothing.
    pub organizations: Option<&'a [OrgInfo]>,
    /// The mappers the granted scopes switch on, lowest precedence first
    /// (`scopes::active_mappers`; the client's own are among them).
    pub mappers: &'a [MapperSetting],
    /// (sid, auth_time in seconds) for user tokens.
    pub session: Option<(&'a str, i64)>,
    pub notes: &'a BTreeMap<String, String>,
    pub nonce: Option<&'a str>,
    pub now: i64,
    pub expires: i64,
    pub jti: &'a str,
}

/// The built-in scopes' claims about the person, then the mappers'.
fn identity(input: &ClaimInput<'_>, claims: &mut Map<String, Value>, target: Target) {
    let p = input.person;
    if has_scope(input.scopes, "profile") {
        let name = [p.first_name.as_deref(), p.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            claims.insert("name".into(), json!(name));
        }
        if let Some(v) = &p.first_name {
            claims.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &p.last_name {
            claims.insert("family_name".into(), json!(v));
        }
        claims.insert("preferred_username".into(), json!(p.username));
    }
    if has_scope(input.scopes, "email") {
        if let Some(v) = &p.email {
            claims.insert("email".into(), json!(v));
            claims.insert("email_verified".into(), json!(p.email_verified));
        }
    }
    if has_scope(input.scopes, "phone") {
        phone(p, claims);
    }
    if has_scope(input.scopes, "address") {
        address(p, claims);
    }
    if has_scope(input.scopes, "groups") && !input.groups.is_empty() {
        claims.insert("groups".into(), json!(input.groups));
    }
    apply_mappers(input, claims, target);
}

fn first_attribute<'a>(p: &'a Person, name: &str) -> Option<&'a str> {
    p.attributes
        .get(name)
        .and_then(|vs| vs.first())
        .map(String::as_str)
}

/// The `phone` scope (OIDC Core §5.4), from the user attributes Keycloak's phone mappers read:
/// `phoneNumber` and `phoneNumberVerified`.
fn phone(p: &Person, claims: &mut Map<String, Value>) {
    if let Some(number) = first_attribute(p, "phoneNumber") {
        claims.insert("phone_number".into(), json!(number));
        let verified = first_attribute(p, "phoneNumberVerified") == Some("true");
        claims.insert("phone_number_verified".into(), json!(verified));
    }
}

/// The `address` scope (OIDC Core §5.1.1), from the user attributes Keycloak's address mapper
/// reads: `formatted`, `street`, `locality`, `region`, `postal_code`, `country`.
fn address(p: &Person, claims: &mut Map<String, Value>) {
    let mut address = Map::new();
    for (attribute, member) in [
        ("formatted", "formatted"),
        ("street", "street_address"),
        ("locality", "locality"),
        ("region", "region"),
        ("postal_code", "postal_code"),
        ("country", "country"),
    ] {
        if let Some(value) = first_attribute(p, attribute) {
            address.insert(member.into(), json!(value));
        }
    }
    if !address.is_empty() {
        claims.insert("address".into(), Value::Object(address));
    }
}

/// Runs the mappers meant for `target` in order, a later one overwriting an earlier one's claim.
fn apply_mappers(input: &ClaimInput<'_>, claims: &mut Map<String, Value>, target: Target) {
    let p = input.person;
    let mappers: Vec<&MapperSetting> = input
        .mappers
        .iter()
        .filter(|m| m.applies_to(target))
        .collect();
    for (i, mapper) in mappers.iter().enumerate() {
        match &mapper.kind {
            MapperKind::UserAttribute { attribute, claim } => {
                let value = match attribute.as_str() {
                    "username" => Some(json!(p.username)),
                    "email" => p.email.as_ref().map(|e| json!(e)),
                    "firstName" => p.first_name.as_ref().map(|e| json!(e)),
                    "lastName" => p.last_name.as_ref().map(|e| json!(e)),
                    other => p.attributes.get(other).map(|vs| {
                        if vs.len() == 1 {
                            json!(vs[0])
                        } else {
                            json!(vs)
                        }
                    }),
                };
                if let Some(v) = value {
                    claims.insert(claim.clone(), v);
                }
            }
            MapperKind::Hardcoded { claim, value } => {
                claims.insert(claim.clone(), value.clone());
            }
            MapperKind::SessionNote { note, claim } => {
                if let Some(v) = input.notes.get(note) {
                    claims.insert(claim.clone(), json!(v));
                }
            }
            MapperKind::RealmRoles { claim } => {
                // Keycloak adds nothing for a user without realm roles.
                if !input.roles.realm.is_empty() {
                    insert_at_path(claims, claim, json!(input.roles.realm));
                }
            }
            MapperKind::Organization { claim, shape } => {
                // A later organization mapper of the same claim replaces this one whole, so
                // that an `organizationId` of an overridden objects shape does not linger.
                let overridden = mappers[i + 1..].iter().any(|later| {
                    matches!(&later.kind, MapperKind::Organization { claim: c, .. } if c == claim)
                });
                if let (false, Some(orgs)) = (overridden, input.organizations) {
                    add_organization_claim(claims, claim, orgs, *shape);
                }
            }
            MapperKind::Audience { .. } => {}
        }
    }
}

/// Writes `value` at a claim path whose dots nest, as Keycloak's token claim names do:
/// `realm_access.roles` is `roles` inside the `realm_access` object (made, or replaced when it
/// is not an object).
fn insert_at_path(claims: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            claims.insert(path.to_string(), value);
        }
        Some((outer, rest)) => {
            let entry = claims
                .entry(outer.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_at_path(inner, rest, value);
            }
        }
    }
}

/// The `typ` claim of our access tokens (Keycloak's), which tells them from ID tokens.
pub const ACCESS_TOKEN_TYP: &str = "Bearer";
/// The `typ` claim of our ID tokens (Keycloak's): an `id_token_hint` must carry it.
pub const ID_TOKEN_TYP: &str = "ID";

fn common(input: &ClaimInput<'_>, typ: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("exp".into(), json!(input.expires));
    claims.insert("iat".into(), json!(input.now));
    claims.insert("jti".into(), json!(input.jti));
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("sub".into(), json!(input.person.id));
    claims.insert("typ".into(), json!(typ));
    claims.insert("azp".into(), json!(input.client_id));
    if let Some((sid, auth_time)) = input.session {
        claims.insert("auth_time".into(), json!(auth_time));
        claims.insert("sid".into(), json!(sid));
        claims.insert("acr".into(), json!("1"));
    }
    claims
}

/// The access token's claims (a JWT, RFC 9068 style, Keycloak's claims).
pub fn access_token(input: &ClaimInput<'_>) -> Value {
    let mut claims = common(input, ACCESS_TOKEN_TYP);
    let mut audience: BTreeSet<String> = BTreeSet::new();
    if has_scope(input.scopes, "roles") {
        if !input.roles.realm.is_empty() {
            claims.insert("realm_access".into(), json!({"roles": input.roles.realm}));
        }
        if !input.roles.clients.is_empty() {
            let access: Map<String, Value> = input
                .roles
                .clients
                .iter()
                .map(|(client, roles)| (client.clone(), json!({"roles": roles})))
                .collect();
            claims.insert("resource_access".into(), Value::Object(access));
            // Keycloak's Audience Resolve: the clients whose roles the token carries.
            audience.extend(
                input
                    .roles
                    .clients
                    .keys()
                    .filter(|c| *c != input.client_id)
                    .cloned(),
            );
        }
    }
    for mapper in input.mappers {
        if let (true, MapperKind::Audience { audience: a }) =
            (mapper.applies_to(Target::AccessToken), &mapper.kind)
        {
            audience.insert(a.clone());
        }
    }
    // RFC 9068 §2.2: `aud` is required. With no other client's roles and no audience mapper,
    // the token is for the client itself (Keycloak would leave `aud` out here).
    if audience.is_empty() {
        audience.insert(input.client_id.to_string());
    }
    match audience.len() {
        0 => {}
        1 => {
            claims.insert("aud".into(), json!(audience.into_iter().next()));
        }
        _ => {
            claims.insert("aud".into(), json!(audience));
        }
    }
    if has_scope(input.scopes, "web-origins") && !input.settings.web_origins.is_empty() {
        claims.insert("allowed-origins".into(), json!(input.settings.web_origins));
    }
    claims.insert("scope".into(), json!(input.scopes.join(" ")));
    identity(input, &mut claims, Target::AccessToken);
    Value::Object(claims)
}

/// The ID token's claims (OIDC Core §2): `aud` is the client.
pub fn id_token(input: &ClaimInput<'_>) -> Value {
    let mut claims = common(input, ID_TOKEN_TYP);
    claims.insert("aud".into(), json!(input.client_id));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    identity(input, &mut claims, Target::IdToken);
    Value::Object(claims)
}

/// The userinfo response (OIDC Core §5.3).
pub fn userinfo(input: &ClaimInput<'_>) -> Value {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(input.person.id));
    identity(input, &mut claims, Target::Userinfo);
    Value::Object(claims)
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
