//! Sorting (RFC 7644 §3.4.2.3): an ordering of two resources by one attribute path.
//!
//! - a multi-valued attribute sorts by its primary value, else its first value;
//!   a complex attribute without a sub-attribute sorts by its `value`;
//! - strings compare case-insensitively unless `caseExact`; dateTimes
//!   chronologically; numbers numerically; `false` before `true`;
//! - resources without a value sort last in ascending order. For `descending`,
//!   reverse the result (`compare(a, b, ..).reverse()`): they then come first,
//!   which is what the RFC asks ("ordered last if ascending and first if
//!   descending");
//! - an attribute the schema does not define compares equal (a stable sort keeps
//!   the server's order).

use std::cmp::Ordering;

use serde_json::Value;

use crate::coerce::date_time;
use crate::json::{get_ci, is_unassigned};
use crate::path::AttrPath;
use crate::schema::{AttrDef, AttrType, ResolvedIn, ResourceSchema};
use crate::text;

/// Ascending order of `a` and `b` by the attribute `by`.
pub fn compare(a: &Value, b: &Value, by: &AttrPath, schema: &ResourceSchema) -> Ordering {
    let Some((location, def)) = schema.resolve(by.urn.as_deref(), &by.name) else {
        return Ordering::Equal;
    };
    let leaf = match by.sub_attr.as_deref() {
        Some(sub) => match def.sub(sub) {
            Some(leaf) => leaf,
            None => return Ordering::Equal,
        },
        // RFC 7644 §3.4.2.3: a complex attribute with a `value` sorts by it.
        None => def.sub("value").unwrap_or(def),
    };
    let key = |r| sort_key(r, location, def, leaf);
    match (key(a), key(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_values(leaf, x, y),
    }
}

fn sort_key<'a>(
    resource: &'a Value,
    location: ResolvedIn,
    def: &AttrDef,
    leaf: &AttrDef,
) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    let container = match location {
        ResolvedIn::Core => obj,
        ResolvedIn::Extension(urn) => get_ci(obj, urn)?.as_object()?,
    };
    let raw = get_ci(container, def.name)?;
    let element = match raw {
        Value::Array(items) => items
            .iter()
            .find(|i| i.as_object().and_then(|o| get_ci(o, "primary")) == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        v => v,
    };
    let value = if std::ptr::eq(leaf, def) {
        element
    } else {
        get_ci(element.as_object()?, leaf.name)?
    };
    (!is_unassigned(value)).then_some(value)
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn compare_values(def: &AttrDef, x: &Value, y: &Value) -> Ordering {
    match (x, y) {
        (Value::String(a), Value::String(b)) => {
            if def.attr_type == AttrType::DateTime {
                if let (Some(a), Some(b)) = (date_time(a), date_time(b)) {
                    return a.cmp(&b);
                }
            }
            text::cmp(a, b, def.case_exact)
        }
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => rank(x).cmp(&rank(y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;
    use serde_json::json;

    fn sorted(mut users: Vec<Value>, by: &str, descending: bool) -> Vec<String> {
        let by = AttrPath::parse(by).expect("path");
        users.sort_by(|a, b| {
            let o = compare(a, b, &by, schema::user());
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        users
            .iter()
            .map(|u| u["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn users() -> Vec<Value> {
        vec![
            json!({"id": "1", "userName": "charlie", "externalId": "b",
                   "name": {"familyName": "Zeta"},
                   "emails": [{"value": "z@x.org"}, {"value": "a@x.org", "primary": true}],
                   "meta": {"lastModified": "2011-05-13T04:42:34Z"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m2"}}}),
            json!({"id": "2", "userName": "Alice", "externalId": "B",
                   "emails": [{"value": "m@x.org"}],
                   "meta": {"lastModified": "2011-05-13T05:42:34+02:00"}}),
            json!({"id": "3", "userName": "bob", "externalId": "a",
                   "name": {"familyName": "alpha"},
                   "meta": {"lastModified": "2011-05-13T04:00:00Z"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m1"}}}),
        ]
    }

    #[test]
    fn sort_table() {
        let table = [
            ("userName", false, ["2", "3", "1"]),
            ("USERNAME", true, ["1", "3", "2"]),
            // caseExact: uppercase sorts before lowercase.
            ("externalId", false, ["2", "3", "1"]),
            // Missing values last ascending, first descending.
            ("name.familyName", false, ["3", "1", "2"]),
            ("name.familyName", true, ["2", "1", "3"]),
            // Multi-valued: the primary value, else the first.
            ("emails", false, ["1", "2", "3"]),
            ("emails.value", true, ["3", "2", "1"]),
            // Chronological: 05:42+02:00 is 03:42Z.
            ("meta.lastModified", false, ["2", "3", "1"]),
            ("manager", false, ["3", "1", "2"]),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                false,
                ["3", "1", "2"],
            ),
            // Undefined attributes keep the input order.
            ("favouriteColour", false, ["1", "2", "3"]),
            ("name.nosuch", false, ["1", "2", "3"]),
        ];
        for (by, descending, expected) in table {
            assert_eq!(
                sorted(users(), by, descending),
                expected,
                "{by} desc={descending}"
            );
        }
    }

    #[test]
    fn booleans_and_numbers() {
        let active = AttrPath::new("active");
        let off = json!({"active": false});
        let on = json!({"active": true});
        assert_eq!(compare(&off, &on, &active, schema::user()), Ordering::Less);
        let d = schema::user().resolve(None, "active").expect("active").1;
        assert_eq!(compare_values(d, &json!(2), &json!(10)), Ordering::Less);
        assert_eq!(compare_values(d, &json!(true), &json!("x")), Ordering::Less);
    }
}
