//! The federation runtime: the declared identity providers (with their resolved secrets), the
//! one HTTP client toward them, their cached metadata and keys, and the issuer runtime whose
//! finish step every brokered login ends in. `AppState` holds one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::saml_metadata::IdpMetadata;
use crate::config::{Config, IdentityProviderDecl};
use crate::federation::http_client::{UpstreamHttp, UpstreamHttpError};
use crate::federation::upstream::Upstreams;
use crate::issuer::runtime::Runtime as IssuerRuntime;

pub struct Runtime {
    pub issuer: Arc<IssuerRuntime>,
    pub http: UpstreamHttp,
    pub upstreams: Upstreams,
    providers: Vec<IdentityProviderDecl>,
    /// The SAML IdPs' metadata, read once at start, by (realm, alias).
    saml_metadata: HashMap<(String, String), Arc<IdpMetadata>>,
    /// The clients' `initiate_login_uri`, by (realm, client id): where an IdP-initiated login
    /// lands.
    initiate_login: HashMap<(String, String), String>,
}

impl Runtime {
    pub fn new(config: &Config, issuer: Arc<IssuerRuntime>) -> Result<Runtime, UpstreamHttpError> {
        Ok(Runtime {
            issuer,
            http: UpstreamHttp::new()?,
            upstreams: Upstreams::default(),
            providers: config.identity_providers.clone(),
            initiate_login: config
                .clients
                .iter()
                .filter_map(|c| {
                    let uri = c.initiate_login_uri.clone()?;
                    Some(((c.realm.clone(), c.client_id.clone()), uri))
                })
                .collect(),
            saml_metadata: config
                .identity_providers
                .iter()
                .filter(|p| p.is_saml())
                .filter_map(|p| {
                    // Validation read it already; one that fails now is logged and unusable.
                    let metadata = p
                        .saml_metadata()
                        .map_err(|e| tracing::error!(error = %e, "SAML metadata unreadable"))
                        .ok()?;
                    Some(((p.realm.clone(), p.alias.clone()), Arc::new(metadata)))
                })
                .collect(),
        })
    }

    /// The metadata of the SAML IdP `alias` of the realm named `realm`.
    pub fn saml_metadata(&self, realm: &str, alias: &str) -> Option<Arc<IdpMetadata>> {
        self.saml_metadata
            .get(&(realm.to_string(), alias.to_string()))
            .cloned()
    }

    /// Vestibule's entity ID at a SAML IdP: as declared, or the realm's issuer URL.
    pub fn sp_entity_id(&self, idp: &IdentityProviderDecl) -> String {
        idp.sp_entity_id
            .clone()
            .unwrap_or_else(|| self.issuer.issuer_url(&idp.realm))
    }

    /// The `initiate_login_uri` of client `client_id` of the realm named `realm`.
    pub fn initiate_login_uri(&self, realm: &str, client_id: &str) -> Option<&str> {
        self.initiate_login
            .get(&(realm.to_string(), client_id.to_string()))
            .map(String::as_str)
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
