//! The one typed configuration: defaults, then the TOML file, then `VESTIBULE_<SECTION>__<KEY>`
//! environment overrides. Secrets are references (`{ env = "X" }` or `{ file = "path" }`) resolved
//! once at load, so the file can live in git. Unknown keys are rejected with their line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod client_scopes;

pub use client_scopes::{
    ClientScopeDecl, Include, MapperDecl, MapperDeclKind, OrganizationClaimShape, BUILTIN_SCOPES,
};

/// Everything Vestibule is told by its operator.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default, rename = "realm")]
    pub realms: Vec<RealmDecl>,
    #[serde(default, rename = "organization")]
    pub organizations: Vec<OrganizationDecl>,
    #[serde(default, rename = "directory")]
    pub directories: Vec<DirectoryDecl>,
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientDecl>,
    #[serde(default, rename = "client_scope")]
    pub client_scopes: Vec<ClientScopeDecl>,
    #[serde(default, rename = "user")]
    pub users: Vec<UserDecl>,
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleDecl>,
    #[serde(default, rename = "group_roles")]
    pub group_roles: Vec<GroupRolesDecl>,
    #[serde(default)]
    pub issuer: IssuerConfig,
}

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
    /// Failed logins per user or per address before backoff starts.
    pub brute_force_max_failures: i32,
    /// The first lockout; it doubles with each further failure, up to `brute_force_max_wait_secs`.
    pub brute_force_wait_secs: i64,
    pub brute_force_max_wait_secs: i64,
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
            brute_force_wait_secs: 2,
            brute_force_max_wait_secs: 15 * 60,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Socket address to bind, `127.0.0.1:8080` by default.
    pub listen: String,
    /// The URL clients reach us at; `meta.location` and issuers are built from it.
    pub public_url: String,
    /// Largest request body accepted, in bytes (SCIM bodies, forms).
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds given to in-flight requests on SIGTERM before the process exits.
    pub shutdown_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            max_body_bytes: 1024 * 1024,
            workers: 0,
            shutdown_timeout_secs: 10,
        }
    }
}

impl ServerConfig {
    /// `public_url` without a trailing slash, defaulting to `http://{listen}`.
    pub fn base_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (relative to the working directory), a bare path, or
    /// `postgres://user@host/db`.
    pub url: String,
    /// Connections kept in the pool.
    pub pool_size: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://vestibule.db".into(),
            pool_size: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `vestibule=debug,actix_web=info`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A realm: one issuer, one user base.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmDecl {
    pub name: String,
}

/// An organization declared in config; applied idempotently at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDecl {
    pub realm: String,
    /// URL-safe slug, unique in the realm, immutable.
    pub alias: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub domains: Vec<DomainDecl>,
    /// Multi-valued attributes: `{ tier = ["gold"] }`.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A domain as a plain name (verified, since the operator declared it) or `{ name, verified }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DomainDecl {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        verified: bool,
    },
}

impl DomainDecl {
    pub fn name(&self) -> &str {
        match self {
            DomainDecl::Name(n) | DomainDecl::Full { name: n, .. } => n,
        }
    }
    pub fn verified(&self) -> bool {
        match self {
            DomainDecl::Name(_) => true,
            DomainDecl::Full { verified, .. } => *verified,
        }
    }
}

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

/// Where a secret comes from. Resolved at load into a [`Secret`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    /// Filled by [`Config::load`]; never deserialized.
    #[serde(skip)]
    pub resolved: Option<Secret>,
}

impl SecretRef {
    fn resolve(
        &mut self,
        base_dir: &Path,
        env: &[(String, String)],
        what: &str,
    ) -> Result<(), ConfigError> {
        let value = match (&self.env, &self.file) {
            (Some(var), None) => env
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "{what}: environment variable {var} is not set (the secret is read from it)"
                    ))
                })?,
            (None, Some(file)) => {
                let path = base_dir.join(file);
                std::fs::read_to_string(&path)
                    .map_err(|e| {
                        ConfigError::Invalid(format!("{what}: cannot read {}: {e}", path.display()))
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_string()
            }
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "{what}: give exactly one of `env` or `file`"
                )))
            }
        };
        if value.is_empty() {
            return Err(ConfigError::Invalid(format!("{what}: the secret is empty")));
        }
        self.resolved = Some(Secret::new(value));
        Ok(())
    }
}

