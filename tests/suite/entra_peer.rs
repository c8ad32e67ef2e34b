//! The Entra ID-like upstream provider of `tests/peers/entra` behaves as Entra does, seen from a
//! tiny relying party written here: per-tenant and template discovery, the code flow with PKCE,
//! Entra's ID-token claim shapes, JWKS keys with `issuer`, key rollover, the groups overage, the
//! tenant-independent endpoints, the login page's prompts, and back-channel logout. No database.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::entra_peer::{
    guid, EntraClient, EntraConfig, EntraPeer, EntraTenant, EntraUser, Visit,
};
use crate::common::oidc::{challenge, claims_of, header_of, query_of, REDIRECT, VERIFIER};

const ALICE: &str = "alice@contoso.test";
const ALICE_PASSWORD: &str = "alice-entra-password";
const BOB: &str = "bob@fabrikam.test";
const BOB_PASSWORD: &str = "bob-entra-password";
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Contoso (alice: two groups, an app role) on the shared keys, Fabrikam (bob) with keys of its
/// own, and two multi-tenant apps; `backchannel` is app one's back-channel logout URI.
struct World {
    peer: EntraPeer,
    contoso: EntraTenant,
    fabrikam: EntraTenant,
    one: EntraClient,
    two: EntraClient,
}

impl World {
    fn start(backchannel: Option<String>) -> World {
        let mut contoso = EntraTenant::new("Contoso");
        let mut alice = EntraUser::new(ALICE, ALICE_PASSWORD, "Alice", "Liddell");
        alice.groups = vec![guid(), guid()];
        alice.roles = vec!["Tasks.Admin".into()];
        contoso.users.push(alice);
        let mut fabrikam = EntraTenant::new("Fabrikam");
        fabrikam.own_keys = true;
        let mut bob = EntraUser::new(BOB, BOB_PASSWORD, "Bob", "Builder");
        bob.xms_edov = false;
        fabrikam.users.push(bob);
        let mut one = EntraClient::new(REDIRECT);
        one.backchannel_logout_uri = backchannel;
        let two = EntraClient::new(REDIRECT);
        let config = EntraConfig {
            tenants: vec![contoso.clone(), fabrikam.clone()],
            clients: vec![one.clone(), two.clone()],
        };
        World {
            peer: EntraPeer::start(&config),
            contoso,
            fabrikam,
            one,
            two,
        }
    }

    fn alice(&self) -> &EntraUser {
        &self.contoso.users[0]
    }

    fn rp<'a>(&'a self, client: &'a EntraClient) -> Rp<'a> {
        Rp {
            peer: &self.peer,
            client,
        }
    }

    async fn get_json(&self, url: &str) -> Value {
        let reply = reqwest::get(url).await.expect("GET");
        assert_eq!(reply.status(), 200, "{url}\n{}", self.peer.log());
        reply.json().await.expect("JSON")
    }
}

/// How a relying party authenticates at the token endpoint.
#[derive(Clone, Copy)]
enum ClientAuth {
    Basic,
    Post,
}

/// The relying party: one app registration, the code flow with PKCE (S256, `VERIFIER`).
struct Rp<'a> {
    peer: &'a EntraPeer,
    client: &'a EntraClient,
}

