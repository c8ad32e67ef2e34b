//! JSON for the discovery endpoints: `/Schemas` (RFC 7643 §7, RFC 7644 §4) and
//! `/ResourceTypes` (RFC 7643 §6). Entra's gallery rules (entra-scim.md §2.8): a
//! ListResponse, no null values anywhere, camelCase characteristic values.

use serde_json::{json, Map, Value};

use super::{all, AttrDef, AttrType, ResourceSchema, SchemaDef};
use crate::{LIST_RESPONSE_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA};

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

fn base(base_location: &str) -> &str {
    base_location.trim_end_matches('/')
}

fn attribute_json(def: &AttrDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(def.name));
    out.insert("type".into(), json!(def.attr_type.as_str()));
    out.insert("multiValued".into(), json!(def.multi_valued));
    out.insert("description".into(), json!(def.description));
    out.insert("required".into(), json!(def.required));
    out.insert("caseExact".into(), json!(def.case_exact));
    out.insert("mutability".into(), json!(def.mutability.as_str()));
    out.insert("returned".into(), json!(def.returned.as_str()));
    out.insert("uniqueness".into(), json!(def.uniqueness));
    if !def.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    // RFC 7643 §7: referenceTypes is REQUIRED for reference attributes.
    if def.attr_type == AttrType::Reference {
        out.insert("referenceTypes".into(), json!(def.reference_types));
    }
    if def.attr_type == AttrType::Complex {
        let subs: Vec<Value> = def.sub_attributes.iter().map(attribute_json).collect();
        out.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(out)
}

fn schema_resource(def: &SchemaDef, base_location: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", base(base_location), def.id),
        },
    })
}

fn all_schemas() -> Vec<&'static SchemaDef> {
    let mut out: Vec<&'static SchemaDef> = Vec::new();
    for rs in all() {
        for def in std::iter::once(rs.core).chain(rs.extensions.iter().copied()) {
            if !out.iter().any(|d| d.id == def.id) {
                out.push(def);
            }
        }
    }
    out
}

/// The ListResponse body for `GET /Schemas`: User, EnterpriseUser and Group.
pub fn schemas_json(base_location: &str) -> Value {
    list_response(
        all_schemas()
            .into_iter()
            .map(|d| schema_resource(d, base_location))
            .collect(),
    )
}

/// The body for `GET /Schemas/{id}`, or `None` for an unknown URN.
pub fn schema_json(id: &str, base_location: &str) -> Option<Value> {
    all_schemas()
        .into_iter()
        .find(|d| d.id.eq_ignore_ascii_case(id))
        .map(|d| schema_resource(d, base_location))
}

fn resource_type(rs: &ResourceSchema, base_location: &str) -> Value {
    let mut out = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rs.name,
        "name": rs.name,
        "endpoint": rs.endpoint,
        "description": rs.description,
        "schema": rs.core.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base(base_location), rs.name),
        },
    });
    if !rs.extensions.is_empty() {
        out["schemaExtensions"] = rs
            .extensions
            .iter()
            .map(|e| json!({"schema": e.id, "required": false}))
            .collect();
    }
    out
}

/// The ListResponse body for `GET /ResourceTypes`: User (with the enterprise
/// extension, not required) and Group.
pub fn resource_types_json(base_location: &str) -> Value {
    list_response(
        all()
            .iter()
            .map(|rs| resource_type(rs, base_location))
            .collect(),
    )
}

