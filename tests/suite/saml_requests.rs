//! What Vestibule sends a SAML IdP, and the logins it did not ask for (issue 9), through HTTP
//! on both databases: AuthnRequests signed with the connection's SP key over HTTP-Redirect
//! (SAML Bindings §3.4.4.1) and HTTP-POST (an enveloped XML signature), the SP metadata that
//! publishes the keys, their rotation with `vestibule idp rotate-sp-key|retire-sp-key`, the SSO
//! session capped by the IdP's SessionNotOnOrAfter, and IdP-initiated login (off by default;
//! when on, the session opens and the browser lands on the configured client's
//! `initiate_login_uri`, OpenID Connect Core §4).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde_json::json;

use crate::brokering::{code_request, refused, Landing};
use crate::brokering_saml::{
    descriptor, local, login_answered_by, post, start_sp, to_the_idp, ALIAS, T,
};
use crate::common::oidc::{location, query_of, RelyingParty, REDIRECT, WEB};
use crate::common::{fixture, Backend, TestServer, REALM};

const SIG_ALG: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const INITIATE: &str = "http://127.0.0.1:9/initiate";

/// The certificates (DER) of the metadata's KeyDescriptors of `key_use`, in order.
fn certificates(xml: &str, key_use: &str) -> Vec<Vec<u8>> {
    xml.split("<md:KeyDescriptor")
        .skip(1)
        .filter(|d| d.starts_with(&format!(" use=\"{key_use}\"")))
        .map(|d| {
            let at = d.find("X509Certificate>").expect("a certificate") + 16;
            B64.decode(&d[at..at + d[at..].find('<').unwrap()]).unwrap()
        })
        .collect()
}

/// Whether `certificate` verifies the Redirect-binding signature of `url` (the query as
/// sent, up to `&Signature=`).
fn redirect_signed_by(url: &str, certificate: &[u8]) -> bool {
    let query = url.split_once('?').expect("a query").1;
    let (signed, signature) = query.rsplit_once("&Signature=").expect("a Signature");
    let signature = url::form_urlencoded::parse(format!("s={signature}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let key = X509::from_der(certificate).unwrap().public_key().unwrap();
    let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
    verifier.update(signed.as_bytes()).unwrap();
    verifier
        .verify(&B64.decode(signature).unwrap())
        .unwrap_or(false)
}

both_backends!(
    authn_requests_are_signed_with_the_key_the_sp_metadata_publishes,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let rp = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &rp).await;
        let query = query_of(&sso);
        assert_eq!(query["SigAlg"], SIG_ALG);
        let metadata = descriptor(&server).await;
        assert!(
            metadata.contains("AuthnRequestsSigned=\"true\""),
            "{metadata}"
        );
        // Logout messages come to the ACS's own URL, over HTTP-Redirect.
        assert!(
            metadata.contains(&format!(
                "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"",
                crate::brokering_saml::ACS
            )),
            "{metadata}"
        );
        let signing = certificates(&metadata, "signing");
        assert_eq!(signing.len(), 1, "{metadata}");
        assert_eq!(signing, certificates(&metadata, "encryption"));
        assert!(redirect_signed_by(&sso, &signing[0]));
        // A changed byte of the query breaks it: the signature covers the request.
        let tampered = sso.replacen("SAMLRequest=", "SAMLRequest=A", 1);
        assert!(!redirect_signed_by(&tampered, &signing[0]));
        // Another key does not verify it.
        let other = std::fs::read(fixture("saml/sp-enc-cert.pem")).unwrap();
        let other = X509::from_pem(&other).unwrap().to_der().unwrap();
        assert!(!redirect_signed_by(&sso, &other));
        server.stop().await;
    }
);

both_backends!(
    with_sign_authn_requests_off_requests_and_metadata_say_so,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            c.identity_providers[0].sign_authn_requests = false;
        })
        .await;
        let rp = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &rp).await;
        let query = query_of(&sso);
        assert!(!query.contains_key("SigAlg") && !query.contains_key("Signature"));
        let metadata = descriptor(&server).await;
        assert!(
            metadata.contains("AuthnRequestsSigned=\"false\""),
            "{metadata}"
        );
        assert!(certificates(&metadata, "signing").is_empty(), "{metadata}");
        assert_eq!(certificates(&metadata, "encryption").len(), 1);
        server.stop().await;
    }
);

