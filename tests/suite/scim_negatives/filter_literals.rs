//! Filter strings are JSON strings (RFC 7644 §3.4.2.2): `\"` and `\\` are escapes, and `%`,
//! `_` and `*` are only characters. `eq` matches the whole value (without case, userName being
//! caseExact false); `sw`, `co` and `ew` match the characters given, never as SQL `LIKE` or
//! glob wildcards.

use serde_json::json;

use super::assert_scim_error;
use crate::common::{entra_user, filter, tenant, Backend, TestServer};
use crate::scim_queries::assert_filters_find;

/// Users whose names hold the characters a filter must take literally, and names that a
/// wildcard reading of them would match as well.
const NAMES: [&str; 7] = [
    "100%_real@x.test",
    "100xyreal@x.test",
    "1000_real@x.test",
    r"back\slash@x.test",
    r#"quote"d@x.test"#,
    "star*@x.test",
    "starry@x.test",
];

both_backends!(
    wildcard_and_escaped_characters_in_filters_are_literal,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        for name in NAMES {
            let created = scim.post("/Users", &entra_user(name)).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            assert_eq!(created.body["userName"], name, "stored as sent");
        }
        // Each filter as written on the wire, and the userNames it must find.
        let cases: &[(&str, &[&str])] = &[
            (r#"userName eq "100%_real@x.test""#, &["100%_real@x.test"]),
            (r#"userName eq "100__real@x.test""#, &[]),
            (r#"userName eq "100%real@x.test""#, &[]),
            (r#"userName sw "100%""#, &["100%_real@x.test"]),
            (r#"userName co "%_""#, &["100%_real@x.test"]),
            (r#"userName co "%""#, &["100%_real@x.test"]),
            (r#"userName sw "%""#, &[]),
            (r#"userName sw "_""#, &[]),
            (
                r#"userName ew "_real@x.test""#,
                &["100%_real@x.test", "1000_real@x.test"],
            ),
            (r#"userName co "0_r""#, &["1000_real@x.test"]),
            (r#"userName sw "star*""#, &["star*@x.test"]),
            (r#"userName co "*""#, &["star*@x.test"]),
            (r#"userName eq "star*""#, &[]),
            (
                r#"userName eq "back\\slash@x.test""#,
                &[r"back\slash@x.test"],
            ),
            (r#"userName co "\\""#, &[r"back\slash@x.test"]),
            (r#"userName eq "backslash@x.test""#, &[]),
            (r#"userName eq "quote\"d@x.test""#, &[r#"quote"d@x.test"#]),
            (r#"userName ew "\"d@X.TEST""#, &[r#"quote"d@x.test"#]),
            (r#"userName co "\"""#, &[r#"quote"d@x.test"#]),
            // A JSON \u escape, and case folded as userName is caseExact false.
            (
                r#"userName eq "\u0071UOTE\"d@x.test""#,
                &[r#"quote"d@x.test"#],
            ),
            (
                r#"emails.value eq "QUOTE\"D@X.TEST" or emails.value eq "back\\slash@x.test""#,
                &[r"back\slash@x.test", r#"quote"d@x.test"#],
            ),
        ];
        assert_filters_find(&scim, cases).await;
        // A quoted value that is no JSON string is refused.
        for (bad, detail) in [
            (r#"userName eq "bad\q""#, "Invalid escape in string"),
            (r#"userName eq "\u00""#, "Invalid escape in string"),
            (r#"userName eq "open\""#, "Unterminated string"),
        ] {
            let reply = scim.get(&format!("/Users?{}", filter(bad))).await;
            assert_scim_error(&reply, 400, Some("invalidFilter"), detail);
        }
        server.stop().await;
    }
);

both_backends!(
    wildcard_characters_in_group_filters_are_literal,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        for name in ["R&D 100%", "R&D 1000", r#"The "A" Team"#, "Team_A"] {
            let created = scim.post("/Groups", &json!({"displayName": name})).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
        }
        let cases: &[(&str, &[&str])] = &[
            (r#"displayName sw "R&D 100%""#, &["R&D 100%"]),
            (r#"displayName eq "r&d 100%""#, &["R&D 100%"]),
            (r#"displayName eq "R&D 100_""#, &[]),
            (r#"displayName co "\"A\"""#, &[r#"The "A" Team"#]),
            (r#"displayName eq "the \"a\" team""#, &[r#"The "A" Team"#]),
            (r#"displayName ew "_A""#, &["Team_A"]),
        ];
        for (expr, expected) in cases {
            let list = scim
                .get(&format!("/Groups?attributes=displayName&{}", filter(expr)))
                .await;
            assert_eq!(list.status, 200, "{expr}: {:?}", list.body);
            let mut got: Vec<&str> = list.body["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .filter_map(|g| g["displayName"].as_str())
                .collect();
            got.sort();
            assert_eq!(got, *expected, "{expr}");
        }
        server.stop().await;
    }
);
