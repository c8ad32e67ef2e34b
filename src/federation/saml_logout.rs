//! SAML 2.0 Single Logout (SAML Profiles §4.4) with an upstream IdP, both ways, over the
//! HTTP-Redirect binding at the connection's ACS URL (`{issuer}/broker/{alias}/endpoint`,
//! Keycloak's layout), every message signed with the connection's SP key and every message
//! received signed by the IdP's:
//!
//! - SP-initiated ([`request_upstream`]): Vestibule's own logout ended the session; when it
//!   came from a SAML IdP with a SingleLogoutService, the browser goes on there with a
//!   LogoutRequest naming the NameID and SessionIndex the IdP asserted. The request is stored
//!   by its ID, and the IdP's LogoutResponse ([`answered`]) is taken once, by InResponseTo,
//!   before the browser goes on to the client's post-logout URI.
//! - IdP-initiated ([`requested`]): a LogoutRequest from the IdP (its Issuer, our
//!   Destination, its NotOnOrAfter, not seen before) ends every SSO session of that connection
//!   whose NameID and SessionIndex it names, with their refresh tokens, and is answered with a
//!   LogoutResponse to the IdP's SingleLogoutService, the RelayState echoed.

use std::io::Cursor;
use std::sync::Arc;

use chrono::SecondsFormat;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::config::saml_metadata::{IdpMetadata, HTTP_REDIRECT};
use crate::config::IdentityProviderDecl;
use crate::db::models::broker::{self as broker_rows, BrokerSession, SamlLogoutRequest};
use crate::db::models::sessions as session_rows;
use crate::db::models::user as user_rows;
use crate::db::{DbError, Micros};
use crate::federation::login::{
    organization, provider, refused, Refused, DISABLED_ORGANIZATION, NOT_VALID, UNAVAILABLE,
};
use crate::federation::runtime::Runtime;
use crate::federation::saml::{self, Refusal};
use crate::federation::saml_keys;
use crate::federation::saml_login::sp_keys;
use crate::federation::saml_redirect;
use crate::federation::saml_xml::{self, Element};
use crate::issuer::runtime::RealmRow;
use crate::issuer::tokens::{opaque, sha256_hex};
use crate::users;

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// How long the IdP may take to answer a LogoutRequest, and how old an IdP's LogoutRequest
/// without a NotOnOrAfter may be.
const LIFETIME: Micros = 10 * 60 * 1_000_000;

/// What the browser is sent to at the end of a logout message's handling.
#[derive(Debug)]
pub enum Answer {
    /// On to the IdP (a LogoutResponse) or to the client's post-logout URI.
    Redirect(String),
    /// The "you are signed out" page: the logout asked for no redirect.
    Page,
    Refused(Refused),
}

fn text(list: &[Element], parent: usize, local: &str) -> Option<String> {
    list.iter()
        .find(|e| e.parent == Some(parent) && e.local == local)
        .map(|e| e.text.trim().to_string())
}

fn time(value: Option<&str>) -> Result<Option<Micros>, Refusal> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_micros())
                .map_err(|_| Refusal(format!("{v:?} is not a SAML time")))
        })
        .transpose()
}

