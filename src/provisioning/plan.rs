//! Which index serves a filter. A plan only narrows: it names rows that *may* match, a superset,
//! and the filter itself is then evaluated on each candidate. A filter no index serves scans the
//! organization. Served: id, userName, externalId, emails.value, displayName, active,
//! meta.created, meta.lastModified (and for groups, members.value).

use scim::filter::{CompValue, CompareOp, Filter};
use scim::path::AttrPath;

use crate::clock::parse_rfc3339;
use crate::db::models::group::GroupKey;
use crate::db::models::user::{Cmp, UserKey};

/// Lookups whose union holds every match; `None` means scan.
pub fn user_plan(filter: &Filter) -> Option<Vec<UserKey>> {
    plan(filter, &user_key, &|attr, inner| {
        is(attr, "emails")
            .then(|| value_eq(inner))
            .flatten()
            .map(|v| UserKey::EmailLower(v.to_lowercase()))
    })
}

pub fn group_plan(filter: &Filter) -> Option<Vec<GroupKey>> {
    plan(filter, &group_key, &|attr, inner| {
        is(attr, "members")
            .then(|| value_eq(inner))
            .flatten()
            .map(|v| GroupKey::Member(v.to_string()))
    })
}

fn plan<K>(
    filter: &Filter,
    compare: &dyn Fn(&AttrPath, CompareOp, &CompValue) -> Option<K>,
    value_path: &dyn Fn(&AttrPath, &Filter) -> Option<K>,
) -> Option<Vec<K>> {
    match filter {
        Filter::Compare(path, op, value) => compare(path, *op, value).map(|k| vec![k]),
        Filter::ValuePath(path, inner) => value_path(path, inner).map(|k| vec![k]),
        // Either side of an AND bounds the result: the first served side is enough.
        Filter::And(a, b) => plan(a, compare, value_path).or_else(|| plan(b, compare, value_path)),
        // An OR needs both sides served.
        Filter::Or(a, b) => {
            let mut keys = plan(a, compare, value_path)?;
            keys.extend(plan(b, compare, value_path)?);
            Some(keys)
        }
        Filter::Not(_) | Filter::Present(_) => None,
    }
}

fn user_key(path: &AttrPath, op: CompareOp, value: &CompValue) -> Option<UserKey> {
    if !core_or_unqualified(path, scim::USER_SCHEMA) {
        return None;
    }
    let name = path.name.as_str();
    let sub = path.sub_attr.as_deref();
    match (op, value) {
        (CompareOp::Eq, CompValue::String(s)) => match sub {
            None if eq(name, "id") => Some(UserKey::Id(s.clone())),
            None if eq(name, "userName") => Some(UserKey::UserNameLower(s.to_lowercase())),
            None if eq(name, "externalId") => Some(UserKey::ExternalId(s.clone())),
            None if eq(name, "displayName") => Some(UserKey::DisplayNameLower(s.to_lowercase())),
            None if eq(name, "emails") => Some(UserKey::EmailLower(s.to_lowercase())),
            Some(sub) if eq(name, "emails") && eq(sub, "value") => {
                Some(UserKey::EmailLower(s.to_lowercase()))
            }
            _ => meta_key(name, sub, op, value).map(|(c, t, created)| {
                if created {
                    UserKey::CreatedAt(c, t)
                } else {
                    UserKey::UpdatedAt(c, t)
                }
            }),
        },
        (CompareOp::Eq, CompValue::Bool(b)) if sub.is_none() && eq(name, "active") => {
            Some(UserKey::Active(*b))
        }
        _ => meta_key(name, sub, op, value).map(|(c, t, created)| {
            if created {
                UserKey::CreatedAt(c, t)
            } else {
                UserKey::UpdatedAt(c, t)
            }
        }),
    }
}

fn group_key(path: &AttrPath, op: CompareOp, value: &CompValue) -> Option<GroupKey> {
    if !core_or_unqualified(path, scim::GROUP_SCHEMA) {
        return None;
    }
    let name = path.name.as_str();
    let sub = path.sub_attr.as_deref();
    if let (CompareOp::Eq, CompValue::String(s)) = (op, value) {
        match sub {
            None if eq(name, "id") => return Some(GroupKey::Id(s.clone())),
            None if eq(name, "displayName") => return Some(GroupKey::NameLower(s.to_lowercase())),
            None if eq(name, "externalId") => return Some(GroupKey::ExternalId(s.clone())),
            None if eq(name, "members") => return Some(GroupKey::Member(s.clone())),
            Some(sub) if eq(name, "members") && eq(sub, "value") => {
                return Some(GroupKey::Member(s.clone()))
            }
            _ => {}
        }
    }
    meta_key(name, sub, op, value).map(|(c, t, created)| {
        if created {
            GroupKey::CreatedAt(c, t)
        } else {
            GroupKey::UpdatedAt(c, t)
        }
    })
}

