//! The SAML connection's entry points (issue 9), the broker's start and the ACS, through HTTP
//! on both databases, with Responses signed when they are asked for on the real clock
//! (`common::saml_idp`): a replayed Response is refused by a restarted daemon on the same
//! database; a disabled connection, a disabled organization and a disabled user are each
//! refused, and a refusal leaves every user, membership, link, session and code as it was.

use std::path::Path;
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::json;
use vestibule::clock::SystemClock;
use vestibule::config::Config;
use vestibule::db::models::broker;
use vestibule::db::schema::{
    auth_codes, broker_sessions, federated_identities, memberships, sessions, users,
};
use vestibule::issuer::tokens::sha256_hex;

use crate::brokering::{code_request, refused};
use crate::brokering_saml::{post_encoded, saml_idp, serve_sp, to_the_idp, ACS, ALIAS};
use crate::common::daemon::{free_port, Daemon};
use crate::common::oidc::{
    authorization_code, cookie_set_in, hidden, query_of, RelyingParty, REDIRECT, WEB,
};
use crate::common::saml_idp::{self, Addressee, Idp};
use crate::common::{fixture, tenant, Backend, Tenant, TestDb, TestServer, REALM};

/// Our entity ID behind `brokering_saml::PUBLIC_URL`.
const SP_ENTITY: &str = "https://sp.test/realms/test";
/// Entra's object id attribute, the principal's `externalId` in the organization's directory.
const OID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

fn idp() -> Idp {
    Idp::load().expect("the fixtures' IdP key")
}

/// How many users, memberships, links to IdPs, sessions, brokered sessions and codes the
/// database holds: what a refused login must leave as it was.
pub(crate) fn rows(db: &vestibule::db::Db) -> [i64; 6] {
    let mut conn = db.get().expect("connection");
    let conn = &mut conn;
    [
        users::table.count().get_result(conn),
        memberships::table.count().get_result(conn),
        federated_identities::table.count().get_result(conn),
        sessions::table.count().get_result(conn),
        broker_sessions::table.count().get_result(conn),
        auth_codes::table.count().get_result(conn),
    ]
    .map(|n| n.expect("count"))
}

/// The way to the IdP of `rp`'s acme login, and the IdP's signed answer about `name_id`.
async fn answered(
    server: &TestServer,
    rp: &RelyingParty<'_>,
    name_id: &str,
    attributes: &[(&str, &str)],
) -> String {
    let sso = to_the_idp(server, rp).await;
    let request_id = saml_idp::request_id(&sso).expect("an AuthnRequest ID");
    idp()
        .signed(&Addressee {
            request_id: &request_id,
            acs: ACS,
            audience: SP_ENTITY,
            name_id,
            attributes,
        })
        .expect("a signed Response")
}

/// A login transaction of `rp` (the login page's), handed to the broker's start: its status
/// and page.
async fn broker_start(rp: &RelyingParty<'_>) -> (u16, String) {
    let query = code_request(&[]);
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let page = rp.login_page(&pairs).await;
    let request = hidden(&page, "request").expect("a login transaction");
    let reply = rp
        .browse(
            &format!("/realms/{REALM}/broker/{ALIAS}/login?request={request}"),
            None,
        )
        .await;
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap_or_default())
}

/// A login of a browser is under way at the IdP when Vestibule restarts with `adjust`ed config
/// on the same database; the IdP's answer then reaches the new instance's ACS and is refused
/// (403, `message`), and so is a new login at the broker's start.
async fn refused_after_a_restart(
    backend: Backend,
    adjust: impl FnOnce(&mut Config),
    message: &str,
) {
    let acme = tenant("acme");
    let server = serve_sp(TestDb::new(backend), &acme, Arc::new(SystemClock), |_| {}).await;
    let rp = RelyingParty::new(&server);
    let response = answered(&server, &rp, "alice@acme.test", &[]).await;
    let cookie = rp.login_cookie();
    let db = server.stop_keeping_db().await;
    let server = serve_sp(db, &acme, Arc::new(SystemClock), adjust).await;
    let rp = RelyingParty::new(&server);
    rp.set_login_cookie(cookie);
    let before = rows(&server.state.db);
    let landing = post_encoded(&rp, ALIAS, response).await;
    refused(&landing, 403);
    assert!(landing.body.contains(message), "{}", landing.body);
    let (status, page) = broker_start(&RelyingParty::new(&server)).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains(message), "{page}");
    assert_eq!(rows(&server.state.db), before);
    server.stop().await;
}

