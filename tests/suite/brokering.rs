//! Federated login through an upstream OpenID Connect IdP (issue 8), against the forged IdP of
//! `common::forged_idp`: the way there and back, first login and linking, the organization,
//! and every check the callback makes, each refusal with its own test.

use std::sync::Arc;

use serde_json::{json, Value};
use vestibule::clock::{Clock, SystemClock};
use vestibule::config::{Config, IdentityProviderDecl, Secret, SecretRef};

use crate::common::forged_idp::{claims, Exchange, ForgedIdp, Forgery, Settings};
use crate::common::oidc::{
    challenge, location, query_of, set_cookie, RelyingParty, REDIRECT, VERIFIER, WEB,
};
use crate::common::{config, tenant, with_issuer, Backend, TestDb, TestServer, REALM};

pub const ALIAS: &str = "acme-idp";

/// The identity provider `acme-idp` of organization acme, pointing at `idp`; `extra` is TOML.
pub fn identity_provider(idp: &ForgedIdp, extra: &str) -> IdentityProviderDecl {
    let mut decl: IdentityProviderDecl = toml::from_str(&format!(
        "realm = \"{REALM}\"\nalias = \"{ALIAS}\"\nkind = \"oidc\"\norganization = \"acme\"\n\
         display_name = \"Acme SSO\"\nclient_id = \"{}\"\nclient_secret = {{ env = \"UNUSED\" }}\n\
         discovery_url = \"{}\"\n{extra}",
        idp.client_id(),
        idp.discovery_url(),
    ))
    .expect("identity provider");
    decl.client_secret = Some(SecretRef {
        env: Some("UNUSED".into()),
        file: None,
        resolved: Some(Secret::new(idp.client_secret())),
    });
    decl
}

/// Vestibule with the issuer's test setup, organizations acme (with its directory) and globex,
/// and `decls` as its identity providers.
pub async fn start_broker(
    backend: Backend,
    clock: Arc<dyn Clock>,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let acme = tenant("acme");
    let globex = tenant("globex");
    let db = TestDb::new(backend);
    let mut cfg = config(&db, &[&acme, &globex]);
    with_issuer(&mut cfg);
    adjust(&mut cfg);
    TestServer::start_with(db, cfg, clock).await
}

