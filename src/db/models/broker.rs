//! Brokered logins: authorization requests sent upstream, the upstream side of SSO sessions,
//! and the grants identity-provider mappers made.

use diesel::prelude::*;

use crate::db::schema::{
    broker_requests, broker_sessions, mapper_grants, saml_assertions, saml_logout_requests,
    saml_sp_keys,
};
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = broker_requests)]
pub struct BrokerRequest {
    pub state_hash: String,
    pub realm_id: String,
    pub auth_request_id: String,
    pub identity_provider: String,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
    pub created_at: Micros,
    pub expires_at: Micros,
}

pub fn insert_request(conn: &mut DbConnection, r: &BrokerRequest) -> Result<(), DbError> {
    diesel::insert_into(broker_requests::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

/// Takes the request `state_hash` names: returned once, deleted in the same transaction, so a
/// replayed callback finds nothing.
pub fn take_request(
    conn: &mut DbConnection,
    state_hash: &str,
) -> Result<Option<BrokerRequest>, DbError> {
    let found = broker_requests::table
        .find(state_hash)
        .select(BrokerRequest::as_select())
        .first(conn)
        .optional()?;
    if found.is_some() {
        let deleted = diesel::delete(broker_requests::table.find(state_hash)).execute(conn)?;
        if deleted == 0 {
            return Ok(None);
        }
    }
    Ok(found)
}

/// Forgets requests whose time has passed.
pub fn delete_expired_requests(conn: &mut DbConnection, now: Micros) -> Result<usize, DbError> {
    Ok(
        diesel::delete(broker_requests::table.filter(broker_requests::expires_at.le(now)))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = broker_sessions)]
pub struct BrokerSession {
    pub session_id: String,
    pub realm_id: String,
    pub identity_provider: String,
    pub subject: String,
    pub upstream_sid: Option<String>,
    pub id_token: String,
    pub created_at: Micros,
}

pub fn insert_session(conn: &mut DbConnection, s: &BrokerSession) -> Result<(), DbError> {
    diesel::insert_into(broker_sessions::table)
        .values(s)
        .execute(conn)?;
    Ok(())
}

pub fn session(
    conn: &mut DbConnection,
    session_id: &str,
) -> Result<Option<BrokerSession>, DbError> {
    Ok(broker_sessions::table
        .find(session_id)
        .select(BrokerSession::as_select())
        .first(conn)
        .optional()?)
}

/// The SSO sessions an IdP's logout token names: by its `sid`, else every session of `sub`.
pub fn sessions_named(
    conn: &mut DbConnection,
    realm_id: &str,
    identity_provider: &str,
    upstream_sid: Option<&str>,
    subject: Option<&str>,
) -> Result<Vec<String>, DbError> {
    let query = broker_sessions::table
        .filter(broker_sessions::realm_id.eq(realm_id))
        .filter(broker_sessions::identity_provider.eq(identity_provider))
        .select(broker_sessions::session_id)
        .into_boxed();
    let query = match (upstream_sid, subject) {
        (Some(sid), Some(sub)) => query
            .filter(broker_sessions::upstream_sid.eq(sid))
            .filter(broker_sessions::subject.eq(sub)),
        (Some(sid), None) => query.filter(broker_sessions::upstream_sid.eq(sid)),
        (None, Some(sub)) => query.filter(broker_sessions::subject.eq(sub)),
        (None, None) => return Ok(Vec::new()),
    };
    Ok(query.load(conn)?)
}

/// What a mapper grants: a role or a group membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantKind {
    Role,
    Group,
}

impl GrantKind {
    fn as_str(self) -> &'static str {
        match self {
            GrantKind::Role => "role",
            GrantKind::Group => "group",
        }
    }
}

/// (mapper, target id) of the user's grants of `kind` made by the IdP's mappers.
pub fn grants(
    conn: &mut DbConnection,
    user_id: &str,
    identity_provider: &str,
    kind: GrantKind,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(mapper_grants::table
        .filter(mapper_grants::user_id.eq(user_id))
        .filter(mapper_grants::identity_provider.eq(identity_provider))
        .filter(mapper_grants::kind.eq(kind.as_str()))
        .select((mapper_grants::mapper, mapper_grants::target_id))
        .load(conn)?)
}

/// Every target of `kind` any mapper granted the user (for effective roles and groups).
pub fn granted_targets(
    conn: &mut DbConnection,
    user_id: &str,
    kind: GrantKind,
) -> Result<Vec<String>, DbError> {
    Ok(mapper_grants::table
        .filter(mapper_grants::user_id.eq(user_id))
        .filter(mapper_grants::kind.eq(kind.as_str()))
        .select(mapper_grants::target_id)
        .distinct()
        .load(conn)?)
}

