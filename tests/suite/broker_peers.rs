//! Issue 8's proof in a real browser, on SQLite and PostgreSQL: an openid-client relying party
//! signs a person in through Vestibule, which brokers the login to an upstream IdP, all in
//! Debian's Chromium (tests/peers/oidc/broker_check.mjs). Two upstreams: the Entra ID-like
//! `tests/peers/entra` with examples/entra.toml's recipe, and a second Vestibule (Keycloak's
//! provider/consumer pattern), whose realm role reaches the consumer through its ID token.
//! And issue 9's: the same chain through a SAML 2.0 IdP, SimpleSAMLphp (tests/peers/saml), whose
//! login page Chromium fills in and whose auto-submitted POST reaches Vestibule's ACS.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};

use crate::common::daemon::{free_port, Daemon};
use crate::common::entra_peer::{
    guid, EntraClient, EntraConfig, EntraPeer, EntraTenant, EntraUser,
};
use crate::common::saml_peer::{
    SamlPeer, SamlPeerConfig, SamlSp, SamlUser, LOGIN_PASSWORD_SELECTOR, LOGIN_SUBMIT_SELECTOR,
    LOGIN_USERNAME_SELECTOR,
};
use crate::common::{entra_user, Backend, TestDb};
use crate::oidc_peers::{node, run_peer, CHROMIUM};

/// The realm of the broker (the consumer). The upstream Vestibule's realm has another name: the
/// two share the browser's host, 127.0.0.1, and their cookies' paths are per realm.
const REALM: &str = "quickstart";
const UPSTREAM_REALM: &str = "upstream";
const ORGANIZATION: &str = "acme";
const CLIENT_ID: &str = "demo-app";
/// broker_check.mjs's checks with every option given (Entra), and without --groups,
/// --id-token-claims and --sub (the upstream Vestibule).
const ENTRA_CHECKS: usize = 11;
const VESTIBULE_CHECKS: usize = 8;
/// With --id-token-claims and --sub, without --groups (SimpleSAMLphp).
const SAML_CHECKS: usize = 10;

/// The relying party: its callback port and its secret at the broker.
struct Rp {
    callback_port: u16,
    client_secret: String,
}

impl Rp {
    fn new() -> Rp {
        Rp {
            callback_port: free_port(),
            client_secret: format!("secret-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.callback_port)
    }

    /// The broker's `demo-app`, with examples/entra.toml's mapper of the `group` attribute.
    fn client_decl(&self) -> String {
        format!(
            r#"
[[client]]
realm = "{REALM}"
client_id = "{CLIENT_ID}"
confidential = true
secret = {{ env = "DEMO_CLIENT_SECRET" }}
redirect_uris = ["{}"]
grant_types = ["authorization_code", "refresh_token"]
mappers = [{{ type = "user_attribute", attribute = "group", claim = "group" }}]
"#,
            self.redirect_uri()
        )
    }
}

/// The broker's realm and acme, the organization its IdP is linked to.
fn broker_realm() -> String {
    format!(
        r#"
[[realm]]
name = "{REALM}"

[[organization]]
realm = "{REALM}"
alias = "{ORGANIZATION}"
name = "Acme Inc."
"#
    )
}

/// Where an upstream IdP sends the browser back to the broker (`vestibule idp show` prints it).
fn broker_endpoint(broker_base: &str, alias: &str) -> String {
    format!("{broker_base}/realms/{REALM}/broker/{alias}/endpoint")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs broker_check.mjs against `broker` with `args` (besides the relying party's own) and
/// asserts its exact summary; on failure, its output and every log in `logs`.
fn chain_passes(
    broker: &Daemon,
    rp: &Rp,
    args: &[(&str, String)],
    checks: usize,
    logs: &[(&str, &dyn Fn() -> String)],
) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test.sh does)"
    );
    let all: Vec<String> = [
        ("--issuer", format!("{}/realms/{REALM}", broker.base)),
        ("--client-id", CLIENT_ID.into()),
        ("--client-secret", rp.client_secret.clone()),
        ("--redirect-uri", rp.redirect_uri()),
        ("--organization", ORGANIZATION.into()),
    ]
    .into_iter()
    .chain(args.iter().map(|(k, v)| (*k, v.clone())))
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect();
    let started = Instant::now();
    let (ok, stdout, stderr) = run_peer(node("broker_check.mjs", &all), "broker");
    println!("{stdout}broker_check.mjs took {:?}", started.elapsed());
    let summary = format!("broker: {checks} passed, 0 failed");
    let report = || {
        let mut text = format!(
            "{stdout}\n--- stderr ---\n{stderr}\n--- broker log ---\n{}",
            broker.log()
        );
        for (name, log) in logs {
            text.push_str(&format!("\n--- {name} log ---\n{}", log()));
        }
        text
    };
    assert!(ok, "broker_check.mjs reported failures:\n{}", report());
    assert!(
        stdout.lines().any(|l| l == summary),
        "broker_check.mjs did not print {summary:?}:\n{}",
        report()
    );
}

/// A SCIM request as acme's directory, which must answer 201: the resource created.
fn scim_create(broker: &Daemon, token: &str, resource: &str, body: &Value) -> Value {
    let reply = reqwest::blocking::Client::new()
        .post(format!("{}/realms/{REALM}/scim/v2/{resource}", broker.base))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .expect("SCIM request");
    let status = reply.status().as_u16();
    let created: Value = reply.json().unwrap_or(Value::Null);
    assert_eq!(status, 201, "POST /{resource}: {created}\n{}", broker.log());
    created
}

/// `NAME::sqlite` and `NAME::postgres`, tests running `chain` on each backend.
macro_rules! on_both_databases {
    ($name:ident, $chain:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$chain(super::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$chain(super::Backend::Postgres);
            }
        }
    };
}

