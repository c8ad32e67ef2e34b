//! Turning POST/PUT bodies into the stored representation (RFC 7644 §3.3, §3.5.1),
//! and keeping `schemas` in step with the extension objects present.
//!
//! Entra quirks absorbed (entra-scim.md §2.1, §2.7, §4 item 9): explicit nulls
//! ("not asserted"), a read-only `meta` in the body, `"roles": []`, string booleans,
//! the manager in three shapes, and an unknown `…/ADSCIM/2.0/Group` URN in `schemas`.

use serde_json::{Map, Value};

use crate::coerce;
use crate::json::{insert_canonical, is_unassigned, is_urn_key, object_entry, remove_ci};
use crate::path::AttrPath;
use crate::schema::{AttrDef, AttrType, Mutability, ResolvedIn, ResourceSchema};
use crate::{ScimError, ScimType};

/// Normalises a client-supplied User or Group body for create or full replace:
/// drops nulls and readOnly attributes (`id`, `meta`, `groups`), spells attribute
/// names as the schema does, coerces `"True"`/`"False"` for booleans, stores the
/// manager as `{"value": id}` (plus `$ref` when given), checks types (400
/// `invalidValue` naming the attribute) and required attributes (`userName`,
/// Group `displayName`), and rebuilds `schemas` from the extension objects present.
///
/// Objects under unknown URN keys and unknown attributes are kept unchanged, so they
/// round-trip. Group `members` stay in the result; the server strips them into its
/// side table. The writeOnly `password` is dropped, so cleartext never reaches
/// storage; call [`take_password`] on the raw body first to use it. A body past the
/// limits of [`crate::limits::check_body`] is 400 `tooMany`.
pub fn normalize(body: Value, schema: &ResourceSchema) -> Result<Value, ScimError> {
    crate::limits::check_body(&body)?;
    let Value::Object(input) = body else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "The resource body must be a JSON object",
        ));
    };
    let mut out = Map::new();
    for (key, value) in input {
        place(&mut out, key, value, schema)?;
    }
    let mut resource = Value::Object(out);
    check_required(&resource, schema)?;
    refresh_schemas(&mut resource, schema);
    Ok(resource)
}

fn place(
    out: &mut Map<String, Value>,
    key: String,
    value: Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if !is_urn_key(&key) {
        return match schema.resolve(None, &key) {
            Some((location, def)) => place_attribute(out, location, def, None, value),
            // Unknown attribute: kept as given.
            None if value.is_null() => Ok(()),
            None => {
                out.insert(key, value);
                Ok(())
            }
        };
    }
    if key.eq_ignore_ascii_case(schema.core.id) {
        // Core attributes nested under the core URN: lift them to the top level.
        if let Value::Object(map) = value {
            for (k, v) in map {
                place(out, k, v, schema)?;
            }
        }
        return Ok(());
    }
    if let Some(ext) = schema.extension(&key) {
        return match value {
            Value::Null => Ok(()),
            Value::Object(map) => {
                for (name, v) in map {
                    match ext
                        .attributes
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(&name))
                    {
                        Some(def) => {
                            place_attribute(out, ResolvedIn::Extension(ext.id), def, None, v)?
                        }
                        None if v.is_null() => {}
                        None => {
                            object_entry(out, ext.id).insert(name, v);
                        }
                    }
                }
                Ok(())
            }
            other => Err(coerce::invalid_value(format!(
                "'{}' must be an object, not {other}",
                ext.id
            ))),
        };
    }
    // A URN-qualified attribute of a known schema as a key: `"urn:…:User:department"`.
    if let Ok(path) = AttrPath::parse(&key) {
        if let Some((location, def)) = schema.resolve(path.urn.as_deref(), &path.name) {
            return place_attribute(out, location, def, path.sub_attr.as_deref(), value);
        }
    }
    // An unknown extension: kept unchanged.
    if !value.is_null() {
        out.insert(key, value);
    }
    Ok(())
}

fn place_attribute(
    out: &mut Map<String, Value>,
    location: ResolvedIn,
    def: &'static AttrDef,
    sub: Option<&str>,
    value: Value,
) -> Result<(), ScimError> {
    // RFC 7644 §3.3 and §3.5.1: readOnly values in the body are ignored. writeOnly
    // values (`password`) are never stored in the resource JSON either: a server that
    // supports passwords takes them from the raw body with `take_password`.
    if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
        return Ok(());
    }
    let container = match location {
        ResolvedIn::Core => out,
        ResolvedIn::Extension(urn) => object_entry(out, urn),
    };
    match sub {
        None => {
            if let Some(v) = coerce::attribute(def, value, def.name)? {
                insert_canonical(container, def.name, v);
            }
        }
        Some(sub) => {
            let sub_def = def.sub(sub).filter(|_| !def.multi_valued).ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!("Unknown attribute '{}.{sub}'", def.name),
                )
            })?;
            if sub_def.mutability == Mutability::ReadOnly {
                return Ok(());
            }
            let path = format!("{}.{}", def.name, sub_def.name);
            if let Some(v) = coerce::simple(sub_def, value, &path)? {
                object_entry(container, def.name).insert(sub_def.name.to_owned(), v);
            }
        }
    }
    Ok(())
}

/// Recomputes `schemas` after a change (RFC 7643 §3: the core URN plus every
/// extension present): empty extension objects are dropped, known extension keys
/// get the schema's spelling, and objects under unknown URN keys count as present.
pub fn refresh_schemas(resource: &mut Value, schema: &ResourceSchema) {
    let Value::Object(map) = resource else {
        return;
    };
    let mut schemas = vec![Value::String(schema.core.id.to_owned())];
    for ext in schema.extensions {
        match remove_ci(map, ext.id) {
            Some(obj @ Value::Object(_)) if !is_unassigned(&obj) => {
                map.insert(ext.id.to_owned(), obj);
                schemas.push(Value::String(ext.id.to_owned()));
            }
            _ => {}
        }
    }
    let mut unknown: Vec<String> = Vec::new();
    map.retain(|key, value| {
        if !is_urn_key(key) || schema.knows_urn(key) {
            return true;
        }
        let keep = !is_unassigned(value);
        if keep && value.is_object() {
            unknown.push(key.clone());
        }
        keep
    });
    unknown.sort();
    schemas.extend(unknown.into_iter().map(Value::String));
    map.insert("schemas".to_owned(), Value::Array(schemas));
}

/// Takes the writeOnly `password` out of a raw User body (before [`normalize`],
/// which drops it), for a server that hashes or rejects passwords. It must never be
/// stored in the resource JSON (RFC 7643 §4.1.1, `returned: never`).
pub fn take_password(resource: &mut Value) -> Option<String> {
    let map = resource.as_object_mut()?;
    match remove_ci(map, "password")? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The attributes a resource must carry, for callers that check after a PATCH:
/// returns 400 `invalidValue` naming the first missing one.
pub fn check_required(resource: &Value, schema: &ResourceSchema) -> Result<(), ScimError> {
    let map = resource.as_object();
    for def in schema.core.attributes.iter().filter(|d| d.required) {
        let present = map
            .and_then(|m| crate::json::get_ci(m, def.name))
            .is_some_and(|v| {
                !is_unassigned(v) && (def.attr_type != AttrType::String || v.is_string())
            });
        if !present {
            return Err(coerce::invalid_value(format!(
                "Attribute '{}' is required",
                def.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