/// The authorization request of client `web` with PKCE, plus `extra`.
pub fn code_request(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = [
        ("client_id", "web"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid organization"),
        ("state", "client-state"),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    query.push(("code_challenge".into(), challenge(VERIFIER)));
    for (k, v) in extra {
        query.retain(|(key, _)| key != k);
        query.push((k.to_string(), v.to_string()));
    }
    query
}

/// Where a browser ends after the IdP answered: the status and `Location` of Vestibule's answer
/// to the callback, and its body.
pub struct Landing {
    pub status: u16,
    pub location: Option<String>,
    pub sso_cookie: Option<String>,
    pub body: String,
}

/// A browser's trip: the authorization request to Vestibule, on to the IdP, back to the
/// callback. Returns the callback URL the IdP sent the browser to, before it is followed.
pub async fn to_idp_and_back(
    rp: &RelyingParty<'_>,
    idp: &ForgedIdp,
    extra: &[(&str, &str)],
) -> String {
    let query = code_request(extra);
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
    assert!(broker.contains("/login?request="), "{broker}");
    let reply = rp.browse(&broker, None).await;
    assert_eq!(
        reply.status(),
        302,
        "{}",
        reply.text().await.unwrap_or_default()
    );
    idp.visit(&location(&reply)).await
}

impl Landing {
    /// What Vestibule answered the browser's arrival with.
    pub async fn of(reply: reqwest::Response) -> Landing {
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
}

/// Follows the IdP's answer into Vestibule's callback.
pub async fn land(rp: &RelyingParty<'_>, callback: &str) -> Landing {
    Landing::of(rp.browse(callback, None).await).await
}

/// A whole brokered login that must succeed: the client's code, exchanged.
pub async fn signed_in(
    rp: &RelyingParty<'_>,
    idp: &ForgedIdp,
    extra: &[(&str, &str)],
) -> crate::common::oidc::Tokens {
    let callback = to_idp_and_back(rp, idp, extra).await;
    let landing = land(rp, &callback).await;
    assert_eq!(landing.status, 302, "{}", landing.body);
    let back = landing.location.expect("back to the client");
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = query_of(&back)["code"].clone();
    rp.exchange(WEB, &code).await
}

/// Whether the refusal page is the callback's (a 4xx page with a reference), with no session.
pub fn refused(landing: &Landing, status: u16) {
    assert_eq!(landing.status, status, "{}", landing.body);
    assert!(landing.location.is_none());
    assert!(landing.sso_cookie.is_none());
    assert!(
        landing.body.contains("id=\"correlation\""),
        "{}",
        landing.body
    );
}

both_backends!(
    an_organizations_idp_signs_a_person_in_and_they_become_a_member,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        let rp = RelyingParty::new(&server);
        let tokens = signed_in(&rp, &idp, &[("organization", "acme")]).await;
        assert_eq!(tokens.access["organization"], json!(["acme"]));
        assert_eq!(tokens.id()["email"], "alice@example.test");
        // The local user alice exists already: the new user's name is made unique.
        assert_eq!(tokens.id()["preferred_username"], "alice-2");
        let first = tokens.access["sub"].clone();
        // The request upstream: PKCE S256, the nonce, our callback, the scopes.
        let sent = idp.last_request().expect("an authorization request");
        assert_eq!(sent.code_challenge_method.as_deref(), Some("S256"));
        assert!(sent.nonce.is_some());
        assert_eq!(
            sent.redirect_uri.as_deref().unwrap_or_default(),
            format!("{}/realms/{REALM}/broker/{ALIAS}/endpoint", server.base).as_str()
        );
        // A second login is the same person, linked.
        let rp2 = RelyingParty::new(&server);
        let again = signed_in(&rp2, &idp, &[("organization", "acme")]).await;
        assert_eq!(again.access["sub"], first);
        // The account page shows the link.
        let mut conn = server.state.db.get().unwrap();
        let links =
            vestibule::db::models::federated::for_user(&mut conn, first.as_str().unwrap()).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].identity_provider, ALIAS);
        assert_eq!(links[0].subject, "sub-alice");
        let member =
            vestibule::db::models::membership::for_user(&mut conn, first.as_str().unwrap())
                .unwrap();
        assert_eq!(member.len(), 1);
        assert_eq!(member[0].source, "idp");
        assert!(member[0].managed);
        server.stop().await;
    }
);

fn claims_value(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v.as_object_mut().expect("claims")
}

