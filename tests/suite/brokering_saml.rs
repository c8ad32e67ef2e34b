//! Federated login through an upstream SAML IdP (issue 9), through HTTP on both databases,
//! with the fixtures of `tests/fixtures/saml/` as the IdP's answers: Vestibule runs behind its
//! public URL `https://sp.test` at the fixtures' instant, sends the browser to the IdP with an
//! AuthnRequest, and the fixture is posted to the ACS once the request it answers
//! (`_vst_req_0001`) stands for the one this browser's login sent.

use std::io::Read;
use std::sync::Arc;

use base64::Engine;
use serde_json::json;
use vestibule::clock::FixedClock;
use vestibule::config::{Config, IdentityProviderDecl, RoleDecl};
use vestibule::db::models::broker;
use vestibule::issuer::tokens::sha256_hex;

use crate::brokering::{code_request, refused, Landing};
use crate::common::oidc::{location, query_of, set_cookie, RelyingParty, REDIRECT, WEB};
use crate::common::{config, fixture, tenant, with_issuer, Backend, TestDb, TestServer, REALM};

const PUBLIC_URL: &str = "https://sp.test";
const ALIAS: &str = "acme-saml";
const ACS: &str = "https://sp.test/realms/test/broker/acme-saml/endpoint";
/// The request every fixture answers.
const FIXTURE_REQUEST: &str = "_vst_req_0001";
/// 2030-01-01T00:00:00Z, the fixtures' instant.
const T: i64 = 1_893_456_000_000_000;

fn saml_idp(extra: &str) -> IdentityProviderDecl {
    toml::from_str(&format!(
        "realm = \"{REALM}\"\nalias = \"{ALIAS}\"\nkind = \"saml\"\norganization = \"acme\"\n\
         display_name = \"Acme SAML\"\nmetadata_file = \"{}\"\nsync_mode = \"force\"\n\
         mappers = [\n\
           {{ name = \"role\", type = \"claim_to_role\", claim = \"role\", value = \"MY_PROJECT_SUPER_ADMIN\", role = \"SUPER_ADMIN\" }},\n\
           {{ name = \"given\", type = \"attribute_importer\", claim = \"givenName\", attribute = \"firstName\" }},\n\
         ]\n{extra}",
        fixture("saml/idp-metadata.xml").display()
    ))
    .expect("SAML identity provider")
}

async fn start_sp(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let acme = tenant("acme");
    let globex = tenant("globex");
    let db = TestDb::new(backend);
    let mut cfg = config(&db, &[&acme, &globex]);
    with_issuer(&mut cfg);
    cfg.roles.push(RoleDecl {
        realm: REALM.into(),
        name: "SUPER_ADMIN".into(),
        client: None,
        description: String::new(),
        composites: Vec::new(),
    });
    cfg.identity_providers.push(saml_idp(""));
    adjust(&mut cfg);
    TestServer::start_behind(db, cfg, Arc::new(FixedClock::new(T)), Some(PUBLIC_URL)).await
}

/// A URL the server made (naming its public host), as the tests reach it.
fn local(server: &TestServer, url: &str) -> String {
    url.strip_prefix(PUBLIC_URL)
        .map(|path| format!("{}{path}", server.base))
        .unwrap_or_else(|| url.to_string())
}

/// The AuthnRequest of an HTTP-Redirect URL, as XML.
fn authn_request(url: &str) -> String {
    let encoded = query_of(url)["SAMLRequest"].clone();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .expect("DEFLATE");
    xml
}

/// The browser's way to the IdP for an acme login; returns the IdP's SSO URL with the request.
async fn to_the_idp(server: &TestServer, rp: &RelyingParty<'_>) -> String {
    let query = code_request(&[("organization", "acme")]);
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reply = rp.authorize(&pairs, None).await;
    assert_eq!(
        reply.status(),
        302,
        "{}",
        reply.text().await.unwrap_or_default()
    );
    let broker = location(&reply);
    assert!(
        broker.contains(&format!("/broker/{ALIAS}/login?request=")),
        "{broker}"
    );
    let reply = rp.browse(&local(server, &broker), None).await;
    assert_eq!(
        reply.status(),
        302,
        "{}",
        reply.text().await.unwrap_or_default()
    );
    location(&reply)
}

