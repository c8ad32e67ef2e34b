//! What the daemon writes to its log (defect 10 of issue 7): one access line per request with
//! method, route template, status, latency, realm and client id, and nothing a client sent:
//! no query string, body, token, secret, cookie, email or raw path. Checked through the real
//! binary in both log formats on both databases. Also `X-Content-Type-Options: nosniff` on every
//! kind of response (defect 13), in-process.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::common::daemon::Daemon;
use crate::common::oidc::{start_issuer, RelyingParty, CODE_REQUEST};
use crate::common::{entra_user, filter, fixture, tenant, Backend, TestDb};

/// The daemon tests' realm, organization and directory, plus a confidential client.
const CLIENT: &str = r#"
[[client]]
realm = "quickstart"
client_id = "logs-app"
secret = { env = "LOGS_CLIENT_SECRET" }
grant_types = ["client_credentials"]
"#;

/// Values a client sends that must never reach the log: each recognisable on its own, so a
/// finding names what leaked.
struct Needles {
    scim_token: String,
    wrong_scim_token: String,
    fake_access_token: String,
    email_local_part: String,
    client_secret: String,
    wrong_client_secret: String,
    cookie_value: String,
    path_value: String,
    realm_value: String,
}

impl Needles {
    fn new() -> Needles {
        let unique = || uuid::Uuid::new_v4().simple().to_string();
        Needles {
            scim_token: format!("scim-token-{}", unique()),
            wrong_scim_token: format!("wrong-scim-token-{}", unique()),
            fake_access_token: format!("eyJfake.access-token-{}", unique()),
            email_local_part: format!("leaky-{}", unique()),
            client_secret: format!("client-secret-{}", unique()),
            wrong_client_secret: format!("wrong-secret-{}", unique()),
            cookie_value: format!("cookie-value-{}", unique()),
            path_value: format!("path-value-{}", unique()),
            realm_value: format!("realm-value-{}", unique()),
        }
    }

    fn email(&self) -> String {
        format!("{}@acme.test", self.email_local_part)
    }

    /// Every needle, with the forms it travels in (the Basic header is base64).
    fn all(&self) -> Vec<(&'static str, String)> {
        let basic = |secret: &str| {
            base64::engine::general_purpose::STANDARD.encode(format!("logs-app:{secret}"))
        };
        vec![
            ("SCIM token", self.scim_token.clone()),
            ("wrong SCIM token", self.wrong_scim_token.clone()),
            ("access token", self.fake_access_token.clone()),
            ("email", self.email_local_part.clone()),
            ("client secret", self.client_secret.clone()),
            ("wrong client secret", self.wrong_client_secret.clone()),
            ("Basic credentials", basic(&self.wrong_client_secret)),
            ("Basic credentials", basic(&self.client_secret)),
            ("cookie value", self.cookie_value.clone()),
            ("raw path value", self.path_value.clone()),
            ("raw realm value", self.realm_value.clone()),
            ("a query string", "access_token=".into()),
            ("a query string", "filter=".into()),
        ]
    }
}

/// One access line, whichever the format.
#[derive(Debug, PartialEq)]
struct Access {
    method: String,
    route: String,
    status: u16,
    realm: Option<String>,
    client_id: Option<String>,
}

fn expect(
    method: &str,
    route: &str,
    status: u16,
    realm: Option<&str>,
    client_id: Option<&str>,
) -> Access {
    Access {
        method: method.into(),
        route: route.into(),
        status,
        realm: realm.map(String::from),
        client_id: client_id.map(String::from),
    }
}

/// The access lines of a JSON log: `target` `vestibule::access`, fields as JSON values.
fn json_access_lines(log: &str) -> Vec<Access> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["target"] == "vestibule::access")
        .map(|v| {
            let f = &v["fields"];
            assert_eq!(f["message"], "request", "{v}");
            assert!(
                f["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
                "latency: {v}"
            );
            let text = |k: &str| f[k].as_str().map(String::from);
            Access {
                method: text("method").unwrap_or_default(),
                route: text("route").unwrap_or_default(),
                status: f["status"].as_u64().unwrap_or_default() as u16,
                realm: text("realm"),
                client_id: text("client_id"),
            }
        })
        .collect()
}