impl Rp<'_> {
    /// The authorization request at `tenant` (a tid, `common` or `organizations`) for `scope`,
    /// with `extra` parameters added.
    fn authorization_url(&self, tenant: &str, scope: &str, extra: &[(&str, &str)]) -> String {
        let code_challenge = challenge(VERIFIER);
        let mut url = url::Url::parse(&self.peer.authorization_endpoint(tenant)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "state-1")
            .append_pair("nonce", "nonce-1")
            .append_pair("code_challenge", &code_challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        url.to_string()
    }

    /// A token request at `tenant`: the status and the answer.
    async fn token(&self, tenant: &str, form: &[(&str, &str)], auth: ClientAuth) -> (u16, Value) {
        let mut form = form.to_vec();
        let mut request = reqwest::Client::new().post(self.peer.token_endpoint(tenant));
        match auth {
            ClientAuth::Basic => {
                request =
                    request.basic_auth(&self.client.client_id, Some(&self.client.client_secret));
            }
            ClientAuth::Post => {
                form.push(("client_id", &self.client.client_id));
                form.push(("client_secret", &self.client.client_secret));
            }
        }
        let reply = request.form(&form).send().await.expect("token request");
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    /// Redeems the code of `redirect` (the URL the peer sent the browser back to) at `tenant`.
    async fn redeem(&self, tenant: &str, redirect: &str, auth: ClientAuth) -> Value {
        let query = query_of(redirect);
        assert_eq!(
            query.get("state").map(String::as_str),
            Some("state-1"),
            "{redirect}"
        );
        let code = query
            .get("code")
            .unwrap_or_else(|| panic!("no code in {redirect}"));
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let (status, body) = self.token(tenant, &form, auth).await;
        assert_eq!(status, 200, "{body}\n{}", self.peer.log());
        body
    }

    /// Signs `upn` in at `tenant` from a fresh browser: the redirect back to this party.
    async fn authorize(&self, tenant: &str, scope: &str, upn: &str, password: &str) -> String {
        let url = self.authorization_url(tenant, scope, &[]);
        self.peer.sign_in(&url, upn, password).await
    }

    /// Signs `upn` in at `tenant` and redeems the code there: the token response.
    async fn sign_in(&self, tenant: &str, scope: &str, upn: &str, password: &str) -> Value {
        let back = self.authorize(tenant, scope, upn, password).await;
        self.redeem(tenant, &back, ClientAuth::Basic).await
    }
}

/// A JWT's claims after checking its RS256 signature with the key of its `kid` in `jwks`.
fn verified(jwt: &str, jwks: &Value) -> Value {
    let kid = header_of(jwt)["kid"].clone();
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in {jwks}"));
    let number = |name: &str| {
        let bytes = URL_SAFE_NO_PAD
            .decode(key[name].as_str().expect(name))
            .expect("base64url");
        BigNum::from_slice(&bytes).unwrap()
    };
    let rsa = Rsa::from_public_components(number("n"), number("e")).unwrap();
    let public = PKey::from_rsa(rsa).unwrap();
    let (signed, signature) = jwt.rsplit_once('.').expect("a JWS");
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed.as_bytes()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    assert!(
        verifier.verify(&signature).unwrap(),
        "bad signature on {jwt}"
    );
    claims_of(jwt)
}

fn id_token(tokens: &Value) -> &str {
    tokens["id_token"].as_str().expect("id_token")
}

#[tokio::test]
async fn discovery_per_tenant_and_the_common_template() {
    let world = World::start(None);
    let peer = &world.peer;
    for tenant in [&world.contoso, &world.fabrikam] {
        let tid = &tenant.tid;
        let document = world.get_json(&peer.discovery_url(tid)).await;
        assert_eq!(document["issuer"], peer.issuer(tid));
        assert_eq!(
            document["authorization_endpoint"],
            peer.authorization_endpoint(tid)
        );
        assert_eq!(document["token_endpoint"], peer.token_endpoint(tid));
        assert_eq!(document["jwks_uri"], peer.jwks_uri(tid));
        assert_eq!(document["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
    }
    for kind in ["common", "organizations"] {
        let document = world.get_json(&peer.discovery_url(kind)).await;
        assert_eq!(document["issuer"], peer.issuer_template(), "{document}");
        assert_eq!(
            document["issuer"],
            format!("{}/{{tenantid}}/v2.0", peer.base)
        );
        assert_eq!(
            document["authorization_endpoint"],
            peer.authorization_endpoint(kind)
        );
        assert_eq!(document["token_endpoint"], peer.token_endpoint(kind));
        assert_eq!(document["jwks_uri"], peer.jwks_uri(kind));
    }
    let unknown = reqwest::get(peer.discovery_url(&guid())).await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"],
        "invalid_tenant"
    );
}

#[tokio::test]
async fn code_flow_with_pkce_gives_entra_shaped_id_tokens() {
    let world = World::start(None);
    let (peer, tid, alice) = (&world.peer, &world.contoso.tid, world.alice());
    let jwks = world.get_json(&peer.jwks_uri(tid)).await;
    let one = world.rp(&world.one);
    let tokens = one
        .sign_in(tid, "openid profile email", ALICE, ALICE_PASSWORD)
        .await;
    let claims = verified(id_token(&tokens), &jwks);
    assert_eq!(claims["iss"], peer.issuer(tid));
    assert_eq!(claims["aud"], world.one.client_id);
    assert_eq!(claims["tid"], *tid);
    assert_eq!(claims["oid"], alice.oid);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["upn"], ALICE);
    assert_eq!(claims["preferred_username"], ALICE);
    assert_eq!(claims["email"], ALICE);
    assert_eq!(claims["xms_edov"], true);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["groups"], json!(alice.groups));
    assert_eq!(claims["roles"], json!(["Tasks.Admin"]));
    let sub_one = claims["sub"].as_str().expect("sub").to_string();
    assert_eq!(
        sub_one.len(),
        43,
        "Entra's sub is 43 base64url characters: {sub_one}"
    );
    assert!(URL_SAFE_NO_PAD.decode(&sub_one).is_ok());
    assert_ne!(sub_one, alice.oid);

    // Userinfo: the same pairwise sub, and the profile and email claims.
    let userinfo: Value = reqwest::Client::new()
        .get(format!("{}/{tid}/oidc/userinfo", peer.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], sub_one);
    assert_eq!(userinfo["given_name"], "Alice");
    assert_eq!(userinfo["family_name"], "Liddell");
    assert_eq!(userinfo["email"], ALICE);

    // Another app of the same tenant: the same oid, another sub; client_secret_post works too.
    let two = world.rp(&world.two);
    let back = two
        .authorize(tid, "openid profile", ALICE, ALICE_PASSWORD)
        .await;
    let claims_two = claims_of(id_token(&two.redeem(tid, &back, ClientAuth::Post).await));
    assert_eq!(claims_two["oid"], alice.oid);
    assert_ne!(claims_two["sub"], sub_one);
    assert_eq!(claims_two.get("email"), None, "email needs the email scope");

    // PKCE was sent, so the code needs its verifier.
    let back = one.authorize(tid, "openid", ALICE, ALICE_PASSWORD).await;
    let code = query_of(&back)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = one.token(tid, &form, ClientAuth::Basic).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn without_profile_there_is_no_oid_tid_or_name() {
    let world = World::start(None);
    let tid = &world.contoso.tid;
    let tokens = world
        .rp(&world.one)
        .sign_in(tid, "openid", ALICE, ALICE_PASSWORD)
        .await;
    let claims = claims_of(id_token(&tokens));
    for absent in ["oid", "tid", "name", "preferred_username", "email"] {
        assert_eq!(
            claims.get(absent),
            None,
            "{absent} without profile/email: {claims}"
        );
    }
    assert_eq!(claims["iss"], world.peer.issuer(tid));
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["upn"], ALICE);
    assert_eq!(claims["groups"], json!(world.alice().groups));
}

