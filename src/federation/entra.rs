//! Entra ID's rules, in one place (federation.md §1.1, §1.3): the issuer is per tenant, and a
//! tenant-independent relying party checks it by Microsoft's recipe: substitute the token's
//! `tid` into the template, require `tid` to be a GUID of the allow-list, require `iss` to be
//! exactly the result, and scope the verifying key by its JWKS `issuer` member. The subject is
//! `(tid, oid)`: `sub` is pairwise per application and `oid` is what the SCIM directory pushed.

use serde_json::Value;

use crate::config::{is_guid, IdentityProviderDecl};

/// The template placeholder in Entra's multi-tenant metadata and key issuers.
const TENANT: &str = "{tenantid}";
/// Personal Microsoft accounts: never an organization's tenant.
const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn text<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Checks `iss` and `tid` of verified claims, and the verifying key's `issuer` member.
pub fn check_issuer(
    idp: &IdentityProviderDecl,
    metadata_issuer: &str,
    claims: &Value,
    key_issuer: Option<&str>,
) -> Result<(), String> {
    let tid = text(claims, "tid").ok_or("the token carries no tid")?;
    if !is_guid(tid) {
        return Err("the token's tid is not a tenant GUID".into());
    }
    if tid == CONSUMERS || !idp.tenants().iter().any(|t| t.eq_ignore_ascii_case(tid)) {
        return Err("the token comes from a tenant this identity provider does not accept".into());
    }
    let expected = metadata_issuer.replace(TENANT, tid);
    let iss = text(claims, "iss").ok_or("the token carries no iss")?;
    if iss != expected {
        return Err("the token's iss is not its tenant's issuer".into());
    }
    if !iss.split('/').any(|segment| segment == tid) {
        return Err("the token's iss does not name its tid".into());
    }
    if let Some(key_issuer) = key_issuer {
        // A templated key serves every tenant; a concrete one only its own issuer.
        if key_issuer.replace(TENANT, tid) != iss {
            return Err("the signing key belongs to another issuer".into());
        }
    }
    Ok(())
}

/// A guest of the tenant: homed in another tenant (`acct` = 1, or `idp` other than `iss`).
pub fn is_guest(claims: &Value) -> bool {
    let acct_guest = claims.get("acct").and_then(Value::as_i64) == Some(1);
    let other_home = match (text(claims, "idp"), text(claims, "iss")) {
        (Some(idp), Some(iss)) => idp != iss,
        _ => false,
    };
    acct_guest || other_home
}

/// Entra's subject: the tenant and the object id.
pub fn subject(claims: &Value) -> Option<String> {
    Some(format!("{}/{}", text(claims, "tid")?, text(claims, "oid")?))
}

/// Entra says an email is the person's when `xms_edov` (email domain owner verified) is true.
pub fn email_verified(claims: &Value) -> bool {
    claims.get("xms_edov").and_then(Value::as_bool) == Some(true)
}

/// Entra's SAML attribute for the group object ids an ID token calls `groups`, and the one that
/// points to Graph when there are too many to list (the overage, federation.md §2.4, §1.5).
pub const SAML_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
pub const SAML_GROUPS_LINK: &str = "http://schemas.microsoft.com/claims/groups.link";

/// A SAML assertion's claims with Entra's groups under the ID token's names, so that one group
/// sync serves both protocols: `groups` always an array (one value arrives as a string), and
/// an overage (`groups.link`) as `hasgroups`, which revokes nothing.
pub fn saml_claims(mut claims: Value) -> Value {
    if let Some(map) = claims.as_object_mut() {
        if let Some(groups) = map.get(SAML_GROUPS).cloned() {
            let list = match groups {
                Value::Array(list) => list,
                one => vec![one],
            };
            map.insert("groups".into(), Value::Array(list));
        }
        if map.contains_key(SAML_GROUPS_LINK) {
            map.insert("hasgroups".into(), Value::Bool(true));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const B: &str = "a1b2c3d4-0000-1111-2222-333344445555";
    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    fn idp() -> IdentityProviderDecl {
        toml::from_str(&format!(
            "realm = \"r\"\nalias = \"a\"\nkind = \"oidc\"\nclient_id = \"c\"\nclient_secret = {{ env = \"S\" }}\npreset = \"entra\"\ntenant_ids = [\"{A}\"]"
        ))
        .expect("parses")
    }

    fn claims(iss_tenant: &str, tid: &str) -> Value {
        json!({"iss": format!("https://login.microsoftonline.com/{iss_tenant}/v2.0"), "tid": tid, "oid": "o1"})
    }

    #[test]
    fn microsofts_rules_for_a_tenant_independent_validator() {
        let idp = idp();
        assert!(check_issuer(&idp, TEMPLATE, &claims(A, A), Some(TEMPLATE)).is_ok());
        // Tenant B is not on the allow-list, even with a matching iss.
        assert!(check_issuer(&idp, TEMPLATE, &claims(B, B), Some(TEMPLATE)).is_err());
        // Tenant A's token whose tid says B, and the other way round.
        assert!(check_issuer(&idp, TEMPLATE, &claims(A, B), Some(TEMPLATE)).is_err());
        assert!(check_issuer(&idp, TEMPLATE, &claims(B, A), Some(TEMPLATE)).is_err());
        assert!(check_issuer(&idp, TEMPLATE, &claims(A, "not-a-guid"), Some(TEMPLATE)).is_err());
        // A key published for tenant B only cannot sign for tenant A.
        let b_key = format!("https://login.microsoftonline.com/{B}/v2.0");
        assert!(check_issuer(&idp, TEMPLATE, &claims(A, A), Some(&b_key)).is_err());
        // Per-tenant metadata: the issuer is concrete.
        let concrete = format!("https://login.microsoftonline.com/{A}/v2.0");
        assert!(check_issuer(&idp, &concrete, &claims(A, A), None).is_ok());
    }

    #[test]
    fn guests_and_subjects() {
        assert!(is_guest(&json!({"acct": 1})));
        assert!(is_guest(
            &json!({"iss": "https://x/a", "idp": "https://sts.windows.net/b/"})
        ));
        assert!(!is_guest(&json!({"acct": 0, "iss": "https://x/a"})));
        assert_eq!(subject(&claims(A, A)).unwrap(), format!("{A}/o1"));
        assert!(email_verified(&json!({"xms_edov": true})));
        assert!(!email_verified(&json!({"xms_edov": "true"})));
    }

    #[test]
    fn saml_groups_read_as_the_id_tokens() {
        let one = saml_claims(json!({ SAML_GROUPS: "g1" }));
        assert_eq!(one["groups"], json!(["g1"]));
        let two = saml_claims(json!({ SAML_GROUPS: ["g1", "g2"] }));
        assert_eq!(two["groups"], json!(["g1", "g2"]));
        let overage = saml_claims(
            json!({ SAML_GROUPS_LINK: "https://graph.microsoft.com/v1.0/users/o/getMemberObjects" }),
        );
        assert_eq!(overage["hasgroups"], json!(true));
        assert!(overage.get("groups").is_none());
        assert_eq!(saml_claims(json!({"a": 1})), json!({"a": 1}));
    }
}
