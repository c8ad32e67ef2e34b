//! Entra ID as the upstream IdP (issue 8), against the forged IdP in Entra mode: the preset's
//! issuer rules (tenant allow-list, GUID `tid`, `iss` per tenant, the key's `issuer` member),
//! `(tid, oid)` as the subject and `oid` matched with the directory's `externalId`, seed 001's
//! mapper recipe and seed 003's role claim, group GUIDs as the directory's groups, overage,
//! guests, and the nOAuth case: an email never links across organizations.

use std::sync::Arc;

use serde_json::{json, Value};
use vestibule::clock::SystemClock;
use vestibule::config::{Config, DomainDecl, IdentityProviderDecl, RoleDecl, Secret, SecretRef};

use crate::brokering::{land, refused, signed_in, start_broker, to_idp_and_back, ALIAS};
use crate::common::forged_idp::{
    claims, ForgedIdp, Forgery, Settings, User, HOME_TENANT, OTHER_TENANT,
};
use crate::common::oidc::RelyingParty;
use crate::common::{tenant, Backend, REALM};

/// Seed 001's recipe (groups -> attribute `group`, upn -> `email`, sub -> attribute `sub`, all
/// Force) and seed 003's role claim.
const RECIPE: &str = r#"
sync_mode = "force"
mappers = [
  { name = "azure-group-mapper", type = "attribute_importer", claim = "groups", attribute = "group" },
  { name = "azure-username", type = "attribute_importer", claim = "upn", attribute = "email" },
  { name = "azure-sub", type = "attribute_importer", claim = "sub", attribute = "sub" },
  { name = "super-admin", type = "claim_to_role", claim = "roles", value = "MY_PROJECT_SUPER_ADMIN", role = "SUPER_ADMIN" },
]
"#;

/// An Entra IdP `alias` of `organization` for `idp`'s tenants (the multi-tenant template
/// discovery, with `tenants` as the allow-list).
fn entra(
    idp: &ForgedIdp,
    alias: &str,
    organization: &str,
    tenants: &[&str],
    extra: &str,
) -> IdentityProviderDecl {
    let tenants: Vec<String> = tenants.iter().map(|t| format!("\"{t}\"")).collect();
    let mut decl: IdentityProviderDecl = toml::from_str(&format!(
        "realm = \"{REALM}\"\nalias = \"{alias}\"\nkind = \"oidc\"\npreset = \"entra\"\n\
         organization = \"{organization}\"\ntenant_ids = [{}]\nclient_id = \"{}\"\n\
         client_secret = {{ env = \"UNUSED\" }}\ndiscovery_url = \"{}\"\n{extra}",
        tenants.join(", "),
        idp.client_id(),
        idp.common_discovery_url(),
    ))
    .expect("identity provider");
    decl.client_secret = Some(SecretRef {
        env: Some("UNUSED".into()),
        file: None,
        resolved: Some(Secret::new(idp.client_secret())),
    });
    decl
}

fn with_domains(c: &mut Config) {
    c.organizations[0].domains = vec![DomainDecl::Name("acme.test".into())];
    c.organizations[1].domains = vec![DomainDecl::Name("globex.test".into())];
    c.roles.push(RoleDecl {
        realm: REALM.into(),
        name: "SUPER_ADMIN".into(),
        client: None,
        description: String::new(),
        composites: Vec::new(),
    });
}

fn attribute(server: &crate::common::TestServer, user: &str, name: &str) -> Vec<String> {
    let mut conn = server.state.db.get().unwrap();
    vestibule::db::models::user::attributes(&mut conn, user)
        .unwrap()
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .collect()
}