pub fn grant(
    conn: &mut DbConnection,
    user_id: &str,
    identity_provider: &str,
    mapper: &str,
    kind: GrantKind,
    target_id: &str,
    now: Micros,
) -> Result<(), DbError> {
    let exists = mapper_grants::table
        .find((user_id, identity_provider, mapper, kind.as_str(), target_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(mapper_grants::table)
            .values((
                mapper_grants::user_id.eq(user_id),
                mapper_grants::identity_provider.eq(identity_provider),
                mapper_grants::mapper.eq(mapper),
                mapper_grants::kind.eq(kind.as_str()),
                mapper_grants::target_id.eq(target_id),
                mapper_grants::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn revoke(
    conn: &mut DbConnection,
    user_id: &str,
    identity_provider: &str,
    mapper: &str,
    kind: GrantKind,
    target_id: &str,
) -> Result<(), DbError> {
    diesel::delete(mapper_grants::table.find((
        user_id,
        identity_provider,
        mapper,
        kind.as_str(),
        target_id,
    )))
    .execute(conn)?;
    Ok(())
}

/// Records that a SAML connection accepted assertion `assertion_id`, kept until `expires_at`;
/// false when it was accepted before (a replay), which changes nothing.
pub fn record_saml_assertion(
    conn: &mut DbConnection,
    realm_id: &str,
    identity_provider: &str,
    assertion_id: &str,
    expires_at: Micros,
    now: Micros,
) -> Result<bool, DbError> {
    diesel::delete(saml_assertions::table.filter(saml_assertions::expires_at.le(now)))
        .execute(conn)?;
    let insert = diesel::insert_into(saml_assertions::table)
        .values((
            saml_assertions::realm_id.eq(realm_id),
            saml_assertions::identity_provider.eq(identity_provider),
            saml_assertions::assertion_id.eq(assertion_id),
            saml_assertions::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing();
    // diesel's MultiConnection has no ON CONFLICT: the statement goes to each backend's own
    // connection type. Two instances racing on one replay: the key lets one insert win.
    let inserted = match conn {
        DbConnection::Sqlite(c) => insert.execute(c)?,
        DbConnection::Postgres(c) => insert.execute(c)?,
    };
    Ok(inserted == 1)
}

/// One of Vestibule's keys at a SAML IdP.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_sp_keys)]
pub struct SamlSpKey {
    pub id: String,
    pub realm_id: String,
    pub identity_provider: String,
    pub private_pem: String,
    pub certificate_der: Vec<u8>,
    pub created_at: Micros,
    pub retired_at: Option<Micros>,
}

/// The connection's keys not retired, newest first.
pub fn saml_sp_keys(
    conn: &mut DbConnection,
    realm_id: &str,
    identity_provider: &str,
) -> Result<Vec<SamlSpKey>, DbError> {
    Ok(saml_sp_keys::table
        .filter(saml_sp_keys::realm_id.eq(realm_id))
        .filter(saml_sp_keys::identity_provider.eq(identity_provider))
        .filter(saml_sp_keys::retired_at.is_null())
        .order((saml_sp_keys::created_at.desc(), saml_sp_keys::id.desc()))
        .select(SamlSpKey::as_select())
        .load(conn)?)
}

pub fn retire_saml_sp_key(conn: &mut DbConnection, id: &str, now: Micros) -> Result<(), DbError> {
    diesel::update(saml_sp_keys::table.find(id))
        .set(saml_sp_keys::retired_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn insert_saml_sp_key(conn: &mut DbConnection, key: &SamlSpKey) -> Result<(), DbError> {
    diesel::insert_into(saml_sp_keys::table)
        .values(key)
        .execute(conn)?;
    Ok(())
}

/// A LogoutRequest Vestibule sent to a SAML IdP, waiting for its LogoutResponse.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = saml_logout_requests)]
pub struct SamlLogoutRequest {
    pub request_hash: String,
    pub realm_id: String,
    pub identity_provider: String,
    pub return_to: Option<String>,
    pub expires_at: Micros,
}

pub fn insert_saml_logout_request(
    conn: &mut DbConnection,
    r: &SamlLogoutRequest,
    now: Micros,
) -> Result<(), DbError> {
    diesel::delete(saml_logout_requests::table.filter(saml_logout_requests::expires_at.le(now)))
        .execute(conn)?;
    diesel::insert_into(saml_logout_requests::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

/// Takes the logout request `request_hash`: the first taker gets it, a replay finds none.
pub fn take_saml_logout_request(
    conn: &mut DbConnection,
    request_hash: &str,
) -> Result<Option<SamlLogoutRequest>, DbError> {
    let found = saml_logout_requests::table
        .find(request_hash)
        .select(SamlLogoutRequest::as_select())
        .first(conn)
        .optional()?;
    if found.is_some()
        && diesel::delete(saml_logout_requests::table.find(request_hash)).execute(conn)? == 0
    {
        return Ok(None);
    }
    Ok(found)
}