both_backends!(
    a_disabled_connection_is_refused_at_the_acs_and_at_the_broker_start,
    |backend: Backend| async move {
        refused_after_a_restart(
            backend,
            |c| {
                let idp = c.identity_providers.iter_mut().find(|p| p.alias == ALIAS);
                idp.expect("the SAML connection").enabled = false;
            },
            "This identity provider is disabled.",
        )
        .await
    }
);

both_backends!(
    a_disabled_organization_is_refused_at_the_acs_and_at_the_broker_start,
    |backend: Backend| async move {
        refused_after_a_restart(
            backend,
            |c| {
                let org = c.organizations.iter_mut().find(|o| o.alias == "acme");
                org.expect("acme").enabled = false;
            },
            "This organization cannot be signed in to.",
        )
        .await
    }
);

/// bob, whom acme's directory pushed with his object id as `externalId`.
const BOB: &str = "bob@acme.test";
const BOB_OID: &str = "0b0b0b0b-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

async fn push_bob(server: &TestServer, acme: &Tenant) -> String {
    let pushed = server
        .scim(acme)
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": BOB,
                "externalId": BOB_OID,
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": BOB}],
            }),
        )
        .await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    pushed.id()
}

both_backends!(
    a_user_the_directory_disabled_is_refused_at_the_acs,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = serve_sp(TestDb::new(backend), &acme, Arc::new(SystemClock), |c| {
            c.identity_providers[0] = saml_idp(&format!(
                "principal_attribute = \"{OID}\"\nexternal_id_claim = \"{OID}\""
            ));
        })
        .await;
        let bob = push_bob(&server, &acme).await;
        // bob signs in through the IdP once: the user the directory pushed, now linked.
        let rp = RelyingParty::new(&server);
        let response = answered(&server, &rp, BOB, &[(OID, BOB_OID)]).await;
        let landing = post_encoded(&rp, ALIAS, response).await;
        assert_eq!(landing.status, 302, "{}", landing.body);
        let tokens = rp
            .exchange(WEB, &query_of(&landing.location.unwrap())["code"])
            .await;
        assert_eq!(tokens.access["sub"], json!(bob));
        // The directory disables him.
        let disabled = server
            .scim(&acme)
            .patch(
                &format!("/Users/{bob}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(disabled.status, 200, "{:?}", disabled.body);
        let before = rows(&server.state.db);
        let member = |server: &TestServer| {
            let mut conn = server.state.db.get().unwrap();
            let rows = vestibule::db::models::membership::for_user(&mut conn, &bob).unwrap();
            format!("{rows:?}")
        };
        let membership = member(&server);
        // His next answer from the IdP is refused, and changes nothing.
        let rp = RelyingParty::new(&server);
        let response = answered(&server, &rp, BOB, &[(OID, BOB_OID)]).await;
        let landing = post_encoded(&rp, ALIAS, response).await;
        refused(&landing, 403);
        assert!(
            landing.body.contains("This account is disabled."),
            "{}",
            landing.body
        );
        assert_eq!(rows(&server.state.db), before);
        assert_eq!(member(&server), membership);
        server.stop().await;
    }
);

/// The daemon's config: realm `test`, organization acme, client `web` (its secret in
/// `WEB_SECRET`), and the SAML connection of the fixtures' IdP.
fn daemon_config(dir: &Path) -> std::path::PathBuf {
    let text = format!(
        "[[realm]]\nname = \"{REALM}\"\n\n\
         [[organization]]\nrealm = \"{REALM}\"\nalias = \"acme\"\nname = \"Acme\"\n\n\
         [[client]]\nrealm = \"{REALM}\"\nclient_id = \"web\"\nconfidential = true\n\
         secret = {{ env = \"WEB_SECRET\" }}\nredirect_uris = [\"{REDIRECT}\"]\n\
         grant_types = [\"authorization_code\"]\noptional_scopes = [\"organization\"]\n\n\
         [[identity_provider]]\nrealm = \"{REALM}\"\nalias = \"{ALIAS}\"\nkind = \"saml\"\n\
         organization = \"acme\"\nmetadata_file = \"{}\"\n",
        fixture("saml/idp-metadata.xml").display()
    );
    let path = dir.join("vestibule.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const WEB_SECRET: &str = "restart-web-secret";

/// A browser of the spawned daemon: it keeps the login cookie and reads redirects.
struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    login_cookie: Option<String>,
}

impl Browser {
    fn new(daemon: &Daemon) -> Browser {
        Browser {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: daemon.base.clone(),
            login_cookie: None,
        }
    }

    fn send(&mut self, request: reqwest::blocking::RequestBuilder) -> reqwest::blocking::Response {
        let request = match &self.login_cookie {
            Some(value) => request.header("cookie", format!("VESTIBULE_LOGIN={value}")),
            None => request,
        };
        let reply = request.send().expect("request");
        let set = cookie_set_in(reply.headers(), "VESTIBULE_LOGIN");
        if set.is_some() {
            self.login_cookie = set;
        }
        reply
    }

    /// Where a 302 sends the browser, as a URL.
    fn location(&self, reply: reqwest::blocking::Response) -> String {
        let status = reply.status();
        let location = reply
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(location) = location.filter(|_| status == 302) else {
            panic!("{status}: {}", reply.text().unwrap_or_default());
        };
        match location.starts_with('/') {
            true => format!("{}{location}", self.base),
            false => location,
        }
    }

    /// An acme login as far as the IdP: the AuthnRequest's ID.
    fn go_to_the_idp(&mut self) -> String {
        let authorize = self
            .http
            .get(format!(
                "{}/realms/{REALM}/protocol/openid-connect/auth",
                self.base
            ))
            .query(&code_request(&[("organization", "acme")]));
        let reply = self.send(authorize);
        let broker = self.location(reply);
        let reply = self.send(self.http.get(broker));
        saml_idp::request_id(&self.location(reply)).expect("an AuthnRequest ID")
    }

    fn post_response(&mut self, encoded: &str) -> reqwest::blocking::Response {
        let acs = format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", self.base);
        self.send(self.http.post(acs).form(&[("SAMLResponse", encoded)]))
    }
}

#[test]
fn a_replayed_response_is_refused_by_a_restarted_daemon_on_the_same_database() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend);
        let dir = tempfile::tempdir().unwrap();
        let config = daemon_config(dir.path());
        // The same port after the restart: the ACS and our entity ID are URLs of it.
        let port = free_port();
        let env = [("WEB_SECRET", WEB_SECRET)];
        let mut daemon = Daemon::spawn_on(port, &config, &db.url, &env, &[]);
        let mut browser = Browser::new(&daemon);
        let first_request = browser.go_to_the_idp();
        let issuer = format!("{}/realms/{REALM}", daemon.base);
        let acs = format!("{issuer}/broker/{ALIAS}/endpoint");
        let response = idp()
            .signed(&Addressee {
                request_id: &first_request,
                acs: &acs,
                audience: &issuer,
                name_id: "alice@acme.test",
                attributes: &[],
            })
            .expect("a signed Response");
        let reply = browser.post_response(&response);
        let back = browser.location(reply);
        assert!(back.starts_with(REDIRECT), "{back}");
        let token = browser
            .http
            .post(format!("{issuer}/protocol/openid-connect/token"))
            .basic_auth("web", Some(WEB_SECRET))
            .form(&authorization_code(&query_of(&back)["code"]))
            .send()
            .unwrap();
        assert_eq!(token.status(), 200, "{}", daemon.log());
        assert!(daemon.terminate().success(), "{}", daemon.log());

        let mut daemon = Daemon::spawn_on(port, &config, &db.url, &env, &[]);
        let store = vestibule::db::Db::connect(&db.url, 1).expect("the database");
        let before = rows(&store);
        assert_eq!(before[3], 1, "the first login's session");
        // Another browser's login, its request made the one the Response answers: only the
        // replay store stands between the Response and a second session.
        let mut other = Browser::new(&daemon);
        let sent = other.go_to_the_idp();
        {
            let mut conn = store.get().unwrap();
            let mut row = broker::take_request(&mut conn, &sha256_hex(&sent))
                .unwrap()
                .expect("the request the new daemon stored");
            row.state_hash = sha256_hex(&first_request);
            broker::insert_request(&mut conn, &row).unwrap();
        }
        let reply = other.post_response(&response);
        assert_eq!(reply.status(), 400);
        assert!(reply.headers().get("location").is_none());
        let page = reply.text().unwrap();
        let correlation = page
            .split("Reference: ")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("the refusal's reference")
            .to_string();
        assert_eq!(rows(&store), before, "a replay changed the database");
        drop(store);
        assert!(daemon.terminate().success());
        let log = daemon.log();
        let line = log
            .lines()
            .find(|l| l.contains(&correlation))
            .unwrap_or_else(|| panic!("no log line for {correlation}:\n{log}"));
        assert!(line.contains("a replayed assertion"), "{line}");
    }
}
