//! Parser table tests: every example filter of RFC 7644 §3.4.2.2, Entra's forms,
//! precedence, and the errors.

use super::*;
use crate::ENTERPRISE_USER_SCHEMA;

fn p(s: &str) -> AttrPath {
    AttrPath::parse(s).expect(s)
}
fn s(v: &str) -> CompValue {
    CompValue::String(v.to_owned())
}
fn cmp(path: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::Compare(p(path), op, v)
}
fn eq(path: &str, v: &str) -> Filter {
    cmp(path, CompareOp::Eq, s(v))
}
fn pr(path: &str) -> Filter {
    Filter::Present(p(path))
}
fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}
fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}
fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}
fn vp(path: &str, inner: Filter) -> Filter {
    Filter::ValuePath(p(path), Box::new(inner))
}

#[test]
fn rfc_7644_section_3_4_2_2_examples() {
    use CompareOp::*;
    let table = vec![
        (r#"userName eq "bjensen""#, eq("userName", "bjensen")),
        (
            r#"name.familyName co "O'Malley""#,
            cmp("name.familyName", Co, s("O'Malley")),
        ),
        (r#"userName sw "J""#, cmp("userName", Sw, s("J"))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                Sw,
                s("J"),
            ),
        ),
        ("title pr", pr("title")),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z")),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(pr("title"), eq("userType", "Employee")),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(pr("title"), eq("userType", "Intern")),
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            eq("schemas", ENTERPRISE_USER_SCHEMA),
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            and(
                eq("userType", "Employee"),
                or(
                    cmp("emails", Co, s("example.com")),
                    cmp("emails.value", Co, s("example.org")),
                ),
            ),
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            and(
                cmp("userType", Ne, s("Employee")),
                not(or(
                    cmp("emails", Co, s("example.com")),
                    cmp("emails.value", Co, s("example.org")),
                )),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(eq("userType", "Employee"), eq("emails.type", "work")),
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            and(
                eq("userType", "Employee"),
                vp(
                    "emails",
                    and(eq("type", "work"), cmp("value", Co, s("@example.com"))),
                ),
            ),
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            or(
                vp(
                    "emails",
                    and(eq("type", "work"), cmp("value", Co, s("@example.com"))),
                ),
                vp(
                    "ims",
                    and(eq("type", "xmpp"), cmp("value", Co, s("@foo.com"))),
                ),
            ),
        ),
    ];
    for (input, expected) in table {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn entra_forms() {
    let manager_filter = format!(r#"{ENTERPRISE_USER_SCHEMA}:manager.value eq "M1""#);
    let table = vec![
        // entra-scim.md §2.2: the non-RFC email matching filter.
        (
            r#"emails[type eq "work"].value eq "user@contoso.com""#,
            vp(
                "emails",
                and(eq("type", "work"), eq("value", "user@contoso.com")),
            ),
        ),
        (
            r#"emails[type eq "work"].value pr"#,
            vp("emails", and(eq("type", "work"), pr("value"))),
        ),
        // Microsoft's docs: bare token value.
        ("externalId eq jyoung", eq("externalId", "jyoung")),
        (
            r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
            eq("userName", "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"),
        ),
        // Tutorial Example 4: manager reference check, unqualified.
        (
            r#"id eq "U1" and manager eq "M1""#,
            and(eq("id", "U1"), eq("manager", "M1")),
        ),
        (
            r#"id eq "G1" and members eq "U1""#,
            and(eq("id", "G1"), eq("members", "U1")),
        ),
        (
            r#"members[value eq "U1"]"#,
            vp("members", eq("value", "U1")),
        ),
        (
            r#"displayName eq "displayName""#,
            eq("displayName", "displayName"),
        ),
        (
            manager_filter.as_str(),
            eq(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value"), "M1"),
        ),
    ];
    for (input, expected) in table {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn keywords_whitespace_and_literals() {
    use CompareOp::*;
    let table = vec![
        (r#"userName EQ "a""#, eq("userName", "a")),
        (
            "title Pr AnD   userType\tEq \"x\"",
            and(pr("title"), eq("userType", "x")),
        ),
        ("active eq true", cmp("active", Eq, CompValue::Bool(true))),
        ("active eq False", cmp("active", Eq, CompValue::Bool(false))),
        ("title eq null", cmp("title", Eq, CompValue::Null)),
        ("x gt 12", cmp("x", Gt, CompValue::Number(12.into()))),
        (
            "x le -1.5e3",
            cmp(
                "x",
                Le,
                CompValue::Number(serde_json::Number::from_f64(-1500.0).expect("finite")),
            ),
        ),
        (r#"a eq "q\"uote\\ \u00e9""#, eq("a", "q\"uote\\ é")),
        (r#"a eq """#, eq("a", "")),
        ("NOT (title pr)", not(pr("title"))),
        ("not title pr", not(pr("title"))),
        ("((title pr))", pr("title")),
        // `not` as an attribute name, since an operator follows.
        (r#"not eq "x""#, eq("not", "x")),
    ];
    for (input, expected) in table {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn precedence_not_then_and_then_or() {
    let table = vec![
        ("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))),
        ("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))),
        (
            "(a pr or b pr) and c pr",
            and(or(pr("a"), pr("b")), pr("c")),
        ),
        ("not (a pr) and b pr", and(not(pr("a")), pr("b"))),
        (
            "a pr or not (b pr) and c pr",
            or(pr("a"), and(not(pr("b")), pr("c"))),
        ),
        (
            "a pr and b pr and c pr",
            and(and(pr("a"), pr("b")), pr("c")),
        ),
        ("a pr or b pr or c pr", or(or(pr("a"), pr("b")), pr("c"))),
        (
            r#"emails[type eq "work" or type eq "home" and primary eq true]"#,
            vp(
                "emails",
                or(
                    eq("type", "work"),
                    and(
                        eq("type", "home"),
                        cmp("primary", CompareOp::Eq, CompValue::Bool(true)),
                    ),
                ),
            ),
        ),
    ];
    for (input, expected) in table {
        assert_eq!(parse(input), Ok(expected), "{input}");
    }
}

#[test]
fn errors_are_invalid_filter_with_a_position() {
    let table = [
        ("", "Empty filter"),
        ("   ", "Empty filter"),
        (
            "(title pr",
            "Expected ')' but found end of filter at position 10",
        ),
        ("title pr)", "Unbalanced ')' at position 9"),
        (r#"userName xx "a""#, "Unknown operator 'xx' at position 10"),
        (r#"userName eq "abc"#, "Unterminated string at position 13"),
        (
            "userName eq",
            "Expected a value after 'eq' but found end of filter",
        ),
        ("userName", "Expected an operator after 'userName'"),
        (
            "title pr and",
            "Expected an attribute path, '(' or 'not' but found end of filter",
        ),
        (
            "title pr userName pr",
            "Expected 'and', 'or' or the end of the filter",
        ),
        (r#"emails[type eq "work""#, "Expected ']'"),
        (
            r#"emails[addresses[type eq "x"]]"#,
            "Value filters cannot be nested",
        ),
        (
            r#"emails[type eq "work"].value"#,
            "Expected an operator after 'value'",
        ),
        (r#"a eq "\x""#, "Invalid escape in string"),
        ("1abc eq 2", "Invalid attribute path '1abc'"),
        (
            r#"name.givenName[type eq "x"]"#,
            "cannot take a value filter",
        ),
        // Inside brackets, a path is one plain sub-attribute name (RFC 7644 §3.4.2.2 valFilter).
        (
            r#"emails[type.x eq "work"]"#,
            "'type.x' must be a plain sub-attribute name inside '[...]' at position 8",
        ),
        (
            r#"emails[urn:acme:type eq "work"]"#,
            "'urn:acme:type' must be a plain sub-attribute name inside '[...]' at position 8",
        ),
        (
            r#"emails[type eq "work"].value.display eq "x""#,
            "Invalid sub-attribute '.value.display' at position 23",
        ),
        (
            r#"emails[type eq "work"].urn:acme:value eq "x""#,
            "Invalid sub-attribute '.urn:acme:value' at position 23",
        ),
    ];
    for (input, fragment) in table {
        let err = parse(input).expect_err(input);
        assert_eq!(err.status, 400, "{input}");
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert!(
            err.detail.contains(fragment),
            "{input}: {:?} lacks {fragment:?}",
            err.detail
        );
    }
}
