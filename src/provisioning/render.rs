//! Stored rows to SCIM resources: the representation the directory wrote, plus what the server
//! owns (`id`, `meta`, `active`, a user's `groups`, a group's `members`).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::clock::rfc3339;
use crate::db::models::group::{Group, MemberRow};
use crate::db::models::user::User;
use crate::provisioning::etag;

fn stored(json: Option<&str>) -> Map<String, Value> {
    json.and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

fn meta(resource_type: &str, location: String, created: i64, modified: i64, version: i64) -> Value {
    json!({
        "resourceType": resource_type,
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": location,
        "version": etag(version),
    })
}

/// A user's groups as `(group id, display name)`, keyed by user id.
pub type UserGroups = HashMap<String, Vec<(String, String)>>;

pub fn user(row: &User, groups: Option<&[(String, String)]>, base_url: &str) -> Value {
    user_with(stored(row.scim_json.as_deref()), row, groups, base_url)
}

/// [`user`] for a row whose representation is already parsed (`json` is what was stored).
pub fn user_from(
    json: Value,
    row: &User,
    groups: Option<&[(String, String)]>,
    base_url: &str,
) -> Value {
    let map = match json {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    user_with(map, row, groups, base_url)
}

fn user_with(
    mut map: Map<String, Value>,
    row: &User,
    groups: Option<&[(String, String)]>,
    base_url: &str,
) -> Value {
    if !map.contains_key("schemas") {
        map.insert("schemas".into(), json!([scim::USER_SCHEMA]));
    }
    if !map.contains_key("userName") {
        map.insert("userName".into(), Value::String(row.username.clone()));
    }
    map.insert("id".into(), Value::String(row.id.clone()));
    // `enabled` is the truth: a disabled user always shows `active: false`, whoever disabled
    // them; an enabled one shows `active` when the directory asserted it (it may remove it).
    if !row.enabled {
        map.insert("active".into(), Value::Bool(false));
    } else if map.contains_key("active") {
        map.insert("active".into(), Value::Bool(true));
    }
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        let items = groups
            .iter()
            .map(|(id, name)| {
                json!({
                    "value": id,
                    "$ref": format!("{base_url}/Groups/{id}"),
                    "display": name,
                    "type": "direct",
                })
            })
            .collect();
        map.insert("groups".into(), Value::Array(items));
    }
    map.insert(
        "meta".into(),
        meta(
            "User",
            format!("{base_url}/Users/{}", row.id),
            row.created_at,
            row.updated_at,
            row.version,
        ),
    );
    Value::Object(map)
}

pub fn group(row: &Group, members: Option<&[MemberRow]>, base_url: &str) -> Value {
    let mut map = stored(row.scim_json.as_deref());
    if !map.contains_key("schemas") {
        map.insert("schemas".into(), json!([scim::GROUP_SCHEMA]));
    }
    map.insert("id".into(), Value::String(row.id.clone()));
    map.insert("displayName".into(), Value::String(row.name.clone()));
    if let Some(members) = members {
        let items = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user_id,
                    "$ref": format!("{base_url}/Users/{}", m.user_id),
                    "display": m.display(),
                    "type": "User",
                })
            })
            .collect();
        map.insert("members".into(), Value::Array(items));
    }
    map.insert(
        "meta".into(),
        meta(
            "Group",
            format!("{base_url}/Groups/{}", row.id),
            row.created_at,
            row.updated_at,
            row.version,
        ),
    );
    Value::Object(map)
}

/// The representation to keep: the client's JSON minus what the server owns.
pub fn to_stored(mut resource: Value) -> String {
    if let Value::Object(map) = &mut resource {
        for owned in ["id", "meta", "groups", "members"] {
            map.remove(owned);
        }
    }
    resource.to_string()
}
