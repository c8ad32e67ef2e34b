//! Minting tokens: who they are about (the subject: person, roles, groups, organizations), their
//! claims and signatures, and the refresh tokens stored for them; and checking our own access
//! tokens back (signature, issuer, expiry, revocation, the user and session behind them).

use std::collections::BTreeMap;

use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::db::models::membership as membership_rows;
use crate::db::models::sessions::{self as rows, RefreshToken, Session};
use crate::db::models::user::{self as user_rows, User};
use crate::db::{DbConnection, Micros};
use crate::issuer::cache::Timed;
use crate::issuer::claims::{self, ClaimInput, OrgInfo, Person};
use crate::issuer::clients::Client;
use crate::issuer::jwt;
use crate::issuer::keys::RealmKeys;
use crate::issuer::mappers::MapperSetting;
use crate::issuer::roles;
use crate::issuer::runtime::Runtime;
use crate::issuer::scopes::{self, RealmScopes};
use crate::issuer::{OAuthError, Result};

/// A random opaque value (codes, refresh tokens, cookies).
pub fn opaque(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// A token's `jti` (RFC 7519 §4.1.7): a random UUID from the thread's CSPRNG. `Uuid::new_v4`
/// would ask the kernel (a `getrandom` call) for every token; a jti needs no time order, so
/// the row ids' UUIDv7 is not wanted here either.
fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// What a grant stands on, before tokens are minted.
pub struct Grant<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub scopes: Vec<String>,
    pub session: Option<&'a Session>,
    pub organization_id: Option<String>,
    pub nonce: Option<String>,
    /// Issue a refresh token (authorization_code and refresh_token grants).
    pub refresh: bool,
    /// The refresh family to continue, and the code it started from.
    pub family_id: Option<String>,
    pub code_hash: Option<String>,
    /// Who the tokens are about: read for this grant, or a cached service account's.
    pub subject: std::sync::Arc<Subject>,
}

/// How long a service account's roles and attributes are reused between token requests. A
/// machine client asking thousands of times a second would otherwise re-read the same nine rows
/// every time; a role granted to it shows within this long.
const SERVICE_ACCOUNT_TTL: Micros = 2_000_000;

/// A service account as tokens see it: its user row and subject.
pub type ServiceAccount = (std::sync::Arc<User>, std::sync::Arc<Subject>);

/// Service accounts (their user row and subject), briefly.
pub struct SubjectCache {
    accounts: Timed<ServiceAccount>,
}

impl Default for SubjectCache {
    fn default() -> Self {
        SubjectCache {
            accounts: Timed::new(SERVICE_ACCOUNT_TTL),
        }
    }
}

impl SubjectCache {
    fn key(client: &Client, user_id: &str) -> String {
        format!("{}/{user_id}", client.row.id)
    }

    /// The client's service account when it is in memory and fresh.
    pub fn cached(&self, client: &Client, user_id: &str, now: Micros) -> Option<ServiceAccount> {
        self.accounts.get(&Self::key(client, user_id), now)
    }

    /// The client's service account, from the cache when fresh; a disabled one is refused.
    pub fn service_account(
        &self,
        conn: &mut DbConnection,
        realm_id: &str,
        client: &Client,
        user_id: &str,
        now: Micros,
    ) -> Result<ServiceAccount> {
        if let Some(account) = self.cached(client, user_id, now) {
            return Ok(account);
        }
        let user = active_user(conn, user_id)?;
        let subject = subject(conn, realm_id, &user, client)?;
        let account = (std::sync::Arc::new(user), std::sync::Arc::new(subject));
        self.accounts
            .put(Self::key(client, user_id), account.clone(), now);
        Ok(account)
    }
}

/// Context for minting: the realm and its issuer URL.
pub struct Realm<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
}

fn person(conn: &mut DbConnection, user: &User) -> Result<Person> {
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in user_rows::attributes(conn, &user.id)? {
        attributes.entry(k).or_default().push(v);
    }
    Ok(Person {
        id: user.id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        attributes,
    })
}

fn organizations(conn: &mut DbConnection, user_id: &str) -> Result<Vec<OrgInfo>> {
    let mut out = Vec::new();
    for org in membership_rows::enabled_organizations(conn, user_id)? {
        let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in crate::db::models::organization::attributes(conn, &org.id)? {
            attributes.entry(k).or_default().push(v);
        }
        out.push(OrgInfo {
            id: org.id,
            alias: org.alias,
            name: org.name,
            attributes,
        });
    }
    Ok(out)
}

/// Everything the claims of one user need, read once.
pub struct Subject {
    pub person: Person,
    pub roles: roles::EffectiveRoles,
    pub groups: Vec<String>,
    pub organizations: Vec<OrgInfo>,
}

