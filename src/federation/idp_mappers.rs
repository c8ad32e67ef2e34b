//! The IdP mappers at a login: a pure function of the upstream claims (ID token claims merged
//! with userinfo), the identity provider's mappers and what they granted before, returning a
//! [`Plan`] for the login step to apply. Keycloak's names and semantics
//! (reference/keycloak-organizations.md §2.4, §2.5); no database, no HTTP, no clock.
//!
//! What each type does, by the sync mode it runs in (Keycloak's `IdentityProviderMapper`:
//! `importNewUser` on the first login whatever the mode, `updateBrokeredUser` on later logins in
//! force, `updateBrokeredUserLegacy` in legacy, nothing in import —
//! `IdentityProviderMapperSyncModeDelegate.delegateUpdateBrokeredUser`):
//!
//! | type | first login | later, import | later, force | later, legacy |
//! |---|---|---|---|---|
//! | attribute_importer | set | — | set / remove / keep | as force (1) |
//! | hardcoded_attribute | set | — | set | as force (1) |
//! | hardcoded_role | grant | — | grant | — (2) |
//! | hardcoded_group | join | — | join | as force (1) |
//! | claim_to_role, advanced_claim_to_role | grant if | — | grant if, else revoke | revoke unless (3) |
//! | advanced_claim_to_group | join if | — | join if, else leave | as force (1) |
//! | username_template, `local` | username | — | username (4) | — (4) |
//! | username_template, `broker_*` | every login, every mode (5) | | | |
//!
//! 1. `AbstractIdentityProviderMapper.updateBrokeredUserLegacy` calls `updateBrokeredUser`, and
//!    `UserAttributeMapper`, `HardcodedAttributeMapper` and `AbstractClaimToGroupMapper` (hardcoded
//!    and advanced claim to group) do not override it.
//! 2. `HardcodedRoleMapper.updateBrokeredUserLegacy` is empty.
//! 3. `AbstractClaimToRoleMapper.updateBrokeredUserLegacy`: revoke when the condition fails,
//!    never grant.
//! 4. `UsernameTemplateMapper.updateBrokeredUser` sets the username for target `LOCAL`; its
//!    legacy override is empty.
//! 5. `preprocessFederatedIdentity` runs at every login: the broker id is what the identity link
//!    is looked up by, before anyone knows whether the login is a first one ([`broker_identity`]).
//!
//! Mappers run in their declared order: where two set the same attribute or property (an
//! attribute importer into `username` and a `local` username template), the later one wins.
//!
//! Where Vestibule decides differently from Keycloak, on purpose:
//! - **Grants are per mapper.** Each grant is tagged with the mapper that made it; a revocation
//!   removes only that mapper's earlier grant, never a manual one or another mapper's. A role
//!   (group) is *released* only when no grant of this IdP's mappers holds it any more, so a role
//!   another mapper grants at the same login is never lost: Keycloak's KEYCLOAK-8730 guard
//!   (`AbstractClaimToRoleMapper.updateBrokeredUser`, `context.hasMapperGrantedRole`), without its
//!   dependence on mapper order.
//! - **A mapper that changed target** (the role or group in its config) revokes its grants of the
//!   old target whenever it may revoke (force; legacy for the types that revoke there): Keycloak
//!   keeps them (#36578).
//! - **Absent is not empty** for the attribute importer under force and legacy: a claim present
//!   with values sets the attribute, present but empty (`null`, `""`, `[]`) removes it, absent
//!   leaves it as it is. Keycloak's `UserAttributeMapper.updateBrokeredUser` makes both an empty
//!   list and removes. The user's properties (`email`, `firstName`, `lastName`, `username`) are
//!   never cleared: Keycloak's `setIfNotEmpty`. Role and group conditions fail alike on an absent
//!   and on an empty claim (Keycloak's `valueEquals` on `null`).
//! - **A withheld claim decides nothing.** Entra replaces `groups` by an overage pointer above 200
//!   groups (`"_claim_names": {"groups": "src1"}`, or `"hasgroups": true` in the implicit flow;
//!   reference/federation.md §1.5; OpenID Connect Core §5.6.2 aggregated and distributed claims).
//!   A mapper reading a claim whose top-level name is withheld changes nothing at that login: no
//!   grant, no revocation, no attribute change ("overage never revokes a grant"); the plan lists
//!   it in [`Plan::withheld`]. Keycloak loses the groups and, under force, revokes (#26192).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::config::{GroupPath, IdpMapperDecl, IdpMapperKind, RoleRef, SyncMode, TemplateTarget};

