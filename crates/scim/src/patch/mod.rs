//! RFC 7644 §3.5.2 PATCH: the request model, parsing that tolerates both of Entra's
//! dialects (entra-scim.md §2.3–§2.7, §4), pulling member changes out for the
//! server's side table, and [`apply`] (the engine lives in `engine`).
//!
//! Dialect differences absorbed: `op` in any case (`Add`/`add`), `Operations` and
//! `schemas` in any order or case, booleans as strings, member removal as
//! `{"op":"Remove","path":"members","value":[{"value":"id"}]}` (remove only those),
//! and path-less values whose keys are themselves paths.

mod elements;
mod engine;
mod unknown;

use serde_json::{Map, Value};

use crate::filter::{CompValue, CompareOp, Filter};
use crate::json::{get_ci, remove_ci};
use crate::limits;
use crate::path::PatchPath;
use crate::schema::ResourceSchema;
use crate::{ScimError, ScimType, GROUP_SCHEMA, USER_SCHEMA};

/// The three PATCH operations (RFC 7644 §3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    /// §3.5.2.1
    Add,
    /// §3.5.2.3
    Replace,
    /// §3.5.2.2
    Remove,
}

impl PatchOpKind {
    /// Parses `add`/`replace`/`remove` in any case (Entra's default dialect sends
    /// `Add`/`Replace`/`Remove`).
    pub fn parse(s: &str) -> Option<PatchOpKind> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("add") {
            Some(PatchOpKind::Add)
        } else if s.eq_ignore_ascii_case("replace") {
            Some(PatchOpKind::Replace)
        } else if s.eq_ignore_ascii_case("remove") {
            Some(PatchOpKind::Remove)
        } else {
            None
        }
    }
}

/// One member of `Operations`.
#[derive(Debug, Clone)]
pub struct PatchOperation {
    /// add, replace or remove.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// `None` when the member is absent; `Some(Null)` when it is `null`.
    pub value: Option<Value>,
}

impl PatchOperation {
    /// The values this operation touches, as [`limits::MAX_WRITE_VALUES`] counts them: those
    /// its `value` lists plus the terms of its path's filter (`members[value eq "a" or value
    /// eq "b"]` removes two), and at least one.
    fn values(&self) -> usize {
        let listed = self.value.as_ref().map_or(0, limits::values);
        let selected = self
            .path
            .as_ref()
            .and_then(|p| p.filter.as_ref())
            .map_or(0, Filter::terms);
        (listed + selected).max(1)
    }
}

/// A parsed PatchOp request body.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    /// Applied in order, atomically.
    pub operations: Vec<PatchOperation>,
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

impl PatchRequest {
    /// Parses a PatchOp body. Lenient about `schemas` (missing or other URNs are
    /// accepted) and about member-name case. Errors: not an object or no
    /// `Operations` array -> 400 `invalidSyntax`; unknown `op` -> `invalidSyntax`;
    /// add/replace without `value` -> `invalidValue`; remove without `path` ->
    /// `noTarget` (RFC 7644 §3.5.2.2); malformed path -> `invalidPath`. Past the limits of
    /// [`crate::limits`] (operations, values touched, nesting of a value) -> `tooMany`; a
    /// path's filter past them -> `invalidFilter`.
    pub fn from_json(body: &Value) -> Result<PatchRequest, ScimError> {
        let body = body
            .as_object()
            .ok_or_else(|| syntax("The PATCH body must be a JSON object"))?;
        let operations = get_ci(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                syntax("The PATCH body needs an 'Operations' array (RFC 7644 §3.5.2)")
            })?;
        limits::check_operations(operations.len())?;
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(op).map_err(|e| prefix(e, i)))
            .collect::<Result<Vec<_>, _>>()?;
        limits::check_values(operations.iter().map(PatchOperation::values).sum())?;
        Ok(PatchRequest { operations })
    }

    /// Splits out every operation that targets the multi-valued attribute `attr`
    /// (case-insensitive, e.g. `"members"`) so the server can apply member changes
    /// to a side table without loading the whole list. Returns the remaining
    /// request and the changes, in operation order:
    ///
    /// - path `members`: add -> `Add`, replace -> `Replace` (null -> `RemoveAll`),
    ///   remove without value -> `RemoveAll`, remove WITH a value array ->
    ///   `Remove(listed ids)` (Entra's default dialect; never a wipe);
    /// - path `members[value eq "x"]` (or `value eq` joined by `or`): remove ->
    ///   `Remove(["x"])`; other filters -> `RemoveWhere(filter)`; add/replace with a
    ///   single `value eq` -> `Add([{"value": "x", ...value}])`;
    /// - path-less add/replace whose value object has a `members` key: the key is
    ///   taken out and becomes `Add`/`Replace`; the rest of the op stays (and is
    ///   dropped when nothing is left).
    ///
    /// Items are normalised: a bare id becomes `{"value": id}`, null members are
    /// dropped, `value`/`$ref`/`type`/`display` get their canonical spelling.
    pub fn extract_multi_valued(self, attr: &str) -> (PatchRequest, Vec<MultiValuedChange>) {
        let mut rest = Vec::with_capacity(self.operations.len());
        let mut changes = Vec::new();
        for mut op in self.operations {
            match &op.path {
                Some(path) if targets(path, attr) && path.sub_attr.is_none() => {
                    match (&path.filter, op.op) {
                        (None, PatchOpKind::Add) => {
                            changes.push(MultiValuedChange::Add(items(op.value)))
                        }
                        (None, PatchOpKind::Replace) => changes.push(match op.value {
                            None | Some(Value::Null) => MultiValuedChange::RemoveAll,
                            value => MultiValuedChange::Replace(items(value)),
                        }),
                        (None, PatchOpKind::Remove) => changes.push(match op.value {
                            None | Some(Value::Null) => MultiValuedChange::RemoveAll,
                            Some(value) => MultiValuedChange::Remove(ids(value)),
                        }),
                        (Some(filter), PatchOpKind::Remove) => {
                            changes.push(match value_ids(filter) {
                                Some(ids) => MultiValuedChange::Remove(ids),
                                None => MultiValuedChange::RemoveWhere(filter.clone()),
                            })
                        }
                        (Some(filter), _) => match value_ids(filter).filter(|ids| ids.len() == 1) {
                            Some(mut ids) => {
                                let mut item = match op.value.take().and_then(item) {
                                    Some(Value::Object(map)) => map,
                                    _ => Map::new(),
                                };
                                item.insert("value".into(), Value::String(ids.remove(0)));
                                changes.push(MultiValuedChange::Add(vec![Value::Object(item)]));
                            }
                            None => rest.push(op),
                        },
                    }
                }
                None if op.op != PatchOpKind::Remove => {
                    if let Some(Value::Object(map)) = &mut op.value {
                        if let Some(taken) = remove_ci(map, attr) {
                            changes.push(match (op.op, taken) {
                                (PatchOpKind::Add, v) => MultiValuedChange::Add(items(Some(v))),
                                (_, Value::Null) => MultiValuedChange::RemoveAll,
                                (_, v) => MultiValuedChange::Replace(items(Some(v))),
                            });
                            if map.is_empty() {
                                continue;
                            }
                        }
                    }
                    rest.push(op);
                }
                _ => rest.push(op),
            }
        }
        (PatchRequest { operations: rest }, changes)
    }
}