pub fn subject(
    conn: &mut DbConnection,
    realm_id: &str,
    user: &User,
    client: &Client,
) -> Result<Subject> {
    let groups = roles::groups_of(conn, &user.id)?;
    let scope = if client.settings.full_scope_allowed {
        None
    } else {
        Some(crate::db::models::clients::scope_role_ids(
            conn,
            &client.row.id,
        )?)
    };
    let effective = roles::effective(conn, realm_id, &user.id, &groups, scope.as_deref())?;
    let mut paths: Vec<String> = groups.into_iter().map(|g| g.path).collect();
    paths.sort();
    Ok(Subject {
        person: person(conn, user)?,
        roles: effective,
        groups: paths,
        organizations: organizations(conn, &user.id)?,
    })
}

/// The session's notes for the session-note mapper (seed 002): those stored with it (the IdP
/// ones, once a login came through an IdP), and `org_id`, the organization the session is
/// pinned to now (a later `organization=` request on the same SSO session moves it).
pub fn session_notes(session: Option<&Session>) -> BTreeMap<String, String> {
    let Some(session) = session else {
        return BTreeMap::new();
    };
    let mut notes: BTreeMap<String, String> =
        serde_json::from_str(&session.notes).unwrap_or_default();
    match &session.organization_id {
        Some(org) => notes.insert("org_id".into(), org.clone()),
        None => notes.remove("org_id"),
    };
    notes
}

/// The protocol mappers the granted scopes switch on, given the realm's declared scopes (the
/// token and userinfo endpoints both build claims with them).
pub fn active_mappers(
    rt: &Runtime,
    declared: &RealmScopes,
    client: &Client,
    scopes: &[String],
) -> Vec<MapperSetting> {
    scopes::active_mappers(
        scopes,
        &client.settings,
        declared,
        rt.settings.organization_claim,
    )
}

/// Mints the tokens of a grant, storing a refresh token when one is issued.
pub fn issue(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    grant: Grant<'_>,
    now: Micros,
) -> Result<Value> {
    let client = grant.client;
    let keys = rt.keys.get(conn, realm.id, now, None)?;
    let declared = rt.scopes.get(conn, realm.id, now)?;
    let mut body = sign(rt, realm, &grant, &keys, &declared, now)?;
    let chosen = chosen_organization(&grant).map(str::to_string);
    if grant.refresh && client.allows_grant("refresh_token") {
        let offline = claims::has_scope(&grant.scopes, "offline_access");
        let refresh_life = if offline {
            rt.settings.offline_session_max_secs
        } else {
            client.settings.refresh_token_lifespan_secs
        };
        let token = opaque("rt_");
        rows::insert_refresh(
            conn,
            &RefreshToken {
                id: crate::db::new_id(),
                token_hash: sha256_hex(&token),
                family_id: grant.family_id.unwrap_or_else(crate::db::new_id),
                realm_id: realm.id.to_string(),
                client_pk: client.row.id.clone(),
                user_id: grant.user.id.clone(),
                session_id: grant.session.map(|s| s.id.clone()),
                code_hash: grant.code_hash,
                scope: grant.scopes.join(" "),
                organization_id: chosen,
                offline,
                created_at: now,
                expires_at: now + refresh_life * 1_000_000,
                used_at: None,
                revoked_at: None,
            },
        )?;
        body["refresh_token"] = json!(token);
        body["refresh_expires_in"] = json!(if offline { 0 } else { refresh_life });
    }
    Ok(body)
}

/// The organization a grant's claims single out: the one the request chose, or the session's.
fn chosen_organization<'a>(grant: &'a Grant<'_>) -> Option<&'a str> {
    grant
        .organization_id
        .as_deref()
        .or(grant.session.and_then(|s| s.organization_id.as_deref()))
}

