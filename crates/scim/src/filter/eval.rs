//! Filter evaluation against stored resources (RFC 7644 §3.4.2.2).
//!
//! Semantics:
//! - attribute names resolve case-insensitively, unqualified names fall back to the
//!   extensions (`manager`), `meta.*` reads the `meta` object, `schemas` the URN list;
//! - strings compare case-insensitively unless the attribute is `caseExact`
//!   (`id`, `externalId`, `meta.version`, ...);
//! - a multi-valued attribute matches when ANY value matches; a complex attribute
//!   compared without a sub-attribute compares its `value` (`emails co "x"`,
//!   `members eq "id"`, `manager eq "id"`);
//! - dateTime values compare chronologically, numbers numerically;
//! - `pr` is "present and not null, `""` or `[]`";
//! - an absent attribute equals `null`: it matches `eq null` and `ne <non-null>`,
//!   nothing else (so `userType ne "Employee"` includes users without a userType);
//! - an attribute the schema does not define matches nothing, not even `ne`.
//!
//! Nothing here allocates except `co` on non-ASCII strings and numbers compared
//! against string attributes.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{CompValue, CompareOp, Filter};
use crate::coerce::{date_time, parse_bool};
use crate::json::{get_ci, is_unassigned};
use crate::path::AttrPath;
use crate::schema::{AttrDef, AttrType, ResolvedIn, ResourceSchema};
use crate::text;

/// True when `resource` (stored JSON) satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    match resource.as_object() {
        Some(obj) => eval(filter, Scope::Resource(schema, obj)),
        None => false,
    }
}

/// True when one element of the multi-valued attribute `def` satisfies a value
/// filter (the inside of `emails[...]`).
pub(crate) fn matches_item(filter: &Filter, item: &Value, def: &'static AttrDef) -> bool {
    eval(filter, Scope::Item(def, item))
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceSchema, &'a Map<String, Value>),
    Item(&'static AttrDef, &'a Value),
}

fn eval(filter: &Filter, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, scope) && eval(b, scope),
        Filter::Or(a, b) => eval(a, scope) || eval(b, scope),
        Filter::Not(inner) => !eval(inner, scope),
        Filter::Present(path) => {
            locate(path, scope).is_some_and(|at| at.leaves().any(|v| !is_unassigned(v)))
        }
        Filter::Compare(path, op, value) => {
            locate(path, scope).is_some_and(|at| compare(at, *op, value))
        }
        Filter::ValuePath(path, inner) => match scope {
            Scope::Resource(schema, obj) => value_path(schema, obj, path, inner),
            Scope::Item(..) => false,
        },
    }
}

/// Where a filter path's values are: the raw attribute value and, for complex
/// attributes, the sub-attribute to read from each element.
#[derive(Clone, Copy)]
struct Located<'a> {
    leaf: &'static AttrDef,
    raw: Option<&'a Value>,
    key: Option<&'static str>,
}

impl<'a> Located<'a> {
    fn leaves(self) -> impl Iterator<Item = &'a Value> {
        let items: &'a [Value] = match self.raw {
            Some(Value::Array(items)) => items,
            Some(v) => std::slice::from_ref(v),
            None => &[],
        };
        let key = self.key;
        items.iter().filter_map(move |item| match key {
            None => Some(item),
            Some(k) => item.as_object().and_then(|o| get_ci(o, k)),
        })
    }
}

fn attribute_value<'a>(
    obj: &'a Map<String, Value>,
    location: ResolvedIn,
    def: &AttrDef,
) -> Option<&'a Value> {
    let container = match location {
        ResolvedIn::Core => obj,
        ResolvedIn::Extension(urn) => get_ci(obj, urn)?.as_object()?,
    };
    get_ci(container, def.name)
}