fn prefix(mut e: ScimError, index: usize) -> ScimError {
    e.detail = format!("Operations[{index}]: {}", e.detail);
    e
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let op = op
        .as_object()
        .ok_or_else(|| syntax("Each operation must be a JSON object"))?;
    let kind = match get_ci(op, "op") {
        Some(Value::String(s)) => PatchOpKind::parse(s)
            .ok_or_else(|| syntax(format!("Unknown op '{s}'; expected add, replace or remove")))?,
        _ => {
            return Err(syntax(
                "Each operation needs an 'op' of add, replace or remove",
            ))
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(other) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("'path' must be a string, not {other}"),
            ))
        }
    };
    let value = get_ci(op, "value").cloned();
    if let Some(value) = &value {
        limits::check_depth(value, "The value")?;
    }
    match (kind, &path, &value) {
        (PatchOpKind::Remove, None, _) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            "A 'remove' operation requires a 'path' (RFC 7644 §3.5.2.2)",
        )),
        (PatchOpKind::Add | PatchOpKind::Replace, _, None) => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "An 'add' or 'replace' operation requires a 'value'",
        )),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// A member-style change pulled out of a request so the server can apply it to a
/// side table in O(changed members), never loading the whole list.
#[derive(Debug, Clone, PartialEq)]
pub enum MultiValuedChange {
    /// Add these items (e.g. `{"value": "id", "display": …}`), skipping existing ones.
    Add(Vec<Value>),
    /// Remove the items with these `value`s.
    Remove(Vec<String>),
    /// Remove every item.
    RemoveAll,
    /// Replace the whole list with these items.
    Replace(Vec<Value>),
    /// Remove the items matching this value filter (paths name sub-attributes).
    RemoveWhere(Filter),
}

fn targets(path: &PatchPath, attr: &str) -> bool {
    path.attr.name.eq_ignore_ascii_case(attr)
        && path.attr.sub_attr.is_none()
        && path.attr.urn.as_deref().is_none_or(|u| {
            u.eq_ignore_ascii_case(GROUP_SCHEMA) || u.eq_ignore_ascii_case(USER_SCHEMA)
        })
}

const MEMBER_KEYS: [&str; 4] = ["value", "$ref", "type", "display"];

fn item(v: Value) -> Option<Value> {
    match v {
        Value::String(s) if !s.is_empty() => {
            let mut map = Map::new();
            map.insert("value".into(), Value::String(s));
            Some(Value::Object(map))
        }
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let canonical = MEMBER_KEYS.iter().find(|c| c.eq_ignore_ascii_case(&k));
                    (canonical.map_or(k, |c| (*c).to_owned()), v)
                })
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ => None,
    }
}

fn items(value: Option<Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(values)) => values.into_iter().filter_map(item).collect(),
        Some(v) => item(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn ids(value: Value) -> Vec<String> {
    let values = match value {
        Value::Array(values) => values,
        other => vec![other],
    };
    values
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            Value::Object(map) => match get_ci(&map, "value") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `value eq "a"`, or several joined by `or`: the ids named.
fn value_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare(p, CompareOp::Eq, CompValue::String(id))
            if p.urn.is_none() && p.sub_attr.is_none() && p.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = value_ids(a)?;
            ids.extend(value_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// Applies all operations in order, atomically: on error `resource` is untouched
/// (RFC 7644 §3.5.2). Afterwards `schemas` is recomputed (see
/// [`refresh_schemas`](crate::resource::refresh_schemas)). Semantics, including
/// Entra's, are described in the `engine` module header.
pub fn apply(
    resource: &mut Value,
    request: &PatchRequest,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    let mut work = resource.clone();
    let map = work
        .as_object_mut()
        .ok_or_else(|| ScimError::new(500, None, "The stored resource is not a JSON object"))?;
    for (i, op) in request.operations.iter().enumerate() {
        engine::apply_operation(map, op, schema).map_err(|e| prefix(e, i))?;
    }
    crate::resource::refresh_schemas(&mut work, schema);
    *resource = work;
    Ok(())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod request_tests;

#[cfg(test)]
#[path = "limits_tests.rs"]
mod limits_tests;
