//! Operations on the elements of multi-valued attributes, for the PATCH engine:
//! duplicate detection by `value`, the single `primary` (RFC 7643 §2.4), removal of
//! listed values (Entra's member removal), and the element a value filter
//! describes (for Entra's upserts, entra-scim.md §2.3).

use serde_json::{Map, Value};

use crate::coerce;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::json::{get_ci, get_ci_mut, insert_canonical, is_unassigned, remove_ci};
use crate::schema::AttrDef;
use crate::text;

pub(super) fn keep_filter_terms(
    c: &mut Map<String, Value>,
    def: &AttrDef,
    filter: &Filter,
    indices: &[usize],
) {
    let (Some(Value::Array(items)), Some(terms)) =
        (get_ci_mut(c, def.name), equalities(filter, def))
    else {
        return;
    };
    for &i in indices {
        if let Some(Value::Object(item)) = items.get_mut(i) {
            for (k, v) in &terms {
                if get_ci(item, k).is_none() {
                    item.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

pub(super) fn array_entry<'a>(c: &'a mut Map<String, Value>, name: &str) -> &'a mut Vec<Value> {
    let existing = remove_ci(c, name).filter(Value::is_array);
    let slot = c
        .entry(name.to_owned())
        .or_insert_with(|| existing.unwrap_or_else(|| Value::Array(Vec::new())));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(items) => items,
        _ => unreachable!("slot was just made an array"),
    }
}

/// An element (or complex value) with nothing left that identifies it: no `value`
/// where the attribute has one, else nothing but `type`/`primary`/`display`.
pub(super) fn is_hollow(obj: &Map<String, Value>, def: &AttrDef) -> bool {
    if def.has_value_sub() {
        return get_ci(obj, "value").is_none_or(is_unassigned);
    }
    obj.iter().all(|(k, v)| {
        is_unassigned(v)
            || ["type", "primary", "display"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(k))
    })
}

pub(super) fn same_element(a: &Value, b: &Value, def: &AttrDef) -> bool {
    let value = |v: &Value| v.as_object().and_then(|o| get_ci(o, "value")).cloned();
    match (value(a), value(b), def.sub("value")) {
        (Some(Value::String(x)), Some(Value::String(y)), Some(sub)) => {
            text::eq(&x, &y, sub.case_exact)
        }
        (Some(x), Some(y), _) => x == y,
        _ => a == b,
    }
}

/// RFC 7644 §3.5.2.1: adds values without duplicating; returns the indices written.
pub(super) fn merge_items(items: &mut Vec<Value>, new: Vec<Value>, def: &AttrDef) -> Vec<usize> {
    let mut written = Vec::with_capacity(new.len());
    for item in new {
        match items.iter().position(|e| same_element(e, &item, def)) {
            Some(i) => {
                if let (Some(Value::Object(existing)), Value::Object(fields)) =
                    (items.get_mut(i), item)
                {
                    // The element's identity (`value`) stays as stored.
                    for (k, v) in fields
                        .into_iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case("value"))
                    {
                        insert_canonical(existing, &k, v);
                    }
                }
                written.push(i);
            }
            None => {
                items.push(item);
                written.push(items.len() - 1);
            }
        }
    }
    written
}

/// RFC 7643 §2.4: `primary: true` just written to one element clears the others.
pub(super) fn enforce_primary(items: &mut [Value], written: &[usize]) {
    let is_primary =
        |v: &Value| v.as_object().and_then(|o| get_ci(o, "primary")) == Some(&Value::Bool(true));
    let Some(winner) = written
        .iter()
        .rev()
        .copied()
        .find(|&i| items.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != winner {
            if let Some(Value::Object(obj)) = Some(item).filter(|v| is_primary(v)) {
                insert_canonical(obj, "primary", Value::Bool(false));
            }
        }
    }
}

/// Entra's `{"op":"Remove","path":"members","value":[{"value":"id"}]}`: only these.
pub(super) fn remove_listed(c: &mut Map<String, Value>, def: &AttrDef, listed: Value) {
    let listed = match listed {
        Value::Array(values) => values,
        other => vec![other],
    };
    let Some(Value::Array(items)) = get_ci_mut(c, def.name) else {
        return;
    };
    items.retain(|item| {
        !listed.iter().any(|l| match l {
            Value::String(id) => same_element(item, &serde_json::json!({ "value": id }), def),
            other => same_element(item, other, def),
        })
    });
    if items.is_empty() {
        remove_ci(c, def.name);
    }
}

/// The element a filter describes: its top-level `and`-joined `eq` terms, or `None`
/// when the filter says anything else.
pub(super) fn equalities(filter: &Filter, def: &AttrDef) -> Option<Map<String, Value>> {
    match filter {
        Filter::And(a, b) => {
            let mut map = equalities(a, def)?;
            map.extend(equalities(b, def)?);
            Some(map)
        }
        Filter::Compare(p, CompareOp::Eq, v) if p.urn.is_none() && p.sub_attr.is_none() => {
            let sub = def.sub(&p.name)?;
            let json = match v {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            let value = coerce::simple(sub, json, sub.name).ok()??;
            let mut map = Map::new();
            map.insert(sub.name.to_owned(), value);
            Some(map)
        }
        _ => None,
    }
}
