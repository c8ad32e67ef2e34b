//! Hostile SCIM input through HTTP on both databases (issue 7): filters nested or chained past
//! the limits, PATCH requests past the operation, value and nesting limits, and the same
//! requests without a valid token. Each refusal is SCIM error JSON, changes nothing, and leaves
//! the server answering (a stack overflow would have aborted the whole process).

use crate::common::{entra_user, filter, tenant, Backend, Reply, Scim, TestServer};
use scim::limits::{
    MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_TERMS, MAX_PATCH_OPERATIONS, MAX_VALUE_DEPTH,
    MAX_WRITE_BODY_BYTES, MAX_WRITE_VALUES,
};
use serde_json::{json, Value};

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// `((((…userName pr…))))`, `depth` parentheses deep.
fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

/// `userName eq "u0" or userName eq "u1" or …`, `terms` comparisons long.
fn or_chain(terms: usize) -> String {
    (0..terms)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn search(filter: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": filter,
    })
}

/// A SCIM 400 of type `scim_type` whose detail contains `names`.
fn assert_refused(reply: &Reply, scim_type: &str, names: &str) {
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(reply.body["status"], "400");
    assert_eq!(reply.scim_type(), Some(scim_type), "{:?}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(names), "{detail:?} should name {names:?}");
    assert!(detail.len() < 400, "the detail does not echo the input");
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
}

fn assert_unauthenticated(reply: &Reply) {
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "401");
    assert!(reply.header("www-authenticate").is_some());
}

/// The resource at `path` reads back exactly as `before`: same body, version and ETag.
async fn assert_unchanged(scim: &Scim<'_>, path: &str, before: &Reply) {
    let after = scim.get(path).await;
    assert_eq!(after.body, before.body, "unchanged");
    assert_eq!(after.header("etag"), before.header("etag"));
}

/// The process is still up and serving SCIM.
async fn assert_alive(scim: &Scim<'_>) {
    let listed = scim
        .get(&format!("/Users?{}", filter(r#"userName eq "nobody""#)))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 0);
}

both_backends!(
    a_deep_filter_is_invalid_filter_and_the_server_lives,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        // About 2,000 levels in 4-6 KB of query, as in the report.
        let deep = nested(2_500, "userName pr");
        assert!((4_000..=6_000).contains(&deep.len()));
        for resource in ["/Users", "/Groups"] {
            let reply = scim.get(&format!("{resource}?{}", filter(&deep))).await;
            assert_refused(&reply, "invalidFilter", &MAX_FILTER_DEPTH.to_string());
            assert_alive(&scim).await;
        }
        // `not` nests too, and a value filter counts as a level.
        let nots = format!("{}userName pr", "not ".repeat(2_000));
        let reply = scim.post("/Users/.search", &search(&nots)).await;
        assert_refused(&reply, "invalidFilter", &MAX_FILTER_DEPTH.to_string());
        let in_brackets = format!("emails[{}]", nested(2_000, "type eq \"work\""));
        let reply = scim.post("/Users/.search", &search(&in_brackets)).await;
        assert_refused(&reply, "invalidFilter", &MAX_FILTER_DEPTH.to_string());
        assert_alive(&scim).await;
        server.stop().await;
    }
);

both_backends!(
    a_deep_value_filter_in_a_patch_path_is_refused_and_changes_nothing,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let created = scim.post("/Users", &entra_user("deep@acme.test")).await;
        let id = created.id();
        let before = scim.get(&format!("/Users/{id}")).await;

        let path = format!("emails[{}].value", nested(2_000, "type eq \"work\""));
        for op in [
            json!({"op": "replace", "path": path, "value": "x@acme.test"}),
            // A path-less value's keys are paths too (entra-scim.md §2.3).
            json!({"op": "replace", "value": {path.clone(): "x@acme.test"}}),
            json!({"op": "remove", "path": format!("members[{}]", nested(2_000, "value eq \"u\""))}),
        ] {
            let reply = scim
                .patch(&format!("/Users/{id}"), &patch_op(json!([op])))
                .await;
            assert_refused(&reply, "invalidFilter", &MAX_FILTER_DEPTH.to_string());
        }
        let group = scim.post("/Groups", &json!({"displayName": "Deep"})).await;
        let reply = scim
            .patch(
                &format!("/Groups/{}", group.id()),
                &patch_op(json!([{
                    "op": "remove",
                    "path": format!("members[{}]", nested(2_000, "value eq \"u\""))
                }])),
            )
            .await;
        assert_refused(&reply, "invalidFilter", &MAX_FILTER_DEPTH.to_string());

        assert_unchanged(&scim, &format!("/Users/{id}"), &before).await;
        // Still serving, and a normal PATCH still works.
        let ok = scim
            .patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@acme.test"}])),
            )
            .await;
        assert_eq!(ok.status, 200, "{:?}", ok.body);
        assert_eq!(ok.body["emails"][0]["value"], "new@acme.test");
        server.stop().await;
    }
);

