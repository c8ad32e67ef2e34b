//! Evaluation table tests on the RFC 7643 §8.3 Enterprise User and a Group.

use serde_json::json;

use super::super::parse;
use super::*;
use crate::fixtures::{bjensen, tour_guides};
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
