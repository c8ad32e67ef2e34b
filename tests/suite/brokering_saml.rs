//! Federated login through an upstream SAML IdP (issue 9), through HTTP on both databases,
//! with the fixtures of `tests/fixtures/saml/` as the IdP's answers: Vestibule runs behind its
//! public URL `https://sp.test` at the fixtures' instant, sends the browser to the IdP with an
//! AuthnRequest, and the fixture is posted to the ACS once the request it answers
//! (`_vst_req_0001`) stands for the one this browser's login sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde_json::json;
use vestibule::clock::{Clock, FixedClock};
use vestibule::config::{Config, IdentityProviderDecl, RoleDecl};
use vestibule::db::models::broker;
use vestibule::issuer::tokens::sha256_hex;

use crate::brokering::{code_request, refused, Landing};
use crate::common::oidc::{location, query_of, RelyingParty, REDIRECT, WEB};
use crate::common::saml_idp;
use crate::common::{
    config, fixture, tenant, with_issuer, Backend, Tenant, TestDb, TestServer, REALM,
};

pub(crate) const PUBLIC_URL: &str = "https://sp.test";
pub(crate) const ALIAS: &str = "acme-saml";
pub(crate) const ACS: &str = "https://sp.test/realms/test/broker/acme-saml/endpoint";
/// The request every fixture answers.
pub(crate) const FIXTURE_REQUEST: &str = "_vst_req_0001";
/// 2030-01-01T00:00:00Z, the fixtures' instant.
pub(crate) const T: i64 = 1_893_456_000_000_000;