/// `meta.created` / `meta.lastModified` against a timestamp: (comparison, micros, is_created).
fn meta_key(
    name: &str,
    sub: Option<&str>,
    op: CompareOp,
    value: &CompValue,
) -> Option<(Cmp, i64, bool)> {
    let sub = sub?;
    if !eq(name, "meta") {
        return None;
    }
    let created = if eq(sub, "created") {
        true
    } else if eq(sub, "lastModified") {
        false
    } else {
        return None;
    };
    let CompValue::String(s) = value else {
        return None;
    };
    let at = parse_rfc3339(s)?;
    let cmp = match op {
        CompareOp::Eq => Cmp::Eq,
        CompareOp::Gt => Cmp::Gt,
        CompareOp::Ge => Cmp::Ge,
        CompareOp::Lt => Cmp::Lt,
        CompareOp::Le => Cmp::Le,
        _ => return None,
    };
    Some((cmp, at, created))
}

/// The `x` of a `value eq "x"` that bounds the inner filter of a value path.
fn value_eq(inner: &Filter) -> Option<&str> {
    match inner {
        Filter::Compare(p, CompareOp::Eq, CompValue::String(s))
            if p.urn.is_none() && p.sub_attr.is_none() && eq(&p.name, "value") =>
        {
            Some(s)
        }
        Filter::And(a, b) => value_eq(a).or_else(|| value_eq(b)),
        _ => None,
    }
}

fn core_or_unqualified(path: &AttrPath, core: &str) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|urn| urn.eq_ignore_ascii_case(core))
}

fn is(path: &AttrPath, name: &str) -> bool {
    path.sub_attr.is_none() && eq(&path.name, name)
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(f: &str) -> Option<Vec<UserKey>> {
        user_plan(&scim::filter::parse(f).unwrap())
    }

    #[test]
    fn entra_matching_queries_are_served_by_indexes() {
        assert_eq!(
            users(r#"userName eq "Test_User@Contoso.com""#),
            Some(vec![UserKey::UserNameLower("test_user@contoso.com".into())])
        );
        assert_eq!(
            users(r#"externalId eq "0a21f0f2""#),
            Some(vec![UserKey::ExternalId("0a21f0f2".into())])
        );
        assert_eq!(
            users(r#"emails[type eq "work"].value eq "A@x.com""#),
            Some(vec![UserKey::EmailLower("a@x.com".into())])
        );
        assert_eq!(
            users(r#"id eq "u1" and manager eq "m1""#),
            Some(vec![UserKey::Id("u1".into())])
        );
        assert_eq!(
            users(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "A""#),
            Some(vec![UserKey::UserNameLower("a".into())])
        );
        assert_eq!(users("active eq false"), Some(vec![UserKey::Active(false)]));
        assert_eq!(
            users(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#),
            Some(vec![UserKey::UpdatedAt(Cmp::Gt, 1_767_225_600_000_000)])
        );
    }

    #[test]
    fn or_needs_both_sides_and_negations_scan() {
        assert_eq!(
            users(r#"userName eq "a" or displayName eq "B""#),
            Some(vec![
                UserKey::UserNameLower("a".into()),
                UserKey::DisplayNameLower("b".into())
            ])
        );
        assert_eq!(users(r#"userName eq "a" or title eq "b""#), None);
        assert_eq!(users(r#"not (userName eq "a")"#), None);
        assert_eq!(users(r#"userName sw "a""#), None);
        assert_eq!(
            users(r#"title eq "x" and userName eq "a""#),
            Some(vec![UserKey::UserNameLower("a".into())])
        );
    }

    #[test]
    fn group_member_filters_use_the_member_index() {
        for f in [
            r#"members[value eq "u1"]"#,
            r#"members.value eq "u1""#,
            r#"id eq "g1" and members eq "u1""#,
        ] {
            let keys = group_plan(&scim::filter::parse(f).unwrap()).unwrap();
            assert!(
                keys == vec![GroupKey::Member("u1".into())]
                    || keys == vec![GroupKey::Id("g1".into())],
                "{f}: {keys:?}"
            );
        }
    }
}
