//! The JWT Entra's provisioning service sends when an app's "Secret Token" is left blank
//! (entra-scim.md §5): a v1 access token of the customer's tenant for the provisioning
//! application. It speaks for the directory of the request's realm whose `[directory.entra]`
//! lists its tenant and audience, when every check passes:
//! - `alg` is RS256, which Entra signs with (`none`, and HMAC that a published key could key,
//!   are refused before any key is fetched);
//! - `tid` is a GUID and `iss` is exactly `https://sts.windows.net/{tid}/`;
//! - `aud` is the configured audience, one string (Entra sends one);
//! - a key of the tenant's JWKS signed it, fetched and cached by the federation's
//!   [`Upstreams`] rules (a day; an unknown `kid` refetches at most every five minutes; a failed
//!   fetch keeps the last good keys), per directory and tenant;
//! - `iat`, `nbf` and `exp` hold within the directory's clock skew.
//!
//! Keys for a tenant are only fetched once the unverified claims already name a directory that
//! accepts that tenant, so a stranger's token cannot make Vestibule call anywhere.

use serde_json::Value;

use crate::config::{is_guid, DirectoryDecl};
use crate::db::Micros;
use crate::federation::http_client::UpstreamHttp;
use crate::federation::jws;
use crate::federation::oidc;
use crate::federation::upstream::{KeySource, Keys, Upstreams};

use super::auth::{refused, Credential};
use super::Result;

/// Entra's v1 token issuer, to which the tenant and a `/` are added.
const ISSUER_PREFIX: &str = "https://sts.windows.net/";
/// The algorithm Entra signs its tokens with, and the only one accepted.
const ALGORITHM: &str = "RS256";

/// Where Entra's keys come from: the federation's one HTTP client and key cache.
#[derive(Clone, Copy)]
pub struct EntraKeys<'a> {
    pub http: &'a UpstreamHttp,
    pub upstreams: &'a Upstreams,
}

/// What a bearer token is before the database job: Entra's JWT, checked now, or a token the
/// job checks (anything whose unverified `iss` is not Entra's v1 issuer). A JWT of Entra's
/// that fails a check is refused here.
pub async fn credential(
    keys: EntraKeys<'_>,
    directories: &[DirectoryDecl],
    realm: &str,
    token: String,
    now: Micros,
) -> Result<Credential> {
    let Ok((header, claims)) = oidc::parts(&token) else {
        return Ok(Credential::Bearer(token));
    };
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !iss.starts_with(ISSUER_PREFIX) {
        return Ok(Credential::Bearer(token));
    }
    let presented = Presented {
        token: &token,
        header: &header,
        claims: &claims,
    };
    match verify(keys, directories, realm, &presented, now).await {
        Ok(directory) => Ok(Credential::Entra { directory }),
        Err(reason) => {
            // The reason only: never the token or its claims.
            tracing::info!(realm, reason, "an Entra token was refused at SCIM");
            Err(refused())
        }
    }
}

/// A token and its decoded, not yet trusted, header and claims.
struct Presented<'a> {
    token: &'a str,
    header: &'a Value,
    claims: &'a Value,
}

impl Presented<'_> {
    fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// The name of the directory the token speaks for, or why it does not.
async fn verify(
    keys: EntraKeys<'_>,
    directories: &[DirectoryDecl],
    realm: &str,
    presented: &Presented<'_>,
    now: Micros,
) -> std::result::Result<String, String> {
    if presented.header.get("alg").and_then(Value::as_str) != Some(ALGORITHM) {
        return Err("the token is not signed with RS256".into());
    }
    let tid = presented.claim("tid").ok_or("the token carries no tid")?;
    if !is_guid(tid) {
        return Err("the token's tid is not a tenant GUID".into());
    }
    if presented.claim("iss") != Some(format!("{ISSUER_PREFIX}{tid}/").as_str()) {
        return Err("the token's iss is not its tid's issuer".into());
    }
    let audience = presented
        .claim("aud")
        .ok_or("the token's aud is not one audience")?;
    let (directory, entra) = directories
        .iter()
        .filter(|d| d.realm == realm)
        .find_map(|d| {
            let entra = d.entra.as_ref()?;
            (entra.allows(tid) && entra.audience == audience).then_some((d, entra))
        })
        .ok_or("no directory of this realm accepts this tenant and audience")?;
    let jwks_uri = entra.jwks_uri_for(tid);
    let source = KeySource {
        // A realm name has no `:`, so no IdP's entry is named like this.
        cache_key: format!("directory:{realm}/{}/{tid}", directory.name),
        jwks_uri: &jwks_uri,
    };
    let kid = presented.header.get("kid").and_then(Value::as_str);
    let found = keys
        .upstreams
        .keys_of(keys.http, &source, kid, now)
        .await
        .map_err(|e| e.to_string())?;
    jws::verify_signature(
        &found,
        presented.token,
        presented.header,
        &[ALGORITHM],
        None,
    )?;
    check_key_issuer(&found, kid, tid)?;
    jws::check_times(
        presented.claims,
        now / 1_000_000,
        entra.clock_skew_secs,
        true,
    )?;
    Ok(directory.name.clone())
}

/// Entra's keys may carry an `issuer` member (federation.md §1.7): a key published for one
/// tenant must not vouch for another. The v1 token's issuer (`sts.windows.net`) and the v2
/// template a key names (`login.microsoftonline.com/{tenantid}/v2.0`) differ in form, so the
/// key is judged by the tenant it names: the template, or this very tenant.
fn check_key_issuer(keys: &Keys, kid: Option<&str>, tid: &str) -> std::result::Result<(), String> {
    let Some(issuer) = keys.issuer_of(kid) else {
        return Ok(());
    };
    let own = issuer.contains("{tenantid}")
        || issuer
            .split('/')
            .any(|segment| segment.eq_ignore_ascii_case(tid));
    if own {
        Ok(())
    } else {
        Err("the signing key belongs to another tenant".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const B: &str = "a1b2c3d4-0000-1111-2222-333344445555";

    fn keys(issuer: Option<&str>) -> Keys {
        let mut key = json!({"kty": "RSA", "kid": "k1", "use": "sig", "e": "AQAB",
            "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"});
        if let Some(issuer) = issuer {
            key["issuer"] = json!(issuer);
        }
        crate::federation::upstream::keys_from(&json!({"keys": [key]})).expect("keys")
    }

    #[test]
    fn a_key_vouches_only_for_its_own_tenant() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(check_key_issuer(&keys(None), Some("k1"), A).is_ok());
        assert!(check_key_issuer(&keys(Some(template)), Some("k1"), A).is_ok());
        let a_only = format!("https://login.microsoftonline.com/{A}/v2.0");
        assert!(check_key_issuer(&keys(Some(&a_only)), Some("k1"), A).is_ok());
        assert!(check_key_issuer(&keys(Some(&a_only)), Some("k1"), B).is_err());
    }
}
