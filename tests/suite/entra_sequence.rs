//! The requests Entra ID sends, as documented in shared/reference/entra-scim.md, in both PATCH
//! dialects (default and `aadOptscim062020`), plus tenant isolation between two organizations.

use crate::common::{entra_body, filter, tenant, Backend, Reply, Scim, TestServer};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// Entra's create-user request (entra-scim.md), for `user_name` and `external_id`.
fn entra_create(user_name: &str, external_id: &str) -> Value {
    entra_body(
        "create-user.json",
        &[("userName", user_name), ("externalId", external_id)],
    )
}

/// The answer to a PATCH that removed user `id`'s manager: a 200 with the user, no manager in
/// it, and none when the user is read back; the rest of the enterprise extension is kept.
async fn assert_manager_removed(scim: &Scim<'_>, id: &str, reply: &Reply) {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["id"], id);
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(read.body, reply.body, "the answer is what is stored");
    assert_eq!(
        read.body[ENTERPRISE].get("manager"),
        None,
        "{:?}",
        read.body
    );
    assert!(
        read.body[ENTERPRISE]["employeeNumber"].is_string(),
        "only the manager goes: {:?}",
        read.body
    );
}

both_backends!(entra_default_dialect, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = TestServer::start(backend, &[&acme]).await;
    let scim = server.scim(&acme);

    // Test Connection: a random GUID, expecting an empty ListResponse, never 404.
    let probe = scim
        .get(&format!(
            "/Users?{}",
            filter(r#"userName eq "5e1d9ad8-6f55-4c3a-9ad2-0d3b0b2f3e1a""#)
        ))
        .await;
    assert_eq!(probe.status, 200);
    assert_eq!(probe.body["totalResults"], 0);
    assert_eq!(
        probe.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );

    // Match, then create.
    let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@testuser.com";
    assert_eq!(
        scim.get(&format!(
            "/Users?{}",
            filter(&format!(r#"userName eq "{user_name}""#))
        ))
        .await
        .body["totalResults"],
        0
    );
    let created = scim
        .post(
            "/Users",
            &entra_create(user_name, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(created.body[ENTERPRISE]["department"], "Tour Operations");
    let by_external = scim
        .get(&format!(
            "/Users?{}",
            filter(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#)
        ))
        .await;
    assert_eq!(by_external.body["Resources"][0]["id"], id.as_str());
    let by_email = scim
        .get(&format!(
            "/Users?{}",
            filter(&format!(r#"emails[type eq "work"].value eq "{user_name}""#))
        ))
        .await;
    assert_eq!(by_email.body["totalResults"], 1);

    // Replace, one capitalised op per attribute.
    let replaced = scim
        .patch(
            &format!("/Users/{id}"),
            &entra_body("update-user.json", &[]),
        )
        .await;
    assert_eq!(replaced.status, 200, "{:?}", replaced.body);
    let user = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(user["displayName"], "Pvlo");
    assert_eq!(user["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(user["emails"][0]["type"], "work");
    assert_eq!(user["name"]["givenName"], "Gtfd");
    assert_eq!(user["externalId"], "Eqpj");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(
        user["phoneNumbers"],
        json!([{"type": "mobile", "value": "55555555555"}]),
        "stored exactly as sent"
    );
    assert_eq!(user["nickName"], "Babs");
    // The new email value is what the index now finds.
    let by_new_email = scim
        .get(&format!(
            "/Users?{}",
            filter(r#"emails.value eq "testbcwqnm@test.microsoft.com""#)
        ))
        .await;
    assert_eq!(by_new_email.body["totalResults"], 1);

    // Manager: a bare string, and the old array form; always returned as {value}.
    let boss = scim
        .post("/Users", &entra_create("boss@testuser.com", "boss"))
        .await
        .id();
    let manager = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(
                json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}]),
            ),
        )
        .await;
    assert_eq!(manager.status, 200, "{:?}", manager.body);
    assert_eq!(manager.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    let check = scim
        .get(&format!(
            "/Users?attributes=id&{}",
            filter(&format!(r#"id eq "{id}" and manager eq "{boss}""#))
        ))
        .await;
    assert_eq!(check.body["totalResults"], 1);
    let legacy = scim
        .patch(&format!("/Users/{id}"), &patch_op(json!([{"op": "Add", "path": "manager", "value": [{"$ref": format!("../Users/{boss}"), "value": boss}]}])))
        .await;
    assert_eq!(legacy.status, 200, "{:?}", legacy.body);
    assert_eq!(legacy.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    let cleared = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(
                json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": ""}]),
            ),
        )
        .await;
    assert_manager_removed(&scim, &id, &cleared).await;

    // Disable with a string boolean; the user stays readable with active false; enable again.
    let disabled = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(disabled.body["active"], false);
    let filtered = scim
        .get(&format!("/Users?{}", filter(r#"externalId eq "Eqpj""#)))
        .await;
    assert_eq!(filtered.body["Resources"][0]["active"], false);
    let enabled = scim
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "Add", "path": "active", "value": "True"}])),
        )
        .await;
    assert_eq!(enabled.body["active"], true);

    // Groups: match by displayName without members, create, rename, add and remove members.
    assert_eq!(
        scim.get(&format!(
            "/Groups?excludedAttributes=members&{}",
            filter(r#"displayName eq "displayName""#)
        ))
        .await
        .body["totalResults"],
        0
    );
    let group = scim
        .post("/Groups", &entra_body("create-group.json", &[]))
        .await;
    assert_eq!(group.status, 201);
    let gid = group.id();
    assert_eq!(group.body["members"], json!([]));
    let renamed = scim.patch(&format!("/Groups/{gid}"), &patch_op(json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]))).await;
    assert_eq!(renamed.status, 204);
    let add = scim.patch(&format!("/Groups/{gid}"), &patch_op(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}, {"$ref": null, "value": boss}]}]))).await;
    assert_eq!(add.status, 204);
    let remove = scim.patch(&format!("/Groups/{gid}"), &patch_op(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": boss}]}]))).await;
    assert_eq!(remove.status, 204);
    let group = scim.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(
        group["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(group["members"][0]["value"], id.as_str());

    // Hard delete.
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(scim.delete(&format!("/Groups/{gid}")).await.status, 204);
    server.stop().await;
});

both_backends!(
    entra_aad_opt_scim_062020_dialect,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let id = scim
            .post("/Users", &entra_create("flag@testuser.com", "flag"))
            .await
            .id();

        // A path op plus a path-less op whose keys are dotted and URN-qualified paths.
        let replaced = scim
        .patch(&format!("/Users/{id}"), &patch_op(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                format!("{ENTERPRISE}:employeeNumber"): "Aklq"}}
        ])))
        .await;
        assert_eq!(replaced.status, 200, "{:?}", replaced.body);
        let user = scim.get(&format!("/Users/{id}")).await.body;
        assert_eq!(user["displayName"], "Bjfe");
        assert_eq!(user["name"]["givenName"], "Kkom");
        assert_eq!(user["name"]["familyName"], "Unua");
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "Aklq");
        assert!(
            user.get("name.givenName").is_none(),
            "dotted keys are paths, not attribute names"
        );
        assert_eq!(user["emails"][0]["value"], "TestMhvaes@test.microsoft.com");

        let renamed = scim
            .patch(
                &format!("/Users/{id}"),
                &patch_op(
                    json!([{"op": "replace", "value": {"userName": "renamed@testuser.com"}}]),
                ),
            )
            .await;
        assert_eq!(renamed.body["userName"], "renamed@testuser.com");
        assert_eq!(
            scim.get(&format!(
                "/Users?{}",
                filter(r#"userName eq "renamed@testuser.com""#)
            ))
            .await
            .body["totalResults"],
            1
        );
        assert_eq!(
            scim.get(&format!(
                "/Users?{}",
                filter(r#"userName eq "flag@testuser.com""#)
            ))
            .await
            .body["totalResults"],
            0
        );

        let manager = scim.patch(&format!("/Users/{id}"), &patch_op(json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "AXTKDLNRKMKT"}}]))).await;
        assert_eq!(manager.body[ENTERPRISE]["manager"]["value"], "AXTKDLNRKMKT");
        let removed = scim
            .patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager")}])),
            )
            .await;
        assert_manager_removed(&scim, &id, &removed).await;

        let disabled = scim
            .patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
            )
            .await;
        assert_eq!(disabled.body["active"], false);

        let gid = scim
            .post("/Groups", &json!({"displayName": "Flagged"}))
            .await
            .id();
        assert_eq!(
            scim.patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]))
            )
            .await
            .status,
            204
        );
        let remove = scim
            .patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
            )
            .await;
        assert_eq!(remove.status, 204);
        assert_eq!(
            scim.get(&format!("/Groups/{gid}")).await.body["members"],
            json!([])
        );
        server.stop().await;
    }
);

