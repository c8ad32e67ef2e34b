//! Paging at its edges (RFC 7644 §3.4.2.4): `startIndex` below 1 is 1, `count` below 0 is 0,
//! a page past the end is empty, a `count` past `filter.maxResults` is capped there; the
//! ListResponse says `totalResults` (all matches), `startIndex` (as interpreted) and
//! `itemsPerPage` (what this page holds). Each edge through every way a list is read: the
//! database's index order, a sort done in memory, a filter, `.search`, users and groups.

use serde_json::{json, Map, Value};
use vestibule::provisioning::query::MAX_RESULTS;

use super::assert_scim_error;
use crate::common::{entra_user, filter, tenant, Backend, Reply, Scim, TestServer};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The names a ListResponse holds, by the attribute that names `endpoint`'s resources.
fn names(list: &Value, attribute: &str) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("Resources is always an array: {list}"))
        .iter()
        .map(|r| r[attribute].as_str().expect("name").to_string())
        .collect()
}

/// A ListResponse as RFC 7644 §3.4.2 shapes it.
fn assert_page(reply: &Reply, total: usize, start_index: u64, items: usize, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["schemas"], json!([LIST_RESPONSE]), "{what}");
    assert_eq!(reply.body["totalResults"], total, "{what}");
    assert_eq!(reply.body["startIndex"], start_index, "{what}");
    assert_eq!(reply.body["itemsPerPage"], items, "{what}");
}

/// `query` (`a=1&b=2`) as a SearchRequest body, numbers as JSON numbers.
fn search_request(query: &str) -> Value {
    let mut body = Map::new();
    body.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]),
    );
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n));
        body.insert(k.into_owned(), value);
    }
    Value::Object(body)
}

/// The list of `endpoint` with `query`, as a GET and as the endpoint's `.search`.
async fn both_ways(scim: &Scim<'_>, endpoint: &str, query: &str) -> [(String, Reply); 2] {
    let get = format!("GET {endpoint}?{query}");
    let search = format!("POST {endpoint}/.search {query}");
    [
        (get, scim.get(&format!("{endpoint}?{query}")).await),
        (
            search,
            scim.post(&format!("{endpoint}/.search"), &search_request(query))
                .await,
        ),
    ]
}

