//! IdP mapper declarations: every type parses, and what is refused names the mapper and the key.

use super::*;

/// The part of an `[[identity_provider]]` table these declarations fill.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Idp {
    #[serde(default)]
    sync_mode: SyncMode,
    mappers: Vec<IdpMapperDecl>,
}

fn parse(text: &str) -> Result<Idp, String> {
    toml::from_str::<Idp>(text).map_err(|e| e.to_string())
}

fn mappers(lines: &str) -> String {
    format!("mappers = [\n{lines}\n]\n")
}

const EVERY_TYPE: &str = r#"
sync_mode = "force"
mappers = [
  { name = "groups", type = "attribute_importer", claim = "groups", attribute = "group" },
  { name = "upn", type = "attribute_importer", claim = "upn", attribute = "email", sync_mode = "import" },
  { name = "employee", type = "hardcoded_role", role = "app:employee", sync_mode = "legacy" },
  { name = "source", type = "hardcoded_attribute", attribute = "source", value = "entra" },
  { name = "everyone", type = "hardcoded_group", group = "/Customers/Contoso" },
  { name = "super admin", type = "claim_to_role", claim = "roles", value = "MY_PROJECT_SUPER_ADMIN", role = "SUPER_ADMIN", sync_mode = "inherit" },
  { name = "tenant admins", type = "advanced_claim_to_role", claims = { tid = "t-1", "roles" = "(?i).*admin" }, regex = true, role = "admin" },
  { name = "platform", type = "advanced_claim_to_group", claims = { "http://schemas\\.example/dept" = "Platform" }, group = "/Engineering/Platform" },
  { name = "username", type = "username_template", template = "${ALIAS}.${CLAIM.email | lowercase}" },
  { name = "pin", type = "username_template", template = "${CLAIM.oid}", target = "broker_id" },
]
"#;

#[test]
fn every_mapper_type_parses() {
    let idp = parse(EVERY_TYPE).unwrap();
    assert_eq!(idp.sync_mode, SyncMode::Force);
    validate(&idp.mappers).unwrap();
    let m = &idp.mappers;
    assert_eq!(m.len(), 10);
    assert_eq!(m[0].name, "groups");
    assert_eq!(m[0].sync_mode, MapperSyncMode::Inherit);
    assert_eq!(
        m[0].kind,
        IdpMapperKind::AttributeImporter {
            claim: ClaimPath::parse("groups").unwrap(),
            attribute: "group".into()
        }
    );
    assert_eq!(m[1].sync_mode, MapperSyncMode::Import);
    assert_eq!(m[2].sync_mode, MapperSyncMode::Legacy);
    let IdpMapperKind::HardcodedRole { role } = &m[2].kind else {
        panic!("{:?}", m[2].kind)
    };
    assert_eq!((role.client(), role.name()), (Some("app"), "employee"));
    assert_eq!(
        m[3].kind,
        IdpMapperKind::HardcodedAttribute {
            attribute: "source".into(),
            value: "entra".into()
        }
    );
    let IdpMapperKind::HardcodedGroup { group } = &m[4].kind else {
        panic!("{:?}", m[4].kind)
    };
    assert_eq!(group.names().collect::<Vec<_>>(), ["Customers", "Contoso"]);
    assert_eq!(
        m[5].kind,
        IdpMapperKind::ClaimToRole {
            claim: ClaimPath::parse("roles").unwrap(),
            value: "MY_PROJECT_SUPER_ADMIN".into(),
            role: RoleRef::parse("SUPER_ADMIN").unwrap(),
        }
    );
    let IdpMapperKind::AdvancedClaimToRole { claims, regex, .. } = &m[6].kind else {
        panic!("{:?}", m[6].kind)
    };
    assert!(*regex);
    assert_eq!(claims.len(), 2);
    let IdpMapperKind::AdvancedClaimToGroup { claims, regex, .. } = &m[7].kind else {
        panic!("{:?}", m[7].kind)
    };
    assert!(!*regex, "regex is off unless asked for");
    let path = claims.keys().next().unwrap();
    assert_eq!(path.segments().len(), 1, "an escaped dot does not split");
    assert_eq!(path.top_level(), "http://schemas.example/dept");
    let IdpMapperKind::UsernameTemplate { template, target } = &m[8].kind else {
        panic!("{:?}", m[8].kind)
    };
    assert_eq!(*target, TemplateTarget::Local);
    assert_eq!(template.as_str(), "${ALIAS}.${CLAIM.email | lowercase}");
    assert_eq!(
        m[9].kind,
        IdpMapperKind::UsernameTemplate {
            template: UsernameTemplate::parse("${CLAIM.oid}").unwrap(),
            target: TemplateTarget::BrokerId
        }
    );
}