/// The body for `GET /ResourceTypes/{name}`, or `None` for an unknown name.
pub fn resource_type_json(name: &str, base_location: &str) -> Option<Value> {
    all()
        .iter()
        .find(|rs| rs.name.eq_ignore_ascii_case(name))
        .map(|rs| resource_type(rs, base_location))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    fn has_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(has_null),
            Value::Object(o) => o.values().any(has_null),
            _ => false,
        }
    }

    fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
        schema["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .unwrap_or(&Value::Null)
    }

    #[test]
    fn schemas_list_has_user_enterprise_and_group_without_nulls() {
        let body = schemas_json("https://example.com/scim/v2/");
        assert!(!has_null(&body));
        assert_eq!(body["schemas"], json!([LIST_RESPONSE_SCHEMA]));
        assert_eq!(body["totalResults"], 3);
        let ids: Vec<&str> = body["Resources"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(ids, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
        assert_eq!(
            body["Resources"][0]["meta"],
            json!({"resourceType": "Schema",
                   "location": format!("https://example.com/scim/v2/Schemas/{USER_SCHEMA}")})
        );
    }

    #[test]
    fn user_schema_attributes_use_rfc_characteristics() {
        let user = schema_json(USER_SCHEMA, "https://x").expect("user schema");
        let user_name = attribute(&user, "userName");
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(attribute(&user, "externalId")["caseExact"], true);
        assert_eq!(attribute(&user, "password")["returned"], "never");
        assert_eq!(attribute(&user, "password")["mutability"], "writeOnly");
        let emails = attribute(&user, "emails");
        assert_eq!(emails["multiValued"], true);
        let email_type = emails["subAttributes"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "type"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(
            email_type["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert_eq!(
            attribute(&user, "profileUrl")["referenceTypes"],
            json!(["external"])
        );
        assert_eq!(attribute(&user, "groups")["mutability"], "readOnly");

        let ent = schema_json(ENTERPRISE_USER_SCHEMA, "https://x").expect("enterprise");
        let manager = attribute(&ent, "manager");
        assert_eq!(manager["type"], "complex");
        assert_eq!(manager["subAttributes"][2]["name"], "displayName");
        assert_eq!(manager["subAttributes"][2]["mutability"], "readOnly");
        assert!(schema_json("urn:nope", "https://x").is_none());
    }

    #[test]
    fn common_attributes_as_rfc_7643_section_3_1_defines_them() {
        let user = schema_json(USER_SCHEMA, "https://x").expect("user schema");
        let characteristics = |v: &Value| {
            json!([
                v["name"],
                v["type"],
                v["caseExact"],
                v["mutability"],
                v["returned"],
                v["uniqueness"],
                v["referenceTypes"]
            ])
        };
        assert_eq!(
            characteristics(attribute(&user, "id")),
            json!(["id", "string", true, "readOnly", "always", "server", null])
        );
        let meta = attribute(&user, "meta");
        assert_eq!(meta["mutability"], "readOnly");
        let subs: Vec<Value> = meta["subAttributes"]
            .as_array()
            .map(|a| a.iter().map(characteristics).collect())
            .unwrap_or_default();
        assert_eq!(
            subs,
            [
                json!([
                    "resourceType",
                    "string",
                    true,
                    "readOnly",
                    "default",
                    "none",
                    null
                ]),
                json!(["created", "dateTime", false, "readOnly", "default", "none", null]),
                json!([
                    "lastModified",
                    "dateTime",
                    false,
                    "readOnly",
                    "default",
                    "none",
                    null
                ]),
                json!([
                    "location",
                    "reference",
                    true,
                    "readOnly",
                    "default",
                    "none",
                    ["uri"]
                ]),
                json!(["version", "string", true, "readOnly", "default", "none", null]),
            ]
        );
    }

    #[test]
    fn resource_types_list_user_with_optional_enterprise_extension() {
        let body = resource_types_json("https://example.com/scim/v2");
        assert!(!has_null(&body));
        assert_eq!(body["totalResults"], 2);
        let user = &body["Resources"][0];
        assert_eq!(user["id"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_SCHEMA);
        assert_eq!(
            user["schemaExtensions"],
            json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}])
        );
        assert_eq!(
            user["meta"]["location"],
            "https://example.com/scim/v2/ResourceTypes/User"
        );
        let group = resource_type_json("group", "https://example.com/scim/v2").expect("group");
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert_eq!(group["endpoint"], "/Groups");
        assert!(resource_type_json("Device", "https://x").is_none());
    }
}
