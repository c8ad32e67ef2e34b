//! A brokered login through an upstream SAML IdP, the two steps beside OIDC's in `login`:
//!
//! - `start` (from `{issuer}/broker/{alias}/login`): an AuthnRequest with a fresh ID is stored
//!   for this login transaction and browser (single use, ten minutes), and the browser goes to
//!   the IdP's SSO URL with it (HTTP-Redirect or HTTP-POST binding), signed with the
//!   connection's SP key unless `sign_authn_requests = false`.
//! - `acs` (`POST {issuer}/broker/{alias}/endpoint`, the HTTP-POST binding): the Response is
//!   routed by the ACS it was posted to, never by its Issuer; the request its InResponseTo
//!   names is taken (this realm, this connection, this browser); the Response passes every
//!   check of `saml::verify`; its assertion ID enters the replay store; then the person arrives
//!   through the same write transaction as an OIDC login.

use std::sync::Arc;

use crate::config::IdentityProviderDecl;
use crate::db::models::broker::{self as broker_rows, BrokerRequest, SamlSpKey};
use crate::db::{DbError, Micros};
use crate::federation::entra;
use crate::federation::first_login::UpstreamIdentity;
use crate::federation::login::{
    self, provider, refused, Callback, Entry, Start, Upstream, EXPIRED, NOT_VALID, UNAVAILABLE,
};
use crate::federation::runtime::Runtime;
use crate::federation::saml::{self, Connection, Outgoing};
use crate::federation::saml_keys::{self, SpKeyError};
use crate::issuer::runtime::RealmRow;
use crate::issuer::tokens::{opaque, sha256_hex};
use crate::issuer::transaction::Transaction;

/// How old an AuthnRequest may be when its answer arrives.
const REQUEST_LIFETIME: Micros = 10 * 60 * 1_000_000;

fn connection<'a>(
    rt: &Runtime,
    idp: &'a IdentityProviderDecl,
    metadata: &'a crate::config::saml_metadata::IdpMetadata,
) -> Connection<'a> {
    Connection {
        idp,
        metadata,
        sp_entity_id: rt.sp_entity_id(idp),
        acs_url: rt.callback_url(&idp.realm, &idp.alias),
    }
}

/// Sends the login transaction `tx` (already checked for this realm, browser and
/// organization) to the SAML IdP.
pub async fn start(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    tx: &Transaction,
    now: Micros,
) -> Result<Start, DbError> {
    let alias = idp.alias.as_str();
    let Some(metadata) = rt.saml_metadata(&realm.name, alias) else {
        return Ok(Start::Refused(refused(
            502,
            UNAVAILABLE,
            "no SAML metadata",
            alias,
        )));
    };
    let signer = if idp.sign_authn_requests {
        match sp_keys(rt, realm, idp).await {
            Ok(keys) => saml_keys::signer(&keys),
            Err(SpKeyError::Db(e)) => return Err(e),
            Err(e) => {
                return Ok(Start::Refused(refused(
                    500,
                    UNAVAILABLE,
                    &e.to_string(),
                    alias,
                )))
            }
        }
    } else {
        None
    };
    if idp.sign_authn_requests && signer.is_none() {
        return Ok(Start::Refused(refused(
            500,
            UNAVAILABLE,
            "no usable SP key",
            alias,
        )));
    }
    // An NCName: SAML IDs must not start with a digit.
    let request_id = format!("_{}", opaque(""));
    let conn = connection(rt, idp, &metadata);
    let outgoing = match saml::authn_request(&conn, &request_id, now, signer.as_ref()) {
        Ok(o) => o,
        Err(e) => return Ok(Start::Refused(refused(502, UNAVAILABLE, &e.0, alias))),
    };
    let row = BrokerRequest {
        state_hash: sha256_hex(&request_id),
        realm_id: realm.id.clone(),
        auth_request_id: tx.request.id.clone(),
        identity_provider: alias.to_string(),
        browser_hash: tx.request.browser_hash.clone(),
        nonce: String::new(),
        pkce_verifier: None,
        created_at: now,
        expires_at: now + REQUEST_LIFETIME,
    };
    rt.issuer
        .db
        .write(move |conn| {
            broker_rows::delete_expired_requests(conn, now)?;
            broker_rows::insert_request(conn, &row)
        })
        .await?;
    Ok(match outgoing {
        Outgoing::Redirect(url) => Start::Redirect(url),
        Outgoing::Post { url, fields } => Start::Post { url, fields },
    })
}

