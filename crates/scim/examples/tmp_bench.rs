use serde_json::json;
use std::time::Instant;
fn main() {
    let schema = scim::schema::user();
    let users: Vec<serde_json::Value> = (0..100_000).map(|i| json!({
        "schemas": [scim::USER_SCHEMA], "id": format!("id-{i}"), "userName": format!("user{i}@example.com"),
        "externalId": format!("ext-{i}"), "active": i % 2 == 0,
        "name": {"givenName": "Barbara", "familyName": format!("Jensen{i}")},
        "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}, {"value": "x@home.org", "type": "home"}],
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
        scim::ENTERPRISE_USER_SCHEMA: {"department": "Tour", "manager": {"value": "m1"}}
    })).collect();
    for _ in 0..2 {
        let t = Instant::now();
        let n = users.iter().filter(|u| u.get("userName").and_then(|v| v.as_str()).is_some_and(|s| s.eq_ignore_ascii_case("USER99999@example.com"))).count();
        println!("{n:>6} baseline raw get in {:?}", t.elapsed());
        let t = Instant::now();
        let n = users.iter().filter(|u| schema.resolve(None, "userName").is_some() && u.is_object()).count();
        println!("{n:>6} resolve only in {:?}", t.elapsed());
    }
    for f in [r#"userName eq "USER99999@example.com""#, r#"emails[type eq "work"].value eq "user5@example.com""#,
              r#"meta.lastModified gt "2011-01-01T00:00:00Z" and manager eq "m1" and not (active eq false)"#,
              r#"name.familyName co "sen9999""#] {
        let filter = scim::filter::parse(f).unwrap();
        let t = Instant::now();
        let n = users.iter().filter(|u| scim::filter::matches(&filter, u, schema)).count();
        println!("{n:>6} matches in {:?} for {f}", t.elapsed());
    }
}
