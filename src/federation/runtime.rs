//! The federation runtime: the declared identity providers (with their resolved secrets), the
//! one HTTP client toward them, their cached metadata and keys, and the issuer runtime whose
//! finish step every brokered login ends in. `AppState` holds one.

use std::sync::Arc;

use crate::config::{Config, IdentityProviderDecl};
use crate::federation::http_client::{UpstreamHttp, UpstreamHttpError};
use crate::federation::upstream::Upstreams;
use crate::issuer::runtime::Runtime as IssuerRuntime;

pub struct Runtime {
    pub issuer: Arc<IssuerRuntime>,
    pub http: UpstreamHttp,
    pub upstreams: Upstreams,
    providers: Vec<IdentityProviderDecl>,
}

impl Runtime {
    pub fn new(config: &Config, issuer: Arc<IssuerRuntime>) -> Result<Runtime, UpstreamHttpError> {
        Ok(Runtime {
            issuer,
            http: UpstreamHttp::new()?,
            upstreams: Upstreams::default(),
            providers: config.identity_providers.clone(),
        })
    }

    /// The identity provider `alias` of the realm named `realm`.
    pub fn provider(&self, realm: &str, alias: &str) -> Option<&IdentityProviderDecl> {
        self.providers
            .iter()
            .find(|p| p.realm == realm && p.alias == alias)
    }

    /// The redirect URI the IdP is registered with: `{issuer}/broker/{alias}/endpoint`.
    pub fn callback_url(&self, realm: &str, alias: &str) -> String {
        format!("{}/broker/{alias}/endpoint", self.issuer.issuer_url(realm))
    }
}
