//! The login path tried as an attacker would (issue 7): a form carried into another realm, an
//! organization pin swapped, a form fetched by one browser and posted from another (login
//! CSRF), guesses in parallel, lockouts that cross realms or tell which accounts exist, and
//! login names that pick the wrong person. Each refusal leaves no session and no code behind.

use diesel::prelude::*;
use futures_util::future::join_all;
use std::sync::atomic::Ordering;

use crate::common::oidc::{
    challenge, hidden, location, provision_user, query_of, set_cookie, start_issuer, RelyingParty,
    PASSWORD, REDIRECT, VERIFIER,
};
use crate::common::realms::{start_two_realms, start_two_realms_with, ALICE, BOB, GINA};
use crate::common::{tenant, Backend, TestServer};
use crate::oidc_negatives::error_page;
use vestibule::db::schema::{auth_codes, sessions};

/// What a login form that is not this browser's, or this realm's, is answered with.
const EXPIRED: &str = "The login page expired; start again from the application.";

/// Sessions and codes in the whole database: what a refused login must not have created.
fn issued(server: &TestServer) -> (i64, i64) {
    let mut conn = server.state.db.get().expect("connection");
    let sessions = sessions::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    let codes = auth_codes::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    (sessions, codes)
}

/// The authorization request of client `web` with PKCE, plus `extra`.
fn code_request(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&str, String)> = vec![
        ("client_id", "web".into()),
        ("redirect_uri", REDIRECT.into()),
        ("response_type", "code".into()),
        ("scope", "openid organization".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ];
    for (k, v) in extra {
        query.retain(|(key, _)| key != k);
        query.push((k, v.to_string()));
    }
    query
}

async fn page(rp: &RelyingParty<'_>, extra: &[(&'static str, &'static str)]) -> String {
    let query = code_request(extra);
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rp.login_page(&pairs).await
}

fn login_form(page: &str, username: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("request", hidden(page, "request").expect("request field")),
        ("csrf", hidden(page, "csrf").expect("csrf field")),
        ("username", username.into()),
        ("password", password.into()),
    ]
}

both_backends!(
    a_login_form_posted_under_another_realm_is_refused_like_an_expired_one,
    |backend: Backend| async move {
        let server = start_two_realms(backend).await;
        let quickstart = RelyingParty::in_realm(&server, "quickstart");
        let quickstart_page = page(&quickstart, &[]).await;
        // The attacker holds the quickstart form and its browser cookie, and posts it to
        // realm `other` with an account of `other`.
        let other = RelyingParty::in_realm(&server, "other");
        other.set_login_cookie(quickstart.login_cookie());
        let reply = other
            .post_form(
                "/login-actions/authenticate",
                &login_form(&quickstart_page, BOB.0, BOB.1),
            )
            .await;
        assert!(set_cookie(&reply, "VESTIBULE_SESSION").is_none());
        assert_eq!(error_page(reply).await, (400, EXPIRED.to_string()));
        // The slug step of another realm is refused too, and moves nothing.
        let form = vec![
            ("request", hidden(&quickstart_page, "request").unwrap()),
            ("csrf", hidden(&quickstart_page, "csrf").unwrap()),
            ("organization", "initech".to_string()),
        ];
        let reply = other.post_form("/login-actions/organization", &form).await;
        assert_eq!(reply.status(), 400);
        assert!(!reply.text().await.unwrap().contains("Initech"));
        assert_eq!(issued(&server), (0, 0));
        // The form still works where it belongs.
        let reply = quickstart
            .post_form(
                "/login-actions/authenticate",
                &login_form(&quickstart_page, ALICE.0, ALICE.1),
            )
            .await;
        assert_eq!(reply.status(), 302);
        assert!(location(&reply).starts_with(REDIRECT));
        server.stop().await;
    }
);

both_backends!(
    an_organization_named_on_the_request_cannot_be_swapped,
    |backend: Backend| async move {
        let server = start_two_realms(backend).await;
        let rp = RelyingParty::in_realm(&server, "quickstart");
        let acme_page = page(&rp, &[("organization", "acme")]).await;
        let swap = vec![
            ("request", hidden(&acme_page, "request").unwrap()),
            ("csrf", hidden(&acme_page, "csrf").unwrap()),
            ("organization", "globex".to_string()),
        ];
        let reply = rp.post_form("/login-actions/organization", &swap).await;
        assert_eq!(
            error_page(reply).await,
            (
                400,
                "This login is for the organization the application asked for; start again from the application to choose another."
                    .to_string()
            )
        );
        // gina is globex's, not acme's: the acme login refuses her.
        let reply = rp
            .post_form(
                "/login-actions/authenticate",
                &login_form(&acme_page, GINA.0, GINA.1),
            )
            .await;
        assert_eq!(reply.status(), 401);
        assert!(reply.headers().get("location").is_none());
        assert_eq!(issued(&server), (0, 0));
        server.stop().await;
    }
);

