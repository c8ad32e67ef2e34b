//! Every mapper type in every sync mode, on first and later logins; absent, empty and withheld
//! claims; the same-login guard; the seeds' recipes.

use super::*;
use serde_json::json;
use SyncMode::{Force, Import, Legacy};

/// Mappers as an `[[identity_provider]]` declares them, validated.
fn mappers(lines: &str) -> Vec<IdpMapperDecl> {
    #[derive(serde::Deserialize)]
    struct Idp {
        mappers: Vec<IdpMapperDecl>,
    }
    let idp: Idp = toml::from_str(&format!("mappers = [\n{lines}\n]")).unwrap();
    crate::config::validate_idp_mappers(&idp.mappers).unwrap();
    idp.mappers
}

fn role(r: &str) -> RoleRef {
    RoleRef::parse(r).unwrap()
}

fn group(g: &str) -> GroupPath {
    GroupPath::parse(g).unwrap()
}

fn roles(grants: &[(&str, &str)]) -> BTreeSet<RoleGrant> {
    grants.iter().map(|(m, r)| Grant::new(m, role(r))).collect()
}

fn groups(grants: &[(&str, &str)]) -> BTreeSet<GroupGrant> {
    grants
        .iter()
        .map(|(m, g)| Grant::new(m, group(g)))
        .collect()
}

/// A `${UUID}` source that counts, so plans are deterministic.
fn counting_uuids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("uuid-{n}")
    }
}

fn run(
    mappers: &[IdpMapperDecl],
    claims: &Value,
    sync_mode: SyncMode,
    first_login: bool,
    before: &Before,
) -> Result<Plan, MapperError> {
    let login = Login {
        alias: "entra",
        claims,
        sync_mode,
        first_login,
        before,
    };
    plan(&login, mappers, &mut counting_uuids())
}

const CLAIM_TO_ROLE: &str =
    r#"{ name = "m", type = "claim_to_role", claim = "roles", value = "ADMIN", role = "admin" }"#;
const ADVANCED_ROLE: &str = r#"{ name = "m", type = "advanced_claim_to_role", claims = { roles = "ADMIN", tid = "t1" }, role = "admin" }"#;
const REGEX_ROLE: &str = r#"{ name = "m", type = "advanced_claim_to_role", claims = { roles = "AD.*N" }, regex = true, role = "admin" }"#;
const HARDCODED_ROLE: &str = r#"{ name = "m", type = "hardcoded_role", role = "admin" }"#;
const HARDCODED_GROUP: &str = r#"{ name = "m", type = "hardcoded_group", group = "/g" }"#;
const ADVANCED_GROUP: &str = r#"{ name = "m", type = "advanced_claim_to_group", claims = { roles = "ADMIN" }, group = "/g" }"#;

/// What a role or group mapper does at a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    Grants,
    Revokes,
}

/// (case, mapper, IdP mode, first login, claims, held before, then)
type Row<'a> = (&'a str, &'a str, SyncMode, bool, &'a Value, bool, Then);

