//! The PATCH engine's rules one by one (RFC 7644 §3.5.2, RFC 7643 §2.4 and §7), each on the
//! RFC 7643 §8.3 Enterprise User or the §8.4 Group, with the whole result or error checked.

use serde_json::{json, Value};

use super::entra_tests::patch;
use crate::fixtures::{bjensen, tour_guides};
use crate::schema;
use crate::{ScimType, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

const ENT: &str = ENTERPRISE_USER_SCHEMA;
const BABS: &str = "2819c223-7f76-453a-919d-413861904646";

fn user(operations: Value) -> Value {
    patch(&bjensen(), operations, schema::user()).expect("patch applies")
}

/// bjensen with `change` made to its JSON by hand.
fn bjensen_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut expected = bjensen();
    change(&mut expected);
    expected
}

fn refused(
    resource: &Value,
    operations: Value,
    schema: &schema::ResourceSchema,
) -> (ScimType, String) {
    let err = patch(resource, operations, schema).expect_err("refused");
    assert_eq!(err.status, 400);
    (err.scim_type.expect("a scimType"), err.detail)
}

#[test]
fn the_whole_enterprise_extension_by_path() {
    // Replace with null removes it; add with null asserts nothing (RFC 7644 §3.5.2.1).
    let out = user(json!([{"op": "replace", "path": ENT, "value": null}]));
    assert!(out.get(ENT).is_none());
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    let out = user(json!([{"op": "add", "path": ENT, "value": null}]));
    assert_eq!(out, bjensen());
    // An object sets the members it names, the others stay.
    let out = user(json!([{"op": "replace", "path": ENT, "value": {"department": "Rides"}}]));
    assert_eq!(out, bjensen_with(|u| u[ENT]["department"] = json!("Rides")));
}

#[test]
fn sub_attributes_of_an_extension_the_resource_lacks() {
    let plain = json!({"schemas": [USER_SCHEMA], "userName": "bjensen"});
    let out = patch(
        &plain,
        json!([{"op": "add", "path": format!("{ENT}:manager.value"), "value": "M"}]),
        schema::user(),
    )
    .expect("creates the extension");
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA, ENT], "userName": "bjensen", ENT: {"manager": {"value": "M"}}})
    );
    let out = patch(
        &plain,
        json!([{"op": "remove", "path": format!("{ENT}:manager.value")},
               {"op": "remove", "path": format!("{ENT}:department")}]),
        schema::user(),
    )
    .expect("nothing to remove");
    assert_eq!(out, plain);
}

#[test]
fn remove_with_a_value() {
    // A single-valued attribute goes whatever the value says.
    let out = user(json!([{"op": "remove", "path": "title", "value": "Someone else"}]));
    assert_eq!(
        out,
        bjensen_with(|u| drop(u.as_object_mut().map(|o| o.remove("title"))))
    );
    let out = user(json!([{"op": "remove", "path": "name.givenName", "value": "Babs"}]));
    assert_eq!(
        out,
        bjensen_with(|u| drop(u["name"].as_object_mut().map(|o| o.remove("givenName"))))
    );
    // A multi-valued one: only the listed values go; with null, all of them.
    let out =
        user(json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}]));
    assert_eq!(out["emails"], json!([bjensen()["emails"][0]]));
    let out = user(json!([{"op": "remove", "path": "emails", "value": null}]));
    assert!(out.get("emails").is_none());
    let out = user(json!([{"op": "remove", "path": "emails", "value": ["nobody@example.com"]}]));
    assert_eq!(out, bjensen());
}

#[test]
fn a_sub_attribute_without_a_filter_is_written_on_every_element() {
    // RFC 7644 §3.5.2.3: "emails.display" with no filter targets all emails.
    let out = user(json!([{"op": "replace", "path": "emails.display", "value": "Babs"}]));
    assert_eq!(
        out["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Babs"},
            {"value": "babs@jensen.org", "type": "home", "display": "Babs"}
        ])
    );
    let out = user(json!([{"op": "remove", "path": "emails.type"}]));
    assert_eq!(
        out["emails"],
        json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
    );
    // Without elements, the first one is created.
    let out = user(json!([{"op": "add", "path": "entitlements.value", "value": "Tour access"}]));
    assert_eq!(out["entitlements"], json!([{"value": "Tour access"}]));
}

