//! The one typed configuration: defaults, then the TOML file, then `VESTIBULE_<SECTION>__<KEY>`
//! environment overrides. Secrets are references (`{ env = "X" }` or `{ file = "path" }`), so the
//! file can live in git; [`Config::load`] resolves them, [`Config::load_references`] keeps them as
//! references for the commands that need none. Unknown keys are rejected with their line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod client_scopes;
mod directories;
mod identity_providers;
mod idp_mappers;
mod issuer;
pub mod saml_metadata;
mod secrets;
#[cfg(test)]
mod tests;
mod trusted_proxies;

pub use client_scopes::{
    ClientScopeDecl, Include, MapperDecl, MapperDeclKind, OrganizationClaimShape, BUILTIN_SCOPES,
};
pub use directories::{
    Deprovisioning, DirectoryDecl, EntraDirectoryDecl, ENTRA_ACCESS_TOKEN_LIFESPANS,
    ENTRA_PROVISIONING_AUDIENCE,
};
pub use identity_providers::{
    is_guid, ClientAuthentication, FirstLogin, IdentityProviderDecl, IdpKind, IdpPreset,
    MetadataSource, SamlBinding, ENTRA_AUTHORITY, ENTRA_OBJECT_ID, ENTRA_SAML_ISSUER,
};
pub use idp_mappers::{
    full_match_regex, validate as validate_idp_mappers, ClaimPath, ClaimSegment, GroupPath,
    IdpMapperDecl, IdpMapperKind, MapperSyncMode, RoleRef, SyncMode, TemplatePart, TemplateTarget,
    TemplateValue, Transformer, UsernameTemplate,
};
pub use issuer::{ClientDecl, GroupRolesDecl, IssuerConfig, RoleDecl, UserDecl};
pub use secrets::{Secret, SecretCheck, SecretRef};
pub use trusted_proxies::TrustedProxies;

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
    #[serde(default, rename = "identity_provider")]
    pub identity_providers: Vec<IdentityProviderDecl>,
    #[serde(default)]
    pub issuer: IssuerConfig,
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
    /// Reverse proxies (CIDR ranges or addresses) whose `Forwarded` / `X-Forwarded-For` /
    /// `X-Forwarded-Proto` headers are believed; none by default.
    pub trusted_proxies: TrustedProxies,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            max_body_bytes: 1024 * 1024,
            workers: 0,
            shutdown_timeout_secs: 10,
            trusted_proxies: TrustedProxies::default(),
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
        let mut config = Self::load_references_with_env(path, env)?;
        config.resolve_secrets(env)?;
        Ok(config)
    }

    /// [`Config::load`] without reading any secret: references stay references (checked for
    /// shape, relative files anchored at the config's directory) until
    /// [`Config::resolve_secrets`].
    pub fn load_references(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_references_with_env(path, &env)
    }

    /// [`Config::load_references`] with an explicit environment.
    pub fn load_references_with_env(
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
        config.prepare_secret_references(&base_dir)?;
        config.validate()?;
        Ok(config)
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
        directories::validate(self)?;
        self.validate_issuer(&realms, &orgs)?;
        self.validate_identity_providers(&realms, &orgs)
    }

    fn validate_identity_providers(
        &self,
        realms: &std::collections::HashSet<&str>,
        orgs: &std::collections::HashSet<(&str, &str)>,
    ) -> Result<(), ConfigError> {
        let mut aliases = std::collections::HashSet::new();
        for idp in &self.identity_providers {
            let at =
                |m: String| ConfigError::Invalid(format!("identity_provider {:?}: {m}", idp.alias));
            if !realms.contains(idp.realm.as_str()) {
                return Err(at(format!("realm {:?} is not declared", idp.realm)));
            }
            if let Some(org) = &idp.organization {
                if !orgs.contains(&(idp.realm.as_str(), org.as_str())) {
                    return Err(at(format!(
                        "organization: {org:?} is not declared in realm {:?}",
                        idp.realm
                    )));
                }
            }
            if !aliases.insert((idp.realm.as_str(), idp.alias.as_str())) {
                return Err(at("is declared twice".into()));
            }
            if let Some(client) = &idp.idp_initiated_client {
                let lands = self.clients.iter().any(|c| {
                    c.realm == idp.realm && &c.client_id == client && c.initiate_login_uri.is_some()
                });
                if !lands {
                    return Err(at(format!(
                        "idp_initiated_client: {client:?} is not a client of realm {:?} with an initiate_login_uri",
                        idp.realm
                    )));
                }
            }
            idp.validate().map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }

    /// Settings that are allowed but risky, in words for an operator (`check-config` prints
    /// them, `serve` logs them).
    pub fn warnings(&self) -> Vec<String> {
        self.identity_providers
            .iter()
            .flat_map(IdentityProviderDecl::warnings)
            .collect()
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
            if let Some(uri) = &c.initiate_login_uri {
                if !url::Url::parse(uri).is_ok_and(|u| ["https", "http"].contains(&u.scheme())) {
                    return invalid(format!(
                        "client {:?}: initiate_login_uri {uri:?} is not an http(s) URL",
                        c.client_id
                    ));
                }
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

pub(crate) fn yes() -> bool {
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