#[test]
fn unknown_types_keys_and_modes_are_refused_by_name_and_line() {
    let cases = [
        (
            r#"{ name = "g", type = "group_importer", group = "/a" }"#,
            "group_importer",
        ),
        (
            r#"{ name = "g", type = "hardcoded_group", group = "/a", colour = "red" }"#,
            "colour",
        ),
        (
            r#"{ name = "g", type = "hardcoded_group", group = "/a", sync_mode = "always" }"#,
            "always",
        ),
        (
            r#"{ name = "g", type = "claim_to_role", claim = "roles", role = "admin" }"#,
            "missing field `value`",
        ),
        (
            r#"{ name = "g", type = "username_template", template = "${ALIAS}", target = "email" }"#,
            "email",
        ),
        (r#"{ name = "g", group = "/a" }"#, "type"),
    ];
    for (mapper, named) in cases {
        let err = parse(&mappers(mapper)).unwrap_err();
        assert!(err.contains(named), "{named:?} in {err}");
        assert!(err.contains("mapper \"g\""), "the mapper is named: {err}");
        // toml points at the `mappers` array; the mapper's name says which element.
        assert!(err.contains("line 1"), "the line is named: {err}");
    }
    let err = parse(&mappers(r#"{ type = "hardcoded_group", group = "/a" }"#)).unwrap_err();
    assert!(err.contains("a mapper needs a `name`"), "{err}");
    let err = parse(&mappers(
        r#"{ name = 7, type = "hardcoded_group", group = "/a" }"#,
    ))
    .unwrap_err();
    assert!(err.contains("`name` must be a string"), "{err}");
}

#[test]
fn bad_paths_roles_groups_and_templates_are_refused_at_load() {
    let cases = [
        (
            r#"{ name = "m", type = "attribute_importer", claim = "a..b", attribute = "x" }"#,
            "claim path \"a..b\" has an empty name",
        ),
        (
            r#"{ name = "m", type = "hardcoded_role", role = "app:" }"#,
            "role \"app:\" is neither",
        ),
        (
            r#"{ name = "m", type = "hardcoded_group", group = "Engineering" }"#,
            "group \"Engineering\" is not a full path",
        ),
        (
            r#"{ name = "m", type = "username_template", template = "${CLAIM.email|title}" }"#,
            "unknown transformer \"title\"",
        ),
        (
            r#"{ name = "m", type = "advanced_claim_to_role", claims = { "a[x]" = "1" }, role = "r" }"#,
            "claim path \"a[x]\" has an index",
        ),
    ];
    for (mapper, expected) in cases {
        let err = parse(&mappers(mapper)).unwrap_err();
        assert!(err.contains("mapper \"m\""), "the mapper is named: {err}");
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
}

fn refusal(lines: &str) -> String {
    let idp = parse(&mappers(lines)).unwrap();
    validate(&idp.mappers).unwrap_err()
}

#[test]
fn validate_refuses_what_spans_the_list_or_needs_a_regex() {
    let cases = [
        (
            r#"{ name = "a", type = "hardcoded_role", role = "r" },
               { name = "a", type = "hardcoded_group", group = "/g" }"#,
            "mapper \"a\" is declared twice",
        ),
        (
            r#"{ name = " ", type = "hardcoded_role", role = "r" }"#,
            "a mapper has an empty name",
        ),
        (
            r#"{ name = "a", type = "advanced_claim_to_role", claims = { roles = "(admin" }, regex = true, role = "r" }"#,
            "mapper \"a\": the regex for claim \"roles\" does not compile",
        ),
        (
            // Balanced once wrapped in the anchors' group, so only compiling it alone catches it.
            r#"{ name = "a", type = "advanced_claim_to_group", claims = { roles = "x)|(y" }, regex = true, group = "/g" }"#,
            "mapper \"a\": the regex for claim \"roles\" does not compile",
        ),
        (
            r#"{ name = "a", type = "advanced_claim_to_group", claims = {}, group = "/g" }"#,
            "mapper \"a\": `claims` is empty",
        ),
        (
            r#"{ name = "a", type = "attribute_importer", claim = "upn", attribute = "" }"#,
            "mapper \"a\": `attribute` is empty",
        ),
        (
            r#"{ name = "a", type = "username_template", template = "${CLAIM.upn}" },
               { name = "b", type = "username_template", template = "${CLAIM.email}", target = "local" }"#,
            "mapper \"b\": a second username template for the username",
        ),
        (
            r#"{ name = "a", type = "username_template", template = "x-${UUID}", target = "broker_id" }"#,
            "mapper \"a\": ${UUID} in a broker id template",
        ),
    ];
    for (lines, expected) in cases {
        let err = refusal(lines);
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
    // A regex value that is no regex is fine while `regex` is off: it is compared as text.
    let idp = parse(&mappers(
        r#"{ name = "a", type = "advanced_claim_to_role", claims = { roles = "(admin" }, role = "r" }"#,
    ))
    .unwrap();
    validate(&idp.mappers).unwrap();
}

#[test]
fn claim_paths() {
    let seg = |name: &str, indexes: &[usize]| ClaimSegment {
        name: name.into(),
        indexes: indexes.to_vec(),
    };
    let cases: [(&str, Vec<ClaimSegment>); 7] = [
        ("sub", vec![seg("sub", &[])]),
        (
            "address.locality",
            vec![seg("address", &[]), seg("locality", &[])],
        ),
        (r"a\.b", vec![seg("a.b", &[])]),
        (r"a\\.b", vec![seg(r"a\", &[]), seg("b", &[])]),
        ("emails[0]", vec![seg("emails", &[0])]),
        ("a[0][12].b", vec![seg("a", &[0, 12]), seg("b", &[])]),
        (r"odd\[name\]", vec![seg("odd[name]", &[])]),
    ];
    for (text, segments) in cases {
        let path = ClaimPath::parse(text).unwrap();
        assert_eq!(path.segments(), segments, "{text}");
        assert_eq!(path.as_str(), text);
    }
    for bad in [
        "", ".a", "a.", "a..b", "[0]", "a.[0]", "a[", "a[]", "a[+1]", "a[0]b", "a]", r"a\",
    ] {
        assert!(ClaimPath::parse(bad).is_err(), "{bad:?} is refused");
    }
}

#[test]
fn username_templates() {
    use TemplatePart::{Substitution, Text};
    let claim = |p: &str| TemplateValue::Claim(ClaimPath::parse(p).unwrap());
    let t =
        UsernameTemplate::parse("${ALIAS}.${CLAIM.email | lowercase}-${UUID|uppercase}").unwrap();
    assert_eq!(
        t.parts(),
        [
            Substitution {
                value: TemplateValue::Alias,
                transformers: vec![]
            },
            Text(".".into()),
            Substitution {
                value: claim("email"),
                transformers: vec![Transformer::Lowercase]
            },
            Text("-".into()),
            Substitution {
                value: TemplateValue::Uuid,
                transformers: vec![Transformer::Uppercase]
            },
        ]
    );
    assert!(t.uses_uuid());
    let t = UsernameTemplate::parse(r"$ ${CLAIM.a\.b[0]}$").unwrap();
    assert_eq!(
        t.parts(),
        [
            Text("$ ".into()),
            Substitution {
                value: claim(r"a\.b[0]"),
                transformers: vec![]
            },
            Text("$".into()),
        ]
    );
    assert!(!t.uses_uuid());
    for (bad, why) in [
        ("", "it is empty"),
        ("${ALIAS", "no closing"),
        ("${NAMEID}", "unknown substitution ${NAMEID}"),
        ("${CLAIM.}", "claim path \"\""),
        ("${CLAIM.a|trim}", "unknown transformer \"trim\""),
    ] {
        let err = UsernameTemplate::parse(bad).unwrap_err();
        assert!(err.contains(why), "{why:?} in {err}");
    }
}

#[test]
fn role_references_and_group_paths() {
    for (text, client, name) in [
        ("SUPER_ADMIN", None, "SUPER_ADMIN"),
        ("app:editor", Some("app"), "editor"),
    ] {
        let role = RoleRef::parse(text).unwrap();
        assert_eq!((role.client(), role.name()), (client, name));
    }
    for bad in ["", ":x", "app:", "a:b:c", " admin", "app: x"] {
        assert!(RoleRef::parse(bad).is_err(), "{bad:?} is refused");
    }
    GroupPath::parse("/Engineering").unwrap();
    for bad in ["", "/", "Engineering", "/a//b", "/a/", "/ "] {
        assert!(GroupPath::parse(bad).is_err(), "{bad:?} is refused");
    }
}

#[test]
fn regexes_match_the_whole_value() {
    let cases = [
        ("adm", "admin", false),
        ("admin", "admin", true),
        (".*admin", "tenant-admin", true),
        ("admin|user", "admin-x", false),
        ("(?i)admin", "ADMIN", true),
        (r"\w+", "ünïcode", true),
    ];
    for (pattern, value, matches) in cases {
        assert_eq!(
            full_match_regex(pattern).unwrap().is_match(value),
            matches,
            "{pattern} on {value}"
        );
    }
}

#[test]
fn a_mapper_override_wins_over_the_identity_providers_mode() {
    use MapperSyncMode as M;
    use SyncMode as S;
    let cases = [
        (M::Inherit, S::Import, S::Import),
        (M::Inherit, S::Force, S::Force),
        (M::Inherit, S::Legacy, S::Legacy),
        (M::Import, S::Force, S::Import),
        (M::Force, S::Import, S::Force),
        (M::Legacy, S::Force, S::Legacy),
    ];
    for (mapper, idp, effective) in cases {
        assert_eq!(mapper.resolve(idp), effective, "{mapper:?} under {idp:?}");
    }
    assert_eq!(SyncMode::default(), SyncMode::Import);
}
