//! The PATCH limits (crate::limits) as tables: at each limit a request parses, one step past
//! it is 400 `tooMany` naming the limit; path filters past theirs are `invalidFilter`.

use serde_json::{json, Value};

use super::*;
use crate::limits::{MAX_FILTER_DEPTH, MAX_PATCH_OPERATIONS, MAX_VALUE_DEPTH, MAX_WRITE_VALUES};

fn body(ops: Vec<Value>) -> Value {
    json!({"schemas": [crate::PATCH_OP_SCHEMA], "Operations": ops})
}

fn replaces(count: usize) -> Value {
    body(
        (0..count)
            .map(|i| json!({"op": "Replace", "path": "displayName", "value": format!("n{i}")}))
            .collect(),
    )
}

fn members(count: usize) -> Value {
    Value::Array(
        (0..count)
            .map(|i| json!({"$ref": null, "value": format!("u{i}")}))
            .collect(),
    )
}

fn deep(depth: usize) -> Value {
    (0..depth).fold(json!("x"), |inner, _| json!([inner]))
}

fn or_ids(count: usize) -> String {
    (0..count)
        .map(|i| format!("value eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[test]
fn requests_at_each_limit_parse() {
    let half = MAX_WRITE_VALUES / 2;
    for request in [
        replaces(MAX_PATCH_OPERATIONS),
        body(vec![
            json!({"op": "Add", "path": "members", "value": members(MAX_WRITE_VALUES)}),
        ]),
        body(vec![
            json!({"op": "Add", "path": "members", "value": members(half)}),
            json!({"op": "Remove", "path": "members", "value": members(MAX_WRITE_VALUES - half)}),
        ]),
        body(vec![
            json!({"op": "add", "value": {"members": members(MAX_WRITE_VALUES)}}),
        ]),
        body(vec![
            json!({"op": "add", "path": "x", "value": deep(MAX_VALUE_DEPTH)}),
        ]),
        // Entra's flag dialect removes by filter: a filter's terms count as values.
        body(vec![
            json!({"op": "remove", "path": format!("members[{}]", or_ids(MAX_WRITE_VALUES))}),
        ]),
    ] {
        PatchRequest::from_json(&request).expect("at the limit");
    }
}

#[test]
fn requests_past_a_limit_are_too_many() {
    let half = MAX_WRITE_VALUES / 2 + 1;
    let table = [
        (replaces(MAX_PATCH_OPERATIONS + 1), MAX_PATCH_OPERATIONS),
        // The report's megabyte: 11,000 operations.
        (replaces(11_000), MAX_PATCH_OPERATIONS),
        (
            body(vec![
                json!({"op": "Add", "path": "members", "value": members(MAX_WRITE_VALUES + 1)}),
            ]),
            MAX_WRITE_VALUES,
        ),
        // Counted across operations.
        (
            body(vec![
                json!({"op": "Add", "path": "members", "value": members(half)}),
                json!({"op": "Remove", "path": "members", "value": members(half)}),
            ]),
            MAX_WRITE_VALUES,
        ),
        // Inside a path-less value (Entra, entra-scim.md §2.3).
        (
            body(vec![
                json!({"op": "add", "value": {"displayName": "x", "members": members(MAX_WRITE_VALUES)}}),
            ]),
            MAX_WRITE_VALUES,
        ),
        // A removal by filter counts the filter's terms.
        (
            body(
                (0..MAX_WRITE_VALUES / 4 + 1)
                    .map(|_| json!({"op": "remove", "path": format!("members[{}]", or_ids(4))}))
                    .collect(),
            ),
            MAX_WRITE_VALUES,
        ),
        (
            body(vec![
                json!({"op": "add", "path": "x", "value": deep(MAX_VALUE_DEPTH + 1)}),
            ]),
            MAX_VALUE_DEPTH,
        ),
        (
            body(vec![
                json!({"op": "add", "value": {"x": deep(MAX_VALUE_DEPTH)}}),
            ]),
            MAX_VALUE_DEPTH,
        ),
        (
            body(vec![json!({"op": "add", "path": "x", "value": deep(120)})]),
            MAX_VALUE_DEPTH,
        ),
    ];
    // MAX_PATCH_OPERATIONS and MAX_WRITE_VALUES are both 100: the detail says which one.
    let err = PatchRequest::from_json(&replaces(MAX_PATCH_OPERATIONS + 1)).expect_err("too many");
    assert_eq!(
        err.detail,
        format!(
            "The PATCH has {} operations, more than the limit of {MAX_PATCH_OPERATIONS}; \
             send them in several requests",
            MAX_PATCH_OPERATIONS + 1
        )
    );
    for (request, limit) in &table {
        let Err(err) = PatchRequest::from_json(request) else {
            panic!("accepted past the limit of {limit}");
        };
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::TooMany), "{}", err.detail);
        assert!(
            err.detail.contains(&format!("limit of {limit}")),
            "{:?} names {limit}",
            err.detail
        );
    }
}

#[test]
fn a_deep_path_filter_is_invalid_filter_in_a_path_and_in_a_path_less_key() {
    let path = format!(
        "emails[{}{}{}].value",
        "(".repeat(2_000),
        "type eq \"work\"",
        ")".repeat(2_000)
    );
    for op in [
        json!({"op": "replace", "path": path, "value": "x"}),
        json!({"op": "replace", "value": {path.clone(): "x"}}),
    ] {
        let request = body(vec![op]);
        // A path-less value's keys are resolved when the request is applied.
        let err = PatchRequest::from_json(&request)
            .and_then(|r| {
                let mut user = json!({"userName": "u"});
                apply(&mut user, &r, crate::schema::user())
            })
            .expect_err("refused");
        assert_eq!(
            err.scim_type,
            Some(ScimType::InvalidFilter),
            "{}",
            err.detail
        );
        assert!(err.detail.contains(&format!("limit of {MAX_FILTER_DEPTH}")));
    }
}