both_backends!(
    seed_recipes_through_entra_with_groups_from_the_directory,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::entra()).await;
        let person =
            User::entra(HOME_TENANT, "bob").with("roles", json!(["MY_PROJECT_SUPER_ADMIN"]));
        let guids: Vec<String> = person.claims["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        idp.sign_in_as(person.clone());
        let decl = entra(&idp, ALIAS, "acme", &[HOME_TENANT], RECIPE);
        let acme = tenant("acme");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            with_domains(c);
            c.directories[0].token.as_mut().unwrap().resolved =
                Some(Secret::new(acme.token.clone()));
            c.identity_providers.push(decl);
        })
        .await;
        // acme's directory pushed the group behind the first GUID.
        let pushed = server
            .scim(&acme)
            .post(
                "/Groups",
                &json!({"displayName": "Engineering", "externalId": guids[0]}),
            )
            .await;
        assert_eq!(pushed.status, 201, "{:?}", pushed.body);
        let rp = RelyingParty::new(&server);
        let tokens = signed_in(&rp, &idp, &[("organization", "acme")]).await;
        let sub = tokens.access["sub"].as_str().unwrap().to_string();
        assert!(tokens.access["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("SUPER_ADMIN")));
        // The group GUID is the directory's group: its path in `groups`, its roles in tokens.
        assert_eq!(tokens.access["groups"], json!(["/Engineering"]));
        assert_eq!(
            tokens.access["resource_access"]["web"]["roles"],
            json!(["deployer"])
        );
        assert_eq!(tokens.id()["email"], person.claims["upn"]);
        let mut group_values = attribute(&server, &sub, "group");
        group_values.sort();
        let mut expected = guids.clone();
        expected.sort();
        assert_eq!(group_values, expected);
        assert_eq!(attribute(&server, &sub, "sub").len(), 1);
        // The session notes carry the IdP into tokens through session_note mappers.
        let mut conn = server.state.db.get().unwrap();
        let links = vestibule::db::models::federated::for_user(&mut conn, &sub).unwrap();
        assert_eq!(
            links[0].subject,
            format!("{HOME_TENANT}/{}", person.claims["oid"].as_str().unwrap())
        );
        drop(conn);

        // Overage under force: groups withheld, nothing revoked.
        idp.script(|_, c| {
            claims::groups_overage(c);
            Forgery::Valid
        });
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        assert_eq!(tokens.access["sub"], sub.as_str());
        assert_eq!(tokens.access["groups"], json!(["/Engineering"]));
        assert_eq!(attribute(&server, &sub, "group").len(), guids.len());
        assert!(tokens.access["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("SUPER_ADMIN")));

        // The IdP stops sending the role and the groups: force takes back what its mappers gave.
        idp.script(|_, c| {
            c["roles"] = json!([]);
            c["groups"] = json!([]);
            Forgery::Valid
        });
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        let roles = tokens.access["realm_access"]["roles"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!roles.contains(&json!("SUPER_ADMIN")), "{}", tokens.access);
        assert!(
            tokens.access.get("groups").is_none_or(|g| g == &json!([])),
            "{}",
            tokens.access
        );
        assert!(attribute(&server, &sub, "group").is_empty());
        server.stop().await;
    }
);

both_backends!(
    a_user_the_directory_pushed_is_the_same_user_after_an_entra_login,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::entra()).await;
        let person = User::entra(HOME_TENANT, "dora");
        idp.sign_in_as(person.clone());
        let decl = entra(&idp, ALIAS, "acme", &[HOME_TENANT], "");
        let acme = tenant("acme");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.directories[0].token.as_mut().unwrap().resolved =
                Some(Secret::new(acme.token.clone()));
            c.identity_providers.push(decl);
        })
        .await;
        let mut pushed_user = crate::common::entra_user("dora@contoso.test");
        pushed_user["externalId"] = person.claims["oid"].clone();
        let pushed = server.scim(&acme).post("/Users", &pushed_user).await;
        assert_eq!(pushed.status, 201);
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        assert_eq!(tokens.access["sub"], pushed.id().as_str());
        // Disabled by the directory: the IdP cannot sign them in.
        let disabled = server
            .scim(&acme)
            .patch(
                &format!("/Users/{}", pushed.id()),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(disabled.status, 200);
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 403);
        server.stop().await;
    }
);