both_backends!(
    the_post_binding_sends_an_enveloped_signed_authn_request_in_a_form,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            c.identity_providers[0].authn_request_binding = vestibule::config::SamlBinding::Post;
        })
        .await;
        let rp = RelyingParty::new(&server);
        let query = code_request(&[("organization", "acme")]);
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let broker = location(&rp.authorize(&pairs, None).await);
        let reply = rp.browse(&local(&server, &broker), None).await;
        assert_eq!(reply.status(), 200);
        let page = reply.text().await.unwrap();
        assert!(
            page.replace("&#x2f;", "/")
                .contains("<form method=\"post\" action=\"https://idp.test/saml/sso\">"),
            "{page}"
        );
        let encoded = crate::common::oidc::hidden(&page, "SAMLRequest")
            .expect("SAMLRequest")
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=")
            .replace("&#x2b;", "+");
        let xml = String::from_utf8(B64.decode(encoded).unwrap()).unwrap();
        assert!(
            xml.contains("Destination=\"https://idp.test/saml/sso\""),
            "{xml}"
        );
        assert!(xml.contains("SignatureValue"), "{xml}");
        // SHA-256 throughout: what we refuse from IdPs we do not send them.
        assert!(!xml.contains("sha1"), "{xml}");
        assert!(
            xml.contains("http://www.w3.org/2001/04/xmlenc#sha256"),
            "{xml}"
        );
        let signing = certificates(&descriptor(&server).await, "signing");
        let cert: samael::crypto::CertificateDer = signing[0].clone().into();
        use samael::crypto::CryptoProvider;
        samael::crypto::Crypto::verify_signed_xml(&xml, &cert, Some("ID"))
            .expect("the request verifies with the published certificate");
        let forged = xml.replacen("ForceAuthn", "IsPassive", 1).replacen(
            "https://idp.test/saml/sso",
            "https://evil.test/sso",
            1,
        );
        assert!(samael::crypto::Crypto::verify_signed_xml(&forged, &cert, Some("ID")).is_err());
        server.stop().await;
    }
);

both_backends!(
    sp_keys_rotate_with_both_published_and_the_old_one_signing_until_retired,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let dir = tempfile::tempdir().unwrap();
        // The operator's config, naming the same realm and connection.
        let config = dir.path().join("vestibule.toml");
        std::fs::write(
            &config,
            format!(
                "[[realm]]\nname = \"{REALM}\"\n[[identity_provider]]\nrealm = \"{REALM}\"\n\
                 alias = \"{ALIAS}\"\nkind = \"saml\"\nmetadata_file = \"{}\"\n",
                fixture("saml/idp-metadata.xml").display()
            ),
        )
        .unwrap();
        let cli = |args: &[&str]| {
            let mut all = vec!["idp"];
            all.extend_from_slice(args);
            all.extend_from_slice(&["--realm", REALM, ALIAS]);
            crate::cli::vestibule(&config, &server.db.url, &[], &all)
        };
        // The first key is made by the first metadata fetch.
        let first = certificates(&descriptor(&server).await, "signing");
        assert_eq!(first.len(), 1);
        let (ok, out, err) = cli(&["retire-sp-key"]);
        assert!(!ok && err.contains("add its successor first"), "{out}{err}");
        // The successor, made as of the server's clock (`idp rotate-sp-key` uses the system's,
        // years before the fixtures' instant the server runs at; it is run below).
        let out = {
            let mut conn = server.state.db.get().unwrap();
            vestibule::admin::rotate_saml_sp_key(
                &mut conn,
                &server.state.config,
                REALM,
                ALIAS,
                T + 1,
            )
            .unwrap()
            .join("\n")
                + "\n"
        };
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.lines().last().unwrap().contains("signs,"), "{out}");
        assert!(!out.lines().next().unwrap().contains("signs,"), "{out}");
        // Both published; the old one still signs, the new one signs nothing yet.
        let both = certificates(&descriptor(&server).await, "signing");
        assert_eq!(both.len(), 2);
        assert!(both.contains(&first[0]));
        let next = both.iter().find(|c| **c != first[0]).unwrap().clone();
        let rp = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &rp).await;
        assert!(redirect_signed_by(&sso, &first[0]));
        assert!(!redirect_signed_by(&sso, &next));
        let (ok, listed, _) = cli(&["sp-keys"]);
        assert!(ok && listed == out, "{listed}");
        // Retired: only the successor is published, and it signs.
        let (ok, out, err) = cli(&["retire-sp-key"]);
        assert!(ok, "{err}");
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(
            certificates(&descriptor(&server).await, "signing"),
            vec![next.clone()]
        );
        let sso = to_the_idp(&server, &RelyingParty::new(&server)).await;
        assert!(redirect_signed_by(&sso, &next));
        assert!(!redirect_signed_by(&sso, &first[0]));
        // The command adds a key beside it.
        let (ok, out, err) = cli(&["rotate-sp-key"]);
        assert!(ok, "{err}");
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!(certificates(&descriptor(&server).await, "signing").len(), 2);
        // A connection that is not a SAML IdP of the realm has no keys to rotate.
        let (ok, _, err) = crate::cli::vestibule(
            &config,
            &server.db.url,
            &[],
            &["idp", "rotate-sp-key", "--realm", REALM, "nobody"],
        );
        assert!(!ok && err.contains("no SAML identity provider"), "{err}");
        server.stop().await;
    }
);

