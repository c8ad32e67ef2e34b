//! `[[identity_provider]]`: an upstream IdP people of an organization sign in through, over
//! OpenID Connect or SAML 2.0. Keycloak's fields, with a `preset = "entra"` that sets what
//! Entra ID needs. Validated at load with the IdP and key named; risky settings are warnings.

use std::path::PathBuf;

use serde::Deserialize;

use super::{IdpMapperDecl, SecretRef, SyncMode};

mod saml;
#[cfg(test)]
mod saml_tests;

pub use saml::{MetadataSource, ENTRA_OBJECT_ID, ENTRA_SAML_ISSUER};

/// Which protocol the IdP speaks.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    Oidc,
    Saml,
}

/// A vendor's settings in one word.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdpPreset {
    /// Microsoft Entra ID. Over OIDC: the tenant's issuer
    /// `https://login.microsoftonline.com/{tid}/v2.0` (or the multi-tenant template, checked per
    /// `tid` against `tenant_ids`), scopes `openid profile email` so that `oid` arrives,
    /// `(tid, oid)` as the subject, `oid` matched against the SCIM `externalId`, and `xms_edov`
    /// as the email-verified claim. Over SAML: one tenant, its metadata URL, the entity ID
    /// `https://sts.windows.net/{tid}/`, the object identifier attribute as the principal and
    /// the `externalId`, and Microsoft's five minutes of clock skew (federation.md §2.4).
    Entra,
}

/// How Vestibule authenticates to the IdP's token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthentication {
    /// Keycloak's default.
    #[default]
    ClientSecretPost,
    ClientSecretBasic,
    /// A JWT signed with the realm's RS256 key, which the IdP reads from the realm's JWKS
    /// (`{issuer}/protocol/openid-connect/certs`).
    PrivateKeyJwt,
}

/// What a first login through the IdP may do (Keycloak's first broker login flows).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FirstLogin {
    /// Link to an existing user when allowed (linked identity, directory `externalId`, verified
    /// email), else create one.
    #[default]
    Create,
    /// Only people who already exist (linked or provisioned by the organization's directory).
    ExistingOnly,
}