both_backends!(
    a_20000_term_or_chain_in_search_is_invalid_filter,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        scim.post("/Users", &entra_user("u7")).await;
        let chain = or_chain(20_000);
        for endpoint in ["/Users/.search", "/Groups/.search", "/.search"] {
            let reply = scim.post(endpoint, &search(&chain)).await;
            assert_refused(&reply, "invalidFilter", &MAX_FILTER_LENGTH.to_string());
            assert_alive(&scim).await;
        }
        // A chain within the length limit but past the term limit.
        let short: String = (0..MAX_FILTER_TERMS + 1)
            .map(|i| format!("a{i} pr"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(short.len() < MAX_FILTER_LENGTH);
        for endpoint in ["/Users/.search", "/.search"] {
            let reply = scim.post(endpoint, &search(&short)).await;
            assert_refused(&reply, "invalidFilter", &MAX_FILTER_TERMS.to_string());
        }
        // The search still finds what it should.
        let found = scim.post("/.search", &search(&or_chain(10))).await;
        assert_eq!(found.status, 200, "{:?}", found.body);
        assert_eq!(found.body["totalResults"], 1);
        server.stop().await;
    }
);

both_backends!(
    filters_just_under_each_limit_are_served,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        scim.post("/Users", &entra_user("u3")).await;
        let deepest = nested(MAX_FILTER_DEPTH, "userName eq \"u3\"");
        let most_terms = or_chain(MAX_FILTER_TERMS);
        assert!(most_terms.len() <= MAX_FILTER_LENGTH);
        let long_value = format!(
            "userName eq \"{}\"",
            "x".repeat(MAX_FILTER_LENGTH - "userName eq \"\"".len())
        );
        assert_eq!(long_value.len(), MAX_FILTER_LENGTH);
        for (f, total) in [(&deepest, 1), (&most_terms, 1), (&long_value, 0)] {
            let listed = scim.get(&format!("/Users?{}", filter(f))).await;
            assert_eq!(listed.status, 200, "{:?}", listed.body);
            assert_eq!(listed.body["totalResults"], total);
            let searched = scim.post("/.search", &search(f)).await;
            assert_eq!(searched.status, 200, "{:?}", searched.body);
        }
        // One step past each: refused, naming the limit.
        let cases = [
            (
                nested(MAX_FILTER_DEPTH + 1, "userName eq \"u3\""),
                MAX_FILTER_DEPTH,
            ),
            (or_chain(MAX_FILTER_TERMS + 1), MAX_FILTER_TERMS),
            (
                format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LENGTH)),
                MAX_FILTER_LENGTH,
            ),
        ];
        for (f, limit) in cases {
            let reply = scim.get(&format!("/Users?{}", filter(&f))).await;
            assert_refused(&reply, "invalidFilter", &limit.to_string());
        }
        server.stop().await;
    }
);