/// RP -> Vestibule -> the Entra-like peer's login page -> Vestibule -> RP, with seed 001's and
/// seed 003's recipe: acme's directory pushed bob (externalId = his oid) and the group behind
/// one of his two group GUIDs before he ever signs in.
fn entra_chain(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::new();
    let broker_port = free_port();
    let broker_base = format!("http://127.0.0.1:{broker_port}");
    let alias = "acme-entra";
    let mut contoso = EntraTenant::new("Contoso");
    let mut bob = EntraUser::new("bob@contoso.test", "bob-entra-password", "Bob", "Builder");
    // Another address than the upn, so that the email the tokens carry is the mapper's.
    bob.email = Some("bob.mailbox@contoso.test".into());
    bob.groups = vec![guid(), guid()];
    bob.roles = vec!["MY_PROJECT_SUPER_ADMIN".into()];
    contoso.users.push(bob.clone());
    let app = EntraClient::new(&broker_endpoint(&broker_base, alias));
    let entra = EntraPeer::start(&EntraConfig {
        tenants: vec![contoso.clone()],
        clients: vec![app.clone()],
    });
    let config = format!(
        r#"{realm}
[[directory]]
realm = "{REALM}"
organization = "{ORGANIZATION}"
name = "acme-entra"
token = {{ env = "SCIM_TOKEN" }}

[[identity_provider]]
realm = "{REALM}"
alias = "{alias}"
display_name = "Acme (Microsoft Entra ID)"
kind = "oidc"
preset = "entra"
organization = "{ORGANIZATION}"
tenant_id = "{tid}"
discovery_url = "{discovery}"
client_id = "{client_id}"
client_secret = {{ env = "ENTRA_CLIENT_SECRET" }}
sync_mode = "force"
mappers = [
  {{ name = "azure-group-mapper", type = "attribute_importer", claim = "groups", attribute = "group" }},
  {{ name = "azure-username", type = "attribute_importer", claim = "upn", attribute = "email" }},
  {{ name = "azure-sub", type = "attribute_importer", claim = "sub", attribute = "sub" }},
  {{ name = "super-admin", type = "claim_to_role", claim = "roles", value = "MY_PROJECT_SUPER_ADMIN", role = "SUPER_ADMIN" }},
]

[[role]]
realm = "{REALM}"
name = "SUPER_ADMIN"
{client}"#,
        realm = broker_realm(),
        tid = contoso.tid,
        discovery = entra.discovery_url(&contoso.tid),
        client_id = app.client_id,
        client = rp.client_decl(),
    );
    let config = write(dir.path(), "broker.toml", &config);
    let scim_token = format!("scim-{}", uuid::Uuid::new_v4().simple());
    let broker = Daemon::spawn_on(
        broker_port,
        &config,
        &db.url,
        &[
            ("SCIM_TOKEN", &scim_token),
            ("ENTRA_CLIENT_SECRET", &app.client_secret),
            ("DEMO_CLIENT_SECRET", &rp.client_secret),
        ],
        &[],
    );
    scim_create(
        &broker,
        &scim_token,
        "Groups",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "externalId": bob.groups[0],
        }),
    );
    let mut pushed = entra_user(&bob.upn);
    pushed["externalId"] = json!(bob.oid);
    pushed["emails"] = json!([{"primary": true, "type": "work", "value": "bob@old.acme.test"}]);
    let pushed = scim_create(&broker, &scim_token, "Users", &pushed);
    chain_passes(
        &broker,
        &rp,
        &[
            ("--upstream", entra.base.clone()),
            ("--username", bob.upn.clone()),
            ("--password", bob.password.clone()),
            ("--role", "SUPER_ADMIN".into()),
            ("--email", bob.upn.clone()),
            ("--groups", json!(["/Engineering"]).to_string()),
            (
                "--id-token-claims",
                json!({ "group": bob.groups }).to_string(),
            ),
            ("--sub", pushed["id"].as_str().expect("SCIM id").into()),
        ],
        ENTRA_CHECKS,
        &[("Entra peer", &|| entra.log())],
    );
}

