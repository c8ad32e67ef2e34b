//! Test harness: every test gets its own database (a SQLite file, or a fresh PostgreSQL
//! database) and a real Vestibule HTTP server on a free loopback port.
#![allow(dead_code)]

pub mod daemon;
pub mod entra_peer;
pub mod forged_idp;
pub mod metadata_server;
pub mod oidc;
pub mod realms;
pub mod saml_idp;
pub mod saml_peer;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use vestibule::clock::{Clock, SystemClock};
use vestibule::config::{Config, DirectoryDecl, OrganizationDecl, RealmDecl, Secret, SecretRef};
use vestibule::state::AppState;

pub const REALM: &str = "test";

/// How long a spawned process (the daemon, a peer) may take to say it is ready: generous, since
/// on a loaded two-core machine node or PHP can take tens of seconds to start. A start wait,
/// not a timed assertion: a ready process goes on at once.
pub const START_WAIT: Duration = Duration::from_secs(120);

/// A file under `tests/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on. CI must reach it: a test that cannot
/// fails, it never skips.
pub fn postgres_admin_url() -> String {
    std::env::var("VESTIBULE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path: PathBuf = dir.path().join("vestibule.db");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("vt_{}", uuid::Uuid::new_v4().simple());
                let mut conn = postgres_admin(&admin);
                diesel::RunQueryDsl::execute(
                    diesel::sql_query(format!("CREATE DATABASE {name}")),
                    &mut conn,
                )
                .expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

fn postgres_admin(url: &str) -> diesel::PgConnection {
    use diesel::Connection;
    diesel::PgConnection::establish(url).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for the test suite and is unreachable at {url}: {e}. \
             Start it, or point VESTIBULE_TEST_POSTGRES_URL at one."
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let mut conn = postgres_admin(&postgres_admin_url());
            let _ = diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
                &mut conn,
            );
        }
    }
}

/// One organization with one directory and its token.
pub struct Tenant {
    pub alias: &'static str,
    pub directory: &'static str,
    pub token: String,
}

