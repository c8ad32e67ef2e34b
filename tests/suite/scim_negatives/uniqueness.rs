//! Renaming onto a name another resource of the organization holds (RFC 7644 §3.5.1, §3.5.2:
//! 409 `uniqueness`): a user's `userName`, a group's `displayName`, compared without case, by
//! PATCH (with a path and path-less, as Entra's two dialects send it) and by PUT. Nothing
//! changes, on either resource; renaming a resource onto its own name in another case is fine.

use serde_json::{json, Value};

use super::{assert_scim_error, assert_unchanged, member_ids, patch_op};
use crate::common::{entra_user, filter, tenant, Backend, Scim, TestServer};

/// The writes that would rename `path` to `name`: PATCH with a path, path-less PATCH, PUT.
fn renames(attribute: &str, name: &str, put_body: Value) -> [(&'static str, Value); 3] {
    [
        (
            "PATCH",
            patch_op(json!([{"op": "replace", "path": attribute, "value": name}])),
        ),
        (
            "PATCH",
            patch_op(json!([{"op": "replace", "value": {attribute: name}}])),
        ),
        ("PUT", put_body),
    ]
}

/// Each rename of `path` onto the taken `name` is 409 `uniqueness` naming it, and neither
/// `path` nor `holder` (the resource holding the name) changed.
async fn refused(scim: &Scim<'_>, path: &str, holder: &str, writes: &[(&str, Value)], name: &str) {
    let before = scim.get(path).await;
    let holder_before = scim.get(holder).await;
    for (method, body) in writes {
        let reply = scim.send(method, path, Some(&body.to_string()), &[]).await;
        assert_scim_error(
            &reply,
            409,
            Some("uniqueness"),
            &format!("{name:?} is already taken in this organization"),
        );
        assert_unchanged(scim, path, &before).await;
        assert_unchanged(scim, holder, &holder_before).await;
    }
}

both_backends!(
    renaming_a_user_onto_a_taken_user_name_is_409,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let ann = scim.post("/Users", &entra_user("ann@acme.test")).await.id();
        let bob = scim.post("/Users", &entra_user("bob@acme.test")).await.id();
        let (ann_path, bob_path) = (format!("/Users/{ann}"), format!("/Users/{bob}"));

        let taken = "ANN@Acme.Test";
        let mut put = entra_user(taken);
        put["externalId"] = json!("ext-bob@acme.test");
        let writes = renames("userName", taken, put);
        refused(&scim, &bob_path, &ann_path, &writes, taken).await;
        let found = scim
            .get(&format!(
                "/Users?{}",
                filter(r#"userName eq "ann@acme.test""#)
            ))
            .await;
        assert_eq!(found.body["totalResults"], 1, "{:?}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], ann.as_str());

        // Bob's own name in another case is his to take.
        let recased = scim
            .patch(
                &bob_path,
                &patch_op(json!([{"op": "replace", "path": "userName", "value": "BOB@acme.test"}])),
            )
            .await;
        assert_eq!(recased.status, 200, "{:?}", recased.body);
        assert_eq!(recased.body["userName"], "BOB@acme.test");
        assert_eq!(recased.header("etag"), Some("W/\"2\""));
        server.stop().await;
    }
);

both_backends!(
    renaming_a_group_onto_a_taken_display_name_is_409,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let member = scim.post("/Users", &entra_user("m@acme.test")).await.id();
        let sales = scim
            .post("/Groups", &json!({"displayName": "Sales"}))
            .await
            .id();
        let legal = scim
            .post(
                "/Groups",
                &json!({"displayName": "Legal", "members": [{"value": member}]}),
            )
            .await
            .id();
        let (sales_path, legal_path) = (format!("/Groups/{sales}"), format!("/Groups/{legal}"));

        let taken = "SALES";
        // The PUT would also drop Legal's member: refused whole.
        let writes = renames(
            "displayName",
            taken,
            json!({"displayName": taken, "members": []}),
        );
        refused(&scim, &legal_path, &sales_path, &writes, taken).await;
        assert_eq!(
            member_ids(&scim.get(&legal_path).await.body),
            vec![member.clone()]
        );
        let found = scim
            .get(&format!("/Groups?{}", filter(r#"displayName eq "sales""#)))
            .await;
        assert_eq!(found.body["totalResults"], 1, "{:?}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], sales.as_str());

        let recased = scim
            .patch(
                &legal_path,
                &patch_op(json!([{"op": "replace", "path": "displayName", "value": "LEGAL"}])),
            )
            .await;
        assert_eq!(recased.status, 204, "{:?}", recased.body);
        assert_eq!(scim.get(&legal_path).await.body["displayName"], "LEGAL");
        server.stop().await;
    }
);