on_both_databases!(entra_chain_in_chromium, entra_chain);

/// Keycloak's provider/consumer pattern: RP -> consumer -> the upstream Vestibule's login page
/// -> consumer -> RP. The upstream is configured as its admin would: a confidential client for
/// the consumer and its `roles` scope's realm roles switched on for the ID token and userinfo,
/// which is where the consumer's mappers read claims. The consumer's IdP is linked to acme and
/// maps the upstream's `platform-admin` to its own `ADMIN`.
fn vestibule_chain(backend: Backend) {
    let (upstream_db, broker_db) = (TestDb::new(backend), TestDb::new(backend));
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::new();
    let (upstream_port, broker_port) = (free_port(), free_port());
    let upstream_base = format!("http://127.0.0.1:{upstream_port}");
    let broker_base = format!("http://127.0.0.1:{broker_port}");
    let alias = "acme-upstream";
    let consumer_secret = format!("consumer-{}", uuid::Uuid::new_v4().simple());
    let carol_password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let upstream_config = format!(
        r#"
[[realm]]
name = "{UPSTREAM_REALM}"

[[role]]
realm = "{UPSTREAM_REALM}"
name = "platform-admin"

[[client_scope]]
realm = "{UPSTREAM_REALM}"
name = "roles"
mappers = [{{ type = "realm_roles", claim = "realm_access.roles", access_token = false }}]

[[client]]
realm = "{UPSTREAM_REALM}"
client_id = "consumer"
confidential = true
secret = {{ env = "CONSUMER_CLIENT_SECRET" }}
redirect_uris = ["{redirect}"]
grant_types = ["authorization_code"]

[[user]]
realm = "{UPSTREAM_REALM}"
username = "carol"
email = "carol@acme.test"
first_name = "Carol"
last_name = "Upstream"
password = {{ env = "CAROL_PASSWORD" }}
roles = ["platform-admin"]
"#,
        redirect = broker_endpoint(&broker_base, alias),
    );
    let broker_config = format!(
        r#"{realm}
[[identity_provider]]
realm = "{REALM}"
alias = "{alias}"
display_name = "Acme (Vestibule)"
kind = "oidc"
organization = "{ORGANIZATION}"
discovery_url = "{upstream_base}/realms/{UPSTREAM_REALM}/.well-known/openid-configuration"
client_id = "consumer"
client_secret = {{ env = "UPSTREAM_CLIENT_SECRET" }}
scopes = ["profile", "email"]
sync_mode = "force"
mappers = [
  {{ name = "platform-admin", type = "claim_to_role", claim = "realm_access.roles", value = "platform-admin", role = "ADMIN" }},
]

[[role]]
realm = "{REALM}"
name = "ADMIN"
{client}"#,
        realm = broker_realm(),
        client = rp.client_decl(),
    );
    let upstream = Daemon::spawn_on(
        upstream_port,
        &write(dir.path(), "upstream.toml", &upstream_config),
        &upstream_db.url,
        &[
            ("CONSUMER_CLIENT_SECRET", &consumer_secret),
            ("CAROL_PASSWORD", &carol_password),
        ],
        &[],
    );
    let broker = Daemon::spawn_on(
        broker_port,
        &write(dir.path(), "broker.toml", &broker_config),
        &broker_db.url,
        &[
            ("UPSTREAM_CLIENT_SECRET", &consumer_secret),
            ("DEMO_CLIENT_SECRET", &rp.client_secret),
        ],
        &[],
    );
    chain_passes(
        &broker,
        &rp,
        &[
            ("--upstream", upstream.base.clone()),
            ("--username", "carol".into()),
            ("--password", carol_password.clone()),
            ("--role", "ADMIN".into()),
            ("--email", "carol@acme.test".into()),
        ],
        VESTIBULE_CHECKS,
        &[("upstream Vestibule", &|| upstream.log())],
    );
}