/// An upstream identity provider as declared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderDecl {
    pub realm: String,
    /// URL-safe, immutable: it names the callback `{issuer}/broker/{alias}/endpoint`.
    pub alias: String,
    #[serde(default)]
    pub display_name: String,
    pub kind: IdpKind,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The organization whose people sign in through it.
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub preset: Option<IdpPreset>,
    /// Entra: the tenant, or an explicit allow-list of tenants (never "any").
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub tenant_ids: Vec<String>,
    /// Where the IdP's metadata is (`.well-known/openid-configuration`); or the endpoints below.
    #[serde(default)]
    pub discovery_url: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// OIDC: Vestibule's client id at the IdP (required there; no SAML key).
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
    #[serde(default)]
    pub client_authentication: ClientAuthentication,
    /// PKCE with S256 (RFC 7636); on unless the IdP cannot take it.
    #[serde(default = "yes")]
    pub pkce: bool,
    /// `openid` is always sent; the Entra preset adds `profile email` when unset.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Pass the client's `prompt` and `login_hint` on to the IdP.
    #[serde(default = "yes")]
    pub pass_prompt: bool,
    #[serde(default = "yes")]
    pub pass_login_hint: bool,
    /// Signature algorithms accepted on ID tokens and logout tokens; `none` never is, and an
    /// HMAC algorithm is keyed with the client secret only.
    #[serde(default = "default_algorithms")]
    pub signature_algorithms: Vec<String>,
    /// How far the IdP's clock may be from ours; see [`Self::clock_skew_secs`] for the default.
    #[serde(default, rename = "clock_skew_secs")]
    pub declared_clock_skew_secs: Option<i64>,
    /// Believe the IdP's email as verified (and let it link by email); off by default.
    #[serde(default)]
    pub trust_email: bool,
    #[serde(default)]
    pub first_login: FirstLogin,
    /// Entra: let guests of the tenant (`acct` = 1) in; off by default.
    #[serde(default)]
    pub allow_guests: bool,
    /// The default sync mode of its mappers (`import`, `force`, `legacy`).
    #[serde(default)]
    pub sync_mode: SyncMode,
    /// Not listed on the login page (still reachable with `kc_idp_hint`).
    #[serde(default)]
    pub hide_on_login_page: bool,
    /// Send a person whose email's domain is a verified domain of the IdP's organization here.
    #[serde(default)]
    pub redirect_when_email_domain_matches: bool,
    /// The claim whose value identifies the person at the IdP (`sub`; Entra: `oid`, scoped by
    /// `tid`).
    #[serde(default)]
    pub subject_claim: Option<String>,
    /// The claim matched against the `externalId` the organization's SCIM directory pushed
    /// (Entra: `oid`). None: no such matching.
    #[serde(default)]
    pub external_id_claim: Option<String>,
    /// On RP-initiated logout, send the browser to the IdP's logout too: its end-session
    /// endpoint (OIDC, off by default) or its SingleLogoutService (SAML, on by default when the
    /// metadata has one). See [`IdentityProviderDecl::logs_out_upstream`].
    #[serde(default)]
    pub logout_upstream: Option<bool>,
    /// What its claims become (Keycloak's IdP mappers). For SAML, a claim is an attribute's
    /// Name or FriendlyName, its values an array.
    #[serde(default)]
    pub mappers: Vec<IdpMapperDecl>,

    // --- SAML (kind = "saml") ---
    /// The IdP's metadata, from a file, inline or from a URL (exactly one of them; the Entra
    /// preset's default is its tenant's federation metadata URL).
    #[serde(default)]
    pub metadata_file: Option<PathBuf>,
    #[serde(default)]
    pub metadata: Option<String>,
    /// HTTPS, to a globally routable address, fetched at start and refreshed in the
    /// background (federation.md requirement 27).
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// For tests only: lets `metadata_url` be plain http and reach loopback or private
    /// addresses.
    #[serde(default)]
    pub allow_insecure_metadata_url: bool,
    /// Entra: the application (client) id whose app-specific signing keys the metadata URL
    /// should carry (`?appid=`).
    #[serde(default)]
    pub app_id: Option<String>,
    /// Accept RSA-SHA1 signatures and SHA-1 digests; off by default (federation.md
    /// requirement 18).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Vestibule's entity ID at the IdP; the realm's issuer URL when unset.
    #[serde(default)]
    pub sp_entity_id: Option<String>,
    /// The NameID format asked for in AuthnRequests (none: the IdP chooses).
    #[serde(default)]
    pub name_id_format: Option<String>,
    /// The attribute that names the person, instead of the NameID (Entra:
    /// `http://schemas.microsoft.com/identity/claims/objectidentifier`).
    #[serde(default)]
    pub principal_attribute: Option<String>,
    /// The assertion must carry its own signature; on by default.
    #[serde(default = "yes")]
    pub want_assertions_signed: bool,
    /// The Response must be signed as a whole.
    #[serde(default)]
    pub want_response_signed: bool,
    /// Ask the IdP to authenticate the person again (`ForceAuthn`).
    #[serde(default)]
    pub force_authn: bool,
    /// Sign AuthnRequests and logout messages with the connection's SP key; on by default.
    #[serde(default = "yes")]
    pub sign_authn_requests: bool,
    /// How the AuthnRequest reaches the IdP.
    #[serde(default)]
    pub authn_request_binding: SamlBinding,
    /// Accept a Response the IdP sends unasked (IdP-initiated login); off by default.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// The client an IdP-initiated login lands on: Vestibule opens the SSO session and sends
    /// the browser to the client's `initiate_login_uri` (OpenID Connect Core §4).
    #[serde(default)]
    pub idp_initiated_client: Option<String>,
}

impl SamlBinding {
    pub fn urn(self) -> &'static str {
        match self {
            SamlBinding::Redirect => super::saml_metadata::HTTP_REDIRECT,
            SamlBinding::Post => super::saml_metadata::HTTP_POST,
        }
    }
}

