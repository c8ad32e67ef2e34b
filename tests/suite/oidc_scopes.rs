//! Client scopes and their protocol mappers through HTTP on both databases: the organization
//! scope's mapper shape set by a `[[client_scope]]`, a declared optional scope with include
//! switches, the client's own shape winning, and check-config refusing an undeclared scope.

use std::sync::Arc;

use crate::common::oidc::{location, query_of, RelyingParty, Tokens, CODE_REQUEST, WEB};
use crate::common::{config, tenant, with_issuer, Backend, TestDb, TestServer, REALM};
use serde_json::{json, Value};
use vestibule::clock::SystemClock;
use vestibule::config::{
    ClientScopeDecl, Config, Include, MapperDecl, MapperDeclKind, OrganizationClaimShape,
};

fn organization_scope(shape: OrganizationClaimShape) -> ClientScopeDecl {
    ClientScopeDecl {
        realm: REALM.into(),
        name: "organization".into(),
        description: "Organization membership".into(),
        mappers: vec![MapperDecl {
            kind: MapperDeclKind::Organization {
                claim: "organization".into(),
                shape,
            },
            include: Include::default(),
        }],
    }
}

/// The realm of `with_issuer`, with alice a member of acme and globex, her department set,
/// and `scopes` declared; `adjust` has the last word.
async fn start(
    backend: Backend,
    scopes: Vec<ClientScopeDecl>,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let db = TestDb::new(backend);
    let mut cfg = config(&db, &[&acme, &globex]);
    with_issuer(&mut cfg);
    let alice = cfg
        .users
        .iter_mut()
        .find(|u| u.username == "alice")
        .expect("alice");
    alice.organizations = vec!["acme".into(), "globex".into()];
    alice
        .attributes
        .insert("department".into(), vec!["Research".into()]);
    cfg.client_scopes = scopes;
    adjust(&mut cfg);
    TestServer::start_with(db, cfg, Arc::new(SystemClock)).await
}

fn organization_id(server: &TestServer, alias: &str) -> String {
    let mut conn = server.state.db.get().expect("connection");
    let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
        .expect("query")
        .expect("realm");
    vestibule::db::models::organization::find_by_alias(&mut conn, &realm.id, alias)
        .expect("query")
        .expect("organization")
        .id
}

both_backends!(
    organization_scope_declared_with_the_objects_shape,
    |backend: Backend| async move {
        // The realm default stays Keycloak's aliases; the declared scope's mapper replaces it.
        let server = start(
            backend,
            vec![organization_scope(OrganizationClaimShape::Objects)],
            |_| {},
        )
        .await;
        let rp = RelyingParty::new(&server);
        let (acme, globex) = (
            organization_id(&server, "acme"),
            organization_id(&server, "globex"),
        );

        let tokens = rp
            .tokens(&[("scope", "openid organization"), ("organization", "acme")])
            .await;
        for claims in [&tokens.access, tokens.id()] {
            assert_eq!(
                claims["organization"],
                json!([{"alias": "acme", "name": "ACME"}])
            );
            assert_eq!(claims["organizationId"], json!(acme));
        }

        let tokens = rp.tokens(&[("scope", "openid organization:*")]).await;
        assert_eq!(
            tokens.access["organization"],
            json!([{"alias": "acme", "name": "ACME"}, {"alias": "globex", "name": "GLOBEX"}])
        );
        assert_eq!(tokens.access["organizationId"], json!(acme));

        let tokens = rp.tokens(&[("scope", "openid organization:globex")]).await;
        assert_eq!(tokens.access["organizationId"], json!(globex));

        let tokens = rp.tokens(&[("scope", "openid")]).await;
        assert!(
            tokens.access.get("organization").is_none()
                && tokens.access.get("organizationId").is_none(),
            "no organization scope, no claim: {}",
            tokens.access
        );
        server.stop().await;
    }
);

both_backends!(
    organization_scope_declared_with_the_single_shape,
    |backend: Backend| async move {
        let server = start(
            backend,
            vec![organization_scope(OrganizationClaimShape::Single)],
            |_| {},
        )
        .await;
        let rp = RelyingParty::new(&server);
        let tokens = rp
            .tokens(&[("scope", "openid organization"), ("organization", "globex")])
            .await;
        assert_eq!(tokens.access["organization"], "globex");
        assert_eq!(tokens.id()["organization"], "globex");
        assert!(tokens.access.get("organizationId").is_none());
        // Keycloak's multivalued=false: the first organization's alias, as a string.
        let tokens = rp.tokens(&[("scope", "openid organization:*")]).await;
        assert_eq!(tokens.access["organization"], "acme");
        server.stop().await;
    }
);