on_both_databases!(vestibule_upstream_chain_in_chromium, vestibule_chain);

/// The Entra-style SAML principal: the object id attribute, also the SCIM `externalId`.
const OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/// RP -> Vestibule -> SimpleSAMLphp's login page -> its auto-submitted POST to the ACS ->
/// Vestibule -> RP, with README's recipe for a SAML IdP (principal and `externalId` link from the
/// object id, the `role` attribute mapped to SUPER_ADMIN, `givenName` imported): acme's
/// directory pushed alice first, with another email and first name than the IdP's, so that the
/// tokens' `sub`, `email` and `given_name` show both the link and the imported attributes. The
/// email needs its `attribute_importer` as Entra's `upn` does: a user found by `externalId` keeps
/// the directory's email unless a mapper imports the IdP's.
fn saml_chain(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let rp = Rp::new();
    let alias = "acme-saml";
    let object_id = uuid::Uuid::new_v4().to_string();
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let mut idp = SamlPeer::start(&SamlPeerConfig {
        users: vec![SamlUser::new("alice", &password, "alice@acme.test")
            .attribute(OBJECT_ID, &[&object_id])
            .attribute("email", &["alice@acme.test"])
            .attribute("givenName", &["Alice"])
            .attribute("role", &["MY_PROJECT_SUPER_ADMIN", "MY_PROJECT_VIEWER"])],
        sps: Vec::new(),
    });
    let metadata = write(dir.path(), "idp-metadata.xml", idp.metadata_xml());
    let config = format!(
        r#"{realm}
[[directory]]
realm = "{REALM}"
organization = "{ORGANIZATION}"
name = "acme-directory"
token = {{ env = "SCIM_TOKEN" }}

[[identity_provider]]
realm = "{REALM}"
alias = "{alias}"
display_name = "Acme (SAML)"
kind = "saml"
organization = "{ORGANIZATION}"
metadata_file = "{metadata}"
principal_attribute = "{OBJECT_ID}"
external_id_claim = "{OBJECT_ID}"
name_id_format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
sync_mode = "force"
mappers = [
  {{ name = "role", type = "claim_to_role", claim = "role", value = "MY_PROJECT_SUPER_ADMIN", role = "SUPER_ADMIN" }},
  {{ name = "given", type = "attribute_importer", claim = "givenName", attribute = "firstName" }},
  {{ name = "email", type = "attribute_importer", claim = "email", attribute = "email" }},
]

[[role]]
realm = "{REALM}"
name = "SUPER_ADMIN"
{client}"#,
        realm = broker_realm(),
        metadata = metadata.display(),
        client = rp.client_decl(),
    );
    let config = write(dir.path(), "broker.toml", &config);
    let scim_token = format!("scim-{}", uuid::Uuid::new_v4().simple());
    let broker = Daemon::spawn_on(
        free_port(),
        &config,
        &db.url,
        &[
            ("SCIM_TOKEN", &scim_token),
            ("DEMO_CLIENT_SECRET", &rp.client_secret),
        ],
        &[],
    );
    let mut pushed = entra_user("alice@acme.test");
    pushed["externalId"] = json!(object_id);
    pushed["emails"] = json!([{"primary": true, "type": "work", "value": "alice@old.acme.test"}]);
    let pushed = scim_create(&broker, &scim_token, "Users", &pushed);
    // The IdP trusts Vestibule's SP metadata unchanged, which exists once both run.
    let descriptor = reqwest::blocking::get(format!(
        "{}/realms/{REALM}/broker/{alias}/endpoint/descriptor",
        broker.base
    ))
    .and_then(|reply| reply.error_for_status()?.text())
    .expect("the SP metadata");
    idp.trust_sp(SamlSp::new(&descriptor));
    chain_passes(
        &broker,
        &rp,
        &[
            ("--upstream", idp.base.clone()),
            ("--username", "alice".into()),
            ("--password", password.clone()),
            ("--username-selector", LOGIN_USERNAME_SELECTOR.into()),
            ("--password-selector", LOGIN_PASSWORD_SELECTOR.into()),
            ("--submit-selector", LOGIN_SUBMIT_SELECTOR.into()),
            ("--role", "SUPER_ADMIN".into()),
            ("--email", "alice@acme.test".into()),
            (
                "--id-token-claims",
                json!({ "given_name": "Alice" }).to_string(),
            ),
            ("--sub", pushed["id"].as_str().expect("SCIM id").into()),
        ],
        SAML_CHECKS,
        &[("SimpleSAMLphp", &|| idp.log())],
    );
}

on_both_databases!(saml_chain_in_chromium, saml_chain);
