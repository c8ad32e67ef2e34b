//! What Vestibule knows of each upstream IdP: its metadata (discovered, or declared endpoint by
//! endpoint) and its signing keys, cached per IdP (and per tenant for the JWT Entra's
//! provisioning service sends to SCIM, [`Upstreams::keys_of`]) by the rules Microsoft gives for Entra
//! (federation.md §1.7), which suit every IdP: keys are trusted for a day; a token naming an
//! unknown `kid` refetches them, at most once per five minutes; a failed fetch keeps the last
//! good keys; keys of a type nobody knows are skipped, never fatal.
//!
//! Discovery is fetched here rather than by openidconnect's `discover_async`, which refuses
//! metadata whose `issuer` is not the URL it was fetched from: Entra's multi-tenant metadata
//! publishes the template `https://login.microsoftonline.com/{tenantid}/v2.0`. The JWKS is
//! parsed twice for the same reason: openidconnect's key type has no `issuer` member, which
//! Entra's keys carry and Microsoft tells tenant-independent validators to check.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::JsonWebKey;
use serde_json::Value;

use crate::config::IdentityProviderDecl;
use crate::db::Micros;
use crate::federation::http_client::UpstreamHttp;

const MINUTE: Micros = 60_000_000;
/// Metadata is read again after this long.
const METADATA_TTL: Micros = 12 * 60 * MINUTE;
/// Keys are trusted this long.
const KEYS_TTL: Micros = 24 * 60 * MINUTE;
/// An unknown `kid` refetches the keys at most this often.
const KEYS_REFETCH_AFTER: Micros = 5 * MINUTE;

/// An IdP's endpoints, as its metadata or its declaration gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The issuer, or for Entra's multi-tenant metadata the template with `{tenantid}`.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: the IdP adds `iss` to its authorization responses.
    pub iss_parameter_supported: bool,
}

/// An IdP's signing keys, with Entra's per-key `issuer` members.
#[derive(Debug, Clone)]
pub struct Keys {
    pub set: CoreJsonWebKeySet,
    /// `kid` -> the key's `issuer` member, where it has one.
    pub issuers: HashMap<String, String>,
}

impl Keys {
    fn knows(&self, kid: &str) -> bool {
        self.set
            .keys()
            .iter()
            .any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
    }

    /// The `issuer` member of the key `kid` (or of the only key, when the token names none).
    pub fn issuer_of(&self, kid: Option<&str>) -> Option<&str> {
        match kid {
            Some(kid) => self.issuers.get(kid).map(String::as_str),
            None if self.set.keys().len() == 1 => self
                .set
                .keys()
                .first()
                .and_then(|k| k.key_id())
                .and_then(|id| self.issuers.get(id.as_str()))
                .map(String::as_str),
            None => None,
        }
    }
}

#[derive(Default)]
struct Cached {
    metadata: Option<(Arc<Metadata>, Micros)>,
    keys: Option<(Arc<Keys>, Micros)>,
    /// When a token's unknown `kid` last made the keys be fetched, successfully or not.
    refetched_for_kid_at: Option<Micros>,
}

/// Every IdP's metadata and keys, shared by the process. Fetches for one IdP are serialised
/// by its own lock, so a burst of logins with a new `kid` fetches once.
#[derive(Default)]
pub struct Upstreams {
    entries: RwLock<HashMap<String, Arc<tokio::sync::Mutex<Cached>>>>,
    /// How many times keys were fetched (a test reads it; an operator could too).
    pub key_fetches: std::sync::atomic::AtomicU64,
}

/// Why an IdP's metadata or keys are not at hand.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the identity provider's metadata could not be read: {0}")]
    Metadata(String),
    #[error("the identity provider's keys could not be read: {0}")]
    Keys(String),
}

fn key(realm: &str, alias: &str) -> String {
    format!("{realm}/{alias}")
}

/// Where a set of keys is published, and the name its cache entry goes by. IdPs' entries are
/// `{realm}/{alias}`; another source picks a name no IdP's can take (a realm name has no `:`).
pub struct KeySource<'a> {
    pub cache_key: String,
    pub jwks_uri: &'a str,
}