both_backends!(
    hostile_requests_without_a_valid_token_are_401_before_any_parse,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let id = scim
            .post("/Users", &entra_user("victim@acme.test"))
            .await
            .id();
        let gid = scim
            .post("/Groups", &json!({"displayName": "Victims"}))
            .await
            .id();
        let deep = nested(2_500, "userName pr");
        let deep_path = format!("emails[{}].value", nested(2_000, "type eq \"work\""));
        let many_ops: Vec<Value> = (0..11_000)
            .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("n{i}")}))
            .collect();
        let deep_patch =
            patch_op(json!([{"op": "replace", "path": deep_path, "value": "x"}])).to_string();
        let chain = search(&or_chain(20_000)).to_string();
        let many = patch_op(Value::Array(many_ops)).to_string();
        let requests: Vec<(&str, String, Option<&str>)> = vec![
            ("GET", format!("/Users?{}", filter(&deep)), None),
            ("GET", format!("/Groups?{}", filter(&deep)), None),
            ("GET", format!("/Users/{id}?attributes=%5B%5B%5B"), None),
            (
                "GET",
                format!("/Users?sortBy={}", "a.b.c".repeat(100)),
                None,
            ),
            ("PATCH", format!("/Users/{id}"), Some(&deep_patch)),
            ("PATCH", format!("/Groups/{gid}"), Some(&deep_patch)),
            ("PATCH", format!("/Users/{id}"), Some(&many)),
            ("PATCH", format!("/Users/{id}"), Some("{not json")),
            ("PUT", format!("/Users/{id}"), Some("{not json")),
            ("POST", "/Users".to_string(), Some("{not json")),
            ("POST", "/Groups".to_string(), Some("[[[[")),
            ("POST", "/Users/.search".to_string(), Some(&chain)),
            ("POST", "/Groups/.search".to_string(), Some(&chain)),
            ("POST", "/.search".to_string(), Some(&chain)),
        ];
        let wrong = crate::common::Tenant {
            alias: "acme",
            directory: "acme",
            token: "not-the-token".into(),
        };
        for caller in [server.anonymous(), server.scim(&wrong)] {
            for (method, path, body) in &requests {
                let reply = caller.send(method, path, *body, &[]).await;
                assert_unauthenticated(&reply);
            }
        }
        let after = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(after.body["meta"]["version"], "W/\"1\"", "nothing changed");
        assert_alive(&scim).await;
        server.stop().await;
    }
);

/// `count` replace operations on `displayName`, the last one writing `last`.
fn replace_ops(count: usize, last: &str) -> Value {
    let mut ops: Vec<Value> = (1..count)
        .map(|i| json!({"op": "replace", "path": "displayName", "value": format!("name {i}")}))
        .collect();
    ops.push(json!({"op": "replace", "path": "displayName", "value": last}));
    patch_op(Value::Array(ops))
}

both_backends!(
    a_patch_past_the_operation_limit_is_too_many_and_changes_nothing,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let id = scim.post("/Users", &entra_user("ops@acme.test")).await.id();
        let gid = scim
            .post("/Groups", &json!({"displayName": "Ops"}))
            .await
            .id();
        for path in [format!("/Users/{id}"), format!("/Groups/{gid}")] {
            let before = scim.get(&path).await;
            let reply = scim
                .patch(&path, &replace_ops(MAX_PATCH_OPERATIONS + 1, "Too many"))
                .await;
            assert_refused(&reply, "tooMany", &MAX_PATCH_OPERATIONS.to_string());
            // The report's 11,000 operations: past the body limit, refused unread.
            let reply = scim.patch(&path, &replace_ops(11_000, "Too many")).await;
            assert_eq!(reply.status, 413, "{:?}", reply.body);
            assert_eq!(reply.body["status"], "413");
            let detail = reply.body["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(&MAX_WRITE_BODY_BYTES.to_string()),
                "{detail}"
            );
            assert_unchanged(&scim, &path, &before).await;

            // Exactly at the limit: accepted.
            let reply = scim
                .send(
                    "PATCH",
                    &format!("{path}?attributes=displayName"),
                    Some(&replace_ops(MAX_PATCH_OPERATIONS, "At the limit").to_string()),
                    &[],
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            assert_eq!(reply.body["displayName"], "At the limit");
        }
        server.stop().await;
    }
);

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

fn member_count(group: &Value) -> usize {
    group["members"].as_array().map_or(0, Vec::len)
}

