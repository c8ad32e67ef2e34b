//! Projection tests on the RFC 7643 §8.3 Enterprise User and the RFC 7643 §8.4 Group.

use serde_json::json;

use super::*;
use crate::fixtures::{bjensen, tour_guides, BADGE};
use crate::{schema, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

fn project(
    resource: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
    s: &ResourceSchema,
) -> Value {
    let p = Projection::parse(attributes, excluded).expect("parses");
    apply(resource, &p, s)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

const BJENSEN_SCHEMAS: [&str; 2] = [USER_SCHEMA, ENTERPRISE_USER_SCHEMA];

#[test]
fn default_projection_hides_password_only() {
    let out = project(&bjensen(), None, None, schema::user());
    let mut expected = bjensen();
    expected.as_object_mut().map(|o| o.remove("password"));
    assert_eq!(out, expected);
}

#[test]
fn attributes_select_what_is_named_plus_always() {
    let user = bjensen();
    let id = "2819c223-7f76-453a-919d-413861904646";
    let table = [
        (
            "userName",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id, "userName": "bjensen@example.com"}),
        ),
        ("id", json!({"schemas": BJENSEN_SCHEMAS, "id": id})),
        (
            " USERNAME , name.givenName ",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id, "userName": "bjensen@example.com",
                   "name": {"givenName": "Barbara"}}),
        ),
        (
            "emails.value",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id,
                   "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]}),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id,
                   ENTERPRISE_USER_SCHEMA: {"department": "Tour Operations"}}),
        ),
        (
            "manager.value",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id,
                   ENTERPRISE_USER_SCHEMA: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}}),
        ),
        ("password", json!({"schemas": BJENSEN_SCHEMAS, "id": id})),
        ("nosuch", json!({"schemas": BJENSEN_SCHEMAS, "id": id})),
        (
            "userName.nosuch",
            json!({"schemas": BJENSEN_SCHEMAS, "id": id}),
        ),
    ];
    for (attributes, mut expected) in table {
        // `meta` always goes along, whole: it carries the version the ETag header repeats.
        expected["meta"] = user["meta"].clone();
        assert_eq!(
            project(&user, Some(attributes), None, schema::user()),
            expected,
            "{attributes}"
        );
    }
    let whole_ext = project(&user, Some(ENTERPRISE_USER_SCHEMA), None, schema::user());
    assert_eq!(
        keys(&whole_ext),
        ["id", "meta", "schemas", ENTERPRISE_USER_SCHEMA]
    );
    assert_eq!(
        whole_ext[ENTERPRISE_USER_SCHEMA],
        user[ENTERPRISE_USER_SCHEMA]
    );
}

#[test]
fn excluded_attributes_remove_but_never_always() {
    let user = bjensen();
    let out = project(
        &user,
        None,
        Some("emails, id, schemas, name.middleName, manager"),
        schema::user(),
    );
    assert!(out.get("emails").is_none());
    assert_eq!(out["id"], user["id"]);
    assert_eq!(out["schemas"], user["schemas"]);
    assert!(out["name"].get("middleName").is_none());
    assert_eq!(out["name"]["givenName"], "Barbara");
    assert!(out[ENTERPRISE_USER_SCHEMA].get("manager").is_none());
    assert_eq!(out[ENTERPRISE_USER_SCHEMA]["department"], "Tour Operations");

    let out = project(&user, None, Some(ENTERPRISE_USER_SCHEMA), schema::user());
    assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(out["userName"], "bjensen@example.com");
}

#[test]
fn group_excluding_members() {
    // entra-scim.md §2.7: GET /Groups/{id}?excludedAttributes=members.
    let out = project(&tour_guides(), None, Some("members"), schema::group());
    assert_eq!(keys(&out), ["displayName", "id", "meta", "schemas"]);
    let out = project(&tour_guides(), Some("members.value"), None, schema::group());
    assert_eq!(
        out["members"],
        json!([{"value": "2819c223-7f76-453a-919d-413861904646"},
               {"value": "902c246b-6245-4190-8e05-00816be7344a"}])
    );
}

#[test]
fn includes_tells_the_server_what_to_load() {
    let members = AttrPath::new("members");
    let member_value = AttrPath::parse("members.value").expect("path");
    let table = [
        (None, None, true, true),
        (None, Some("members"), false, false),
        (None, Some("MEMBERS"), false, false),
        (None, Some("members.display"), true, true),
        (Some("id"), None, false, false),
        (Some("displayName"), Some("externalId"), false, false),
        (Some("members.value"), None, true, true),
        (Some("members.display"), None, true, false),
        (Some("members"), Some("members.value"), true, false),
    ];
    for (attributes, excluded, whole, value) in table {
        let p = Projection::parse(attributes, excluded).expect("parses");
        assert_eq!(
            p.includes(schema::group(), &members),
            whole,
            "{attributes:?} {excluded:?}"
        );
        assert_eq!(
            p.includes(schema::group(), &member_value),
            value,
            "{attributes:?} {excluded:?} value"
        );
    }
    let p = Projection::parse(Some("userName"), None).expect("parses");
    assert!(p.includes(schema::user(), &AttrPath::new("id")));
    assert!(p.includes(schema::user(), &AttrPath::new("schemas")));
    assert!(!p.includes(schema::user(), &AttrPath::new("password")));
    assert!(!p.includes(schema::user(), &AttrPath::new("manager")));
    let p = Projection::parse(Some("manager"), None).expect("parses");
    let qualified = AttrPath::parse(&format!("{ENTERPRISE_USER_SCHEMA}:manager")).expect("path");
    assert!(p.includes(schema::user(), &qualified));
}

#[test]
fn malformed_lists_are_invalid_path() {
    for (a, e) in [
        (Some("user name"), None),
        (None, Some("emails[type eq \"work\"]")),
        (Some("a.b.c"), None),
    ] {
        let err = Projection::parse(a, e).expect_err("rejects");
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
    }
    let p = Projection::parse(Some(" , ,"), Some("")).expect("empty pieces are skipped");
    assert!(p.is_default());
    assert!(!Projection::parse(Some("userName"), None)
        .expect("parses")
        .is_default());
    assert!(!Projection::parse(None, Some("emails"))
        .expect("parses")
        .is_default());
}

#[test]
fn the_core_schema_urn_qualifies_top_level_attributes() {
    // RFC 7644 §3.10: `urn:ietf:params:scim:schemas:core:2.0:User:userName` is `userName`.
    let user = bjensen();
    let out = project(
        &user,
        Some(&format!(
            "{USER_SCHEMA}:userName,{USER_SCHEMA}:name.familyName"
        )),
        None,
        schema::user(),
    );
    assert_eq!(keys(&out), ["id", "meta", "name", "schemas", "userName"]);
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    let out = project(
        &user,
        None,
        Some(&format!("{USER_SCHEMA}:title")),
        schema::user(),
    );
    assert!(out.get("title").is_none());
    assert_eq!(out["userName"], "bjensen@example.com");
}

#[test]
fn write_only_or_never_returned_attributes_are_never_sent() {
    let badge = json!({"number": 7, "pin": "1234", "secret": "s3cr3t"});
    for (attributes, excluded) in [
        (None, None),
        (Some("number,pin,secret"), None),
        (None, Some("weight")),
    ] {
        let out = project(&badge, attributes, excluded, &BADGE);
        assert_eq!(out, json!({"number": 7}), "{attributes:?} {excluded:?}");
    }
}
