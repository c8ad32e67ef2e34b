//! RFC 7644 §3.14 versioning: a write carrying an `If-Match` that names an older version is
//! 412 and changes nothing; one naming the current version (weak or strong form, in a list,
//! or `*`) is applied. A GET whose `If-None-Match` names the current version is 304 with the
//! `ETag` (RFC 9110 §13.1.2 compares weakly, §15.4.5 keeps the header).

use serde_json::json;

use super::{assert_scim_error, assert_unchanged, group_of_the_first, member_ids, patch_op};
use crate::common::{entra_user, tenant, Backend, Reply, Scim, TestServer};

/// A 412 answering a write whose `If-Match` was `sent` while `current` is the version.
fn assert_precondition_failed(reply: &Reply, sent: &str, current: &str) {
    // 412 carries no scimType (RFC 7644 §3.12 lists it only beside 400 and 409).
    assert_scim_error(reply, 412, None, &format!("If-Match {sent} does not match"));
    assert_scim_error(reply, 412, None, &format!("current version {current}"));
}

fn etag(reply: &Reply) -> String {
    reply
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {:?}", reply.body))
        .to_string()
}

/// `W/"3"` as its strong form `"3"`.
fn strong(tag: &str) -> &str {
    tag.trim_start_matches("W/")
}

/// Each of `writes` (method and body) sent to `path` with `If-Match: stale`: refused, and the
/// resource reads back as `before`.
async fn refused_when_stale(
    scim: &Scim<'_>,
    path: &str,
    stale: &str,
    writes: &[(&str, Option<String>)],
    before: &Reply,
) {
    let current = etag(before);
    for if_match in [stale.to_string(), format!("{stale}, W/\"999\"")] {
        for (method, body) in writes {
            let reply = scim
                .send(method, path, body.as_deref(), &[("if-match", &if_match)])
                .await;
            assert_precondition_failed(&reply, &if_match, &current);
            assert_unchanged(scim, path, before).await;
        }
    }
}

both_backends!(
    a_stale_if_match_refuses_user_patch_put_and_delete,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let created = scim.post("/Users", &entra_user("gil@acme.test")).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let path = format!("/Users/{}", created.id());
        let stale = etag(&created);
        let rename = |name: &str| {
            patch_op(json!([{"op": "replace", "path": "displayName", "value": name}])).to_string()
        };
        let moved = scim.send("PATCH", &path, Some(&rename("Gil")), &[]).await;
        assert_eq!(moved.status, 200, "{:?}", moved.body);
        assert_eq!(etag(&moved), "W/\"2\"");
        let before = scim.get(&path).await;
        assert_eq!(before.body["displayName"], "Gil");

        let mut replacement = entra_user("gil@acme.test");
        replacement["displayName"] = json!("Stale PUT");
        replacement["title"] = json!("Overwritten");
        let writes = [
            ("PATCH", Some(rename("Stale PATCH"))),
            ("PUT", Some(replacement.to_string())),
            ("DELETE", None),
        ];
        refused_when_stale(&scim, &path, &stale, &writes, &before).await;

        // The current version, weak: applied.
        let current = etag(&before);
        let patched = scim
            .send(
                "PATCH",
                &path,
                Some(&rename("Fresh")),
                &[("if-match", &current)],
            )
            .await;
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.body["displayName"], "Fresh");
        assert_eq!(etag(&patched), "W/\"3\"");
        // Strong form of the current version: applied.
        let put = scim
            .send(
                "PUT",
                &path,
                Some(&replacement.to_string()),
                &[("if-match", strong(&etag(&patched)))],
            )
            .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        let read = scim.get(&path).await;
        assert_eq!(read.body["displayName"], "Stale PUT");
        assert_eq!(read.body["title"], "Overwritten");
        assert_eq!(etag(&read), "W/\"4\"");
        // A list naming the current version among others, then `*`.
        let listed = scim
            .send(
                "PATCH",
                &path,
                Some(&rename("Listed")),
                &[("if-match", "W/\"1\", W/\"4\"")],
            )
            .await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        assert_eq!(listed.body["displayName"], "Listed");
        let deleted = scim.send("DELETE", &path, None, &[("if-match", "*")]).await;
        assert_eq!(deleted.status, 204, "{:?}", deleted.body);
        assert_eq!(scim.get(&path).await.status, 404);
        server.stop().await;
    }
);