both_backends!(
    the_sso_session_ends_when_the_idps_session_does,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let (_, landing) = login_answered_by(&server, "valid-signed-assertion.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        // SessionNotOnOrAfter is 2030-01-01T08:00:00Z, sooner than the realm's maximum.
        let cookie = landing.sso_cookie.expect("the SSO cookie");
        let mut conn = server.state.db.get().unwrap();
        let session = vestibule::db::models::sessions::session_by_cookie(
            &mut conn,
            &vestibule::issuer::tokens::sha256_hex(&cookie),
        )
        .unwrap()
        .expect("the session");
        assert_eq!(session.expires_at, T + 8 * 3600 * 1_000_000);
        server.stop().await;
    }
);

/// Lets the SAML connection take IdP-initiated logins, landing on client `web`.
fn allow_idp_initiated(c: &mut vestibule::config::Config) {
    let idp = &mut c.identity_providers[0];
    idp.allow_idp_initiated = true;
    idp.idp_initiated_client = Some("web".into());
    let web = c.clients.iter_mut().find(|c| c.client_id == "web").unwrap();
    web.initiate_login_uri = Some(INITIATE.into());
}

/// A server whose SAML connection lets IdP-initiated logins in, landing on client `web`.
async fn idp_initiated_sp(backend: Backend) -> TestServer {
    start_sp(backend, |c| {
        allow_idp_initiated(c);
    })
    .await
}

both_backends!(
    an_idp_initiated_login_lands_on_the_client_which_then_signs_in_silently,
    |backend: Backend| async move {
        let server = idp_initiated_sp(backend).await;
        // The IdP posts a Response nobody asked for, from a browser Vestibule never saw.
        let browser = RelyingParty::new(&server);
        let landing = post(&browser, ALIAS, "valid-idp-initiated.xml").await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let to = landing.location.clone().expect("to the client");
        assert!(to.starts_with(&format!("{INITIATE}?")), "{to}");
        assert_eq!(query_of(&to)["iss"], "https://sp.test/realms/test");
        let sso = landing.sso_cookie.clone().expect("an SSO session");
        // The client starts its own request (its state, PKCE); the session answers it.
        let query = code_request(&[]);
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let reply = browser.authorize(&pairs, Some(&sso)).await;
        assert_eq!(reply.status(), 302);
        let back = location(&reply);
        assert!(back.starts_with(REDIRECT), "{back}");
        let back = query_of(&back);
        assert_eq!(back["state"], "client-state");
        let tokens = browser.exchange(WEB, &back["code"]).await;
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert_eq!(tokens.id()["email"], "alice@acme.test");
        // Replayed, the same Response opens nothing.
        let again = post(
            &RelyingParty::new(&server),
            ALIAS,
            "valid-idp-initiated.xml",
        )
        .await;
        refused(&again, 400);
        server.stop().await;
    }
);

both_backends!(
    with_idp_initiated_login_on_a_response_naming_a_request_must_still_answer_ours,
    |backend: Backend| async move {
        let server = idp_initiated_sp(backend).await;
        let rp = RelyingParty::new(&server);
        // It names a request Vestibule never sent.
        let landing = post(&rp, ALIAS, "unsolicited-with-unknown-inresponseto.xml").await;
        refused(&landing, 400);
        // A response to a request, posted by a browser that did not send it.
        let victim = RelyingParty::new(&server);
        let sso = to_the_idp(&server, &victim).await;
        crate::brokering_saml::plant(&server, &crate::brokering_saml::request_id(&sso));
        let attacker = RelyingParty::new(&server);
        refused(
            &post(&attacker, ALIAS, "valid-signed-assertion.xml").await,
            400,
        );
        // An IdP-initiated Response is checked like any: a forged one opens nothing.
        let forged = post(
            &RelyingParty::new(&server),
            ALIAS,
            "signed-by-attacker-key.xml",
        )
        .await;
        refused(&forged, 400);
        server.stop().await;
    }
);

