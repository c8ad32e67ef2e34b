//! PATCH targets the schema does not define. Under an unknown schema URN an
//! object value for `urn:acme:x:1.0:User` is the whole extension and a scalar for
//! `urn:acme:x:1.0:User:badge` is an attribute inside it; keys of a path-less value
//! that name no attribute are stored as given. Either way the JSON round-trips.

use serde_json::{Map, Value};

use super::elements::array_entry;
use super::engine::clears;
use super::PatchOpKind;
use crate::json::{insert_canonical, key_ci, object_entry, remove_ci};
use crate::path::PatchPath;
use crate::schema::ResourceSchema;
use crate::{ScimError, ScimType};

fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

/// Paths the schema does not define.
pub(super) fn unknown_attribute(
    map: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<Value>,
    schema: &ResourceSchema,
    lenient: bool,
) -> Result<(), ScimError> {
    let urn = path.attr.urn.as_deref();
    let unknown_schema = urn.is_some_and(|u| !schema.knows_urn(u));
    if !(unknown_schema || lenient) {
        return Err(invalid_path(format!("Unknown attribute '{path}'")));
    }
    if path.filter.is_some() {
        return Err(invalid_path(format!(
            "'{path}' is not defined; value filters need a known attribute"
        )));
    }
    if unknown_schema {
        if let Some(whole) = path.attr.as_urn() {
            let is_whole = match kind {
                PatchOpKind::Remove => key_ci(map, &whole).is_some(),
                _ => matches!(value, Some(Value::Object(_))),
            };
            if is_whole {
                let key = key_ci(map, &whole).unwrap_or(whole);
                return set_as_given(map, kind, &key, None, value, true);
            }
        }
    }
    let c = match urn {
        Some(u) if unknown_schema => {
            let key = key_ci(map, u).unwrap_or_else(|| u.to_owned());
            object_entry(map, &key)
        }
        Some(u) => match schema.extension(u) {
            Some(ext) => object_entry(map, ext.id),
            None => map,
        },
        None => map,
    };
    set_as_given(
        c,
        kind,
        &path.attr.name,
        path.attr.sub_attr.as_deref(),
        value,
        false,
    )
}

/// Add/replace/remove without a schema: values are stored exactly as given. Add
/// merges objects and appends to arrays; replace sets, except that a whole
/// extension object merges member by member (null members are removed).
pub(super) fn set_as_given(
    c: &mut Map<String, Value>,
    kind: PatchOpKind,
    name: &str,
    sub: Option<&str>,
    value: Option<Value>,
    whole_extension: bool,
) -> Result<(), ScimError> {
    let clears = clears(kind, &value);
    let (c, name) = match sub {
        Some(sub) => (object_entry(c, name), sub),
        None => (c, name),
    };
    let key = key_ci(c, name).unwrap_or_else(|| name.to_owned());
    match value {
        _ if clears => {
            remove_ci(c, name);
        }
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) if kind == PatchOpKind::Add || whole_extension => {
            let target = object_entry(c, &key);
            for (k, v) in fields {
                match v {
                    Value::Null if kind == PatchOpKind::Replace => {
                        remove_ci(target, &k);
                    }
                    Value::Null => {}
                    v => insert_canonical(target, &k, v),
                }
            }
        }
        Some(Value::Array(new)) if kind == PatchOpKind::Add => {
            let items = array_entry(c, &key);
            for v in new {
                if !items.contains(&v) {
                    items.push(v);
                }
            }
        }
        Some(v) => insert_canonical(c, &key, v),
    }
    Ok(())
}