both_backends!(
    each_forged_id_token_is_refused_and_signs_nobody_in,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        type Edit = fn(&Exchange, &mut Value);
        let cases: Vec<(&str, Edit, Forgery)> = vec![
            ("alg none", |_, _| {}, Forgery::AlgNone),
            (
                "HS256 keyed with the public key",
                |_, _| {},
                Forgery::Hs256WithPublicKey,
            ),
            (
                "a signature by another key",
                |_, _| {},
                Forgery::WrongSignature,
            ),
            ("wrong iss", |_, c| claims::wrong_issuer(c), Forgery::Valid),
            (
                "wrong aud",
                |_, c| claims::wrong_audience(c),
                Forgery::Valid,
            ),
            ("missing sub", |_, c| claims::missing_sub(c), Forgery::Valid),
            ("missing iat", |_, c| claims::missing_iat(c), Forgery::Valid),
            ("expired", |e, c| claims::expired(c, e.now), Forgery::Valid),
            (
                "not yet valid",
                |e, c| claims::not_yet_valid(c, e.now),
                Forgery::Valid,
            ),
            (
                "issued in the future",
                |e, c| claims::issued_in_future(c, e.now),
                Forgery::Valid,
            ),
            ("wrong nonce", |_, c| claims::wrong_nonce(c), Forgery::Valid),
            (
                "missing nonce",
                |_, c| claims::missing_nonce(c),
                Forgery::Valid,
            ),
            (
                "wrong at_hash",
                |e, c| claims::wrong_at_hash(c, &e.access_token),
                Forgery::Valid,
            ),
            (
                "several audiences, no azp",
                |_, c| {
                    claims_value(c).insert("aud".into(), json!(["vestibule", "someone-else"]));
                },
                Forgery::Valid,
            ),
            (
                "azp of another party",
                |_, c| {
                    claims_value(c).insert("azp".into(), json!("someone-else"));
                },
                Forgery::Valid,
            ),
        ];
        for (what, edit, forgery) in cases {
            idp.clear_scripts();
            idp.script(move |e, c| {
                edit(e, c);
                forgery.clone()
            });
            let rp = RelyingParty::new(&server);
            let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
            let landing = land(&rp, &callback).await;
            assert_eq!(landing.status, 400, "{what}: {}", landing.body);
            refused(&landing, 400);
        }
        // Nobody was linked by any of them; and the same setup with an honest token signs in.
        let mut conn = server.state.db.get().unwrap();
        let realm = vestibule::db::models::realm::find_by_name(&mut conn, REALM)
            .unwrap()
            .unwrap();
        let linked =
            vestibule::db::models::federated::find_user(&mut conn, &realm.id, ALIAS, "sub-alice")
                .unwrap();
        assert!(linked.is_none());
        idp.clear_scripts();
        let rp = RelyingParty::new(&server);
        signed_in(&rp, &idp, &[("organization", "acme")]).await;
        server.stop().await;
    }
);

/// The authorization request's answer, for routing tests.
async fn first_answer(rp: &RelyingParty<'_>, extra: &[(&str, &str)]) -> reqwest::Response {
    let query = code_request(extra);
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    rp.authorize(&pairs, None).await
}

both_backends!(
    routing_follows_the_organization_the_hint_and_the_email_domain,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let acme_idp = identity_provider(&idp, "redirect_when_email_domain_matches = true");
        let mut acme_second = identity_provider(&idp, "");
        acme_second.alias = "acme-second".into();
        let mut globex_idp = identity_provider(&idp, "");
        globex_idp.alias = "globex-idp".into();
        globex_idp.organization = Some("globex".into());
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.organizations[0].domains =
                vec![vestibule::config::DomainDecl::Name("acme.test".into())];
            c.identity_providers
                .extend([acme_idp, acme_second, globex_idp]);
        })
        .await;
        let rp = RelyingParty::new(&server);
        // acme has two IdPs: its login page offers both, and never globex's.
        let page = first_answer(&rp, &[("organization", "acme")]).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap().replace("&#x2f;", "/");
        assert!(page.contains("/broker/acme-idp/login?request="), "{page}");
        assert!(page.contains("/broker/acme-second/login?request="));
        assert!(!page.contains("globex-idp"));
        // globex has one: straight to it.
        let reply = first_answer(&rp, &[("organization", "globex")]).await;
        assert!(location(&reply).contains("/broker/globex-idp/login?request="));
        // kc_idp_hint: followed, unless it names another organization's IdP than the pinned one.
        let reply = first_answer(&rp, &[("kc_idp_hint", "acme-second")]).await;
        assert!(location(&reply).contains("/broker/acme-second/login?request="));
        let refused = first_answer(
            &rp,
            &[("organization", "acme"), ("kc_idp_hint", "globex-idp")],
        )
        .await;
        assert_eq!(refused.status(), 400);
        assert!(refused
            .text()
            .await
            .unwrap()
            .contains("belongs to another organization"));
        // An email at acme's verified domain goes to the IdP that asks for it.
        let reply = first_answer(&rp, &[("login_hint", "carol@acme.test")]).await;
        assert!(location(&reply).contains("/broker/acme-idp/login?request="));
        // Without any of these, the realm's page lists no organization's IdP.
        let page = first_answer(&rp, &[]).await.text().await.unwrap();
        assert!(!page.contains("broker"), "{page}");
        // A brokered login pinned to acme cannot be started at globex's IdP either.
        let page = first_answer(&rp, &[("organization", "acme")])
            .await
            .text()
            .await
            .unwrap();
        let request = crate::common::oidc::hidden(&page, "request").unwrap();
        let crossed = rp
            .browse(
                &format!("/realms/{REALM}/broker/globex-idp/login?request={request}"),
                None,
            )
            .await;
        assert_eq!(crossed.status(), 403);
        server.stop().await;
    }
);