/// The access lines of a text log: `... INFO vestibule::access: request key=value ...`.
fn text_access_lines(log: &str) -> Vec<Access> {
    log.lines()
        .filter_map(|line| line.split_once(" vestibule::access: request "))
        .map(|(_, fields)| {
            let pairs: Vec<(&str, &str)> = fields
                .split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .collect();
            let text = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            };
            assert!(
                text("latency_ms")
                    .and_then(|ms| ms.parse::<f64>().ok())
                    .is_some_and(|ms| ms >= 0.0),
                "latency: {fields}"
            );
            Access {
                method: text("method").unwrap_or_default(),
                route: text("route").unwrap_or_default(),
                status: text("status")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_default(),
                realm: text("realm"),
                client_id: text("client_id"),
            }
        })
        .collect()
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends the requests that used to leak, stops the daemon, and returns its whole log.
fn requests_that_used_to_leak(daemon: &mut Daemon, n: &Needles) -> (Vec<Access>, String) {
    let http = http();
    let base = format!("{}/realms/quickstart", daemon.base);
    let oidc = format!("{base}/protocol/openid-connect");
    let scim = format!("{base}/scim/v2");
    let by_email = filter(&format!("userName eq \"{}\"", n.email()));
    let status = |req: reqwest::blocking::RequestBuilder| req.send().expect("request").status();
    let mut expected = Vec::new();

    // A token in the query, where RFC 6750 §2.3 allows it and we do not: refused, and the
    // refusal used to log the path with its query.
    let s = status(http.get(format!(
        "{oidc}/userinfo?access_token={}",
        n.fake_access_token
    )));
    assert_eq!(s, 401);
    let userinfo = "/realms/{realm}/protocol/openid-connect/userinfo";
    expected.push(expect("GET", userinfo, 401, Some("quickstart"), None));

    // The user's email in a body, then in filters: answered, refused (wrong token) and
    // refused (a filter that does not parse).
    let s = status(
        http.post(format!("{scim}/Users"))
            .bearer_auth(&n.scim_token)
            .header("content-type", "application/scim+json")
            .body(entra_user(&n.email()).to_string()),
    );
    assert_eq!(s, 201);
    let users = "/realms/{realm}/scim/v2/Users";
    expected.push(expect("POST", users, 201, Some("quickstart"), None));
    let resp = http
        .get(format!("{scim}/Users?{by_email}"))
        .bearer_auth(&n.scim_token)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().unwrap()["totalResults"], 1);
    expected.push(expect("GET", users, 200, Some("quickstart"), None));
    let s = status(
        http.get(format!("{scim}/Users?{by_email}"))
            .bearer_auth(&n.wrong_scim_token),
    );
    assert_eq!(s, 401);
    expected.push(expect("GET", users, 401, Some("quickstart"), None));
    let s = status(
        http.get(format!("{scim}/Users?{by_email}+and"))
            .bearer_auth(&n.scim_token),
    );
    assert_eq!(s, 400);
    expected.push(expect("GET", users, 400, Some("quickstart"), None));

    // A wrong client secret in HTTP Basic: the client id is logged, the secret is not.
    let s = status(
        http.post(format!("{oidc}/token"))
            .basic_auth("logs-app", Some(&n.wrong_client_secret))
            .form(&[("grant_type", "client_credentials")]),
    );
    assert_eq!(s, 401);
    let token = "/realms/{realm}/protocol/openid-connect/token";
    expected.push(expect(
        "POST",
        token,
        401,
        Some("quickstart"),
        Some("logs-app"),
    ));
    // The right one, for the success line.
    let (s, _) = daemon.client_credentials("quickstart", "logs-app", &n.client_secret);
    assert_eq!(s, 200);
    expected.push(expect(
        "POST",
        token,
        200,
        Some("quickstart"),
        Some("logs-app"),
    ));

    // A browser with a session cookie (an unknown one: the account page sends it to login).
    let s = status(
        http.get(format!("{base}/account"))
            .header("cookie", format!("VESTIBULE_SESSION={}", n.cookie_value)),
    );
    assert_eq!(s, 302);
    expected.push(expect(
        "GET",
        "/realms/{realm}/account",
        302,
        Some("quickstart"),
        None,
    ));

    // Unknown routes, inside a realm and outside, carry a value in their path: the route is a
    // placeholder. A route that matches with a realm nobody declared logs no realm.
    let s = status(
        http.get(format!("{scim}/Nothing/{}", n.path_value))
            .bearer_auth(&n.scim_token),
    );
    assert_eq!(s, 404);
    expected.push(expect("GET", "<unmatched>", 404, Some("quickstart"), None));
    let s = status(http.get(format!("{}/{}/x", daemon.base, n.path_value)));
    assert_eq!(s, 404);
    expected.push(expect("GET", "<unmatched>", 404, None, None));
    let s = status(http.get(format!(
        "{}/realms/{}/protocol/openid-connect/certs",
        daemon.base, n.realm_value
    )));
    assert!(s.is_client_error(), "{s}");
    expected.push(expect(
        "GET",
        "/realms/{realm}/protocol/openid-connect/certs",
        s.as_u16(),
        None,
        None,
    ));

    assert!(daemon.terminate().success());
    (expected, daemon.log())
}