#[tokio::test]
async fn jwks_keys_carry_their_issuer_and_roll_over() {
    let world = World::start(None);
    let (peer, contoso, fabrikam) = (&world.peer, &world.contoso.tid, &world.fabrikam.tid);
    let keys_of = |jwks: &Value| jwks["keys"].as_array().expect("keys").clone();
    for tid in [contoso, fabrikam] {
        for key in keys_of(&world.get_json(&peer.jwks_uri(tid)).await) {
            assert_eq!(key["issuer"], peer.issuer(tid), "{key}");
            assert_eq!(
                (key["kty"].as_str(), key["use"].as_str()),
                (Some("RSA"), Some("sig"))
            );
        }
    }
    // The common JWKS: shared keys under the template, Fabrikam's own under its issuer.
    let common = keys_of(&world.get_json(&peer.jwks_uri("common")).await);
    let issuers: Vec<&str> = common
        .iter()
        .map(|k| k["issuer"].as_str().unwrap())
        .collect();
    assert!(
        issuers.contains(&peer.issuer_template().as_str()),
        "{issuers:?}"
    );
    assert!(
        issuers.contains(&peer.issuer(fabrikam).as_str()),
        "{issuers:?}"
    );

    let rp = world.rp(&world.one);
    let first = rp.sign_in(contoso, "openid", ALICE, ALICE_PASSWORD).await;
    let old_kid = header_of(id_token(&first))["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let new_kid = peer.rotate_keys().await;
    assert_ne!(new_kid, old_kid);
    let jwks = world.get_json(&peer.jwks_uri(contoso)).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    let second = rp.sign_in(contoso, "openid", ALICE, ALICE_PASSWORD).await;
    assert_eq!(header_of(id_token(&second))["kid"], new_kid);
    verified(id_token(&second), &jwks);
    verified(id_token(&first), &jwks);
    // The peer itself still accepts an id_token_hint signed with the retired key, and refuses
    // a forged one.
    let logout = |hint: &str| {
        format!(
            "{}/{contoso}/oauth2/v2.0/logout?id_token_hint={hint}",
            peer.base
        )
    };
    let old_hint = reqwest::get(logout(id_token(&first))).await.unwrap();
    assert_eq!(old_hint.status(), 200, "{}", peer.log());
    let forged = format!("{}AAAA", id_token(&first).trim_end_matches(|c| c != '.'));
    assert_eq!(reqwest::get(logout(&forged)).await.unwrap().status(), 400);

    // Fabrikam's own keys are not the shared ones, and roll over on their own.
    let fabrikam_kid = peer.rotate_tenant_keys(fabrikam).await;
    let fabrikam_keys = world.get_json(&peer.jwks_uri(fabrikam)).await;
    assert!(!fabrikam_keys.to_string().contains(&new_kid));
    assert!(fabrikam_keys.to_string().contains(&fabrikam_kid));

    peer.set_bad_key(true).await;
    let with_bad = keys_of(&world.get_json(&peer.jwks_uri(contoso)).await);
    let bad = with_bad
        .iter()
        .find(|k| k["kty"] == "XYZ")
        .expect("the unparseable key");
    assert_eq!(bad["issuer"], peer.issuer(contoso));
    assert_eq!(with_bad.len(), kids.len() + 1);
    peer.set_bad_key(false).await;
    let without = keys_of(&world.get_json(&peer.jwks_uri(contoso)).await);
    assert!(without.iter().all(|k| k["kty"] == "RSA"));
}

#[tokio::test]
async fn groups_overage_replaces_groups_with_a_claim_source() {
    let world = World::start(None);
    let (peer, tid, alice) = (&world.peer, &world.contoso.tid, world.alice());
    let rp = world.rp(&world.one);
    peer.set_overage(&alice.oid, true).await;
    let tokens = rp
        .sign_in(tid, "openid profile", ALICE, ALICE_PASSWORD)
        .await;
    let claims = claims_of(id_token(&tokens));
    assert_eq!(claims.get("groups"), None, "{claims}");
    assert_eq!(claims["_claim_names"], json!({ "groups": "src1" }));
    let endpoint = format!("{}/graph/getMemberObjects", peer.base);
    assert_eq!(
        claims["_claim_sources"],
        json!({ "src1": { "endpoint": endpoint } })
    );

    // Where the overage points: the groups, for the user's access token.
    let reply = reqwest::Client::new()
        .post(&endpoint)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({ "securityEnabledOnly": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<Value>().await.unwrap()["value"],
        json!(alice.groups)
    );

    peer.set_overage(&alice.oid, false).await;
    let claims = claims_of(id_token(
        &rp.sign_in(tid, "openid", ALICE, ALICE_PASSWORD).await,
    ));
    assert_eq!(claims["groups"], json!(alice.groups));
    assert_eq!(claims.get("_claim_names"), None);
}

#[tokio::test]
async fn common_endpoints_serve_every_tenant_under_the_template() {
    let world = World::start(None);
    let peer = &world.peer;
    let rp = world.rp(&world.one);
    for (tenant, upn, password) in [
        (&world.contoso, ALICE, ALICE_PASSWORD),
        (&world.fabrikam, BOB, BOB_PASSWORD),
    ] {
        // Without login_hint, the account name comes first, then the tenant's login page.
        let browser = peer.browser();
        let Visit::Form(account) = browser
            .visit(&rp.authorization_url("common", "openid profile", &[]))
            .await
        else {
            panic!("no account form at /common");
        };
        assert!(
            account.fields.contains_key("username") && !account.fields.contains_key("password")
        );
        let back = browser
            .sign_in(
                &rp.authorization_url("organizations", "openid profile", &[]),
                upn,
                password,
            )
            .await;
        let tokens = rp.redeem("common", &back, ClientAuth::Basic).await;
        let claims = verified(
            id_token(&tokens),
            &world.get_json(&peer.jwks_uri("common")).await,
        );
        assert_eq!(claims["iss"], peer.issuer(&tenant.tid));
        assert_eq!(claims["tid"], tenant.tid);
        assert_eq!(
            peer.issuer_template().replace("{tenantid}", &tenant.tid),
            claims["iss"]
        );
        let userinfo = reqwest::Client::new()
            .get(format!("{}/common/oidc/userinfo", peer.base))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            userinfo.json::<Value>().await.unwrap()["sub"],
            claims["sub"]
        );
    }
    let claims = claims_of(id_token(
        &rp.sign_in("common", "openid", BOB, BOB_PASSWORD).await,
    ));
    assert_eq!(claims["xms_edov"], false);
}

#[tokio::test]
async fn login_page_follows_login_hint_and_prompt() {
    let world = World::start(None);
    let (peer, tid) = (&world.peer, &world.contoso.tid);
    let rp = world.rp(&world.one);
    let browser = peer.browser();

    let none = rp.authorization_url(tid, "openid", &[("prompt", "none")]);
    let Visit::Back(back) = browser.visit(&none).await else {
        panic!("a form for prompt=none")
    };
    assert_eq!(
        query_of(&back).get("error").map(String::as_str),
        Some("login_required"),
        "{back}"
    );

    let hinted = rp.authorization_url(tid, "openid", &[("login_hint", ALICE)]);
    let Visit::Form(form) = browser.visit(&hinted).await else {
        panic!("no login page")
    };
    assert_eq!(form.fields["username"], ALICE);
    assert_eq!(form.fields["password"], "");
    let mut wrong = form.fields.clone();
    wrong.insert("password".into(), "not-the-password".into());
    let Visit::Form(refused) = browser.submit(&form, &wrong).await else {
        panic!("a wrong password signed in")
    };
    assert_eq!(
        refused.error.as_deref(),
        Some("Your account or password is incorrect.")
    );
    browser.sign_in(&hinted, ALICE, ALICE_PASSWORD).await;

    // With a session: no form, unless prompt=login asks for one.
    let Visit::Back(silent) = browser
        .visit(&rp.authorization_url(tid, "openid", &[]))
        .await
    else {
        panic!("a form despite the session");
    };
    assert!(query_of(&silent).contains_key("code"), "{silent}");
    let Visit::Back(silent) = browser.visit(&none).await else {
        panic!("a form for prompt=none")
    };
    assert!(query_of(&silent).contains_key("code"), "{silent}");
    let forced = rp.authorization_url(tid, "openid", &[("prompt", "login")]);
    assert!(matches!(browser.visit(&forced).await, Visit::Form(_)));
}

/// Accepts one HTTP request on `listener`, answers 200, and returns the listener and the body.
async fn receive_one(listener: tokio::net::TcpListener) -> (tokio::net::TcpListener, String) {
    let (mut socket, _) = listener.accept().await.expect("accept");
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = socket.read(&mut buffer).await.expect("read");
        request.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .expect("answer");
                return (listener, body.to_string());
            }
        }
        assert!(read > 0, "connection closed before the body: {text}");
    }
}

