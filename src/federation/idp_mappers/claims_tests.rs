//! Claims as the mappers read them: paths, absent / empty / withheld, values as text, matching,
//! templates.

use super::*;
use serde_json::json;

fn path(p: &str) -> ClaimPath {
    ClaimPath::parse(p).unwrap()
}

/// What a path finds: `Some(first value as text)`, `None` when absent, `Some("withheld")`.
fn find(claims: &Value, p: &str) -> Option<String> {
    match lookup(claims, &path(p)) {
        Claim::Withheld(_) => Some("withheld".into()),
        Claim::Absent => None,
        Claim::Present(value) => match values(value) {
            Values::Some(values) => values.into_iter().next(),
            Values::Empty => Some("empty".into()),
            Values::Unusable => Some("unusable".into()),
        },
    }
}

/// Keycloak's dots, `\.` escapes and `[i]` indexes, against one set of claims.
#[test]
fn claim_paths_find_their_claim() {
    let claims = json!({
        "address": {"locality": "Paris"},
        "http://schemas.example/claims/dept": "R&D",
        "emails": ["a@x", "b@x"],
        "wids": [{"id": "w-1"}, {"id": "w-2"}],
        "n": 42,
        "blank": null,
    });
    #[rustfmt::skip]
    let cases = [
        ("address.locality", Some("Paris")),
        (r"http://schemas\.example/claims/dept", Some("R&D")),
        // Unescaped dots split: no fallback to a top-level name holding them.
        ("http://schemas.example/claims/dept", None),
        ("emails[1]", Some("b@x")),
        ("emails[2]", None),
        ("wids[1].id", Some("w-2")),
        ("wids", Some("unusable")),
        ("address[0]", None),
        ("address.locality.more", None),
        ("n", Some("42")),
        ("blank", Some("empty")),
        ("missing", None),
    ];
    for (p, expected) in cases {
        assert_eq!(find(&claims, p).as_deref(), expected, "{p}");
    }
}

/// Entra's overage marks (reference/federation.md §1.5) withhold a top-level claim, and only it.
#[test]
fn withheld_claims() {
    #[rustfmt::skip]
    let cases = [
        (json!({"_claim_names": {"groups": "src1"}}), "groups", true),
        (json!({"_claim_names": {"groups": "src1"}}), "groups[0]", true),
        (json!({"_claim_names": {"groups": "src1"}, "groups": ["a"]}), "groups", true),
        (json!({"_claim_names": {"groups": "src1"}}), "roles", false),
        (json!({"_claim_names": {"roles": "src1"}}), "roles", true),
        (json!({"hasgroups": true}), "groups", true),
        (json!({"hasgroups": true}), "roles", false),
        (json!({"hasgroups": false, "groups": ["a"]}), "groups", false),
        (json!({"_claim_names": "groups"}), "groups", false),
    ];
    for (claims, p, withheld) in cases {
        let got = matches!(lookup(&claims, &path(p)), Claim::Withheld(_));
        assert_eq!(got, withheld, "{p} in {claims}");
    }
}

#[test]
fn values_as_text() {
    let some = |v: &[&str]| Values::Some(v.iter().map(|s| s.to_string()).collect());
    #[rustfmt::skip]
    let cases = [
        (json!("a"), some(&["a"])),
        (json!(["a", "b"]), some(&["a", "b"])),
        (json!(7), some(&["7"])),
        (json!(1.5), some(&["1.5"])),
        (json!(false), some(&["false"])),
        (json!([1, true, "x"]), some(&["1", "true", "x"])),
        (json!(["", null, "x"]), some(&["x"])),
        (json!(null), Values::Empty),
        (json!(""), Values::Empty),
        (json!([]), Values::Empty),
        (json!([null, ""]), Values::Empty),
        (json!({"a": 1}), Values::Unusable),
        (json!([{"a": 1}, ["b"]]), Values::Unusable),
        (json!([{"a": 1}, "b"]), some(&["b"])),
    ];
    for (value, expected) in cases {
        assert_eq!(values(&value), expected, "{value}");
    }
    assert!(same_values(
        &["a".into(), "b".into()],
        &["b".into(), "a".into()]
    ));
    assert!(!same_values(&["a".into()], &["a".into(), "a".into()]));
}