fn text(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_string)
}

/// The metadata a discovery document and the declaration give together (declared endpoints
/// win). OIDC Discovery §4.3: the `issuer` must be the URL the document was fetched under,
/// except for Entra's tenant template.
fn metadata_from(
    idp: &IdentityProviderDecl,
    discovered: Option<(&str, &Value)>,
) -> Result<Metadata, String> {
    let from_doc = |name: &str| discovered.and_then(|(_, doc)| text(doc, name));
    let pick = |declared: &Option<String>, name: &str| declared.clone().or_else(|| from_doc(name));
    let issuer = pick(&idp.issuer, "issuer").ok_or("no issuer")?;
    if let Some((url, _)) = discovered {
        let expected = url.trim_end_matches("/.well-known/openid-configuration");
        let templated = idp.is_entra() && issuer.contains("{tenantid}");
        if idp.issuer.is_none()
            && !templated
            && issuer.trim_end_matches('/') != expected.trim_end_matches('/')
        {
            return Err(format!(
                "the metadata names issuer {issuer:?}, not {expected:?}"
            ));
        }
    }
    Ok(Metadata {
        authorization_endpoint: pick(&idp.authorization_endpoint, "authorization_endpoint")
            .ok_or("no authorization_endpoint")?,
        token_endpoint: pick(&idp.token_endpoint, "token_endpoint").ok_or("no token_endpoint")?,
        userinfo_endpoint: pick(&idp.userinfo_endpoint, "userinfo_endpoint"),
        jwks_uri: pick(&idp.jwks_uri, "jwks_uri").ok_or("no jwks_uri")?,
        end_session_endpoint: pick(&idp.end_session_endpoint, "end_session_endpoint"),
        iss_parameter_supported: discovered
            .and_then(|(_, d)| d.get("authorization_response_iss_parameter_supported"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        issuer,
    })
}

/// The keys of a JWKS document; entries nobody can use are skipped (RFC 7517 §5).
pub fn keys_from(document: &Value) -> Result<Keys, String> {
    let set: CoreJsonWebKeySet =
        serde_json::from_value(document.clone()).map_err(|_| "the JWKS is not a key set")?;
    let issuers = document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| Some((text(k, "kid")?, text(k, "issuer")?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Keys { set, issuers })
}

impl Upstreams {
    fn entry(&self, realm: &str, alias: &str) -> Arc<tokio::sync::Mutex<Cached>> {
        self.entry_for(&key(realm, alias))
    }

    fn entry_for(&self, k: &str) -> Arc<tokio::sync::Mutex<Cached>> {
        if let Some(found) = self.entries.read().ok().and_then(|m| m.get(k).cloned()) {
            return found;
        }
        let mut map = match self.entries.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(k.to_string()).or_default().clone()
    }

    /// The IdP's metadata, fresh enough.
    pub async fn metadata(
        &self,
        http: &UpstreamHttp,
        idp: &IdentityProviderDecl,
        now: Micros,
    ) -> Result<Arc<Metadata>, UpstreamError> {
        let entry = self.entry(&idp.realm, &idp.alias);
        let mut cached = entry.lock().await;
        if let Some((metadata, at)) = &cached.metadata {
            if now - at < METADATA_TTL {
                return Ok(metadata.clone());
            }
        }
        let fetched = match idp.effective_discovery_url() {
            Some(url) => {
                let doc = http.get_json(&url, None).await;
                match doc {
                    Ok(doc) => metadata_from(idp, Some((&url, &doc))),
                    Err(e) => Err(e),
                }
            }
            None => metadata_from(idp, None),
        };
        match (fetched, &cached.metadata) {
            (Ok(metadata), _) => {
                let metadata = Arc::new(metadata);
                cached.metadata = Some((metadata.clone(), now));
                Ok(metadata)
            }
            // A failed refresh keeps what worked.
            (Err(_), Some((previous, _))) => Ok(previous.clone()),
            (Err(e), None) => Err(UpstreamError::Metadata(e)),
        }
    }

    /// The IdP's keys, refetched when stale, or when `kid` is unknown and the last fetch is
    /// more than five minutes old.
    pub async fn keys(
        &self,
        http: &UpstreamHttp,
        idp: &IdentityProviderDecl,
        metadata: &Metadata,
        kid: Option<&str>,
        now: Micros,
    ) -> Result<Arc<Keys>, UpstreamError> {
        let source = KeySource {
            cache_key: key(&idp.realm, &idp.alias),
            jwks_uri: &metadata.jwks_uri,
        };
        self.keys_of(http, &source, kid, now).await
    }

    /// The keys published at `source`, by the same rules as an IdP's: any issuer of tokens
    /// whose keys we fetch (Entra's provisioning service too) goes through here.
    pub async fn keys_of(
        &self,
        http: &UpstreamHttp,
        source: &KeySource<'_>,
        kid: Option<&str>,
        now: Micros,
    ) -> Result<Arc<Keys>, UpstreamError> {
        let entry = self.entry_for(&source.cache_key);
        let mut cached = entry.lock().await;
        let refetched_recently = cached
            .refetched_for_kid_at
            .is_some_and(|at| now - at < KEYS_REFETCH_AFTER);
        if let Some((keys, at)) = &cached.keys {
            let fresh = now - at < KEYS_TTL;
            let known = kid.is_none_or(|k| keys.knows(k));
            if fresh && (known || refetched_recently) {
                return Ok(keys.clone());
            }
            if fresh {
                cached.refetched_for_kid_at = Some(now);
            }
        }
        self.key_fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fetched = http
            .get_json(source.jwks_uri, None)
            .await
            .and_then(|doc| keys_from(&doc));
        match (fetched, &cached.keys) {
            (Ok(keys), _) => {
                let keys = Arc::new(keys);
                cached.keys = Some((keys.clone(), now));
                Ok(keys)
            }
            (Err(_), Some((previous, _))) => Ok(previous.clone()),
            (Err(e), None) => Err(UpstreamError::Keys(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn idp(extra: &str) -> IdentityProviderDecl {
        toml::from_str(&format!(
            "realm = \"r\"\nalias = \"a\"\nkind = \"oidc\"\nclient_id = \"c\"\nclient_secret = {{ env = \"S\" }}\n{extra}"
        ))
        .expect("parses")
    }

    #[test]
    fn discovery_must_name_the_issuer_it_was_fetched_under() {
        let url = "https://idp.test/t1/.well-known/openid-configuration";
        let doc = json!({"issuer": "https://idp.test/t1", "authorization_endpoint": "https://idp.test/a",
            "token_endpoint": "https://idp.test/t", "jwks_uri": "https://idp.test/k"});
        let m = metadata_from(&idp(""), Some((url, &doc))).expect("matches");
        assert_eq!(m.issuer, "https://idp.test/t1");
        let other = json!({"issuer": "https://evil.test", "authorization_endpoint": "https://idp.test/a",
            "token_endpoint": "https://idp.test/t", "jwks_uri": "https://idp.test/k"});
        assert!(metadata_from(&idp(""), Some((url, &other))).is_err());
    }

    #[test]
    fn entra_may_publish_the_tenant_template() {
        let url =
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration";
        let doc = json!({"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "authorization_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
            "token_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
            "jwks_uri": "https://login.microsoftonline.com/organizations/discovery/v2.0/keys"});
        let entra = idp("preset = \"entra\"\ntenant_ids = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\", \"a1b2c3d4-0000-1111-2222-333344445555\"]");
        assert!(metadata_from(&entra, Some((url, &doc))).is_ok());
        // Only Entra's preset may: anything else is the discovery-issuer-mismatch case.
        assert!(metadata_from(&idp(""), Some((url, &doc))).is_err());
    }

    #[test]
    fn unusable_keys_are_skipped_and_issuer_members_kept() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "k1", "use": "sig", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB",
             "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"},
            {"kty": "XYZ", "kid": "odd"},
        ]});
        let keys = keys_from(&doc).expect("a key set");
        assert_eq!(keys.set.keys().len(), 1);
        assert!(keys.knows("k1"));
        assert!(!keys.knows("odd"));
        assert_eq!(
            keys.issuer_of(Some("k1")),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            keys.issuer_of(None),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
    }
}