fn nothing_a_client_sent_is_logged(backend: Backend, format: &str) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vestibule.toml");
    let daemon_config = std::fs::read_to_string(fixture("configs/scim-daemon.toml")).unwrap();
    std::fs::write(&config, daemon_config + CLIENT).unwrap();
    let n = Needles::new();
    let mut daemon = Daemon::spawn(
        Path::new(&config),
        &db.url,
        &[
            ("SCIM_TOKEN", n.scim_token.as_str()),
            ("LOGS_CLIENT_SECRET", n.client_secret.as_str()),
        ],
        &["--log-format", format],
    );
    let (expected, log) = requests_that_used_to_leak(&mut daemon, &n);

    let leaks: Vec<String> = n
        .all()
        .into_iter()
        .flat_map(|(what, needle)| {
            log.lines()
                .filter(move |line| line.contains(&needle))
                .map(move |line| format!("{what}: {line}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "the log carries what clients sent:\n{}",
        leaks.join("\n")
    );

    let lines = match format {
        "json" => json_access_lines(&log),
        _ => text_access_lines(&log),
    };
    // Daemon::spawn polls readiness until it answers; those lines are not the test's.
    let lines: Vec<Access> = lines
        .into_iter()
        .filter(|a| a.route != "/health/ready")
        .collect();
    assert_eq!(
        lines, expected,
        "one access line per request, in order:\n{log}"
    );
}

#[test]
fn nothing_a_client_sent_is_logged_json_sqlite() {
    nothing_a_client_sent_is_logged(Backend::Sqlite, "json");
}

#[test]
fn nothing_a_client_sent_is_logged_json_postgres() {
    nothing_a_client_sent_is_logged(Backend::Postgres, "json");
}

#[test]
fn nothing_a_client_sent_is_logged_text_sqlite() {
    nothing_a_client_sent_is_logged(Backend::Sqlite, "text");
}

#[test]
fn nothing_a_client_sent_is_logged_text_postgres() {
    nothing_a_client_sent_is_logged(Backend::Postgres, "text");
}

both_backends!(every_response_says_nosniff, |backend: Backend| async move {
    let acme = tenant("acme");
    let server = start_issuer(backend, &[&acme]).await;
    let rp = RelyingParty::new(&server);
    let scim = server.scim(&acme).get("/Users").await;
    assert_eq!(scim.status, 200);
    let scim_405 = server.scim(&acme).delete("/Users").await;
    assert_eq!(scim_405.status, 405);
    let mut replies = vec![("SCIM list", scim.headers), ("SCIM 405", scim_405.headers)];
    let fetch = |what: &'static str, req: reqwest::RequestBuilder, status: u16| {
        let req = req.send();
        async move {
            let resp = req.await.expect("request");
            assert_eq!(resp.status(), status, "{what}");
            (what, resp.headers().clone())
        }
    };
    let discovery = rp.url("/.well-known/openid-configuration");
    replies.push(fetch("OIDC JSON", rp.http.get(discovery), 200).await);
    let token = rp.oidc("/token");
    let refused = rp.http.post(token.clone()).form(&[("grant_type", "none")]);
    replies.push(fetch("OAuth error JSON", refused, 401).await);
    let login = rp.http.get(rp.oidc("/auth")).query(&CODE_REQUEST);
    replies.push(fetch("HTML login page", login, 200).await);
    let unknown = format!("{}/no/such/page", server.base);
    replies.push(fetch("404", rp.http.get(unknown), 404).await);
    replies.push(fetch("405", rp.http.delete(token), 405).await);
    for (what, headers) in replies {
        assert_eq!(
            headers
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{what}: {headers:?}"
        );
    }
    server.stop().await;
});
