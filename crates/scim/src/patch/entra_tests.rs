//! PATCH bodies exactly as Entra and Microsoft's validators send them
//! (entra-scim.md §2.3–§2.7, §4, §7), in both dialects.

use serde_json::{json, Value};

use crate::fixtures::bjensen;
use crate::patch::{apply, PatchRequest};
use crate::schema::{self, ResourceSchema};
use crate::{ScimError, ScimType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const ENT: &str = ENTERPRISE_USER_SCHEMA;

pub(super) fn patch(
    resource: &Value,
    operations: Value,
    schema: &ResourceSchema,
) -> Result<Value, ScimError> {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    let request = PatchRequest::from_json(&body)?;
    let mut out = resource.clone();
    apply(&mut out, &request, schema)?;
    Ok(out)
}

fn user(operations: Value) -> Value {
    patch(&bjensen(), operations, schema::user()).expect("patch applies")
}

fn plain_user() -> Value {
    json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "Test_User_1", "active": true,
           "emails": [{"primary": true, "type": "work", "value": "old@testuser.com"}],
           "meta": {"resourceType": "User"}})
}

#[test]
fn update_user_multi_valued_properties_default_dialect() {
    // §2.3 "Update User [Multi-valued properties]".
    let out = user(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
    ]));
    assert_eq!(
        out["emails"][0],
        json!({"value": "updatedEmail@microsoft.com", "type": "work", "primary": true})
    );
    assert_eq!(out["emails"][1], bjensen()["emails"][1]);
    assert_eq!(out["name"]["familyName"], "updatedFamilyName");
    assert_eq!(out["name"]["givenName"], "Barbara");
}

#[test]
fn single_valued_updates_in_both_dialects() {
    for op in ["Replace", "replace"] {
        let out = user(json!([{"op": op, "path": "userName", "value": "5b50642d@testuser.com"}]));
        assert_eq!(out["userName"], "5b50642d@testuser.com");
    }
    for op in ["Add", "add"] {
        let out = patch(
            &plain_user(),
            json!([{"op": op, "path": "nickName", "value": "Babs"}]),
            schema::user(),
        )
        .expect("adds");
        assert_eq!(out["nickName"], "Babs");
    }
    // Validator "Update User userName": path-less.
    let out = user(json!([{"op": "replace", "value": {"userName": "renamed@example.com"}}]));
    assert_eq!(out["userName"], "renamed@example.com");
}

#[test]
fn replace_multiple_attributes_without_flag() {
    // MS-COMPAT: one op per attribute, capitalised.
    let out = user(json!([
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
    ]));
    assert_eq!(out["displayName"], "Pvlo");
    assert_eq!(out["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(out["name"]["givenName"], "Gtfd");
    assert_eq!(out["name"]["familyName"], "Pkqf");
    assert_eq!(out["externalId"], "Eqpj");
    assert_eq!(out[ENT]["employeeNumber"], "Eqpj");
}

#[test]
fn replace_multiple_attributes_with_flag_resolves_keys_as_paths() {
    // MS-COMPAT with aadOptscim062020: dotted and URN-qualified keys are paths.
    let out = user(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}
    ]));
    assert_eq!(out["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    assert_eq!(out["displayName"], "Bjfe");
    assert_eq!(out["name"]["givenName"], "Kkom");
    assert_eq!(out["name"]["familyName"], "Unua");
    assert_eq!(out["name"]["middleName"], "Jane");
    assert_eq!(out[ENT]["employeeNumber"], "Aklq");
    for stray in [
        "name.givenName",
        "name.familyName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ] {
        assert!(out.get(stray).is_none(), "{stray} stored as a literal key");
    }
}

#[test]
fn filtered_paths_that_match_nothing_create_the_element() {
    let out = patch(
        &plain_user(),
        json!([
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1 555 0101"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Add", "path": "addresses[type eq \"other\"].Formatted", "value": "PO Box 1"},
            {"op": "replace", "path": "emails[type eq \"other\"].Value", "value": "other@x.org"}
        ]),
        schema::user(),
    )
    .expect("upserts");
    assert_eq!(
        out["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}, {"type": "fax", "value": "+1 555 0101"}])
    );
    assert_eq!(
        out["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"},
               {"type": "other", "formatted": "PO Box 1"}])
    );
    assert_eq!(
        out["emails"][1],
        json!({"type": "other", "value": "other@x.org"})
    );
    // Phone numbers are stored exactly as sent (MS-TUT).
    assert_eq!(out["phoneNumbers"][0]["value"], "+1 555 0100");
}

