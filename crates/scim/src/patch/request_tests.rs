//! PatchOp parsing and member-change extraction, on Entra's bodies
//! (entra-scim.md §2.7, §4) and RFC 7644 §3.5.2.

use serde_json::json;

use super::*;
use crate::path::AttrPath;

fn req(body: Value) -> PatchRequest {
    PatchRequest::from_json(&body).expect("parses")
}

#[test]
fn both_dialects_parse() {
    // Default dialect: capitalised ops, Operations first (tutorial "Disable User").
    let r = req(
        json!({"Operations": [{"op": "Replace", "path": "active", "value": false}],
                       "schemas": [crate::PATCH_OP_SCHEMA]}),
    );
    assert_eq!(r.operations.len(), 1);
    assert_eq!(r.operations[0].op, PatchOpKind::Replace);
    assert_eq!(
        r.operations[0].path.as_ref().map(|p| p.attr.name.as_str()),
        Some("active")
    );
    assert_eq!(r.operations[0].value, Some(json!(false)));
    // Flag dialect, lower-case; member names in any case; no schemas at all.
    let r = req(
        json!({"operations": [{"OP": "add", "Path": "nickName", "VALUE": "Babs"},
                                      {"op": "REMOVE", "path": "title"},
                                      {"op": "replace", "value": {"userName": "x"}}]}),
    );
    let kinds: Vec<PatchOpKind> = r.operations.iter().map(|o| o.op).collect();
    assert_eq!(
        kinds,
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
    );
    assert!(r.operations[2].path.is_none());
    // An explicit null value is kept as Some(Null): replace-with-null clears.
    let r = req(json!({"Operations": [{"op": "replace", "path": "title", "value": null}]}));
    assert_eq!(r.operations[0].value, Some(Value::Null));
    // An empty path means "no path".
    let r = req(json!({"Operations": [{"op": "add", "path": "", "value": {"title": "x"}}]}));
    assert!(r.operations[0].path.is_none());
}

#[test]
fn malformed_requests() {
    let table = [
        (json!([]), ScimType::InvalidSyntax, "JSON object"),
        (
            json!({"schemas": []}),
            ScimType::InvalidSyntax,
            "'Operations'",
        ),
        (
            json!({"Operations": {}}),
            ScimType::InvalidSyntax,
            "'Operations'",
        ),
        (
            json!({"Operations": ["add"]}),
            ScimType::InvalidSyntax,
            "Operations[0]",
        ),
        (
            json!({"Operations": [{"op": "merge", "path": "x"}]}),
            ScimType::InvalidSyntax,
            "Unknown op 'merge'",
        ),
        (
            json!({"Operations": [{"path": "x"}]}),
            ScimType::InvalidSyntax,
            "'op'",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "title"}]}),
            ScimType::InvalidValue,
            "requires a 'value'",
        ),
        (
            json!({"Operations": [{"op": "replace"}]}),
            ScimType::InvalidValue,
            "requires a 'value'",
        ),
        (
            json!({"Operations": [{"op": "remove"}]}),
            ScimType::NoTarget,
            "requires a 'path'",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": 1}, {"op": "remove", "path": "emails[type eq]"}]}),
            ScimType::InvalidPath,
            "Operations[1]",
        ),
        (
            json!({"Operations": [{"op": "remove", "path": 7}]}),
            ScimType::InvalidPath,
            "must be a string",
        ),
    ];
    for (body, scim_type, fragment) in table {
        let err = PatchRequest::from_json(&body).expect_err(&body.to_string());
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(scim_type), "{body}");
        assert!(err.detail.contains(fragment), "{body}: {}", err.detail);
    }
}