/// A secret string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment override {var}: {message}")]
    Env { var: String, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

const ENV_PREFIX: &str = "VESTIBULE_";

impl Config {
    /// Loads the file (if any), applies the process environment's overrides, resolves secrets
    /// and validates cross references.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, &env)
    }

    /// [`Config::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_with_env(
        path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let (text, base_dir) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                p.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (String::new(), PathBuf::new()),
        };
        let file_path = path.map(Path::to_path_buf).unwrap_or_default();
        // Parse the file on its own first: its errors then carry the line and the key.
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: file_path.clone(),
            message: e.to_string(),
        })?;
        let overrides = env_overrides(env);
        if !overrides.is_empty() {
            let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: file_path,
                message: e.to_string(),
            })?;
            for (var, keys, value) in &overrides {
                set_path(&mut table, keys, value.clone()).map_err(|message| ConfigError::Env {
                    var: var.clone(),
                    message,
                })?;
            }
            config = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Env {
                    var: overrides
                        .iter()
                        .map(|(v, _, _)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    message: e.message().to_string(),
                })?;
        }
        config.resolve_secrets(&base_dir, env)?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secrets(
        &mut self,
        base_dir: &Path,
        env: &[(String, String)],
    ) -> Result<(), ConfigError> {
        for d in &mut self.directories {
            if let Some(token) = &mut d.token {
                token.resolve(base_dir, env, &format!("directory {:?} token", d.name))?;
            }
        }
        for c in &mut self.clients {
            if let Some(secret) = &mut c.secret {
                secret.resolve(base_dir, env, &format!("client {:?} secret", c.client_id))?;
            }
        }
        for u in &mut self.users {
            if let Some(password) = &mut u.password {
                password.resolve(base_dir, env, &format!("user {:?} password", u.username))?;
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(format!(
                "server.listen {:?} is not a socket address like 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if !self.server.public_url.is_empty() && url::Url::parse(&self.server.public_url).is_err() {
            return invalid(format!(
                "server.public_url {:?} is not a URL",
                self.server.public_url
            ));
        }
        let mut realms = std::collections::HashSet::new();
        for r in &self.realms {
            if !is_slug(&r.name) {
                return invalid(format!("realm name {:?} must be a URL-safe slug", r.name));
            }
            if !realms.insert(r.name.as_str()) {
                return invalid(format!("realm {:?} is declared twice", r.name));
            }
        }
        let mut orgs = std::collections::HashSet::new();
        let mut domains = std::collections::HashMap::new();
        for o in &self.organizations {
            for d in &o.domains {
                let key = (o.realm.as_str(), d.name().to_ascii_lowercase());
                if let Some(other) = domains.insert(key, o.alias.as_str()) {
                    return invalid(format!(
                        "domain {:?} is declared by organizations {other:?} and {:?}; a domain belongs to one organization",
                        d.name(),
                        o.alias
                    ));
                }
            }
            if !realms.contains(o.realm.as_str()) {
                return invalid(format!(
                    "organization {:?} names realm {:?}, which is not declared",
                    o.alias, o.realm
                ));
            }
            if !is_slug(&o.alias) {
                return invalid(format!(
                    "organization alias {:?} must be a URL-safe slug (letters, digits, '-', '_', '.')",
                    o.alias
                ));
            }
            if !orgs.insert((o.realm.as_str(), o.alias.as_str())) {
                return invalid(format!("organization {:?} is declared twice", o.alias));
            }
        }
        let mut dirs = std::collections::HashSet::new();
        for d in &self.directories {
            if !orgs.contains(&(d.realm.as_str(), d.organization.as_str())) {
                return invalid(format!(
                    "directory {:?} names organization {:?} in realm {:?}, which is not declared",
                    d.name, d.organization, d.realm
                ));
            }
            if !dirs.insert((d.realm.as_str(), d.name.as_str())) {
                return invalid(format!("directory {:?} is declared twice", d.name));
            }
        }
        self.validate_issuer(&realms, &orgs)
    }

    fn validate_issuer(
        &self,
        realms: &std::collections::HashSet<&str>,
        orgs: &std::collections::HashSet<(&str, &str)>,
    ) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let mut clients = std::collections::HashSet::new();
        for c in &self.clients {
            if !realms.contains(c.realm.as_str()) {
                return invalid(format!(
                    "client {:?} names realm {:?}, which is not declared",
                    c.client_id, c.realm
                ));
            }
            if !clients.insert((c.realm.as_str(), c.client_id.as_str())) {
                return invalid(format!("client {:?} is declared twice", c.client_id));
            }
            if c.confidential && c.secret.is_none() {
                return invalid(format!(
                    "client {:?} is confidential and needs a secret",
                    c.client_id
                ));
            }
            if !c.confidential && c.secret.is_some() {
                return invalid(format!(
                    "client {:?} is public and must not have a secret",
                    c.client_id
                ));
            }
            for g in &c.grant_types {
                if !["authorization_code", "refresh_token", "client_credentials"]
                    .contains(&g.as_str())
                {
                    return invalid(format!(
                        "client {:?}: grant type {g:?} is not supported",
                        c.client_id
                    ));
                }
            }
            if !c.confidential && c.grant_types.iter().any(|g| g == "client_credentials") {
                return invalid(format!(
                    "client {:?}: client_credentials needs a confidential client",
                    c.client_id
                ));
            }
            if !["RS256", "ES256", "EdDSA"].contains(&c.signing_alg.as_str()) {
                return invalid(format!(
                    "client {:?}: signing_alg must be RS256, ES256 or EdDSA",
                    c.client_id
                ));
            }
            for uri in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
                if url::Url::parse(uri).is_err() {
                    return invalid(format!(
                        "client {:?}: {uri:?} is not an absolute URI",
                        c.client_id
                    ));
                }
            }
        }
        for u in &self.users {
            if !realms.contains(u.realm.as_str()) {
                return invalid(format!(
                    "user {:?} names realm {:?}, which is not declared",
                    u.username, u.realm
                ));
            }
            for o in &u.organizations {
                if !orgs.contains(&(u.realm.as_str(), o.as_str())) {
                    return invalid(format!(
                        "user {:?} names organization {o:?}, which is not declared",
                        u.username
                    ));
                }
            }
        }
        for g in &self.group_roles {
            if !orgs.contains(&(g.realm.as_str(), g.organization.as_str())) {
                return invalid(format!(
                    "group_roles names organization {:?}, which is not declared",
                    g.organization
                ));
            }
            if g.group.is_some() == g.external_id.is_some() {
                return invalid("group_roles: give exactly one of `group` or `external_id`".into());
            }
        }
        client_scopes::validate(self, realms)
    }
}