/// Keycloak's `valueEquals` and `valueMatchesRegex`.
#[test]
fn what_a_claim_holds() {
    let regex = |p: &str| Wanted::Matches(full_match_regex(p).unwrap());
    #[rustfmt::skip]
    let cases = [
        (json!("ADMIN"), Wanted::Equals("ADMIN"), true),
        (json!("admin"), Wanted::Equals("ADMIN"), false),
        (json!(["USER", "ADMIN"]), Wanted::Equals("ADMIN"), true),
        (json!([["ADMIN"]]), Wanted::Equals("ADMIN"), true),
        (json!(1.0), Wanted::Equals("1"), true),
        (json!(1), Wanted::Equals("1.0"), true),
        (json!(2), Wanted::Equals("1"), false),
        (json!(true), Wanted::Equals("true"), true),
        (json!(false), Wanted::Equals("true"), false),
        (json!(null), Wanted::Equals("null"), false),
        (json!({"ADMIN": true}), Wanted::Equals("ADMIN"), false),
        (json!("tenant-admin"), regex(".*admin"), true),
        (json!("tenant-admin"), regex("admin"), false),
        (json!(["x", "ADMIN"]), regex("AD.*"), true),
        (json!(42), regex(r"\d+"), true),
    ];
    for (value, wanted, holds) in cases {
        assert_eq!(wanted.accepts(&value), holds, "{value}");
    }
}

#[test]
fn every_claim_must_hold_and_withheld_wins() {
    let claims = json!({"roles": ["ADMIN"], "tid": "t1", "_claim_names": {"groups": "s"}});
    let wants = |entries: &[(&str, &str)]| -> BTreeMap<ClaimPath, String> {
        entries
            .iter()
            .map(|(p, v)| (path(p), v.to_string()))
            .collect()
    };
    #[rustfmt::skip]
    let cases = [
        (wants(&[("roles", "ADMIN"), ("tid", "t1")]), Condition::Holds),
        (wants(&[("roles", "ADMIN"), ("tid", "t2")]), Condition::Fails),
        (wants(&[("roles", "ADMIN"), ("absent", "x")]), Condition::Fails),
        (wants(&[("tid", "t2"), ("groups", "g")]), Condition::Withheld("groups")),
    ];
    for (entries, expected) in cases {
        let got = condition(&claims, wanted("m", &entries, false).unwrap());
        assert_eq!(got, expected, "{entries:?}");
    }
    let bad = wants(&[("roles", "(")]);
    let err = wanted("bad", &bad, true).err().unwrap();
    assert!(
        matches!(&err, MapperError::Invalid { mapper, .. } if mapper == "bad"),
        "{err}"
    );
}

#[test]
fn username_templates() {
    let claims = json!({
        "preferred_username": "Alice",
        "email": "Alice@Contoso.com",
        "groups": ["g-1", "g-2"],
        "address": {"locality": "Paris"},
        "employee_id": 42,
        "_claim_names": {"wids": "s"},
    });
    #[rustfmt::skip]
    let cases: [(&str, Option<&str>); 13] = [
        ("${CLAIM.preferred_username}", Some("Alice")),
        ("${ALIAS}.${CLAIM.email}", Some("entra.Alice@Contoso.com")),
        ("${CLAIM.email | lowercase}", Some("alice@contoso.com")),
        ("${CLAIM.preferred_username|uppercase}", Some("ALICE")),
        ("${CLAIM.email|uppercase|lowercase}", Some("alice@contoso.com")),
        ("${UUID}", Some("uuid-1")),
        ("${UUID}-${UUID}", Some("uuid-1-uuid-2")),
        ("${CLAIM.groups}", Some("g-1")),
        ("${CLAIM.address.locality}-${CLAIM.employee_id}", Some("Paris-42")),
        // A missing claim renders as empty (Keycloak)...
        ("x-${CLAIM.missing}", Some("x-")),
        // ...and an empty username is refused.
        ("${CLAIM.missing}", None),
        (" ${CLAIM.missing} ", None),
        ("${CLAIM.wids}", None),
    ];
    for (template, expected) in cases {
        let template = UsernameTemplate::parse(template).unwrap();
        let mut n = 0;
        let mut uuids = || {
            n += 1;
            format!("uuid-{n}")
        };
        let got = render(
            &template,
            TemplateTarget::Local,
            "t",
            &claims,
            "entra",
            &mut uuids,
        );
        match expected {
            Some(username) => assert_eq!(got.as_deref(), Ok(username), "{template}"),
            None => assert_eq!(
                got,
                Err(MapperError::Empty {
                    mapper: "t".into(),
                    target: TemplateTarget::Local
                }),
                "{template}"
            ),
        }
    }
}
