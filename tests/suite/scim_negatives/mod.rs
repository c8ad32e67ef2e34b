//! SCIM requests the server must refuse or treat specially, each through HTTP on both databases
//! (issue 11): preconditions (`If-Match`, `If-None-Match`), renames onto a taken name, members
//! from another organization, filter literals that look like SQL or glob wildcards, paging at
//! its edges, and readOnly and immutable attributes. Every refusal is asserted with its status
//! and SCIM error body (RFC 7644 §3.12), and the resource is read back to show that it did not
//! change.

mod filter_literals;
mod foreign_members;
mod mutability;
mod paging;
mod preconditions;
mod uniqueness;

use serde_json::{json, Value};

use crate::common::{entra_user, Reply, Scim};
pub(crate) use crate::scim_groups::member_ids;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A SCIM error reply (RFC 7644 §3.12): `status` as a string, `scimType` exactly as given
/// (absent when `None`), and a detail containing `detail`.
pub fn assert_scim_error(reply: &Reply, status: u16, scim_type: Option<&str>, detail: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(
        reply.body["schemas"],
        json!([ERROR_SCHEMA]),
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["status"], status.to_string(), "{:?}", reply.body);
    assert_eq!(reply.scim_type(), scim_type, "{:?}", reply.body);
    let said = reply.body["detail"].as_str().unwrap_or_default();
    assert!(said.contains(detail), "{said:?} should say {detail:?}");
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
}

/// The resource at `path` reads back exactly as `before`: the same body and the same ETag.
pub async fn assert_unchanged(scim: &Scim<'_>, path: &str, before: &Reply) {
    let after = scim.get(path).await;
    assert_eq!(after.status, 200, "{path}: {:?}", after.body);
    assert_eq!(after.body, before.body, "{path} changed");
    assert_eq!(after.header("etag"), before.header("etag"), "{path}");
}

/// Users `u1@acme.test` and `u2@acme.test`, and a group `name` whose one member is the first:
/// the two user ids and the group's creation reply.
pub async fn group_of_the_first(scim: &Scim<'_>, name: &str) -> (String, String, Reply) {
    let first = scim.post("/Users", &entra_user("u1@acme.test")).await.id();
    let second = scim.post("/Users", &entra_user("u2@acme.test")).await.id();
    let created = scim
        .post(
            "/Groups",
            &json!({"displayName": name, "members": [{"value": first}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    (first, second, created)
}