both_backends!(
    a_form_posted_from_another_browser_is_refused,
    |backend: Backend| async move {
        let server = start_two_realms(backend).await;
        // The attacker fetches a login form in their own browser...
        let attacker = RelyingParty::in_realm(&server, "quickstart");
        let attacker_page = page(&attacker, &[]).await;
        assert!(attacker.login_cookie().is_some(), "a login cookie is set");
        // ...and makes the victim's browser post it with the attacker's credentials, from a
        // browser without the login cookie, or with one of its own.
        let victim = RelyingParty::in_realm(&server, "quickstart");
        for own_cookie in [false, true] {
            if own_cookie {
                page(&victim, &[]).await;
                assert_ne!(victim.login_cookie(), attacker.login_cookie());
            }
            let reply = victim
                .post_form(
                    "/login-actions/authenticate",
                    &login_form(&attacker_page, ALICE.0, ALICE.1),
                )
                .await;
            assert!(set_cookie(&reply, "VESTIBULE_SESSION").is_none());
            assert_eq!(
                error_page(reply).await,
                (400, EXPIRED.to_string()),
                "own cookie: {own_cookie}"
            );
        }
        assert_eq!(issued(&server), (0, 0));
        server.stop().await;
    }
);

both_backends!(
    parallel_guesses_are_verified_at_most_the_limit,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer(backend, &[&acme]).await;
        let rp = RelyingParty::new(&server);
        let page = page(&rp, &[]).await;
        let form = login_form(&page, "alice", "guess");
        let guesses = (0..24).map(|_| rp.post_form("/login-actions/authenticate", &form));
        for reply in join_all(guesses).await {
            assert_eq!(reply.status(), 401);
        }
        let checks = server.state.issuer.password_checks.load(Ordering::Relaxed);
        let limit = server.state.config.issuer.brute_force_max_failures as u64;
        assert_eq!(
            checks, limit,
            "passwords verified out of 24 parallel guesses"
        );
        // Locked: the right password is not even verified.
        let reply = rp
            .post_form(
                "/login-actions/authenticate",
                &login_form(&page, "alice", PASSWORD),
            )
            .await;
        assert_eq!(reply.status(), 401);
        assert_eq!(
            server.state.issuer.password_checks.load(Ordering::Relaxed),
            limit
        );
        server.stop().await;
    }
);

both_backends!(
    a_form_submitted_twice_at_once_signs_in_once,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = start_issuer(backend, &[&acme]).await;
        let rp = RelyingParty::new(&server);
        let page = page(&rp, &[]).await;
        let form = login_form(&page, "alice", PASSWORD);
        let submissions = (0..4).map(|_| rp.post_form("/login-actions/authenticate", &form));
        let statuses: Vec<u16> = join_all(submissions)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 302).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 302 || *s == 400),
            "{statuses:?}"
        );
        assert_eq!(issued(&server), (1, 1));
        server.stop().await;
    }
);

both_backends!(
    lockouts_stay_in_their_realm_and_reveal_no_account,
    |backend: Backend| async move {
        let server = start_two_realms(backend).await;
        // Enough failures in realm `other`, from this address, to lock an address there.
        let other = RelyingParty::in_realm(&server, "other");
        let other_page = page(&other, &[]).await;
        let per_address = server
            .state
            .config
            .issuer
            .brute_force_max_failures_per_address;
        for n in 0..per_address {
            let name = format!("nobody-{n}@initech.test");
            let reply = other
                .post_form(
                    "/login-actions/authenticate",
                    &login_form(&other_page, &name, "guess"),
                )
                .await;
            assert_eq!(reply.status(), 401);
        }
        // alice of quickstart, same address, is not locked out by them.
        let quickstart = RelyingParty::in_realm(&server, "quickstart");
        let login = page(&quickstart, &[]).await;
        let reply = quickstart
            .post_form(
                "/login-actions/authenticate",
                &login_form(&login, ALICE.0, ALICE.1),
            )
            .await;
        assert_eq!(reply.status(), 302);

        // Past the limit, a real account and an unknown name answer alike.
        let fresh = page(&quickstart, &[]).await;
        let max = server.state.config.issuer.brute_force_max_failures;
        let mut last = Vec::new();
        for name in [GINA.0, "nobody@globex.test"] {
            let mut answer = (0, String::new());
            for _ in 0..=max {
                let reply = quickstart
                    .post_form(
                        "/login-actions/authenticate",
                        &login_form(&fresh, name, "guess"),
                    )
                    .await;
                answer = (
                    reply.status().as_u16(),
                    reply.text().await.unwrap().replace(name, "NAME"),
                );
            }
            last.push(answer);
        }
        assert_eq!(last[0].0, 401);
        assert_eq!(last[0], last[1]);
        server.stop().await;
    }
);

