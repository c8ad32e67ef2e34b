//! The OpenID Provider's declarations: realm-wide issuer settings, clients, local users, roles
//! and the role rules for directory-pushed groups.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{yes, MapperDecl, OrganizationClaimShape, SecretRef};

/// Realm-wide settings of the OpenID Provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IssuerConfig {
    /// SSO session lifetime (the browser cookie), seconds.
    pub sso_session_max_secs: i64,
    /// How long an authorization code may wait for its exchange, seconds.
    pub code_lifespan_secs: i64,
    /// How long the login form may stay open, seconds.
    pub login_timeout_secs: i64,
    /// Offline tokens (`offline_access`) live this long, seconds.
    pub offline_session_max_secs: i64,
    /// The `organization` claim's shape.
    pub organization_claim: OrganizationClaimShape,
    /// Login attempts per person (user, or name typed) before the lockout starts.
    pub brute_force_max_failures: i32,
    /// Login attempts per client address before it is locked out too (many people may share one).
    pub brute_force_max_failures_per_address: i32,
    /// The first lockout; it doubles with each further failure, up to `brute_force_max_wait_secs`.
    pub brute_force_wait_secs: i64,
    pub brute_force_max_wait_secs: i64,
    /// A counter with no failure for this long starts again (Keycloak's failure reset time).
    pub brute_force_failure_reset_secs: i64,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            sso_session_max_secs: 10 * 3600,
            code_lifespan_secs: 60,
            login_timeout_secs: 30 * 60,
            offline_session_max_secs: 30 * 24 * 3600,
            organization_claim: OrganizationClaimShape::default(),
            brute_force_max_failures: 5,
            brute_force_max_failures_per_address: 20,
            brute_force_wait_secs: 2,
            brute_force_max_wait_secs: 15 * 60,
            brute_force_failure_reset_secs: 12 * 3600,
        }
    }
}

/// A downstream application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDecl {
    pub realm: String,
    pub client_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub confidential: bool,
    /// The client secret of a confidential client (stored as an argon2id hash).
    #[serde(default)]
    pub secret: Option<SecretRef>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where a login the client did not start (an IdP-initiated SAML login) sends the browser,
    /// with `iss`, so that the client starts its own authorization request (OpenID Connect
    /// Core §4, Registration's `initiate_login_uri`).
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    /// Origins allowed to call token, userinfo and certs from a browser (CORS).
    #[serde(default)]
    pub web_origins: Vec<String>,
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    #[serde(default = "yes")]
    pub full_scope_allowed: bool,
    #[serde(default = "default_scopes")]
    pub default_scopes: Vec<String>,
    #[serde(default = "optional_scopes")]
    pub optional_scopes: Vec<String>,
    #[serde(default = "access_lifespan")]
    pub access_token_lifespan_secs: i64,
    #[serde(default = "refresh_lifespan")]
    pub refresh_token_lifespan_secs: i64,
    #[serde(default = "default_alg")]
    pub signing_alg: String,
    /// Ask for the organization slug before login when the request names none.
    #[serde(default)]
    pub organization_prompt: bool,
    /// Roles of the client's service account (client_credentials): `"role"` or `"client:role"`.
    #[serde(default)]
    pub service_account_roles: Vec<String>,
    /// With full_scope_allowed off, the roles tokens may carry.
    #[serde(default)]
    pub scope_roles: Vec<String>,
    /// Extra claims through protocol mappers (the client's dedicated scope: they win over
    /// every scope's).
    #[serde(default)]
    pub mappers: Vec<MapperDecl>,
    /// This client's organization mapper shape; the organization scope's (a declared one, or
    /// the realm's `issuer.organization_claim`) when unset.
    #[serde(default)]
    pub organization_claim: Option<OrganizationClaimShape>,
}

/// A local user (organizations without an external IdP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
    pub realm: String,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Organization aliases the user is a member of.
    #[serde(default)]
    pub organizations: Vec<String>,
    /// `"role"` or `"client:role"`.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A realm role, or a client role when `client` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDecl {
    pub realm: String,
    pub name: String,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Roles this one includes: `"role"` or `"client:role"`.
    #[serde(default)]
    pub composites: Vec<String>,
}

/// Roles for the members of an organization's directory-pushed group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRolesDecl {
    pub realm: String,
    pub organization: String,
    /// The group's displayName (case-insensitive)...
    #[serde(default)]
    pub group: Option<String>,
    /// ...or its externalId (Entra's object id).
    #[serde(default)]
    pub external_id: Option<String>,
    pub roles: Vec<String>,
}

fn default_grants() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

fn default_scopes() -> Vec<String> {
    [
        "basic",
        "profile",
        "email",
        "roles",
        "web-origins",
        "acr",
        "groups",
    ]
    .map(String::from)
    .to_vec()
}

fn optional_scopes() -> Vec<String> {
    ["organization", "offline_access", "address", "phone"]
        .map(String::from)
        .to_vec()
}

fn access_lifespan() -> i64 {
    300
}

fn refresh_lifespan() -> i64 {
    1800
}

fn default_alg() -> String {
    "RS256".into()
}