/// The role and group mappers, each holding or not holding its earlier grant of `admin` (`/g`).
#[test]
fn role_and_group_mappers_in_every_mode() {
    let holds = json!({"roles": ["USER", "ADMIN"], "tid": "t1"});
    let string = json!({"roles": "ADMIN", "tid": "t1"});
    let without = json!({"roles": ["USER"], "tid": "t1"});
    let empty = json!({"roles": [], "tid": "t1"});
    let null = json!({"roles": null, "tid": "t1"});
    let absent = json!({"tid": "t1"});
    let other_tenant = json!({"roles": ["ADMIN"], "tid": "t2"});
    let overage =
        json!({"_claim_names": {"roles": "src1"}, "_claim_sources": {"src1": {}}, "tid": "t1"});
    let object = json!({"roles": {"ADMIN": true}, "tid": "t1"});
    let regex_whole = json!({"roles": "xADMIN"});
    let no_tenant = json!({"roles": "ADMIN"});
    let withheld_and_failing = json!({"_claim_names": {"roles": "s"}, "tid": "t2"});
    use Then::{Grants as grant, Nothing as no, Revokes as revoke};
    #[rustfmt::skip]
    let cases: Vec<Row> = vec![
        // (case, mapper, IdP mode, first login, claims, held before, then)
        ("claim_to_role first login, array holds", CLAIM_TO_ROLE, Import, true, &holds, false, grant),
        ("claim_to_role first login, string equal", CLAIM_TO_ROLE, Import, true, &string, false, grant),
        ("claim_to_role first login in force", CLAIM_TO_ROLE, Force, true, &holds, false, grant),
        ("claim_to_role first login in legacy", CLAIM_TO_ROLE, Legacy, true, &holds, false, grant),
        ("claim_to_role first login, value missing", CLAIM_TO_ROLE, Force, true, &without, false, no),
        ("claim_to_role first login never revokes", CLAIM_TO_ROLE, Force, true, &without, true, no),
        ("claim_to_role import, later: nothing", CLAIM_TO_ROLE, Import, false, &without, true, no),
        ("claim_to_role import, later: no grant", CLAIM_TO_ROLE, Import, false, &holds, false, no),
        ("claim_to_role force, holds", CLAIM_TO_ROLE, Force, false, &holds, true, grant),
        ("claim_to_role force, grants anew", CLAIM_TO_ROLE, Force, false, &string, false, grant),
        ("claim_to_role force, present without the value", CLAIM_TO_ROLE, Force, false, &without, true, revoke),
        ("claim_to_role force, present empty", CLAIM_TO_ROLE, Force, false, &empty, true, revoke),
        ("claim_to_role force, null", CLAIM_TO_ROLE, Force, false, &null, true, revoke),
        ("claim_to_role force, absent", CLAIM_TO_ROLE, Force, false, &absent, true, revoke),
        ("claim_to_role force, an object holds nothing", CLAIM_TO_ROLE, Force, false, &object, true, revoke),
        ("claim_to_role force, nothing held to revoke", CLAIM_TO_ROLE, Force, false, &absent, false, no),
        ("claim_to_role force, withheld: no revocation", CLAIM_TO_ROLE, Force, false, &overage, true, no),
        ("claim_to_role legacy, holds: never grants later", CLAIM_TO_ROLE, Legacy, false, &holds, false, no),
        ("claim_to_role legacy, holds and held: kept", CLAIM_TO_ROLE, Legacy, false, &holds, true, no),
        ("claim_to_role legacy, value missing: revokes", CLAIM_TO_ROLE, Legacy, false, &without, true, revoke),
        ("claim_to_role legacy, absent: revokes", CLAIM_TO_ROLE, Legacy, false, &absent, true, revoke),
        ("claim_to_role legacy, withheld: no revocation", CLAIM_TO_ROLE, Legacy, false, &overage, true, no),
        ("advanced_claim_to_role first login, all hold", ADVANCED_ROLE, Import, true, &holds, false, grant),
        ("advanced_claim_to_role first login, one fails", ADVANCED_ROLE, Import, true, &other_tenant, false, no),
        ("advanced_claim_to_role import, later", ADVANCED_ROLE, Import, false, &other_tenant, true, no),
        ("advanced_claim_to_role force, all hold", ADVANCED_ROLE, Force, false, &holds, true, grant),
        ("advanced_claim_to_role force, one fails", ADVANCED_ROLE, Force, false, &other_tenant, true, revoke),
        ("advanced_claim_to_role force, one absent", ADVANCED_ROLE, Force, false, &no_tenant, true, revoke),
        ("advanced_claim_to_role force, withheld beats a failing claim", ADVANCED_ROLE, Force, false,
            &withheld_and_failing, true, no),
        ("advanced_claim_to_role legacy, holds: no grant", ADVANCED_ROLE, Legacy, false, &holds, false, no),
        ("advanced_claim_to_role legacy, fails: revokes", ADVANCED_ROLE, Legacy, false, &other_tenant, true, revoke),
        ("regex matches the whole value", REGEX_ROLE, Force, false, &string, false, grant),
        ("regex matches an element", REGEX_ROLE, Force, false, &holds, false, grant),
        ("regex does not match a part", REGEX_ROLE, Force, false, &regex_whole, true, revoke),
        ("hardcoded_role first login", HARDCODED_ROLE, Import, true, &absent, false, grant),
        ("hardcoded_role import, later", HARDCODED_ROLE, Import, false, &absent, false, no),
        ("hardcoded_role force, later", HARDCODED_ROLE, Force, false, &absent, true, grant),
        ("hardcoded_role legacy, later: nothing", HARDCODED_ROLE, Legacy, false, &absent, false, no),
        ("hardcoded_group first login", HARDCODED_GROUP, Import, true, &absent, false, grant),
        ("hardcoded_group import, later", HARDCODED_GROUP, Import, false, &absent, false, no),
        ("hardcoded_group force, later", HARDCODED_GROUP, Force, false, &absent, true, grant),
        ("hardcoded_group legacy is force", HARDCODED_GROUP, Legacy, false, &absent, false, grant),
        ("advanced_claim_to_group first login", ADVANCED_GROUP, Import, true, &holds, false, grant),
        ("advanced_claim_to_group import, later", ADVANCED_GROUP, Import, false, &without, true, no),
        ("advanced_claim_to_group force, holds", ADVANCED_GROUP, Force, false, &holds, true, grant),
        ("advanced_claim_to_group force, fails", ADVANCED_GROUP, Force, false, &without, true, revoke),
        ("advanced_claim_to_group force, absent", ADVANCED_GROUP, Force, false, &absent, true, revoke),
        ("advanced_claim_to_group force, withheld", ADVANCED_GROUP, Force, false, &overage, true, no),
        ("advanced_claim_to_group legacy is force: joins", ADVANCED_GROUP, Legacy, false, &holds, false, grant),
        ("advanced_claim_to_group legacy is force: leaves", ADVANCED_GROUP, Legacy, false, &without, true, revoke),
    ];
    for (case, mapper, mode, first, claims, held, then) in cases {
        let (grants, revokes) = (then == Then::Grants, then == Then::Revokes);
        let decls = mappers(mapper);
        let is_group = mapper.contains("group =");
        let mut before = Before::default();
        if held {
            before.roles = roles(&[("m", "admin")]);
            before.groups = groups(&[("m", "/g")]);
        }
        let plan = run(&decls, claims, mode, first, &before).unwrap();
        let (granted, revoked, released) = if is_group {
            let g = |set: &BTreeSet<GroupGrant>| !set.is_empty();
            (
                g(&plan.join_groups),
                g(&plan.leave_groups),
                plan.released_groups == [group("/g")].into(),
            )
        } else {
            let r = |set: &BTreeSet<RoleGrant>| !set.is_empty();
            (
                r(&plan.grant_roles),
                r(&plan.revoke_roles),
                plan.released_roles == [role("admin")].into(),
            )
        };
        assert_eq!((granted, revoked), (grants, revokes), "{case}");
        assert_eq!(
            released, revokes,
            "{case}: a revoked grant, the only one, releases"
        );
        let other_kind = if is_group {
            plan.grant_roles.len() + plan.revoke_roles.len()
        } else {
            plan.join_groups.len() + plan.leave_groups.len()
        };
        assert_eq!(other_kind, 0, "{case}");
        let withheld = claims.get("_claim_names").is_some() && (first || mode != Import);
        assert_eq!(
            !plan.withheld.is_empty(),
            withheld,
            "{case}: {:?}",
            plan.withheld
        );
    }
}