both_backends!(
    login_names_are_case_insensitive_and_never_pick_another_organizations_user,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let globex = tenant("globex");
        let server = start_issuer(backend, &[&acme, &globex]).await;
        let rp = RelyingParty::new(&server);
        // alice's user name is `alice`; her email, typed in another case, signs her in.
        let reply = rp
            .submit_login(&page(&rp, &[]).await, "Alice@ACME.test", PASSWORD)
            .await;
        assert_eq!(reply.status(), 302);
        // Only globex's directory knows sam; a login pinned to acme never picks globex's sam,
        // not even to say "not a member" (that would tell the account exists elsewhere).
        provision_user(&server, &globex, "sam@shared.test").await;
        let reply = rp
            .submit_login(
                &page(&rp, &[("organization", "acme")]).await,
                "sam@shared.test",
                PASSWORD,
            )
            .await;
        assert_eq!(reply.status(), 401);
        let text = reply.text().await.unwrap();
        assert!(text.contains("Invalid username or password."), "{text}");
        // Both directories know a sam: pinned to globex, globex's signs in.
        let acme_sam = provision_user(&server, &acme, "SAM@shared.test").await;
        let reply = rp
            .submit_login(
                &page(&rp, &[("organization", "globex")]).await,
                "sam@shared.test",
                PASSWORD,
            )
            .await;
        assert_eq!(reply.status(), 302);
        let code = query_of(&location(&reply))["code"].clone();
        let tokens = rp.exchange(crate::common::oidc::WEB, &code).await;
        assert_ne!(tokens.access["sub"], acme_sam.as_str());
        assert_eq!(tokens.access["organization"], serde_json::json!(["globex"]));
        server.stop().await;
    }
);

/// Fails as many logins as a client address may from `forwarded_for`, with unknown names (so
/// that no person's counter locks first).
async fn lock_address(rt: &RelyingParty<'_>, page: &str, per_address: i32, forwarded_for: &str) {
    for n in 0..per_address {
        let name = format!("nobody-{n}@acme.test");
        let reply = rt
            .post_form_with(
                "/login-actions/authenticate",
                &login_form(page, &name, "guess"),
                &[("x-forwarded-for", forwarded_for)],
            )
            .await;
        assert_eq!(reply.status(), 401);
    }
}

both_backends!(
    address_counters_follow_trusted_proxies_only,
    |backend: Backend| async move {
        for trusted in [true, false] {
            let server = start_two_realms_with(
                backend,
                std::sync::Arc::new(vestibule::clock::SystemClock),
                |config| {
                    if trusted {
                        config.server.trusted_proxies =
                            vestibule::config::TrustedProxies::parse(["127.0.0.1/32"]).unwrap();
                    }
                },
            )
            .await;
            let rp = RelyingParty::in_realm(&server, "quickstart");
            let page = page(&rp, &[]).await;
            let per_address = server
                .state
                .config
                .issuer
                .brute_force_max_failures_per_address;
            lock_address(&rp, &page, per_address, "203.0.113.7").await;
            let alice = |address: &'static str| {
                let form = login_form(&page, ALICE.0, ALICE.1);
                let rp = &rp;
                async move {
                    rp.post_form_with(
                        "/login-actions/authenticate",
                        &form,
                        &[("x-forwarded-for", address)],
                    )
                    .await
                    .status()
                }
            };
            // The locked address is refused whoever signs in from it.
            assert_eq!(alice("203.0.113.7").await, 401);
            if trusted {
                // Behind a trusted proxy, another client address is another counter.
                assert_eq!(alice("203.0.113.8").await, 302);
            } else {
                // Without one, X-Forwarded-For is anyone's to write: the peer is what counts,
                // and it is locked.
                assert_eq!(alice("203.0.113.8").await, 401);
            }
            server.stop().await;
        }
    }
);
