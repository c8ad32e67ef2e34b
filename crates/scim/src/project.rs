//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
//! response carries.
//!
//! - `returned: always` (`id`, and `schemas`) is always sent, and so is `meta`; `returned: never`
//!   (`password`) and writeOnly attributes never are;
//! - `returned: request` only when named in `attributes`;
//! - `attributes=name.givenName` keeps `name` with only `givenName`;
//!   `attributes=urn:…:enterprise:2.0:User` keeps that whole extension object;
//! - `excludedAttributes` removes what it names, never an `always` attribute;
//! - names match case-insensitively; unqualified names fall back to extensions.

use serde_json::{Map, Value};

use crate::json::is_urn_key;
use crate::path::AttrPath;
use crate::schema::{AttrDef, Mutability, ResolvedIn, ResourceSchema, Returned};
use crate::{ScimError, ScimType};

/// The parsed `attributes` and `excludedAttributes` parameters.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// When non-empty, only these (plus `returned: always`) are returned.
    pub attributes: Vec<AttrPath>,
    /// These are removed (unless `returned: always`).
    pub excluded: Vec<AttrPath>,
}

fn parse_list(list: Option<&str>, parameter: &str) -> Result<Vec<AttrPath>, ScimError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s).map_err(|_| {
                ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!("Invalid attribute '{s}' in '{parameter}'"),
                )
            })
        })
        .collect()
}

/// What survives of one attribute.
struct Selection {
    keep: bool,
    /// `Some`: keep only these sub-attributes.
    only: Option<Vec<String>>,
    /// Remove these sub-attributes.
    except: Vec<String>,
}

impl Selection {
    const DROP: Selection = Selection {
        keep: false,
        only: None,
        except: Vec::new(),
    };
}

/// Does `path` name the attribute `name` stored in `container` (None: top level)?
fn names(path: &AttrPath, schema: &ResourceSchema, container: Option<&str>, name: &str) -> bool {
    if !path.name.eq_ignore_ascii_case(name) {
        return false;
    }
    let wanted = match path.urn.as_deref() {
        Some(urn) if urn.eq_ignore_ascii_case(schema.core.id) => None,
        Some(urn) => Some(urn),
        None => match schema.resolve(None, name) {
            Some((ResolvedIn::Extension(urn), _)) => Some(urn),
            _ => None,
        },
    };
    match (wanted, container) {
        (None, None) => true,
        (Some(w), Some(c)) => w.eq_ignore_ascii_case(c),
        _ => false,
    }
}

fn names_container(path: &AttrPath, container: Option<&str>) -> bool {
    container.is_some_and(|c| path.is_schema_urn(c))
}

impl Projection {
    /// Parses the two query parameters: comma-separated attribute paths, whitespace
    /// tolerated, URN-qualified names allowed. A malformed name is 400 `invalidPath`.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        Ok(Projection {
            attributes: parse_list(attributes, "attributes")?,
            excluded: parse_list(excluded, "excludedAttributes")?,
        })
    }

    /// True when nothing is selected or excluded (every default attribute returned).
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    fn select(
        &self,
        schema: &ResourceSchema,
        container: Option<&str>,
        name: &str,
        def: Option<&AttrDef>,
    ) -> Selection {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        if returned == Returned::Never || def.is_some_and(|d| d.mutability == Mutability::WriteOnly)
        {
            return Selection::DROP;
        }
        if returned == Returned::Always {
            return Selection {
                keep: true,
                only: None,
                except: Vec::new(),
            };
        }
        let mut only = None;
        if !self.attributes.is_empty() {
            let mut whole = returned != Returned::Request
                && self
                    .attributes
                    .iter()
                    .any(|p| names_container(p, container));
            let mut subs = Vec::new();
            for p in self
                .attributes
                .iter()
                .filter(|p| names(p, schema, container, name))
            {
                match &p.sub_attr {
                    None => whole = true,
                    Some(sub) => subs.push(sub.clone()),
                }
            }
            if !whole && subs.is_empty() {
                return Selection::DROP;
            }
            if !whole {
                only = Some(subs);
            }
        } else if returned == Returned::Request {
            return Selection::DROP;
        }
        let mut except = Vec::new();
        for p in &self.excluded {
            if names_container(p, container) {
                return Selection::DROP;
            }
            if names(p, schema, container, name) {
                match &p.sub_attr {
                    None => return Selection::DROP,
                    Some(sub) => except.push(sub.clone()),
                }
            }
        }
        Selection {
            keep: true,
            only,
            except,
        }
    }

    /// Would the attribute at `path` appear (at least partly) in the output? Lets the
    /// server skip loading group members for `excludedAttributes=members` or
    /// `attributes=id`.
    pub fn includes(&self, schema: &ResourceSchema, path: &AttrPath) -> bool {
        let (container, name, def) = match schema.resolve(path.urn.as_deref(), &path.name) {
            Some((ResolvedIn::Core, def)) => (None, def.name, Some(def)),
            Some((ResolvedIn::Extension(urn), def)) => (Some(urn), def.name, Some(def)),
            None => (path.urn.as_deref(), path.name.as_str(), None),
        };
        let selection = self.select(schema, container, name, def);
        let Some(sub) = &path.sub_attr else {
            return selection.keep;
        };
        selection.keep
            && selection
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|s| s.eq_ignore_ascii_case(sub)))
            && !selection.except.iter().any(|s| s.eq_ignore_ascii_case(sub))
    }
}

fn filter_subs(value: &Value, keep: &dyn Fn(&str) -> bool) -> Option<Value> {
    match value {
        Value::Object(obj) => {
            let out: Map<String, Value> = obj
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().filter_map(|i| filter_subs(i, keep)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        // A scalar has no sub-attributes to select.
        _ => None,
    }
}

fn project_value(selection: Selection, value: &Value) -> Option<Value> {
    if !selection.keep {
        return None;
    }
    let Selection { only, except, .. } = selection;
    let in_list = |list: &[String], k: &str| list.iter().any(|s| s.eq_ignore_ascii_case(k));
    match (only, except.is_empty()) {
        (None, true) => Some(value.clone()),
        (Some(only), _) => filter_subs(value, &|k| in_list(&only, k) && !in_list(&except, k)),
        (None, false) => match value {
            Value::Object(_) | Value::Array(_) => filter_subs(value, &|k| !in_list(&except, k)),
            _ => Some(value.clone()),
        },
    }
}

/// The representation of `resource` to send, per `projection` and the schema's
/// `returned` characteristics.
pub fn apply(resource: &Value, projection: &Projection, schema: &ResourceSchema) -> Value {
    let Some(map) = resource.as_object() else {
        return resource.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        // `meta` goes with every resource, like `id` and `schemas`: the ETag header is mandatory
        // (RFC 7644 §3.14) and SHOULD equal `meta.version`, and clients such as scim2-client
        // rebuild `meta` from that header when the body has none.
        if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if is_urn_key(key) {
            let Value::Object(inner) = value else {
                continue;
            };
            let ext = schema.extension(key);
            let mut projected = Map::new();
            for (name, v) in inner {
                let def = ext.and_then(|e| {
                    e.attributes
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(name))
                });
                let selection = projection.select(schema, Some(key), name, def);
                if let Some(v) = project_value(selection, v) {
                    projected.insert(name.clone(), v);
                }
            }
            if !projected.is_empty() {
                out.insert(key.clone(), Value::Object(projected));
            }
            continue;
        }
        let def = schema
            .core
            .attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(key));
        let selection = projection.select(schema, None, key, def);
        if let Some(v) = project_value(selection, value) {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
#[path = "project_tests.rs"]
mod tests;