pub fn tenant(alias: &'static str) -> Tenant {
    Tenant {
        alias,
        directory: alias,
        token: format!("token-for-{alias}-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// The config a test server runs with: realm `test`, one directory per tenant.
pub fn config(db: &TestDb, tenants: &[&Tenant]) -> Config {
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config.database.pool_size = 4;
    config.realms.push(RealmDecl { name: REALM.into() });
    for t in tenants {
        config.organizations.push(OrganizationDecl {
            realm: REALM.into(),
            alias: t.alias.into(),
            name: t.alias.to_uppercase(),
            description: String::new(),
            enabled: true,
            redirect_url: None,
            domains: Vec::new(),
            attributes: Default::default(),
        });
        config.directories.push(DirectoryDecl {
            realm: REALM.into(),
            organization: t.alias.into(),
            name: t.directory.into(),
            token: Some(SecretRef {
                env: Some("UNUSED".into()),
                file: None,
                resolved: Some(Secret::new(t.token.clone())),
            }),
            deprovisioning: Default::default(),
            entra: None,
            clients: Vec::new(),
        });
    }
    config
}

/// Adds the issuer's test setup to a config: clients `web` (confidential), `spa` (public) and
/// `m2m-*` (client_credentials per algorithm), roles, and local user `alice` in every tenant's
/// organization, password `alice-password`.
pub fn with_issuer(config: &mut Config) {
    use vestibule::config::{ClientDecl, GroupRolesDecl, RoleDecl, UserDecl};
    let secret = |v: &str| SecretRef {
        env: Some("UNUSED".into()),
        file: None,
        resolved: Some(Secret::new(v.to_string())),
    };
    let client = |id: &str, confidential: bool| ClientDecl {
        realm: REALM.into(),
        client_id: id.into(),
        name: String::new(),
        confidential,
        secret: confidential.then(|| secret("web-secret")),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:9/".into()],
        web_origins: vec!["http://127.0.0.1:9".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        full_scope_allowed: true,
        default_scopes: [
            "basic",
            "profile",
            "email",
            "roles",
            "web-origins",
            "acr",
            "groups",
        ]
        .map(String::from)
        .to_vec(),
        optional_scopes: ["organization", "offline_access"]
            .map(String::from)
            .to_vec(),
        access_token_lifespan_secs: 300,
        refresh_token_lifespan_secs: 1800,
        signing_alg: "RS256".into(),
        organization_prompt: false,
        service_account_roles: Vec::new(),
        scope_roles: Vec::new(),
        mappers: Vec::new(),
        organization_claim: None,
        initiate_login_uri: None,
    };
    config.clients.push(client("web", true));
    config.clients.push(client("spa", false));
    for alg in ["RS256", "ES256", "EdDSA"] {
        let mut m2m = client(&format!("m2m-{}", alg.to_lowercase()), true);
        m2m.grant_types = vec!["client_credentials".into()];
        m2m.signing_alg = alg.into();
        m2m.service_account_roles = vec!["api:read".into()];
        config.clients.push(m2m);
    }
    config.roles.push(RoleDecl {
        realm: REALM.into(),
        name: "editor".into(),
        client: Some("web".into()),
        description: String::new(),
        composites: vec!["web:viewer".into()],
    });
    let orgs: Vec<String> = config
        .organizations
        .iter()
        .map(|o| o.alias.clone())
        .collect();
    config.users.push(UserDecl {
        realm: REALM.into(),
        username: "alice".into(),
        email: Some("alice@acme.test".into()),
        first_name: Some("Alice".into()),
        last_name: Some("Liddell".into()),
        enabled: true,
        password: Some(secret("alice-password")),
        organizations: orgs.first().cloned().into_iter().collect(),
        roles: vec!["SUPER_ADMIN".into(), "web:editor".into()],
        attributes: Default::default(),
    });
    if let Some(first) = orgs.first() {
        config.group_roles.push(GroupRolesDecl {
            realm: REALM.into(),
            organization: first.clone(),
            group: Some("Engineering".into()),
            external_id: None,
            roles: vec!["web:deployer".into()],
        });
    }
}

/// A running server and what it stands on.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub db: TestDb,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    pub async fn start(backend: Backend, tenants: &[&Tenant]) -> TestServer {
        let db = TestDb::new(backend);
        let config = config(&db, tenants);
        Self::start_with(db, config, Arc::new(SystemClock)).await
    }

    pub async fn start_with(db: TestDb, config: Config, clock: Arc<dyn Clock>) -> TestServer {
        Self::start_behind(db, config, clock, None).await
    }

    /// [`Self::start_with`], its public URL `public_url` (as behind a proxy) when given: the
    /// URLs it makes name that host, while the tests reach it at `base`.
    pub async fn start_behind(
        db: TestDb,
        mut config: Config,
        clock: Arc<dyn Clock>,
        public_url: Option<&str>,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        config.server.listen = addr.to_string();
        config.server.public_url = public_url
            .map(str::to_string)
            .unwrap_or_else(|| format!("http://{addr}"));
        if config.server.workers == 0 {
            config.server.workers = 2;
        }
        let state = tokio::task::spawn_blocking(move || vestibule::prepare(config, clock))
            .await
            .expect("join")
            .expect("prepare");
        let server = vestibule::serve(state.clone(), listener, false).expect("serve");
        let handle = server.handle();
        tokio::spawn(server);
        TestServer {
            base: format!("http://{addr}"),
            state,
            db,
            client: reqwest::Client::new(),
            handle,
        }
    }

    pub fn scim_url(&self, path: &str) -> String {
        format!("{}/realms/{REALM}/scim/v2{path}", self.base)
    }

    /// A SCIM client speaking as `tenant`'s directory.
    pub fn scim<'a>(&'a self, tenant: &'a Tenant) -> Scim<'a> {
        Scim {
            server: self,
            token: Some(tenant.token.clone()),
        }
    }

    pub fn anonymous(&self) -> Scim<'_> {
        Scim {
            server: self,
            token: None,
        }
    }

    pub async fn stop(self) {
        drop(self.stop_keeping_db().await);
    }

    /// Stops the server and hands its database back, for another instance to start on (as
    /// after a restart).
    pub async fn stop_keeping_db(self) -> TestDb {
        self.handle.stop(true).await;
        self.db
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The SCIM error type of an error reply.
    pub fn scim_type(&self) -> Option<&str> {
        self.body.get("scimType").and_then(Value::as_str)
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("id in body").to_string()
    }
}

pub struct Scim<'a> {
    server: &'a TestServer,
    token: Option<String>,
}

impl Scim<'_> {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .server
            .client
            .request(method, self.server.scim_url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(body.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(&body.to_string()), &[]).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(&body.to_string()), &[]).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send("PATCH", path, Some(&body.to_string()), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, &[]).await
    }
}

/// `filter=` query strings, encoded the way Entra's validator sends them (spaces as `+`).
pub fn filter(expr: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("filter={encoded}")
}

/// A request body Entra sends, from `tests/fixtures/entra/`, with its `{{name}}` placeholders
/// filled in.
pub fn entra_body(file: &str, values: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(fixture(&format!("entra/{file}"))).expect("fixture");
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A minimal Entra-shaped user.
pub fn entra_user(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "roles": []
    })
}

/// Runs an async test body once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[actix_web::test]
            async fn sqlite() {
                ($body)($crate::common::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                ($body)($crate::common::Backend::Postgres).await
            }
        }
    };
}