both_backends!(tenants_never_cross, |backend: Backend| async move {
    let acme = tenant("acme");
    let globex = tenant("globex");
    let server = TestServer::start(backend, &[&acme, &globex]).await;
    let a = server.scim(&acme);
    let g = server.scim(&globex);
    let acme_user = a
        .post("/Users", &entra_create("shared@x.test", "a-1"))
        .await
        .id();
    let acme_group = a
        .post(
            "/Groups",
            &json!({"displayName": "Team", "members": [{"value": acme_user}]}),
        )
        .await
        .id();
    let globex_user = g
        .post("/Users", &entra_create("shared@x.test", "g-1"))
        .await
        .id();
    assert_ne!(acme_user, globex_user);

    // Reads, lists and filters see only the caller's organization.
    assert_eq!(g.get(&format!("/Users/{acme_user}")).await.status, 404);
    assert_eq!(g.get(&format!("/Groups/{acme_group}")).await.status, 404);
    assert_eq!(g.get("/Users").await.body["totalResults"], 1);
    assert_eq!(g.get("/Groups").await.body["totalResults"], 0);
    assert_eq!(
        g.get(&format!("/Users?{}", filter(r#"externalId eq "a-1""#)))
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        g.get(&format!(
            "/Groups?{}",
            filter(&format!(r#"members[value eq "{acme_user}"]"#))
        ))
        .await
        .body["totalResults"],
        0
    );
    // Writes cannot reach across either.
    assert_eq!(
        g.patch(
            &format!("/Users/{acme_user}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}]))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        g.put(
            &format!("/Users/{acme_user}"),
            &entra_create("x@x.test", "x")
        )
        .await
        .status,
        404
    );
    assert_eq!(g.delete(&format!("/Users/{acme_user}")).await.status, 404);
    assert_eq!(g.delete(&format!("/Groups/{acme_group}")).await.status, 404);
    let globex_group = g
        .post("/Groups", &json!({"displayName": "Team"}))
        .await
        .id();
    let smuggle = g
        .patch(
            &format!("/Groups/{globex_group}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": acme_user}]}])),
        )
        .await;
    assert_eq!(
        smuggle.status, 400,
        "another organization's user cannot join"
    );
    // And acme's data is untouched.
    let user = a.get(&format!("/Users/{acme_user}")).await;
    assert_eq!(user.body["active"], true);
    assert_eq!(
        a.get(&format!("/Groups/{acme_group}")).await.body["members"][0]["value"],
        acme_user.as_str()
    );
    server.stop().await;
});