/// The grant a mapper overridden to force makes under an IdP in import mode, and the reverse.
#[test]
fn a_mapper_sync_mode_override_wins() {
    let before = Before {
        roles: roles(&[("m", "admin")]),
        ..Before::default()
    };
    let absent = json!({});
    let forced = mappers(&CLAIM_TO_ROLE.replace("role = ", "sync_mode = \"force\", role = "));
    let plan = run(&forced, &absent, Import, false, &before).unwrap();
    assert_eq!(plan.revoke_roles, roles(&[("m", "admin")]));
    let imported = mappers(&CLAIM_TO_ROLE.replace("role = ", "sync_mode = \"import\", role = "));
    let plan = run(&imported, &absent, Force, false, &before).unwrap();
    assert!(plan.revoke_roles.is_empty(), "{plan:?}");
}

/// (mapper, role) pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// (case, mappers, claims, held before, grants, revocations, released)
type GuardRow<'a> = (
    &'a str,
    String,
    &'a Value,
    Pairs<'a>,
    Pairs<'a>,
    Pairs<'a>,
    &'a [&'a str],
);

/// KEYCLOAK-8730: a role another mapper grants at the same login is not lost, whatever the
/// mappers' order; a revocation removes only the revoking mapper's own grant.
#[test]
fn the_same_login_guard_and_grants_per_mapper() {
    let a = r#"{ name = "a", type = "claim_to_role", claim = "roles", value = "ADMIN", role = "admin", sync_mode = "force" }"#;
    let b = r#"{ name = "b", type = "claim_to_role", claim = "groups", value = "g-1", role = "admin", sync_mode = "force" }"#;
    let c = r#"{ name = "c", type = "hardcoded_role", role = "admin" }"#;
    let only_a = json!({"roles": ["ADMIN"], "groups": []});
    let neither = json!({"roles": [], "groups": []});
    let both_held: Pairs = &[("a", "admin"), ("b", "admin")];
    #[rustfmt::skip]
    let cases: [GuardRow; 6] = [
        // (case, mappers, claims, held before, grants, revocations, released)
        ("a grants, b revokes its own: kept", format!("{a},\n{b}"), &only_a, both_held,
            &[("a", "admin")], &[("b", "admin")], &[]),
        ("the same, mappers the other way round", format!("{b},\n{a}"), &only_a, both_held,
            &[("a", "admin")], &[("b", "admin")], &[]),
        ("both revoke: released", format!("{a},\n{b}"), &neither, both_held,
            &[], &[("a", "admin"), ("b", "admin")], &["admin"]),
        ("a manual grant is no mapper's: nothing revoked", format!("{a},\n{b}"), &neither, &[],
            &[], &[], &[]),
        ("another mapper's earlier grant keeps the role", format!("{b},\n{c}"), &neither,
            &[("b", "admin"), ("c", "admin")], &[], &[("b", "admin")], &[]),
        ("a grant of another IdP mapper no longer declared stays", b.to_string(), &neither,
            &[("b", "admin"), ("gone", "admin")], &[], &[("b", "admin")], &[]),
    ];
    for (case, lines, claims, held, grants, revocations, released) in cases {
        let before = Before {
            roles: roles(held),
            ..Before::default()
        };
        let plan = run(&mappers(&lines), claims, Import, false, &before).unwrap();
        assert_eq!(plan.grant_roles, roles(grants), "{case}");
        assert_eq!(plan.revoke_roles, roles(revocations), "{case}");
        let released: BTreeSet<RoleRef> = released.iter().map(|r| role(r)).collect();
        assert_eq!(plan.released_roles, released, "{case}");
    }
}