#[test]
fn manager_in_every_shape() {
    let mgr = |out: &Value| out[ENT]["manager"].clone();
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let base = plain_user();
    // Observed Entra form: a bare string.
    let out = patch(
        &base,
        json!([{"op": "Add", "path": path, "value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"}]),
        schema::user(),
    )
    .expect("bare string");
    assert_eq!(
        mgr(&out),
        json!({"value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"})
    );
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
    // Validator form: {"value": …}, then replace with the same shape.
    let out = patch(
        &out,
        json!([{"op": "add", "path": path, "value": {"value": "AXTKDLNRKMKT"}}]),
        schema::user(),
    )
    .expect("object");
    assert_eq!(mgr(&out), json!({"value": "AXTKDLNRKMKT"}));
    let out = patch(
        &out,
        json!([{"op": "replace", "path": path, "value": {"value": "BYULEMOSLNLU"}}]),
        schema::user(),
    )
    .expect("replace");
    assert_eq!(mgr(&out), json!({"value": "BYULEMOSLNLU"}));
    // Pre-2018 docs: unqualified `manager`, one-element array with $ref.
    let out = patch(
        &out,
        json!([{"op": "Add", "path": "manager",
        "value": [{"$ref": "https://x/Users/M9", "value": "M9"}]}]),
        schema::user(),
    )
    .expect("array");
    assert_eq!(
        mgr(&out),
        json!({"$ref": "https://x/Users/M9", "value": "M9"})
    );
    // Replacing the manager replaces the whole object: no stale $ref.
    let out = patch(
        &out,
        json!([{"op": "Replace", "path": path, "value": "M10"}]),
        schema::user(),
    )
    .expect("string");
    assert_eq!(mgr(&out), json!({"value": "M10"}));
    // Removal: remove op, replace with "", replace with null. The empty extension goes.
    for op in [
        json!({"op": "remove", "path": path}),
        json!({"op": "Replace", "path": path, "value": ""}),
        json!({"op": "replace", "path": path, "value": null}),
        json!({"op": "replace", "path": path, "value": {"value": ""}}),
        json!({"op": "replace", "value": {path: ""}}),
    ] {
        let cleared = patch(&out, json!([op.clone()]), schema::user()).expect("clears");
        assert!(cleared.get(ENT).is_none(), "{op}");
        assert_eq!(cleared["schemas"], json!([USER_SCHEMA]), "{op}");
    }
    // With other enterprise data, only the manager goes.
    let out = user(json!([{"op": "remove", "path": path}]));
    assert!(out[ENT].get("manager").is_none());
    assert_eq!(out[ENT]["department"], "Tour Operations");
}

#[test]
fn disable_and_enable_in_every_dialect() {
    let table = [
        (
            json!({"op": "Replace", "path": "active", "value": "False"}),
            false,
        ),
        (
            json!({"op": "Replace", "path": "active", "value": false}),
            false,
        ),
        (
            json!({"op": "replace", "path": "active", "value": false}),
            false,
        ),
        (
            json!({"op": "replace", "path": "active", "value": "false"}),
            false,
        ),
        (
            json!({"op": "Add", "path": "active", "value": "False"}),
            false,
        ),
        (
            json!({"op": "Replace", "path": "active", "value": "True"}),
            true,
        ),
        (
            json!({"op": "Add", "path": "active", "value": "true"}),
            true,
        ),
        (
            json!({"op": "replace", "value": {"active": "False"}}),
            false,
        ),
    ];
    for (op, expected) in table {
        let start = json!({"userName": "u", "active": !expected});
        let out = patch(&start, json!([op.clone()]), schema::user()).expect("applies");
        // Emitted as a JSON boolean, never the string.
        assert_eq!(out["active"], Value::Bool(expected), "{op}");
    }
    let err = patch(
        &plain_user(),
        json!([{"op": "replace", "path": "active", "value": "no"}]),
        schema::user(),
    )
    .expect_err("not a boolean");
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    // Validator: primary as the string "true".
    let out = patch(
        &plain_user(),
        json!([{"op": "add", "path": "roles",
        "value": [{"value": "admin", "primary": "True"}]}]),
        schema::user(),
    )
    .expect("roles");
    assert_eq!(out["roles"], json!([{"value": "admin", "primary": true}]));
}

#[test]
fn groups_in_both_dialects() {
    let group = json!({"schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "displayName",
                       "externalId": "8aa1a0c0", "members": [{"value": "f648f8d5ea4e4cd38e9c"}, {"value": "u2"}]});
    let g = |ops: Value| patch(&group, ops, schema::group()).expect("group patch");
    let out = g(json!([{"op": "Replace", "path": "displayName", "value": "updatedDisplayName"}]));
    assert_eq!(out["displayName"], "updatedDisplayName");
    let out = g(
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u3"}, {"value": "u2", "display": "U2"}]}]),
    );
    assert_eq!(
        out["members"],
        json!([{"value": "f648f8d5ea4e4cd38e9c"}, {"value": "u2", "display": "U2"}, {"value": "u3"}])
    );
    // Member values are ids: caseExact, and immutable once set.
    let out = g(json!([{"op": "Add", "path": "members", "value": [{"value": "U2"}]}]));
    assert_eq!(out["members"].as_array().map(Vec::len), Some(3));
    let err = patch(
        &group,
        json!([{"op": "replace", "path": "members[value eq \"u2\"].value", "value": "u9"}]),
        schema::group(),
    )
    .expect_err("immutable");
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
    // Default dialect: remove only the listed member.
    let out = g(
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
    );
    assert_eq!(out["members"], json!([{"value": "u2"}]));
    // Flag dialect.
    let out = g(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]));
    assert_eq!(out["members"], json!([{"value": "f648f8d5ea4e4cd38e9c"}]));
    // Validator: path-less replace of externalId, then displayName.
    let out = g(json!([{"op": "replace", "value": {"externalId": "e2"}},
                       {"op": "replace", "value": {"displayName": "renamed", "id": "ignored", "meta": {"x": 1}}}]));
    assert_eq!(out["externalId"], "e2");
    assert_eq!(out["displayName"], "renamed");
    assert_eq!(out["id"], "g1");
    // Removing the last member removes the attribute.
    let out = g(json!([{"op": "remove", "path": "members[value eq \"u2\"]"},
                       {"op": "Remove", "path": "members", "value": [{"value": "f648f8d5ea4e4cd38e9c"}]}]));
    assert!(out.get("members").is_none());
    // Removing a member that is not there is a no-op.
    assert_eq!(
        g(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}])),
        group
    );
}