fn department_scope() -> ClientScopeDecl {
    ClientScopeDecl {
        realm: REALM.into(),
        name: "department".into(),
        description: String::new(),
        mappers: vec![
            MapperDecl {
                kind: MapperDeclKind::UserAttribute {
                    attribute: "department".into(),
                    claim: "department".into(),
                },
                include: Include {
                    id_token: false,
                    ..Include::default()
                },
            },
            MapperDecl {
                kind: MapperDeclKind::Hardcoded {
                    claim: "tier".into(),
                    value: toml::Value::String("gold".into()),
                },
                include: Include {
                    userinfo: false,
                    ..Include::default()
                },
            },
            MapperDecl {
                kind: MapperDeclKind::Audience {
                    audience: "reporting-api".into(),
                },
                include: Include::default(),
            },
        ],
    }
}

fn audiences(access: &Value) -> Vec<String> {
    match &access["aud"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

both_backends!(
    declared_optional_scope_with_include_switches,
    |backend: Backend| async move {
        let server = start(backend, vec![department_scope()], |cfg| {
            for client in &mut cfg.clients {
                client.optional_scopes.push("department".into());
            }
        })
        .await;
        let rp = RelyingParty::new(&server);
        // Discovery lists the declared scope beside the built-in ones, as Keycloak lists its
        // client scopes.
        let meta = rp
            .get_json(&rp.url("/.well-known/openid-configuration"))
            .await;
        let supported = meta["scopes_supported"].as_array().unwrap();
        for scope in ["openid", "profile", "organization", "phone", "department"] {
            assert!(supported.iter().any(|s| s == scope), "{scope}: {meta}");
        }

        let asked: Tokens = rp.tokens(&[("scope", "openid department")]).await;
        assert_eq!(asked.access["department"], "Research");
        assert_eq!(asked.access["tier"], "gold");
        assert!(
            audiences(&asked.access).contains(&"reporting-api".to_string()),
            "{}",
            asked.access
        );
        assert!(asked.access["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|s| s == "department")));
        assert!(
            asked.id().get("department").is_none(),
            "id_token = false: {}",
            asked.id()
        );
        assert_eq!(asked.id()["tier"], "gold");
        assert_eq!(asked.id()["aud"], "web");
        let info = rp.userinfo(asked.access_token()).await;
        assert_eq!(info["department"], "Research");
        assert!(info.get("tier").is_none(), "userinfo = false: {info}");

        let not_asked = rp.tokens(&[("scope", "openid")]).await;
        for claims in [&not_asked.access, not_asked.id()] {
            assert!(
                claims.get("department").is_none() && claims.get("tier").is_none(),
                "{claims}"
            );
        }
        assert!(!audiences(&not_asked.access).contains(&"reporting-api".to_string()));
        let info = rp.userinfo(not_asked.access_token()).await;
        assert!(
            info.get("department").is_none() && info.get("tier").is_none(),
            "{info}"
        );
        server.stop().await;
    }
);

both_backends!(
    a_clients_own_shape_beats_the_declared_scope,
    |backend: Backend| async move {
        let server = start(
            backend,
            vec![organization_scope(OrganizationClaimShape::Objects)],
            |cfg| {
                let web = cfg
                    .clients
                    .iter_mut()
                    .find(|c| c.client_id == "web")
                    .expect("web");
                web.organization_claim = Some(OrganizationClaimShape::Aliases);
            },
        )
        .await;
        let rp = RelyingParty::new(&server);
        let params = [("scope", "openid organization"), ("organization", "acme")];

        let own = rp.tokens(&params).await;
        assert_eq!(own.access["organization"], json!(["acme"]));
        assert!(
            own.access.get("organizationId").is_none(),
            "the client's mapper replaces the scope's whole: {}",
            own.access
        );
        let info = rp.userinfo(own.access_token()).await;
        assert_eq!(info["organization"], json!(["acme"]));

        // Another client of the realm gets the declared scope's shape.
        let login = rp.login("spa", &params, "alice").await;
        let spa = rp.exchange(("spa", None), login.code()).await;
        assert_eq!(
            spa.access["organization"],
            json!([{"alias": "acme", "name": "ACME"}])
        );
        server.stop().await;
    }
);

#[test]
fn check_config_refuses_a_client_naming_an_undeclared_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vestibule.toml");
    let config = r#"
[[realm]]
name = "quickstart"

[[client_scope]]
realm = "quickstart"
name = "department"
mappers = [{ type = "hardcoded", claim = "tier", value = "gold" }]

[[client]]
realm = "quickstart"
client_id = "reports"
confidential = false
redirect_uris = ["http://127.0.0.1:9/callback"]
optional_scopes = ["organization", "department", "cost-center"]
"#;
    std::fs::write(&path, config).expect("write config");
    let err = Config::load_with_env(Some(&path), &[])
        .expect_err("an undeclared scope is refused")
        .to_string();
    assert!(
        err.contains("\"cost-center\"") && err.contains("\"reports\""),
        "{err}"
    );
    assert!(
        !err.contains("\"department\""),
        "department is declared: {err}"
    );

    std::fs::write(&path, config.replace(", \"cost-center\"", "")).expect("write config");
    let loaded = Config::load_with_env(Some(&path), &[]).expect("declared scopes are accepted");
    assert_eq!(loaded.client_scopes[0].name, "department");
}

both_backends!(
    scope_declarations_upsert_and_reach_tokens_within_30_seconds,
    |backend: Backend| async move {
        let clock = Arc::new(vestibule::clock::FixedClock::new(1_800_000_000_000_000));
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let db = TestDb::new(backend);
        let mut cfg = config(&db, &[&acme, &globex]);
        with_issuer(&mut cfg);
        cfg.client_scopes = vec![organization_scope(OrganizationClaimShape::Objects)];
        let server = TestServer::start_with(db, cfg, clock.clone()).await;
        let rp = RelyingParty::new(&server);
        let params = [("scope", "openid organization")];
        let objects = json!([{"alias": "acme", "name": "ACME"}]);
        assert_eq!(rp.tokens(&params).await.access["organization"], objects);

        let stored = |server: &TestServer| {
            let mut conn = server.state.db.get().expect("connection");
            let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
                .expect("query")
                .expect("realm");
            vestibule::db::models::client_scopes::list(&mut conn, &realm.id).expect("query")
        };
        let before = stored(&server);
        let apply = |cfg: &Config, now: i64| {
            let mut conn = server.state.db.get().expect("connection");
            vestibule::issuer::declare::apply(&mut conn, cfg, now).expect("declarations apply");
        };
        // The same declaration again changes nothing.
        apply(&server.state.config, 1_900_000_000_000_000);
        let again = stored(&server);
        assert_eq!(again.len(), 1);
        assert_eq!(
            (&again[0].id, again[0].updated_at),
            (&before[0].id, before[0].updated_at)
        );

        // A changed declaration updates the row; tokens follow once the cache has aged.
        let mut changed = (*server.state.config).clone();
        changed.client_scopes = vec![organization_scope(OrganizationClaimShape::Single)];
        apply(&changed, 1_900_000_000_000_000);
        assert_eq!(stored(&server)[0].id, before[0].id);
        assert_eq!(rp.tokens(&params).await.access["organization"], objects);
        clock.advance(31_000_000);
        assert_eq!(rp.tokens(&params).await.access["organization"], "acme");

        // What is no longer declared stays.
        changed.client_scopes.clear();
        apply(&changed, 1_900_000_000_000_001);
        assert_eq!(stored(&server).len(), 1);
        server.stop().await;
    }
);

both_backends!(
    session_note_org_id_follows_the_pinned_organization,
    |backend: Backend| async move {
        // Seed 002's session note mapper: `org_id` names the organization the login is pinned to.
        let server = start(backend, vec![], |cfg| {
            let web = cfg.clients.iter_mut().find(|c| c.client_id == "web");
            web.expect("web").mappers.push(MapperDecl {
                kind: MapperDeclKind::SessionNote {
                    note: "org_id".into(),
                    claim: "org_id".into(),
                },
                include: Include::default(),
            });
        })
        .await;
        let rp = RelyingParty::new(&server);
        let login = rp.login("web", &[("organization", "acme")], "alice").await;
        let first = rp.exchange(WEB, login.code()).await;
        assert_eq!(first.access["org_id"], organization_id(&server, "acme"));

        // The same SSO session, now pinned to globex: no form, and the note moves with it.
        let mut request = CODE_REQUEST.to_vec();
        request.push(("organization", "globex"));
        let reply = rp.authorize(&request, Some(&login.cookie)).await;
        assert_eq!(reply.status(), 302);
        let code = query_of(&location(&reply))["code"].clone();
        let second = rp.exchange(WEB, &code).await;
        assert_eq!(second.access["org_id"], organization_id(&server, "globex"));
        assert_eq!(second.access["sid"], first.access["sid"], "one session");

        // Without a pin, no note (and no claim).
        let plain = rp.login("web", &[], "alice").await;
        let third = rp.exchange(WEB, plain.code()).await;
        assert!(third.access.get("org_id").is_none(), "{}", third.access);
        server.stop().await;
    }
);
