//! The resource schemas Vestibule serves (RFC 7643 §4, §8.7): attribute
//! characteristics as static data, case-insensitive name resolution, and the JSON
//! for the discovery endpoints `/Schemas` and `/ResourceTypes` (in `discovery`).
//!
//! The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1) are listed
//! first in each core schema, so that a single lookup finds them and so that
//! `/Schemas` shows Entra's mapping target `externalId`.

mod defs;
mod discovery;
#[cfg(test)]
pub(crate) use defs::attr;

pub use discovery::{resource_type_json, resource_types_json, schema_json, schemas_json};

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// §2.3.1
    String,
    /// §2.3.2
    Boolean,
    /// §2.3.3
    Decimal,
    /// §2.3.4
    Integer,
    /// §2.3.5, xsd:dateTime (we accept RFC 3339)
    DateTime,
    /// §2.3.6, base64
    Binary,
    /// §2.3.7, a URI
    Reference,
    /// §2.3.8, an object of sub-attributes
    Complex,
}

impl AttrType {
    /// The name used in schema representations (RFC 7643 §7).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Clients may change it freely.
    ReadWrite,
    /// Set on create or replace, never changed afterwards.
    Immutable,
    /// Clients may set it; it is never returned (e.g. `password`).
    WriteOnly,
}

impl Mutability {
    /// camelCase name as in RFC 7643 §7.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always in responses, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never in responses.
    Never,
    /// In responses unless excluded.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// Name as in RFC 7643 §7.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// One attribute definition (RFC 7643 §7 "attributes").
#[derive(Debug)]
pub struct AttrDef {
    /// Canonical spelling; stored JSON uses it.
    pub name: &'static str,
    /// Data type.
    pub attr_type: AttrType,
    /// Holds a JSON array.
    pub multi_valued: bool,
    /// Must be present on create/replace.
    pub required: bool,
    /// String comparisons are case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it appears in responses.
    pub returned: Returned,
    /// `"none"`, `"server"` or `"global"`.
    pub uniqueness: &'static str,
    /// Suggested values, e.g. `work`/`home` for `emails.type`.
    pub canonical_values: &'static [&'static str],
    /// For references: the resource types or `"external"`/`"uri"`.
    pub reference_types: &'static [&'static str],
    /// For complex attributes.
    pub sub_attributes: &'static [AttrDef],
    /// Human-readable description.
    pub description: &'static str,
}

impl AttrDef {
    /// The sub-attribute `name`, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        find(self.sub_attributes, name)
    }

    /// True for a complex attribute with a `value` sub-attribute: a reference such as
    /// `manager` or a multi-valued item such as `emails`. Filters on the attribute
    /// itself compare that `value` (RFC 7644 §3.4.2.2).
    pub fn has_value_sub(&self) -> bool {
        self.attr_type == AttrType::Complex && self.sub("value").is_some()
    }
}

/// A schema: its URN and attributes (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// Short name, e.g. `"User"`.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttrDef],
}

/// A resource type: its core schema plus extensions (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceSchema {
    /// `"User"` or `"Group"`.
    pub name: &'static str,
    /// Endpoint relative to the SCIM base, e.g. `"/Users"`.
    pub endpoint: &'static str,
    /// Description for `/ResourceTypes`.
    pub description: &'static str,
    /// The core schema.
    pub core: &'static SchemaDef,
    /// Extension schemas (none required).
    pub extensions: &'static [&'static SchemaDef],
}

/// Where a resolved attribute lives in the resource JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedIn {
    /// A top-level member of the resource.
    Core,
    /// A member of the object stored under this extension URN.
    Extension(&'static str),
}

/// The User resource type: core User plus the Enterprise User extension.
pub fn user() -> &'static ResourceSchema {
    &defs::USER
}

/// The Group resource type.
pub fn group() -> &'static ResourceSchema {
    &defs::GROUP
}

/// Every resource type, in `/ResourceTypes` order.
pub fn all() -> [&'static ResourceSchema; 2] {
    [user(), group()]
}

