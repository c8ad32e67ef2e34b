//! SAML single logout both ways (issue 9, SAML Profiles §4.4) through HTTP on both databases:
//! against SimpleSAMLphp (Vestibule's logout goes on to the IdP with a signed LogoutRequest and
//! comes back to the client; the IdP's own logout reaches Vestibule, ends the session and is
//! answered with a signed LogoutResponse), and against forged logout messages signed with the
//! fixtures' IdP key, each refused without ending anything.

use std::sync::Arc;

use serde_json::Value;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::brokering::Landing;
use crate::brokering_saml::{
    descriptor, login_answered_by, saml_idp, sp_config, start_sp, to_the_idp, ACS, ALIAS,
};
use crate::common::oidc::{location, query_of, RelyingParty, Tokens, WEB};
use crate::common::saml_peer::{
    certificate_pem, redirect_binding_message, redirect_binding_signature_verifies,
    redirect_binding_url, signed_redirect_binding_url, SamlBrowser, SamlPeer, SamlPeerConfig,
    SamlSp, SamlUser, SamlVisit,
};
use crate::common::{fixture, tenant, Backend, TestDb, TestServer, REALM};

const BACK: &str = "http://127.0.0.1:9/";
const PASSWORD: &str = "alice-saml-password";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// `reply`'s Location, also for a redirect the test does not follow.
fn redirect(reply: &reqwest::Response) -> String {
    assert_eq!(reply.status(), 302, "{:?}", reply.headers());
    location(reply)
}

fn attr(xml: &str, element: &str, name: &str) -> Option<String> {
    let at = xml.find(&format!("<{element} "))?;
    let tag = &xml[at..at + xml[at..].find('>')?];
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(tag[start..start + tag[start..].find('"')?].to_string())
}

fn text(xml: &str, element: &str) -> String {
    let at = xml.find(&format!("<{element}")).expect(element);
    let start = at + xml[at..].find('>').unwrap() + 1;
    xml[start..start + xml[start..].find('<').unwrap()].to_string()
}

/// The PEM of the first `use="signing"` certificate of SP metadata.
fn signing_cert_pem(metadata: &str) -> String {
    let at = metadata.find("use=\"signing\"").expect("a signing key");
    certificate_pem(&text(&metadata[at..], "ds:X509Certificate"))
}

