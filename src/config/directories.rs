//! SCIM directories as declared: the organization each feeds, and how it may authenticate. A
//! static bearer token (`token`, or ones minted by `vestibule directory token create`), the JWT
//! Entra sends when its "Secret Token" field is left blank (`[directory.entra]`), and access
//! tokens of this realm's own token endpoint for the clients listed in `clients` (Entra's
//! client-credentials flow for gallery apps). Each is checked here for what would otherwise
//! only fail at the first request.

use std::collections::HashMap;

use serde::Deserialize;

use super::{is_guid, Config, ConfigError, SecretRef};

/// Entra's non-gallery provisioning application, the audience of the tokens it sends for a
/// blank Secret Token (entra-scim.md §5).
pub const ENTRA_PROVISIONING_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

/// Where Entra publishes a tenant's signing keys; `{tenantid}` is the token's `tid`.
const ENTRA_JWKS_URI: &str = "https://login.microsoftonline.com/{tenantid}/discovery/keys";

/// The access-token lifetimes (seconds) Entra's gallery validation accepts from a
/// client-credentials token endpoint: 60 to 360 minutes (entra-scim.md §5, §7.2).
pub const ENTRA_ACCESS_TOKEN_LIFESPANS: std::ops::RangeInclusive<i64> = 3600..=21600;

/// Personal Microsoft accounts: never an organization's tenant.
const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A SCIM source bound to one organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDecl {
    pub realm: String,
    pub organization: String,
    pub name: String,
    /// The bearer token the directory presents; declared as a reference, never inline.
    #[serde(default)]
    pub token: Option<SecretRef>,
    #[serde(default)]
    pub deprovisioning: Deprovisioning,
    /// Accept the JWT Entra sends when the Secret Token field is left blank.
    #[serde(default)]
    pub entra: Option<EntraDirectoryDecl>,
    /// Clients of the realm whose client_credentials access tokens speak as this directory.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// Entra's own token for a directory: which tenants may send it, for which application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraDirectoryDecl {
    /// The tenant GUIDs whose provisioning jobs feed this directory; never `common` or any
    /// other placeholder.
    pub tenants: Vec<String>,
    /// The token's `aud`: the provisioning application's id.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Where the keys are; `{tenantid}` is replaced with the token's tenant.
    #[serde(default = "default_jwks_uri")]
    pub jwks_uri: String,
    /// Leeway on `exp`, `nbf` and `iat`, seconds.
    #[serde(default = "super::identity_providers::default_skew")]
    pub clock_skew_secs: i64,
}

impl EntraDirectoryDecl {
    /// Whether `tid` is one of the allowed tenants.
    pub fn allows(&self, tid: &str) -> bool {
        self.tenants.iter().any(|t| t.eq_ignore_ascii_case(tid))
    }

    /// The JWKS of tenant `tid`.
    pub fn jwks_uri_for(&self, tid: &str) -> String {
        self.jwks_uri.replace("{tenantid}", tid)
    }
}

fn default_audience() -> String {
    ENTRA_PROVISIONING_AUDIENCE.into()
}

fn default_jwks_uri() -> String {
    ENTRA_JWKS_URI.into()
}

/// What a SCIM DELETE of a user does beyond ending the membership.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Deprovisioning {
    /// Keep the user, disabled (Keycloak's and Entra's "soft" outcome).
    #[default]
    Disable,
    /// Remove the user and everything hanging off it.
    Delete,
}

impl Deprovisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Deprovisioning::Disable => "disable",
            Deprovisioning::Delete => "delete",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "disable" => Some(Deprovisioning::Disable),
            "delete" => Some(Deprovisioning::Delete),
            _ => None,
        }
    }
}

/// The directories' Entra settings and client bindings. A tenant and audience belong to one
/// directory of a realm, and a client to one directory: a token then names its directory.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let mut tenants: HashMap<(&str, String, &str), &str> = HashMap::new();
    let mut bound: HashMap<(&str, &str), &str> = HashMap::new();
    for d in &config.directories {
        let at = |m: String| ConfigError::Invalid(format!("directory {:?}: {m}", d.name));
        if let Some(entra) = &d.entra {
            validate_entra(entra).map_err(at)?;
            for t in &entra.tenants {
                let key = (
                    d.realm.as_str(),
                    t.to_ascii_lowercase(),
                    entra.audience.as_str(),
                );
                if let Some(other) = tenants.insert(key, &d.name) {
                    return Err(at(format!(
                        "entra.tenants: {t:?} for audience {:?} is also directory {other:?}'s",
                        entra.audience
                    )));
                }
            }
        }
        for client_id in &d.clients {
            if let Some(other) = bound.insert((&d.realm, client_id), &d.name) {
                return Err(at(format!(
                    "clients: {client_id:?} is already bound to directory {other:?}"
                )));
            }
            validate_bound_client(config, d, client_id).map_err(at)?;
        }
    }
    Ok(())
}

fn validate_entra(entra: &EntraDirectoryDecl) -> Result<(), String> {
    if entra.tenants.is_empty() {
        return Err("entra.tenants must name at least one tenant GUID".into());
    }
    for t in &entra.tenants {
        // A GUID only: "common", "organizations" and "any" would let every tenant in.
        if !is_guid(t) || t.eq_ignore_ascii_case(CONSUMERS) {
            return Err(format!(
                "entra.tenants: {t:?} is not an organization's tenant GUID"
            ));
        }
    }
    if entra.audience.trim().is_empty() {
        return Err("entra.audience must not be empty".into());
    }
    if url::Url::parse(&entra.jwks_uri_for(CONSUMERS)).is_err() {
        return Err(format!("entra.jwks_uri {:?} is not a URL", entra.jwks_uri));
    }
    if !(0..=600).contains(&entra.clock_skew_secs) {
        return Err("entra.clock_skew_secs must be between 0 and 600".into());
    }
    Ok(())
}

/// A bound client must be able to get tokens Entra accepts.
fn validate_bound_client(
    config: &Config,
    d: &DirectoryDecl,
    client_id: &str,
) -> Result<(), String> {
    let client = config
        .clients
        .iter()
        .find(|c| c.realm == d.realm && c.client_id == client_id)
        .ok_or_else(|| {
            format!(
                "clients: {client_id:?} is not a client of realm {:?}",
                d.realm
            )
        })?;
    if !client.confidential || !client.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(format!(
            "clients: {client_id:?} must be confidential with grant type client_credentials"
        ));
    }
    let lifespan = client.access_token_lifespan_secs;
    if !ENTRA_ACCESS_TOKEN_LIFESPANS.contains(&lifespan) {
        return Err(format!(
            "client {client_id:?}: access_token_lifespan_secs = {lifespan} is outside {}..={} \
             (60 to 360 minutes), the lifetimes Entra accepts from a client bound to a directory",
            ENTRA_ACCESS_TOKEN_LIFESPANS.start(),
            ENTRA_ACCESS_TOKEN_LIFESPANS.end()
        ));
    }
    Ok(())
}
