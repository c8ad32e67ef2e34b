//! What the fuzzer generates and what it checks: shared by the timed fuzz binary and by the
//! scim crate's property test (`crates/scim/tests/properties.rs`). A check panics when a
//! property breaks; a stack overflow aborts the process.

use proptest::prelude::*;
use scim::filter::{self, Filter};
use scim::limits::{MAX_FILTER_LENGTH, MAX_FILTER_TERMS, MAX_VALUE_DEPTH};
use scim::patch::PatchRequest;
use scim::path::{AttrPath, PatchPath};
use scim::project::Projection;
use scim::{schema, ScimType};
use serde_json::{json, Map, Value};

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "not",
    "NOT",
    "and",
    "or",
    "Or",
    "pr",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "userName",
    "emails",
    "emails.value",
    "name.givenName",
    "members",
    "value",
    "type",
    "display",
    "primary",
    "active",
    "meta.lastModified",
    "x509Certificates",
    "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "manager",
    "not",
    "\"work\"",
    "\"a\\\"b\"",
    "\"\\u00e9\"",
    "\"",
    "\"2011-05-13T04:42:34Z\"",
    "true",
    "false",
    "null",
    "12",
    "-1.5e3",
    ".value",
    ".display",
    "\\",
    "é",
    "x",
    ":",
    ".",
    "$ref",
    " ",
];

const SEEDS: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    r#"emails[type eq "work"].value eq "x@contoso.com""#,
    r#"id eq "u1" and manager eq "m1""#,
    r#"externalId eq jyoung"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"members[value eq "u"]"#,
    r#"active eq true"#,
];

fn token() -> impl Strategy<Value = String> {
    prop::sample::select(TOKENS).prop_map(str::to_owned)
}

/// Tokens of the filter language (and some that are not), in any order.
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), prop::bool::ANY), 0..400).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(t, spaced)| if spaced { format!("{t} ") } else { t })
            .collect()
    })
}

/// A known filter with tokens inserted at random places.
fn mutated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec((any::<prop::sample::Index>(), token()), 0..6),
    )
        .prop_map(|(seed, edits)| {
            let mut s = seed.to_string();
            for (at, t) in edits {
                let mut i = at.index(s.len() + 1);
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                s.insert_str(i, &t);
            }
            s
        })
}

/// The attacks: deep nesting of each kind and long chains, around any filter.
fn deep(most: usize) -> impl Strategy<Value = String> {
    let open = prop::sample::select(&["(", "not ", "not (", "emails[", "x[("][..]);
    (
        open,
        0..most,
        prop::sample::select(SEEDS),
        0..most,
        prop::sample::select(&[" and ", " or "][..]),
        prop::bool::ANY,
    )
        .prop_map(|(open, depth, inner, terms, joiner, balanced)| {
            let chain = vec![inner; terms.max(1)].join(joiner);
            let close = match (open, balanced) {
                (_, false) => String::new(),
                ("(", _) | ("not (", _) => ")".repeat(depth),
                ("emails[", _) => "]".repeat(depth),
                ("x[(", _) => ")]".repeat(depth),
                _ => String::new(),
            };
            format!("{}{chain}{close}", open.repeat(depth))
        })
}

/// Well-formed filters of random shape.
fn grammar() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(&["userName", "emails", "title", "active", "members", "not"][..])
            .prop_map(|a| format!("{a} pr")),
        (
            prop::sample::select(&["userName", "emails.value", "meta.created", "active"][..]),
            prop::sample::select(&["eq", "ne", "co", "sw", "gt", "le"][..]),
            prop::sample::select(&["\"a\"", "true", "null", "7", "bare"][..]),
        )
            .prop_map(|(a, op, v)| format!("{a} {op} {v}")),
        Just(r#"emails[type eq "work"]"#.to_string()),
        Just(r#"emails[type eq "work" or primary eq true].value eq "x""#.to_string()),
    ];
    leaf.prop_recursive(12, 300, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("not {a}")),
        ]
    })
}

/// Filter inputs of every kind.
pub fn filter_input() -> impl Strategy<Value = String> {
    prop_oneof![3 => soup(), 2 => mutated(), 2 => deep(3_000), 3 => grammar()]
}

/// Smaller filters, for PATCH paths (a body holds many of them).
fn path_filter() -> impl Strategy<Value = String> {
    prop_oneof![1 => soup(), 1 => mutated(), 1 => deep(100), 1 => grammar()]
}