/// SimpleSAMLphp with alice, and Vestibule trusting it and trusted by it: the peer, the
/// server, and Vestibule's SP metadata.
async fn simplesamlphp_and_vestibule(backend: Backend) -> (SamlPeer, TestServer, String) {
    let mut peer = SamlPeer::start(&SamlPeerConfig {
        users: vec![SamlUser::new("alice", PASSWORD, "alice@acme.test")
            .attribute("email", &["alice@acme.test"])],
        sps: Vec::new(),
    });
    let db = TestDb::new(backend);
    let mut idp =
        saml_idp("name_id_format = \"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"");
    idp.metadata_file = None;
    idp.metadata = Some(peer.metadata_xml().to_string());
    let cfg = sp_config(&db, &tenant("acme"), idp);
    let server = TestServer::start_with(db, cfg, Arc::new(vestibule::clock::SystemClock)).await;
    let descriptor = descriptor(&server).await;
    peer.trust_sp(SamlSp::new(&descriptor));
    (peer, server, descriptor)
}

/// alice signed in to the client through SimpleSAMLphp in the IdP's `browser`.
struct SignedIn {
    sso_cookie: String,
    tokens: Tokens,
    session_index: String,
}

async fn sign_in(
    peer: &SamlPeer,
    server: &TestServer,
    rp: &RelyingParty<'_>,
    browser: &SamlBrowser<'_>,
) -> SignedIn {
    let sso = to_the_idp(server, rp).await;
    let acs = format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", server.base);
    let form = browser.sign_in_to(&sso, "alice", PASSWORD, &acs).await;
    let landing = Landing::of(
        rp.post_form(
            &format!("/broker/{ALIAS}/endpoint"),
            &[("SAMLResponse", form.field("SAMLResponse").to_string())],
        )
        .await,
    )
    .await;
    assert_eq!(landing.status, 302, "{}\n{}", landing.body, peer.log());
    let sent = String::from_utf8(B64.decode(form.field("SAMLResponse")).unwrap()).unwrap();
    let code = query_of(&landing.location.unwrap())["code"].clone();
    SignedIn {
        sso_cookie: landing.sso_cookie.expect("an SSO session"),
        tokens: rp.exchange(WEB, &code).await,
        session_index: attr(&sent, "saml:AuthnStatement", "SessionIndex").expect("SessionIndex"),
    }
}

both_backends!(
    logging_out_goes_on_to_simplesamlphp_and_back_to_the_client,
    |backend: Backend| async move {
        let (peer, server, descriptor) = simplesamlphp_and_vestibule(backend).await;
        let idp_browser = peer.browser();
        let rp = RelyingParty::new(&server);
        let alice = sign_in(&peer, &server, &rp, &idp_browser).await;
        let logout = format!(
            "/realms/{REALM}/protocol/openid-connect/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            alice.tokens.id_token(),
            url::form_urlencoded::byte_serialize(BACK.as_bytes()).collect::<String>()
        );
        let to_idp = redirect(&rp.browse(&logout, Some(&alice.sso_cookie)).await);
        assert!(
            to_idp.starts_with(&format!("{}?", peer.slo_url())),
            "{to_idp}"
        );
        let request = redirect_binding_message(&to_idp, "SAMLRequest");
        assert_eq!(text(&request, "saml:NameID"), "alice@acme.test");
        assert_eq!(
            attr(&request, "saml:NameID", "Format").as_deref(),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        );
        assert_eq!(text(&request, "samlp:SessionIndex"), alice.session_index);
        assert_eq!(
            text(&request, "saml:Issuer"),
            format!("{}/realms/{REALM}", server.base)
        );
        assert!(redirect_binding_signature_verifies(
            &to_idp,
            &signing_cert_pem(&descriptor)
        ));
        // Signed out here already.
        assert_eq!(rp.userinfo_status(alice.tokens.access_token()).await, 401);
        // SimpleSAMLphp ends its session and answers; Vestibule sends the browser on.
        let SamlVisit::Redirect(answer) = idp_browser.visit(&to_idp).await else {
            panic!("no LogoutResponse\n{}", peer.log());
        };
        let acs = format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", server.base);
        assert!(
            answer.starts_with(&format!("{acs}?SAMLResponse=")),
            "{answer}"
        );
        let done = redirect(&rp.browse(&answer, None).await);
        assert_eq!(done, format!("{BACK}?state=bye"));
        // Taken once: the same answer again is refused.
        assert_eq!(rp.browse(&answer, None).await.status(), 400);
        // The IdP's session is over: its login page shows again.
        let sso = to_the_idp(&server, &RelyingParty::new(&server)).await;
        assert!(matches!(idp_browser.visit(&sso).await, SamlVisit::Form(_)));
        drop(idp_browser);
        server.stop().await;
    }
);

both_backends!(
    simplesamlphps_logout_ends_the_session_here_and_gets_a_signed_answer,
    |backend: Backend| async move {
        let (peer, server, descriptor) = simplesamlphp_and_vestibule(backend).await;
        // Two IdP sessions (two browsers at the IdP): the IdP's logout of one ends only the
        // Vestibule session that one opened.
        let (other_browser, idp_browser) = (peer.browser(), peer.browser());
        let other = sign_in(&peer, &server, &RelyingParty::new(&server), &other_browser).await;
        let alice = sign_in(&peer, &server, &RelyingParty::new(&server), &idp_browser).await;
        assert_ne!(other.session_index, alice.session_index);
        let return_to = "http://127.0.0.1:9/signed-out";
        let SamlVisit::Redirect(to_sp) = idp_browser.visit(&peer.logout_url(return_to)).await
        else {
            panic!("no LogoutRequest to Vestibule\n{}", peer.log());
        };
        let acs = format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", server.base);
        assert!(to_sp.starts_with(&format!("{acs}?SAMLRequest=")), "{to_sp}");
        let rp = RelyingParty::new(&server);
        let answer = redirect(&rp.browse(&to_sp, None).await);
        assert!(
            answer.starts_with(&format!("{}?", peer.slo_url())),
            "{answer}"
        );
        let response = redirect_binding_message(&answer, "SAMLResponse");
        assert_eq!(
            attr(&response, "samlp:StatusCode", "Value").as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:status:Success")
        );
        assert!(redirect_binding_signature_verifies(
            &answer,
            &signing_cert_pem(&descriptor)
        ));
        // The session that IdP session opened is over, its refresh token with it.
        assert_eq!(rp.userinfo_status(alice.tokens.access_token()).await, 401);
        assert!(!refreshes(&server, &alice.tokens).await);
        // Replayed, the LogoutRequest is refused.
        assert_eq!(rp.browse(&to_sp, None).await.status(), 400);
        let SamlVisit::Redirect(done) = idp_browser.visit(&answer).await else {
            panic!("the IdP did not finish\n{}", peer.log());
        };
        assert_eq!(done, return_to);
        // The other one is untouched.
        assert!(refreshes(&server, &other.tokens).await);
        drop((other_browser, idp_browser));
        server.stop().await;
    }
);

async fn refreshes(server: &TestServer, tokens: &Tokens) -> bool {
    let (status, _): (u16, Value) = RelyingParty::new(server)
        .token(
            WEB,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh_token()),
            ],
        )
        .await;
    status == 200
}

