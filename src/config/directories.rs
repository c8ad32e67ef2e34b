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

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const B: &str = "a1b2c3d4-0000-1111-2222-333344445555";

    /// Realm `r`, organization `o`, directories `d1` and `d2` with `extra` appended, clients `c1`
    /// and `c2` (client_credentials, an hour).
    fn config(d1: &str, d2: &str, client_extra: &str) -> Result<Config, String> {
        let text = format!(
            r#"
[[realm]]
name = "r"
[[organization]]
realm = "r"
alias = "o"
name = "O"
[[directory]]
realm = "r"
organization = "o"
name = "d1"
{d1}
[[directory]]
realm = "r"
organization = "o"
name = "d2"
{d2}
[[client]]
realm = "r"
client_id = "c1"
secret = {{ env = "S" }}
grant_types = ["client_credentials"]
access_token_lifespan_secs = 3600
{client_extra}
[[client]]
realm = "r"
client_id = "c2"
secret = {{ env = "S" }}
grant_types = ["client_credentials"]
access_token_lifespan_secs = 21600
"#
        );
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("v.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Config::load_references_with_env(Some(&path), &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn what_a_directory_may_declare() {
        let entra = |tenants: &str| format!("[directory.entra]\ntenants = [{tenants}]");
        let ok = config(
            &format!("clients = [\"c1\"]\n{}", entra(&format!("\"{A}\""))),
            "clients = [\"c2\"]",
            "",
        );
        let ok = ok.expect("valid");
        let decl = ok.directories[0].entra.as_ref().expect("entra");
        assert_eq!(decl.audience, ENTRA_PROVISIONING_AUDIENCE);
        assert_eq!(
            decl.jwks_uri_for(A),
            format!("https://login.microsoftonline.com/{A}/discovery/keys")
        );
        assert!(decl.allows(&A.to_uppercase()));
        // The same tenant for another audience is another directory's.
        let other_app = format!("{}\naudience = \"x\"", entra(&format!("\"{A}\"")));
        assert!(config(&entra(&format!("\"{A}\"")), &other_app, "").is_ok());

        let refused = [
            (entra(""), String::new(), "", "at least one tenant"),
            (entra("\"common\""), String::new(), "", "\"common\""),
            (
                entra("\"organizations\""),
                String::new(),
                "",
                "organizations",
            ),
            (
                entra("\"9188040d-6c67-4c5b-b112-36a304b66dad\""),
                String::new(),
                "",
                "tenant GUID",
            ),
            (
                entra(&format!("\"{A}\"")),
                entra(&format!("\"{A}\", \"{B}\"")),
                "",
                "also directory \"d1\"'s",
            ),
            (
                "clients = [\"c1\"]".into(),
                "clients = [\"c1\"]".into(),
                "",
                "already bound to directory \"d1\"",
            ),
            (
                "clients = [\"nobody\"]".into(),
                String::new(),
                "",
                "not a client of realm",
            ),
            (
                "clients = [\"c1\"]".into(),
                String::new(),
                "confidential = false",
                "confidential",
            ),
        ];
        for (d1, d2, client_extra, expected) in refused {
            let err = config(&d1, &d2, client_extra).expect_err(&d1);
            assert!(err.contains(expected), "{d1} / {d2}: {err}");
        }
        let mut browser_only = config("", "", "").expect("valid");
        browser_only.directories[0].clients = vec!["c1".into()];
        browser_only.clients[0].grant_types = vec!["authorization_code".into()];
        let err = validate(&browser_only).expect_err("no client_credentials");
        assert!(err.to_string().contains("client_credentials"), "{err}");
    }

    #[test]
    fn a_bound_clients_lifespan_is_one_entra_accepts() {
        for lifespan in [1800, 3599, 21601] {
            let err = config_with_lifespan(lifespan).expect_err("outside Entra's range");
            assert!(
                err.contains("client \"c1\": access_token_lifespan_secs"),
                "{err}"
            );
        }
        assert!(config_with_lifespan(3600).is_ok());
        assert!(config_with_lifespan(21600).is_ok());
        // An unbound client may live as briefly as it likes.
        assert!(config("", "", "").is_ok());
    }

    fn config_with_lifespan(lifespan: i64) -> Result<Config, String> {
        let mut c = config("", "", "")?;
        c.directories[0].clients = vec!["c1".into()];
        c.clients[0].access_token_lifespan_secs = lifespan;
        validate(&c).map(|()| c).map_err(|e| e.to_string())
    }
}