/// `POST {issuer}/broker/{alias}/endpoint` with `SAMLResponse`.
pub async fn acs(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    posted: &str,
    browser: Option<String>,
) -> Result<Callback, DbError> {
    let refuse = |status, message: &str, reason: &str| {
        Ok(Callback::Refused(refused(status, message, reason, alias)))
    };
    let idp = match provider(rt, realm, alias) {
        Ok(idp) if idp.is_saml() => idp.clone(),
        Ok(_) => return refuse(400, NOT_VALID, "a SAML response to an OIDC connection"),
        Err(r) => return Ok(Callback::Refused(r)),
    };
    let Some(metadata) = rt.saml_metadata(&realm.name, alias) else {
        return refuse(502, UNAVAILABLE, "no SAML metadata");
    };
    let now = rt.issuer.now();
    let xml = match saml::decode(posted) {
        Ok(xml) => xml,
        Err(e) => return refuse(400, NOT_VALID, &e.0),
    };
    // A Response that names a request must answer one this browser sent, IdP-initiated
    // login or not; one that names none is an IdP-initiated login, refused unless allowed.
    let request_id = saml::in_response_to(&xml);
    let entry = match &request_id {
        Some(id) => {
            let taken = login::take_request(rt, realm, alias, id, browser.as_deref(), now);
            match taken.await? {
                Ok(r) => Entry::Requested(r),
                Err(reason) => return refuse(400, EXPIRED, reason),
            }
        }
        None if idp.allow_idp_initiated => {
            let client = idp.idp_initiated_client.as_deref().unwrap_or_default();
            let Some(uri) = rt.initiate_login_uri(&realm.name, client) else {
                return refuse(
                    500,
                    UNAVAILABLE,
                    "the IdP-initiated client has no initiate_login_uri",
                );
            };
            let Ok(mut uri) = url::Url::parse(uri) else {
                return refuse(500, UNAVAILABLE, "the initiate_login_uri is not a URL");
            };
            uri.query_pairs_mut()
                .append_pair("iss", &rt.issuer.issuer_url(&realm.name));
            Entry::Unasked {
                initiate_login_uri: uri.to_string(),
            }
        }
        None => {
            return refuse(
                400,
                NOT_VALID,
                "an unsolicited response (IdP-initiated login is off)",
            )
        }
    };
    // Only an encrypted assertion needs the SP's keys: a signed login reads and parses none.
    // (The text check is wider than the element, so it never skips keys a Response needs.)
    let keys = if xml.contains("EncryptedAssertion") {
        rt.issuer
            .db
            .run({
                let (realm_id, alias) = (realm.id.clone(), alias.to_string());
                move |conn| broker_rows::saml_sp_keys(conn, &realm_id, &alias)
            })
            .await?
    } else {
        Vec::new()
    };
    // Signature checks and decryption are CPU work (milliseconds, more for a large document):
    // off the HTTP worker, which keeps serving other requests meanwhile.
    let checked = tokio::task::spawn_blocking({
        let (idp, metadata) = (idp.clone(), metadata.clone());
        let (sp_entity_id, acs_url) = (rt.sp_entity_id(&idp), rt.callback_url(&realm.name, alias));
        move || {
            let conn = Connection {
                idp: &idp,
                metadata: &metadata,
                sp_entity_id,
                acs_url,
            };
            let keys = saml_keys::private_keys(&keys);
            saml::verify(&conn, &xml, request_id.as_deref(), now, &keys)
        }
    })
    .await;
    let verified = match checked {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return refuse(400, NOT_VALID, &e.0),
        Err(e) => return refuse(500, UNAVAILABLE, &format!("the check did not finish: {e}")),
    };
    let fresh = rt
        .issuer
        .db
        .write({
            let (realm_id, alias, id, until) = (
                realm.id.clone(),
                alias.to_string(),
                verified.assertion_id.clone(),
                verified.remember_until,
            );
            move |conn| broker_rows::record_saml_assertion(conn, &realm_id, &alias, &id, until, now)
        })
        .await?;
    if !fresh {
        return refuse(400, NOT_VALID, "a replayed assertion");
    }
    let (email, first_name, last_name) = saml::profile(&verified);
    let external_id = idp
        .effective_external_id_claim()
        .and_then(|name| verified.claims.get(name))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let person = UpstreamIdentity {
        external_id,
        first_name,
        last_name,
        username: email.clone().unwrap_or_else(|| verified.principal.clone()),
        subject: verified.principal.clone(),
        // SAML says nothing of verification: an email links only under `trust_email`.
        email_verified: email.is_some(),
        email,
    };
    let claims = if idp.is_entra() {
        entra::saml_claims(verified.claims)
    } else {
        verified.claims
    };
    let upstream = Upstream {
        person,
        claims,
        sid: verified.session_index,
        // What its LogoutRequests name, and what ours must: the NameID and its format.
        logout_subject: verified.name_id,
        token: verified.name_id_format.unwrap_or_default(),
        session_until: verified.session_not_on_or_after,
    };
    login::arrive(rt, realm, &idp, entry, browser, upstream, now).await
}