/// A LogoutRequest as the fixtures' IdP would send it for alice's fixture session.
fn logout_request(id: &str, destination: &str, issuer: &str, extra_root: &str) -> String {
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"2030-01-01T00:00:00Z\" Destination=\"{destination}\"{extra_root}>\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">alice@acme.test</saml:NameID>\
         <samlp:SessionIndex>_vst_session_vst_assert_valid_signed_assertion</samlp:SessionIndex>\
         </samlp:LogoutRequest>"
    )
}

const FIXTURE_IDP: &str = "https://idp.test/saml/metadata";

fn key(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("saml/{name}"))).unwrap()
}

/// The path and query of a URL at the server's public host.
fn at_sp(url: &str) -> String {
    url.strip_prefix("https://sp.test").unwrap().to_string()
}

both_backends!(
    forged_logout_messages_end_nothing,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let (rp, landing) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let tokens = rp
            .exchange(WEB, &query_of(&landing.location.unwrap())["code"])
            .await;
        let alive = || async { rp.userinfo_status(tokens.access_token()).await == 200 };
        assert!(alive().await);
        let idp_key = key("idp-key.pem");
        let request = logout_request("_lo1", ACS, FIXTURE_IDP, "");
        let sha1 = {
            // SigAlg rsa-sha1, otherwise well signed.
            let signed = signed_redirect_binding_url(ACS, "SAMLRequest", &request, None, &idp_key);
            signed.replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1")
        };
        for (why, url) in [
            ("unsigned", redirect_binding_url(ACS, "SAMLRequest", &request, None)),
            (
                "signed by another key",
                signed_redirect_binding_url(ACS, "SAMLRequest", &request, None, &key("attacker-key.pem")),
            ),
            (
                "another connection's Destination",
                signed_redirect_binding_url(
                    ACS,
                    "SAMLRequest",
                    &logout_request("_lo2", "https://sp.test/realms/test/broker/other/endpoint", FIXTURE_IDP, ""),
                    None,
                    &idp_key,
                ),
            ),
            (
                "another Issuer",
                signed_redirect_binding_url(
                    ACS,
                    "SAMLRequest",
                    &logout_request("_lo3", ACS, "https://evil.test/idp", ""),
                    None,
                    &idp_key,
                ),
            ),
            (
                "expired",
                signed_redirect_binding_url(
                    ACS,
                    "SAMLRequest",
                    &logout_request("_lo4", ACS, FIXTURE_IDP, " NotOnOrAfter=\"2029-12-31T23:50:00Z\""),
                    None,
                    &idp_key,
                ),
            ),
            ("SHA-1", sha1),
            (
                "a tampered signed query",
                signed_redirect_binding_url(ACS, "SAMLRequest", &request, Some("r1"), &idp_key)
                    .replace("RelayState=r1", "RelayState=r2"),
            ),
            (
                "an answer to no request of ours",
                signed_redirect_binding_url(
                    ACS,
                    "SAMLResponse",
                    &format!(
                        "<samlp:LogoutResponse xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"_r1\" Version=\"2.0\" \
                         IssueInstant=\"2030-01-01T00:00:00Z\" Destination=\"{ACS}\" InResponseTo=\"_never_sent\">\
                         <saml:Issuer>{FIXTURE_IDP}</saml:Issuer><samlp:Status><samlp:StatusCode \
                         Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:LogoutResponse>"
                    ),
                    None,
                    &idp_key,
                ),
            ),
        ] {
            let reply = rp.browse(&at_sp(&url), None).await;
            assert_eq!(reply.status(), 400, "{why}");
            let body = reply.text().await.unwrap();
            assert!(body.contains("id=\"correlation\""), "{why}: {body}");
            assert!(alive().await, "{why} ended the session");
        }
        // The genuine one ends it, answered with a signed LogoutResponse to the IdP's SLO.
        let genuine =
            signed_redirect_binding_url(ACS, "SAMLRequest", &request, Some("relay"), &idp_key);
        let answer = redirect(&rp.browse(&at_sp(&genuine), None).await);
        assert!(
            answer.starts_with("https://idp.test/saml/slo?SAMLResponse="),
            "{answer}"
        );
        assert_eq!(query_of(&answer)["RelayState"], "relay");
        let response = redirect_binding_message(&answer, "SAMLResponse");
        assert_eq!(
            attr(&response, "samlp:LogoutResponse", "InResponseTo").as_deref(),
            Some("_lo1")
        );
        assert!(!alive().await);
        server.stop().await;
    }
);