/// What the listener task received; the peer has long answered by then, so 10 s is plenty.
async fn within_seconds<T>(task: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("no back-channel request within 10 s")
        .expect("listener task")
}

/// The claims of the logout token in a back-channel request `body`, after checking what OpenID
/// Connect Back-Channel Logout 1.0 §2.4 asks of it against the ID token `id` it ends.
async fn logout_token_for(world: &World, body: &str, id: &Value) -> Value {
    let (peer, tid) = (&world.peer, &world.contoso.tid);
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let token = form
        .get("logout_token")
        .unwrap_or_else(|| panic!("no logout_token in {body}"));
    assert_eq!(header_of(token)["typ"], "logout+jwt");
    let claims = verified(token, &world.get_json(&peer.jwks_uri(tid)).await);
    assert_eq!(claims["iss"], peer.issuer(tid));
    assert_eq!(claims["aud"], world.one.client_id);
    assert_eq!(claims["sid"], id["sid"]);
    assert_eq!(claims["sub"], id["sub"]);
    assert_eq!(claims["events"], json!({ BACKCHANNEL_EVENT: {} }));
    assert!(
        claims["iat"].is_i64() && claims["jti"].is_string(),
        "{claims}"
    );
    assert_eq!(claims.get("nonce"), None);
    claims
}

