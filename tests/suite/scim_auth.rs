//! SCIM authentication beyond static tokens (issue 8): the JWT Entra sends when its "Secret
//! Token" field is left blank, checked against keys served by the forged IdP (signature RS256
//! only, `iss` of an allowed tenant equal to its `tid`, `aud`, times, a new `kid` refetched at
//! most once), and access tokens of Vestibule's own token endpoint (client_credentials) for a
//! client bound to the directory. Every refusal is SCIM's 401 with `WWW-Authenticate: Bearer`
//! and changes nothing; static tokens keep working beside them.

use std::sync::Arc;

use serde_json::{json, Value};
use vestibule::clock::{Clock, FixedClock};
use vestibule::config::{
    ClientDecl, DirectoryDecl, EntraDirectoryDecl, OrganizationDecl, RealmDecl, Secret, SecretRef,
};

use crate::common::daemon::BIN;
use crate::common::forged_idp::{ForgedIdp, Forgery, Settings, HOME_TENANT, OTHER_TENANT};
use crate::common::oidc::{start_issuer_with, RelyingParty};
use crate::common::{entra_user, tenant, Backend, Tenant, TestServer, REALM};

const NOW: i64 = 1_900_000_000_000_000;
/// The realm beside the test realm, with a directory of its own.
const OTHER_REALM: &str = "other";
/// Entra's non-gallery provisioning application: the default audience.
const AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];
const SECRET: &str = "web-secret";

fn secret(value: &str) -> SecretRef {
    SecretRef {
        env: Some("UNUSED".into()),
        file: None,
        resolved: Some(Secret::new(value.to_string())),
    }
}

fn entra_directory(idp: &ForgedIdp, tenants: &[&str]) -> EntraDirectoryDecl {
    let tenants: Vec<String> = tenants.iter().map(|t| format!("\"{t}\"")).collect();
    toml::from_str(&format!(
        "tenants = [{}]\njwks_uri = \"{}/jwks\"",
        tenants.join(", "),
        idp.base
    ))
    .expect("entra directory")
}

/// A confidential client_credentials client of `realm`, living an hour.
fn provisioning_client(realm: &str, client_id: &str) -> ClientDecl {
    toml::from_str::<ClientDecl>(&format!(
        "realm = \"{realm}\"\nclient_id = \"{client_id}\"\ngrant_types = [\"client_credentials\"]\n\
         access_token_lifespan_secs = 3600\nsecret = {{ env = \"UNUSED\" }}"
    ))
    .map(|mut c| {
        c.secret = Some(secret(SECRET));
        c
    })
    .expect("client")
}

/// The forged IdP serving Entra's keys, and a server with realm `test`: directories `acme`
/// (Entra's JWT for the home tenant, client `acme-provisioning`) and `globex` (client
/// `globex-provisioning`); realm `other`: directory `entra` (Entra's JWT for the other tenant,
/// client `other-provisioning`). The issuer's `m2m-*` clients are bound to nothing.
struct World {
    idp: ForgedIdp,
    server: TestServer,
    clock: Arc<FixedClock>,
    acme: Tenant,
}

impl World {
    async fn start(backend: Backend) -> World {
        let idp = ForgedIdp::start(Settings::default()).await;
        let clock = Arc::new(FixedClock::new(NOW));
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        let entra_home = entra_directory(&idp, &[HOME_TENANT]);
        let entra_other = entra_directory(&idp, &[OTHER_TENANT]);
        let server = start_issuer_with(backend, &[&acme, &globex], clock.clone(), |c| {
            c.directories[0].entra = Some(entra_home);
            c.directories[0].clients = vec!["acme-provisioning".into()];
            c.directories[1].clients = vec!["globex-provisioning".into()];
            c.clients
                .push(provisioning_client(REALM, "acme-provisioning"));
            c.clients
                .push(provisioning_client(REALM, "globex-provisioning"));
            c.realms.push(RealmDecl {
                name: OTHER_REALM.into(),
            });
            c.organizations.push(OrganizationDecl {
                realm: OTHER_REALM.into(),
                alias: "acme".into(),
                name: "Acme elsewhere".into(),
                description: String::new(),
                enabled: true,
                redirect_url: None,
                domains: Vec::new(),
                attributes: Default::default(),
            });
            c.directories.push(DirectoryDecl {
                realm: OTHER_REALM.into(),
                organization: "acme".into(),
                name: "entra".into(),
                token: None,
                deprovisioning: Default::default(),
                entra: Some(entra_other),
                clients: vec!["other-provisioning".into()],
            });
            c.clients
                .push(provisioning_client(OTHER_REALM, "other-provisioning"));
        })
        .await;
        World {
            idp,
            server,
            clock,
            acme,
        }
    }