/// The ID the AuthnRequest of `sso_url` carries.
fn request_id(sso_url: &str) -> String {
    let xml = authn_request(sso_url);
    let at = xml.find(" ID=\"").expect("an ID") + 5;
    xml[at..at + xml[at..].find('"').unwrap()].to_string()
}

/// Makes the AuthnRequest this browser's login sent the one the fixtures answer.
fn plant(server: &TestServer, sent_id: &str) {
    let mut conn = server.state.db.get().unwrap();
    // A refusal before the request was looked up (a DOCTYPE, say) left the last one planted.
    broker::take_request(&mut conn, &sha256_hex(FIXTURE_REQUEST)).unwrap();
    let mut row = broker::take_request(&mut conn, &sha256_hex(sent_id))
        .unwrap()
        .expect("the request Vestibule stored");
    row.state_hash = sha256_hex(FIXTURE_REQUEST);
    broker::insert_request(&mut conn, &row).unwrap();
}

/// The IdP's answer, the fixture `file`, posted by the browser to the ACS of `alias`.
async fn post(rp: &RelyingParty<'_>, alias: &str, file: &str) -> Landing {
    let xml = std::fs::read(fixture(&format!("saml/{file}"))).expect("fixture");
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let reply = rp
        .post_form(
            &format!("/broker/{alias}/endpoint"),
            &[("SAMLResponse", encoded), ("RelayState", String::new())],
        )
        .await;
    Landing {
        status: reply.status().as_u16(),
        location: reply
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        sso_cookie: set_cookie(&reply, "VESTIBULE_SESSION"),
        body: reply.text().await.unwrap_or_default(),
    }
}

/// A browser's whole login answered by `file`.
async fn login_answered_by<'a>(server: &'a TestServer, file: &str) -> (RelyingParty<'a>, Landing) {
    let rp = RelyingParty::new(server);
    let sso = to_the_idp(server, &rp).await;
    plant(server, &request_id(&sso));
    let landing = post(&rp, ALIAS, file).await;
    (rp, landing)
}

both_backends!(
    a_saml_idp_signs_a_person_in_with_the_mapped_role_and_membership,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let rp = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &rp).await;
        // The request: to the IdP's Redirect SSO URL, from our entity, for this ACS.
        assert!(
            sso.starts_with("https://idp.test/saml/sso?SAMLRequest="),
            "{sso}"
        );
        let request = authn_request(&sso);
        assert!(
            request.contains(&format!("AssertionConsumerServiceURL=\"{ACS}\"")),
            "{request}"
        );
        assert!(
            request.contains("https://sp.test/realms/test</saml:Issuer>")
                || request.contains(">https://sp.test/realms/test<"),
            "{request}"
        );
        assert!(request.contains("Destination=\"https://idp.test/saml/sso\""));
        plant(&server, &request_id(&sso));
        let landing = post(&rp, ALIAS, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let back = landing.location.expect("back to the client");
        assert!(back.starts_with(REDIRECT), "{back}");
        assert!(landing.sso_cookie.is_some());
        let tokens = rp.exchange(WEB, &query_of(&back)["code"]).await;
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert!(tokens.access["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("SUPER_ADMIN")));
        assert_eq!(tokens.id()["email"], "alice@acme.test");
        assert_eq!(tokens.id()["given_name"], "Alice");
        let user = tokens.access["sub"].as_str().unwrap().to_string();
        let mut conn = server.state.db.get().unwrap();
        let links = vestibule::db::models::federated::for_user(&mut conn, &user).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].identity_provider, ALIAS);
        assert_eq!(links[0].subject, "alice@acme.test");
        let member = vestibule::db::models::membership::for_user(&mut conn, &user).unwrap();
        assert_eq!(member.len(), 1);
        assert_eq!(member[0].source, "idp");
        drop(conn);
        // The same person again, with a response signed over the assertion and the Response.
        let (rp2, again) = login_answered_by(&server, "valid-both-signed.xml").await;
        let back = again.location.expect("back to the client");
        let tokens = rp2.exchange(WEB, &query_of(&back)["code"]).await;
        assert_eq!(tokens.access["sub"], json!(user));
        server.stop().await;
    }
);