/// A SAML binding Vestibule sends requests with (SAML Bindings §3.4, §3.5).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SamlBinding {
    /// HTTP-Redirect: the DEFLATEd request in the query, its signature beside it.
    #[default]
    Redirect,
    /// HTTP-POST: the request in an auto-submitted form, its signature inside the XML.
    Post,
}

fn yes() -> bool {
    true
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".into()]
}

pub(super) fn default_skew() -> i64 {
    60
}

/// Signature algorithms an upstream ID token may use (RFC 7518 §3.1); `none` is not one.
pub const ACCEPTABLE_ALGORITHMS: [&str; 12] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    "HS256", "HS384",
];

/// Entra's tenant-independent issuer, for `preset = "entra"` (federation.md §1.1).
pub const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";

impl IdentityProviderDecl {
    pub fn is_entra(&self) -> bool {
        self.preset == Some(IdpPreset::Entra)
    }

    /// The tenants an Entra IdP accepts.
    pub fn tenants(&self) -> Vec<&str> {
        self.tenant_id
            .iter()
            .map(String::as_str)
            .chain(self.tenant_ids.iter().map(String::as_str))
            .collect()
    }

    /// The scopes sent: `openid` first, then the declared ones (Entra's preset: `profile email`).
    pub fn effective_scopes(&self) -> Vec<String> {
        let mut scopes = vec!["openid".to_string()];
        let declared: Vec<String> = if self.scopes.is_empty() && self.is_entra() {
            vec!["profile".into(), "email".into()]
        } else {
            self.scopes.clone()
        };
        for s in declared {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        scopes
    }

    /// The claim that names the person at the IdP.
    pub fn effective_subject_claim(&self) -> &str {
        match (&self.subject_claim, self.is_entra()) {
            (Some(c), _) => c,
            (None, true) => "oid",
            (None, false) => "sub",
        }
    }

    /// The claim matched against the directory's `externalId` (a SAML attribute's name for a
    /// SAML IdP).
    pub fn effective_external_id_claim(&self) -> Option<&str> {
        match (&self.external_id_claim, self.is_entra(), self.is_saml()) {
            (Some(c), _, _) => Some(c),
            (None, true, false) => Some("oid"),
            (None, true, true) => Some(ENTRA_OBJECT_ID),
            (None, false, _) => None,
        }
    }

    /// The allowed difference between the IdP's clock and ours, in seconds: as declared, else
    /// five minutes for Entra over SAML (what Microsoft allows itself), else a minute.
    pub fn clock_skew_secs(&self) -> i64 {
        match (
            self.declared_clock_skew_secs,
            self.is_entra() && self.is_saml(),
        ) {
            (Some(secs), _) => secs,
            (None, true) => saml::ENTRA_SAML_SKEW_SECS,
            (None, false) => default_skew(),
        }
    }

    /// Where the IdP's metadata is fetched from, when it is discovered.
    pub fn effective_discovery_url(&self) -> Option<String> {
        if let Some(url) = &self.discovery_url {
            return Some(url.clone());
        }
        if self.is_entra() && self.authorization_endpoint.is_none() {
            let tenants = self.tenants();
            let path = match tenants.as_slice() {
                [one] => one.to_string(),
                _ => "organizations".to_string(),
            };
            return Some(format!(
                "{ENTRA_AUTHORITY}/{path}/v2.0/.well-known/openid-configuration"
            ));
        }
        None
    }

    pub fn is_saml(&self) -> bool {
        self.kind == IdpKind::Saml
    }

    /// Whether Vestibule's logout goes on to the IdP's: as declared, else for SAML only.
    pub fn logs_out_upstream(&self) -> bool {
        self.logout_upstream.unwrap_or(self.is_saml())
    }

    /// Checks one declaration; the message names the IdP and the key.
    pub fn validate(&self) -> Result<(), String> {
        let at =
            |key: &str, what: String| format!("identity_provider {:?}: {key}: {what}", self.alias);
        if !super::is_slug(&self.alias) {
            return Err(at("alias", "must be a URL-safe slug".into()));
        }
        if self.is_saml() {
            return self.validate_saml();
        }
        let saml_keys = [
            ("metadata_file", self.metadata_file.is_some()),
            ("metadata", self.metadata.is_some()),
            ("metadata_url", self.metadata_url.is_some()),
            (
                "allow_insecure_metadata_url",
                self.allow_insecure_metadata_url,
            ),
            ("app_id", self.app_id.is_some()),
            ("allow_sha1", self.allow_sha1),
            ("sp_entity_id", self.sp_entity_id.is_some()),
            ("name_id_format", self.name_id_format.is_some()),
            ("principal_attribute", self.principal_attribute.is_some()),
            ("allow_idp_initiated", self.allow_idp_initiated),
            ("idp_initiated_client", self.idp_initiated_client.is_some()),
            (
                "authn_request_binding",
                self.authn_request_binding != SamlBinding::Redirect,
            ),
        ];
        if let Some((key, _)) = saml_keys.iter().find(|(_, set)| *set) {
            return Err(at(
                key,
                "is a SAML setting; this IdP is kind = \"oidc\"".into(),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(at("client_id", "is required".into()));
        }
        let needs_secret = self.client_authentication != ClientAuthentication::PrivateKeyJwt;
        if needs_secret && self.client_secret.is_none() {
            return Err(at(
                "client_secret",
                format!(
                    "is required with client_authentication {:?}",
                    self.client_authentication
                ),
            ));
        }
        for alg in &self.signature_algorithms {
            if alg.eq_ignore_ascii_case("none") {
                return Err(at(
                    "signature_algorithms",
                    "\"none\" is never accepted".into(),
                ));
            }
            if !ACCEPTABLE_ALGORITHMS.contains(&alg.as_str()) {
                return Err(at(
                    "signature_algorithms",
                    format!("{alg:?} is not one of {}", ACCEPTABLE_ALGORITHMS.join(", ")),
                ));
            }
        }
        if self.signature_algorithms.is_empty() {
            return Err(at("signature_algorithms", "names no algorithm".into()));
        }
        if !(0..=600).contains(&self.clock_skew_secs()) {
            return Err(at("clock_skew_secs", "must be between 0 and 600".into()));
        }
        super::validate_idp_mappers(&self.mappers).map_err(|e| at("mappers", e))?;
        for (key, value) in [
            ("discovery_url", &self.discovery_url),
            ("issuer", &self.issuer),
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("userinfo_endpoint", &self.userinfo_endpoint),
            ("jwks_uri", &self.jwks_uri),
            ("end_session_endpoint", &self.end_session_endpoint),
        ] {
            if let Some(v) = value {
                let url = url::Url::parse(v).map_err(|_| at(key, format!("{v:?} is not a URL")))?;
                if !["https", "http"].contains(&url.scheme()) {
                    return Err(at(key, format!("{v:?} is not an http(s) URL")));
                }
            }
        }
        if self.is_entra() {
            let tenants = self.tenants();
            if tenants.is_empty() {
                return Err(at(
                    "tenant_id",
                    "the entra preset needs the tenant id (or tenant_ids, an allow-list); \"any tenant\" is not offered".into(),
                ));
            }
            for t in tenants {
                if !is_guid(t) {
                    return Err(at("tenant_ids", format!("{t:?} is not a tenant GUID")));
                }
            }
        } else if !self.tenant_ids.is_empty() || self.tenant_id.is_some() {
            return Err(at("tenant_id", "is only for preset = \"entra\"".into()));
        }
        let explicit = [
            &self.issuer,
            &self.authorization_endpoint,
            &self.token_endpoint,
            &self.jwks_uri,
        ];
        if self.effective_discovery_url().is_none() && explicit.iter().any(|v| v.is_none()) {
            return Err(at(
                "discovery_url",
                "give discovery_url, or issuer, authorization_endpoint, token_endpoint and jwks_uri"
                    .into(),
            ));
        }
        Ok(())
    }

    /// What an operator should know about this declaration: risky but allowed settings.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let at = |what: &str| format!("identity_provider {:?}: {what}", self.alias);
        if self.trust_email {
            warnings.push(at(
                "trust_email = true: the IdP's email links people to existing users by email; only do this for an IdP whose emails its organization verifies (nOAuth)",
            ));
        }
        if self
            .signature_algorithms
            .iter()
            .any(|a| a.starts_with("HS"))
        {
            warnings.push(at(
                "an HMAC signature algorithm is accepted: ID tokens are then keyed with the client secret, which the IdP also holds",
            ));
        }
        if self.allow_guests {
            warnings.push(at(
                "allow_guests = true: guests of the tenant (accounts homed elsewhere) sign in as members",
            ));
        }
        if self.organization.is_none() {
            warnings.push(at(
                "no organization: people who sign in through it join no organization",
            ));
        }
        if self.is_saml() {
            warnings.extend(self.saml_warnings());
        }
        warnings
    }
}

/// An Entra tenant id: a GUID in its 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> IdentityProviderDecl {
        toml::from_str(&format!(
            "realm = \"r\"\nalias = \"acme-entra\"\nkind = \"oidc\"\nclient_id = \"app\"\nclient_secret = {{ env = \"S\" }}\n{extra}"
        ))
        .expect("parses")
    }

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn the_entra_preset_needs_a_tenant_and_sets_scopes_subject_and_discovery() {
        let idp = parse("preset = \"entra\"");
        assert!(idp.validate().unwrap_err().contains("tenant_id"));
        let idp = parse(&format!("preset = \"entra\"\ntenant_id = \"{TENANT}\""));
        idp.validate().expect("valid");
        assert_eq!(idp.effective_scopes(), ["openid", "profile", "email"]);
        assert_eq!(idp.effective_subject_claim(), "oid");
        assert_eq!(idp.effective_external_id_claim(), Some("oid"));
        assert_eq!(
            idp.effective_discovery_url().unwrap(),
            format!(
                "https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
            )
        );
        let several = parse(&format!(
            "preset = \"entra\"\ntenant_ids = [\"{TENANT}\", \"a1b2c3d4-0000-1111-2222-333344445555\"]"
        ));
        assert!(several
            .effective_discovery_url()
            .unwrap()
            .contains("/organizations/v2.0/"));
        let not_guid = parse("preset = \"entra\"\ntenant_ids = [\"common\"]");
        assert!(not_guid
            .validate()
            .unwrap_err()
            .contains("not a tenant GUID"));
    }

