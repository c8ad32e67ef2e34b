//! RFC 7644 §3.5.2.1–§3.5.2.3 examples, plus primary, duplicates, casing and
//! unknown-schema round trips.

use serde_json::json;

use super::entra_tests::patch;
use crate::fixtures::{bjensen, tour_guides};
use crate::schema;
use crate::{ScimType, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

#[test]
fn add_examples_section_3_5_2_1() {
    // Add a member.
    let out = patch(&tour_guides(), json!([{"op": "add", "path": "members", "value": [
        {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
         "value": "2819c223-7f76-453a-919d-413861904646"},
        {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}
    ]}]), schema::group()).expect("adds");
    let members = out["members"].as_array().expect("members");
    // Babs was already a member: not duplicated.
    assert_eq!(members.len(), 3);
    assert_eq!(members[2]["value"], "08e1d05d-121c-4561-8b96-473d93df9210");
    // Path-less add: emails appended, "nickname" spelled as the schema does.
    let out = patch(&bjensen(), json!([{"op": "add", "value": {
        "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@new.org", "type": "other"}],
        "nickname": "Babs2"
    }}]), schema::user()).expect("adds");
    assert_eq!(out["emails"].as_array().map(Vec::len), Some(3));
    assert_eq!(out["nickName"], "Babs2");
    assert!(out.get("nickname").is_none());
}

#[test]
fn remove_examples_section_3_5_2_2() {
    let out = patch(
        &tour_guides(),
        json!([{"op": "remove",
        "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
        schema::group(),
    )
    .expect("removes");
    assert_eq!(out["members"].as_array().map(Vec::len), Some(1));
    let out = patch(
        &tour_guides(),
        json!([{"op": "remove", "path": "members"}]),
        schema::group(),
    )
    .expect("removes all");
    assert!(out.get("members").is_none());
    // Remove then add in one request.
    let out = patch(&tour_guides(), json!([
        {"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
        {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d"}]}
    ]), schema::group()).expect("swap");
    let ids: Vec<&str> = out["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["value"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["902c246b-6245-4190-8e05-00816be7344a", "08e1d05d"]);
    let out = patch(
        &bjensen(),
        json!([{"op": "remove",
        "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        schema::user(),
    )
    .expect("removes");
    assert_eq!(
        out["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    let out = patch(
        &bjensen(),
        json!([{"op": "remove", "path": "name.middleName"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]),
        schema::user(),
    )
    .expect("removes");
    assert!(out["name"].get("middleName").is_none());
    assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    // A filter that matches nothing: no-op.
    let out = patch(
        &bjensen(),
        json!([{"op": "remove", "path": "ims[type eq \"xmpp\"]"}]),
        schema::user(),
    )
    .expect("noop");
    assert_eq!(out, bjensen());
}

#[test]
fn replace_examples_section_3_5_2_3() {
    let out = patch(&tour_guides(), json!([{"op": "replace", "path": "members", "value": [
        {"display": "Babs Jensen", "value": "2819c223"}, {"display": "James Smith", "value": "08e1d05d"}
    ]}]), schema::group()).expect("replaces");
    assert_eq!(
        out["members"],
        json!([{"display": "Babs Jensen", "value": "2819c223"},
                                      {"display": "James Smith", "value": "08e1d05d"}])
    );
    let out = patch(&bjensen(), json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
        "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
        "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    }}]), schema::user()).expect("replaces");
    assert_eq!(
        out["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(out["addresses"][0]["country"], "US");
    assert_eq!(out["addresses"][1], bjensen()["addresses"][1]);
    let out = patch(
        &bjensen(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress",
        "value": "1010 Broadway Ave"}]),
        schema::user(),
    )
    .expect("replaces");
    assert_eq!(out["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(out["addresses"][0]["locality"], "Hollywood");
    // Path-less replace of several attributes.
    let out = patch(
        &bjensen(),
        json!([{"op": "replace", "value": {
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
        schema::user(),
    )
    .expect("replaces");
    assert_eq!(out["emails"], bjensen()["emails"]);
    // Replacing a filtered element keeps the filter's terms.
    let out = patch(
        &bjensen(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"]",
        "value": {"value": "new@home.org"}}]),
        schema::user(),
    )
    .expect("replaces");
    assert_eq!(
        out["emails"][1],
        json!({"value": "new@home.org", "type": "home"})
    );
}

#[test]
fn primary_is_unique_after_writes() {
    // RFC 7643 §2.4.
    let out = patch(
        &bjensen(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(out["emails"][0]["primary"], false);
    assert_eq!(out["emails"][1]["primary"], true);
    let out = patch(&bjensen(), json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.org", "primary": "True"}]}]),
        schema::user()).expect("applies");
    assert_eq!(out["emails"][0]["primary"], false);
    assert_eq!(
        out["emails"][2],
        json!({"value": "n@x.org", "primary": true})
    );
}

#[test]
fn duplicates_merge_by_value() {
    let out = patch(
        &bjensen(),
        json!([{"op": "add", "path": "emails",
        "value": {"value": "BABS@jensen.org", "display": "Babs at home"}}]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
    assert_eq!(out["emails"][1]["display"], "Babs at home");
    assert_eq!(out["emails"][1]["type"], "home");
}

#[test]
fn names_get_schema_casing() {
    let out = patch(
        &json!({"userName": "u", "Name": {"GivenName": "a"}}),
        json!([
            {"op": "add", "path": "NAME.familyname", "value": "B"},
            {"op": "add", "path": "Emails", "value": [{"Value": "x@y.z", "TYPE": "work"}]},
            {"op": "replace", "path": "USERNAME", "value": "v"}
        ]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(
        out,
        json!({"schemas": [USER_SCHEMA], "userName": "v",
        "name": {"GivenName": "a", "familyName": "B"},
        "emails": [{"value": "x@y.z", "type": "work"}]})
    );
}

#[test]
fn unknown_schemas_and_attributes_round_trip() {
    let acme = "urn:acme:custom:1.0:User";
    let out = patch(&json!({"userName": "u"}), json!([
        {"op": "add", "path": "urn:acme:custom:1.0:User:badge", "value": "B-17"},
        {"op": "add", "value": {"urn:acme:custom:1.0:User": {"floor": 3, "wing": null}, "favouriteColour": "blue"}},
        {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "costcenter": "41"}}}
    ]), schema::user()).expect("applies");
    assert_eq!(out[acme], json!({"badge": "B-17", "floor": 3}));
    assert_eq!(out["favouriteColour"], "blue");
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA],
        json!({"department": "R&D", "costCenter": "41"})
    );
    assert_eq!(
        out["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA, acme])
    );
    let out = patch(
        &out,
        json!([{"op": "replace", "path": "urn:acme:custom:1.0:User:badge", "value": "B-18"},
                                 {"op": "remove", "path": "urn:acme:custom:1.0:User:floor"}]),
        schema::user(),
    )
    .expect("applies");
    assert_eq!(out[acme], json!({"badge": "B-18"}));
    let out = patch(
        &out,
        json!([{"op": "remove", "path": acme}]),
        schema::user(),
    )
    .expect("removes");
    assert!(out.get(acme).is_none());
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    let err = patch(&out, json!([{"op": "add", "path": "urn:acme:custom:1.0:User:tags[value eq \"x\"]", "value": "y"}]),
        schema::user()).expect_err("filter on unknown");
    assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
}
