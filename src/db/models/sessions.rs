//! The issuer's state: SSO sessions, pending authorization requests, codes, refresh tokens,
//! revoked access tokens, login failures and password credentials.

use diesel::prelude::*;

use crate::db::schema::{
    auth_codes, auth_requests, login_failures, refresh_tokens, revoked_tokens, sessions,
    user_credentials,
};
use crate::db::{DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub realm_id: String,
    pub user_id: String,
    pub organization_id: Option<String>,
    pub cookie_hash: String,
    pub auth_time: Micros,
    pub notes: String,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub ended_at: Option<Micros>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_requests)]
pub struct AuthRequest {
    pub id: String,
    pub realm_id: String,
    pub client_pk: String,
    pub params: String,
    pub csrf_token: String,
    pub organization_id: Option<String>,
    pub created_at: Micros,
    pub expires_at: Micros,
    /// SHA-256 of the login cookie of the browser the transaction belongs to.
    pub browser_hash: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_codes)]
pub struct AuthCode {
    pub code_hash: String,
    pub realm_id: String,
    pub client_pk: String,
    pub session_id: String,
    pub user_id: String,
    pub params: String,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub used_at: Option<Micros>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: String,
    pub token_hash: String,
    pub family_id: String,
    pub realm_id: String,
    pub client_pk: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub code_hash: Option<String>,
    pub scope: String,
    pub organization_id: Option<String>,
    pub offline: bool,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub used_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
}

pub fn insert_session(conn: &mut DbConnection, s: &Session) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values(s)
        .execute(conn)?;
    Ok(())
}

pub fn session_by_cookie(
    conn: &mut DbConnection,
    cookie_hash: &str,
) -> Result<Option<Session>, DbError> {
    Ok(sessions::table
        .filter(sessions::cookie_hash.eq(cookie_hash))
        .select(Session::as_select())
        .first(conn)
        .optional()?)
}