both_backends!(
    a_callback_is_single_use_bound_to_its_browser_and_its_idp,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        // Another browser (the attacker's) follows a victim's callback: refused.
        let victim = RelyingParty::new(&server);
        let callback = to_idp_and_back(&victim, &idp, &[("organization", "acme")]).await;
        let attacker = RelyingParty::new(&server);
        refused(&land(&attacker, &callback).await, 400);
        // The state was spent by that attempt: the victim's own browser cannot use it either.
        refused(&land(&victim, &callback).await, 400);
        // A fresh login succeeds once; replaying its callback is refused.
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        assert_eq!(land(&rp, &callback).await.status, 302);
        refused(&land(&rp, &callback).await, 400);
        // A state tampered with, or missing.
        let rp = RelyingParty::new(&server);
        to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        let auth = idp.last_authorization().unwrap();
        refused(
            &land(&rp, &auth.callback_with(&[("state", Some("forged"))])).await,
            400,
        );
        refused(
            &land(&rp, &auth.callback_with(&[("state", None)])).await,
            400,
        );
        // The IdP refusing is a page with a reference, never a 500.
        let rp = RelyingParty::new(&server);
        idp.refuse_next("access_denied", "the user said no");
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        let landing = land(&rp, &callback).await;
        refused(&landing, 400);
        assert!(landing.body.contains("did not let you sign in"));
        server.stop().await;
    }
);

both_backends!(
    userinfo_must_name_the_id_tokens_subject,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        idp.script_userinfo(|_, claims| claims["sub"] = json!("someone-else"));
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 400);
        server.stop().await;
    }
);

both_backends!(
    keys_are_refetched_for_a_new_kid_at_most_every_five_minutes,
    |backend: Backend| async move {
        let clock = Arc::new(vestibule::clock::FixedClock::new(1_900_000_000_000_000));
        let idp = ForgedIdp::start(Settings::default().with_clock(clock.clone())).await;
        let decl = identity_provider(&idp, "");
        let server =
            start_broker(backend, clock.clone(), |c| c.identity_providers.push(decl)).await;
        idp.add_unparseable_keys();
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        let fetched = idp.jwks_fetches();
        // Rotated just before signing: one refetch, and the login goes through.
        idp.rotate();
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        assert_eq!(idp.jwks_fetches(), fetched + 1);
        // A kid nobody published: refused, and no second refetch within five minutes.
        idp.forge(Forgery::UnknownKid);
        for _ in 0..3 {
            let rp = RelyingParty::new(&server);
            let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
            refused(&land(&rp, &callback).await, 400);
        }
        assert_eq!(idp.jwks_fetches(), fetched + 1);
        // Five minutes on, an unknown kid refetches again; a failing JWKS keeps the last keys.
        clock.advance(6 * 60 * 1_000_000);
        idp.fail_jwks(true);
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 400);
        assert_eq!(idp.jwks_fetches(), fetched + 2);
        idp.clear_scripts();
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        // No kid at all: fine with one key, refused among several.
        idp.fail_jwks(false);
        idp.forge(Forgery::NoKid);
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 400);
        server.stop().await;
    }
);

