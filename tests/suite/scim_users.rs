//! `/Users` through HTTP, on SQLite and PostgreSQL: the RFC 7644 operations and their errors.

use crate::common::{entra_user, filter, tenant, Backend, TestServer};
use serde_json::{json, Value};

both_backends!(create_read_and_location, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = TestServer::start(backend, &[&acme]).await;
    let scim = server.scim(&acme);

    let created = scim.post("/Users", &entra_user("alice@acme.test")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    let location = created
        .header("location")
        .expect("Location header")
        .to_string();
    assert_eq!(location, server.scim_url(&format!("/Users/{id}")));
    assert_eq!(created.body["meta"]["location"], location.as_str());
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(
        created.header("etag"),
        created.body["meta"]["version"].as_str()
    );
    assert_eq!(
        created.header("content-type"),
        Some("application/scim+json")
    );
    // The read-only meta Entra sends is ignored, `roles: []` kept, booleans stay booleans.
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["userName"], "alice@acme.test");

    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["name"]["givenName"], "Given");
    assert_eq!(read.body["emails"][0]["value"], "alice@acme.test");
    assert_eq!(read.body["externalId"], "ext-alice@acme.test");

    let missing = scim
        .get("/Users/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(missing.body["status"], "404");
    server.stop().await;
});

both_backends!(
    unknown_extensions_round_trip_and_nulls_are_ignored,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let mut body = entra_user("bob@acme.test");
        body["urn:acme:params:scim:schemas:extension:custom:1.0:User"] =
            json!({"badge": "B-7", "floors": [1, 3]});
        body["schemas"].as_array_mut().unwrap().push(json!(
            "urn:acme:params:scim:schemas:extension:custom:1.0:User"
        ));
        body["schemas"]
            .as_array_mut()
            .unwrap()
            .push(json!("urn:unknown:listed:but:absent"));
        body["title"] = Value::Null;
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
            json!({"department": "R&D", "employeeNumber": "42"});
        let created = scim.post("/Users", &body).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let read = scim.get(&format!("/Users/{}", created.id())).await;
        assert_eq!(
            read.body["urn:acme:params:scim:schemas:extension:custom:1.0:User"],
            json!({"badge": "B-7", "floors": [1, 3]})
        );
        assert_eq!(
            read.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
        assert!(read.body.get("title").is_none());
        let schemas: Vec<&str> = read.body["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(schemas.contains(&"urn:acme:params:scim:schemas:extension:custom:1.0:User"));
        assert!(!schemas.contains(&"urn:unknown:listed:but:absent"));
        server.stop().await;
    }
);

both_backends!(
    username_is_unique_per_organization_case_insensitively,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let globex = tenant("globex");
        let server = TestServer::start(backend, &[&acme, &globex]).await;
        assert_eq!(
            server
                .scim(&acme)
                .post("/Users", &entra_user("Carol@x.test"))
                .await
                .status,
            201
        );
        let dup = server
            .scim(&acme)
            .post("/Users", &entra_user("carol@X.TEST"))
            .await;
        assert_eq!(dup.status, 409);
        assert_eq!(dup.scim_type(), Some("uniqueness"));
        // Another organization may have its own carol.
        assert_eq!(
            server
                .scim(&globex)
                .post("/Users", &entra_user("carol@x.test"))
                .await
                .status,
            201
        );
        let list = server
            .scim(&acme)
            .get(&format!(
                "/Users?{}",
                filter(r#"userName eq "CAROL@x.test""#)
            ))
            .await;
        assert_eq!(list.body["totalResults"], 1);
        server.stop().await;
    }
);

both_backends!(
    bad_input_gets_scim_errors_and_changes_nothing,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let malformed = scim
            .send("POST", "/Users", Some("{\"userName\": "), &[])
            .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.scim_type(), Some("invalidSyntax"));
        let no_name = scim
            .post(
                "/Users",
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": true}),
            )
            .await;
        assert_eq!(no_name.status, 400);
        assert_eq!(no_name.scim_type(), Some("invalidValue"));
        let wrong_type = scim
            .post("/Users", &json!({"userName": "x@y", "active": {"no": 1}}))
            .await;
        assert_eq!(wrong_type.status, 400);
        assert_eq!(wrong_type.scim_type(), Some("invalidValue"));
        let bad_filter = scim
            .get(&format!("/Users?{}", filter(r#"userName eq "a" and ("#)))
            .await;
        assert_eq!(bad_filter.status, 400);
        assert_eq!(bad_filter.scim_type(), Some("invalidFilter"));
        let list = scim.get("/Users").await;
        assert_eq!(
            list.body["totalResults"], 0,
            "failed requests wrote nothing"
        );

        // A PATCH whose second operation fails leaves the first one unapplied too.
        let id = scim
            .post("/Users", &entra_user("dora@acme.test"))
            .await
            .id();
        let patch = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": {"bad": true}}
            ]}),
        )
        .await;
        assert_eq!(patch.status, 400, "{:?}", patch.body);
        let read = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(read.status, 200, "{:?}", read.body);
        assert!(read.body.get("displayName").is_none(), "{:?}", read.body);
        server.stop().await;
    }
);