    /// What Entra's provisioning service presents: a v1 token of tenant `tid` (its `iss`
    /// naming `iss_tenant`) for the provisioning application, valid for an hour from now.
    fn claims(&self, iss_tenant: &str, tid: &str) -> Value {
        let now = self.clock.now() / 1_000_000;
        json!({
            "aud": AUDIENCE,
            "iss": format!("https://sts.windows.net/{iss_tenant}/"),
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "appid": "00000014-0000-0000-c000-000000000000",
            "appidacr": "2",
            "idp": format!("https://sts.windows.net/{iss_tenant}/"),
            "oid": "2f5c7a54-0c3e-4b4e-9b5c-7f1f2b8f4d11",
            "sub": "2f5c7a54-0c3e-4b4e-9b5c-7f1f2b8f4d11",
            "tid": tid,
            "ver": "1.0",
        })
    }

    /// `claims` signed by the forged IdP as `forgery` says.
    fn sign(&self, claims: &Value, forgery: Forgery) -> String {
        self.idp.sign(claims, "JWT", &forgery)
    }

    /// A validly signed Entra token of [`World::claims`].
    fn entra(&self, iss_tenant: &str, tid: &str) -> String {
        self.sign(&self.claims(iss_tenant, tid), Forgery::Valid)
    }

    /// One SCIM request to `realm` with `token`: the status, the `WWW-Authenticate` header
    /// and the body.
    async fn scim(
        &self,
        realm: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Option<String>, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = format!("{}/realms/{realm}/scim/v2{path}", self.server.base);
        let mut req = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let reply = req.send().await.expect("request");
        let status = reply.status().as_u16();
        let challenge = reply
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = reply.json().await.unwrap_or(Value::Null);
        (status, challenge, body)
    }

    /// `GET /Users` of `realm` with `token`: the status and the body.
    async fn list(&self, realm: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self.scim(realm, token, "GET", "/Users", None).await;
        (status, body)
    }

    /// `POST /Users` of realm `test` with `token`: the status and the body.
    async fn create(&self, token: &str, user_name: &str) -> (u16, Value) {
        let user = entra_user(user_name);
        let (status, _, body) = self.scim(REALM, token, "POST", "/Users", Some(&user)).await;
        (status, body)
    }

    /// The users directory `acme` sees, counted with its static token.
    async fn acme_users(&self) -> i64 {
        let (status, body) = self.list(REALM, &self.acme.token).await;
        assert_eq!(status, 200, "{body}");
        body["totalResults"].as_i64().expect("totalResults")
    }

    /// `token` is refused at `realm` like a bad static token, a read and a write alike, and
    /// the write changes nothing.
    async fn refused(&self, realm: &str, token: &str) {
        let before = self.acme_users().await;
        for (method, body) in [("GET", None), ("POST", Some(entra_user("eve@acme.test")))] {
            let (status, challenge, reply) = self
                .scim(realm, token, method, "/Users", body.as_ref())
                .await;
            assert_eq!(status, 401, "{method}: {reply}");
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Bearer")),
                "{challenge:?}"
            );
            assert_eq!(reply["status"], "401", "SCIM's error format: {reply}");
            assert!(reply["schemas"][0]
                .as_str()
                .is_some_and(|s| s.ends_with(":Error")));
        }
        assert_eq!(self.acme_users().await, before, "a refusal changes nothing");
    }

    /// An access token of `realm`'s token endpoint for `client` (client_credentials).
    async fn client_token(&self, realm: &str, client: &str) -> String {
        let rp = RelyingParty::in_realm(&self.server, realm);
        let (status, body) = rp.token((client, Some(SECRET)), &CLIENT_CREDENTIALS).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], 3600, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}

both_backends!(
    an_entra_jwt_reads_and_writes_as_its_directory,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let token = w.entra(HOME_TENANT, HOME_TENANT);
        let (status, body) = w.list(REALM, &token).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = w.create(&token, "ada@acme.test").await;
        assert_eq!(status, 201, "{body}");
        // The user landed in acme's organization: its static token sees it.
        assert_eq!(w.acme_users().await, 1);
        assert_eq!(
            w.idp.jwks_fetches(),
            1,
            "the keys are fetched once, then cached"
        );
    }
);