fn find(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

impl ResourceSchema {
    /// Resolves an attribute name case-insensitively (RFC 7643 §2.1). With a URN, only
    /// that schema (the core URN means a top-level attribute). Without one, the core
    /// schema first, then each extension: Entra's older docs filter and patch the
    /// enterprise `manager` unqualified. `schemas` resolves to a read-only,
    /// multi-valued pseudo-attribute so filters like `schemas eq "urn:…"` work.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<(ResolvedIn, &'static AttrDef)> {
        match urn {
            Some(urn) if urn.eq_ignore_ascii_case(self.core.id) => {
                find(self.core.attributes, name).map(|d| (ResolvedIn::Core, d))
            }
            Some(urn) => {
                let ext = self.extension(urn)?;
                find(ext.attributes, name).map(|d| (ResolvedIn::Extension(ext.id), d))
            }
            None => {
                if let Some(d) = find(self.core.attributes, name) {
                    return Some((ResolvedIn::Core, d));
                }
                if name.eq_ignore_ascii_case("schemas") {
                    return Some((ResolvedIn::Core, &defs::SCHEMAS));
                }
                self.extensions.iter().find_map(|ext| {
                    find(ext.attributes, name).map(|d| (ResolvedIn::Extension(ext.id), d))
                })
            }
        }
    }

    /// The extension schema with this URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .copied()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }

    /// True when `urn` is this resource's core schema or one of its extensions.
    pub fn knows_urn(&self, urn: &str) -> bool {
        self.core.id.eq_ignore_ascii_case(urn) || self.extension(urn).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    #[test]
    fn resolution_table() {
        let u = user();
        // (urn, name, expected location, canonical name)
        let table: [(Option<&str>, &str, ResolvedIn, &str); 9] = [
            (None, "userName", ResolvedIn::Core, "userName"),
            (None, "USERNAME", ResolvedIn::Core, "userName"),
            (Some(USER_SCHEMA), "username", ResolvedIn::Core, "userName"),
            (None, "id", ResolvedIn::Core, "id"),
            (None, "externalid", ResolvedIn::Core, "externalId"),
            (None, "meta", ResolvedIn::Core, "meta"),
            (None, "schemas", ResolvedIn::Core, "schemas"),
            (
                None,
                "manager",
                ResolvedIn::Extension(ENTERPRISE_USER_SCHEMA),
                "manager",
            ),
            (
                Some("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER"),
                "employeenumber",
                ResolvedIn::Extension(ENTERPRISE_USER_SCHEMA),
                "employeeNumber",
            ),
        ];
        for (urn, name, loc, canonical) in table {
            let (got_loc, def) = u.resolve(urn, name).expect(name);
            assert_eq!(got_loc, loc, "{name}");
            assert_eq!(def.name, canonical);
        }
        assert!(u.resolve(None, "nosuch").is_none());
        assert!(u.resolve(Some(GROUP_SCHEMA), "userName").is_none());
        assert!(u.resolve(Some("urn:acme:custom:1.0:User"), "foo").is_none());
        assert!(group().resolve(None, "manager").is_none());
    }

    #[test]
    fn characteristics_follow_rfc_7643() {
        let u = user();
        let def = |n| u.resolve(None, n).expect(n).1;
        assert_eq!(def("userName").uniqueness, "server");
        assert!(def("userName").required && !def("userName").case_exact);
        assert!(def("externalId").case_exact);
        assert_eq!(def("id").returned, Returned::Always);
        assert_eq!(def("id").mutability, Mutability::ReadOnly);
        assert_eq!(def("password").returned, Returned::Never);
        assert_eq!(def("password").mutability, Mutability::WriteOnly);
        assert_eq!(def("groups").mutability, Mutability::ReadOnly);
        assert_eq!(def("active").attr_type, AttrType::Boolean);
        assert!(def("emails").multi_valued && def("emails").has_value_sub());
        assert_eq!(
            def("emails").sub("PRIMARY").map(|d| d.attr_type),
            Some(AttrType::Boolean)
        );
        assert_eq!(
            def("x509Certificates").sub("value").map(|d| d.attr_type),
            Some(AttrType::Binary)
        );
        assert_eq!(
            def("meta").sub("lastmodified").map(|d| d.attr_type),
            Some(AttrType::DateTime)
        );
        let manager = def("manager");
        assert!(!manager.multi_valued && manager.has_value_sub());
        assert_eq!(
            manager.sub("displayName").map(|d| d.mutability),
            Some(Mutability::ReadOnly)
        );
        let g = group();
        let display_name = g.resolve(None, "displayName").expect("displayName").1;
        assert!(display_name.required);
        let members = g.resolve(None, "members").expect("members").1;
        assert!(members.multi_valued);
        for sub in ["value", "$ref", "type", "display"] {
            assert_eq!(
                members.sub(sub).map(|d| d.mutability),
                Some(Mutability::Immutable),
                "{sub}"
            );
        }
        // Ids are caseExact (RFC 7643 §3.1), so are references to them; email addresses not.
        let value = |def: &AttrDef| def.sub("value").expect("value");
        assert!(value(members).case_exact && value(manager).case_exact);
        assert!(!value(def("emails")).case_exact);
        assert_eq!(
            members.sub("$ref").map(|d| d.reference_types),
            Some(&["User", "Group"][..])
        );
        assert_eq!(
            members.sub("type").map(|d| d.canonical_values),
            Some(&["User", "Group"][..])
        );
        assert_eq!(
            manager.sub("$ref").map(|d| d.reference_types),
            Some(&["User"][..])
        );
    }
}