both_backends!(
    a_replayed_response_is_refused_and_signs_nobody_in,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let (_, first) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(first.status, 302, "{}", first.body);
        // The same response for a new login of another browser: its assertion was seen.
        let (_, replayed) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        refused(&replayed, 400);
        // Posted again by the first browser, whose request is spent: refused too.
        let rp = RelyingParty::new(&server);
        refused(&post(&rp, ALIAS, "valid-signed-assertion.xml").await, 400);
        server.stop().await;
    }
);

both_backends!(
    a_response_is_refused_unless_this_browser_sent_its_request_to_this_connection,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            let mut other = saml_idp("");
            other.alias = "other-saml".into();
            other.organization = Some("globex".into());
            c.identity_providers.push(other);
        })
        .await;
        // Another browser posts the victim's answer: the request is this browser's only.
        let victim = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &victim).await;
        plant(&server, &request_id(&sso));
        let attacker = RelyingParty::new(&server);
        refused(
            &post(&attacker, ALIAS, "valid-signed-assertion.xml").await,
            400,
        );
        // Routed by the ACS it was posted to: another connection's ACS takes nothing of it.
        let rp = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &rp).await;
        plant(&server, &request_id(&sso));
        refused(
            &post(&rp, "other-saml", "valid-signed-assertion.xml").await,
            400,
        );
        // Unsolicited (no InResponseTo): IdP-initiated login is off.
        refused(&post(&rp, ALIAS, "valid-idp-initiated.xml").await, 400);
        // Nobody was linked by any of it.
        let mut conn = server.state.db.get().unwrap();
        let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
            .unwrap()
            .unwrap();
        let linked = vestibule::db::models::federated::find_user(
            &mut conn,
            &realm.id,
            ALIAS,
            "alice@acme.test",
        )
        .unwrap();
        assert!(linked.is_none());
        server.stop().await;
    }
);

both_backends!(
    each_forged_response_is_refused_at_the_acs,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        for file in [
            "xsw3.xml",
            "two-assertions-first-signed.xml",
            "comment-in-nameid.xml",
            "doctype-external-entity.xml",
            "signed-by-attacker-key.xml",
            "wrong-audience.xml",
            "wrong-recipient.xml",
            "expired.xml",
            "unsigned.xml",
            "sha1-signature.xml",
        ] {
            let (_, landing) = login_answered_by(&server, file).await;
            assert_eq!(landing.status, 400, "{file}: {}", landing.body);
            refused(&landing, 400);
        }
        server.stop().await;
    }
);

both_backends!(
    the_sp_metadata_names_our_entity_and_this_connections_acs,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let rp = RelyingParty::new(&server);
        let reply = rp
            .browse(
                &format!("/realms/{REALM}/broker/{ALIAS}/endpoint/descriptor"),
                None,
            )
            .await;
        assert_eq!(reply.status(), 200);
        let xml = reply.text().await.unwrap();
        assert!(
            xml.contains("entityID=\"https://sp.test/realms/test\""),
            "{xml}"
        );
        assert!(xml.contains(&format!("Location=\"{ACS}\"")), "{xml}");
        assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"));
        let missing = rp
            .browse(
                &format!("/realms/{REALM}/broker/nobody/endpoint/descriptor"),
                None,
            )
            .await;
        assert_eq!(missing.status(), 404);
        server.stop().await;
    }
);