both_backends!(
    paging_edges_follow_rfc_7644_on_every_read_path,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let user_names: Vec<String> = (1..=5).map(|i| format!("p{i}@acme.test")).collect();
        let group_names: Vec<String> = (1..=5).map(|i| format!("P{i}")).collect();
        for (user, group) in user_names.iter().zip(&group_names) {
            let mut body = entra_user(user);
            body["displayName"] = json!(group);
            assert_eq!(scim.post("/Users", &body).await.status, 201);
            let created = scim.post("/Groups", &json!({"displayName": group})).await;
            assert_eq!(created.status, 201, "{:?}", created.body);
        }
        // Creation order, name order and displayName order agree, so each read path pages the
        // same sequence: by the listing index, by the name index, sorted in memory, filtered.
        let users_filtered = format!("sortBy=userName&{}&", filter(r#"userName sw "p""#));
        let groups_filtered = format!("sortBy=displayName&{}&", filter(r#"displayName sw "p""#));
        let reads = [
            ("/Users", "userName", &user_names, ""),
            ("/Users", "userName", &user_names, "sortBy=userName&"),
            ("/Users", "userName", &user_names, "sortBy=displayName&"),
            ("/Users", "userName", &user_names, &users_filtered),
            ("/Groups", "displayName", &group_names, ""),
            (
                "/Groups",
                "displayName",
                &group_names,
                "sortBy=displayName&",
            ),
            ("/Groups", "displayName", &group_names, "sortBy=externalId&"),
            ("/Groups", "displayName", &group_names, &groups_filtered),
        ];
        // (paging parameters, startIndex as interpreted, the 1-based positions on the page)
        let edges: &[(&str, u64, &[usize])] = &[
            ("startIndex=1", 1, &[1, 2, 3, 4, 5]),
            ("startIndex=0", 1, &[1, 2, 3, 4, 5]),
            ("startIndex=-7", 1, &[1, 2, 3, 4, 5]),
            ("startIndex=0&count=1", 1, &[1]),
            ("startIndex=2&count=2", 2, &[2, 3]),
            ("startIndex=5&count=10", 5, &[5]),
            ("startIndex=6", 6, &[]),
            (
                "startIndex=9223372036854775807&count=3",
                i64::MAX as u64,
                &[],
            ),
            ("count=0", 1, &[]),
            ("count=-1", 1, &[]),
            ("startIndex=3&count=0", 3, &[]),
            ("count=1000000", 1, &[1, 2, 3, 4, 5]),
        ];
        for (endpoint, attribute, all, prefix) in reads {
            for (paging, start, positions) in edges {
                let query = format!("{prefix}{paging}");
                for (what, reply) in both_ways(&scim, endpoint, &query).await {
                    assert_page(&reply, 5, *start, positions.len(), &what);
                    let expected: Vec<&String> = positions.iter().map(|p| &all[p - 1]).collect();
                    let got = names(&reply.body, attribute);
                    assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{what}");
                }
            }
        }
        // The root `.search` pages users and groups together: ten in all.
        let root = scim
            .post("/.search", &search_request("startIndex=9&count=5"))
            .await;
        assert_page(&root, 10, 9, 2, "POST /.search");

        // What is no integer is refused, not guessed at.
        for (query, named) in [
            ("startIndex=first", "startIndex"),
            ("count=1.5", "count"),
            ("count=", "count"),
        ] {
            for (_, reply) in both_ways(&scim, "/Users", query).await {
                assert_scim_error(
                    &reply,
                    400,
                    Some("invalidValue"),
                    &format!("{named} must be an integer"),
                );
            }
        }
        let sideways = scim.get("/Users?sortBy=userName&sortOrder=sideways").await;
        assert_scim_error(&sideways, 400, Some("invalidValue"), "sortOrder must be");
        server.stop().await;
    }
);

both_backends!(
    a_count_past_max_results_is_capped_at_max_results,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let config = scim.get("/ServiceProviderConfig").await;
        assert_eq!(config.body["filter"]["maxResults"], MAX_RESULTS);
        let total = MAX_RESULTS + 1;
        let bodies: Vec<Value> = (0..total)
            .map(|i| entra_user(&format!("m{i:04}@acme.test")))
            .collect();
        for chunk in bodies.chunks(50) {
            let created =
                futures_util::future::join_all(chunk.iter().map(|b| scim.post("/Users", b))).await;
            for reply in created {
                assert_eq!(reply.status, 201, "{:?}", reply.body);
            }
        }
        let sw = filter(r#"userName sw "m""#);
        for (query, start, items) in [
            (format!("count={}", MAX_RESULTS + 1), 1, MAX_RESULTS),
            ("count=9223372036854775807".to_string(), 1, MAX_RESULTS),
            (
                format!("startIndex={MAX_RESULTS}&count=5000"),
                MAX_RESULTS,
                2,
            ),
            (format!("{sw}&count=5000"), 1, MAX_RESULTS),
            ("sortBy=displayName&count=5000".to_string(), 1, MAX_RESULTS),
            (format!("{sw}&startIndex=2&count=5000"), 2, MAX_RESULTS),
        ] {
            for (what, reply) in both_ways(&scim, "/Users", &query).await {
                assert_page(&reply, total, start as u64, items, &what);
                let got = names(&reply.body, "userName");
                assert_eq!(got.len(), items, "{what}");
            }
        }
        let root = scim.post("/.search", &search_request("count=5000")).await;
        assert_page(&root, total, 1, MAX_RESULTS, "POST /.search");
        // No count at all: the default page, well inside the cap.
        let default = scim.get("/Users").await;
        assert_page(&default, total, 1, 100, "GET /Users");
        server.stop().await;
    }
);