both_backends!(
    an_entra_jwt_of_a_tenant_not_allowed_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        w.refused(REALM, &w.entra(OTHER_TENANT, OTHER_TENANT)).await;
        assert_eq!(w.idp.jwks_fetches(), 0, "nothing is fetched for a stranger");
    }
);

both_backends!(
    an_entra_jwt_whose_iss_names_another_tenant_than_tid_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        w.refused(REALM, &w.entra(OTHER_TENANT, HOME_TENANT)).await;
        w.refused(REALM, &w.entra(HOME_TENANT, OTHER_TENANT)).await;
    }
);

both_backends!(
    an_entra_jwt_whose_tid_is_not_a_guid_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        for tid in ["common", "organizations", "not-a-guid"] {
            w.refused(REALM, &w.entra(tid, tid)).await;
        }
    }
);

both_backends!(
    an_entra_jwt_for_another_audience_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let mut claims = w.claims(HOME_TENANT, HOME_TENANT);
        claims["aud"] = json!("00000003-0000-0000-c000-000000000000");
        w.refused(REALM, &w.sign(&claims, Forgery::Valid)).await;
        claims["aud"] = json!([AUDIENCE, "00000003-0000-0000-c000-000000000000"]);
        w.refused(REALM, &w.sign(&claims, Forgery::Valid)).await;
    }
);

both_backends!(
    an_expired_entra_jwt_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let token = w.entra(HOME_TENANT, HOME_TENANT);
        // An hour and more than the skew later.
        w.clock.advance(3_700 * 1_000_000);
        w.refused(REALM, &token).await;
        // Not valid yet (nbf and iat in the future) is refused the same.
        let mut claims = w.claims(HOME_TENANT, HOME_TENANT);
        let later = w.clock.now() / 1_000_000 + 600;
        claims["nbf"] = json!(later);
        claims["iat"] = json!(later);
        w.refused(REALM, &w.sign(&claims, Forgery::Valid)).await;
    }
);

both_backends!(
    an_unsigned_entra_jwt_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let claims = w.claims(HOME_TENANT, HOME_TENANT);
        w.refused(REALM, &w.sign(&claims, Forgery::AlgNone)).await;
    }
);

both_backends!(
    an_entra_jwt_signed_hs256_with_the_public_key_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let claims = w.claims(HOME_TENANT, HOME_TENANT);
        for forgery in [
            Forgery::Hs256WithPublicKey,
            Forgery::Hs256WithPublicKeyDer,
            Forgery::WrongSignature,
        ] {
            w.refused(REALM, &w.sign(&claims, forgery)).await;
        }
    }
);

both_backends!(
    an_unknown_kid_refetches_the_keys_once_and_is_then_accepted,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let claims = w.claims(HOME_TENANT, HOME_TENANT);
        let (status, body) = w.list(REALM, &w.sign(&claims, Forgery::Valid)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(w.idp.jwks_fetches(), 1);
        // Entra rolls its keys: a token signed by the new one refetches them, once.
        w.idp.rotate();
        let rolled = w.sign(&claims, Forgery::Valid);
        let (status, body) = w.list(REALM, &rolled).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(w.idp.jwks_fetches(), 2);
        assert_eq!(w.list(REALM, &rolled).await.0, 200);
        // A kid nobody publishes, within five minutes of that refetch: refused, no fetch.
        let unknown = w.sign(&claims, Forgery::UnknownKid);
        assert_eq!(w.list(REALM, &unknown).await.0, 401);
        assert_eq!(
            w.idp.jwks_fetches(),
            2,
            "an unknown kid refetches at most every five minutes"
        );
    }
);

both_backends!(
    an_entra_jwt_is_refused_in_another_realm,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        // Valid for acme's directory in realm `test`; realm `other`'s directory allows another
        // tenant.
        w.refused(OTHER_REALM, &w.entra(HOME_TENANT, HOME_TENANT))
            .await;
        // And the other way round: the other realm's tenant is not acme's.
        let token = w.entra(OTHER_TENANT, OTHER_TENANT);
        let (status, body) = w.list(OTHER_REALM, &token).await;
        assert_eq!(status, 200, "{body}");
        w.refused(REALM, &token).await;
    }
);