#[tokio::test]
async fn backchannel_logout_reaches_the_relying_party() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://{}/backchannel-logout",
        listener.local_addr().unwrap()
    );
    let world = World::start(Some(uri.clone()));
    let (peer, tid) = (&world.peer, &world.contoso.tid);
    let rp = world.rp(&world.one);
    let tokens = rp
        .sign_in(tid, "openid profile", ALICE, ALICE_PASSWORD)
        .await;
    let id = claims_of(id_token(&tokens));
    let sid = id["sid"]
        .as_str()
        .expect("sid in the ID token of a back-channel client");
    let sessions = peer.sessions().await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["clients"][0]["sid"], sid);

    // The admin's sign-out of every session of the user.
    let received = tokio::spawn(receive_one(listener));
    assert_eq!(peer.backchannel_logout(ALICE).await, 200, "{}", peer.log());
    let (listener, body) = within_seconds(received).await;
    logout_token_for(&world, &body, &id).await;
    assert!(
        peer.sessions().await.is_empty(),
        "the session ended at the peer"
    );

    // The user's own sign-out at the peer's end-session endpoint (RP-initiated logout) sends
    // one as well, through oidc-provider's own back-channel logout.
    let browser = peer.browser();
    let back = browser
        .sign_in(
            &rp.authorization_url(tid, "openid", &[]),
            ALICE,
            ALICE_PASSWORD,
        )
        .await;
    let tokens = rp.redeem(tid, &back, ClientAuth::Basic).await;
    let logout = format!(
        "{}/{tid}/oauth2/v2.0/logout?id_token_hint={}",
        peer.base,
        id_token(&tokens)
    );
    let Visit::Form(confirm) = browser.visit(&logout).await else {
        panic!("no sign-out page")
    };
    let mut fields = confirm.fields.clone();
    fields.insert("logout".into(), "yes".into());
    let received = tokio::spawn(receive_one(listener));
    let signed_out = browser.submit(&confirm, &fields).await;
    assert!(matches!(signed_out, Visit::Page(_)), "{signed_out:?}");
    let (_, body) = within_seconds(received).await;
    logout_token_for(&world, &body, &claims_of(id_token(&tokens))).await;
    assert!(peer.sessions().await.is_empty(), "{}", peer.log());
}