/// Vestibule's SP metadata for the SAML IdP `alias` of realm `realm`, its keys made the first
/// time they are asked for; none when there is no such enabled SAML IdP.
pub async fn descriptor(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
) -> Result<Option<String>, SpKeyError> {
    let Some(idp) = rt
        .provider(&realm.name, alias)
        .filter(|p| p.is_saml() && p.enabled)
        .cloned()
    else {
        return Ok(None);
    };
    let Some(metadata) = rt.saml_metadata(&realm.name, alias) else {
        return Ok(None);
    };
    let keys = sp_keys(rt, realm, &idp).await?;
    let certificates: Vec<Vec<u8>> = keys.into_iter().map(|k| k.certificate_der).collect();
    saml::sp_metadata(&connection(rt, &idp, &metadata), &certificates)
        .map(Some)
        .map_err(|e| SpKeyError::Metadata(e.0))
}

/// The connection's SP keys not retired, newest first; the first one is made when it has none
/// (the first metadata fetch or the first signed request).
pub(crate) async fn sp_keys(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
) -> Result<Vec<SamlSpKey>, SpKeyError> {
    let sp_entity_id = rt.sp_entity_id(idp);
    let now = rt.issuer.now();
    let (realm_id, alias) = (realm.id.clone(), idp.alias.clone());
    let stored = {
        let (realm_id, alias) = (realm_id.clone(), alias.clone());
        rt.issuer
            .db
            .run(move |conn| broker_rows::saml_sp_keys(conn, &realm_id, &alias))
            .await?
    };
    if !stored.is_empty() {
        return Ok(stored);
    }
    {
        // The first fetch: the RSA key is made outside the writer's transaction, and stored
        // unless another instance stored one meanwhile.
        let (id, a) = (realm_id.clone(), alias.clone());
        let fresh =
            tokio::task::spawn_blocking(move || saml_keys::generate(&id, &a, &sp_entity_id, now))
                .await
                .map_err(|e| SpKeyError::Metadata(e.to_string()))??;
        rt.issuer
            .db
            .write(move |conn| saml_keys::keys_or_store(conn, &realm_id, &alias, || Ok(fresh)))
            .await
    }
}