both_backends!(
    entras_issuer_rules_refuse_other_tenants_and_their_keys,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::entra()).await;
        let decl = entra(&idp, ALIAS, "acme", &[HOME_TENANT], "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        type Edit = fn(&mut Value);
        let cases: [(&str, Edit); 6] = [
            ("another organization's tenant", claims::other_tenant),
            ("a personal Microsoft account", claims::consumer_tenant),
            ("a tid that is not a GUID", claims::non_guid_tenant),
            (
                "tid of one tenant, iss of another",
                claims::tid_not_in_issuer,
            ),
            ("no tid", |c| {
                c.as_object_mut().unwrap().remove("tid");
            }),
            ("a guest of the tenant", |c| c["acct"] = json!(1)),
        ];
        for (what, edit) in cases {
            idp.clear_scripts();
            idp.script(move |_, c| {
                edit(c);
                Forgery::Valid
            });
            let rp = RelyingParty::new(&server);
            let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
            let landing = land(&rp, &callback).await;
            assert!(
                landing.status == 400 || landing.status == 403,
                "{what}: {}",
                landing.status
            );
            refused(&landing, landing.status);
        }
        // A new key whose `issuer` member is another tenant's cannot sign for this one.
        idp.clear_scripts();
        let kid = idp.rotate();
        idp.set_key_issuer(&kid, Some(&idp.issuer_for(OTHER_TENANT)));
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 400);
        // Signed by the earlier key, whose issuer is the template: accepted.
        let earlier = idp.jwks()["keys"][0]["kid"].as_str().unwrap().to_string();
        idp.forge(Forgery::SignWith(earlier));
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        server.stop().await;
    }
);

both_backends!(
    an_email_never_links_across_organizations,
    |backend: Backend| async move {
        // acme's tenant and globex's tenant, each its organization's IdP, both trusting email.
        let acme_idp = ForgedIdp::start(Settings::entra()).await;
        let globex_idp = ForgedIdp::start(Settings::entra()).await;
        let acme_decl = entra(
            &acme_idp,
            ALIAS,
            "acme",
            &[HOME_TENANT],
            "trust_email = true",
        );
        let globex_decl = entra(
            &globex_idp,
            "globex-entra",
            "globex",
            &[OTHER_TENANT],
            "trust_email = true",
        );
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            with_domains(c);
            c.identity_providers.extend([acme_decl, globex_decl]);
        })
        .await;
        let alice = |server: &crate::common::TestServer| {
            let mut conn = server.state.db.get().unwrap();
            let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
                .unwrap()
                .unwrap();
            vestibule::db::models::user::find_login(&mut conn, &realm.id, "alice")
                .unwrap()
                .remove(0)
        };
        let victim = alice(&server);
        // nOAuth: globex's tenant admin sets alice's acme address on an account of theirs.
        let attacker = User::entra(OTHER_TENANT, "mallory")
            .with("email", json!("alice@acme.test"))
            .with("xms_edov", json!(true));
        globex_idp.sign_in_as(attacker);
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &globex_idp,
            &[("organization", "globex")],
        )
        .await;
        assert_ne!(
            tokens.access["sub"],
            victim.id.as_str(),
            "nOAuth: linked to the victim"
        );
        assert_eq!(tokens.access["organization"], json!(["globex"]));
        let mut conn = server.state.db.get().unwrap();
        assert!(
            vestibule::db::models::federated::for_user(&mut conn, &victim.id)
                .unwrap()
                .is_empty()
        );
        let memberships =
            vestibule::db::models::membership::for_user(&mut conn, &victim.id).unwrap();
        assert_eq!(memberships.len(), 1, "alice is in acme only");
        drop(conn);
        // acme's own IdP asserting alice's verified acme address links to her.
        let honest = User::entra(HOME_TENANT, "alice")
            .with("email", json!("alice@acme.test"))
            .with("xms_edov", json!(true));
        acme_idp.sign_in_as(honest.clone());
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &acme_idp,
            &[("organization", "acme")],
        )
        .await;
        assert_eq!(tokens.access["sub"], victim.id.as_str());
        // Without xms_edov, the same address does not link: a new user.
        let unverified = User::entra(HOME_TENANT, "alice2")
            .with("email", json!("alice@acme.test"))
            .with("xms_edov", json!(false));
        acme_idp.sign_in_as(unverified);
        let tokens = signed_in(
            &RelyingParty::new(&server),
            &acme_idp,
            &[("organization", "acme")],
        )
        .await;
        assert_ne!(tokens.access["sub"], victim.id.as_str());
        server.stop().await;
    }
);