both_backends!(authentication_is_required, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = TestServer::start(backend, &[&acme]).await;
    let anonymous = server.anonymous().get("/Users").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["status"], "401");
    assert!(anonymous
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    let wrong = server
        .anonymous()
        .send(
            "GET",
            "/Users",
            None,
            &[("authorization", "Bearer not-a-token")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    server.stop().await;
});

both_backends!(
    put_replaces_and_etags_guard_writes,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let created = scim.post("/Users", &entra_user("erin@acme.test")).await;
        let id = created.id();
        let etag = created.header("etag").unwrap().to_string();

        let mut replacement = entra_user("erin@acme.test");
        replacement["displayName"] = json!("Erin E.");
        replacement["name"] = json!({"givenName": "Erin"});
        let put = scim.put(&format!("/Users/{id}"), &replacement).await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        assert_eq!(put.body["displayName"], "Erin E.");
        assert!(put.body["name"].get("familyName").is_none());
        assert_ne!(put.header("etag"), Some(etag.as_str()));

        // The old version no longer matches: a PUT that would change the user is refused, and
        // the user reads back as the last PUT left it.
        let mut overwrite = replacement.clone();
        overwrite["displayName"] = json!("Stale write");
        overwrite["name"] = json!({"givenName": "Stale"});
        let stale = scim
            .send(
                "PUT",
                &format!("/Users/{id}"),
                Some(&overwrite.to_string()),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(stale.status, 412, "{:?}", stale.body);
        assert_eq!(stale.body["status"], "412");
        let current = put.header("etag").unwrap().to_string();
        let read = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(read.status, 200, "{:?}", read.body);
        assert_eq!(read.body, put.body, "the stale PUT changed nothing");
        assert_eq!(read.header("etag"), Some(current.as_str()));
        // The same write naming the current version is applied.
        let fresh = scim
            .send(
                "PUT",
                &format!("/Users/{id}"),
                Some(&overwrite.to_string()),
                &[("if-match", &current)],
            )
            .await;
        assert_eq!(fresh.status, 200, "{:?}", fresh.body);
        assert_eq!(fresh.body["displayName"], "Stale write");
        assert_ne!(fresh.header("etag"), Some(current.as_str()));
        let not_modified = scim
            .send(
                "GET",
                &format!("/Users/{id}"),
                None,
                &[("if-none-match", fresh.header("etag").unwrap())],
            )
            .await;
        assert_eq!(not_modified.status, 304);
        server.stop().await;
    }
);

both_backends!(
    disable_keeps_user_readable_and_delete_is_final,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let id = scim.post("/Users", &entra_user("fay@acme.test")).await.id();
        let disable = scim
            .patch(
                &format!("/Users/{id}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            )
            .await;
        assert_eq!(disable.status, 200, "{:?}", disable.body);
        assert_eq!(disable.body["active"], false);
        let found = scim
            .get(&format!(
                "/Users?{}",
                filter(r#"userName eq "fay@acme.test""#)
            ))
            .await;
        assert_eq!(found.body["Resources"][0]["active"], false);

        assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
        assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 404);
        assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 404);
        // The userName is free again for a new user.
        assert_eq!(
            scim.post("/Users", &entra_user("fay@acme.test"))
                .await
                .status,
            201
        );
        server.stop().await;
    }
);

both_backends!(
    discovery_endpoints_describe_what_is_implemented,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let spc = scim.get("/ServiceProviderConfig").await;
        assert_eq!(spc.status, 200);
        assert_eq!(spc.body["patch"]["supported"], true);
        assert_eq!(spc.body["bulk"]["supported"], false);
        assert_eq!(spc.body["etag"]["supported"], true);
        assert_eq!(spc.body["sort"]["supported"], true);
        let schemas = scim.get("/Schemas").await;
        let ids: Vec<&str> = schemas.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        for urn in [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
        ] {
            assert!(ids.contains(&urn), "{urn} missing from /Schemas");
            assert_eq!(scim.get(&format!("/Schemas/{urn}")).await.status, 200);
        }
        let types = scim.get("/ResourceTypes").await;
        assert_eq!(types.body["totalResults"], 2);
        assert_eq!(
            scim.get("/ResourceTypes/User").await.body["endpoint"],
            "/Users"
        );
        assert_eq!(scim.send("DELETE", "/Schemas", None, &[]).await.status, 405);
        assert_eq!(
            scim.get(&format!("/Schemas?{}", filter("id pr")))
                .await
                .status,
            403
        );
        let nowhere = scim.get("/Nowhere").await;
        assert_eq!(nowhere.status, 404);
        assert_eq!(nowhere.body["status"], "404");
        server.stop().await;
    }
);