#[test]
fn add_replaces_a_reference_whole_and_merges_other_complex_values() {
    // `manager` has a `value`: a new manager brings nothing of the old one along.
    let out = user(json!([{"op": "add", "path": "manager", "value": {"value": "M2"}}]));
    assert_eq!(out[ENT]["manager"], json!({"value": "M2"}));
    // `name` has none: sub-attributes not given stay (RFC 7644 §3.5.2.1).
    let out = user(json!([{"op": "add", "path": "name", "value": {"givenName": "Babs"}}]));
    assert_eq!(
        out,
        bjensen_with(|u| u["name"]["givenName"] = json!("Babs"))
    );
    let out = user(json!([{"op": "replace", "path": "name", "value": {"middleName": "J"}}]));
    assert_eq!(out, bjensen_with(|u| u["name"]["middleName"] = json!("J")));
}

#[test]
fn immutable_values_may_be_set_once_but_not_changed() {
    // RFC 7643 §4.2: a member's `value`, `$ref`, `type` and `display` are immutable.
    let path = format!("members[value eq \"{BABS}\"].display");
    let (scim_type, detail) = refused(
        &tour_guides(),
        json!([{"op": "replace", "path": path, "value": "Barbara Jensen"}]),
        schema::group(),
    );
    assert_eq!(scim_type, ScimType::Mutability);
    assert_eq!(
        detail,
        format!("Operations[0]: Attribute '{path}' is immutable")
    );
    // The same value again is no change.
    let out = patch(
        &tour_guides(),
        json!([{"op": "replace", "path": path, "value": "Babs Jensen"}]),
        schema::group(),
    )
    .expect("unchanged");
    assert_eq!(out, tour_guides());
    // Unassigned before: it may be set.
    let mut group = tour_guides();
    group["members"][0]["type"] = json!("");
    let out = patch(
        &group,
        json!([{"op": "add", "path": format!("members[value eq \"{BABS}\"].type"), "value": "User"}]),
        schema::group(),
    )
    .expect("set once");
    assert_eq!(out["members"][0]["type"], "User");
    group["members"][0]["type"] = json!("Group");
    let (scim_type, _) = refused(
        &group,
        json!([{"op": "add", "path": format!("members[value eq \"{BABS}\"].type"), "value": "User"}]),
        schema::group(),
    );
    assert_eq!(scim_type, ScimType::Mutability);
}

#[test]
fn replacing_a_filtered_element_keeps_the_filter_terms_but_add_merges() {
    let out = user(json!([{"op": "replace", "path": "emails[type eq \"work\"]",
                           "value": {"value": "babs@example.com"}}]));
    assert_eq!(
        out["emails"],
        json!([{"value": "babs@example.com", "type": "work"}, bjensen()["emails"][1]])
    );
    let out = user(json!([{"op": "add", "path": "emails[type eq \"work\"]",
                           "value": {"display": "Work"}}]));
    assert_eq!(
        out["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work"})
    );
    // Removing one phone number by filter keeps the other.
    let out = user(json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}]));
    assert_eq!(out["phoneNumbers"], json!([bjensen()["phoneNumbers"][0]]));
    let out = user(json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]));
    assert_eq!(out["phoneNumbers"], json!([bjensen()["phoneNumbers"][1]]));
}

#[test]
fn errors_name_the_path() {
    let table = [
        (
            json!({"op": "replace", "path": "name[givenName eq \"Barbara\"]", "value": {"givenName": "B"}}),
            ScimType::InvalidPath,
            "'name' is not a multi-valued complex attribute; a value filter cannot select from it",
        ),
        (
            json!({"op": "replace", "path": "title.x", "value": "x"}),
            ScimType::InvalidPath,
            "'title' has no sub-attributes",
        ),
        (
            json!({"op": "replace", "path": "name.nickname", "value": "x"}),
            ScimType::InvalidPath,
            "Unknown sub-attribute in 'name.nickname'",
        ),
        (
            json!({"op": "replace", "path": "manager.displayName", "value": "Boss"}),
            ScimType::Mutability,
            "Attribute 'manager.displayName' is readOnly",
        ),
        (
            json!({"op": "replace", "path": "meta", "value": {}}),
            ScimType::Mutability,
            "Attribute 'meta' is readOnly",
        ),
        (
            json!({"op": "remove", "path": "userName"}),
            ScimType::Mutability,
            "Attribute 'userName' is required and cannot be removed",
        ),
        (
            json!({"op": "replace", "path": "userName", "value": null}),
            ScimType::InvalidValue,
            "Attribute 'userName' is required and cannot be cleared",
        ),
        (
            json!({"op": "replace", "path": "emails[value co \"nowhere\"].display", "value": "x"}),
            ScimType::NoTarget,
            "No value of 'emails' matched the filter in 'emails[value co \"nowhere\"].display'",
        ),
        (
            json!({"op": "add", "path": ENT, "value": "x"}),
            ScimType::InvalidValue,
            "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' must be an object, not \"x\"",
        ),
        (
            json!({"op": "add", "path": ENT, "value": {format!("{USER_SCHEMA}:title"): "x"}}),
            ScimType::InvalidPath,
            "Unexpected schema URN in 'urn:ietf:params:scim:schemas:core:2.0:User:title' inside 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'",
        ),
    ];
    for (op, scim_type, detail) in table {
        let got = refused(&bjensen(), json!([op.clone()]), schema::user());
        assert_eq!(got, (scim_type, format!("Operations[0]: {detail}")), "{op}");
    }
}