mod claims;

use claims::{
    condition, lookup, render, same_values, values, wanted, Claim, Condition, Values, Wanted,
};

/// A user property that mappers set instead of an attribute of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    Username,
    Email,
    FirstName,
    LastName,
}

impl Property {
    /// The property an attribute name stands for: `username`, `email`, `firstName`,
    /// `lastName`, ignoring case (Keycloak's `UserAttributeMapper`: `EMAIL.equalsIgnoreCase`).
    pub fn named(attribute: &str) -> Option<Property> {
        [
            ("username", Property::Username),
            ("email", Property::Email),
            ("firstName", Property::FirstName),
            ("lastName", Property::LastName),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .map(|(_, property)| property)
    }
}

/// Something a mapper granted: a role ([`RoleGrant`]) or a group membership ([`GroupGrant`]),
/// recorded under the mapper's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant<T> {
    pub mapper: String,
    pub granted: T,
}

pub type RoleGrant = Grant<RoleRef>;
pub type GroupGrant = Grant<GroupPath>;

impl<T> Grant<T> {
    pub fn new(mapper: &str, granted: T) -> Grant<T> {
        Grant {
            mapper: mapper.to_string(),
            granted,
        }
    }
}

/// The user as stored, and what this identity provider's mappers granted at earlier logins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Before {
    pub properties: BTreeMap<Property, String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub roles: BTreeSet<RoleGrant>,
    pub groups: BTreeSet<GroupGrant>,
}

/// One login through an identity provider.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// The identity provider's alias (`${ALIAS}`).
    pub alias: &'a str,
    /// The ID token's claims merged with userinfo's.
    pub claims: &'a Value,
    /// The identity provider's sync mode, which mappers inherit.
    pub sync_mode: SyncMode,
    /// The user is created or linked through this identity provider by this login (Keycloak's
    /// `importNewUser`): every mapper then runs, whatever its mode.
    pub first_login: bool,
    pub before: &'a Before,
}

/// What the username templates with a broker target make: the identity link's subject and
/// username, when a mapper replaces the IdP's own (`sub`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerIdentity {
    pub id: Option<String>,
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeChange {
    Set(Vec<String>),
    Remove,
}

/// A mapper that decided nothing because the IdP withheld a claim it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub mapper: String,
    pub claim: String,
}

/// What the login step should do to the user. Properties and attributes hold only changes
/// against [`Before`]; grants hold every grant the mappers make at this login (already held
/// or not, so that a role removed by hand since comes back under force, as in Keycloak).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub broker: BrokerIdentity,
    pub properties: BTreeMap<Property, String>,
    pub attributes: BTreeMap<String, AttributeChange>,
    pub grant_roles: BTreeSet<RoleGrant>,
    /// Earlier grants to forget, each the revoking mapper's own.
    pub revoke_roles: BTreeSet<RoleGrant>,
    /// Roles that no grant of this IdP's mappers holds after the plan: the user loses them
    /// unless they hold them otherwise (by hand, another IdP).
    pub released_roles: BTreeSet<RoleRef>,
    pub join_groups: BTreeSet<GroupGrant>,
    pub leave_groups: BTreeSet<GroupGrant>,
    pub released_groups: BTreeSet<GroupPath>,
    pub withheld: Vec<Withheld>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapperError {
    /// Keycloak renders a missing claim as empty and creates the user anyway; an empty
    /// username or broker id is refused here, and the login with it.
    #[error("IdP mapper {mapper:?} made an empty {target} from the identity provider's claims")]
    Empty {
        mapper: String,
        target: TemplateTarget,
    },
    /// A declaration that [`crate::config`]'s validation would have refused.
    #[error("IdP mapper {mapper:?}: {message}")]
    Invalid { mapper: String, message: String },
}

/// A new UUID for `${UUID}`: the daemon's ids are v7.
pub fn new_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The broker id and broker username the templates make of these claims: what the identity
/// link is looked up by, so it is computed before [`plan`] (whose [`Plan::broker`] is the same).
pub fn broker_identity(
    claims: &Value,
    alias: &str,
    mappers: &[IdpMapperDecl],
    new_uuid: &mut dyn FnMut() -> String,
) -> Result<BrokerIdentity, MapperError> {
    let mut broker = BrokerIdentity::default();
    for mapper in mappers {
        if let IdpMapperKind::UsernameTemplate { template, target } = &mapper.kind {
            let slot = match target {
                TemplateTarget::Local => continue,
                TemplateTarget::BrokerId => &mut broker.id,
                TemplateTarget::BrokerUsername => &mut broker.username,
            };
            *slot = Some(render(
                template,
                *target,
                &mapper.name,
                claims,
                alias,
                new_uuid,
            )?);
        }
    }
    Ok(broker)
}

