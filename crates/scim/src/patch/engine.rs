//! The PATCH engine: one operation at a time over a resource's JSON object.
//!
//! RFC 7644 §3.5.2 semantics, plus Entra's (entra-scim.md §2.3–§2.7, §9):
//! - path-less add/replace: each key of the value object is resolved as if it were
//!   the op's path (`"name.givenName"`, `"urn:…:enterprise:2.0:User:employeeNumber"`,
//!   the whole `"urn:…:enterprise:2.0:User"` object); `id`, `meta` and `schemas` keys
//!   are ignored; unknown keys are stored as given;
//! - `replace` with null or `""`, and `add` with `""`, clear the target (Entra's
//!   SCIM_Null_Update); `add` with null does nothing;
//! - add/replace on a filtered path that matches nothing creates the element from
//!   the filter's `eq` terms (`emails[type eq "work"].value` -> `{"type":"work",…}`);
//!   a filter without such terms is 400 `noTarget`; remove matching nothing is a no-op;
//! - multi-valued add appends without duplicates (same `value` merges into the
//!   existing element); `primary: true` written to one element clears the others
//!   (RFC 7643 §2.4); `remove` with a value removes only the listed elements;
//! - a complex attribute with a `value` (`manager`) is replaced whole by add and
//!   replace; other complex attributes (`name`) merge sub-attributes (§3.5.2.3);
//! - readOnly targets -> 400 `mutability`; changing an immutable value ->
//!   `mutability`; removing a required attribute -> `mutability`, clearing it by
//!   replace -> `invalidValue`; unknown attributes -> `invalidPath`; a filter on a
//!   single-valued attribute -> `invalidPath`;
//! - attributes under an unknown schema URN are kept under that URN key: an object
//!   value for `urn:acme:x:1.0:User` is the whole extension, a scalar for
//!   `urn:acme:x:1.0:User:badge` is an attribute inside it;
//! - writeOnly attributes (`password`) are accepted and ignored: never stored.

use serde_json::{Map, Value};

use super::elements::{
    array_entry, enforce_primary, equalities, is_hollow, keep_filter_terms, merge_items,
    remove_listed,
};
use super::unknown::unknown_attribute;
use super::{PatchOpKind, PatchOperation};
use crate::coerce::{self, invalid_value};
use crate::filter::{matches_item, Filter};
use crate::json::{get_ci, get_ci_mut, insert_canonical, is_unassigned, object_entry, remove_ci};
use crate::path::PatchPath;
use crate::schema::{AttrDef, AttrType, Mutability, ResolvedIn, ResourceSchema};
use crate::{ScimError, ScimType};

fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

fn mutability(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::Mutability, detail)
}

fn is_empty_string(v: &Option<Value>) -> bool {
    matches!(v, Some(Value::String(s)) if s.is_empty())
}

/// Does this operation clear its target? Remove, replace with null or `""`, and add
/// with `""` (Entra's SCIM_Null_Update); add with null asserts nothing.
pub(super) fn clears(kind: PatchOpKind, value: &Option<Value>) -> bool {
    match kind {
        PatchOpKind::Remove => true,
        PatchOpKind::Replace => value.as_ref().is_none_or(is_unassigned),
        PatchOpKind::Add => is_empty_string(value),
    }
}

/// Applies one operation to `map` (the resource object).
pub(super) fn apply_operation(
    map: &mut Map<String, Value>,
    op: &PatchOperation,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    match (&op.path, op.op) {
        (None, PatchOpKind::Remove) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            "A 'remove' operation requires a 'path' (RFC 7644 §3.5.2.2)",
        )),
        (None, kind) => match &op.value {
            Some(Value::Object(obj)) => {
                for (key, value) in obj {
                    apply_key(map, kind, key, value.clone(), schema)?;
                }
                Ok(())
            }
            _ => Err(invalid_value(
                "Without a 'path', the 'value' must be an object of attributes".into(),
            )),
        },
        (Some(path), kind) => {
            if kind != PatchOpKind::Remove && op.value.is_none() {
                return Err(invalid_value(
                    "An 'add' or 'replace' operation requires a 'value'".into(),
                ));
            }
            apply_path(map, kind, path, op.value.clone(), schema, false)
        }
    }
}

