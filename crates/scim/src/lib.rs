//! SCIM 2.0 protocol pieces for Vestibule, with no server dependencies: the error
//! model (RFC 7644 §3.12), the static User/Group/Enterprise schemas (RFC 7643 §4, §8.7),
//! attribute paths, the filter language (RFC 7644 §3.4.2.2), the PATCH engine
//! (RFC 7644 §3.5.2), create/replace normalisation, projections (RFC 7644 §3.4.2.5)
//! and sorting (RFC 7644 §3.4.2.3).
//!
//! Everything works on `serde_json::Value` resources as stored by the server. Client
//! quirks of Microsoft Entra ID are absorbed here, each with a comment naming the
//! behaviour (see `entra-scim.md` §4 and §9).

mod coerce;
pub mod error;
pub mod filter;
#[cfg(test)]
mod fixtures;
mod json;
pub mod limits;
pub mod patch;
pub mod path;
pub mod project;
pub mod resource;
pub mod schema;
pub mod sort;
mod text;

pub use error::{ScimError, ScimType};

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// ListResponse message URN (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message URN (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// PatchOp message URN (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// SearchRequest message URN (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Schema resource URN, used in `/Schemas` bodies (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// ResourceType resource URN, used in `/ResourceTypes` bodies (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// ServiceProviderConfig resource URN (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