/// Slugs are what may appear in a URL path segment without escaping.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn yes() -> bool {
    true
}

/// `VESTIBULE_SERVER__LISTEN=x` -> (`VESTIBULE_SERVER__LISTEN`, ["server", "listen"], x).
/// Variables without `__` (like `VESTIBULE_CONFIG`) are the CLI's, not overrides.
fn env_overrides(env: &[(String, String)]) -> Vec<(String, Vec<String>, toml::Value)> {
    env.iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(ENV_PREFIX)?;
            if !rest.contains("__") {
                return None;
            }
            let keys = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            Some((k.clone(), keys, scalar(v)))
        })
        .collect()
}

/// Integers and booleans keep their type; anything else is a string.
fn scalar(v: &str) -> toml::Value {
    if let Ok(i) = v.parse::<i64>() {
        toml::Value::Integer(i)
    } else if v == "true" || v == "false" {
        toml::Value::Boolean(v == "true")
    } else {
        toml::Value::String(v.to_string())
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(Some(&path), &env)
    }

    const QUICK: &str = r#"
[server]
listen = "127.0.0.1:8080"

[[realm]]
name = "quickstart"

[[organization]]
realm = "quickstart"
alias = "acme"
name = "Acme"
domains = ["acme.test", { name = "acme.example", verified = false }]
attributes = { tier = ["gold"] }

[[directory]]
realm = "quickstart"
organization = "acme"
name = "entra"
token = { env = "SCIM_TOKEN" }
"#;

    #[test]
    fn loads_declarations_and_resolves_env_secret() {
        let c = load(QUICK, &[("SCIM_TOKEN", "s3cret")]).unwrap();
        assert_eq!(c.organizations[0].domains[0].name(), "acme.test");
        assert!(c.organizations[0].domains[0].verified());
        assert!(!c.organizations[0].domains[1].verified());
        let token = c.directories[0].token.as_ref().unwrap();
        assert_eq!(token.resolved.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{token:?}").contains("s3cret"));
        assert_eq!(c.directories[0].deprovisioning, Deprovisioning::Disable);
    }

    #[test]
    fn env_overrides_any_section_key() {
        let c = load(
            QUICK,
            &[
                ("SCIM_TOKEN", "x"),
                ("VESTIBULE_SERVER__LISTEN", "127.0.0.1:9000"),
                ("VESTIBULE_DATABASE__URL", "postgres://localhost/v"),
                ("VESTIBULE_DATABASE__POOL_SIZE", "4"),
                ("VESTIBULE_CONFIG", "ignored.toml"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.database.url, "postgres://localhost/v");
        assert_eq!(c.database.pool_size, 4);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = load("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_env_key_is_named() {
        let err = load(
            QUICK,
            &[("SCIM_TOKEN", "x"), ("VESTIBULE_SERVER__LISTN", "1")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("VESTIBULE_SERVER__LISTN"), "{err}");
        assert!(err.contains("listn"), "{err}");
    }

    #[test]
    fn missing_secret_and_dangling_references_are_refused() {
        let err = load(QUICK, &[]).unwrap_err().to_string();
        assert!(err.contains("SCIM_TOKEN"), "{err}");
        let err = load(
            &QUICK.replace("organization = \"acme\"", "organization = \"x\""),
            &[("SCIM_TOKEN", "x")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"x\""), "{err}");
    }

    #[test]
    fn a_domain_belongs_to_one_organization() {
        let twice = format!(
            "{QUICK}\n[[organization]]\nrealm = \"quickstart\"\nalias = \"other\"\nname = \"O\"\ndomains = [\"ACME.test\"]\n"
        );
        let err = load(&twice, &[("SCIM_TOKEN", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"acme\"") && err.contains("\"other\""),
            "{err}"
        );
    }

    #[test]
    fn secret_from_file_is_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "from-file\n").unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            QUICK.replace("{ env = \"SCIM_TOKEN\" }", "{ file = \"tok\" }"),
        )
        .unwrap();
        let c = Config::load_with_env(Some(&path), &[]).unwrap();
        let t = c.directories[0]
            .token
            .as_ref()
            .unwrap()
            .resolved
            .as_ref()
            .unwrap();
        assert_eq!(t.expose(), "from-file");
    }
}