/// A mapper whose role or group changed in the config revokes its grant of the old one when it
/// may revoke (Keycloak #36578 keeps it), even when the claim is withheld.
#[test]
fn a_mapper_that_changed_target_revokes_the_old_one() {
    let before = Before {
        roles: roles(&[("m", "old")]),
        groups: groups(&[("m", "/old")]),
        ..Before::default()
    };
    let holds = json!({"roles": ["ADMIN"]});
    let overage = json!({"_claim_names": {"roles": "s"}});
    for (lines, claims, mode, stale) in [
        (CLAIM_TO_ROLE, &holds, Force, true),
        (CLAIM_TO_ROLE, &overage, Force, true),
        (CLAIM_TO_ROLE, &holds, Legacy, true),
        (CLAIM_TO_ROLE, &holds, Import, false),
        (HARDCODED_ROLE, &holds, Legacy, false),
        (HARDCODED_GROUP, &holds, Force, true),
        (ADVANCED_GROUP, &holds, Legacy, true),
    ] {
        let plan = run(&mappers(lines), claims, mode, false, &before).unwrap();
        let revoked = !plan.revoke_roles.is_empty() || !plan.leave_groups.is_empty();
        assert_eq!(revoked, stale, "{lines} in {mode:?}: {plan:?}");
        let released = plan.released_roles.contains(&role("old"))
            || plan.released_groups.contains(&group("/old"));
        assert_eq!(released, stale, "{lines} in {mode:?}");
    }
}