both_backends!(
    a_stale_if_match_refuses_group_patch_put_and_delete,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let (first, second, created) = group_of_the_first(&scim, "Ops").await;
        let path = format!("/Groups/{}", created.id());
        let stale = etag(&created);
        let renamed = scim
            .patch(
                &path,
                &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ops 2"}])),
            )
            .await;
        assert_eq!(renamed.status, 204, "{:?}", renamed.body);
        let before = scim.get(&path).await;
        assert_eq!(etag(&before), "W/\"2\"");
        assert_eq!(member_ids(&before.body), vec![first.clone()]);

        let add_second =
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": second}]}]))
                .to_string();
        let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Stale"}]));
        let replacement = json!({"displayName": "Stale PUT", "members": [{"value": second}]});
        let writes = [
            // A member change lives in the member table, and is guarded all the same.
            ("PATCH", Some(add_second.clone())),
            ("PATCH", Some(rename.to_string())),
            ("PUT", Some(replacement.to_string())),
            ("DELETE", None),
        ];
        refused_when_stale(&scim, &path, &stale, &writes, &before).await;

        let added = scim
            .send(
                "PATCH",
                &path,
                Some(&add_second),
                &[("if-match", &etag(&before))],
            )
            .await;
        assert_eq!(added.status, 204, "{:?}", added.body);
        let read = scim.get(&path).await;
        let mut both = vec![first.clone(), second.clone()];
        both.sort();
        assert_eq!(member_ids(&read.body), both);
        assert_eq!(etag(&read), "W/\"3\"");
        let put = scim
            .send(
                "PUT",
                &path,
                Some(&replacement.to_string()),
                &[("if-match", strong(&etag(&read)))],
            )
            .await;
        assert_eq!(put.status, 200, "{:?}", put.body);
        assert_eq!(put.body["displayName"], "Stale PUT");
        assert_eq!(member_ids(&put.body), vec![second.clone()]);
        let deleted = scim
            .send("DELETE", &path, None, &[("if-match", &etag(&put))])
            .await;
        assert_eq!(deleted.status, 204, "{:?}", deleted.body);
        assert_eq!(scim.get(&path).await.status, 404);
        server.stop().await;
    }
);

both_backends!(
    if_none_match_on_get_is_304_for_the_current_version_only,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let user = scim.post("/Users", &entra_user("hal@acme.test")).await.id();
        let group = scim
            .post("/Groups", &json!({"displayName": "Watchers"}))
            .await
            .id();
        for (path, change) in [
            (
                format!("/Users/{user}"),
                json!({"op": "replace", "path": "displayName", "value": "Hal"}),
            ),
            (
                format!("/Groups/{group}"),
                json!({"op": "replace", "path": "displayName", "value": "Lookouts"}),
            ),
        ] {
            let stale = etag(&scim.get(&path).await);
            let changed = scim.patch(&path, &patch_op(json!([change]))).await;
            assert!(matches!(changed.status, 200 | 204), "{:?}", changed.body);
            let current = scim.get(&path).await;
            let tag = etag(&current);
            assert_ne!(tag, stale);
            for if_none_match in [
                tag.clone(),
                strong(&tag).to_string(),
                format!("{stale}, {tag}"),
                "*".to_string(),
            ] {
                let reply = scim
                    .send("GET", &path, None, &[("if-none-match", &if_none_match)])
                    .await;
                assert_eq!(reply.status, 304, "{path} If-None-Match {if_none_match}");
                assert_eq!(reply.body, serde_json::Value::Null, "304 has no body");
                assert_eq!(reply.header("etag"), Some(tag.as_str()), "{if_none_match}");
            }
            for if_none_match in [stale.clone(), strong(&stale).to_string()] {
                let reply = scim
                    .send("GET", &path, None, &[("if-none-match", &if_none_match)])
                    .await;
                assert_eq!(reply.status, 200, "{path} If-None-Match {if_none_match}");
                assert_eq!(reply.body, current.body);
                assert_eq!(reply.header("etag"), Some(tag.as_str()));
            }
        }
        server.stop().await;
    }
);
