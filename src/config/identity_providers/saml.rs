//! The SAML side of `[[identity_provider]]`: where the IdP's metadata comes from (a file,
//! inline text or a URL, exactly one), what is checked of it beyond `IdpMetadata::parse`, the
//! Entra preset over SAML (federation.md §2.4, requirement 26), and the SAML warnings.
//!
//! A URL is only checked for its form here: the config floor makes no network call. The
//! federation runtime fetches it (address checks, pinning, size cap) and hands the document
//! back to [`IdentityProviderDecl::accept_saml_metadata`], so fetched and local metadata pass
//! the same checks.

use std::path::Path;

use super::{is_guid, IdentityProviderDecl, ENTRA_AUTHORITY};
use crate::config::saml_metadata::IdpMetadata;

/// The attribute Entra names the person with (its object id, `oid`); SCIM pushes it as the
/// `externalId`.
pub const ENTRA_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/// Entra's SAML issuer (and metadata entity ID) for a tenant: `{tid}` is replaced.
pub const ENTRA_SAML_ISSUER: &str = "https://sts.windows.net/{tid}/";

/// Microsoft allows itself five minutes of clock skew on SAML tokens (reference-saml-tokens.md).
pub(super) const ENTRA_SAML_SKEW_SECS: i64 = 300;

