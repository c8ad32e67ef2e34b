//! Attribute mutability over HTTP (RFC 7643 §2.2, §7; RFC 7644 §3.3, §3.5.1, §3.5.2): readOnly
//! values in a POST or PUT body are ignored (`id`, `meta`, a user's `groups`); a PATCH aimed at
//! a readOnly attribute is 400 `mutability`, while the `id` and `meta` that clients echo inside
//! a path-less value are ignored (entra-scim.md §2.3); changing an immutable value (a member's
//! `value`) is 400 `mutability`. What is refused changes nothing.

use serde_json::{json, Value};

use super::{assert_scim_error, assert_unchanged, group_of_the_first, member_ids, patch_op};
use crate::common::{entra_user, tenant, Backend, Reply, TestServer};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const FORGED_ID: &str = "0badc0de-0000-4000-8000-000000000001";

/// The server-owned members a client might send: an id of its choosing and a `meta` claiming
/// another origin, another age and another version.
fn with_server_owned(mut body: Value, resource_type: &str) -> Value {
    body["id"] = json!(FORGED_ID);
    body["meta"] = json!({
        "resourceType": resource_type,
        "created": "2001-01-01T00:00:00Z",
        "lastModified": "2001-01-01T00:00:00Z",
        "version": "W/\"99\"",
        "location": format!("https://elsewhere.test/{resource_type}s/{FORGED_ID}")
    });
    body
}

/// A write's 200: still resource `id`, now named `display_name`, at version 2 whatever the
/// client claimed.
fn assert_second_version(reply: &Reply, id: &str, display_name: &str) {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["id"], id);
    assert_eq!(reply.body["displayName"], display_name);
    assert_eq!(reply.body["meta"]["version"], "W/\"2\"");
}

both_backends!(
    read_only_values_in_post_and_put_bodies_are_ignored,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let gid = scim
            .post("/Groups", &json!({"displayName": "Staff"}))
            .await
            .id();
        let group_path = format!("/Groups/{gid}");

        let mut user = with_server_owned(entra_user("ro@acme.test"), "User");
        user["groups"] = json!([{"value": gid, "display": "Staff"}]);
        for (endpoint, body) in [
            ("/Users", user.clone()),
            (
                "/Groups",
                with_server_owned(json!({"displayName": "Forged"}), "Group"),
            ),
        ] {
            let created = scim.post(endpoint, &body).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            let id = created.id();
            assert_ne!(id, FORGED_ID, "{endpoint}: the server picks the id");
            let meta = &created.body["meta"];
            assert_eq!(meta["version"], "W/\"1\"", "{endpoint}");
            assert_ne!(meta["created"], "2001-01-01T00:00:00Z", "{endpoint}");
            assert_ne!(meta["lastModified"], "2001-01-01T00:00:00Z", "{endpoint}");
            let location = server.scim_url(&format!("{endpoint}/{id}"));
            assert_eq!(meta["location"], location.as_str());
            assert_eq!(created.header("location"), Some(location.as_str()));
            let forged = scim.get(&format!("{endpoint}/{FORGED_ID}")).await;
            assert_scim_error(&forged, 404, None, FORGED_ID);
        }
        // The user's claimed `groups` made it no member.
        assert!(member_ids(&scim.get(&group_path).await.body).is_empty());

        // PUT: the id of the URL stays, the version moves by one, whatever the body says.
        let uid = scim.post("/Users", &entra_user("put@acme.test")).await.id();
        let user_path = format!("/Users/{uid}");
        let created_at = scim.get(&user_path).await.body["meta"]["created"].clone();
        let mut replacement = with_server_owned(entra_user("put@acme.test"), "User");
        replacement["groups"] = json!([{"value": gid}]);
        replacement["displayName"] = json!("Replaced");
        let put = scim.put(&user_path, &replacement).await;
        assert_second_version(&put, &uid, "Replaced");
        assert_eq!(put.body["meta"]["created"], created_at);
        assert_eq!(
            put.body["meta"]["location"],
            server.scim_url(&user_path).as_str()
        );
        assert!(put.body.get("groups").is_none(), "{:?}", put.body);
        assert!(member_ids(&scim.get(&group_path).await.body).is_empty());

        let put = scim
            .put(
                &group_path,
                &with_server_owned(json!({"displayName": "Staff 2"}), "Group"),
            )
            .await;
        assert_second_version(&put, &gid, "Staff 2");
        server.stop().await;
    }
);

