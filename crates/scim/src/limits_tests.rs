//! How [`depth`] and [`values`] count, and the body limits of [`check_body`].

use serde_json::{json, Value};

use super::*;

#[test]
fn depth_counts_containers() {
    let table = [
        (json!("x"), 0),
        (json!(null), 0),
        (json!({}), 1),
        (json!({"value": "x"}), 1),
        (json!([{"value": "x"}]), 2),
        (json!({"urn:x": {"manager": {"value": "m"}}}), 3),
        (json!([1, [2, [3, [4]]], {"a": 1}]), 4),
    ];
    for (value, expected) in table {
        assert_eq!(depth(&value), expected, "{value}");
    }
    // Deeper than any stack would allow a recursive walk (serde_json stops at 128 when
    // parsing, but a value can be built deeper).
    let very = (0..100_000).fold(json!(1), |inner, _| Value::Array(vec![inner]));
    assert_eq!(depth(&very), 100_000);
    std::mem::forget(very); // dropping it would recurse 100,000 deep
}

#[test]
fn values_count_listed_elements() {
    let table = [
        (json!("x"), 1),
        (json!({"value": "x"}), 1),
        (json!([{"value": "a", "display": "A"}, {"value": "b"}]), 2),
        (
            json!({"name": {"givenName": "g", "familyName": "f"}, "title": "t"}),
            3,
        ),
        (json!({"members": [{"value": "a"}, {"value": "b"}, "c"]}), 3),
        (json!([]), 0),
        (json!({}), 0),
    ];
    for (value, expected) in table {
        assert_eq!(values(&value), expected, "{value}");
    }
}

#[test]
fn bodies_past_the_limits_are_too_many() {
    let emails = |n: usize| -> Value {
        Value::Array((0..n).map(|i| json!({"value": format!("{i}@x")})).collect())
    };
    let nested = |n: usize| (0..n).fold(json!("x"), |inner, _| json!({ "a": inner }));
    assert!(check_body(&json!({"userName": "u", "emails": emails(MAX_WRITE_VALUES - 1)})).is_ok());
    assert!(check_body(&json!({"userName": "u", "x": nested(MAX_VALUE_DEPTH)})).is_ok());
    for (body, limit) in [
        (
            json!({"userName": "u", "emails": emails(MAX_WRITE_VALUES)}),
            MAX_WRITE_VALUES,
        ),
        (
            json!({"displayName": "g", "members": emails(5_000)}),
            MAX_WRITE_VALUES,
        ),
        (
            json!({"userName": "u", "x": nested(MAX_VALUE_DEPTH + 1)}),
            MAX_VALUE_DEPTH,
        ),
    ] {
        let err = check_body(&body).expect_err("past a limit");
        assert_eq!(err.scim_type, Some(ScimType::TooMany));
        assert!(
            err.detail.contains(&format!("limit of {limit}")),
            "{}",
            err.detail
        );
    }
}

#[test]
fn a_path_holds_the_longest_filter_and_a_body_the_most_values() {
    use crate::path::PatchPath;
    // The longest filter, inside a URN-qualified attribute's brackets, with a sub-attribute.
    let filter = format!("value eq \"{}\"", "x".repeat(MAX_FILTER_LENGTH - 11));
    assert_eq!(filter.len(), MAX_FILTER_LENGTH);
    let path = format!("urn:ietf:params:scim:schemas:core:2.0:User:emails[{filter}].display");
    assert!(PatchPath::parse(&path).is_ok());
    assert!(PatchPath::parse(&"a".repeat(MAX_PATH_LENGTH)).is_ok());
    let err = PatchPath::parse(&"a".repeat(9 * 1024)).expect_err("9 KiB");
    assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
    assert_eq!(
        err.detail,
        "The path is 9216 bytes long, more than the limit of 8704"
    );
    // RFC 7644 §3.5.2.1's member add, with MAX_WRITE_VALUES members, fits in a body.
    let members: Vec<Value> = (0..MAX_WRITE_VALUES)
        .map(|i| {
            let id = format!("2819c223-7f76-453a-919d-{i:012}");
            json!({"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{id}"), "value": id})
        })
        .collect();
    let body = json!({
        "schemas": [crate::PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": members}]
    });
    let bytes = body.to_string().len();
    assert!(
        bytes > 10 * 1024 && bytes <= MAX_WRITE_BODY_BYTES,
        "{bytes}"
    );
}