/// One member of a path-less value object: its key is a path (entra-scim.md §2.3).
fn apply_key(
    map: &mut Map<String, Value>,
    kind: PatchOpKind,
    key: &str,
    value: Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    // Echoes of server-owned data (RFC 7644 §3.5.2 clients often send them back).
    if ["schemas", "id", "meta"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
    {
        return Ok(());
    }
    if key.eq_ignore_ascii_case(schema.core.id) {
        if let Value::Object(obj) = value {
            for (k, v) in obj {
                apply_key(map, kind, &k, v, schema)?;
            }
        }
        return Ok(());
    }
    let path = PatchPath::parse(key)?;
    apply_path(map, kind, &path, Some(value), schema, true)
}

/// The members of a whole extension object, each applied as `urn:name`.
fn apply_extension_object(
    map: &mut Map<String, Value>,
    kind: PatchOpKind,
    urn: &'static str,
    value: Option<Value>,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    match value {
        None | Some(Value::Null) => {
            if kind == PatchOpKind::Replace {
                remove_ci(map, urn);
            }
            Ok(())
        }
        Some(Value::Object(obj)) => {
            for (k, v) in obj {
                let mut path = PatchPath::parse(&k)?;
                if path.attr.urn.is_some() {
                    return Err(invalid_path(format!(
                        "Unexpected schema URN in '{k}' inside '{urn}'"
                    )));
                }
                path.attr.urn = Some(urn.to_owned());
                apply_path(map, kind, &path, Some(v), schema, true)?;
            }
            Ok(())
        }
        Some(other) => Err(invalid_value(format!(
            "'{urn}' must be an object, not {other}"
        ))),
    }
}

/// The container of an attribute: the resource, or the extension object (created
/// when `create`).
fn container<'a>(
    map: &'a mut Map<String, Value>,
    ext: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match ext {
        None => Some(map),
        Some(urn) if create => Some(object_entry(map, urn)),
        Some(urn) => get_ci_mut(map, urn)?.as_object_mut(),
    }
}

fn apply_path(
    map: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<Value>,
    schema: &ResourceSchema,
    lenient: bool,
) -> Result<(), ScimError> {
    if path.filter.is_none() {
        if let Some(ext) = path.attr.as_urn().and_then(|urn| schema.extension(&urn)) {
            if kind == PatchOpKind::Remove {
                remove_ci(map, ext.id);
                return Ok(());
            }
            return apply_extension_object(map, kind, ext.id, value, schema);
        }
    }
    let Some((location, def)) = schema.resolve(path.attr.urn.as_deref(), &path.attr.name) else {
        return unknown_attribute(map, kind, path, value, schema, lenient);
    };
    if def.mutability == Mutability::ReadOnly {
        return Err(mutability(format!("Attribute '{path}' is readOnly")));
    }
    if def.mutability == Mutability::WriteOnly {
        // `password`: never stored in the resource JSON (see resource::normalize).
        return Ok(());
    }
    let ext = match location {
        ResolvedIn::Core => None,
        ResolvedIn::Extension(urn) => Some(urn),
    };
    let target = Target {
        def,
        ext,
        display: path.to_string(),
    };
    match (&path.filter, path.attr.sub_attr.as_deref()) {
        (None, None) => target.whole(map, kind, value),
        (None, Some(sub)) => target.sub_attribute(map, kind, sub, value),
        (Some(filter), None) => target.filtered(map, kind, filter, path.sub_attr.as_deref(), value),
        (Some(_), Some(_)) => Err(invalid_path(format!("Invalid path '{path}'"))),
    }
}

/// A resolved schema attribute and where it is stored.
struct Target {
    def: &'static AttrDef,
    ext: Option<&'static str>,
    display: String,
}

fn check_immutable(
    def: &AttrDef,
    existing: Option<&Value>,
    new: &Value,
    display: &str,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable
        && existing.is_some_and(|e| !is_unassigned(e) && e != new)
    {
        return Err(mutability(format!("Attribute '{display}' is immutable")));
    }
    Ok(())
}

