//! Secrets in the config: references (`{ env = "X" }` or `{ file = "path" }`) that load keeps as
//! references, resolved into a value that never prints only by the commands that write them to
//! the database (serve, apply, migrate). Everything else (check-config, the admin commands)
//! runs without them, so an operator can inspect a config whose secrets live elsewhere.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, ConfigError};

/// Where a secret comes from. Resolved by [`Config::resolve_secrets`] into a [`Secret`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    /// Filled by [`Config::resolve_secrets`] (and so by [`Config::load`]); never deserialized.
    #[serde(skip)]
    pub resolved: Option<Secret>,
}

/// What a reference names, once it is known to name exactly one thing.
enum Source<'a> {
    Env(&'a str),
    File(&'a Path),
}

impl SecretRef {
    fn source(&self) -> Result<Source<'_>, String> {
        match (&self.env, &self.file) {
            (Some(var), None) => Ok(Source::Env(var)),
            (None, Some(file)) => Ok(Source::File(file)),
            _ => Err("give exactly one of `env` or `file`".into()),
        }
    }

    /// Where the secret is read from, for people: `env SCIM_TOKEN` or `file /run/secrets/x`.
    pub fn describe(&self) -> String {
        match self.source() {
            Ok(Source::Env(var)) => format!("env {var}"),
            Ok(Source::File(path)) => format!("file {}", path.display()),
            Err(_) => "malformed reference".into(),
        }
    }

    /// A relative `file` is relative to the config file: anchored once at load, so it reads
    /// the same file whenever (and by whichever command) it is resolved later.
    fn anchor(&mut self, base_dir: &Path) {
        if let Some(file) = &mut self.file {
            *file = base_dir.join(&*file);
        }
    }

    /// The value, or why it cannot be had (never the value itself).
    fn read(&self, env: &[(String, String)]) -> Result<Secret, String> {
        let value = match self.source()? {
            Source::Env(var) => env
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    format!("environment variable {var} is not set (the secret is read from it)")
                })?,
            Source::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        };
        if value.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Secret::new(value))
    }
}

/// Whether one secret reference of the config can be resolved, as `check-config` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretCheck {
    /// Which secret: `directory "acme-entra" token`.
    pub what: String,
    /// Where it is read from: `env SCIM_TOKEN`.
    pub source: String,
    /// Why it cannot be resolved now; `None` when it can.
    pub problem: Option<String>,
}

/// Every secret reference in the config, named for messages. One list, so that anchoring,
/// checking and resolving can never disagree on which secrets there are.
macro_rules! secret_references {
    ($config:expr, $iter:ident, $as_ref:ident) => {
        $config
            .directories
            .$iter()
            .filter_map(|d| {
                let what = format!("directory {:?} token", d.name);
                d.token.$as_ref().map(|s| (what, s))
            })
            .chain($config.clients.$iter().filter_map(|c| {
                let what = format!("client {:?} secret", c.client_id);
                c.secret.$as_ref().map(|s| (what, s))
            }))
            .chain($config.users.$iter().filter_map(|u| {
                let what = format!("user {:?} password", u.username);
                u.password.$as_ref().map(|s| (what, s))
            }))
            .chain($config.identity_providers.$iter().filter_map(|i| {
                let what = format!("identity_provider {:?} client_secret", i.alias);
                i.client_secret.$as_ref().map(|s| (what, s))
            }))
    };
}

impl Config {
    /// Checks each reference's shape and anchors relative files at `base_dir`; reads nothing.
    pub(super) fn prepare_secret_references(&mut self, base_dir: &Path) -> Result<(), ConfigError> {
        for (what, secret) in secret_references!(self, iter_mut, as_mut) {
            secret
                .source()
                .map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))?;
            secret.anchor(base_dir);
        }
        Ok(())
    }

    /// Reads every secret the config refers to; fails on the first that cannot be read,
    /// naming it. Already resolved secrets (set by code, as the tests do) are kept.
    pub fn resolve_secrets(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (what, secret) in secret_references!(self, iter_mut, as_mut) {
            if secret.resolved.is_none() {
                let value = secret
                    .read(env)
                    .map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))?;
                secret.resolved = Some(value);
            }
        }
        Ok(())
    }

    /// Fails when a secret is still a bare reference: applying the declarations then would
    /// silently leave a directory token, client secret or password unset.
    pub fn require_resolved_secrets(&self) -> Result<(), ConfigError> {
        match secret_references!(self, iter, as_ref).find(|(_, s)| s.resolved.is_none()) {
            Some((what, _)) => Err(ConfigError::Invalid(format!(
                "{what} is not resolved (resolve the config's secrets before applying it)"
            ))),
            None => Ok(()),
        }
    }

    /// Whether each secret reference could be resolved in `env`, without keeping any value.
    pub fn check_secrets(&self, env: &[(String, String)]) -> Vec<SecretCheck> {
        secret_references!(self, iter, as_ref)
            .map(|(what, secret)| SecretCheck {
                what,
                source: secret.describe(),
                problem: secret.read(env).err(),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[realm]]
name = "r"

[[organization]]
realm = "r"
alias = "acme"
name = "Acme"

[[directory]]
realm = "r"
organization = "acme"
name = "entra"
token = { env = "T_SCIM_TOKEN" }

[[user]]
realm = "r"
username = "alice"
password = { file = "alice.pw" }
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn references_load_without_their_secrets_and_resolve_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, CONFIG).unwrap();
        let mut config = Config::load_references_with_env(Some(&path), &[]).unwrap();
        assert!(config.require_resolved_secrets().is_err());
        let checks = config.check_secrets(&[]);
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].what, "directory \"entra\" token");
        assert_eq!(checks[0].source, "env T_SCIM_TOKEN");
        assert!(checks[0].problem.as_deref().unwrap().contains("not set"));
        // The file is anchored at the config's directory, not the working directory.
        assert_eq!(
            checks[1].source,
            format!("file {}", dir.path().join("alice.pw").display())
        );
        let err = config.resolve_secrets(&[]).unwrap_err().to_string();
        assert!(
            err.contains("T_SCIM_TOKEN") && err.contains("entra"),
            "{err}"
        );

        std::fs::write(dir.path().join("alice.pw"), "pw\n").unwrap();
        let set = env(&[("T_SCIM_TOKEN", "tok")]);
        assert!(config
            .check_secrets(&set)
            .iter()
            .all(|c| c.problem.is_none()));
        assert!(!format!("{:?}", config.check_secrets(&set)).contains("tok\""));
        config.resolve_secrets(&set).unwrap();
        config.require_resolved_secrets().unwrap();
        assert_eq!(
            config.users[0]
                .password
                .as_ref()
                .unwrap()
                .resolved
                .as_ref()
                .unwrap()
                .expose(),
            "pw"
        );
    }

    #[test]
    fn a_malformed_reference_is_refused_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            CONFIG.replace(
                "{ env = \"T_SCIM_TOKEN\" }",
                "{ env = \"A\", file = \"b\" }",
            ),
        )
        .unwrap();
        let err = Config::load_references_with_env(Some(&path), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("exactly one of"), "{err}");
    }

    #[test]
    fn an_empty_secret_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, CONFIG).unwrap();
        let config = Config::load_references_with_env(Some(&path), &[]).unwrap();
        let checks = config.check_secrets(&env(&[("T_SCIM_TOKEN", "")]));
        assert_eq!(checks[0].problem.as_deref(), Some("the secret is empty"));
    }
}