fn resources() -> [(Value, &'static schema::ResourceSchema); 3] {
    [
        (
            json!({"userName": "bjensen", "title": "t", "active": true,
                   "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                   "name": {"givenName": "Barbara"},
                   "meta": {"lastModified": "2011-05-13T04:42:34Z"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                       {"manager": {"value": "m1"}}}),
            schema::user(),
        ),
        (
            json!({"displayName": "g", "members": [{"value": "u", "display": "U"}]}),
            schema::group(),
        ),
        (json!({}), schema::user()),
    ]
}

fn is_limit(e: &scim::ScimError) -> bool {
    e.status == 400 && e.detail.contains("limit of")
}

/// Parses `input` as a filter, a PATCH path filter, an attribute path and a projection; what
/// parses is validated, evaluated and printed, and the print parses back to the same print.
pub fn check_filter(input: &str) {
    if let Ok(f) = filter::parse(input) {
        assert!(f.terms() <= MAX_FILTER_TERMS, "terms past the limit");
        for (resource, schema) in resources() {
            let _ = filter::validate(&f, schema);
            let _ = filter::matches(&f, &resource, schema);
        }
        let printed = f.to_string();
        match filter::parse(&printed) {
            Ok(again) => assert_eq!(again.to_string(), printed, "printing is stable"),
            Err(e) => assert!(
                is_limit(&e) && printed.len() > MAX_FILTER_LENGTH.min(input.len()),
                "the print of {input:?} does not parse: {printed:?}: {}",
                e.detail
            ),
        }
        let copy: Filter = f.clone();
        assert_eq!(copy, f);
    }
    for path in [
        format!("emails[{input}].value"),
        format!("members[{input}]"),
    ] {
        if let Err(e) = PatchPath::parse(&path) {
            assert!(
                matches!(
                    e.scim_type,
                    Some(ScimType::InvalidPath | ScimType::InvalidFilter)
                ),
                "{e}"
            );
        }
    }
    let _ = AttrPath::parse(input);
    let _ = Projection::parse(Some(input), Some(input));
}

const PATHS: &[&str] = &[
    "userName",
    "displayName",
    "active",
    "name.givenName",
    "name",
    "emails",
    "emails.value",
    r#"emails[type eq "work"].value"#,
    r#"addresses[type eq "other"].Formatted"#,
    r#"phoneNumbers[type eq "mobile"].value"#,
    "members",
    r#"members[value eq "u"]"#,
    r#"members[display eq "U"].display"#,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:acme:x:1.0:User:badge",
    "id",
    "meta.created",
    "password",
    "groups",
    "x",
    "",
];

const KEYS: &[&str] = &[
    "userName",
    "displayName",
    "emails",
    "value",
    "type",
    "primary",
    "display",
    "$ref",
    "members",
    "name",
    "givenName",
    "name.givenName",
    "active",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    r#"emails[type eq "work"].value"#,
    "manager",
    "meta",
    "schemas",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(
            &[
                "",
                "x",
                "True",
                "False",
                "work",
                "u",
                "2011-05-13T04:42:34Z"
            ][..]
        )
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn nested(depth: usize, array: bool) -> Value {
    (0..depth).fold(json!("x"), |inner, _| {
        if array {
            json!([inner])
        } else {
            json!({ "value": inner })
        }
    })
}

fn op_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => json_value().prop_map(Some),
        1 => Just(None),
        1 => (0..124usize, any::<bool>()).prop_map(|(d, a)| Some(nested(d, a))),
        1 => (0..150usize).prop_map(|n| {
            Some(Value::Array((0..n).map(|i| json!({"value": format!("u{i}")})).collect()))
        }),
    ]
}

fn op_path() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => prop::sample::select(PATHS).prop_map(|p| Some(p.to_string())),
        2 => path_filter().prop_map(|f| Some(format!("emails[{f}].value"))),
        1 => path_filter().prop_map(|f| Some(format!("members[{f}]"))),
        1 => soup().prop_map(Some),
        1 => Just(None),
    ]
}

fn op_kind() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["add", "Add", "replace", "Replace", "remove", "Remove", "x"][..])
}

fn operation() -> impl Strategy<Value = Value> {
    (op_kind(), op_path(), op_value()).prop_map(op_json)
}

/// Cheap operations, for requests with many of them.
fn small_operation() -> impl Strategy<Value = Value> {
    (
        op_kind(),
        prop::sample::select(PATHS).prop_map(|p| Some(p.to_string())),
        prop::sample::select(&["x", "True", "u"][..]).prop_map(|v| Some(Value::from(v))),
    )
        .prop_map(op_json)
}

fn op_json((op, path, value): (&str, Option<String>, Option<Value>)) -> Value {
    let mut o = Map::new();
    o.insert("op".into(), Value::from(op));
    if let Some(path) = path {
        o.insert("path".into(), Value::from(path));
    }
    if let Some(value) = value {
        o.insert("value".into(), value);
    }
    Value::Object(o)
}

/// PatchOp bodies as JSON text: mostly a few operations, sometimes past the limits, sometimes
/// cut short.
pub fn patch_input() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            8 => prop::collection::vec(operation(), 0..8),
            1 => prop::collection::vec(small_operation(), 95..110),
        ],
        prop::option::weighted(0.05, any::<prop::sample::Index>()),
    )
        .prop_map(|(ops, cut)| {
            let body = json!({"schemas": [scim::PATCH_OP_SCHEMA], "Operations": ops}).to_string();
            match cut {
                Some(at) => body.chars().take(at.index(body.len())).collect(),
                None => body,
            }
        })
}

/// Parses `body` as the server does, applies it to a user and a group, pulls member changes
/// out, and normalises the body as a resource: nothing panics, and whatever is written is at
/// most as deep as the limits allow and reads back through serde_json.
pub fn check_patch(body: &str) {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return;
    };
    if let Ok(request) = PatchRequest::from_json(&json) {
        for (resource, schema) in resources() {
            let mut written = resource.clone();
            if scim::patch::apply(&mut written, &request, schema).is_ok() {
                assert!(written.is_object());
                // Resource, extension, attribute, then the value's own nesting.
                assert!(scim::limits::depth(&written) <= 3 + MAX_VALUE_DEPTH + 1);
                let text = written.to_string();
                assert!(serde_json::from_str::<Value>(&text).is_ok(), "reads back");
            } else {
                assert_eq!(written, resource, "a refused PATCH changes nothing");
            }
        }
        let _ = request.extract_multi_valued("members");
    }
    for schema in [schema::user(), schema::group()] {
        if let Ok(normalized) = scim::resource::normalize(json.clone(), schema) {
            assert!(serde_json::from_str::<Value>(&normalized.to_string()).is_ok());
        }
    }
}
