use super::*;
use crate::config::Include;
use crate::issuer::jwt::Alg;
use crate::issuer::scopes::{active_mappers, ClientScope, RealmScopes};
use OrganizationClaimShape::{Aliases, Map as MapShape, Objects, Single};

fn org(alias: &str) -> OrgInfo {
    OrgInfo {
        id: format!("id-{alias}"),
        alias: alias.into(),
        name: alias.to_uppercase(),
        attributes: BTreeMap::from([("tier".to_string(), vec!["gold".to_string()])]),
    }
}

fn scopes(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

fn settings(optional_scopes: &[&str]) -> ClientSettings {
    ClientSettings {
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        web_origins: vec![],
        grant_types: vec![],
        full_scope_allowed: true,
        default_scopes: scopes(&["profile"]),
        optional_scopes: scopes(optional_scopes),
        access_token_lifespan_secs: 60,
        refresh_token_lifespan_secs: 60,
        signing_alg: Alg::ES256,
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

/// What a token is built from, owned; `input` lends it out as a [`ClaimInput`].
struct Token {
    settings: ClientSettings,
    person: Person,
    scopes: Vec<String>,
    roles: EffectiveRoles,
    organizations: Option<Vec<OrgInfo>>,
    mappers: Vec<MapperSetting>,
    notes: BTreeMap<String, String>,
    groups: Vec<String>,
    session: Option<(&'static str, i64)>,
}

impl Token {
    fn new(scope: &[&str], mappers: Vec<MapperSetting>) -> Token {
        Token {
            settings: settings(&[]),
            person: Person {
                id: "u1".into(),
                username: "alice".into(),
                attributes: BTreeMap::from([("department".to_string(), vec!["R&D".to_string()])]),
                ..Person::default()
            },
            scopes: scopes(scope),
            roles: EffectiveRoles::default(),
            organizations: None,
            mappers,
            notes: BTreeMap::new(),
            groups: Vec::new(),
            session: Some(("s1", 10)),
        }
    }

    fn member_of(mut self, orgs: &[&str]) -> Token {
        let all: Vec<OrgInfo> = orgs.iter().map(|a| org(a)).collect();
        self.organizations = select_organizations(&self.scopes, &all, None);
        self
    }

    fn input(&self) -> ClaimInput<'_> {
        ClaimInput {
            issuer: "https://id.example/realms/r",
            client_id: "web",
            settings: &self.settings,
            person: &self.person,
            scopes: &self.scopes,
            roles: &self.roles,
            groups: &self.groups,
            organizations: self.organizations.as_deref(),
            mappers: &self.mappers,
            session: self.session,
            notes: &self.notes,
            nonce: Some("n"),
            now: 10,
            expires: 70,
            jti: "j",
        }
    }

    fn access(&self) -> Value {
        access_token(&self.input())
    }
    fn id(&self) -> Value {
        id_token(&self.input())
    }
    fn userinfo(&self) -> Value {
        userinfo(&self.input())
    }
}

#[test]
fn organization_scope_forms() {
    let both = [org("acme"), org("globex")];
    let aliases =
        |v: Option<Vec<OrgInfo>>| v.map(|os| os.into_iter().map(|o| o.alias).collect::<Vec<_>>());
    // (granted scopes, chosen at login, organizations named, why)
    type Case = (
        &'static [&'static str],
        Option<&'static str>,
        Option<Vec<&'static str>>,
        &'static str,
    );
    let cases: [Case; 7] = [
        (&["openid"], None, None, "no scope, no claim"),
        (
            &["organization"],
            Some("id-globex"),
            Some(vec!["globex"]),
            "the one chosen at login",
        ),
        (
            &["organization"],
            None,
            Some(vec![]),
            "two and none chosen: nothing",
        ),
        (
            &["organization:*"],
            None,
            Some(vec!["acme", "globex"]),
            "all",
        ),
        (
            &["organization:globex"],
            None,
            Some(vec!["globex"]),
            "that one",
        ),
        (
            &["organization:initech"],
            None,
            Some(vec![]),
            "not a member",
        ),
        (
            &["organization:acme", "organization:globex"],
            None,
            Some(vec!["acme", "globex"]),
            "several",
        ),
    ];
    for (asked, chosen, expected, case) in cases {
        assert_eq!(
            aliases(select_organizations(&scopes(asked), &both, chosen)),
            expected.map(|v| v.into_iter().map(String::from).collect()),
            "{case}"
        );
    }
    assert_eq!(
        aliases(select_organizations(
            &scopes(&["organization"]),
            &both[..1],
            None
        )),
        Some(vec!["acme".to_string()]),
        "the only one"
    );
}

#[test]
fn organization_claim_shapes() {
    let cases = [
        (Aliases, json!({"organization": ["acme", "globex"]})),
        (Single, json!({"organization": "acme"})),
        (
            MapShape,
            json!({"organization": {
                "acme": {"id": "id-acme", "tier": ["gold"]},
                "globex": {"id": "id-globex", "tier": ["gold"]}
            }}),
        ),
        (
            Objects,
            json!({
                "organization": [{"alias": "acme", "name": "ACME"}, {"alias": "globex", "name": "GLOBEX"}],
                "organizationId": "id-acme"
            }),
        ),
    ];
    for (shape, expected) in cases {
        let token = Token::new(
            &["organization:*"],
            vec![MapperSetting::organization(shape)],
        )
        .member_of(&["acme", "globex"]);
        let access = token.access();
        let written: Map<String, Value> = ["organization", "organizationId"]
            .into_iter()
            .filter_map(|k| access.get(k).map(|v| (k.to_string(), v.clone())))
            .collect();
        assert_eq!(Value::Object(written), expected, "{shape:?}");
        assert_eq!(token.id()["organization"], expected["organization"]);
        assert_eq!(token.userinfo()["organization"], expected["organization"]);
    }
    let mut claims = Map::new();
    add_organization_claim(&mut claims, "organization", &[], MapShape);
    assert!(claims.is_empty(), "no organizations, no claim");
}

#[test]
fn an_organization_mapper_writes_its_own_claim_name() {
    let token = Token::new(
        &["organization"],
        vec![MapperSetting::everywhere(MapperKind::Organization {
            claim: "tenant".into(),
            shape: Single,
        })],
    )
    .member_of(&["acme"]);
    let access = token.access();
    assert_eq!(access["tenant"], "acme");
    assert!(access.get("organization").is_none());
}

#[test]
fn no_organization_scope_no_organization_claim() {
    // Keycloak issue #27993: an active organization mapper alone adds nothing.
    for shape in [Aliases, Single, MapShape, Objects] {
        let token = Token::new(
            &["openid", "profile"],
            vec![
                MapperSetting::organization(shape),
                MapperSetting::everywhere(MapperKind::Organization {
                    claim: "tenant".into(),
                    shape,
                }),
            ],
        )
        .member_of(&["acme"]);
        for claims in [token.access(), token.id(), token.userinfo()] {
            for claim in ["organization", "organizationId", "tenant"] {
                assert!(claims.get(claim).is_none(), "{shape:?}: {claims}");
            }
        }
    }
}

#[test]
fn precedence_client_own_over_declared_scope_over_built_in() {
    let declared_org_scope = ClientScope {
        name: "organization".into(),
        mappers: vec![MapperSetting::organization(Objects)],
    };
    let department = ClientScope {
        name: "department".into(),
        mappers: vec![hardcoded("tier", "gold")],
    };
    let asked = scopes(&["openid", "profile", "organization", "department"]);
    let mut own = settings(&["organization", "department"]);
    own.mappers = vec![hardcoded("tier", "platinum")];
    let mut own_shape = settings(&["organization", "department"]);
    own_shape.organization_claim = Some(Single);
    // (case, declared scopes, client, expected organization, organizationId, tier)
    let cases = [
        (
            "built-in only: the realm's shape",
            vec![],
            settings(&["organization", "department"]),
            json!(["acme"]),
            Value::Null,
            Value::Null,
        ),
        (
            "a declared organization scope beats the built-in",
            vec![declared_org_scope.clone(), department.clone()],
            settings(&["organization", "department"]),
            json!([{"alias": "acme", "name": "ACME"}]),
            json!("id-acme"),
            json!("gold"),
        ),
        (
            "the client's own mapper beats the declared scope",
            vec![declared_org_scope.clone(), department.clone()],
            own,
            json!([{"alias": "acme", "name": "ACME"}]),
            json!("id-acme"),
            json!("platinum"),
        ),
        (
            "the client's own organization_claim beats the declared scope, organizationId and all",
            vec![declared_org_scope, department],
            own_shape,
            json!("acme"),
            Value::Null,
            json!("gold"),
        ),
    ];
    for (case, declared, client, organization, organization_id, tier) in cases {
        let mappers = active_mappers(&asked, &client, &RealmScopes::new(declared), Aliases);
        let mut token = Token::new(&[], mappers);
        token.scopes = asked.clone();
        token.settings = client;
        let token = token.member_of(&["acme"]);
        let access = token.access();
        assert_eq!(access["organization"], organization, "{case}");
        assert_eq!(access["organizationId"], organization_id, "{case}");
        assert_eq!(access["tier"], tier, "{case}");
    }
    // A mapper may overwrite a built-in scope's claim (Keycloak runs mappers after them).
    let mappers = active_mappers(
        &asked,
        &settings(&["department"]),
        &RealmScopes::new([ClientScope {
            name: "department".into(),
            mappers: vec![hardcoded("preferred_username", "x")],
        }]),
        Aliases,
    );
    let mut token = Token::new(&[], mappers);
    token.scopes = asked;
    assert_eq!(token.access()["preferred_username"], "x");
}

#[test]
fn include_switches_choose_the_tokens() {
    let only = |access_token, id_token, userinfo| MapperSetting {
        kind: MapperKind::UserAttribute {
            attribute: "department".into(),
            claim: "department".into(),
        },
        include: Include {
            access_token,
            id_token,
            userinfo,
        },
    };
    // (mapper, in access token, in ID token, in userinfo)
    let cases = [
        (only(true, true, true), true, true, true),
        (only(true, false, true), true, false, true),
        (only(true, true, false), true, true, false),
        (only(false, true, true), false, true, true),
    ];
    for (mapper, access, id, info) in cases {
        let token = Token::new(&["openid"], vec![mapper.clone()]);
        let present = |claims: Value| claims.get("department") == Some(&json!("R&D"));
        assert_eq!(
            (
                present(token.access()),
                present(token.id()),
                present(token.userinfo())
            ),
            (access, id, info),
            "{:?}",
            mapper.include
        );
    }
    // Organization and audience mappers obey them too.
    let mut org_mapper = MapperSetting::organization(Aliases);
    org_mapper.include.id_token = false;
    let mut audience = MapperSetting::everywhere(MapperKind::Audience {
        audience: "reporting-api".into(),
    });
    let token =
        Token::new(&["organization"], vec![org_mapper, audience.clone()]).member_of(&["acme"]);
    assert_eq!(token.access()["organization"], json!(["acme"]));
    assert!(token.id().get("organization").is_none());
    assert_eq!(token.access()["aud"], "reporting-api");
    assert_eq!(
        token.id()["aud"],
        "web",
        "the ID token's audience is the client"
    );
    audience.include.access_token = false;
    assert_eq!(
        Token::new(&[], vec![audience]).access()["aud"],
        "web",
        "RFC 9068 §2.2: with no other audience, the client itself"
    );
}

#[test]
fn a_switched_off_mapper_leaves_the_lower_ones_claim() {
    let mut own = hardcoded("tier", "platinum");
    own.include.id_token = false;
    let token = Token::new(&[], vec![hardcoded("tier", "gold"), own]);
    assert_eq!(token.access()["tier"], "platinum");
    assert_eq!(token.id()["tier"], "gold");
}

#[test]
fn protocol_mappers_add_their_claims() {
    let mut token = Token::new(
        &[],
        vec![
            MapperSetting::everywhere(MapperKind::UserAttribute {
                attribute: "department".into(),
                claim: "dept".into(),
            }),
            hardcoded("tenant_kind", "b2b"),
            MapperSetting::everywhere(MapperKind::Audience {
                audience: "billing-api".into(),
            }),
            MapperSetting::everywhere(MapperKind::SessionNote {
                note: "org_id".into(),
                claim: "org_id".into(),
            }),
            MapperSetting::everywhere(MapperKind::SessionNote {
                note: "identity_provider".into(),
                claim: "identity_provider".into(),
            }),
        ],
    );
    token.notes = BTreeMap::from([("org_id".to_string(), "o1".to_string())]);
    let access = token.access();
    assert_eq!(access["dept"], "R&D");
    assert_eq!(access["tenant_kind"], "b2b");
    assert_eq!(access["aud"], "billing-api");
    assert_eq!(access["org_id"], "o1");
    assert!(
        access.get("identity_provider").is_none(),
        "absent notes add nothing"
    );
    assert_eq!(
        (
            access["sid"].as_str(),
            access["azp"].as_str(),
            access["typ"].as_str()
        ),
        (Some("s1"), Some("web"), Some("Bearer"))
    );
    let id = token.id();
    assert_eq!(
        (id["aud"].as_str(), id["nonce"].as_str(), id["typ"].as_str()),
        (Some("web"), Some("n"), Some("ID"))
    );
    assert!(id.get("scope").is_none());
    assert_eq!(token.userinfo()["dept"], "R&D");
}

#[test]
fn a_realm_roles_mapper_writes_the_roles_at_its_claim_path() {
    // Keycloak's roles scope with its User Realm Role mapper switched on for the ID token and
    // userinfo, and a second one writing a flat claim.
    let realm_roles = |claim: &str| {
        MapperSetting::everywhere(MapperKind::RealmRoles {
            claim: claim.into(),
        })
    };
    let mut token = Token::new(
        &["roles"],
        vec![realm_roles("realm_access.roles"), realm_roles("roles")],
    );
    token.roles.realm = ["admin", "viewer"].map(String::from).into();
    for claims in [token.access(), token.id(), token.userinfo()] {
        assert_eq!(
            claims["realm_access"],
            json!({"roles": ["admin", "viewer"]})
        );
        assert_eq!(claims["roles"], json!(["admin", "viewer"]));
    }
    // Without the mapper, only the access token has them (the built-in roles scope).
    let mut plain = Token::new(&["roles"], Vec::new());
    plain.roles.realm = token.roles.realm.clone();
    assert_eq!(
        plain.access()["realm_access"]["roles"],
        json!(["admin", "viewer"])
    );
    assert!(plain.id().get("realm_access").is_none());
    assert!(plain.userinfo().get("realm_access").is_none());
    // No realm roles: nothing, as in Keycloak.
    let none = Token::new(&["roles"], vec![realm_roles("realm_access.roles")]);
    assert!(none.id().get("realm_access").is_none());
}

#[test]
fn phone_and_address_scopes_read_keycloaks_attributes() {
    let with = |attributes: &[(&str, &str)], scope: &[&str]| {
        let mut token = Token::new(scope, vec![]);
        for (name, value) in attributes {
            token
                .person
                .attributes
                .insert(name.to_string(), vec![value.to_string()]);
        }
        token.userinfo()
    };
    let attributes = [
        ("phoneNumber", "+33 1 23 45 67 89"),
        ("phoneNumberVerified", "true"),
        ("street", "1 rue de Rivoli"),
        ("locality", "Paris"),
        ("postal_code", "75001"),
        ("country", "FR"),
    ];
    let claims = with(&attributes, &["openid", "phone", "address"]);
    assert_eq!(claims["phone_number"], "+33 1 23 45 67 89");
    assert_eq!(claims["phone_number_verified"], true);
    assert_eq!(
        claims["address"],
        json!({"street_address": "1 rue de Rivoli", "locality": "Paris",
               "postal_code": "75001", "country": "FR"})
    );
    // Without the scopes, none of it; without the attributes, no empty claims.
    let claims = with(&attributes, &["openid"]);
    assert!(claims.get("phone_number").is_none() && claims.get("address").is_none());
    let claims = with(&[], &["openid", "phone", "address"]);
    assert!(claims.get("phone_number").is_none() && claims.get("address").is_none());
    let claims = with(&[("phoneNumber", "+1 555 0100")], &["openid", "phone"]);
    assert_eq!(claims["phone_number_verified"], false);
}

#[test]
fn granted_scopes_are_the_defaults_and_the_allowed_requested_ones() {
    let mut with_organization = settings(&["organization", "offline_access"]);
    with_organization.default_scopes = scopes(&["profile", "email"]);
    let mut organization_by_default = settings(&[]);
    organization_by_default.default_scopes = scopes(&["organization"]);
    let plain = settings(&["offline_access"]);
    // (client, requested, granted, why)
    let cases = [
        (&plain, "", vec!["profile"], "the defaults, asked or not"),
        (
            &plain,
            "openid",
            vec!["openid", "profile"],
            "openid as asked",
        ),
        (
            &plain,
            "openid offline_access phone",
            vec!["offline_access", "openid", "profile"],
            "an optional scope yes, an unknown one no",
        ),
        (
            &plain,
            "organization organization:acme",
            vec!["profile"],
            "no organization scope for this client, in no form",
        ),
        (
            &with_organization,
            "profile openid profile organization:acme organization:",
            vec!["email", "openid", "organization:acme", "profile"],
            "sorted, once each; `organization:` names no organization",
        ),
        (
            &organization_by_default,
            "organization:globex",
            vec!["organization", "organization:globex"],
            "a default organization scope allows its forms too",
        ),
    ];
    for (client, requested, granted, why) in cases {
        assert_eq!(grant_scopes(requested, client), scopes(&granted), "{why}");
    }
}

/// alice with her names, email and groups, for the built-in scopes.
fn alice(scope: &[&str]) -> Token {
    let mut token = Token::new(scope, vec![]);
    token.person.first_name = Some("Alice".into());
    token.person.last_name = Some("Liddell".into());
    token.person.email = Some("alice@acme.test".into());
    token.person.email_verified = true;
    token.groups = scopes(&["/Engineering", "/Engineering/Platform"]);
    token
}

#[test]
fn built_in_scopes_write_the_person_s_claims() {
    let token = alice(&["openid", "profile", "email", "groups"]);
    for claims in [token.access(), token.id(), token.userinfo()] {
        assert_eq!(claims["name"], "Alice Liddell");
        assert_eq!(claims["given_name"], "Alice");
        assert_eq!(claims["family_name"], "Liddell");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["email"], "alice@acme.test");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(
            claims["groups"],
            json!(["/Engineering", "/Engineering/Platform"])
        );
    }
    // Without the scopes, none of it; the subject always.
    let none = alice(&["openid"]).userinfo();
    assert_eq!(none, json!({"sub": "u1"}));
    // Only what the person has: one name, an unverified email, no groups.
    let mut partial = alice(&["profile", "email", "groups"]);
    partial.person.last_name = None;
    partial.person.email_verified = false;
    partial.groups.clear();
    let claims = partial.userinfo();
    assert_eq!(claims["name"], "Alice");
    assert!(claims.get("family_name").is_none());
    assert_eq!(claims["email_verified"], false);
    assert!(claims.get("groups").is_none(), "no groups, no empty claim");
    let mut nameless = alice(&["profile", "email"]);
    nameless.person.first_name = None;
    nameless.person.last_name = None;
    nameless.person.email = None;
    let claims = nameless.userinfo();
    assert_eq!(
        claims,
        json!({"sub": "u1", "preferred_username": "alice"}),
        "no empty name, no email claims without an email"
    );
}

#[test]
fn user_attribute_mappers_read_the_person_s_fields_and_attributes() {
    let attribute = |attribute: &str| {
        MapperSetting::everywhere(MapperKind::UserAttribute {
            attribute: attribute.into(),
            claim: format!("claim_{attribute}"),
        })
    };
    let mut token = alice(&[]);
    token.mappers = [
        "username",
        "email",
        "firstName",
        "lastName",
        "badges",
        "missing",
    ]
    .map(attribute)
    .to_vec();
    token
        .person
        .attributes
        .insert("badges".into(), scopes(&["gold", "early"]));
    let claims = token.access();
    assert_eq!(claims["claim_username"], "alice");
    assert_eq!(claims["claim_email"], "alice@acme.test");
    assert_eq!(claims["claim_firstName"], "Alice");
    assert_eq!(claims["claim_lastName"], "Liddell");
    assert_eq!(
        claims["claim_badges"],
        json!(["gold", "early"]),
        "several values: a list"
    );
    assert!(claims.get("claim_missing").is_none());
    token.person.email = None;
    token.person.first_name = None;
    token.person.last_name = None;
    let claims = token.access();
    for absent in ["claim_email", "claim_firstName", "claim_lastName"] {
        assert!(claims.get(absent).is_none(), "{absent}: {claims}");
    }
}

#[test]
fn organization_mappers_of_different_claims_both_write() {
    let token = Token::new(
        &["organization"],
        vec![
            MapperSetting::organization(Aliases),
            MapperSetting::everywhere(MapperKind::Organization {
                claim: "tenant".into(),
                shape: Single,
            }),
        ],
    )
    .member_of(&["acme"]);
    let access = token.access();
    assert_eq!(access["organization"], json!(["acme"]));
    assert_eq!(access["tenant"], "acme");
}

#[test]
fn a_claim_path_keeps_what_its_object_holds_and_replaces_what_is_no_object() {
    let roles_at = |claim: &str| {
        MapperSetting::everywhere(MapperKind::RealmRoles {
            claim: claim.into(),
        })
    };
    let hardcoded_value = |claim: &str, value: Value| {
        MapperSetting::everywhere(MapperKind::Hardcoded {
            claim: claim.into(),
            value,
        })
    };
    let mut token = Token::new(
        &[],
        vec![
            hardcoded_value("kept", json!({"other": 1})),
            roles_at("kept.roles"),
            hardcoded_value("replaced", json!("a string")),
            roles_at("replaced.deep.roles"),
        ],
    );
    token.roles.realm = ["admin"].map(String::from).into();
    let claims = token.id();
    assert_eq!(claims["kept"], json!({"other": 1, "roles": ["admin"]}));
    assert_eq!(claims["replaced"], json!({"deep": {"roles": ["admin"]}}));
}

#[test]
fn the_access_token_s_audience_roles_and_origins() {
    let mut token = Token::new(&["roles", "web-origins"], vec![]);
    token.settings.web_origins = scopes(&["https://app.example"]);
    token.roles.realm = ["admin"].map(String::from).into();
    token.roles.clients = BTreeMap::from([
        ("web".to_string(), ["editor"].map(String::from).into()),
        ("billing".to_string(), ["reader"].map(String::from).into()),
    ]);
    let access = token.access();
    assert_eq!(access["realm_access"], json!({"roles": ["admin"]}));
    assert_eq!(
        access["resource_access"],
        json!({"billing": {"roles": ["reader"]}, "web": {"roles": ["editor"]}})
    );
    assert_eq!(
        access["aud"], "billing",
        "the other clients whose roles it carries, not the client itself"
    );
    assert_eq!(access["allowed-origins"], json!(["https://app.example"]));
    assert_eq!(access["scope"], "roles web-origins");

    // An audience mapper as well: a list, sorted.
    token.mappers = vec![MapperSetting::everywhere(MapperKind::Audience {
        audience: "api".into(),
    })];
    assert_eq!(token.access()["aud"], json!(["api", "billing"]));

    // Only its own roles: the client is the audience.
    token.mappers.clear();
    token.roles.clients.remove("billing");
    assert_eq!(token.access()["aud"], "web");

    // Without the roles scope no roles and no audience from them; without web-origins (or
    // without origins) no allowed-origins.
    let mut bare = Token::new(&["openid"], vec![]);
    bare.roles = token.roles.clone();
    bare.roles.clients.insert("billing".into(), BTreeSet::new());
    bare.settings.web_origins = scopes(&["https://app.example"]);
    let access = bare.access();
    assert!(access.get("realm_access").is_none() && access.get("resource_access").is_none());
    assert_eq!(access["aud"], "web");
    assert!(access.get("allowed-origins").is_none());
    let no_origins = Token::new(&["web-origins"], vec![]);
    assert!(no_origins.access().get("allowed-origins").is_none());
}

#[test]
fn every_token_carries_the_registered_claims_and_the_session_s() {
    let mut token = Token::new(&["openid"], vec![]);
    for claims in [token.access(), token.id()] {
        for (claim, value) in [
            ("iss", json!("https://id.example/realms/r")),
            ("sub", json!("u1")),
            ("azp", json!("web")),
            ("iat", json!(10)),
            ("exp", json!(70)),
            ("jti", json!("j")),
            ("sid", json!("s1")),
            ("auth_time", json!(10)),
            ("acr", json!("1")),
        ] {
            assert_eq!(claims[claim], value, "{claim}");
        }
    }
    // A token of no session (client_credentials) has none of the session's claims.
    token.session = None;
    for claims in [token.access(), token.id()] {
        for claim in ["sid", "auth_time", "acr"] {
            assert!(claims.get(claim).is_none(), "{claim}");
        }
    }
    assert_eq!(token.userinfo(), json!({"sub": "u1"}));
}
