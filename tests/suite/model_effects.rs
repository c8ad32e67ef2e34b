//! What SCIM writes do to the model underneath (memberships, user state, deprovisioning policy),
//! and the config's declarations applied idempotently, on both databases.

use std::sync::Arc;

use crate::common::{self, config, entra_user, tenant, Backend, TestDb, TestServer};
use serde_json::json;
use sha2::Digest;
use vestibule::clock::SystemClock;
use vestibule::config::Deprovisioning;
use vestibule::db::models::{membership, organization, realm, user};
use vestibule::declarations;

both_backends!(
    pushed_users_are_managed_members_and_delete_follows_policy,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let globex = tenant("globex");
        let db = TestDb::new(backend);
        let mut cfg = config(&db, &[&acme, &globex]);
        cfg.directories[1].deprovisioning = Deprovisioning::Delete;
        let server = TestServer::start_with(db, cfg, Arc::new(SystemClock)).await;

        let kept = server
            .scim(&acme)
            .post("/Users", &entra_user("kept@acme.test"))
            .await
            .id();
        let gone = server
            .scim(&globex)
            .post("/Users", &entra_user("gone@globex.test"))
            .await
            .id();
        let mut conn = server.state.db.get().unwrap();
        let realm_id = realm::find_by_name(&mut conn, common::REALM)
            .unwrap()
            .unwrap()
            .id;
        let acme_org = organization::find_by_alias(&mut conn, &realm_id, "acme")
            .unwrap()
            .unwrap();
        let m = membership::find(&mut conn, &acme_org.id, &kept)
            .unwrap()
            .expect("membership");
        assert_eq!(m.source, "scim");
        assert!(m.managed);
        let row = user::find(&mut conn, &kept).unwrap().unwrap();
        assert_eq!(row.email.as_deref(), Some("kept@acme.test"));
        assert_eq!(row.first_name.as_deref(), Some("Given"));
        assert!(row.enabled);

        // active false disables the user itself.
        let patched = server
            .scim(&acme)
            .patch(
                &format!("/Users/{kept}"),
                &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(patched.status, 200);
        assert!(!user::find(&mut conn, &kept).unwrap().unwrap().enabled);

        // Policy "disable": the membership ends, the row stays, disabled.
        assert_eq!(
            server
                .scim(&acme)
                .delete(&format!("/Users/{kept}"))
                .await
                .status,
            204
        );
        assert!(membership::find(&mut conn, &acme_org.id, &kept)
            .unwrap()
            .is_none());
        let row = user::find(&mut conn, &kept)
            .unwrap()
            .expect("kept under the disable policy");
        assert!(!row.enabled);
        assert!(row.deprovisioned_at.is_some());

        // Policy "delete": the row is gone too.
        assert_eq!(
            server
                .scim(&globex)
                .delete(&format!("/Users/{gone}"))
                .await
                .status,
            204
        );
        assert!(user::find(&mut conn, &gone).unwrap().is_none());
        drop(conn);
        server.stop().await;
    }
);

both_backends!(
    declarations_apply_idempotently,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let db = TestDb::new(backend);
        let mut cfg = config(&db, &[&acme]);
        cfg.organizations[0].domains =
            vec![vestibule::config::DomainDecl::Name("Acme.test".into())];
        cfg.organizations[0]
            .attributes
            .insert("tier".into(), vec!["gold".into(), "eu".into()]);
        let state = tokio::task::spawn_blocking({
            let cfg = cfg.clone();
            move || vestibule::prepare(cfg, Arc::new(SystemClock))
        })
        .await
        .unwrap()
        .unwrap();
        let mut conn = state.db.get().unwrap();
        let again = declarations::apply(&mut conn, &cfg, 1).unwrap();
        assert_eq!(
            (again.organizations_created, again.organizations_updated),
            (0, 1)
        );
        assert_eq!(
            (again.directories_created, again.directories_updated),
            (0, 1)
        );

        // An updated declaration updates; what is no longer declared stays.
        let mut changed = cfg.clone();
        changed.organizations[0].name = "Acme Corporation".into();
        changed.organizations[0].enabled = false;
        changed
            .organizations
            .push(vestibule::config::OrganizationDecl {
                alias: "initech".into(),
                domains: Vec::new(),
                ..changed.organizations[0].clone()
            });
        declarations::apply(&mut conn, &changed, 2).unwrap();
        declarations::apply(&mut conn, &cfg, 3).unwrap();
        let realm_id = realm::find_by_name(&mut conn, common::REALM)
            .unwrap()
            .unwrap()
            .id;
        let org = organization::find_by_alias(&mut conn, &realm_id, "acme")
            .unwrap()
            .unwrap();
        assert_eq!(org.name, "ACME");
        assert!(org.enabled);
        assert!(
            organization::find_by_alias(&mut conn, &realm_id, "initech")
                .unwrap()
                .is_some(),
            "never deletes"
        );
        let domains = organization::domains(&mut conn, &org.id).unwrap();
        assert_eq!(domains.len(), 1);
        assert_eq!(domains[0].name, "acme.test");
        assert!(domains[0].verified);
        let attrs = organization::attributes(&mut conn, &org.id).unwrap();
        assert_eq!(
            attrs,
            vec![
                ("tier".to_string(), "eu".to_string()),
                ("tier".to_string(), "gold".to_string())
            ]
        );

        // A new config token replaces the old config token; the old one stops working.
        let dir = vestibule::directories::find(&mut conn, common::REALM, "acme").unwrap();
        assert!(
            vestibule::directories::authenticate(&mut conn, common::REALM, &acme.token)
                .unwrap()
                .is_some()
        );
        let mut rotated = cfg.clone();
        rotated.directories[0].token.as_mut().unwrap().resolved =
            Some(vestibule::config::Secret::new("rotated-token"));
        declarations::apply(&mut conn, &rotated, 4).unwrap();
        assert!(
            vestibule::directories::authenticate(&mut conn, common::REALM, &acme.token)
                .unwrap()
                .is_none()
        );
        let found = vestibule::directories::authenticate(&mut conn, common::REALM, "rotated-token")
            .unwrap()
            .unwrap();
        assert_eq!(found.directory.id, dir.id);
        // Tokens are stored hashed: the first config token (revoked) and the rotated one, each
        // as the hex SHA-256 of the token, never the token itself.
        let tokens = vestibule::db::models::directory::tokens(&mut conn, &dir.id).unwrap();
        let sha256 = |token: &str| hex::encode(sha2::Sha256::digest(token.as_bytes()));
        let mut stored: Vec<(bool, &str, &str)> = tokens
            .iter()
            .map(|t| {
                (
                    t.revoked_at.is_none(),
                    t.source.as_str(),
                    t.token_hash.as_str(),
                )
            })
            .collect();
        stored.sort();
        assert_eq!(
            stored,
            [
                (false, "config", sha256(&acme.token).as_str()),
                (true, "config", sha256("rotated-token").as_str())
            ]
        );
    }
);