/// Where a SAML IdP's metadata is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataSource<'a> {
    File(&'a Path),
    Inline(&'a str),
    /// Fetched by the federation runtime: at start, by `check-config` and `idp show`, and
    /// refreshed in the background.
    Url(String),
}

impl IdentityProviderDecl {
    /// Where the metadata comes from: the one of `metadata_file`, `metadata` and
    /// `metadata_url` that is set, or the Entra preset's tenant metadata URL.
    pub fn metadata_source(&self) -> Result<MetadataSource<'_>, String> {
        let at =
            |key: &str, what: &str| format!("identity_provider {:?}: {key}: {what}", self.alias);
        match (&self.metadata_file, &self.metadata, &self.metadata_url) {
            (Some(path), None, None) => Ok(MetadataSource::File(path)),
            (None, Some(text), None) => Ok(MetadataSource::Inline(text)),
            (None, None, Some(url)) => Ok(MetadataSource::Url(url.clone())),
            (None, None, None) if self.is_entra() => match &self.tenant_id {
                Some(tenant) => Ok(MetadataSource::Url(self.entra_metadata_url(tenant))),
                None => Err(at("tenant_id", "the entra preset needs the tenant id")),
            },
            (None, None, None) => Err(at(
                "metadata_file",
                "a SAML IdP needs its metadata: metadata_file, metadata or metadata_url",
            )),
            _ => Err(at(
                "metadata",
                "give one of metadata_file, metadata and metadata_url, not several",
            )),
        }
    }

    /// Entra's federation metadata of `tenant`, with the app-specific keys of `app_id` when set.
    fn entra_metadata_url(&self, tenant: &str) -> String {
        let url =
            format!("{ENTRA_AUTHORITY}/{tenant}/federationmetadata/2007-06/federationmetadata.xml");
        match &self.app_id {
            Some(app) => format!("{url}?appid={app}"),
            None => url,
        }
    }

    /// The IdP's SAML metadata from its file or inline text, checked; a URL source is fetched
    /// by the federation runtime instead (`federation::saml_metadata_url`), and this says so.
    pub fn saml_metadata(&self) -> Result<IdpMetadata, String> {
        let at =
            |key: &str, what: String| format!("identity_provider {:?}: {key}: {what}", self.alias);
        let parsed = match self.metadata_source()? {
            MetadataSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    at(
                        "metadata_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                IdpMetadata::parse(&text).map_err(|e| at("metadata_file", e))?
            }
            MetadataSource::Inline(text) => {
                IdpMetadata::parse(text).map_err(|e| at("metadata", e))?
            }
            MetadataSource::Url(url) => {
                return Err(at(
                    "metadata_url",
                    format!("{url} is fetched by the daemon, not read from the config"),
                ))
            }
        };
        self.accept_saml_metadata(parsed)
    }

    /// What this declaration asks of any metadata beyond its parsing, wherever it came from:
    /// a SingleSignOnService for the binding requests go by; for Entra, the tenant's own entity ID (another tenant's metadata would trust that
    /// tenant's keys and issuer).
    pub fn accept_saml_metadata(&self, metadata: IdpMetadata) -> Result<IdpMetadata, String> {
        let binding = self.authn_request_binding.urn();
        if metadata.sso_location(binding).is_none() {
            return Err(format!(
                "identity_provider {:?}: authn_request_binding: the IdP's metadata has no SingleSignOnService for {binding}",
                self.alias
            ));
        }
        if let (true, Some(tenant)) = (self.is_entra(), &self.tenant_id) {
            let expected = ENTRA_SAML_ISSUER.replace("{tid}", tenant);
            if metadata.entity_id != expected {
                return Err(format!(
                    "identity_provider {:?}: metadata: its entity ID {:?} is not tenant {tenant}'s {expected:?}",
                    self.alias, metadata.entity_id
                ));
            }
        }
        Ok(metadata)
    }

    /// The attribute that names the person instead of the NameID, if any (Entra: the object id).
    pub fn effective_principal_attribute(&self) -> Option<&str> {
        match (&self.principal_attribute, self.is_entra()) {
            (Some(a), _) => Some(a),
            (None, true) => Some(ENTRA_OBJECT_ID),
            (None, false) => None,
        }
    }

    /// Checks a SAML declaration: its metadata source (a local one read and checked), the
    /// Entra preset's keys, and no OpenID Connect key.
    pub(super) fn validate_saml(&self) -> Result<(), String> {
        let at =
            |key: &str, what: &str| format!("identity_provider {:?}: {key}: {what}", self.alias);
        let oidc_keys = [
            ("client_id", !self.client_id.is_empty()),
            ("client_secret", self.client_secret.is_some()),
            ("discovery_url", self.discovery_url.is_some()),
            ("issuer", self.issuer.is_some()),
            (
                "authorization_endpoint",
                self.authorization_endpoint.is_some(),
            ),
            ("token_endpoint", self.token_endpoint.is_some()),
            ("userinfo_endpoint", self.userinfo_endpoint.is_some()),
            ("jwks_uri", self.jwks_uri.is_some()),
            ("end_session_endpoint", self.end_session_endpoint.is_some()),
            // One tenant per SAML connection: Entra's SAML apps are per tenant.
            ("tenant_ids", !self.tenant_ids.is_empty()),
        ];
        if let Some((key, _)) = oidc_keys.iter().find(|(_, set)| *set) {
            return Err(at(
                key,
                "is an OpenID Connect setting; this IdP is kind = \"saml\"",
            ));
        }
        self.validate_entra_saml()?;
        if let Some(id) = &self.sp_entity_id {
            if id.trim().is_empty() {
                return Err(at("sp_entity_id", "is empty"));
            }
        }
        if !(0..=600).contains(&self.clock_skew_secs()) {
            return Err(at("clock_skew_secs", "must be between 0 and 600"));
        }
        if self.allow_idp_initiated && self.idp_initiated_client.is_none() {
            return Err(at(
                "idp_initiated_client",
                "allow_idp_initiated needs the client such a login lands on",
            ));
        }
        if !self.want_assertions_signed && !self.want_response_signed {
            return Err(at(
                "want_assertions_signed",
                "with want_response_signed off too, nothing would have to be signed",
            ));
        }
        crate::config::validate_idp_mappers(&self.mappers).map_err(|e| at("mappers", &e))?;
        match self.metadata_source()? {
            MetadataSource::Url(url) => self.validate_metadata_url(&url),
            MetadataSource::File(_) | MetadataSource::Inline(_) => {
                if self.allow_insecure_metadata_url {
                    return Err(at(
                        "allow_insecure_metadata_url",
                        "only relaxes metadata_url, which is not set",
                    ));
                }
                self.saml_metadata().map(|_| ())
            }
        }
    }

    /// The preset's keys: one tenant GUID, and `app_id` (a GUID) only where it shapes the
    /// default metadata URL.
    fn validate_entra_saml(&self) -> Result<(), String> {
        let at =
            |key: &str, what: String| format!("identity_provider {:?}: {key}: {what}", self.alias);
        if !self.is_entra() {
            for (key, set) in [
                ("tenant_id", self.tenant_id.is_some()),
                ("app_id", self.app_id.is_some()),
            ] {
                if set {
                    return Err(at(key, "is only for preset = \"entra\"".into()));
                }
            }
            return Ok(());
        }
        let Some(tenant) = &self.tenant_id else {
            return Err(at(
                "tenant_id",
                "the entra preset needs the tenant id (a SAML app belongs to one tenant)".into(),
            ));
        };
        if !is_guid(tenant) {
            return Err(at("tenant_id", format!("{tenant:?} is not a tenant GUID")));
        }
        if let Some(app) = &self.app_id {
            if !is_guid(app) {
                return Err(at("app_id", format!("{app:?} is not an application GUID")));
            }
            if self.metadata_file.is_some()
                || self.metadata.is_some()
                || self.metadata_url.is_some()
            {
                return Err(at(
                    "app_id",
                    "only shapes the default metadata URL; the metadata is given here already"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// A metadata URL's form: https (http only under `allow_insecure_metadata_url`), a host,
    /// no credentials. Its addresses are checked when it is fetched.
    fn validate_metadata_url(&self, raw: &str) -> Result<(), String> {
        let at = |what: String| format!("identity_provider {:?}: metadata_url: {what}", self.alias);
        let url = url::Url::parse(raw).map_err(|_| at(format!("{raw:?} is not a URL")))?;
        match (url.scheme(), self.allow_insecure_metadata_url) {
            ("https", _) | ("http", true) => {}
            ("http", false) => {
                return Err(at(format!(
                    "{raw:?} is not https (allow_insecure_metadata_url = true allows http, for tests only)"
                )))
            }
            _ => return Err(at(format!("{raw:?} is not an https URL"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(at(format!("{raw:?} names no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(at("must not carry credentials".into()));
        }
        Ok(())
    }

    /// The SAML settings an operator should know about, and the local metadata's expiring
    /// certificates (a fetched document's are told by whoever fetched it).
    pub(super) fn saml_warnings(&self) -> Vec<String> {
        let at = |what: &str| format!("identity_provider {:?}: {what}", self.alias);
        let mut warnings = Vec::new();
        if self.allow_sha1 {
            warnings.push(at(
                "allow_sha1 = true: RSA-SHA1 signatures and SHA-1 digests are accepted; SHA-1 collisions are practical, ask the IdP for SHA-256",
            ));
        }
        if self.allow_insecure_metadata_url {
            warnings.push(at(
                "allow_insecure_metadata_url = true: the metadata may come over plain http or from a loopback or private address; for tests only",
            ));
        }
        if let Ok(metadata) = self.saml_metadata() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            warnings.extend(self.certificate_warnings(&metadata, now));
        }
        warnings
    }

    /// The IdP's signing certificates that expire within 30 days of `now` (seconds), or have.
    pub fn certificate_warnings(&self, metadata: &IdpMetadata, now: i64) -> Vec<String> {
        metadata
            .signing_certificates()
            .filter(|c| c.expires_within(now, 30))
            .map(|c| {
                format!(
                    "identity_provider {:?}: the IdP's signing certificate {:?} expires within 30 days (or has): ask for its successor in the metadata",
                    self.alias, c.subject
                )
            })
            .collect()
    }
}