pub fn session(conn: &mut DbConnection, id: &str) -> Result<Option<Session>, DbError> {
    Ok(sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_session_organization(
    conn: &mut DbConnection,
    id: &str,
    org: Option<&str>,
) -> Result<(), DbError> {
    diesel::update(sessions::table.find(id))
        .set(sessions::organization_id.eq(org))
        .execute(conn)?;
    Ok(())
}

pub fn end_session(conn: &mut DbConnection, id: &str, now: Micros) -> Result<(), DbError> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of the user and revokes every refresh token: a disabled user is out.
pub fn end_everything_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: Micros,
) -> Result<(), DbError> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub fn insert_auth_request(conn: &mut DbConnection, r: &AuthRequest) -> Result<(), DbError> {
    diesel::insert_into(auth_requests::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

pub fn auth_request(conn: &mut DbConnection, id: &str) -> Result<Option<AuthRequest>, DbError> {
    Ok(auth_requests::table
        .find(id)
        .select(AuthRequest::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_auth_request_organization(
    conn: &mut DbConnection,
    id: &str,
    org: &str,
) -> Result<(), DbError> {
    diesel::update(auth_requests::table.find(id))
        .set(auth_requests::organization_id.eq(Some(org)))
        .execute(conn)?;
    Ok(())
}

/// Deletes a login transaction; false when it was gone already (another submission of the
/// same form got there first: on PostgreSQL the second delete waits for the first to commit,
/// then finds nothing).
pub fn take_auth_request(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(auth_requests::table.find(id)).execute(conn)? > 0)
}

pub fn insert_code(conn: &mut DbConnection, c: &AuthCode) -> Result<(), DbError> {
    diesel::insert_into(auth_codes::table)
        .values(c)
        .execute(conn)?;
    Ok(())
}

pub fn code(conn: &mut DbConnection, code_hash: &str) -> Result<Option<AuthCode>, DbError> {
    Ok(auth_codes::table
        .find(code_hash)
        .select(AuthCode::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a code used; false when it already was (single use, RFC 6749 §4.1.2).
pub fn use_code(conn: &mut DbConnection, code_hash: &str, now: Micros) -> Result<bool, DbError> {
    Ok(diesel::update(
        auth_codes::table
            .find(code_hash)
            .filter(auth_codes::used_at.is_null()),
    )
    .set(auth_codes::used_at.eq(Some(now)))
    .execute(conn)?
        > 0)
}

pub fn insert_refresh(conn: &mut DbConnection, t: &RefreshToken) -> Result<(), DbError> {
    diesel::insert_into(refresh_tokens::table)
        .values(t)
        .execute(conn)?;
    Ok(())
}

pub fn refresh_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshToken>, DbError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a refresh token used (rotated); false when it already was.
pub fn use_refresh(conn: &mut DbConnection, id: &str, now: Micros) -> Result<bool, DbError> {
    Ok(diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .execute(conn)?
        > 0)
}

pub fn revoke_family(conn: &mut DbConnection, family_id: &str, now: Micros) -> Result<(), DbError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub fn revoke_by_code(
    conn: &mut DbConnection,
    code_hash: &str,
    now: Micros,
) -> Result<(), DbError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::code_hash.eq(code_hash))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub fn revoke_session_tokens(
    conn: &mut DbConnection,
    session_id: &str,
    now: Micros,
) -> Result<(), DbError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::session_id.eq(session_id))
            .filter(refresh_tokens::offline.eq(false))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

pub fn revoke_access_token(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: Micros,
) -> Result<(), DbError> {
    let exists = revoked_tokens::table
        .find(jti)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(revoked_tokens::table)
            .values((
                revoked_tokens::jti.eq(jti),
                revoked_tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> Result<bool, DbError> {
    Ok(revoked_tokens::table
        .find(jti)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A brute-force counter: how many attempts since the last success, when the last one was,
/// and until when the key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct Failures {
    pub failures: i32,
    pub last_failure_at: Micros,
    pub locked_until: Micros,
}

/// The counter of `key`, created at zero if missing, and locked until the transaction ends, so
/// that concurrent attempts on the same key are counted one after the other. On SQLite every
/// write transaction holds the database's write lock already (`BEGIN IMMEDIATE`). On PostgreSQL
/// one upsert creates or locks the row and returns it: an insert-then-`SELECT … FOR UPDATE` found
/// nothing when a concurrent successful login deleted the counter in between (READ COMMITTED
/// skips a row deleted while it waited), and the attempt failed with a 500.
pub fn lock_failures(conn: &mut DbConnection, key: &str) -> Result<Failures, DbError> {
    let zero = (
        login_failures::key.eq(key),
        login_failures::failures.eq(0),
        login_failures::last_failure_at.eq(0),
        login_failures::locked_until.eq(0),
    );
    let counter = (
        login_failures::failures,
        login_failures::last_failure_at,
        login_failures::locked_until,
    );
    // diesel's MultiConnection has no ON CONFLICT: the statement goes to each backend's own
    // connection type.
    Ok(match conn {
        DbConnection::Sqlite(c) => {
            diesel::insert_into(login_failures::table)
                .values(zero)
                .on_conflict_do_nothing()
                .execute(c)?;
            login_failures::table.find(key).select(counter).first(c)?
        }
        DbConnection::Postgres(c) => diesel::insert_into(login_failures::table)
            .values(zero)
            .on_conflict(login_failures::key)
            .do_update()
            .set(login_failures::key.eq(diesel::upsert::excluded(login_failures::key)))
            .returning(counter)
            .get_result(c)?,
    })
}

pub fn set_failures(conn: &mut DbConnection, key: &str, f: &Failures) -> Result<(), DbError> {
    diesel::update(login_failures::table.find(key))
        .set((
            login_failures::failures.eq(f.failures),
            login_failures::last_failure_at.eq(f.last_failure_at),
            login_failures::locked_until.eq(f.locked_until),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn clear_failures(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
    diesel::delete(login_failures::table.find(key)).execute(conn)?;
    Ok(())
}

pub fn password_hash(conn: &mut DbConnection, user_id: &str) -> Result<Option<String>, DbError> {
    Ok(user_credentials::table
        .find(user_id)
        .select(user_credentials::password_hash)
        .first(conn)
        .optional()?)
}

pub fn set_password_hash(
    conn: &mut DbConnection,
    user_id: &str,
    hash: &str,
    now: Micros,
) -> Result<(), DbError> {
    let updated = diesel::update(user_credentials::table.find(user_id))
        .set((
            user_credentials::password_hash.eq(hash),
            user_credentials::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(user_credentials::table)
            .values((
                user_credentials::user_id.eq(user_id),
                user_credentials::password_hash.eq(hash),
                user_credentials::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
