//! Create/replace normalisation tests on Entra's documented bodies (entra-scim.md
//! §2.1, §2.7) and the RFC 7643 §8.3 example.

use serde_json::json;

use super::*;
use crate::fixtures::bjensen;
use crate::{schema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

#[test]
fn entra_user_create_body() {
    // entra-scim.md §2.1, verbatim apart from shortened ids.
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let stored = normalize(body, schema::user()).expect("normalizes");
    assert_eq!(
        stored,
        json!({
            // The enterprise URN is dropped: no enterprise object in the body.
            "schemas": [USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
        })
    );
}

#[test]
fn entra_older_docs_body_with_nulls_and_string_booleans() {
    // Docs Example 2: explicit nulls are "not asserted".
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "UserName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": "True",
        "addresses": null,
        "phoneNumbers": null,
        "title": null,
        "manager": null,
        "emails": [{"Primary": "true", "Type": "work", "Value": "x@testuser.com"}],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "E1", "department": null, "manager": "M1"}
    });
    let stored = normalize(body, schema::user()).expect("normalizes");
    assert_eq!(
        stored,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "x@testuser.com"}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "E1", "manager": {"value": "M1"}}
        })
    );
}

#[test]
fn entra_group_create_body_with_unknown_schema_urn() {
    // entra-scim.md §2.7: the ADSCIM URN is listed but has no object.
    let body = json!({
        "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"}
    });
    let stored = normalize(body, schema::group()).expect("normalizes");
    assert_eq!(
        stored,
        json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName"
        })
    );
    let with_members = json!({
        "displayName": "G",
        "members": [{"value": "u1", "$ref": null}, "u2"]
    });
    assert_eq!(
        normalize(with_members, schema::group()).expect("members")["members"],
        json!([{"value": "u1"}, {"value": "u2"}])
    );
}

#[test]
fn rfc_example_drops_read_only_and_keeps_the_rest() {
    let stored = normalize(bjensen(), schema::user()).expect("normalizes");
    let obj = stored.as_object().expect("object");
    for gone in ["id", "meta", "groups"] {
        assert!(!obj.contains_key(gone), "{gone}");
    }
    assert_eq!(
        stored["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );
    // writeOnly: never stored.
    assert!(stored.get("password").is_none());
    // manager.displayName is readOnly (RFC 7643 §4.3).
    assert_eq!(
        stored[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"
        })
    );
    assert_eq!(stored["emails"], bjensen()["emails"]);
    let mut raw = bjensen();
    raw["PassWord"] = raw["password"].take();
    assert_eq!(take_password(&mut raw).as_deref(), Some("t1meMa$heen"));
    assert!(raw.get("PassWord").is_none() && raw.get("password").is_none());
}

#[test]
fn unknown_extensions_and_attributes_round_trip() {
    let body = json!({
        "schemas": [USER_SCHEMA, "urn:acme:custom:1.0:User"],
        "userName": "a",
        "urn:acme:custom:1.0:User": {"badge": 17, "Floor": {"wing": "B"}},
        "favouriteColour": "blue",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "R&D"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "4130"
    });
    let stored = normalize(body, schema::user()).expect("normalizes");
    assert_eq!(
        stored,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, "urn:acme:custom:1.0:User"],
            "userName": "a",
            "urn:acme:custom:1.0:User": {"badge": 17, "Floor": {"wing": "B"}},
            "favouriteColour": "blue",
            ENTERPRISE_USER_SCHEMA: {"department": "R&D", "costCenter": "4130"}
        })
    );
}

#[test]
fn errors_name_the_attribute() {
    let table = [
        (
            json!([1]),
            schema::user(),
            ScimType::InvalidSyntax,
            "JSON object",
        ),
        (
            json!({"active": true}),
            schema::user(),
            ScimType::InvalidValue,
            "'userName' is required",
        ),
        (
            json!({"userName": ""}),
            schema::user(),
            ScimType::InvalidValue,
            "'userName' is required",
        ),
        (
            json!({"userName": null}),
            schema::user(),
            ScimType::InvalidValue,
            "'userName' is required",
        ),
        (
            json!({"externalId": "x"}),
            schema::group(),
            ScimType::InvalidValue,
            "'displayName' is required",
        ),
        (
            json!({"userName": "a", "active": "yes"}),
            schema::user(),
            ScimType::InvalidValue,
            "'active'",
        ),
        (
            json!({"userName": {"x": 1}}),
            schema::user(),
            ScimType::InvalidValue,
            "'userName'",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "x", "primary": "sometimes"}]}),
            schema::user(),
            ScimType::InvalidValue,
            "'emails.primary'",
        ),
        (
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "x"}),
            schema::user(),
            ScimType::InvalidValue,
            "must be an object",
        ),
    ];
    for (body, schema, scim_type, fragment) in table {
        let err = normalize(body.clone(), schema).expect_err(&body.to_string());
        assert_eq!(err.scim_type, Some(scim_type), "{body}");
        assert!(err.detail.contains(fragment), "{body}: {}", err.detail);
    }
}