#[test]
fn member_changes_from_entra_bodies() {
    let table = [
        // entra-scim.md §2.7 add member.
        (
            json!({"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}),
            MultiValuedChange::Add(vec![json!({"value": "f648f8d5ea4e4cd38e9c"})]),
        ),
        // Default dialect removal: only the listed members, never a wipe.
        (
            json!({"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}),
            MultiValuedChange::Remove(vec!["f648f8d5ea4e4cd38e9c".into()]),
        ),
        // Flag dialect removal.
        (
            json!({"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}),
            MultiValuedChange::Remove(vec!["7f4bc1a3-285e-48ae-8202-5accb43efb0e".into()]),
        ),
        (
            json!({"op": "remove", "path": "Members[value eq \"a\" or VALUE eq \"b\"]"}),
            MultiValuedChange::Remove(vec!["a".into(), "b".into()]),
        ),
        // RFC 7644 §3.5.2.2: remove all members.
        (
            json!({"op": "remove", "path": "members"}),
            MultiValuedChange::RemoveAll,
        ),
        (
            json!({"op": "replace", "path": "members", "value": null}),
            MultiValuedChange::RemoveAll,
        ),
        (
            json!({"op": "remove", "path": "members[type eq \"Group\"]"}),
            MultiValuedChange::RemoveWhere(Filter::Compare(
                AttrPath::new("type"),
                CompareOp::Eq,
                CompValue::String("Group".into()),
            )),
        ),
        // RFC 7644 §3.5.2.3 replace all members.
        (
            json!({"op": "replace", "path": "members", "value": [
                {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"},
                {"Display": "James Smith", "VALUE": "08e1d05d"}]}),
            MultiValuedChange::Replace(vec![
                json!({"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"}),
                json!({"display": "James Smith", "value": "08e1d05d"}),
            ]),
        ),
        (
            json!({"op": "add", "path": "members", "value": ["u1", {"value": "u2"}, null]}),
            MultiValuedChange::Add(vec![json!({"value": "u1"}), json!({"value": "u2"})]),
        ),
        (
            json!({"op": "add", "path": "members[value eq \"u3\"]", "value": {"display": "U3"}}),
            MultiValuedChange::Add(vec![json!({"display": "U3", "value": "u3"})]),
        ),
        // An empty id names no member (RFC 7643 §2.5: "" is unassigned).
        (
            json!({"op": "add", "path": "members", "value": ["", "u5"]}),
            MultiValuedChange::Add(vec![json!({"value": "u5"})]),
        ),
        // Bare ids and objects in one removal list.
        (
            json!({"op": "Remove", "path": "members", "value": ["u6", {"value": "u7"}, 8]}),
            MultiValuedChange::Remove(vec!["u6".into(), "u7".into()]),
        ),
        // The path may name the Group schema (RFC 7644 §3.10).
        (
            json!({"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members",
                   "value": [{"value": "u8"}]}),
            MultiValuedChange::Add(vec![json!({"value": "u8"})]),
        ),
    ];
    for (op, expected) in table {
        let (rest, changes) =
            req(json!({"Operations": [op.clone()]})).extract_multi_valued("members");
        assert!(rest.operations.is_empty(), "{op}");
        assert_eq!(changes, vec![expected], "{op}");
    }
}

#[test]
fn extraction_keeps_other_operations_in_order() {
    let body = json!({"Operations": [
        {"op": "Replace", "path": "displayName", "value": "New name"},
        {"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "replace", "value": {"externalId": "e1", "members": [{"value": "u3"}]}},
        {"op": "add", "value": {"members": [{"value": "u4"}]}},
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": "members[value eq \"u2\"].display"}
    ]});
    let (rest, changes) = req(body).extract_multi_valued("members");
    assert_eq!(
        changes,
        vec![
            MultiValuedChange::Add(vec![json!({"value": "u1"}), json!({"value": "u2"})]),
            MultiValuedChange::Replace(vec![json!({"value": "u3"})]),
            MultiValuedChange::Add(vec![json!({"value": "u4"})]),
            MultiValuedChange::Remove(vec!["u1".into()]),
        ]
    );
    assert_eq!(rest.operations.len(), 3);
    assert_eq!(rest.operations[0].value, Some(json!("New name")));
    assert_eq!(rest.operations[1].value, Some(json!({"externalId": "e1"})));
    assert_eq!(
        rest.operations[2]
            .path
            .as_ref()
            .map(|p| p.to_string())
            .as_deref(),
        Some("members[value eq \"u2\"].display")
    );
}

#[test]
fn members_under_another_schema_or_a_path_less_remove_stay_in_the_request() {
    let (rest, changes) = req(json!({"Operations": [
        {"op": "add", "path": "urn:acme:custom:1.0:Group:members", "value": [{"value": "u1"}]}
    ]}))
    .extract_multi_valued("members");
    assert_eq!(changes, []);
    assert_eq!(rest.operations.len(), 1);
    // from_json refuses a path-less remove; one built by hand is left for `apply` to refuse
    // (RFC 7644 §3.5.2.2), never turned into a member change.
    let by_hand = PatchRequest {
        operations: vec![PatchOperation {
            op: PatchOpKind::Remove,
            path: None,
            value: Some(json!({"members": [{"value": "u1"}]})),
        }],
    };
    let (rest, changes) = by_hand.extract_multi_valued("members");
    assert_eq!(changes, []);
    assert_eq!(rest.operations.len(), 1);
    assert_eq!(
        rest.operations[0].value,
        Some(json!({"members": [{"value": "u1"}]}))
    );
    let mut group = crate::fixtures::tour_guides();
    let err = apply(&mut group, &rest, crate::schema::group()).expect_err("no path");
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
    assert_eq!(group, crate::fixtures::tour_guides());
}