/// The token endpoint's answer for a grant whose subject, realm keys and declared scopes are at
/// hand: the signed access token (and ID token for a person's `openid` grant). Reads nothing
/// from the database.
pub fn sign(
    rt: &Runtime,
    realm: &Realm<'_>,
    grant: &Grant<'_>,
    keys: &RealmKeys,
    declared: &RealmScopes,
    now: Micros,
) -> Result<Value> {
    let (client, subject) = (grant.client, &grant.subject);
    let now_s = now / 1_000_000;
    let lifespan = client.settings.access_token_lifespan_secs;
    let orgs = claims::select_organizations(
        &grant.scopes,
        &subject.organizations,
        chosen_organization(grant),
    );
    let notes = session_notes(grant.session);
    let mappers = active_mappers(rt, declared, client, &grant.scopes);
    let jti = new_jti();
    let input = ClaimInput {
        issuer: realm.issuer,
        client_id: client.client_id(),
        settings: &client.settings,
        person: &subject.person,
        scopes: &grant.scopes,
        roles: &subject.roles,
        groups: &subject.groups,
        organizations: orgs.as_deref(),
        mappers: &mappers,
        session: grant
            .session
            .map(|s| (s.id.as_str(), s.auth_time / 1_000_000)),
        notes: &notes,
        nonce: grant.nonce.as_deref(),
        now: now_s,
        expires: now_s + lifespan,
        jti: &jti,
    };
    let signer = keys.signer(client.settings.signing_alg).ok_or_else(|| {
        OAuthError::new("server_error", "no signing key for the client's algorithm")
    })?;
    let access = signer.sign(&claims::access_token(&input), "JWT")?;
    let mut body = json!({
        "access_token": access,
        "expires_in": lifespan,
        "token_type": "Bearer",
        "scope": grant.scopes.join(" "),
        "not-before-policy": 0,
    });
    if claims::has_scope(&grant.scopes, "openid") && grant.session.is_some() {
        let id_jti = new_jti();
        let id_input = ClaimInput {
            jti: &id_jti,
            ..input.clone()
        };
        body["id_token"] = json!(signer.sign(&claims::id_token(&id_input), "JWT")?);
    }
    if let Some(session) = grant.session {
        body["session_state"] = json!(session.id);
    }
    Ok(body)
}

/// The user behind a token must still be allowed in: enabled, not deprovisioned.
pub fn active_user(conn: &mut DbConnection, user_id: &str) -> Result<User> {
    user_rows::find(conn, user_id)?
        .filter(crate::users::is_active)
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or gone"))
}

/// A session that still stands.
pub fn live_session(conn: &mut DbConnection, id: &str, now: Micros) -> Result<Option<Session>> {
    Ok(rows::session(conn, id)?.filter(|s| s.ended_at.is_none() && s.expires_at > now))
}

/// The claims of a token this realm issued: signed by one of its keys, `iss` this realm. None
/// otherwise. Nothing else is checked: its type, times and the state behind it are the
/// caller's to judge.
pub fn issued_here(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    token: &str,
    now: Micros,
) -> Result<Option<Value>> {
    let Some(kid) = jwt::header_kid(token) else {
        return Ok(None);
    };
    let keys = rt.keys.get(conn, realm.id, now, Some(&kid))?;
    Ok(jwt::verify(token, keys.verifying())
        .ok()
        .filter(|c| c["iss"] == realm.issuer))
}

/// Verifies one of our own access tokens (signature, issuer, expiry, revocation, user state)
/// and returns its claims, or None when it is not active.
pub fn active_access_token(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm: &Realm<'_>,
    token: &str,
    now: Micros,
) -> Result<Option<Value>> {
    let Some(claims) = issued_here(rt, conn, realm, token, now)? else {
        return Ok(None);
    };
    let now_s = now / 1_000_000;
    let valid = claims["typ"] == claims::ACCESS_TOKEN_TYP
        && claims["exp"].as_i64().is_some_and(|exp| exp > now_s);
    if !valid {
        return Ok(None);
    }
    if let Some(jti) = claims["jti"].as_str() {
        if rows::is_revoked(conn, jti)? {
            return Ok(None);
        }
    }
    let Some(sub) = claims["sub"].as_str() else {
        return Ok(None);
    };
    if active_user(conn, sub).is_err() {
        return Ok(None);
    }
    if let Some(sid) = claims["sid"].as_str() {
        if live_session(conn, sid, now)?.is_none() {
            return Ok(None);
        }
    }
    Ok(Some(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(organization_id: Option<&str>, notes: &str) -> Session {
        Session {
            id: "s1".into(),
            realm_id: "r".into(),
            user_id: "u".into(),
            organization_id: organization_id.map(str::to_string),
            cookie_hash: String::new(),
            auth_time: 0,
            notes: notes.into(),
            created_at: 0,
            expires_at: 1,
            ended_at: None,
        }
    }

    #[test]
    fn org_id_follows_the_organization_the_session_is_pinned_to_now() {
        let stored = r#"{"org_id": "acme-id", "identity_provider": "acme-entra"}"#;
        let moved = session_notes(Some(&session(Some("globex-id"), stored)));
        assert_eq!(moved["org_id"], "globex-id");
        assert_eq!(moved["identity_provider"], "acme-entra");
        let unpinned = session_notes(Some(&session(None, stored)));
        assert!(!unpinned.contains_key("org_id"));
        assert!(session_notes(None).is_empty());
    }
}
