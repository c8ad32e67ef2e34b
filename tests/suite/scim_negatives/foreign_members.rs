//! A directory names a user of another organization as a group member. Members must be users of
//! the directory's own organization (`provisioning::groups`, `add_members`): every way of adding
//! one (POST, PUT, PATCH with a path, path-less, by value filter) is 400 `invalidValue`, worded
//! exactly as for an id that exists nowhere, so the answer tells nothing about the other
//! organization; nothing changes on either side. Removing such a member removes nothing.

use serde_json::{json, Value};

use super::{assert_scim_error, assert_unchanged, member_ids, patch_op};
use crate::common::{entra_user, filter, tenant, Backend, Reply, TestServer};

const NOWHERE: &str = "00000000-0000-4000-8000-000000000000";

/// The refusal of a member `id`: 400 `invalidValue` saying it is no user of this organization.
fn assert_not_a_member(reply: &Reply, id: &str) {
    assert_scim_error(
        reply,
        400,
        Some("invalidValue"),
        &format!("member {id} is not a user of this organization"),
    );
}

/// The detail of `reply` with `id` blanked: what it says beside the id it was sent.
fn detail_without(reply: &Reply, id: &str) -> String {
    reply.body["detail"]
        .as_str()
        .unwrap_or_default()
        .replace(id, "<id>")
}

both_backends!(
    a_member_from_another_organization_is_refused_and_reveals_nothing,
    |backend: Backend| async move {
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let server = TestServer::start(backend, &[&acme, &globex]).await;
        let (a, g) = (server.scim(&acme), server.scim(&globex));
        let ada = a.post("/Users", &entra_user("ada@acme.test")).await.id();
        let gus = g.post("/Users", &entra_user("gus@globex.test")).await.id();
        let globex_team = g
            .post(
                "/Groups",
                &json!({"displayName": "Globex Team", "members": [{"value": gus}]}),
            )
            .await
            .id();
        let gus_path = format!("/Users/{gus}");
        let globex_team_path = format!("/Groups/{globex_team}");
        let (gus_before, globex_team_before) =
            (g.get(&gus_path).await, g.get(&globex_team_path).await);
        assert_eq!(gus_before.body["groups"][0]["value"], globex_team.as_str());

        // POST: refused as a stranger would be, and no group is made.
        let with =
            |id: &str| json!({"displayName": "Team", "members": [{"value": ada}, {"value": id}]});
        let foreign = a.post("/Groups", &with(&gus)).await;
        assert_not_a_member(&foreign, &gus);
        let unknown = a.post("/Groups", &with(NOWHERE)).await;
        assert_not_a_member(&unknown, NOWHERE);
        assert_eq!(
            detail_without(&foreign, &gus),
            detail_without(&unknown, NOWHERE),
            "the other organization's user reads like an id that exists nowhere"
        );
        assert!(
            !foreign.body.to_string().contains("gus@globex.test"),
            "{:?}",
            foreign.body
        );
        let listed = a.get("/Groups").await;
        assert_eq!(listed.body["totalResults"], 0, "{:?}", listed.body);

        // PUT and every PATCH form, on a group of acme's.
        let team = a
            .post(
                "/Groups",
                &json!({"displayName": "Team", "members": [{"value": ada}]}),
            )
            .await;
        assert_eq!(team.status, 201, "{:?}", team.body);
        let team_path = format!("/Groups/{}", team.id());
        let before = a.get(&team_path).await;
        let gus_only = json!([{"value": gus}]);
        let writes: [(&str, Value); 5] = [
            (
                "PUT",
                json!({"displayName": "Team", "members": [{"value": ada}, {"value": gus}]}),
            ),
            (
                "PATCH",
                patch_op(json!([{"op": "add", "path": "members", "value": gus_only}])),
            ),
            (
                "PATCH",
                patch_op(json!([{"op": "add", "value": {"members": gus_only}}])),
            ),
            (
                "PATCH",
                patch_op(json!([{"op": "replace", "path": "members", "value": gus_only}])),
            ),
            (
                "PATCH",
                patch_op(json!([{
                    "op": "add",
                    "path": format!("members[value eq \"{gus}\"]"),
                    "value": {"display": "Gus"}
                }])),
            ),
        ];
        for (method, body) in &writes {
            let reply = a
                .send(method, &team_path, Some(&body.to_string()), &[])
                .await;
            assert_not_a_member(&reply, &gus);
            assert_unchanged(&a, &team_path, &before).await;
        }

        // Removing the other organization's user from acme's group removes nothing anywhere.
        let removed = a
            .patch(
                &team_path,
                &patch_op(
                    json!([{"op": "remove", "path": format!("members[value eq \"{gus}\"]")}]),
                ),
            )
            .await;
        assert_eq!(removed.status, 204, "{:?}", removed.body);
        assert_eq!(member_ids(&a.get(&team_path).await.body), vec![ada.clone()]);

        // acme sees nothing of globex; globex's user and group are as they were.
        let lookup = a
            .get(&format!(
                "/Groups?{}",
                filter(&format!("members[value eq \"{gus}\"]"))
            ))
            .await;
        assert_eq!(lookup.body["totalResults"], 0, "{:?}", lookup.body);
        assert_eq!(a.get(&gus_path).await.status, 404);
        assert_unchanged(&g, &gus_path, &gus_before).await;
        assert_unchanged(&g, &globex_team_path, &globex_team_before).await;
        server.stop().await;
    }
);