fn iso(now: Micros) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(now)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One element with attributes and simple children, written with quick-xml (escaping its
/// values); the messages here are flat enough for that.
struct Xml(Writer<Cursor<Vec<u8>>>);

impl Xml {
    fn new() -> Xml {
        Xml(Writer::new(Cursor::new(Vec::new())))
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<(), Refusal> {
        let mut start = BytesStart::new(name);
        for (k, v) in attributes {
            start.push_attribute((*k, *v));
        }
        self.write(Event::Start(start))
    }

    fn leaf(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) -> Result<(), Refusal> {
        self.open(name, attributes)?;
        self.write(Event::Text(BytesText::new(text)))?;
        self.close(name)
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<(), Refusal> {
        let mut start = BytesStart::new(name);
        for (k, v) in attributes {
            start.push_attribute((*k, *v));
        }
        self.write(Event::Empty(start))
    }

    fn close(&mut self, name: &str) -> Result<(), Refusal> {
        self.write(Event::End(BytesEnd::new(name)))
    }

    fn write(&mut self, event: Event<'_>) -> Result<(), Refusal> {
        self.0
            .write_event(event)
            .map_err(|e| Refusal(format!("a logout message cannot be written: {e}")))
    }

    fn finish(self) -> Result<String, Refusal> {
        String::from_utf8(self.0.into_inner().into_inner())
            .map_err(|_| Refusal("a logout message is not UTF-8".into()))
    }
}

/// The NameID a LogoutRequest names: as the IdP asserted it, with its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
}

/// A LogoutRequest from Vestibule to the IdP (SAML Core §3.7.1).
pub fn logout_request_xml(
    id: &str,
    now: Micros,
    destination: &str,
    sp_entity_id: &str,
    name_id: &NameId,
    session_index: Option<&str>,
) -> Result<String, Refusal> {
    let mut xml = Xml::new();
    let instant = iso(now);
    let not_on_or_after = iso(now + LIFETIME);
    xml.open(
        "samlp:LogoutRequest",
        &[
            ("xmlns:samlp", PROTOCOL),
            ("xmlns:saml", ASSERTION),
            ("ID", id),
            ("Version", "2.0"),
            ("IssueInstant", &instant),
            ("NotOnOrAfter", &not_on_or_after),
            ("Destination", destination),
        ],
    )?;
    xml.leaf("saml:Issuer", &[], sp_entity_id)?;
    match &name_id.format {
        Some(f) => xml.leaf("saml:NameID", &[("Format", f)], &name_id.value)?,
        None => xml.leaf("saml:NameID", &[], &name_id.value)?,
    }
    if let Some(index) = session_index {
        xml.leaf("samlp:SessionIndex", &[], index)?;
    }
    xml.close("samlp:LogoutRequest")?;
    xml.finish()
}

/// A LogoutResponse from Vestibule to the IdP (SAML Core §3.7.2).
pub fn logout_response_xml(
    id: &str,
    in_response_to: &str,
    now: Micros,
    destination: &str,
    sp_entity_id: &str,
    status: &str,
) -> Result<String, Refusal> {
    let mut xml = Xml::new();
    let instant = iso(now);
    xml.open(
        "samlp:LogoutResponse",
        &[
            ("xmlns:samlp", PROTOCOL),
            ("xmlns:saml", ASSERTION),
            ("ID", id),
            ("Version", "2.0"),
            ("IssueInstant", &instant),
            ("Destination", destination),
            ("InResponseTo", in_response_to),
        ],
    )?;
    xml.leaf("saml:Issuer", &[], sp_entity_id)?;
    xml.open("samlp:Status", &[])?;
    xml.empty("samlp:StatusCode", &[("Value", status)])?;
    xml.close("samlp:Status")?;
    xml.close("samlp:LogoutResponse")?;
    xml.finish()
}

/// An IdP's LogoutRequest, checked: what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpLogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
    /// Until when its ID is remembered against replays.
    pub remember_until: Micros,
}

/// The checks on an IdP's (signature-verified) LogoutRequest: the root, its ID, Issuer and
/// Destination, its times, and the NameID (never an EncryptedID or BaseID, which we cannot
/// match).
pub fn check_logout_request(
    xml: &str,
    metadata: &IdpMetadata,
    slo_url: &str,
    skew_secs: i64,
    now: Micros,
) -> Result<IdpLogoutRequest, Refusal> {
    let list = saml_xml::elements(xml).map_err(Refusal)?;
    let Some(root) = list.first().filter(|r| r.local == "LogoutRequest") else {
        return Err(Refusal("the message is not a LogoutRequest".into()));
    };
    let skew = skew_secs * 1_000_000;
    let id = root
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(Refusal("the LogoutRequest has no ID".into()))?;
    if text(&list, 0, "Issuer").as_deref() != Some(metadata.entity_id.as_str()) {
        return Err(Refusal(
            "the LogoutRequest's Issuer is not the IdP's entity ID".into(),
        ));
    }
    if root.attribute("Destination") != Some(slo_url) {
        return Err(Refusal(
            "the LogoutRequest's Destination is not this connection's endpoint".into(),
        ));
    }
    let issued = time(root.attribute("IssueInstant"))?
        .ok_or(Refusal("the LogoutRequest has no IssueInstant".into()))?;
    if issued > now + skew {
        return Err(Refusal("the LogoutRequest is issued in the future".into()));
    }
    let until = match time(root.attribute("NotOnOrAfter"))? {
        Some(t) => t,
        None => issued + LIFETIME,
    };
    if until + skew <= now {
        return Err(Refusal("the LogoutRequest has expired".into()));
    }
    let name_id = text(&list, 0, "NameID")
        .filter(|v| !v.is_empty())
        .ok_or(Refusal("the LogoutRequest names no NameID".into()))?;
    let session_indexes = list
        .iter()
        .filter(|e| e.parent == Some(0) && e.local == "SessionIndex")
        .map(|e| e.text.trim().to_string())
        .collect();
    Ok(IdpLogoutRequest {
        id: id.to_string(),
        name_id,
        session_indexes,
        remember_until: until + skew,
    })
}

/// An IdP's LogoutResponse, checked against the IdP: the request it answers, and its status.
pub fn check_logout_response(
    xml: &str,
    metadata: &IdpMetadata,
    slo_url: &str,
) -> Result<(String, String), Refusal> {
    let list = saml_xml::elements(xml).map_err(Refusal)?;
    let Some(root) = list.first().filter(|r| r.local == "LogoutResponse") else {
        return Err(Refusal("the message is not a LogoutResponse".into()));
    };
    if text(&list, 0, "Issuer").as_deref() != Some(metadata.entity_id.as_str()) {
        return Err(Refusal(
            "the LogoutResponse's Issuer is not the IdP's entity ID".into(),
        ));
    }
    if root.attribute("Destination").is_some_and(|d| d != slo_url) {
        return Err(Refusal(
            "the LogoutResponse's Destination is not this connection's endpoint".into(),
        ));
    }
    let in_response_to = root
        .attribute("InResponseTo")
        .ok_or(Refusal("the LogoutResponse answers no request".into()))?;
    let status = list
        .iter()
        .position(|e| e.parent == Some(0) && e.local == "Status")
        .and_then(|at| {
            list.iter()
                .find(|e| e.parent == Some(at) && e.local == "StatusCode")
        })
        .and_then(|e| e.attribute("Value"))
        .unwrap_or_default();
    Ok((in_response_to.to_string(), status.to_string()))
}

/// Where the IdP takes logout messages over HTTP-Redirect (responses at ResponseLocation).
fn slo_destination(metadata: &IdpMetadata, response: bool) -> Option<&str> {
    let endpoint = metadata
        .single_logout
        .iter()
        .find(|e| e.binding == HTTP_REDIRECT)?;
    Some(match (&endpoint.response_location, response) {
        (Some(r), true) => r.as_str(),
        _ => endpoint.location.as_str(),
    })
}

/// The SP key logout messages are signed with.
async fn signer(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
) -> Result<Result<saml::Signer, String>, DbError> {
    match sp_keys(rt, realm, idp).await {
        Ok(keys) => Ok(saml_keys::signer(&keys).ok_or("no usable SP key".into())),
        Err(saml_keys::SpKeyError::Db(e)) => Err(e),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// SP-initiated logout: the URL of a signed LogoutRequest for the brokered `session` (already
/// ended here), or None when the IdP takes none; the IdP's answer sends the browser on to
/// `back` (the client's post-logout URI), or to the signed-out page.
pub async fn request_upstream(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    session: &BrokerSession,
    back: Option<String>,
) -> Result<Option<String>, DbError> {
    let Some(metadata) = rt.saml_metadata(&realm.name, &idp.alias) else {
        return Ok(None);
    };
    let Some(destination) = slo_destination(&metadata, false) else {
        return Ok(None);
    };
    let signer = match signer(rt, realm, idp).await? {
        Ok(s) => s,
        Err(why) => {
            tracing::warn!(identity_provider = %idp.alias, reason = %why, "upstream logout skipped");
            return Ok(None);
        }
    };
    let now = rt.issuer.now();
    let id = format!("_{}", opaque(""));
    let name_id = NameId {
        value: session.subject.clone(),
        format: Some(session.id_token.clone()).filter(|f| !f.is_empty()),
    };
    let sp_entity_id = rt.sp_entity_id(idp);
    let sent = logout_request_xml(
        &id,
        now,
        destination,
        &sp_entity_id,
        &name_id,
        session.upstream_sid.as_deref(),
    )
    .and_then(|xml| saml_redirect::send(destination, "SAMLRequest", &xml, None, &signer.key));
    let url = match sent {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(identity_provider = %idp.alias, reason = %e, "upstream logout skipped");
            return Ok(None);
        }
    };
    let row = SamlLogoutRequest {
        request_hash: sha256_hex(&id),
        realm_id: realm.id.clone(),
        identity_provider: idp.alias.clone(),
        return_to: back,
        expires_at: now + LIFETIME,
    };
    rt.issuer
        .db
        .write(move |conn| broker_rows::insert_saml_logout_request(conn, &row, now))
        .await?;
    Ok(Some(url))
}

/// `GET {issuer}/broker/{alias}/endpoint?SAMLRequest=…` or `?SAMLResponse=…`: a logout
/// message from the IdP. `raw_query` is the query string exactly as received.
pub async fn received(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    raw_query: &str,
) -> Result<Answer, DbError> {
    let refuse = |status, message: &str, reason: &str| {
        Ok(Answer::Refused(refused(status, message, reason, alias)))
    };
    let idp = match provider(rt, realm, alias) {
        Ok(idp) if idp.is_saml() => idp.clone(),
        Ok(_) => {
            return refuse(
                400,
                NOT_VALID,
                "a SAML logout message to an OIDC connection",
            )
        }
        Err(r) => return Ok(Answer::Refused(r)),
    };
    let Some(metadata) = rt.saml_metadata(&realm.name, alias) else {
        return refuse(502, UNAVAILABLE, "no SAML metadata");
    };
    let is_request = raw_query.split('&').any(|p| p.starts_with("SAMLRequest="));
    let name = if is_request {
        "SAMLRequest"
    } else {
        "SAMLResponse"
    };
    let message = match saml_redirect::receive(raw_query, name, &metadata, idp.allow_sha1) {
        Ok(m) => m,
        Err(e) => return refuse(400, NOT_VALID, &e.0),
    };
    let slo_url = rt.callback_url(&realm.name, alias);
    if is_request {
        requested(rt, realm, &idp, &metadata, &slo_url, message).await
    } else {
        answered(rt, realm, &idp, &metadata, &slo_url, message).await
    }
}

/// Why an IdP's valid LogoutRequest ends nothing.
enum NotEnded {
    DisabledOrganization,
    DisabledUser,
    Replayed,
}

/// The IdP's LogoutRequest: the sessions it names end, and the IdP gets a LogoutResponse.
async fn requested(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    metadata: &IdpMetadata,
    slo_url: &str,
    message: saml_redirect::Received,
) -> Result<Answer, DbError> {
    let alias = idp.alias.as_str();
    let refuse = |status, message: &str, reason: &str| {
        Ok(Answer::Refused(refused(status, message, reason, alias)))
    };
    let now = rt.issuer.now();
    let request =
        match check_logout_request(&message.xml, metadata, slo_url, idp.clock_skew_secs(), now) {
            Ok(r) => r,
            Err(e) => return refuse(400, NOT_VALID, &e.0),
        };
    let Some(destination) = slo_destination(metadata, true) else {
        return refuse(
            400,
            NOT_VALID,
            "the IdP's metadata has no SingleLogoutService",
        );
    };
    let signer = match signer(rt, realm, idp).await? {
        Ok(s) => s,
        Err(why) => return refuse(500, UNAVAILABLE, &why),
    };
    let (realm_id, alias2, request2, idp2) = (
        realm.id.clone(),
        alias.to_string(),
        request.clone(),
        idp.clone(),
    );
    let ended = rt
        .issuer
        .db
        .write(move |conn| -> Result<Result<usize, NotEnded>, DbError> {
            // Like every entry point of a disabled organization's connection: refused.
            if organization(conn, &realm_id, &idp2)?.is_none() {
                return Ok(Err(NotEnded::DisabledOrganization));
            }
            let mut sessions = Vec::new();
            if request2.session_indexes.is_empty() {
                sessions = broker_rows::sessions_named(
                    conn,
                    &realm_id,
                    &alias2,
                    None,
                    Some(&request2.name_id),
                )?;
            }
            for index in &request2.session_indexes {
                sessions.extend(broker_rows::sessions_named(
                    conn,
                    &realm_id,
                    &alias2,
                    Some(index),
                    Some(&request2.name_id),
                )?);
            }
            // Like every entry point of a disabled user: refused (their sessions are dead
            // already: every use of a token checks the user).
            for id in &sessions {
                let user = match session_rows::session(conn, id)? {
                    Some(session) => user_rows::find(conn, &session.user_id)?,
                    None => None,
                };
                if !user.as_ref().is_some_and(users::is_active) {
                    return Ok(Err(NotEnded::DisabledUser));
                }
            }
            // A LogoutRequest is used once: replayed later, it could end a newer session.
            let key = format!("logout:{}", request2.id);
            let until = request2.remember_until;
            if !broker_rows::record_saml_assertion(conn, &realm_id, &alias2, &key, until, now)? {
                return Ok(Err(NotEnded::Replayed));
            }
            for id in &sessions {
                session_rows::end_session(conn, id, now)?;
                session_rows::revoke_session_tokens(conn, id, now)?;
            }
            Ok(Ok(sessions.len()))
        })
        .await?;
    let ended = match ended {
        Ok(n) => n,
        Err(NotEnded::DisabledOrganization) => {
            return refuse(403, DISABLED_ORGANIZATION, "the organization is disabled")
        }
        Err(NotEnded::DisabledUser) => {
            return refuse(403, "This account is disabled.", "the user is disabled")
        }
        Err(NotEnded::Replayed) => return refuse(400, NOT_VALID, "a replayed LogoutRequest"),
    };
    tracing::info!(identity_provider = %alias, sessions = ended, "SAML single logout from the IdP");
    let sp_entity_id = rt.sp_entity_id(idp);
    let id = format!("_{}", opaque(""));
    let answer = logout_response_xml(&id, &request.id, now, destination, &sp_entity_id, SUCCESS)
        .and_then(|xml| {
            saml_redirect::send(
                destination,
                "SAMLResponse",
                &xml,
                message.relay_state.as_deref(),
                &signer.key,
            )
        });
    match answer {
        Ok(url) => Ok(Answer::Redirect(url)),
        Err(e) => refuse(500, UNAVAILABLE, &e.0),
    }
}

/// The IdP's LogoutResponse to the request Vestibule sent: taken once, then on to where the
/// person's logout was to end.
async fn answered(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    metadata: &IdpMetadata,
    slo_url: &str,
    message: saml_redirect::Received,
) -> Result<Answer, DbError> {
    let alias = idp.alias.as_str();
    let refuse = |status, message: &str, reason: &str| {
        Ok(Answer::Refused(refused(status, message, reason, alias)))
    };
    let (in_response_to, status) = match check_logout_response(&message.xml, metadata, slo_url) {
        Ok(r) => r,
        Err(e) => return refuse(400, NOT_VALID, &e.0),
    };
    let now = rt.issuer.now();
    let hash = sha256_hex(&in_response_to);
    let taken = rt
        .issuer
        .db
        .write(move |conn| broker_rows::take_saml_logout_request(conn, &hash))
        .await?;
    let Some(request) = taken
        .filter(|r| r.realm_id == realm.id && r.identity_provider == alias && r.expires_at > now)
    else {
        return refuse(400, NOT_VALID, "a LogoutResponse to no pending request");
    };
    if status != SUCCESS {
        // Signed out here already; the IdP's session outlives it, which the log says.
        tracing::warn!(identity_provider = %alias, %status, "the IdP did not complete the logout");
    }
    Ok(match request.return_to {
        Some(url) => Answer::Redirect(url),
        None => Answer::Page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Micros = 1_893_456_000_000_000; // 2030-01-01T00:00:00Z

    fn metadata() -> IdpMetadata {
        IdpMetadata::parse(include_str!("../../tests/fixtures/saml/idp-metadata.xml"))
            .expect("the fixture metadata parses")
    }

    fn request(extra_root: &str, body: &str) -> String {
        let md = metadata();
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\" Destination=\"https://sp.test/slo\"{extra_root}><saml:Issuer>{}</saml:Issuer>{body}</samlp:LogoutRequest>",
            md.entity_id
        )
    }

    #[test]
    fn what_vestibule_writes_reads_back() {
        let name_id = NameId {
            value: "a&b@acme.test".into(),
            format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        };
        let xml = logout_request_xml(
            "_1",
            NOW,
            "https://idp/slo",
            "https://sp",
            &name_id,
            Some("s1"),
        )
        .unwrap();
        let list = saml_xml::elements(&xml).unwrap();
        assert_eq!(list[0].local, "LogoutRequest");
        assert_eq!(text(&list, 0, "NameID").as_deref(), Some("a&b@acme.test"));
        assert_eq!(text(&list, 0, "SessionIndex").as_deref(), Some("s1"));
        let answer =
            logout_response_xml("_2", "_lr1", NOW, "https://idp/slo", "https://sp", SUCCESS)
                .unwrap();
        let list = saml_xml::elements(&answer).unwrap();
        assert_eq!(list[0].attribute("InResponseTo"), Some("_lr1"));
    }

    #[test]
    fn an_idp_logout_request_is_checked() {
        let md = metadata();
        let ok = request(
            "",
            "<saml:NameID>alice</saml:NameID><samlp:SessionIndex>s1</samlp:SessionIndex>",
        );
        let checked = check_logout_request(&ok, &md, "https://sp.test/slo", 60, NOW).unwrap();
        assert_eq!(checked.name_id, "alice");
        assert_eq!(checked.session_indexes, vec!["s1".to_string()]);
        let refusals = [
            (
                ok.replace("https://sp.test/slo", "https://other/slo"),
                "Destination",
            ),
            (ok.replace(&md.entity_id, "https://evil.test"), "Issuer"),
            (
                request(
                    " NotOnOrAfter=\"2029-12-31T23:00:00Z\"",
                    "<saml:NameID>a</saml:NameID>",
                ),
                "expired",
            ),
            (
                ok.replace("2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"),
                "future",
            ),
            (request("", "<saml:EncryptedID/>"), "NameID"),
            (
                ok.replace("LogoutRequest", "AuthnRequest"),
                "not a LogoutRequest",
            ),
        ];
        for (xml, why) in refusals {
            let err = check_logout_request(&xml, &md, "https://sp.test/slo", 60, NOW)
                .unwrap_err()
                .0;
            assert!(err.contains(why), "{why}: {err}");
        }
        // Ten minutes after its IssueInstant, one without a NotOnOrAfter is too old.
        let late = NOW + LIFETIME + 61_000_000;
        assert!(check_logout_request(&ok, &md, "https://sp.test/slo", 60, late).is_err());
    }
}
