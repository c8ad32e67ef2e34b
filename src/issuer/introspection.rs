//! What a presented token says: userinfo (OIDC Core §5.3), introspection (RFC 7662) and
//! revocation (RFC 7009). A token is only as good as the state behind it: a disabled user, an
//! ended session or a revoked `jti` makes it inactive at once.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::db::models::sessions as session_rows;
use crate::db::{DbConnection, Micros};
use crate::issuer::claims::{self, ClaimInput};
use crate::issuer::clients::{self, Client, ClientCredentials};
use crate::issuer::runtime::Runtime;
use crate::issuer::tokens::{self, Realm};
use crate::issuer::{OAuthError, Result};

/// The userinfo answer for an access token, and the client it was issued to (for CORS).
pub fn userinfo(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    token: &str,
    now: Micros,
) -> Result<(Client, Value)> {
    let claims = tokens::active_access_token(rt, conn, realm, token, now)?
        .ok_or_else(|| OAuthError::new("invalid_token", "the access token is not active"))?;
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    if !claims::has_scope(&scopes, "openid") {
        return Err(OAuthError::new(
            "insufficient_scope",
            "userinfo needs the openid scope",
        ));
    }
    let client = clients::find(conn, realm.id, claims["azp"].as_str().unwrap_or_default())?
        .ok_or_else(|| OAuthError::new("invalid_token", "the token's client is gone"))?;
    let user = tokens::active_user(conn, claims["sub"].as_str().unwrap_or_default())
        .map_err(|_| OAuthError::new("invalid_token", "the user is disabled"))?;
    let subject = tokens::subject(conn, realm.id, &user, &client)?;
    let session = match claims["sid"].as_str() {
        Some(sid) => tokens::live_session(conn, sid, now)?,
        None => None,
    };
    let chosen = session.as_ref().and_then(|s| s.organization_id.clone());
    let orgs = claims::select_organizations(&scopes, &subject.organizations, chosen.as_deref());
    let notes = tokens::session_notes(session.as_ref());
    let declared = rt.scopes.get(conn, realm.id, now)?;
    let mappers = tokens::active_mappers(rt, &declared, &client, &scopes);
    let input = ClaimInput {
        issuer: realm.issuer,
        client_id: client.client_id(),
        settings: &client.settings,
        person: &subject.person,
        scopes: &scopes,
        roles: &subject.roles,
        groups: &subject.groups,
        organizations: orgs.as_deref(),
        mappers: &mappers,
        session: None,
        notes: &notes,
        nonce: None,
        now: now / 1_000_000,
        expires: 0,
        jti: "",
    };
    let body = claims::userinfo(&input);
    Ok((client, body))
}

/// RFC 7662: what the token is, for a confidential client; `{"active": false}` for anything
/// not active, whatever the reason.
pub fn introspect(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    creds: &ClientCredentials,
    form: &HashMap<String, String>,
    now: Micros,
) -> Result<Value> {
    let client = clients::authenticate(conn, &rt.secrets, realm.id, creds, now)?;
    if !client.row.confidential {
        return Err(OAuthError::invalid_client(
            "introspection needs a confidential client",
        ));
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if token.starts_with("rt_") {
        let Some(row) = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(token))? else {
            return Ok(json!({"active": false}));
        };
        // RFC 7662 §2.2: "active" says this authorization server issued the token, and each
        // realm is an issuer of its own. The lookup by hash spans realms, so the realm is
        // checked here, as the issuer and keys are for access tokens.
        let live = row.realm_id == realm.id
            && row.revoked_at.is_none()
            && row.used_at.is_none()
            && row.expires_at > now
            && tokens::active_user(conn, &row.user_id).is_ok();
        if !live {
            return Ok(json!({"active": false}));
        }
        let owner = clients::find_by_pk(conn, &row.client_pk)?;
        return Ok(json!({
            "active": true, "token_type": "Refresh", "sub": row.user_id, "scope": row.scope,
            "client_id": owner.map(|c| c.row.client_id), "exp": row.expires_at / 1_000_000,
            "iss": realm.issuer,
        }));
    }
    match tokens::active_access_token(rt, conn, realm, token, now)? {
        Some(mut claims) => {
            claims["active"] = json!(true);
            claims["client_id"] = claims["azp"].clone();
            claims["token_type"] = json!("Bearer");
            let sub = claims["sub"].as_str().unwrap_or_default().to_string();
            if let Some(user) = crate::db::models::user::find(conn, &sub)? {
                claims["username"] = json!(user.username);
            }
            Ok(claims)
        }
        None => Ok(json!({"active": false})),
    }
}

/// RFC 7009: revokes a refresh token's family or an access token's `jti`, when the token is the
/// calling client's. Unknown or foreign tokens are answered the same (§2.2).
pub fn revoke(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    creds: &ClientCredentials,
    form: &HashMap<String, String>,
    now: Micros,
) -> Result<()> {
    let client = clients::authenticate(conn, &rt.secrets, realm.id, creds, now)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(row) = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(token))? {
        if row.client_pk == client.row.id {
            session_rows::revoke_family(conn, &row.family_id, now)?;
        }
        return Ok(());
    }
    if let Some(claims) = tokens::active_access_token(rt, conn, realm, token, now)? {
        if claims["azp"] == client.client_id() {
            if let (Some(jti), Some(exp)) = (claims["jti"].as_str(), claims["exp"].as_i64()) {
                session_rows::revoke_access_token(conn, jti, exp * 1_000_000)?;
            }
        }
    }
    Ok(())
}

/// The client an active access token of this realm was issued to by client_credentials: its
/// subject is the client's own service account and it belongs to no session. The client must
/// still be enabled. None for any other token (a person's, another realm's, an expired or
/// revoked one), so that the caller can refuse them alike.
pub fn client_credentials_client(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    token: &str,
    now: Micros,
) -> Result<Option<Client>> {
    let Some(claims) = tokens::active_access_token(rt, conn, realm, token, now)? else {
        return Ok(None);
    };
    if claims.get("sid").is_some() {
        return Ok(None);
    }
    let Some(client) = clients::find(conn, realm.id, claims["azp"].as_str().unwrap_or_default())?
    else {
        return Ok(None);
    };
    let account = client.row.service_account_user_id.as_deref();
    let machine = account.is_some() && account == claims["sub"].as_str();
    Ok((client.row.enabled && machine).then_some(client))
}