#[test]
fn refresh_schemas_follows_extension_objects() {
    let mut user = json!({
        "schemas": [USER_SCHEMA],
        "userName": "a",
        ENTERPRISE_USER_SCHEMA: {"department": "x"},
        "urn:acme:empty:1.0:User": {}
    });
    refresh_schemas(&mut user, schema::user());
    assert_eq!(
        user["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );
    assert!(user.get("urn:acme:empty:1.0:User").is_none());
    user[ENTERPRISE_USER_SCHEMA] = json!({});
    refresh_schemas(&mut user, schema::user());
    assert_eq!(user, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
}

#[test]
fn unqualified_manager_moves_to_the_enterprise_extension() {
    // Entra's older docs put `manager` at the top level.
    let body = json!({"userName": "a", "manager": [{"$ref": "../Users/M", "value": "M"}]});
    let stored = normalize(body, schema::user()).expect("normalizes");
    assert_eq!(
        stored,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            ENTERPRISE_USER_SCHEMA: {"manager": {"$ref": "../Users/M", "value": "M"}}
        })
    );
}

/// `body` normalises to the enterprise user `expected` (its `schemas` added).
fn assert_stored(body: Value, expected: Value) {
    let mut expected = expected;
    expected["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    assert_eq!(normalize(body, schema::user()), Ok(expected));
}

#[test]
fn unknown_attributes_given_as_null_are_not_asserted() {
    // RFC 7643 §2.5: null is "unassigned", for attributes the schema does not define too.
    let body = json!({
        "userName": "a",
        "favouriteColour": null,
        "nickname2": "Babs",
        ENTERPRISE_USER_SCHEMA: {"badge": null, "floor": 3, "department": "R&D"}
    });
    assert_stored(
        body,
        json!({
            "userName": "a",
            "nickname2": "Babs",
            ENTERPRISE_USER_SCHEMA: {"floor": 3, "department": "R&D"}
        }),
    );
}

#[test]
fn urn_qualified_sub_attribute_keys() {
    // RFC 7644 §3.10 paths as body keys: a sub-attribute of a single-valued attribute.
    let body = json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "Barbara",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "M",
        // readOnly (RFC 7643 §4.3): ignored.
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName": "Boss"
    });
    assert_stored(
        body,
        json!({
            "userName": "a",
            "name": {"givenName": "Barbara"},
            ENTERPRISE_USER_SCHEMA: {"manager": {"value": "M"}}
        }),
    );
    // Which element would `emails.value` be? None: a path into a multi-valued attribute.
    let body =
        json!({"userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User:emails.value": "x"});
    let err = normalize(body, schema::user()).expect_err("multi-valued");
    assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
    assert_eq!(err.detail, "Unknown attribute 'emails.value'");
}

#[test]
fn check_required_after_a_patch() {
    // RFC 7643 §4.1.1 userName and §4.2 displayName are required, and strings.
    let table = [
        (json!({"userName": "bjensen"}), schema::user(), None),
        (json!({"userName": ""}), schema::user(), Some("userName")),
        (json!({"userName": 42}), schema::user(), Some("userName")),
        (json!({"userName": null}), schema::user(), Some("userName")),
        (json!({"displayName": "Tour Guides"}), schema::group(), None),
        (
            json!({"displayName": ["Tour Guides"]}),
            schema::group(),
            Some("displayName"),
        ),
        (
            json!(["not an object"]),
            schema::group(),
            Some("displayName"),
        ),
    ];
    for (resource, schema, missing) in table {
        let got = check_required(&resource, schema).err();
        assert_eq!(
            got.as_ref().map(|e| (e.scim_type, e.detail.clone())),
            missing.map(|name| (
                Some(ScimType::InvalidValue),
                format!("Attribute '{name}' is required")
            )),
            "{resource}"
        );
    }
}
