//! The federation runtime: the declared identity providers (with their resolved secrets), the
//! one HTTP client toward them, their cached metadata and keys, and the issuer runtime whose
//! finish step every brokered login ends in. `AppState` holds one.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::config::saml_metadata::IdpMetadata;
use crate::config::{Config, IdentityProviderDecl, MetadataSource};
use crate::federation::http_client::{UpstreamHttp, UpstreamHttpError};
use crate::federation::saml_metadata_refresh::{self as refresh, MetadataCell};
use crate::federation::saml_metadata_url;
use crate::federation::upstream::Upstreams;
use crate::issuer::runtime::Runtime as IssuerRuntime;

pub struct Runtime {
    pub issuer: Arc<IssuerRuntime>,
    pub http: UpstreamHttp,
    pub upstreams: Upstreams,
    providers: Vec<IdentityProviderDecl>,
    /// The SAML IdPs' metadata by (realm, alias): read from the config at start, or fetched
    /// from its URL by [`Runtime::fetch_saml_metadata`] and refreshed in the background.
    saml_metadata: HashMap<(String, String), MetadataCell>,
    /// The clients' `initiate_login_uri`, by (realm, client id): where an IdP-initiated login
    /// lands.
    initiate_login: HashMap<(String, String), String>,
}

impl Runtime {
    pub fn new(config: &Config, issuer: Arc<IssuerRuntime>) -> Result<Runtime, UpstreamHttpError> {
        let saml_metadata = config
            .identity_providers
            .iter()
            .filter(|p| p.is_saml())
            .map(|p| {
                let key = (p.realm.clone(), p.alias.clone());
                let cell = match p.metadata_source() {
                    Ok(MetadataSource::Url(_)) => MetadataCell::default(),
                    // Validation read it already; one that fails now is logged and unusable.
                    _ => match p.saml_metadata() {
                        Ok(metadata) => MetadataCell::holding(metadata),
                        Err(e) => {
                            tracing::error!(error = %e, "SAML metadata unreadable");
                            MetadataCell::default()
                        }
                    },
                };
                (key, cell)
            })
            .collect();
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
            saml_metadata,
        })
    }

    /// The SAML IdPs whose metadata comes from a URL, with it.
    fn url_sourced(&self) -> impl Iterator<Item = (&IdentityProviderDecl, String)> {
        self.providers
            .iter()
            .filter(|p| p.is_saml())
            .filter_map(|p| match p.metadata_source() {
                Ok(MetadataSource::Url(url)) => Some((p, url)),
                _ => None,
            })
    }

    /// Fetches the metadata of every SAML IdP declared with a URL, before serving: the first
    /// failure is the error, naming the IdP and why. Blocks (on a thread of its own).
    pub fn fetch_saml_metadata(&self) -> Result<(), String> {
        let now = self.issuer.now() / 1_000_000;
        let wanted: Vec<(&IdentityProviderDecl, String)> = self.url_sourced().collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let fetched = saml_metadata_url::blocking(async {
            let mut fetched = Vec::new();
            for (idp, url) in &wanted {
                fetched.push((*idp, saml_metadata_url::fetch(idp, url, now).await?));
            }
            Ok::<_, String>(fetched)
        })??;
        for (idp, metadata) in fetched {
            warn_of_expiring_certificates(idp, &metadata, now);
            self.cell(&idp.realm, &idp.alias)
                .ok_or("a SAML IdP without its metadata cell")?
                .replace(metadata)?;
        }
        Ok(())
    }

    fn cell(&self, realm: &str, alias: &str) -> Option<&MetadataCell> {
        self.saml_metadata
            .get(&(realm.to_string(), alias.to_string()))
    }

    /// Fetches the metadata of `realm`/`alias` again (the background refresh's one step): on
    /// success the document is replaced and the delay until the next refresh returned; on
    /// failure the last good document stays, and the failure is counted and logged.
    pub async fn refresh_saml_metadata(&self, realm: &str, alias: &str) -> Result<u64, String> {
        let (idp, url) = self
            .url_sourced()
            .find(|(p, _)| p.realm == realm && p.alias == alias)
            .ok_or_else(|| {
                format!("no SAML IdP {alias:?} with a metadata URL in realm {realm:?}")
            })?;
        let cell = self.cell(realm, alias).ok_or("no metadata cell")?;
        let now = self.issuer.now() / 1_000_000;
        let outcome = match saml_metadata_url::fetch(idp, &url, now).await {
            Ok(metadata) => {
                warn_of_expiring_certificates(idp, &metadata, now);
                let next = refresh::refresh_after(&metadata, now);
                cell.replace(metadata).map(|()| next)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &outcome {
            refresh::log_failure(realm, alias, cell.failed(), e);
        }
        outcome
    }

    /// Refreshes that failed in a row for `realm`/`alias` (0 once one succeeds).
    pub fn saml_metadata_failures(&self, realm: &str, alias: &str) -> u32 {
        self.cell(realm, alias).map_or(0, MetadataCell::failures)
    }

    /// Starts one background task per SAML IdP with a metadata URL, each refreshing it when
    /// due; a task ends when the runtime is dropped. Needs a Tokio runtime (the server's).
    pub fn spawn_saml_metadata_refresh(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: SAML metadata from URLs will not be refreshed");
            return;
        };
        let now = self.issuer.now() / 1_000_000;
        for (idp, _) in self.url_sourced() {
            let first = self
                .saml_metadata(&idp.realm, &idp.alias)
                .map_or(refresh::RETRY_SECS, |m| refresh::refresh_after(&m, now));
            handle.spawn(refresh_loop(
                Arc::downgrade(self),
                idp.realm.clone(),
                idp.alias.clone(),
                first,
            ));
        }
    }

    /// The metadata of the SAML IdP `alias` of the realm named `realm`.
    pub fn saml_metadata(&self, realm: &str, alias: &str) -> Option<Arc<IdpMetadata>> {
        self.cell(realm, alias).and_then(MetadataCell::get)
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

/// A fetched document's expiring signing certificates, told where `serve` tells the config's.
fn warn_of_expiring_certificates(idp: &IdentityProviderDecl, metadata: &IdpMetadata, now: i64) {
    for warning in idp.certificate_warnings(metadata, now) {
        tracing::warn!("{warning}");
    }
}

/// Refreshes `realm`/`alias` after `delay` seconds, then whenever due, until the runtime goes.
async fn refresh_loop(runtime: Weak<Runtime>, realm: String, alias: String, mut delay: u64) {
    loop {
        tokio::time::sleep(Duration::from_secs(delay)).await;
        let Some(runtime) = runtime.upgrade() else {
            return;
        };
        delay = runtime
            .refresh_saml_metadata(&realm, &alias)
            .await
            .unwrap_or(refresh::RETRY_SECS);
    }
}