/// The plan for one login. `new_uuid` makes `${UUID}` (tests pass a fixed one; the daemon
/// [`new_uuid`]).
pub fn plan(
    login: &Login<'_>,
    mappers: &[IdpMapperDecl],
    new_uuid: &mut dyn FnMut() -> String,
) -> Result<Plan, MapperError> {
    let mut plan = Plan {
        broker: broker_identity(login.claims, login.alias, mappers, new_uuid)?,
        ..Plan::default()
    };
    let mut attributes: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    let mut roles = Ledger::new(&login.before.roles);
    let mut groups = Ledger::new(&login.before.groups);
    for mapper in mappers {
        let run = match (login.first_login, mapper.sync_mode.resolve(login.sync_mode)) {
            (true, _) => Run::First,
            (false, SyncMode::Import) => continue,
            (false, SyncMode::Force) => Run::Force,
            (false, SyncMode::Legacy) => Run::Legacy,
        };
        let name = mapper.name.as_str();
        let mut withheld = |claim: &str| {
            plan.withheld.push(Withheld {
                mapper: name.to_string(),
                claim: claim.to_string(),
            })
        };
        // Set, remove (`None`) or leave as it is (return) an attribute or property.
        let mut import = |attribute: &str, claim: Claim<'_>| {
            let change = match claim {
                Claim::Withheld(claim) => {
                    withheld(claim);
                    return;
                }
                Claim::Present(value) => match values(value) {
                    Values::Some(values) => Some(values),
                    // Only a later login removes; a first one has nothing to remove.
                    Values::Empty if run != Run::First => None,
                    Values::Empty | Values::Unusable => return,
                },
                Claim::Absent => return,
            };
            match (Property::named(attribute), change) {
                (Some(property), Some(values)) => {
                    // A multi-valued claim gives a property its first value (`setIfNotEmpty`).
                    if let Some(first) = values.into_iter().next() {
                        plan.properties.insert(property, first);
                    }
                }
                (Some(_), None) => {}
                (None, change) => {
                    attributes.insert(attribute.to_string(), change);
                }
            }
        };
        let (granted, legacy, condition) = match &mapper.kind {
            IdpMapperKind::AttributeImporter { claim, attribute } => {
                import(attribute, lookup(login.claims, claim));
                continue;
            }
            IdpMapperKind::HardcodedAttribute { attribute, value } => {
                // As a claim with that value: an empty one removes the attribute.
                import(attribute, Claim::Present(&Value::String(value.clone())));
                continue;
            }
            IdpMapperKind::UsernameTemplate { template, target } => {
                if *target == TemplateTarget::Local && run != Run::Legacy {
                    let username =
                        render(template, *target, name, login.claims, login.alias, new_uuid)?;
                    plan.properties.insert(Property::Username, username);
                }
                continue;
            }
            IdpMapperKind::HardcodedRole { role } => {
                (Granted::Role(role), Legacy::Nothing, Condition::Holds)
            }
            IdpMapperKind::HardcodedGroup { group } => {
                (Granted::Group(group), Legacy::AsForce, Condition::Holds)
            }
            IdpMapperKind::ClaimToRole { claim, value, role } => {
                let wanted = [(claim, Wanted::Equals(value))];
                let condition = condition(login.claims, wanted);
                (Granted::Role(role), Legacy::RevokeOnly, condition)
            }
            IdpMapperKind::AdvancedClaimToRole {
                claims,
                regex,
                role,
            } => {
                let condition = condition(login.claims, wanted(name, claims, *regex)?);
                (Granted::Role(role), Legacy::RevokeOnly, condition)
            }
            IdpMapperKind::AdvancedClaimToGroup {
                claims,
                regex,
                group,
            } => {
                let condition = condition(login.claims, wanted(name, claims, *regex)?);
                (Granted::Group(group), Legacy::AsForce, condition)
            }
        };
        let effect = run.effect(legacy);
        match granted {
            Granted::Role(role) => roles.apply(name, role, effect, condition, &mut withheld),
            Granted::Group(group) => groups.apply(name, group, effect, condition, &mut withheld),
        }
    }
    let before = login.before;
    plan.properties
        .retain(|property, value| before.properties.get(property) != Some(value));
    plan.attributes = attributes
        .into_iter()
        .filter_map(
            |(name, change)| match (change, before.attributes.get(&name)) {
                (Some(values), Some(held)) if same_values(&values, held) => None,
                (Some(values), _) => Some((name, AttributeChange::Set(values))),
                (None, Some(_)) => Some((name, AttributeChange::Remove)),
                (None, None) => None,
            },
        )
        .collect();
    (plan.grant_roles, plan.revoke_roles, plan.released_roles) = roles.finish();
    (plan.join_groups, plan.leave_groups, plan.released_groups) = groups.finish();
    Ok(plan)
}