both_backends!(
    a_disabled_connection_takes_no_idp_initiated_login,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            allow_idp_initiated(c);
            c.identity_providers[0].enabled = false;
        })
        .await;
        let landing: Landing = post(
            &RelyingParty::new(&server),
            ALIAS,
            "valid-idp-initiated.xml",
        )
        .await;
        refused(&landing, 403);
        server.stop().await;
    }
);

#[test]
fn idp_initiated_login_needs_a_client_with_an_initiate_login_uri() {
    let dir = tempfile::tempdir().unwrap();
    let check = |idp_extra: &str, client_extra: &str| {
        let path = dir.path().join("vestibule.toml");
        std::fs::write(
            &path,
            format!(
                "[[realm]]\nname = \"q\"\n[[client]]\nrealm = \"q\"\nclient_id = \"web\"\n\
                 confidential = false\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n{client_extra}\n\
                 [[identity_provider]]\nrealm = \"q\"\nalias = \"acme-saml\"\nkind = \"saml\"\n\
                 metadata_file = \"{}\"\nallow_idp_initiated = true\n{idp_extra}\n",
                fixture("saml/idp-metadata.xml").display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(crate::common::daemon::BIN)
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .expect("vestibule");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = check("", "");
    assert!(!ok && text.contains("idp_initiated_client"), "{text}");
    let (ok, text) = check("idp_initiated_client = \"web\"", "");
    assert!(!ok && text.contains("initiate_login_uri"), "{text}");
    let (ok, text) = check(
        "idp_initiated_client = \"web\"",
        "initiate_login_uri = \"not a url\"",
    );
    assert!(!ok && text.contains("initiate_login_uri"), "{text}");
    let (ok, text) = check(
        "idp_initiated_client = \"web\"",
        "initiate_login_uri = \"https://app.test/login\"",
    );
    assert!(ok, "{text}");
}

both_backends!(
    a_disabled_organization_takes_no_idp_initiated_login,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| {
            allow_idp_initiated(c);
            let acme = c
                .organizations
                .iter_mut()
                .find(|o| o.alias == "acme")
                .unwrap();
            acme.enabled = false;
        })
        .await;
        let landing = post(
            &RelyingParty::new(&server),
            ALIAS,
            "valid-idp-initiated.xml",
        )
        .await;
        refused(&landing, 403);
        // Nobody arrived: no user was made for the assertion's subject.
        assert!(crate::brokering_saml::linked_user(&server, "alice@acme.test").is_none());
        server.stop().await;
    }
);

both_backends!(
    force_authn_asks_the_idp_to_authenticate_again,
    |backend: Backend| async move {
        let server = start_sp(backend, |c| c.identity_providers[0].force_authn = true).await;
        let sso = to_the_idp(&server, &RelyingParty::new(&server)).await;
        let request = crate::brokering_saml::authn_request(&sso);
        assert!(request.contains("ForceAuthn=\"true\""), "{request}");
        server.stop().await;
        let server = start_sp(backend, |_| {}).await;
        let sso = to_the_idp(&server, &RelyingParty::new(&server)).await;
        let request = crate::brokering_saml::authn_request(&sso);
        assert!(!request.contains("ForceAuthn"), "{request}");
        server.stop().await;
    }
);

both_backends!(
    a_one_time_use_assertion_signs_in_once,
    |backend: Backend| async move {
        let server = start_sp(backend, |_| {}).await;
        let (_, first) = login_answered_by(&server, "valid-one-time-use.xml").await;
        assert_eq!(first.status, 302, "{}", first.body);
        let (_, second) = login_answered_by(&server, "valid-one-time-use.xml").await;
        refused(&second, 400);
        server.stop().await;
    }
);

both_backends!(
    a_disabled_user_takes_no_idp_initiated_login,
    |backend: Backend| async move {
        let acme = crate::common::tenant("acme");
        let clock = std::sync::Arc::new(vestibule::clock::FixedClock::new(T));
        let server = crate::brokering_saml::serve_sp(
            crate::common::TestDb::new(backend),
            &acme,
            clock,
            |c| {
                allow_idp_initiated(c);
                c.identity_providers[0].external_id_claim = Some("name_id".into());
            },
        )
        .await;
        // alice, as her directory pushed her: disabled.
        crate::saml_logout::push_alice(&server, &acme, false).await;
        let before = crate::saml_entry_points::rows(&server.state.db);
        let landing = post(
            &RelyingParty::new(&server),
            ALIAS,
            "valid-idp-initiated.xml",
        )
        .await;
        refused(&landing, 403);
        assert!(
            landing.body.contains("This account is disabled."),
            "{}",
            landing.body
        );
        assert_eq!(crate::saml_entry_points::rows(&server.state.db), before);
        server.stop().await;
    }
);