both_backends!(
    a_patch_aimed_at_a_read_only_attribute_is_400_mutability,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let gid = scim
            .post("/Groups", &json!({"displayName": "Staff"}))
            .await
            .id();
        let uid = scim.post("/Users", &entra_user("ro@acme.test")).await.id();
        let (user_path, group_path) = (format!("/Users/{uid}"), format!("/Groups/{gid}"));
        let user_before = scim.get(&user_path).await;
        let group_before = scim.get(&group_path).await;

        let manager_name = format!("{ENTERPRISE}:manager.displayName");
        let refusals = [
            (
                &user_path,
                json!({"op": "replace", "path": "id", "value": FORGED_ID}),
                "id",
            ),
            (
                &user_path,
                json!({"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}),
                "meta.created",
            ),
            (
                &user_path,
                json!({"op": "add", "path": "groups", "value": [{"value": gid}]}),
                "groups",
            ),
            (
                &user_path,
                json!({"op": "add", "value": {"groups": [{"value": gid}]}}),
                "groups",
            ),
            (
                &user_path,
                json!({"op": "replace", "path": manager_name, "value": "The Boss"}),
                &*manager_name,
            ),
            (&user_path, json!({"op": "remove", "path": "id"}), "id"),
            (
                &group_path,
                json!({"op": "replace", "path": "id", "value": FORGED_ID}),
                "id",
            ),
            (
                &group_path,
                json!({"op": "replace", "path": "meta.version", "value": "W/\"99\""}),
                "meta.version",
            ),
        ];
        for (path, op, attribute) in &refusals {
            // Alone, and after a change that would otherwise be applied: the PATCH is atomic.
            let rename = json!({"op": "replace", "path": "displayName", "value": "Renamed"});
            for ops in [json!([op]), json!([rename, op])] {
                let reply = scim.patch(path, &patch_op(ops)).await;
                assert_scim_error(
                    &reply,
                    400,
                    Some("mutability"),
                    &format!("Attribute '{attribute}' is readOnly"),
                );
            }
        }
        assert_unchanged(&scim, &user_path, &user_before).await;
        assert_unchanged(&scim, &group_path, &group_before).await;
        assert!(member_ids(&group_before.body).is_empty());

        // Echoed inside a path-less value, `id` and `meta` are ignored and the rest applied.
        let echoed = scim
            .patch(
                &user_path,
                &patch_op(json!([{"op": "replace", "value": {
                    "id": FORGED_ID,
                    "meta": {"version": "W/\"99\""},
                    "displayName": "Echoed"
                }}])),
            )
            .await;
        assert_second_version(&echoed, &uid, "Echoed");
        server.stop().await;
    }
);

both_backends!(
    changing_a_members_value_is_400_mutability,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let (first, second, created) = group_of_the_first(&scim, "Pair").await;
        let path = format!("/Groups/{}", created.id());
        let before = scim.get(&path).await;
        let target = format!("members[value eq \"{first}\"].value");
        for op in ["replace", "add"] {
            let reply = scim
                .patch(
                    &path,
                    &patch_op(json!([{"op": op, "path": target, "value": second}])),
                )
                .await;
            assert_scim_error(
                &reply,
                400,
                Some("mutability"),
                &format!("Attribute '{target}' is immutable"),
            );
            assert_unchanged(&scim, &path, &before).await;
        }
        assert_eq!(member_ids(&before.body), vec![first.clone()]);
        server.stop().await;
    }
);
