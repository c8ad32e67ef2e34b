//! Case-insensitive access to JSON object members, and the "unassigned" test.
//!
//! RFC 7643 §2.1: attribute names are case-insensitive. The server stores canonical
//! casing, so the exact lookup is tried first and the scan only runs for odd input.
//! RFC 7643 §2.5: null, and an empty array, mean "unassigned"; Entra also uses `""`.

use serde_json::{Map, Value};

/// The member `name`, exact spelling first, then ASCII case-insensitively.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(name) {
        return Some(v);
    }
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The stored spelling of the member `name`, if any spelling is present.
pub(crate) fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Mutable access to the member `name`, whatever its spelling.
pub(crate) fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = key_ci(map, name)?;
    map.get_mut(&key)
}

/// Removes every spelling of `name`; returns the last removed value.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let mut removed = None;
    while let Some(key) = key_ci(map, name) {
        removed = map.remove(&key);
    }
    removed
}

/// Stores `value` under the canonical spelling `name`, dropping any other spelling.
pub(crate) fn insert_canonical(map: &mut Map<String, Value>, name: &str, value: Value) {
    remove_ci(map, name);
    map.insert(name.to_owned(), value);
}

/// The object member `name` under its canonical spelling, created empty if absent
/// (or if it held something other than an object).
pub(crate) fn object_entry<'a>(
    map: &'a mut Map<String, Value>,
    name: &str,
) -> &'a mut Map<String, Value> {
    let existing = remove_ci(map, name).filter(Value::is_object);
    let slot = map
        .entry(name.to_owned())
        .or_insert_with(|| existing.unwrap_or_else(|| Value::Object(Map::new())));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// RFC 7643 §2.5 unassigned: null, `""`, an empty array or an object with nothing assigned.
pub(crate) fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_unassigned),
        Value::Object(o) => o.values().all(is_unassigned),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// True when `key` names a schema extension object rather than an attribute:
/// attribute names cannot contain ':' (RFC 7643 §2.1 ATTRNAME), URNs always do.
pub(crate) fn is_urn_key(key: &str) -> bool {
    key.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn lookups_ignore_case_and_prefer_exact() {
        let m = obj(json!({"userName": "a", "DisplayName": "b"}));
        assert_eq!(get_ci(&m, "username"), Some(&json!("a")));
        assert_eq!(get_ci(&m, "displayName"), Some(&json!("b")));
        assert_eq!(key_ci(&m, "displayname").as_deref(), Some("DisplayName"));
        assert_eq!(get_ci(&m, "title"), None);
    }

    #[test]
    fn insert_canonical_replaces_other_spellings() {
        let mut m = obj(json!({"Formatted": "x", "formatted": "y"}));
        insert_canonical(&mut m, "formatted", json!("z"));
        assert_eq!(Value::Object(m), json!({"formatted": "z"}));
    }

    #[test]
    fn unassigned_values_per_rfc_7643_section_2_5() {
        for v in [json!(null), json!(""), json!([]), json!({}), json!([null])] {
            assert!(is_unassigned(&v), "{v}");
        }
        for v in [json!(false), json!(0), json!("x"), json!([{"value": "a"}])] {
            assert!(!is_unassigned(&v), "{v}");
        }
    }
}
