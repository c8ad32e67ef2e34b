//! PATCH targets the schema does not define: attributes under an unknown schema URN, and
//! path-less keys that name no attribute (entra-scim.md §2.3). Their JSON round-trips.

use serde_json::{json, Value};

use super::entra_tests::patch;
use crate::schema;
use crate::{ScimType, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

const ACME: &str = "urn:acme:custom:1.0:User";

fn user(with: Value) -> Value {
    let mut user = json!({"schemas": [USER_SCHEMA], "userName": "bjensen"});
    if let (Some(map), Value::Object(with)) = (user.as_object_mut(), with) {
        map.extend(with);
    }
    user
}

fn applied(resource: &Value, operations: Value) -> Value {
    patch(resource, operations, schema::user()).expect("applies")
}

#[test]
fn a_whole_unknown_extension_is_added_merged_and_replaced_member_by_member() {
    let start = user(json!({ACME: {"badge": "B-17", "floor": 3}}));
    let out = applied(
        &start,
        json!([{"op": "add", "path": ACME, "value": {"wing": "east", "floor": null}}]),
    );
    assert_eq!(
        out[ACME],
        json!({"badge": "B-17", "floor": 3, "wing": "east"})
    );
    // Replace: the members given are set, null ones removed, the others kept.
    let out = applied(
        &start,
        json!([{"op": "replace", "path": ACME, "value": {"badge": null, "floor": 4}}]),
    );
    assert_eq!(out[ACME], json!({"floor": 4}));
    // Under an unknown URN, an object names a whole extension, a scalar an attribute.
    let badge = format!("{ACME}:badge");
    let out = applied(
        &start,
        json!([{"op": "replace", "path": badge, "value": {"number": 18}},
               {"op": "replace", "path": format!("{ACME}:floor"), "value": 4}]),
    );
    assert_eq!(out[ACME], json!({"badge": "B-17", "floor": 4}));
    assert_eq!(out[&badge], json!({"number": 18}));
    // Remove of an extension the resource does not have changes nothing.
    let absent = "urn:acme:other:1.0:User";
    let out = applied(&start, json!([{"op": "remove", "path": absent}]));
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ACME], "userName": "bjensen",
               ACME: {"badge": "B-17", "floor": 3}})
    );
}

#[test]
fn unknown_extensions_keep_the_stored_spelling() {
    let start = user(json!({"URN:ACME:CUSTOM:1.0:USER": {"Badge": "B-17"}}));
    let out = applied(
        &start,
        json!([{"op": "replace", "path": format!("{ACME}:badge"), "value": "B-18"},
               {"op": "add", "path": format!("{ACME}:floor"), "value": 3}]),
    );
    assert_eq!(
        out["URN:ACME:CUSTOM:1.0:USER"],
        json!({"Badge": "B-18", "floor": 3})
    );
    assert!(out.get(ACME).is_none());
    let out = applied(&start, json!([{"op": "remove", "path": ACME}]));
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})
    );
    let out = applied(
        &start,
        json!([{"op": "add", "path": ACME, "value": {"floor": 3}}]),
    );
    assert_eq!(
        out["URN:ACME:CUSTOM:1.0:USER"],
        json!({"Badge": "B-17", "floor": 3})
    );
    assert!(out.get(ACME).is_none());
}

#[test]
fn path_less_unknown_keys_are_stored_as_given() {
    let start = user(
        json!({"favouriteColours": ["blue"], "prefs": {"theme": "dark"},
                            "nickname2": "Babs"}),
    );
    // Add appends to arrays without duplicates and merges objects.
    let out = applied(
        &start,
        json!([{"op": "add", "value": {"favouriteColours": ["red", "blue"],
                                       "prefs": {"lang": "en", "theme": null}}}]),
    );
    assert_eq!(out["favouriteColours"], json!(["blue", "red"]));
    assert_eq!(out["prefs"], json!({"theme": "dark", "lang": "en"}));
    // Replace sets whole values.
    let out = applied(
        &start,
        json!([{"op": "replace", "value": {"favouriteColours": ["red"], "prefs": {"lang": "en"}}}]),
    );
    assert_eq!(out["favouriteColours"], json!(["red"]));
    assert_eq!(out["prefs"], json!({"lang": "en"}));
    // Replace with null and add with "" clear (Entra's SCIM_Null_Update); add null is a no-op.
    let out = applied(
        &start,
        json!([{"op": "replace", "value": {"favouriteColours": null}},
               {"op": "add", "value": {"prefs": ""}},
               {"op": "add", "value": {"nickname2": null}}]),
    );
    assert_eq!(out, user(json!({"nickname2": "Babs"})));
    // A sub-attribute of an unknown attribute.
    let out = applied(
        &start,
        json!([{"op": "add", "value": {"prefs.lang": "en"}}]),
    );
    assert_eq!(out["prefs"], json!({"theme": "dark", "lang": "en"}));
    let out = applied(
        &start,
        json!([{"op": "add", "value": {"nickname2": "Barbara"}}]),
    );
    assert_eq!(out["nickname2"], "Barbara");
}

#[test]
fn path_less_unknown_attributes_of_known_schemas_go_where_the_schema_is() {
    let out = applied(
        &user(json!({})),
        json!([{"op": "add", "value": {
            format!("{ENTERPRISE_USER_SCHEMA}:badge"): "B-17",
            format!("{USER_SCHEMA}:favouriteColour"): "blue"
        }}]),
    );
    assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"badge": "B-17"}));
    assert_eq!(out["favouriteColour"], "blue");
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn a_path_naming_an_unknown_attribute_of_a_known_schema_is_invalid_path() {
    let start = user(json!({}));
    for path in [
        "favouriteColour".to_owned(),
        format!("{USER_SCHEMA}:favouriteColour"),
        format!("{ENTERPRISE_USER_SCHEMA}:badge"),
    ] {
        let err = patch(
            &start,
            json!([{"op": "add", "path": path, "value": "x"}]),
            schema::user(),
        )
        .expect_err(&path);
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
        assert_eq!(
            err.detail,
            format!("Operations[0]: Unknown attribute '{path}'")
        );
    }
    let err = patch(
        &start,
        json!([{"op": "add", "value": {format!("{ACME}:tags[value eq \"x\"]"): "y"}}]),
        schema::user(),
    )
    .expect_err("filter on unknown");
    assert_eq!(
        err.detail,
        format!("Operations[0]: '{ACME}:tags[value eq \"x\"]' is not defined; value filters need a known attribute")
    );
}