#[test]
fn an_element_left_with_only_type_primary_or_display_goes() {
    // Addresses have no `value`: what identifies one is anything beyond these labels.
    let start = json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "addresses": [
        {"type": "work", "primary": true, "locality": "Hollywood"},
        {"type": "home", "locality": "Burbank", "region": "CA"}
    ]});
    let out = patch(
        &start,
        json!([{"op": "remove", "path": "addresses.locality"}]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(out["addresses"], json!([{"type": "home", "region": "CA"}]));
    let out = patch(
        &out,
        json!([{"op": "remove", "path": "addresses[type eq \"home\"].region"}]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})
    );
}

#[test]
fn elements_without_a_defined_value_are_the_same_by_value_or_whole() {
    // Addresses define no `value`; one kept as given still identifies the element.
    let start = json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "addresses": [
        {"value": "A1", "type": "work"}, {"value": "A2", "type": "home"}, {"type": "other", "locality": "Burbank"}
    ]});
    let add = |value: Value| {
        patch(
            &start,
            json!([{"op": "add", "path": "addresses", "value": value}]),
            schema::user(),
        )
        .expect("applies")["addresses"]
            .clone()
    };
    assert_eq!(
        add(json!([{"value": "A1", "locality": "Hollywood"}])),
        json!([{"value": "A1", "type": "work", "locality": "Hollywood"},
               {"value": "A2", "type": "home"}, {"type": "other", "locality": "Burbank"}])
    );
    // Without a value, only an identical element is the same one (RFC 7644 §3.5.2.1).
    assert_eq!(
        add(json!([{"type": "other", "locality": "Burbank"}])),
        start["addresses"]
    );
    assert_eq!(
        add(json!([{"type": "other", "locality": "Glendale"}])),
        json!([{"value": "A1", "type": "work"}, {"value": "A2", "type": "home"},
               {"type": "other", "locality": "Burbank"}, {"type": "other", "locality": "Glendale"}])
    );
}

#[test]
fn an_upsert_takes_every_eq_term_of_the_filter() {
    let plain = json!({"schemas": [USER_SCHEMA], "userName": "bjensen"});
    let out = patch(
        &plain,
        json!([{"op": "replace", "path": "emails[type eq \"work\" and primary eq true].value",
                "value": "bjensen@example.com"}]),
        schema::user(),
    )
    .expect("upserts");
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "primary": true, "value": "bjensen@example.com"}])
    );
}

#[test]
fn a_hand_built_filter_term_that_names_no_sub_attribute_is_no_template() {
    use crate::filter::{CompValue, CompareOp, Filter};
    use crate::patch::{apply, PatchOpKind, PatchOperation, PatchRequest};
    use crate::path::{AttrPath, PatchPath};
    // The parser refuses `emails[type.x eq "work"]`; built by hand it selects nothing and
    // describes no element to create.
    let term = |urn: Option<&str>, sub: Option<&str>| {
        let path = AttrPath {
            urn: urn.map(str::to_owned),
            name: "type".into(),
            sub_attr: sub.map(str::to_owned),
        };
        Filter::Compare(path, CompareOp::Eq, CompValue::String("work".into()))
    };
    for filter in [term(None, Some("x")), term(Some(USER_SCHEMA), None)] {
        let request = PatchRequest {
            operations: vec![PatchOperation {
                op: PatchOpKind::Replace,
                path: Some(PatchPath {
                    attr: AttrPath::new("emails"),
                    filter: Some(filter),
                    sub_attr: Some("value".into()),
                }),
                value: Some(json!("babs@example.com")),
            }],
        };
        let mut resource = bjensen();
        let err = apply(&mut resource, &request, schema::user()).expect_err("no target");
        assert_eq!(err.scim_type, Some(ScimType::NoTarget));
        assert_eq!(resource, bjensen());
    }
}
