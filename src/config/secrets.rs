//! Secrets in the config: references (`{ env = "X" }` or `{ file = "path" }`) resolved once at
//! load into a value that never prints.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

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
    pub(super) fn resolve(
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
