//! Evaluation table tests on the RFC 7643 §8.3 Enterprise User and a Group.

use serde_json::json;

use super::super::parse;
use super::*;
use crate::fixtures::{bjensen, tour_guides, BADGE};
use crate::schema;

fn check(resource: &Value, schema: &ResourceSchema, table: &[(&str, bool)]) {
    for (input, expected) in table {
        let f = parse(input).expect(input);
        assert_eq!(matches(&f, resource, schema), *expected, "{input}");
    }
}

#[test]
fn rfc_7644_examples_on_barbara_jensen() {
    check(
        &bjensen(),
        schema::user(),
        &[
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"userName eq "BJENSEN@example.COM""#, true),
            (r#"userName eq "bjensen""#, false),
            (r#"name.familyName co "ens""#, true),
            (r#"name.familyName co "O'Malley""#, false),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#,
                true,
            ),
            ("title pr", true),
            ("nickName pr", true),
            ("honorificPrefix pr", false),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:35Z""#, true),
            (r#"meta.lastModified le "2011-05-13T04:42:33Z""#, false),
            // Chronological, not lexical: same instant in another offset.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.created lt "2011-01-01T00:00:00.000Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr and userType eq "Intern""#, false),
            (r#"title pr or userType eq "Intern""#, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (r#"schemas eq "urn:acme:nope""#, false),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                false,
            ),
            (r#"emails[type eq "home" and value co "@JENSEN.org"]"#, true),
        ],
    );
}

#[test]
fn entra_queries() {
    check(
        &bjensen(),
        schema::user(),
        &[
            // entra-scim.md §2.2: the non-RFC matching filter.
            (
                r#"emails[type eq "work"].value eq "BJensen@example.com""#,
                true,
            ),
            (
                r#"emails[type eq "home"].value eq "bjensen@example.com""#,
                false,
            ),
            // externalId is caseExact (RFC 7643 §3.1).
            (r#"externalId eq "701984""#, true),
            ("externalId eq 701984", true),
            // Tutorial Example 4: manager check, unqualified and qualified.
            (
                r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                true,
            ),
            (
                r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "someone-else""#,
                false,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                true,
            ),
            (r#"employeeNumber eq "701984""#, true),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "tour""#,
                true,
            ),
            ("active eq true", true),
            (r#"active eq "True""#, true),
            ("active ne true", false),
            (
                r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
                false,
            ),
        ],
    );
}

#[test]
fn case_exactness_follows_the_schema() {
    check(
        &bjensen(),
        schema::user(),
        &[
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"meta.version eq "w/\"3694e05e9dff591\"""#, false),
            (r#"title eq "tour guide""#, true),
            (r#"displayName ew "JENSEN""#, true),
            (r#"USERNAME Eq "bjensen@example.com""#, true),
        ],
    );
}

#[test]
fn absent_null_presence_and_unknown_attributes() {
    check(
        &bjensen(),
        schema::user(),
        &[
            // Absent attribute equals null: matches `ne` and `eq null` only.
            (r#"entitlements ne "x""#, true),
            (r#"roles.type ne "x""#, true),
            (r#"name.honorificPrefix ne "x""#, true),
            (r#"name.honorificPrefix ne "ms.""#, false),
            // Not a top-level attribute (it lives under `name`): matches nothing.
            (r#"honorificPrefix ne "x""#, false),
            (r#"userName ne "x""#, true),
            ("name.middleName eq null", false),
            ("name.middleName ne null", true),
            ("nickName eq null", false),
            ("entitlements eq null", true),
            ("entitlements pr", false),
            ("entitlements sw \"a\"", false),
            ("not (entitlements pr)", true),
            // Undefined attributes match nothing at all.
            (r#"favouriteColour eq "blue""#, false),
            (r#"favouriteColour ne "blue""#, false),
            (r#"urn:acme:custom:1.0:User:badge eq "1""#, false),
            (r#"not (favouriteColour eq "blue")"#, true),
            ("emails.nosuch pr", false),
            ("name pr", true),
            ("manager pr", true),
            ("emails pr", true),
        ],
    );
}

#[test]
fn presence_ignores_empty_values() {
    let user = json!({"userName": "a", "title": "", "roles": [], "nickName": null, "name": {}});
    check(
        &user,
        schema::user(),
        &[
            ("userName pr", true),
            ("title pr", false),
            ("roles pr", false),
            ("nickName pr", false),
            ("name pr", false),
        ],
    );
}

#[test]
fn multi_valued_any_match_and_primary() {
    check(
        &bjensen(),
        schema::user(),
        &[
            ("emails.primary eq true", true),
            (
                r#"emails[primary eq true].value eq "bjensen@example.com""#,
                true,
            ),
            (
                r#"emails[primary eq true].value eq "babs@jensen.org""#,
                false,
            ),
            // Any value: the home address is not equal to this, so `ne` matches.
            (r#"emails ne "bjensen@example.com""#, true),
            (
                r#"phoneNumbers[type eq "mobile"].value sw "555-555-44""#,
                true,
            ),
            (r#"addresses[type eq "work"].postalCode eq "91608""#, true),
            (
                r#"addresses[not (type eq "work")].streetAddress co "Hollywood Blvd""#,
                true,
            ),
            (r#"groups.display eq "employees""#, true),
            (r#"groups eq "fc348aa8-3835-40eb-a20b-c726e15c55b5""#, true),
            (r#"x509Certificates.value sw "MIID""#, true),
            (r#"photos[type eq "thumbnail"]"#, true),
            (r#"photos[type eq "banner"]"#, false),
        ],
    );
}

#[test]
fn group_membership_checks() {
    check(
        &tour_guides(),
        schema::group(),
        &[
            (r#"displayName eq "tour guides""#, true),
            (
                r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"]"#,
                true,
            ),
            (
                r#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#,
                true,
            ),
            (
                r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members eq "2819c223-7f76-453a-919d-413861904646""#,
                true,
            ),
            (r#"members eq "nobody""#, false),
            (r#"manager eq "x""#, false),
            ("externalId pr", false),
        ],
    );
}

#[test]
fn keys_are_read_case_insensitively() {
    let odd = json!({
        "UserName": "Alice",
        "Emails": [{"Value": "a@x.org", "Type": "Work"}],
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "R&D"}
    });
    check(
        &odd,
        schema::user(),
        &[
            (r#"userName eq "alice""#, true),
            (r#"emails[type eq "work"].value eq "A@X.ORG""#, true),
            (r#"department eq "r&d""#, true),
        ],
    );
}

#[test]
fn numbers_and_non_objects() {
    let d: &'static AttrDef = schema::user()
        .resolve(None, "emails")
        .map(|(_, d)| d)
        .expect("emails");
    let f = parse(r#"type eq "work""#).expect("parses");
    assert!(matches_item(&f, &json!({"type": "WORK"}), d));
    assert!(!matches_item(&f, &json!("work"), d));
    assert!(!matches(&f, &json!([1, 2]), schema::user()));
    // Numeric comparison helper: ordering answers per operator.
    use CompareOp::*;
    for (op, expected) in [
        (Eq, false),
        (Ne, true),
        (Gt, true),
        (Ge, true),
        (Lt, false),
        (Le, false),
        (Co, false),
    ] {
        assert_eq!(ordered(op, 2.0f64.partial_cmp(&1.0)), expected, "{op:?}");
    }
    assert!(ordered(Ne, None) && !ordered(Eq, None));
}

#[test]
fn integers_and_decimals_compare_numerically() {
    // RFC 7644 §3.4.2.2: "gt" etc. on integer and decimal attributes compare numerically.
    let badge = json!({"number": 7, "weight": 2.5, "doors": [1, 4], "tags": ["blue", "Lobby"]});
    check(
        &badge,
        &BADGE,
        &[
            ("number eq 7", true),
            ("number ne 7", false),
            ("number gt 6", true),
            ("number gt 7", false),
            ("number ge 7", true),
            ("number ge 8", false),
            ("number lt 7", false),
            ("number lt 10", true),
            ("number le 7", true),
            ("number le 6", false),
            // Numerically, not as text: "10" sorts before "7".
            ("number lt 10", true),
            (r#"number eq "7""#, true),
            (r#"number eq " 7 ""#, true),
            (r#"number eq "seven""#, false),
            (r#"number ne "seven""#, true),
            ("number eq true", false),
            ("number ne true", true),
            ("number co 7", false),
            ("weight gt 2.25", true),
            ("weight eq 2.5", true),
            ("weight lt 2.5", false),
            // Any value (RFC 7644 §3.4.2.2 multi-valued): door 4 is above 3.
            ("doors gt 3", true),
            ("doors gt 4", false),
            ("doors[value gt 3]", true),
            ("doors[value lt 1]", false),
        ],
    );
}

#[test]
fn stored_values_of_another_json_type() {
    // Values stored before coercion existed (strings for numbers and booleans), and values
    // of a type the attribute does not have.
    let badge = json!({"number": " 7 ", "weight": "heavy", "tags": [{"value": "blue"}]});
    check(
        &badge,
        &BADGE,
        &[
            ("number eq 7", true),
            ("number gt 6.5", true),
            ("weight eq 1", false),
            ("weight ne 1", true),
            (r#"tags eq "blue""#, false),
            (r#"tags ne "blue""#, true),
        ],
    );
    let user = json!({"userName": "a", "active": "True", "title": 42, "nickName": "true",
                      "emails": ["a@example.com"]});
    check(
        &user,
        schema::user(),
        &[
            ("active eq true", true),
            ("active eq false", false),
            ("active ne false", true),
            (r#"title eq "42""#, false),
            (r#"title ne "42""#, true),
            ("title pr", true),
            ("nickName eq true", true),
            ("nickName eq false", false),
            (r#"emails.value eq "a@example.com""#, false),
            ("emails.value pr", false),
        ],
    );
    let numbers_for_booleans = json!({"userName": "a", "active": 1});
    check(
        &numbers_for_booleans,
        schema::user(),
        &[("active eq true", false), ("active ne true", true)],
    );
}

#[test]
fn booleans_compare_only_by_eq_and_ne() {
    check(
        &bjensen(),
        schema::user(),
        &[
            ("active eq true", true),
            ("active eq false", false),
            (r#"active eq "false""#, false),
            ("active ne false", true),
            (r#"active eq "yes""#, false),
            (r#"active ne "yes""#, true),
            ("active eq 1", false),
            ("active ne 1", true),
        ],
    );
}

#[test]
fn simple_multi_valued_attributes_compare_their_elements() {
    let badge = json!({"tags": ["blue", "Lobby"]});
    check(
        &badge,
        &BADGE,
        &[
            (r#"tags eq "lobby""#, true),
            (r#"tags eq "red""#, false),
            (r#"tags sw "bl""#, true),
            // RFC 7644 §3.4.2.2: inside brackets, `value` is the element itself.
            (r#"tags[value eq "blue"]"#, true),
            (r#"tags[value eq "red"]"#, false),
            (r#"tags[type eq "blue"]"#, false),
            (r#"tags[not (value eq "blue")]"#, true),
        ],
    );
}

#[test]
fn date_times_compare_chronologically_but_match_text_as_text() {
    check(
        &bjensen(),
        schema::user(),
        &[
            (r#"meta.created eq "2010-01-23T04:56:22Z""#, true),
            (r#"meta.created ne "2010-01-23T04:56:22Z""#, false),
            (r#"meta.created gt "2010-01-23T05:56:22+02:00""#, true),
            // `co`, `sw` and `ew` read the stored text (RFC 7644 §3.4.2.2 Table 3).
            (r#"meta.created co "2010-01-23T04:56:22Z""#, true),
            (r#"meta.created sw "2010-01""#, true),
            (r#"meta.created ew "22Z""#, true),
            (r#"meta.created co "2011""#, false),
            // Not a dateTime: compared as text.
            (r#"meta.created lt "yesterday""#, true),
            (r#"meta.created gt "yesterday""#, false),
            // RFC 3339 §5.6: "t" and "z" may be lower case.
            (r#"meta.created eq "2010-01-23t04:56:22z""#, true),
        ],
    );
}

#[test]
fn value_filters_on_single_valued_complex_attributes() {
    check(
        &bjensen(),
        schema::user(),
        &[
            (r#"name[givenName eq "Barbara"]"#, true),
            (r#"name[givenName eq "Babs"]"#, false),
            (
                r#"manager[value eq "26118915-6090-4610-87e4-49d8ca9f808d"]"#,
                true,
            ),
            (r#"title[value eq "Tour Guide"]"#, false),
            (r#"favouriteColour[value eq "blue"]"#, false),
        ],
    );
}

#[test]
fn text_compares_against_numbers_and_booleans() {
    check(
        &bjensen(),
        schema::user(),
        &[
            (r#"title gt "Tour""#, true),
            (r#"title lt "Tour""#, false),
            (r#"title ge "tour guide""#, true),
            (r#"title le "TOUR GUIDE""#, true),
            ("externalId ne 701984", false),
            ("externalId gt 701983", true),
            ("displayName eq false", false),
            ("displayName ne true", true),
        ],
    );
}

#[test]
fn hand_built_value_filters_name_only_plain_sub_attributes() {
    // The parser refuses `emails[type.x eq "work"]` and URNs inside brackets; a filter
    // built by hand may hold them, and they name nothing inside an element.
    let emails: &'static AttrDef = schema::user()
        .resolve(None, "emails")
        .map(|(_, d)| d)
        .expect("emails");
    let work = |urn: Option<&str>, sub: Option<&str>| {
        let path = AttrPath {
            urn: urn.map(str::to_owned),
            name: "type".into(),
            sub_attr: sub.map(str::to_owned),
        };
        Filter::Compare(path, CompareOp::Eq, CompValue::String("work".into()))
    };
    let item = json!({"value": "bjensen@example.com", "type": "work"});
    assert!(matches_item(&work(None, None), &item, emails));
    assert!(!matches_item(&work(None, Some("x")), &item, emails));
    assert!(!matches_item(
        &work(Some(crate::USER_SCHEMA), None),
        &item,
        emails
    ));
    // Nor is there a value filter inside a value filter.
    let nested = Filter::ValuePath(AttrPath::new("type"), Box::new(work(None, None)));
    assert!(!matches_item(&nested, &item, emails));
}

#[test]
fn an_assigned_value_of_any_type_is_ne_null() {
    let badge = json!({"number": 7, "weight": 2.5, "tags": ["blue"]});
    let with_null = |name: &str| {
        [
            (format!("{name} eq null"), false),
            (format!("{name} ne null"), true),
        ]
    };
    for name in ["number", "weight", "tags"] {
        for (input, expected) in with_null(name) {
            check(&badge, &BADGE, &[(&input, expected)]);
        }
    }
    for name in [
        "active",
        "meta.created",
        "title",
        "emails",
        "manager",
        "emails.primary",
    ] {
        for (input, expected) in with_null(name) {
            check(&bjensen(), schema::user(), &[(&input, expected)]);
        }
    }
}