#[test]
fn scim_null_update_clears_optional_attributes() {
    // MS-GALLERY SCIM_Null_Update: "" then null; both must end up absent.
    for empty in [json!(""), json!(null)] {
        let out = user(json!([
            {"op": "Replace", "path": "title", "value": empty.clone()},
            {"op": "Replace", "path": "name.givenName", "value": empty.clone()},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": empty.clone()},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": empty.clone()},
            {"op": "replace", "value": {"nickName": empty.clone(), "name.familyName": empty.clone()}}
        ]));
        assert!(out.get("title").is_none(), "{empty}");
        assert!(out.get("nickName").is_none(), "{empty}");
        assert!(out["name"].get("givenName").is_none(), "{empty}");
        assert!(out["name"].get("familyName").is_none(), "{empty}");
        assert_eq!(
            out["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}]),
            "{empty}"
        );
        assert!(out[ENT].get("department").is_none(), "{empty}");
    }
    // Add with null asserts nothing; add with "" clears.
    let out = user(json!([{"op": "add", "path": "title", "value": null}]));
    assert_eq!(out["title"], "Tour Guide");
    let out = user(json!([{"op": "add", "path": "title", "value": ""}]));
    assert!(out.get("title").is_none());
}

#[test]
fn rejections() {
    let table = [
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g"}]}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "add", "value": {"groups": [{"value": "g"}]}}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "replace", "path": "manager.displayName", "value": "Boss"}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "remove", "path": "userName"}),
            ScimType::Mutability,
        ),
        (
            json!({"op": "replace", "path": "userName", "value": ""}),
            ScimType::InvalidValue,
        ),
        (
            json!({"op": "replace", "path": "userName", "value": {"a": 1}}),
            ScimType::InvalidValue,
        ),
        (
            json!({"op": "replace", "path": "name", "value": "Barbara"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"op": "replace", "path": "favouriteColour", "value": "blue"}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "replace", "path": "name.nickname", "value": "x"}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "replace", "path": "title.x", "value": "x"}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "replace", "path": "name[givenName eq \"x\"].familyName", "value": "y"}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": "x"}),
            ScimType::InvalidValue,
        ),
        (
            json!({"op": "add", "value": "not an object"}),
            ScimType::InvalidValue,
        ),
    ];
    let start = plain_user();
    for (op, scim_type) in table {
        let mut resource = start.clone();
        let mut with_manager = resource.clone();
        with_manager[ENT] = json!({"manager": {"value": "m"}});
        if op["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("manager"))
        {
            resource = with_manager;
        }
        let err = patch(&resource, json!([op.clone()]), schema::user()).expect_err(&op.to_string());
        assert_eq!(err.scim_type, Some(scim_type), "{op}: {}", err.detail);
    }
}

#[test]
fn filter_without_equalities_and_no_match_is_no_target() {
    let err = patch(
        &plain_user(),
        json!([{"op": "replace",
        "path": "emails[value co \"nowhere\"].display", "value": "x"}]),
        schema::user(),
    )
    .expect_err("noTarget");
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
    // Entra's validator: emails[primary eq true].value on a user without emails creates one.
    let out = patch(
        &json!({"userName": "u"}),
        json!([{"op": "replace",
        "path": "emails[primary eq true].value", "value": "p@x.org"}]),
        schema::user(),
    )
    .expect("upsert");
    assert_eq!(
        out["emails"],
        json!([{"primary": true, "value": "p@x.org"}])
    );
}

#[test]
fn passwords_are_never_stored() {
    let out = patch(
        &plain_user(),
        json!([{"op": "replace", "path": "password", "value": "s3cret"},
                                          {"op": "add", "value": {"password": "s3cret"}}]),
        schema::user(),
    )
    .expect("accepted");
    assert!(out.get("password").is_none());
}

#[test]
fn atomic_on_error() {
    let start = plain_user();
    let mut resource = start.clone();
    let request = PatchRequest::from_json(&json!({"Operations": [
        {"op": "replace", "path": "displayName", "value": "changed"},
        {"op": "replace", "path": "id", "value": "nope"}
    ]}))
    .expect("parses");
    let err = apply(&mut resource, &request, schema::user()).expect_err("second op fails");
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
    assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    assert_eq!(resource, start);
}