fn locate<'a>(path: &AttrPath, scope: Scope<'a>) -> Option<Located<'a>> {
    match scope {
        Scope::Resource(schema, obj) => {
            let (location, def) = schema.resolve(path.urn.as_deref(), &path.name)?;
            let raw = attribute_value(obj, location, def);
            let (leaf, key) = match &path.sub_attr {
                Some(sub) => {
                    let sub = def.sub(sub)?;
                    (sub, Some(sub.name))
                }
                // RFC 7644 §3.4.2.2: `emails co "x"` compares emails.value.
                None if def.has_value_sub() => (def.sub("value")?, Some("value")),
                None => (def, None),
            };
            Some(Located { leaf, raw, key })
        }
        Scope::Item(parent, item) => {
            if path.urn.is_some() || path.sub_attr.is_some() {
                return None;
            }
            if parent.attr_type != AttrType::Complex {
                // A simple multi-valued attribute: `value` is the element itself.
                return path.name.eq_ignore_ascii_case("value").then_some(Located {
                    leaf: parent,
                    raw: Some(item),
                    key: None,
                });
            }
            let leaf = parent.sub(&path.name)?;
            let raw = item.as_object().and_then(|o| get_ci(o, leaf.name));
            Some(Located {
                leaf,
                raw,
                key: None,
            })
        }
    }
}

fn value_path(
    schema: &ResourceSchema,
    obj: &Map<String, Value>,
    path: &AttrPath,
    inner: &Filter,
) -> bool {
    let Some((location, def)) = schema.resolve(path.urn.as_deref(), &path.name) else {
        return false;
    };
    match attribute_value(obj, location, def) {
        Some(Value::Array(items)) => items.iter().any(|item| eval(inner, Scope::Item(def, item))),
        Some(item @ Value::Object(_)) => eval(inner, Scope::Item(def, item)),
        _ => false,
    }
}

fn compare(at: Located<'_>, op: CompareOp, value: &CompValue) -> bool {
    let mut assigned = false;
    for v in at.leaves() {
        if is_unassigned(v) {
            continue;
        }
        assigned = true;
        if compare_one(at.leaf, v, op, value) {
            return true;
        }
    }
    // Absent equals null.
    !assigned
        && match value {
            CompValue::Null => op == CompareOp::Eq,
            _ => op == CompareOp::Ne,
        }
}

/// Maps an ordering to the operator's answer; incomparable values are only `ne`.
fn ordered(op: CompareOp, ordering: Option<Ordering>) -> bool {
    let Some(o) = ordering else {
        return op == CompareOp::Ne;
    };
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn json_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

fn json_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `v` is assigned; `null` compares as no value of any type: only `ne` matches it.
fn compare_one(def: &AttrDef, v: &Value, op: CompareOp, value: &CompValue) -> bool {
    match def.attr_type {
        AttrType::Boolean => {
            let wanted = match value {
                CompValue::Bool(b) => Some(*b),
                CompValue::String(s) => parse_bool(s),
                _ => None,
            };
            match (json_bool(v), wanted, op) {
                (Some(a), Some(b), CompareOp::Eq) => a == b,
                (Some(a), Some(b), CompareOp::Ne) => a != b,
                (_, _, CompareOp::Ne) => true,
                _ => false,
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            let wanted = match value {
                CompValue::Number(n) => n.as_f64(),
                CompValue::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match (json_number(v), wanted) {
                (Some(a), Some(b)) => ordered(op, a.partial_cmp(&b)),
                _ => op == CompareOp::Ne,
            }
        }
        AttrType::DateTime if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            let parsed = match (v, value) {
                (Value::String(a), CompValue::String(b)) => date_time(a).zip(date_time(b)),
                _ => None,
            };
            match parsed {
                Some((a, b)) => ordered(op, Some(a.cmp(&b))),
                None => compare_text(def, v, op, value),
            }
        }
        _ => compare_text(def, v, op, value),
    }
}

fn compare_text(def: &AttrDef, v: &Value, op: CompareOp, value: &CompValue) -> bool {
    let Some(a) = v.as_str() else {
        return op == CompareOp::Ne;
    };
    let number;
    let b: &str = match value {
        CompValue::String(s) => s,
        // A bare token like `externalId eq 701984` parses as a number.
        CompValue::Number(n) => {
            number = n.to_string();
            &number
        }
        CompValue::Bool(true) => "true",
        CompValue::Bool(false) => "false",
        CompValue::Null => return op == CompareOp::Ne,
    };
    let exact = def.case_exact;
    match op {
        CompareOp::Eq => text::eq(a, b, exact),
        CompareOp::Ne => !text::eq(a, b, exact),
        CompareOp::Co => text::contains(a, b, exact),
        CompareOp::Sw => text::starts_with(a, b, exact),
        CompareOp::Ew => text::ends_with(a, b, exact),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            ordered(op, Some(text::cmp(a, b, exact)))
        }
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