both_backends!(
    a_patch_past_the_value_limit_is_too_many_and_changes_nothing,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        // Exactly as many users as one request may add.
        let mut ids = Vec::with_capacity(MAX_WRITE_VALUES);
        for chunk in (0..MAX_WRITE_VALUES).collect::<Vec<_>>().chunks(50) {
            let bodies: Vec<Value> = chunk
                .iter()
                .map(|i| entra_user(&format!("m{i}@acme.test")))
                .collect();
            let created =
                futures_util::future::join_all(bodies.iter().map(|b| scim.post("/Users", b))).await;
            ids.extend(created.iter().map(Reply::id));
        }
        let gid = scim
            .post(
                "/Groups",
                &json!({"displayName": "Big", "members": members(&ids[..1])}),
            )
            .await
            .id();
        let path = format!("/Groups/{gid}");
        let before = scim.get(&path).await;
        assert_eq!(member_count(&before.body), 1);

        let mut too_many = ids.clone();
        too_many.push(ids[0].clone());
        let half = MAX_WRITE_VALUES / 2 + 1;
        let refused = [
            // One op listing too many members (the ids exist: the limit is what refuses).
            json!([{"op": "add", "path": "members", "value": members(&too_many)}]),
            // The limit counts across operations.
            json!([
                {"op": "add", "path": "members", "value": members(&ids[..half])},
                {"op": "remove", "path": "members", "value": members(&ids[..half])}
            ]),
            // Entra's path-less form.
            json!([{"op": "add", "value": {"members": members(&too_many)}}]),
        ];
        for ops in refused {
            let reply = scim.patch(&path, &patch_op(ops)).await;
            assert_refused(&reply, "tooMany", &MAX_WRITE_VALUES.to_string());
        }
        assert_unchanged(&scim, &path, &before).await;

        // A group body past the limit is refused too; at the limit it is accepted.
        let reply = scim
            .post(
                "/Groups",
                &json!({"displayName": "Bigger", "members": members(&too_many)}),
            )
            .await;
        assert_refused(&reply, "tooMany", &MAX_WRITE_VALUES.to_string());
        let reply = scim
            .put(
                &path,
                &json!({"displayName": "Big", "members": members(&too_many)}),
            )
            .await;
        assert_refused(&reply, "tooMany", &MAX_WRITE_VALUES.to_string());

        // Exactly at the limit in one PATCH: accepted (Entra adds members in batches).
        let reply = scim
            .patch(
                &path,
                &patch_op(json!([{"op": "Add", "path": "members", "value": members(&ids)}])),
            )
            .await;
        assert_eq!(reply.status, 204, "{:?}", reply.body);
        assert_eq!(member_count(&scim.get(&path).await.body), MAX_WRITE_VALUES);

        // A user's multi-valued attribute counts the same way.
        let uid = ids[0].clone();
        let emails = |n: usize| -> Value {
            Value::Array(
                (0..n)
                    .map(|i| json!({"value": format!("e{i}@acme.test"), "type": "other"}))
                    .collect(),
            )
        };
        let user_before = scim.get(&format!("/Users/{uid}")).await;
        let reply = scim
            .patch(
                &format!("/Users/{uid}"),
                &patch_op(
                    json!([{"op": "add", "path": "emails", "value": emails(MAX_WRITE_VALUES + 1)}]),
                ),
            )
            .await;
        assert_refused(&reply, "tooMany", &MAX_WRITE_VALUES.to_string());
        assert_eq!(
            scim.get(&format!("/Users/{uid}")).await.header("etag"),
            user_before.header("etag")
        );
        server.stop().await;
    }
);

/// A JSON value `depth` containers deep: `{"a": {"a": … "x" …}}`.
fn deep_value(depth: usize) -> Value {
    (0..depth).fold(json!("x"), |inner, _| json!({ "a": inner }))
}

both_backends!(
    patch_values_nested_past_the_limit_are_too_many,
    |backend: Backend| async move {
        let acme = tenant("acme");
        let server = TestServer::start(backend, &[&acme]).await;
        let scim = server.scim(&acme);
        let id = scim
            .post("/Users", &entra_user("nest@acme.test"))
            .await
            .id();
        let path = format!("/Users/{id}");
        let before = scim.get(&path).await;
        let ext = "urn:acme:params:scim:schemas:extension:custom:1.0:User";
        let deep_under = |depth: usize| json!({ext: {"blob": deep_value(depth - 2)}});
        for op in [
            json!({"op": "add", "path": format!("{ext}:blob"), "value": deep_value(MAX_VALUE_DEPTH + 1)}),
            json!({"op": "add", "value": deep_under(MAX_VALUE_DEPTH + 1)}),
        ] {
            let reply = scim.patch(&path, &patch_op(json!([op]))).await;
            assert_refused(&reply, "tooMany", &MAX_VALUE_DEPTH.to_string());
        }
        assert_unchanged(&scim, &path, &before).await;
        // At the limit: stored and read back whole.
        let reply = scim
            .patch(
                &path,
                &patch_op(json!([{"op": "add", "value": deep_under(MAX_VALUE_DEPTH)}])),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(
            scim.get(&path).await.body[ext]["blob"],
            deep_value(MAX_VALUE_DEPTH - 2)
        );
        server.stop().await;
    }
);