    #[test]
    fn none_is_never_an_algorithm_and_hmac_is_a_warning() {
        let none = parse("discovery_url = \"https://idp.test/.well-known/openid-configuration\"\nsignature_algorithms = [\"none\"]");
        assert!(none.validate().unwrap_err().contains("never accepted"));
        let hs = parse("discovery_url = \"https://idp.test/.well-known/openid-configuration\"\nsignature_algorithms = [\"RS256\", \"HS256\"]");
        hs.validate().expect("valid");
        assert!(hs.warnings().iter().any(|w| w.contains("HMAC")));
    }

    #[test]
    fn endpoints_or_discovery_are_required() {
        let neither = parse("");
        assert!(neither.validate().unwrap_err().contains("discovery_url"));
        let explicit = parse(
            "issuer = \"https://idp.test\"\nauthorization_endpoint = \"https://idp.test/a\"\ntoken_endpoint = \"https://idp.test/t\"\njwks_uri = \"https://idp.test/k\"",
        );
        explicit.validate().expect("valid");
        let bad = parse("discovery_url = \"ftp://idp.test/x\"");
        assert!(bad.validate().unwrap_err().contains("discovery_url"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<IdentityProviderDecl>(
            "realm = \"r\"\nalias = \"a\"\nkind = \"oidc\"\nclient_id = \"c\"\ntrust_emails = true",
        )
        .unwrap_err();
        assert!(e.to_string().contains("trust_emails"), "{e}");
    }

    #[test]
    fn risky_settings_are_warned_about() {
        let idp = parse(
            "discovery_url = \"https://idp.test/.well-known/openid-configuration\"\ntrust_email = true\nallow_guests = true",
        );
        let w = idp.warnings().join("\n");
        assert!(w.contains("trust_email"));
        assert!(w.contains("allow_guests"));
        assert!(w.contains("no organization"));
    }

    #[test]
    fn guids() {
        assert!(is_guid(TENANT));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
        assert!(!is_guid("organizations"));
    }
}