const GROUPS_IMPORTER: &str =
    r#"{ name = "m", type = "attribute_importer", claim = "groups", attribute = "group" }"#;

/// The attribute importer into an attribute the user holds as `["old", "older"]`.
#[test]
fn attribute_importer_absent_empty_present_withheld() {
    let set = |v: &[&str]| {
        Some(AttributeChange::Set(
            v.iter().map(|s| s.to_string()).collect(),
        ))
    };
    let remove = Some(AttributeChange::Remove);
    #[rustfmt::skip]
    let cases: Vec<(&str, SyncMode, bool, Value, Option<AttributeChange>)> = vec![
        // (case, mode, first login, claims, change of `group`)
        ("first login, values", Import, true, json!({"groups": ["a", "b"]}), set(&["a", "b"])),
        ("first login, string", Import, true, json!({"groups": "a"}), set(&["a"])),
        ("first login, empty: nothing to remove", Force, true, json!({"groups": []}), None),
        ("first login, absent", Force, true, json!({}), None),
        ("import, later: nothing", Import, false, json!({"groups": ["a"]}), None),
        ("force, values", Force, false, json!({"groups": ["a", "b"]}), set(&["a", "b"])),
        ("force, the same values in another order", Force, false, json!({"groups": ["older", "old"]}), None),
        ("force, present empty []", Force, false, json!({"groups": []}), remove.clone()),
        ("force, present empty \"\"", Force, false, json!({"groups": ""}), remove.clone()),
        ("force, present null", Force, false, json!({"groups": null}), remove.clone()),
        ("force, only empty elements", Force, false, json!({"groups": [null, ""]}), remove.clone()),
        ("force, absent: left as it is", Force, false, json!({"sub": "x"}), None),
        ("force, withheld (_claim_names)", Force, false, json!({"_claim_names": {"groups": "src1"}}), None),
        ("force, withheld (hasgroups)", Force, false, json!({"hasgroups": true}), None),
        ("force, an object is skipped", Force, false, json!({"groups": {"id": "a"}}), None),
        ("force, objects in an array are skipped", Force, false, json!({"groups": [{"id": "a"}, "b"]}), set(&["b"])),
        ("force, numbers and booleans as text", Force, false, json!({"groups": [7, 1.5, true]}), set(&["7", "1.5", "true"])),
        ("legacy is force: values", Legacy, false, json!({"groups": ["a"]}), set(&["a"])),
        ("legacy is force: empty", Legacy, false, json!({"groups": []}), remove),
    ];
    for (case, mode, first, claims, change) in cases {
        let before = Before {
            attributes: BTreeMap::from([("group".to_string(), vec!["old".into(), "older".into()])]),
            ..Before::default()
        };
        let plan = run(&mappers(GROUPS_IMPORTER), &claims, mode, first, &before).unwrap();
        assert_eq!(plan.attributes.get("group").cloned(), change, "{case}");
        assert_eq!(
            plan.attributes.len(),
            usize::from(change.is_some()),
            "{case}"
        );
        let withheld = case.contains("withheld");
        assert_eq!(plan.withheld.len(), usize::from(withheld), "{case}");
    }
}

