//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` keyword and a
//! human-readable detail. Every fallible function in this crate returns [`ScimError`];
//! the server renders it once, at the edge, with [`ScimError::to_json`].

use serde_json::{json, Value};

use crate::ERROR_SCHEMA;

/// The `scimType` keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The filter yields too many results to process.
    TooMany,
    /// One or more unique attribute values are already in use.
    Uniqueness,
    /// The attempted modification is not compatible with the attribute's mutability.
    Mutability,
    /// The request body structure was invalid.
    InvalidSyntax,
    /// The PATCH `path` was invalid or named an attribute that does not exist.
    InvalidPath,
    /// The PATCH `path` did not yield an attribute that could be operated on.
    NoTarget,
    /// A required value was missing or a value was not compatible with the attribute.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because of sensitive information in the URI.
    Sensitive,
}

impl ScimType {
    /// The keyword as it appears on the wire (camelCase, RFC 7644 §3.12).
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM protocol error: what the server answers with an Error body.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimError {
    /// HTTP status code (400, 404, 409, ...).
    pub status: u16,
    /// RFC 7644 §3.12 `scimType`, only meaningful with status 400 (and 409 uniqueness).
    pub scim_type: Option<ScimType>,
    /// Actionable text; Entra shows it in its provisioning logs.
    pub detail: String,
}

impl ScimError {
    /// Any status, with or without a `scimType`.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 Bad Request with the given `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// 404 Not Found, no `scimType`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 409 Conflict with `scimType: uniqueness` (RFC 7644 §3.3: duplicate unique value).
    pub fn conflict_uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// The RFC 7644 §3.12 Error body. `status` is a JSON string, as the RFC's examples show.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::String(t.as_str().to_owned());
        }
        if !self.detail.is_empty() {
            body["detail"] = Value::String(self.detail.clone());
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "SCIM {} {}: {}", self.status, t, self.detail),
            None => write!(f, "SCIM {}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_matches_rfc_7644_section_3_12_examples() {
        // RFC 7644 §3.12: {"schemas":[Error],"scimType":"mutability","detail":"...","status":"400"}
        let e = ScimError::bad_request(ScimType::Mutability, "Attribute 'id' is readOnly");
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "mutability",
                "detail": "Attribute 'id' is readOnly"
            })
        );
        // RFC 7644 §3.12: 404 carries no scimType.
        let e = ScimError::not_found("Resource 2819c223 not found");
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "404",
                "detail": "Resource 2819c223 not found"
            })
        );
        assert_eq!(
            ScimError::conflict_uniqueness("userName taken").to_json()["scimType"],
            "uniqueness"
        );
    }

    #[test]
    fn every_scim_type_is_camel_case() {
        let table = [
            (ScimType::InvalidFilter, "invalidFilter"),
            (ScimType::TooMany, "tooMany"),
            (ScimType::Uniqueness, "uniqueness"),
            (ScimType::Mutability, "mutability"),
            (ScimType::InvalidSyntax, "invalidSyntax"),
            (ScimType::InvalidPath, "invalidPath"),
            (ScimType::NoTarget, "noTarget"),
            (ScimType::InvalidValue, "invalidValue"),
            (ScimType::InvalidVers, "invalidVers"),
            (ScimType::Sensitive, "sensitive"),
        ];
        for (t, s) in table {
            assert_eq!(t.as_str(), s);
        }
    }

    #[test]
    fn display_names_status_type_and_detail() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "unexpected ')' at position 4");
        assert_eq!(
            e.to_string(),
            "SCIM 400 invalidFilter: unexpected ')' at position 4"
        );
    }
}