both_backends!(
    a_token_without_kid_is_verified_by_the_only_key_and_refused_among_several,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        // One published key: no `kid` leaves no doubt which one signed.
        idp.forge(Forgery::NoKid);
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        // A second key published: the same token no longer says which, and is refused.
        let second = idp.add_key(crate::common::forged_idp::Alg::RS256, "sig");
        idp.forge(Forgery::SignWith(second));
        signed_in(
            &RelyingParty::new(&server),
            &idp,
            &[("organization", "acme")],
        )
        .await;
        idp.forge(Forgery::NoKid);
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        refused(&land(&rp, &callback).await, 400);
        server.stop().await;
    }
);

both_backends!(
    a_valid_backchannel_logout_token_ends_the_session_and_nothing_else_does,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(decl)
        })
        .await;
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(
            &rp,
            &idp,
            &[("organization", "acme"), ("scope", "openid organization")],
        )
        .await;
        let landing = land(&rp, &callback).await;
        let code = query_of(&landing.location.clone().unwrap())["code"].clone();
        let tokens = rp.exchange(WEB, &code).await;
        let auth = idp.last_authorization().unwrap();
        let url = format!(
            "{}/realms/{REALM}/broker/{ALIAS}/backchannel-logout",
            server.base
        );
        let valid = idp.logout_claims(&auth);
        type Edit = fn(&mut Value);
        let forged: Vec<(&str, Edit, Forgery)> = vec![
            ("alg none", |_| {}, Forgery::AlgNone),
            (
                "HS256 with the public key",
                |_| {},
                Forgery::Hs256WithPublicKey,
            ),
            ("another key", |_| {}, Forgery::WrongSignature),
            (
                "no event",
                |c| {
                    c.as_object_mut().unwrap().remove("events");
                },
                Forgery::Valid,
            ),
            (
                "wrong event",
                |c| c["events"] = json!({"http://example.com/other": {}}),
                Forgery::Valid,
            ),
            ("a nonce", |c| c["nonce"] = json!("n"), Forgery::Valid),
            (
                "wrong aud",
                |c| c["aud"] = json!("someone-else"),
                Forgery::Valid,
            ),
            (
                "wrong iss",
                |c| c["iss"] = json!("https://evil.test"),
                Forgery::Valid,
            ),
            (
                "no sid and no sub",
                |c| {
                    c.as_object_mut().unwrap().remove("sid");
                    c.as_object_mut().unwrap().remove("sub");
                },
                Forgery::Valid,
            ),
            (
                "no iat",
                |c| {
                    c.as_object_mut().unwrap().remove("iat");
                },
                Forgery::Valid,
            ),
        ];
        for (what, edit, forgery) in forged {
            let mut claims = valid.clone();
            edit(&mut claims);
            assert_eq!(
                idp.backchannel_logout(&url, &claims, forgery).await,
                400,
                "{what}"
            );
            assert_eq!(
                rp.userinfo_status(tokens.access_token()).await,
                200,
                "{what} ended it"
            );
        }
        assert_eq!(
            idp.backchannel_logout(&url, &valid, Forgery::Valid).await,
            200
        );
        assert_eq!(rp.userinfo_status(tokens.access_token()).await, 401);
        let (status, _) = rp.refresh(WEB, tokens.refresh_token()).await;
        assert_eq!(status, 400, "the session's refresh token is revoked");
        server.stop().await;
    }
);