type Properties<'a> = &'a [(Property, &'a str)];

/// `email`, `firstName`, `lastName`, `username` are the user's properties: first value, never
/// cleared, written only when they change.
#[test]
fn attribute_importer_into_properties() {
    let upn = r#"{ name = "upn", type = "attribute_importer", claim = "upn", attribute = "email", sync_mode = "force" }"#;
    let name = r#"{ name = "n", type = "attribute_importer", claim = "given_name", attribute = "FIRSTNAME", sync_mode = "force" }"#;
    let before = Before {
        properties: BTreeMap::from([(Property::Email, "a@contoso.com".to_string())]),
        ..Before::default()
    };
    #[rustfmt::skip]
    let cases: [(&str, Value, Properties); 5] = [
        ("a new email", json!({"upn": "b@contoso.com"}), &[(Property::Email, "b@contoso.com")]),
        ("the same email: no write", json!({"upn": "a@contoso.com"}), &[]),
        ("an empty claim never clears", json!({"upn": "", "given_name": null}), &[]),
        ("the first of several values", json!({"upn": ["c@x", "d@x"]}), &[(Property::Email, "c@x")]),
        ("names ignore case", json!({"given_name": "Alice"}), &[(Property::FirstName, "Alice")]),
    ];
    for (case, claims, expected) in cases {
        let plan = run(
            &mappers(&format!("{upn},\n{name}")),
            &claims,
            Import,
            false,
            &before,
        )
        .unwrap();
        let expected: BTreeMap<Property, String> =
            expected.iter().map(|(p, v)| (*p, v.to_string())).collect();
        assert_eq!(plan.properties, expected, "{case}");
        assert!(plan.attributes.is_empty(), "{case}");
    }
}

#[test]
fn hardcoded_attribute_in_every_mode() {
    let lines =
        r#"{ name = "h", type = "hardcoded_attribute", attribute = "source", value = "entra" }"#;
    let stale = Before {
        attributes: BTreeMap::from([("source".to_string(), vec!["scim".to_string()])]),
        ..Before::default()
    };
    let set = Some(AttributeChange::Set(vec!["entra".to_string()]));
    for (mode, first, change) in [
        (Import, true, set.clone()),
        (Import, false, None),
        (Force, false, set.clone()),
        (Legacy, false, set),
    ] {
        let plan = run(&mappers(lines), &json!({}), mode, first, &stale).unwrap();
        assert_eq!(
            plan.attributes.get("source").cloned(),
            change,
            "{mode:?} {first}"
        );
    }
}

/// `local` names the user on the first login, and again on later ones in force only; the
/// broker targets are made at every login, in every mode, and refuse an empty result.
#[test]
fn username_template_targets_and_modes() {
    let lines = r#"{ name = "local", type = "username_template", template = "${CLAIM.upn}" },
        { name = "pin", type = "username_template", template = "${CLAIM.oid}", target = "broker_id" },
        { name = "shown", type = "username_template", template = "${CLAIM.upn|lowercase}", target = "broker_username" }"#;
    let decls = mappers(lines);
    let claims = json!({"upn": "Alice@Contoso.com", "oid": "oid-1"});
    for (mode, first, username) in [
        (Import, true, Some("Alice@Contoso.com")),
        (Import, false, None),
        (Force, false, Some("Alice@Contoso.com")),
        (Legacy, false, None),
        (Legacy, true, Some("Alice@Contoso.com")),
    ] {
        let plan = run(&decls, &claims, mode, first, &Before::default()).unwrap();
        assert_eq!(
            plan.properties.get(&Property::Username).map(String::as_str),
            username,
            "{mode:?} {first}"
        );
        let broker = BrokerIdentity {
            id: Some("oid-1".into()),
            username: Some("alice@contoso.com".into()),
        };
        assert_eq!(plan.broker, broker, "{mode:?} {first}");
    }
    let broker = broker_identity(&claims, "entra", &decls, &mut counting_uuids()).unwrap();
    assert_eq!(broker.id.as_deref(), Some("oid-1"));
    // A later import login renders no local username, so a claim it lacks refuses nothing...
    let local_and_pin = &decls[..2];
    let no_upn = json!({"oid": "oid-1"});
    assert!(run(local_and_pin, &no_upn, Import, false, &Before::default()).is_ok());
    let err = run(local_and_pin, &no_upn, Force, false, &Before::default()).unwrap_err();
    assert!(
        matches!(&err, MapperError::Empty { mapper, .. } if mapper == "local"),
        "{err}"
    );
    // ...but the broker id is always made.
    let err = run(
        &decls,
        &json!({"upn": "a"}),
        Import,
        false,
        &Before::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        MapperError::Empty {
            mapper: "pin".into(),
            target: TemplateTarget::BrokerId
        }
    );
    assert!(err.to_string().contains("empty broker id"), "{err}");
}

/// Seed 001 (Entra recipe): groups -> attribute `group`, upn -> email, sub -> attribute `sub`,
/// each with the sync mode override Force, under an IdP left at its default (import).
#[test]
fn seed_001_entra_recipe() {
    let decls = mappers(
        r#"{ name = "azure-group-mapper", type = "attribute_importer", claim = "groups", attribute = "group", sync_mode = "force" },
           { name = "Azure Username", type = "attribute_importer", claim = "upn", attribute = "email", sync_mode = "force" },
           { name = "Azure Sub Importer", type = "attribute_importer", claim = "sub", attribute = "sub", sync_mode = "force" }"#,
    );
    let guids = [
        "6e5a0b1c-0000-4000-8000-000000000001",
        "6e5a0b1c-0000-4000-8000-000000000002",
    ];
    let first =
        json!({"sub": "AAAAbbbbCCCC", "upn": "alice@contoso.com", "groups": guids, "tid": "t"});
    let plan = run(
        &decls,
        &first,
        SyncMode::default(),
        true,
        &Before::default(),
    )
    .unwrap();
    assert_eq!(
        plan.properties,
        BTreeMap::from([(Property::Email, "alice@contoso.com".to_string())])
    );
    let set = |v: &[&str]| AttributeChange::Set(v.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        plan.attributes,
        BTreeMap::from([
            ("group".to_string(), set(&guids)),
            ("sub".to_string(), set(&["AAAAbbbbCCCC"])),
        ])
    );
    let stored = Before {
        properties: BTreeMap::from([(Property::Email, "alice@contoso.com".to_string())]),
        attributes: BTreeMap::from([
            ("group".to_string(), guids.map(String::from).to_vec()),
            ("sub".to_string(), vec!["AAAAbbbbCCCC".to_string()]),
        ]),
        ..Before::default()
    };
    // Later: over 200 groups, Entra sends the overage pointer and a renamed UPN.
    let overage = json!({"sub": "AAAAbbbbCCCC", "upn": "alice.m@contoso.com",
        "_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {"endpoint": "https://graph"}}});
    let plan = run(&decls, &overage, SyncMode::default(), false, &stored).unwrap();
    assert_eq!(
        plan.properties,
        BTreeMap::from([(Property::Email, "alice.m@contoso.com".to_string())])
    );
    assert!(
        plan.attributes.is_empty(),
        "overage keeps `group`: {plan:?}"
    );
    assert_eq!(
        plan.withheld,
        [Withheld {
            mapper: "azure-group-mapper".into(),
            claim: "groups".into()
        }]
    );
    // Later: out of every group.
    let none = json!({"sub": "AAAAbbbbCCCC", "upn": "alice@contoso.com", "groups": []});
    let plan = run(&decls, &none, SyncMode::default(), false, &stored).unwrap();
    assert_eq!(
        plan.attributes,
        BTreeMap::from([("group".to_string(), AttributeChange::Remove)])
    );
}

/// Seed 003: the IdP's `roles` claim holding `MY_PROJECT_SUPER_ADMIN` makes the realm role
/// `SUPER_ADMIN`, taken away again when the IdP stops sending it.
#[test]
fn seed_003_role_claim_to_super_admin() {
    let decls = mappers(
        r#"{ name = "super-admin", type = "claim_to_role", claim = "roles", value = "MY_PROJECT_SUPER_ADMIN", role = "SUPER_ADMIN" }"#,
    );
    let admin = json!({"roles": ["MY_PROJECT_USER", "MY_PROJECT_SUPER_ADMIN"]});
    let plan = run(&decls, &admin, Force, true, &Before::default()).unwrap();
    assert_eq!(plan.grant_roles, roles(&[("super-admin", "SUPER_ADMIN")]));
    let held = Before {
        roles: plan.grant_roles,
        ..Before::default()
    };
    let plan = run(&decls, &admin, Force, false, &held).unwrap();
    assert_eq!(plan.grant_roles, roles(&[("super-admin", "SUPER_ADMIN")]));
    assert!(plan.revoke_roles.is_empty());
    for claims in [json!({"roles": ["MY_PROJECT_USER"]}), json!({})] {
        let plan = run(&decls, &claims, Force, false, &held).unwrap();
        assert_eq!(
            plan.revoke_roles,
            roles(&[("super-admin", "SUPER_ADMIN")]),
            "{claims}"
        );
        assert_eq!(
            plan.released_roles,
            [role("SUPER_ADMIN")].into(),
            "{claims}"
        );
    }
}