both_backends!(
    a_disabled_connection_takes_no_logout_request,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| c.identity_providers[0].enabled = false).await;
        let request = logout_request("_lo1", ACS, FIXTURE_IDP, "");
        let url =
            signed_redirect_binding_url(ACS, "SAMLRequest", &request, None, &key("idp-key.pem"));
        let reply = RelyingParty::new(&server).browse(&at_sp(&url), None).await;
        assert_eq!(reply.status(), 403);
        server.stop().await;
    }
);

both_backends!(
    a_disabled_organizations_connection_takes_no_logout_request,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            let acme = c
                .organizations
                .iter_mut()
                .find(|o| o.alias == "acme")
                .unwrap();
            acme.enabled = false;
        })
        .await;
        let request = logout_request("_lo1", ACS, FIXTURE_IDP, "");
        let url =
            signed_redirect_binding_url(ACS, "SAMLRequest", &request, None, &key("idp-key.pem"));
        let reply = RelyingParty::new(&server).browse(&at_sp(&url), None).await;
        assert_eq!(reply.status(), 403);
        server.stop().await;
    }
);

/// alice, pushed by acme's directory (`active` as given), her externalId the NameID the
/// fixtures' IdP asserts: a SAML login matching `name_id` to it links to her.
pub(crate) async fn push_alice(
    server: &TestServer,
    acme: &crate::common::Tenant,
    active: bool,
) -> String {
    let pushed = server
        .scim(acme)
        .post(
            "/Users",
            &serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alice@acme.test",
                "externalId": "alice@acme.test",
                "active": active,
                "emails": [{"primary": true, "type": "work", "value": "alice@acme.test"}],
            }),
        )
        .await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    pushed.id()
}

/// acme's directory sets alice's `active`.
async fn set_active(server: &TestServer, acme: &crate::common::Tenant, id: &str, active: bool) {
    let reply = server
        .scim(acme)
        .patch(
            &format!("/Users/{id}"),
            &serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": active}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

both_backends!(
    a_logout_request_for_a_disabled_user_is_refused_and_changes_nothing,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let clock = Arc::new(vestibule::clock::FixedClock::new(crate::brokering_saml::T));
        let server = crate::brokering_saml::serve_sp(TestDb::new(backend), &acme, clock, |c| {
            // The directory's externalId is the NameID the fixtures' IdP asserts.
            c.identity_providers[0].external_id_claim = Some("name_id".into());
        })
        .await;
        let alice = push_alice(&server, &acme, true).await;
        let (rp, landing) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let tokens = rp
            .exchange(WEB, &query_of(&landing.location.unwrap())["code"])
            .await;
        assert_eq!(tokens.access["sub"], serde_json::json!(alice));
        set_active(&server, &acme, &alice, false).await;
        let before = crate::saml_entry_points::rows(&server.state.db);
        let request = logout_request("_lo9", ACS, FIXTURE_IDP, "");
        let url =
            signed_redirect_binding_url(ACS, "SAMLRequest", &request, None, &key("idp-key.pem"));
        let reply = rp.browse(&at_sp(&url), None).await;
        assert_eq!(reply.status(), 403);
        assert!(reply
            .text()
            .await
            .unwrap()
            .contains("This account is disabled."));
        assert_eq!(crate::saml_entry_points::rows(&server.state.db), before);
        // Nothing was recorded either: enabled again, the same request is taken (not a replay).
        set_active(&server, &acme, &alice, true).await;
        let answer = redirect(&rp.browse(&at_sp(&url), None).await);
        assert!(
            answer.starts_with("https://idp.test/saml/slo?SAMLResponse="),
            "{answer}"
        );
        server.stop().await;
    }
);
