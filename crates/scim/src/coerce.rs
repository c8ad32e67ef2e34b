//! Turns one client-supplied attribute value into its stored form: the single place
//! where values enter, for create, replace and PATCH alike.
//!
//! - null and `""` are "not asserted" (RFC 7643 §2.5; Entra sends both): `Ok(None)`;
//! - Entra's `"True"`/`"False"` strings become JSON booleans (entra-scim.md §2.5);
//! - a reference-like complex attribute (`manager`) accepts a bare id string, an
//!   object, or a one-element array of objects (entra-scim.md §2.4);
//! - sub-attribute names get the schema's spelling (`"Value"` -> `"value"`);
//! - readOnly sub-attributes are dropped (RFC 7644 §3.5.1: readOnly input is ignored);
//! - anything else of the wrong type is 400 `invalidValue` naming the attribute.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Number, Value};

use crate::schema::{AttrDef, AttrType, Mutability};
use crate::{ScimError, ScimType};

/// `"true"`/`"false"` in any case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An RFC 3339 date-time (the profile of xsd:dateTime SCIM uses, RFC 7643 §2.3.5).
pub(crate) fn date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn mismatch(def: &AttrDef, path: &str, v: &Value) -> ScimError {
    invalid_value(format!(
        "Attribute '{path}' expects a {} value, not {} {v}",
        def.attr_type.as_str(),
        json_type(v)
    ))
}

/// A whole attribute value: an array for multi-valued attributes (a lone value is
/// wrapped), an object for complex ones, a scalar otherwise.
pub(crate) fn attribute(
    def: &'static AttrDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if !def.multi_valued {
        return single(def, value, path);
    }
    let values = match value {
        Value::Null => return Ok(None),
        Value::Array(values) => values,
        other => vec![other],
    };
    let mut items = Vec::with_capacity(values.len());
    for v in values {
        if let Some(item) = item(def, v, path)? {
            items.push(item);
        }
    }
    if items.is_empty() {
        return Ok(None);
    }
    // RFC 7643 §2.4: "primary" true appears no more than once; the first one wins.
    let mut seen_primary = false;
    for item in &mut items {
        if let Some(p) = item.get_mut("primary") {
            if *p == Value::Bool(true) {
                if seen_primary {
                    *p = Value::Bool(false);
                }
                seen_primary = true;
            }
        }
    }
    Ok(Some(Value::Array(items)))
}

/// One element of a multi-valued attribute.
pub(crate) fn item(
    def: &'static AttrDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    match (def.attr_type, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::Complex, Value::Object(map)) => Ok(sub_object(def, map, path)?),
        // A bare id where an item with a `value` is expected (`"members": ["id"]`).
        (AttrType::Complex, Value::String(s)) if def.has_value_sub() => Ok(value_object(s)),
        (AttrType::Complex, other) => Err(mismatch(def, path, &other)),
        (_, other) => simple(def, other, path),
    }
}

fn value_object(id: String) -> Option<Value> {
    if id.is_empty() {
        return None;
    }
    let mut map = Map::new();
    map.insert("value".to_owned(), Value::String(id));
    Some(Value::Object(map))
}

fn single(def: &'static AttrDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    if def.attr_type != AttrType::Complex {
        return simple(def, value, path);
    }
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => sub_object(def, map, path),
        // Entra: `"manager": "2c2f6fb8-…"` (a bare id).
        Value::String(s) if def.has_value_sub() => Ok(value_object(s)),
        // Entra's pre-2018 docs: `"manager": [{"$ref": …, "value": …}]`.
        Value::Array(mut values) if values.len() <= 1 => match values.pop() {
            Some(v) => single(def, v, path),
            None => Ok(None),
        },
        other => Err(mismatch(def, path, &other)),
    }
}

