//! Listing: filters (RFC 7644 §3.4.2.2 and Entra's forms), paging, sorting, projections,
//! `.search`, on both databases.

use crate::common::{self, entra_user, filter, tenant, Backend, Scim, TestServer};
use serde_json::{json, Value};

pub(crate) fn user_names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|u| u["userName"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Each filter of `cases` finds exactly the users named beside it (in any order), as a GET's
/// `filter` and in a SearchRequest, where the same string is inside one more JSON layer.
pub(crate) async fn assert_filters_find(scim: &Scim<'_>, cases: &[(&str, &[&str])]) {
    for (expr, expected) in cases {
        let listed = scim.get(&format!("/Users?{}", filter(expr))).await;
        let searched = scim.post("/Users/.search", &json!({"filter": expr})).await;
        for (how, list) in [("GET", listed), (".search", searched)] {
            assert_eq!(list.status, 200, "{how} {expr}: {:?}", list.body);
            let mut got = user_names(&list.body);
            got.sort();
            assert_eq!(got, *expected, "{how} {expr}");
            assert_eq!(list.body["totalResults"], expected.len(), "{how} {expr}");
            assert_eq!(list.body["itemsPerPage"], expected.len(), "{how} {expr}");
        }
    }
}

async fn seed(server: &TestServer, tenant: &common::Tenant) {
    let scim = server.scim(tenant);
    let people = [
        ("ann@acme.test", "Ann", "Engineering", "work", true),
        ("ben@acme.test", "Ben", "Sales", "home", true),
        ("cat@acme.test", "Cat", "Engineering", "work", false),
        ("dan@example.org", "Dan", "Legal", "work", true),
    ];
    for (name, given, dept, email_type, active) in people {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": name,
            "externalId": format!("X-{given}"),
            "displayName": format!("{given} Person"),
            "name": {"givenName": given, "familyName": "Person"},
            "title": if given == "Cat" { json!("Engineer") } else { Value::Null },
            "active": active,
            "emails": [{"value": name.to_uppercase(), "type": email_type, "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept, "manager": {"value": "boss-1"}}
        });
        let created = scim.post("/Users", &body).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
}

both_backends!(
    filters_cover_the_grammar_and_entra_forms,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        seed(&server, &acme).await;
        let scim = server.scim(&acme);
        let cases: &[(&str, &[&str])] = &[
            (r#"userName eq "ANN@acme.test""#, &["ann@acme.test"]),
            (r#"externalId eq "X-Ben""#, &["ben@acme.test"]),
            (r#"externalId eq "x-ben""#, &[]),
            (
                r#"emails[type eq "work"].value eq "cat@acme.test""#,
                &["cat@acme.test"],
            ),
            (
                r#"emails[type eq "work" and value co "acme"]"#,
                &["ann@acme.test", "cat@acme.test"],
            ),
            (r#"emails.value eq "BEN@acme.test""#, &["ben@acme.test"]),
            (r#"displayName eq "dan person""#, &["dan@example.org"]),
            ("active eq false", &["cat@acme.test"]),
            (
                r#"userName sw "a" or userName ew ".org""#,
                &["ann@acme.test", "dan@example.org"],
            ),
            (r#"not (userName co "acme")"#, &["dan@example.org"]),
            ("title pr", &["cat@acme.test"]),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Engineering" and active eq true"#,
                &["ann@acme.test"],
            ),
            (r#"USERNAME Eq "ben@acme.test""#, &["ben@acme.test"]),
            (
                r#"name.givenName eq "Cat" or (name.givenName eq "Ann" and not (active eq false))"#,
                &["ann@acme.test", "cat@acme.test"],
            ),
            (
                r#"meta.lastModified gt "2000-01-01T00:00:00Z" and userName eq "ann@acme.test""#,
                &["ann@acme.test"],
            ),
            (r#"meta.created lt "2000-01-01T00:00:00Z""#, &[]),
            (r#"userName eq "00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#, &[]),
        ];
        assert_filters_find(&scim, cases).await;
        // Entra's manager reference check, with attributes=id.
        let ann = scim
            .get(&format!(
                "/Users?{}",
                filter(r#"userName eq "ann@acme.test""#)
            ))
            .await;
        let ann_id = ann.body["Resources"][0]["id"].as_str().unwrap().to_string();
        let check = scim
            .get(&format!(
                "/Users?attributes=id&{}",
                filter(&format!(r#"id eq "{ann_id}" and manager eq "boss-1""#))
            ))
            .await;
        assert_eq!(check.body["totalResults"], 1, "{:?}", check.body);
        let only: Vec<&String> = check.body["Resources"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            only,
            ["id", "meta", "schemas"],
            "attributes=id returns id plus what always goes along"
        );
        for bad in [
            r#"userName eq"#,
            r#"userName zz "a""#,
            r#"(userName eq "a""#,
            r#"active gt true"#,
        ] {
            let reply = scim.get(&format!("/Users?{}", filter(bad))).await;
            assert_eq!(reply.status, 400, "{bad}");
            assert_eq!(reply.scim_type(), Some("invalidFilter"), "{bad}");
        }
        server.stop().await;
    }
);

both_backends!(
    paging_sorting_and_projection,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let mut names = Vec::new();
        for i in 0..12 {
            let name = format!("user{:02}@acme.test", 11 - i);
            assert_eq!(scim.post("/Users", &entra_user(&name)).await.status, 201);
            names.push(name);
        }
        // Gallery SCIM_User_Pagination: pages of 5, startIndex = page * 5 + 1.
        let mut seen = Vec::new();
        for page in 0..3 {
            let start = page * 5 + 1;
            let list = scim
                .get(&format!("/Users?startIndex={start}&count=5"))
                .await;
            assert_eq!(list.body["totalResults"], 12);
            assert_eq!(list.body["startIndex"], start);
            let got = user_names(&list.body);
            assert_eq!(list.body["itemsPerPage"], got.len());
            seen.extend(got);
        }
        assert_eq!(
            seen, names,
            "default order is creation order, stable across pages"
        );
        let zero = scim.get("/Users?count=0").await;
        assert_eq!(zero.body["totalResults"], 12);
        assert_eq!(zero.body["itemsPerPage"], 0);

        let sorted = scim.get("/Users?sortBy=userName&count=3").await;
        assert_eq!(
            user_names(&sorted.body),
            vec!["user00@acme.test", "user01@acme.test", "user02@acme.test"]
        );
        let desc = scim
            .get("/Users?sortBy=userName&sortOrder=descending&count=2")
            .await;
        assert_eq!(
            user_names(&desc.body),
            vec!["user11@acme.test", "user10@acme.test"]
        );
        let filtered_sorted = scim
            .get(&format!(
                "/Users?sortBy=userName&startIndex=2&count=2&{}",
                filter(r#"userName sw "user0""#)
            ))
            .await;
        assert_eq!(filtered_sorted.body["totalResults"], 10);
        assert_eq!(
            user_names(&filtered_sorted.body),
            vec!["user01@acme.test", "user02@acme.test"]
        );

        let projected = scim
            .get("/Users?attributes=userName,name.givenName&count=1")
            .await;
        let first = &projected.body["Resources"][0];
        assert!(first.get("id").is_some(), "id is always returned");
        assert!(first.get("emails").is_none());
        assert_eq!(first["name"], json!({"givenName": "Given"}));
        let excluded = scim
            .get("/Users?excludedAttributes=emails,name&count=1")
            .await;
        assert!(excluded.body["Resources"][0].get("emails").is_none());
        assert!(excluded.body["Resources"][0].get("userName").is_some());

        // POST .search takes the same parameters as JSON.
        let search = scim
            .post(
                "/Users/.search",
                &json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "userName ew \"1@acme.test\"",
                    "attributes": ["userName"],
                    "sortBy": "userName",
                    "startIndex": 1,
                    "count": 10
                }),
            )
            .await;
        assert_eq!(search.status, 200, "{:?}", search.body);
        assert_eq!(
            user_names(&search.body),
            vec!["user01@acme.test", "user11@acme.test"]
        );
        let root = scim
            .post(
                "/.search",
                &json!({"filter": "userName eq \"user05@acme.test\""}),
            )
            .await;
        assert_eq!(root.body["totalResults"], 1);
        server.stop().await;
    }
);