both_backends!(
    a_disabled_idp_or_organization_is_refused_at_every_entry_point,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let decl = identity_provider(&idp, "");
        let mut disabled = identity_provider(&idp, "enabled = false");
        disabled.alias = "acme-off".into();
        let mut closed = identity_provider(&idp, "");
        closed.alias = "globex-idp".into();
        closed.organization = Some("globex".into());
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.organizations[1].enabled = false;
            c.identity_providers.extend([decl, disabled, closed]);
        })
        .await;
        let rp = RelyingParty::new(&server);
        // The hint to a disabled IdP is refused; its start and callback too.
        let refused_hint = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                    ("kc_idp_hint", "acme-off"),
                ],
                None,
            )
            .await;
        assert_eq!(refused_hint.status(), 400);
        let page = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                ],
                None,
            )
            .await
            .text()
            .await
            .unwrap();
        let request = crate::common::oidc::hidden(&page, "request").unwrap();
        let start = rp
            .browse(
                &format!("/realms/{REALM}/broker/acme-off/login?request={request}"),
                None,
            )
            .await;
        assert_eq!(start.status(), 403);
        let callback = rp
            .browse(
                &format!("/realms/{REALM}/broker/acme-off/endpoint?state=x&code=y"),
                None,
            )
            .await;
        assert_eq!(callback.status(), 403);
        let url = format!(
            "{}/realms/{REALM}/broker/acme-off/backchannel-logout",
            server.base
        );
        let status = reqwest::Client::new()
            .post(url)
            .form(&[("logout_token", "x.y.z")])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 400);
        // The IdP of a disabled organization cannot start a login either.
        let hinted = rp
            .authorize(
                &[
                    ("client_id", "web"),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("code_challenge", &challenge(VERIFIER)),
                    ("code_challenge_method", "S256"),
                    ("kc_idp_hint", "globex-idp"),
                ],
                None,
            )
            .await;
        let start = rp.browse(&location(&hinted), None).await;
        assert_eq!(start.status(), 403);
        server.stop().await;
    }
);

both_backends!(
    logout_goes_on_to_the_idp_when_it_asks_for_it,
    |backend: Backend| async move {
        let idp = ForgedIdp::start(Settings::default()).await;
        let upstream = identity_provider(&idp, "logout_upstream = true");
        let server = start_broker(backend, Arc::new(SystemClock), |c| {
            c.identity_providers.push(upstream)
        })
        .await;
        let rp = RelyingParty::new(&server);
        let callback = to_idp_and_back(&rp, &idp, &[("organization", "acme")]).await;
        let landing = land(&rp, &callback).await;
        let session = landing.sso_cookie.clone().expect("an SSO session");
        let code = query_of(&landing.location.unwrap())["code"].clone();
        let tokens = rp.exchange(WEB, &code).await;
        let logout = format!(
            "/realms/{REALM}/protocol/openid-connect/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
            tokens.id_token(),
            url::form_urlencoded::byte_serialize(b"http://127.0.0.1:9/").collect::<String>()
        );
        let reply = rp.browse(&logout, Some(&session)).await;
        assert_eq!(reply.status(), 302);
        let to = location(&reply);
        assert!(to.starts_with(&format!("{}/logout?", idp.base)), "{to}");
        let query = query_of(&to);
        assert_eq!(
            query["post_logout_redirect_uri"],
            "http://127.0.0.1:9/?state=bye"
        );
        assert_eq!(query["client_id"], idp.client_id());
        assert!(!query["id_token_hint"].is_empty());
        assert_eq!(rp.userinfo_status(tokens.access_token()).await, 401);
        server.stop().await;
    }
);

#[test]
fn idp_show_prints_the_redirect_uri_to_register_without_secrets_or_a_database() {
    let example = crate::common::fixture("../../examples/entra.toml");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::common::daemon::BIN)
            .args(args)
            .arg("--config")
            .arg(&example)
            .env_remove("ENTRA_CLIENT_SECRET")
            .output()
            .expect("vestibule");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let list = run(&["idp", "list"]);
    assert!(list.contains("acme-app/acme-entra  oidc (entra)"), "{list}");
    let show = run(&["idp", "show", "--realm", "acme-app", "acme-entra"]);
    assert!(show.contains(
        "redirect URI to register: http://127.0.0.1:8080/realms/acme-app/broker/acme-entra/endpoint"
    ), "{show}");
    assert!(show.contains("subject: oid"));
    assert!(show.contains("mapper \"super-admin\""));
    assert!(
        !std::path::Path::new("vestibule-entra.db").exists(),
        "no database was opened"
    );
}
