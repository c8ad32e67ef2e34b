//! `/Groups` through HTTP on both databases: members, uniqueness, projections, member filters.

use crate::common::{entra_user, filter, tenant, Backend, TestServer};
use serde_json::{json, Value};

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

pub(crate) fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

both_backends!(
    group_lifecycle_with_members,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let mut users = Vec::new();
        for name in ["u1@acme.test", "u2@acme.test", "u3@acme.test"] {
            users.push(scim.post("/Users", &entra_user(name)).await.id());
        }
        let mut sorted = users.clone();
        sorted.sort();

        // Entra's group POST, with its extra ADSCIM schema URN and read-only meta.
        let created = scim
        .post("/Groups", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Engineering",
            "meta": {"resourceType": "Group"},
            "members": [{"value": users[0]}]
        }))
        .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let gid = created.id();
        assert_eq!(member_ids(&created.body), vec![users[0].clone()]);
        assert_eq!(
            created.body["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
        );

        let dup = scim
            .post("/Groups", &json!({"displayName": "engineering"}))
            .await;
        assert_eq!(dup.status, 409);
        assert_eq!(dup.scim_type(), Some("uniqueness"));

        // Entra's default dialect: add several members, then remove only the listed one.
        let add = scim
        .patch(&format!("/Groups/{gid}"), &patch_op(json!([
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": users[1]}, {"value": users[2]}]}
        ])))
        .await;
        assert_eq!(add.status, 204, "{:?}", add.body);
        let read = scim.get(&format!("/Groups/{gid}")).await;
        assert_eq!(member_ids(&read.body), sorted);
        let remove_listed = scim
        .patch(&format!("/Groups/{gid}"), &patch_op(json!([
            {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": users[1]}]}
        ])))
        .await;
        assert_eq!(remove_listed.status, 204);
        let read = scim.get(&format!("/Groups/{gid}")).await;
        let mut left = vec![users[0].clone(), users[2].clone()];
        left.sort();
        assert_eq!(
            member_ids(&read.body),
            left,
            "the default dialect removes only listed members"
        );

        // The aadOptscim062020 dialect removes by a value filter.
        let remove_filtered = scim
            .patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([
                    {"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}
                ])),
            )
            .await;
        assert_eq!(remove_filtered.status, 204);
        assert_eq!(
            member_ids(&scim.get(&format!("/Groups/{gid}")).await.body),
            vec![users[2].clone()]
        );

        // Membership lookups Entra and older clients make.
        for f in [
            format!("members[value eq \"{}\"]", users[2]),
            format!("id eq \"{gid}\" and members eq \"{}\"", users[2]),
            format!("members.value eq \"{}\"", users[2]),
        ] {
            let found = scim
                .get(&format!("/Groups?{}&attributes=id", filter(&f)))
                .await;
            assert_eq!(found.body["totalResults"], 1, "{f}: {:?}", found.body);
        }
        let not_member = scim
            .get(&format!(
                "/Groups?{}",
                filter(&format!("members[value eq \"{}\"]", users[0]))
            ))
            .await;
        assert_eq!(not_member.body["totalResults"], 0);

        // Path-less replace of displayName and externalId; the answer is 204.
        let rename = scim
            .patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([
                    {"op": "replace", "value": {"displayName": "Platform", "externalId": "new-ext"}}
                ])),
            )
            .await;
        assert_eq!(rename.status, 204);
        let by_name = scim
            .get(&format!(
                "/Groups?excludedAttributes=members&{}",
                filter(r#"displayName eq "PLATFORM""#)
            ))
            .await;
        assert_eq!(by_name.body["totalResults"], 1);
        assert!(by_name.body["Resources"][0].get("members").is_none());
        assert_eq!(by_name.body["Resources"][0]["externalId"], "new-ext");
        let excluded = scim
            .get(&format!("/Groups/{gid}?excludedAttributes=members"))
            .await;
        assert!(excluded.body.get("members").is_none());
        assert_eq!(excluded.body["displayName"], "Platform");

        // A member who is not a user of this organization is refused, and nothing changes.
        let stranger = scim
            .patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([
                    {"op": "add", "path": "members", "value": [{"value": users[0]}]},
                    {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}
                ])),
            )
            .await;
        assert_eq!(stranger.status, 400);
        assert_eq!(stranger.scim_type(), Some("invalidValue"));
        assert_eq!(
            member_ids(&scim.get(&format!("/Groups/{gid}")).await.body),
            vec![users[2].clone()]
        );

        // A user's groups show on the user.
        let user = scim.get(&format!("/Users/{}", users[2])).await;
        assert_eq!(user.body["groups"][0]["value"], gid.as_str());
        assert_eq!(user.body["groups"][0]["display"], "Platform");

        // PUT replaces the member list.
        let put = scim
        .put(&format!("/Groups/{gid}"), &json!({"displayName": "Platform", "members": [{"value": users[0]}, {"value": users[1]}]}))
        .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        let mut expected = vec![users[0].clone(), users[1].clone()];
        expected.sort();
        assert_eq!(member_ids(&put.body), expected);

        // Deleting a member user takes them out of the group.
        assert_eq!(
            scim.delete(&format!("/Users/{}", users[0])).await.status,
            204
        );
        assert_eq!(
            member_ids(&scim.get(&format!("/Groups/{gid}")).await.body),
            vec![users[1].clone()]
        );

        assert_eq!(scim.delete(&format!("/Groups/{gid}")).await.status, 204);
        assert_eq!(scim.get(&format!("/Groups/{gid}")).await.status, 404);
        assert_eq!(scim.delete(&format!("/Groups/{gid}")).await.status, 404);
        server.stop().await;
    }
);

both_backends!(
    group_patch_with_attributes_answers_the_resource,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let uid = scim.post("/Users", &entra_user("m@acme.test")).await.id();
        let gid = scim
            .post("/Groups", &json!({"displayName": "Sales"}))
            .await
            .id();
        let answered = scim
            .patch(
                &format!("/Groups/{gid}?attributes=members"),
                &patch_op(json!([
                    {"op": "add", "value": {"members": [{"value": uid}]}}
                ])),
            )
            .await;
        assert_eq!(answered.status, 200, "{:?}", answered.body);
        assert_eq!(member_ids(&answered.body), vec![uid.clone()]);
        assert!(
            answered.body.get("displayName").is_none(),
            "attributes=members projects"
        );
        let replaced = scim
            .patch(
                &format!("/Groups/{gid}"),
                &patch_op(json!([{"op": "replace", "path": "members", "value": []}])),
            )
            .await;
        assert_eq!(replaced.status, 204);
        assert!(member_ids(&scim.get(&format!("/Groups/{gid}")).await.body).is_empty());
        server.stop().await;
    }
);