both_backends!(
    a_bound_clients_token_reads_and_writes_as_its_directory,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let token = w.client_token(REALM, "acme-provisioning").await;
        let (status, body) = w.list(REALM, &token).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = w.create(&token, "ada@acme.test").await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(w.acme_users().await, 1, "the user is acme's");
        let path = format!("/Users/{}", body["id"].as_str().expect("id"));
        assert_eq!(w.scim(REALM, &token, "DELETE", &path, None).await.0, 204);
        assert_eq!(w.scim(REALM, &token, "GET", &path, None).await.0, 404);
        assert_eq!(
            w.idp.jwks_fetches(),
            0,
            "no upstream key is fetched for our own tokens"
        );
    }
);

both_backends!(
    a_client_bound_to_another_directory_speaks_only_as_that_directory,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let (status, body) = w.create(&w.acme.token, "ada@acme.test").await;
        assert_eq!(status, 201, "{body}");
        let acme_user = format!("/Users/{}", body["id"].as_str().expect("id"));
        // globex's client never sees acme's users: it is globex's directory, nothing else.
        let globex = w.client_token(REALM, "globex-provisioning").await;
        assert_eq!(w.scim(REALM, &globex, "GET", &acme_user, None).await.0, 404);
        let (status, body) = w.list(REALM, &globex).await;
        assert_eq!(
            (status, body["totalResults"].clone()),
            (200, json!(0)),
            "{body}"
        );
        // A client bound to a directory of another realm is refused here, and its token is
        // good in its own realm.
        let other = w.client_token(OTHER_REALM, "other-provisioning").await;
        w.refused(REALM, &other).await;
        let (status, body) = w.list(OTHER_REALM, &other).await;
        assert_eq!(status, 200, "{body}");
        // acme's client is not good in the other realm either.
        let acme_client = w.client_token(REALM, "acme-provisioning").await;
        w.refused(OTHER_REALM, &acme_client).await;
    }
);

both_backends!(
    an_unbound_clients_token_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let rp = RelyingParty::new(&w.server);
        let (status, body) = rp
            .token(("m2m-rs256", Some(SECRET)), &CLIENT_CREDENTIALS)
            .await;
        assert_eq!(status, 200, "{body}");
        w.refused(REALM, body["access_token"].as_str().expect("access_token"))
            .await;
    }
);

both_backends!(
    an_expired_client_token_is_refused,
    |backend: Backend| async move {
        let w = World::start(backend).await;
        let token = w.client_token(REALM, "acme-provisioning").await;
        w.clock.advance(3_600 * 1_000_000);
        w.refused(REALM, &token).await;
    }
);

both_backends!(
    a_disabled_clients_token_is_refused,
    |backend: Backend| async move {
        use vestibule::db::models::{clients, realm};
        let w = World::start(backend).await;
        let token = w.client_token(REALM, "acme-provisioning").await;
        {
            let mut conn = w.server.state.db.get().expect("connection");
            let realm = realm::find_by_name(&mut conn, REALM)
                .expect("realm")
                .expect("realm exists");
            let mut row = clients::find(&mut conn, &realm.id, "acme-provisioning")
                .expect("client")
                .expect("client exists");
            row.enabled = false;
            clients::update(&mut conn, &row).expect("disable");
        }
        w.refused(REALM, &token).await;
    }
);

#[test]
fn check_config_refuses_a_bound_client_whose_tokens_entra_would_not_accept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vestibule.toml");
    let text = |lifespan: i64| {
        format!(
            r#"
[[realm]]
name = "quickstart"

[[organization]]
realm = "quickstart"
alias = "acme"
name = "Acme"

[[directory]]
realm = "quickstart"
organization = "acme"
name = "entra"
clients = ["entra-provisioning"]

[directory.entra]
tenants = ["{HOME_TENANT}"]

[[client]]
realm = "quickstart"
client_id = "entra-provisioning"
secret = {{ env = "ENTRA_PROVISIONING_SECRET" }}
grant_types = ["client_credentials"]
access_token_lifespan_secs = {lifespan}
"#
        )
    };
    let check = |lifespan: i64| {
        std::fs::write(&config, text(lifespan)).expect("write config");
        let out = std::process::Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("check-config")
            .output()
            .expect("run check-config");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = check(1800);
    assert!(!ok, "30 minutes is shorter than Entra accepts");
    assert!(err.contains("entra-provisioning"), "{err}");
    assert!(err.contains("access_token_lifespan_secs"), "{err}");
    let (ok, err) = check(21_601);
    assert!(!ok && err.contains("access_token_lifespan_secs"), "{err}");
    for fine in [3600, 21_600] {
        let (ok, err) = check(fine);
        assert!(ok, "{fine}: {err}");
    }
}