fn sub_def(def: &'static AttrDef, sub: &str, display: &str) -> Result<&'static AttrDef, ScimError> {
    let sub = def
        .sub(sub)
        .ok_or_else(|| invalid_path(format!("Unknown sub-attribute in '{display}'")))?;
    if sub.mutability == Mutability::ReadOnly {
        return Err(mutability(format!("Attribute '{display}' is readOnly")));
    }
    Ok(sub)
}

impl Target {
    fn whole(
        &self,
        map: &mut Map<String, Value>,
        kind: PatchOpKind,
        value: Option<Value>,
    ) -> Result<(), ScimError> {
        let def = self.def;
        if kind == PatchOpKind::Remove {
            let Some(c) = container(map, self.ext, false) else {
                return Ok(());
            };
            match value {
                // Entra's default dialect: remove only the listed values.
                Some(listed) if def.multi_valued && !listed.is_null() => {
                    remove_listed(c, def, listed)
                }
                _ if def.required => {
                    return Err(mutability(format!(
                        "Attribute '{}' is required and cannot be removed",
                        self.display
                    )))
                }
                _ => {
                    remove_ci(c, def.name);
                }
            }
            return Ok(());
        }
        let clears = clears(kind, &value);
        let new = coerce::attribute(def, value.unwrap_or(Value::Null), &self.display)?;
        let Some(new) = new else {
            if !clears {
                return Ok(());
            }
            if def.required {
                return Err(invalid_value(format!(
                    "Attribute '{}' is required and cannot be cleared",
                    self.display
                )));
            }
            if let Some(c) = container(map, self.ext, false) {
                remove_ci(c, def.name);
            }
            return Ok(());
        };
        let c = object_or_self(map, self.ext);
        let existing = remove_ci(c, def.name);
        check_immutable(def, existing.as_ref(), &new, &self.display)?;
        let merged = match (existing, new) {
            (Some(Value::Array(mut items)), Value::Array(new))
                if def.multi_valued && kind == PatchOpKind::Add =>
            {
                let written = merge_items(&mut items, new, def);
                enforce_primary(&mut items, &written);
                Value::Array(items)
            }
            // Only a single-valued complex attribute coerces to an object.
            (Some(Value::Object(mut obj)), Value::Object(new)) if !def.has_value_sub() => {
                // RFC 7644 §3.5.2.1/§3.5.2.3: sub-attributes not given are left unchanged.
                for (k, v) in new {
                    insert_canonical(&mut obj, &k, v);
                }
                Value::Object(obj)
            }
            (_, new) => new,
        };
        c.insert(def.name.to_owned(), merged);
        Ok(())
    }

    fn sub_attribute(
        &self,
        map: &mut Map<String, Value>,
        kind: PatchOpKind,
        sub: &str,
        value: Option<Value>,
    ) -> Result<(), ScimError> {
        let def = self.def;
        if def.attr_type != AttrType::Complex {
            return Err(invalid_path(format!(
                "'{}' has no sub-attributes",
                def.name
            )));
        }
        let sub = sub_def(def, sub, &self.display)?;
        let clears = clears(kind, &value);
        let new = match kind {
            PatchOpKind::Remove => None,
            _ => coerce::simple(sub, value.unwrap_or(Value::Null), &self.display)?,
        };
        if new.is_none() && !clears {
            return Ok(());
        }
        let Some(c) = container(map, self.ext, new.is_some()) else {
            return Ok(());
        };
        if def.multi_valued {
            // No filter: every element (RFC 7644 §3.5.2); the first one when none exist.
            let count = match get_ci(c, def.name) {
                Some(Value::Array(items)) => items.len(),
                _ => 0,
            };
            if count == 0 {
                if let Some(new) = new {
                    let mut item = Map::new();
                    item.insert(sub.name.to_owned(), new);
                    insert_canonical(c, def.name, Value::Array(vec![Value::Object(item)]));
                }
                return Ok(());
            }
            let indices: Vec<usize> = (0..count).collect();
            return self.write_elements(c, sub, &indices, new, None);
        }
        match new {
            Some(new) => {
                let obj = object_entry(c, def.name);
                check_immutable(sub, get_ci(obj, sub.name), &new, &self.display)?;
                insert_canonical(obj, sub.name, new);
            }
            None => {
                if let Some(Value::Object(obj)) = get_ci_mut(c, def.name) {
                    remove_ci(obj, sub.name);
                    if is_hollow(obj, def) {
                        remove_ci(c, def.name);
                    }
                }
            }
        }
        Ok(())
    }

    fn filtered(
        &self,
        map: &mut Map<String, Value>,
        kind: PatchOpKind,
        filter: &Filter,
        sub: Option<&str>,
        value: Option<Value>,
    ) -> Result<(), ScimError> {
        let def = self.def;
        if !def.multi_valued || def.attr_type != AttrType::Complex {
            return Err(invalid_path(format!(
                "'{}' is not a multi-valued complex attribute; a value filter cannot select from it",
                def.name
            )));
        }
        let sub = sub.map(|s| sub_def(def, s, &self.display)).transpose()?;
        let clears = clears(kind, &value);
        let new = match (kind, sub) {
            (PatchOpKind::Remove, _) => None,
            (_, Some(sub)) => coerce::simple(sub, value.unwrap_or(Value::Null), &self.display)?,
            (_, None) => coerce::item(def, value.unwrap_or(Value::Null), &self.display)?,
        };
        if new.is_none() && !clears {
            return Ok(());
        }
        let Some(c) = container(map, self.ext, new.is_some()) else {
            return Ok(());
        };
        let matched: Vec<usize> = match get_ci(c, def.name) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, item)| matches_item(filter, item, def))
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        };
        if new.is_some() && matched.is_empty() {
            // Entra upsert (entra-scim.md §2.3, §9): create the element the filter names.
            let template = equalities(filter, def).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::NoTarget,
                    format!(
                        "No value of '{}' matched the filter in '{}'",
                        def.name, self.display
                    ),
                )
            })?;
            let items = array_entry(c, def.name);
            items.push(Value::Object(template));
            let index = [items.len() - 1];
            return match sub {
                Some(sub) => self.write_elements(c, sub, &index, new, None),
                None => self.write_elements(c, def, &index, new, Some(PatchOpKind::Add)),
            };
        }
        let Some(sub) = sub else {
            self.write_elements(c, def, &matched, new, Some(kind))?;
            if kind == PatchOpKind::Replace {
                // A replaced element keeps what the filter says it is.
                keep_filter_terms(c, def, filter, &matched);
            }
            return Ok(());
        };
        self.write_elements(c, sub, &matched, new, None)
    }

    /// Writes to elements `indices` of the multi-valued attribute: a sub-attribute
    /// (`whole == None`, `what` is the sub def) or whole elements (`whole ==
    /// Some(kind)`: add merges, replace replaces). `None` as `new` removes.
    fn write_elements(
        &self,
        c: &mut Map<String, Value>,
        what: &'static AttrDef,
        indices: &[usize],
        new: Option<Value>,
        whole: Option<PatchOpKind>,
    ) -> Result<(), ScimError> {
        let def = self.def;
        let Some(Value::Array(items)) = get_ci_mut(c, def.name) else {
            return Ok(());
        };
        match (new, whole) {
            (None, None) => {
                for &i in indices {
                    if let Some(Value::Object(item)) = items.get_mut(i) {
                        remove_ci(item, what.name);
                    }
                }
                items.retain(|item| item.as_object().is_none_or(|o| !is_hollow(o, def)));
            }
            (None, Some(_)) => {
                let mut i = 0;
                items.retain(|_| {
                    i += 1;
                    !indices.contains(&(i - 1))
                });
            }
            (Some(new), None) => {
                for &i in indices {
                    if let Some(Value::Object(item)) = items.get_mut(i) {
                        check_immutable(what, get_ci(item, what.name), &new, &self.display)?;
                        insert_canonical(item, what.name, new.clone());
                    }
                }
                enforce_primary(items, indices);
            }
            (Some(new), Some(kind)) => {
                for &i in indices {
                    match (items.get_mut(i), &new, kind) {
                        (Some(Value::Object(item)), Value::Object(fields), PatchOpKind::Add) => {
                            for (k, v) in fields {
                                insert_canonical(item, k, v.clone());
                            }
                        }
                        (Some(slot), _, _) => *slot = new.clone(),
                        (None, _, _) => {}
                    }
                }
                enforce_primary(items, indices);
            }
        }
        if items.is_empty() {
            remove_ci(c, def.name);
        }
        Ok(())
    }
}

fn object_or_self<'a>(
    map: &'a mut Map<String, Value>,
    ext: Option<&str>,
) -> &'a mut Map<String, Value> {
    match ext {
        None => map,
        Some(urn) => object_entry(map, urn),
    }
}

#[cfg(test)]
#[path = "entra_tests.rs"]
mod entra_tests;

#[cfg(test)]
#[path = "rfc_tests.rs"]
mod rfc_tests;

#[cfg(test)]
#[path = "unknown_tests.rs"]
mod unknown_tests;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod engine_tests;