/// The sub-attributes of a complex value, canonically spelled; unknown sub-attributes
/// are kept as given (minus nulls) so that clients' extra data round-trips.
pub(crate) fn sub_object(
    def: &'static AttrDef,
    map: Map<String, Value>,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let mut out = Map::new();
    for (key, v) in map {
        match def.sub(&key) {
            Some(sub) if sub.mutability == Mutability::ReadOnly => {}
            Some(sub) => {
                if let Some(v) = simple(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            None if v.is_null() => {}
            None => {
                out.insert(key, v);
            }
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// A scalar of the attribute's type.
pub(crate) fn simple(def: &AttrDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    let ok = |v| Ok(Some(v));
    match (def.attr_type, value) {
        (_, Value::Null) => Ok(None),
        (_, Value::String(s)) if s.is_empty() => Ok(None),
        (AttrType::Boolean, Value::Bool(b)) => ok(Value::Bool(b)),
        // Entra's default dialect: `"value": "False"` (entra-scim.md §2.5).
        (AttrType::Boolean, Value::String(s)) => match parse_bool(&s) {
            Some(b) => ok(Value::Bool(b)),
            None => Err(mismatch(def, path, &Value::String(s))),
        },
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            ok(Value::String(s))
        }
        // A number for a string attribute (`"employeeNumber": 701984`) keeps its digits.
        (AttrType::String, Value::Number(n)) => ok(Value::String(n.to_string())),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(Value::Number(n)),
        (AttrType::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => ok(Value::Number(i.into())),
            Err(_) => Err(mismatch(def, path, &Value::String(s))),
        },
        (AttrType::Decimal, Value::Number(n)) => ok(Value::Number(n)),
        (AttrType::Decimal, Value::String(s)) => {
            match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => ok(Value::Number(n)),
                None => Err(mismatch(def, path, &Value::String(s))),
            }
        }
        (AttrType::DateTime, Value::String(s)) if date_time(&s).is_some() => ok(Value::String(s)),
        (_, other) => Err(mismatch(def, path, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::badge_def;
    use crate::schema;
    use serde_json::json;

    fn def(name: &str) -> &'static AttrDef {
        schema::user().resolve(None, name).expect(name).1
    }

    #[test]
    fn attribute_values_table() {
        let table = [
            ("active", json!("True"), Some(json!(true))),
            ("active", json!("false"), Some(json!(false))),
            ("active", json!(false), Some(json!(false))),
            ("active", json!(null), None),
            ("title", json!("Tour Guide"), Some(json!("Tour Guide"))),
            ("title", json!(""), None),
            ("employeeNumber", json!(701984), Some(json!("701984"))),
            (
                "manager",
                json!("2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"),
                Some(json!({"value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"})),
            ),
            (
                "manager",
                json!({"value": "M"}),
                Some(json!({"value": "M"})),
            ),
            (
                "manager",
                json!([{"$ref": "../Users/M", "value": "M", "displayName": "Boss"}]),
                Some(json!({"$ref": "../Users/M", "value": "M"})),
            ),
            (
                "manager",
                json!([{"$ref": null, "value": "M"}]),
                Some(json!({"value": "M"})),
            ),
            ("manager", json!(""), None),
            ("manager", json!({"value": ""}), None),
            ("manager", json!([]), None),
            (
                "emails",
                json!({"Value": "a@x.org", "Type": "work", "Primary": "true"}),
                Some(json!([{"value": "a@x.org", "type": "work", "primary": true}])),
            ),
            ("roles", json!([]), None),
            (
                "emails",
                json!([{"value": "a", "primary": true}, {"value": "b", "primary": true}]),
                Some(json!([{"value": "a", "primary": true}, {"value": "b", "primary": false}])),
            ),
            (
                "name",
                json!({"GivenName": "Barbara", "familyName": null, "nick": "x", "alias": null}),
                Some(json!({"givenName": "Barbara", "nick": "x"})),
            ),
        ];
        for (name, input, expected) in table {
            assert_eq!(
                attribute(def(name), input.clone(), name),
                Ok(expected),
                "{name}: {input}"
            );
        }
    }

    #[test]
    fn type_mismatches_are_invalid_value() {
        let table = [
            ("active", json!("yes")),
            ("active", json!(1)),
            ("title", json!({"a": 1})),
            ("title", json!(true)),
            ("name", json!("Barbara")),
            ("name", json!({"givenName": {"nested": true}})),
            ("emails", json!([{"primary": "maybe"}])),
            ("emails", json!([42])),
            ("manager", json!([{"value": "a"}, {"value": "b"}])),
            ("manager", json!(7)),
        ];
        for (name, input) in table {
            let err = attribute(def(name), input.clone(), name).expect_err(name);
            assert_eq!(
                err.scim_type,
                Some(ScimType::InvalidValue),
                "{name}: {input}"
            );
            assert!(err.detail.contains(name), "{}", err.detail);
        }
        // Addresses have no `value`: a bare string is no address (RFC 7643 §4.1.2).
        let err = attribute(
            def("addresses"),
            json!(["100 Universal City Plaza"]),
            "addresses",
        )
        .expect_err("a string is no address");
        assert_eq!(
            err.detail,
            "Attribute 'addresses' expects a complex value, not string \"100 Universal City Plaza\""
        );
        let meta = def("meta");
        let created = meta.sub("created").expect("created");
        assert!(simple(created, json!("2010-01-23T04:56:22Z"), "meta.created").is_ok());
        assert!(simple(created, json!("yesterday"), "meta.created").is_err());
    }

    #[test]
    fn mismatch_details_name_the_attribute_and_both_types() {
        let table = [
            (
                "active",
                json!("yes"),
                "expects a boolean value, not string \"yes\"",
            ),
            ("active", json!(1), "expects a boolean value, not number 1"),
            (
                "title",
                json!([true]),
                "expects a string value, not array [true]",
            ),
            (
                "title",
                json!({"a": 1}),
                "expects a string value, not object {\"a\":1}",
            ),
            (
                "name",
                json!(false),
                "expects a complex value, not boolean false",
            ),
            (
                "emails",
                json!([42]),
                "expects a complex value, not number 42",
            ),
        ];
        for (name, input, expected) in table {
            let err = attribute(def(name), input, name).expect_err(name);
            assert_eq!(err.detail, format!("Attribute '{name}' {expected}"));
        }
    }

    #[test]
    fn integers_decimals_and_simple_multi_valued_attributes() {
        // RFC 7643 §2.3.4 integer, §2.3.3 decimal, §2.4 multi-valued without sub-attributes.
        let accepted = [
            ("number", json!(7), json!(7)),
            ("number", json!(-3), json!(-3)),
            ("number", json!(u64::MAX), json!(u64::MAX)),
            ("number", json!(" 42 "), json!(42)),
            ("weight", json!(1.5), json!(1.5)),
            ("weight", json!(3), json!(3)),
            ("weight", json!("2.25"), json!(2.25)),
            ("tags", json!("a"), json!(["a"])),
            ("tags", json!(["a", "", null, 7]), json!(["a", "7"])),
            ("doors", json!(["1", 2]), json!([1, 2])),
        ];
        for (name, input, expected) in accepted {
            assert_eq!(
                attribute(badge_def(name), input.clone(), name),
                Ok(Some(expected)),
                "{name}: {input}"
            );
        }
        let refused = [
            ("number", json!(1.5), "integer value, not number 1.5"),
            ("number", json!("4.2"), "integer value, not string \"4.2\""),
            ("number", json!(true), "integer value, not boolean true"),
            (
                "weight",
                json!("heavy"),
                "decimal value, not string \"heavy\"",
            ),
            ("weight", json!("NaN"), "decimal value, not string \"NaN\""),
            (
                "tags",
                json!([{"value": "a"}]),
                "string value, not object {\"value\":\"a\"}",
            ),
            ("doors", json!(["two"]), "integer value, not string \"two\""),
        ];
        for (name, input, expected) in refused {
            let err = attribute(badge_def(name), input.clone(), name).expect_err(name);
            assert_eq!(
                err.scim_type,
                Some(ScimType::InvalidValue),
                "{name}: {input}"
            );
            assert_eq!(
                err.detail,
                format!("Attribute '{name}' expects a {expected}")
            );
        }
        assert_eq!(
            attribute(badge_def("tags"), json!(["", null]), "tags"),
            Ok(None)
        );
    }
}