pub(crate) fn saml_idp(extra: &str) -> IdentityProviderDecl {
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

/// The issuer's test realm with organizations acme and globex (acme's directory `acme`), the
/// role `SUPER_ADMIN`, and `idp`.
pub(crate) fn sp_config(db: &TestDb, acme: &Tenant, idp: IdentityProviderDecl) -> Config {
    let globex = tenant("globex");
    let mut cfg = config(db, &[acme, &globex]);
    with_issuer(&mut cfg);
    cfg.roles.push(RoleDecl {
        realm: REALM.into(),
        name: "SUPER_ADMIN".into(),
        client: None,
        description: String::new(),
        composites: Vec::new(),
    });
    cfg.identity_providers.push(idp);
    cfg
}

pub(crate) async fn start_sp(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
    let clock = Arc::new(FixedClock::new(T));
    serve_sp(TestDb::new(backend), &tenant("acme"), clock, adjust).await
}

/// Vestibule behind `PUBLIC_URL` on `db` (new, or another instance's) and `clock`, with
/// `sp_config`'s setup and the connection `saml_idp("")`; `adjust` has the last word.
pub async fn serve_sp(
    db: TestDb,
    acme: &Tenant,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let mut cfg = sp_config(&db, acme, saml_idp(""));
    adjust(&mut cfg);
    TestServer::start_behind(db, cfg, clock, Some(PUBLIC_URL)).await
}

/// The user linked to `subject` at the connection, if any.
pub(crate) fn linked_user(server: &TestServer, subject: &str) -> Option<String> {
    let mut conn = server.state.db.get().unwrap();
    let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
        .unwrap()
        .unwrap();
    vestibule::db::models::federated::find_user(&mut conn, &realm.id, ALIAS, subject).unwrap()
}

/// A URL the server made (naming its public host), as the tests reach it.
pub(crate) fn local(server: &TestServer, url: &str) -> String {
    url.strip_prefix(PUBLIC_URL)
        .map(|path| format!("{}{path}", server.base))
        .unwrap_or_else(|| url.to_string())
}

/// The AuthnRequest of an HTTP-Redirect URL, as XML.
pub(crate) fn authn_request(url: &str) -> String {
    saml_idp::authn_request(url).expect("an AuthnRequest")
}

/// The SP metadata of the connection.
pub(crate) async fn descriptor(server: &TestServer) -> String {
    let reply = RelyingParty::new(server)
        .browse(
            &format!("/realms/{REALM}/broker/{ALIAS}/endpoint/descriptor"),
            None,
        )
        .await;
    assert_eq!(reply.status(), 200);
    reply.text().await.unwrap()
}

/// The browser's way to the IdP for an acme login; returns the IdP's SSO URL with the request.
pub(crate) async fn to_the_idp(server: &TestServer, rp: &RelyingParty<'_>) -> String {
    let query = code_request(&[("organization", "acme")]);
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let reply = rp.authorize(&pairs, None).await;
    if server.state.base_url().starts_with("https://") {
        // Behind https the transaction cookie goes along with the IdP's cross-site POST.
        let cookie = reply
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("VESTIBULE_LOGIN="))
            .expect("the login cookie")
            .to_string();
        assert!(
            cookie.contains("SameSite=None") && cookie.contains("Secure"),
            "{cookie}"
        );
    }
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
pub(crate) fn request_id(sso_url: &str) -> String {
    saml_idp::request_id(sso_url).expect("an AuthnRequest ID")
}

/// Makes the AuthnRequest this browser's login sent the one the fixtures answer.
pub(crate) fn plant(server: &TestServer, sent_id: &str) {
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
pub(crate) async fn post(rp: &RelyingParty<'_>, alias: &str, file: &str) -> Landing {
    let xml = std::fs::read(fixture(&format!("saml/{file}"))).expect("fixture");
    post_encoded(
        rp,
        alias,
        base64::engine::general_purpose::STANDARD.encode(xml),
    )
    .await
}

/// A Response, base64 as the HTTP-POST binding sends it, posted by the browser to the ACS of
/// `alias`.
pub async fn post_encoded(rp: &RelyingParty<'_>, alias: &str, encoded: String) -> Landing {
    Landing::of(
        rp.post_form(
            &format!("/broker/{alias}/endpoint"),
            &[("SAMLResponse", encoded), ("RelayState", String::new())],
        )
        .await,
    )
    .await
}

/// A browser's whole login answered by `file`.
pub(crate) async fn login_answered_by<'a>(
    server: &'a TestServer,
    file: &str,
) -> (RelyingParty<'a>, Landing) {
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
        assert!(linked_user(&server, "alice@acme.test").is_none());
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
        // Vestibule's key to encrypt to, made once and kept: the next fetch shows the same one.
        assert!(xml.contains("use=\"encryption\""), "{xml}");
        let certificate = |xml: &str| {
            let at = xml.find("X509Certificate>").expect("a certificate") + 16;
            xml[at..at + xml[at..].find('<').unwrap()].to_string()
        };
        let again = descriptor(&server).await;
        assert_eq!(certificate(&again), certificate(&xml));
        let der = base64::engine::general_purpose::STANDARD
            .decode(certificate(&xml))
            .unwrap();
        let cert = openssl::x509::X509::from_der(&der).expect("an X.509 certificate");
        assert!(cert.public_key().unwrap().rsa().is_ok());
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

/// The Entra-style principal: the object id attribute, also the SCIM `externalId`.
pub(crate) const OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
pub(crate) const ALICE_OID: &str = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

both_backends!(
    simplesamlphp_signs_in_a_person_the_directory_pushed_as_the_same_user,
    |backend: Backend| async move { simplesamlphp_login(backend, false).await }
);

both_backends!(
    simplesamlphp_encrypts_the_assertion_to_the_key_vestibule_publishes,
    |backend: Backend| async move { simplesamlphp_login(backend, true).await }
);

/// alice@acme.test as acme's directory pushes her, `external_id` her object id; her user id.
pub async fn push_alice(server: &TestServer, acme: &Tenant, external_id: &str) -> String {
    let pushed = server
        .scim(acme)
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alice@acme.test",
                "externalId": external_id,
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "alice@acme.test"}],
            }),
        )
        .await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    pushed.id()
}