/// When a mapper runs at this login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// The first login (`importNewUser`), whatever the mode.
    First,
    Force,
    Legacy,
}

/// What a role or group type does on a later login in legacy mode (the module header's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Legacy {
    /// Note 1: `updateBrokeredUserLegacy` is `updateBrokeredUser`.
    AsForce,
    /// Note 3: revoke when the condition fails, never grant.
    RevokeOnly,
    /// Note 2: nothing.
    Nothing,
}

/// What a role or group mapper grants.
#[derive(Debug, Clone, Copy)]
enum Granted<'d> {
    Role(&'d RoleRef),
    Group(&'d GroupPath),
}

/// What a role or group mapper may do at this login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Nothing,
    Grant,
    GrantOrRevoke,
    Revoke,
}

impl Run {
    fn effect(self, legacy: Legacy) -> Effect {
        match (self, legacy) {
            (Run::First, _) => Effect::Grant,
            (Run::Force, _) | (Run::Legacy, Legacy::AsForce) => Effect::GrantOrRevoke,
            (Run::Legacy, Legacy::RevokeOnly) => Effect::Revoke,
            (Run::Legacy, Legacy::Nothing) => Effect::Nothing,
        }
    }
}

/// The grants of one kind (roles or groups): what this IdP's mappers held before, and what the
/// mappers grant and revoke at this login.
struct Ledger<'b, T> {
    before: &'b BTreeSet<Grant<T>>,
    grant: BTreeSet<Grant<T>>,
    revoke: BTreeSet<Grant<T>>,
}

impl<'b, T: Ord + Clone> Ledger<'b, T> {
    fn new(before: &'b BTreeSet<Grant<T>>) -> Self {
        Ledger {
            before,
            grant: BTreeSet::new(),
            revoke: BTreeSet::new(),
        }
    }

    fn apply(
        &mut self,
        mapper: &str,
        target: &T,
        effect: Effect,
        condition: Condition<'_>,
        withheld: &mut dyn FnMut(&str),
    ) {
        let revokes = matches!(effect, Effect::GrantOrRevoke | Effect::Revoke);
        if revokes {
            // Its grants of another target date from an earlier config (Keycloak #36578).
            let stale = self
                .before
                .iter()
                .filter(|g| g.mapper == mapper && g.granted != *target);
            self.revoke.extend(stale.cloned());
        }
        match (effect, condition) {
            (Effect::Nothing, _) => {}
            (_, Condition::Withheld(claim)) => withheld(claim),
            (Effect::Grant | Effect::GrantOrRevoke, Condition::Holds) => {
                self.grant.insert(Grant::new(mapper, target.clone()));
            }
            (Effect::GrantOrRevoke | Effect::Revoke, Condition::Fails) => {
                let own = Grant::new(mapper, target.clone());
                if self.before.contains(&own) {
                    self.revoke.insert(own);
                }
            }
            (Effect::Grant, Condition::Fails) | (Effect::Revoke, Condition::Holds) => {}
        }
    }

    /// (grants, revocations, released): a target is released when it was revoked and no grant
    /// kept from before or made now holds it.
    fn finish(self) -> (BTreeSet<Grant<T>>, BTreeSet<Grant<T>>, BTreeSet<T>) {
        let held: BTreeSet<&T> = self
            .before
            .difference(&self.revoke)
            .chain(&self.grant)
            .map(|g| &g.granted)
            .collect();
        let released = self
            .revoke
            .iter()
            .map(|g| &g.granted)
            .filter(|target| !held.contains(target))
            .cloned()
            .collect();
        (self.grant, self.revoke, released)
    }
}

#[cfg(test)]
#[path = "idp_mappers_tests.rs"]
mod tests;