/// A person the directory pushed signs in through SimpleSAMLphp, which reads Vestibule's SP
/// metadata unchanged (and, when `encrypted`, encrypts the assertion to its key).
async fn simplesamlphp_login(backend: Backend, encrypted: bool) {
    {
        use crate::common::saml_peer::{SamlPeer, SamlPeerConfig, SamlSp, SamlUser};
        let mut peer = SamlPeer::start(&SamlPeerConfig {
            users: vec![
                SamlUser::new("alice", "alice-saml-password", "alice@acme.test")
                    .attribute(OID, &[ALICE_OID])
                    .attribute("email", &["alice@acme.test"])
                    .attribute("givenName", &["Alice"])
                    .attribute("role", &["MY_PROJECT_SUPER_ADMIN", "MY_PROJECT_VIEWER"]),
            ],
            sps: Vec::new(),
        });
        let acme = tenant("acme");
        let db = TestDb::new(backend);
        let mut idp = saml_idp(&format!(
            "principal_attribute = \"{OID}\"\nexternal_id_claim = \"{OID}\"\n\
             name_id_format = \"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\""
        ));
        idp.metadata_file = None;
        idp.metadata = Some(peer.metadata_xml().to_string());
        let cfg = sp_config(&db, &acme, idp);
        let server = TestServer::start_with(db, cfg, Arc::new(vestibule::clock::SystemClock)).await;
        // acme's directory pushed alice, her externalId the object id.
        let scim_id = push_alice(&server, &acme, ALICE_OID).await;
        // The IdP loads Vestibule's SP metadata unchanged.
        let rp = RelyingParty::new(&server);
        let descriptor = rp
            .browse(
                &format!("/realms/{REALM}/broker/{ALIAS}/endpoint/descriptor"),
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        peer.trust_sp(if encrypted {
            SamlSp::encrypted(&descriptor)
        } else {
            SamlSp::new(&descriptor)
        });
        let sso = to_the_idp(&server, &rp).await;
        assert!(sso.starts_with(&peer.sso_url()), "{sso}");
        let acs = format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", server.base);
        let form = peer
            .browser()
            .sign_in_to(&sso, "alice", "alice-saml-password", &acs)
            .await;
        let reply = rp
            .post_form(
                &format!("/broker/{ALIAS}/endpoint"),
                &[
                    ("SAMLResponse", form.field("SAMLResponse").to_string()),
                    ("RelayState", String::new()),
                ],
            )
            .await;
        let status = reply.status().as_u16();
        let back = reply
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = reply.text().await.unwrap_or_default();
        assert_eq!(status, 302, "{body}\n{}", peer.log());
        let back = back.expect("back to the client");
        let tokens = rp.exchange(WEB, &query_of(&back)["code"]).await;
        // The person the directory pushed, signed in through the IdP: one user, one id.
        assert_eq!(tokens.access["sub"], json!(scim_id));
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert!(tokens.access["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("SUPER_ADMIN")));
        assert_eq!(tokens.id()["given_name"], "Alice");
        // What the IdP sent: the assertion encrypted to Vestibule's key, or in the clear.
        let sent = base64::engine::general_purpose::STANDARD
            .decode(form.field("SAMLResponse"))
            .unwrap();
        let sent = String::from_utf8(sent).unwrap();
        assert_eq!(sent.contains("EncryptedAssertion"), encrypted, "{sent}");
        server.stop().await;
    }
}

/// IdP metadata whose one signing certificate ends in `days` days.
fn metadata_expiring_in(days: u32) -> String {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "expiring").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = base64::engine::general_purpose::STANDARD.encode(b.build().to_der().unwrap());
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test/saml"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// A config file `name` in `dir`: the quickstart realm, acme, and acme's SAML IdP `acme-saml`
/// with `metadata_line`.
pub fn quickstart_saml(dir: &Path, name: &str, metadata_line: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[[realm]]\nname = \"quickstart\"\n[[organization]]\nrealm = \"quickstart\"\n\
             alias = \"acme\"\nname = \"Acme\"\n[[identity_provider]]\nrealm = \"quickstart\"\n\
             alias = \"acme-saml\"\nkind = \"saml\"\norganization = \"acme\"\n{metadata_line}\n"
        ),
    )
    .unwrap();
    path
}

/// `vestibule {args} --config {config}`: whether it succeeded, and what it printed.
pub fn run(config: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(crate::common::daemon::BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("vestibule");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn check_config_and_idp_show_tell_an_operator_what_a_saml_idp_needs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, metadata_line: &str| quickstart_saml(dir.path(), name, metadata_line);
    let expiring = write(
        "expiring.toml",
        &format!("metadata = '''{}'''", metadata_expiring_in(10)),
    );
    let (ok, text) = run(&expiring, &["check-config"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("identity provider quickstart/acme-saml (saml)"),
        "{text}"
    );
    assert!(text.contains("expires within 30 days"), "{text}");
    let (ok, show) = run(
        &expiring,
        &["idp", "show", "--realm", "quickstart", "acme-saml"],
    );
    assert!(ok, "{show}");
    for line in [
        "SP entity ID: http://127.0.0.1:8080/realms/quickstart",
        "ACS (HTTP-POST): http://127.0.0.1:8080/realms/quickstart/broker/acme-saml/endpoint",
        "SP metadata URL: http://127.0.0.1:8080/realms/quickstart/broker/acme-saml/endpoint/descriptor",
        "IdP entity ID: https://idp.test/saml",
        "IdP certificate \"expiring\" (signing): valid ",
    ] {
        assert!(show.contains(line), "{line}\n{show}");
    }
    let (_, list) = run(&expiring, &["idp", "list"]);
    assert!(list.contains("quickstart/acme-saml  saml"), "{list}");
    // Each certificate with its validity, and the one about to expire marked.
    assert!(
        list.lines().any(
            |l| l.contains("IdP certificate \"expiring\" (signing): valid ")
                && l.ends_with("EXPIRES WITHIN 30 DAYS")
        ),
        "{list}"
    );
    // A year's certificate: no warning.
    let fine = write(
        "fine.toml",
        &format!("metadata = '''{}'''", metadata_expiring_in(365)),
    );
    let (ok, text) = run(&fine, &["check-config"]);
    assert!(ok && !text.contains("expires within"), "{text}");
    // Metadata with no certificate to verify signatures with: refused, the key named.
    let unusable = write(
        "unusable.toml",
        &format!(
            "metadata_file = \"{}\"",
            fixture("saml/idp-metadata-no-signing-cert.xml").display()
        ),
    );
    let (ok, text) = run(&unusable, &["check-config"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("metadata_file") && text.contains("no certificate usable for signing"),
        "{text}"
    );
    // An OpenID Connect key on a SAML IdP is named too.
    let mixed = write(
        "mixed.toml",
        &format!(
            "metadata_file = \"{}\"\nclient_id = \"x\"",
            fixture("saml/idp-metadata.xml").display()
        ),
    );
    let (ok, text) = run(&mixed, &["check-config"]);
    assert!(!ok && text.contains("client_id"), "{text}");
}

/// Makes the fixtures' SP key (`sp-enc-key.pem`) this connection's key, as if Vestibule had
/// made it: the encrypted fixtures are encrypted to it.
pub(crate) fn plant_sp_key(server: &TestServer) {
    let mut conn = server.state.db.get().unwrap();
    let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
        .unwrap()
        .unwrap();
    let pem = std::fs::read_to_string(fixture("saml/sp-enc-key.pem")).unwrap();
    let cert = std::fs::read(fixture("saml/sp-enc-cert.pem")).unwrap();
    let der = openssl::x509::X509::from_pem(&cert)
        .unwrap()
        .to_der()
        .unwrap();
    broker::insert_saml_sp_key(
        &mut conn,
        &broker::SamlSpKey {
            id: uuid::Uuid::new_v4().to_string(),
            realm_id: realm.id,
            identity_provider: ALIAS.into(),
            private_pem: pem,
            certificate_der: der,
            created_at: T,
            retired_at: None,
        },
    )
    .unwrap();
}

both_backends!(
    an_encrypted_assertion_is_read_with_the_connections_key_and_checked_like_any,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        // No key of this connection yet: nothing to decrypt with.
        let (_, refused_now) = login_answered_by(&server, "valid-encrypted-gcm.xml").await;
        refused(&refused_now, 400);
        plant_sp_key(&server);
        let (rp, landing) = login_answered_by(&server, "valid-encrypted-aes128-gcm.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let back = landing.location.expect("back to the client");
        let tokens = rp.exchange(WEB, &query_of(&back)["code"]).await;
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert_eq!(tokens.id()["email"], "alice@acme.test");
        for file in [
            "encrypted-assertion-unsigned-response.xml",
            "encrypted-cbc-unsigned-response.xml",
            "encrypted-rsa1_5-key-transport.xml",
        ] {
            let (_, landing) = login_answered_by(&server, file).await;
            assert_eq!(landing.status, 400, "{file}: {}", landing.body);
            refused(&landing, 400);
        }
        server.stop().await;
    }
);
