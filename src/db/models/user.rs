//! Users, their indexed email values and attributes.

use diesel::prelude::*;

use crate::db::schema::{user_attributes, user_emails, users};
use crate::db::{load_by_ids, on_backend, DbBackend, DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
// None is NULL, not DEFAULT (no column of the table has a default): the INSERT's SQL is then
// the same every time, and diesel finds its prepared statement by type instead of rendering
// the SQL again to look it up (a tenth of a SCIM create's time, by the profile).
#[diesel(treat_none_as_default_value = false)]
pub struct User {
    pub id: String,
    pub realm_id: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub username: String,
    pub username_lower: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub enabled: bool,
    pub scim_json: Option<String>,
    pub deprovisioned_at: Option<Micros>,
    pub version: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// Everything a profile update may change on a user row (written by `crate::users`).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct UserChanges {
    pub username: String,
    pub username_lower: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub enabled: bool,
    pub scim_json: Option<String>,
    pub version: i64,
    pub updated_at: Micros,
}

/// Comparisons an index can serve on a timestamp column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// One indexed lookup inside an organization. Strings for case-insensitive columns are given
/// lower-cased already.
#[derive(Debug, Clone, PartialEq)]
pub enum UserKey {
    Id(String),
    UserNameLower(String),
    ExternalId(String),
    EmailLower(String),
    DisplayNameLower(String),
    Active(bool),
    UpdatedAt(Cmp, Micros),
    CreatedAt(Cmp, Micros),
}

/// The sort orders the listing index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrder {
    Created,
    UserName,
}

fn in_org(org_id: &str) -> users::BoxedQuery<'static, DbBackend> {
    users::table
        .filter(users::organization_id.eq(org_id.to_string()))
        .filter(users::deprovisioned_at.is_null())
        .into_boxed()
}

macro_rules! cmp_filter {
    ($query:expr, $column:expr, $cmp:expr, $value:expr) => {
        match $cmp {
            Cmp::Eq => $query.filter($column.eq($value)),
            Cmp::Gt => $query.filter($column.gt($value)),
            Cmp::Ge => $query.filter($column.ge($value)),
            Cmp::Lt => $query.filter($column.lt($value)),
            Cmp::Le => $query.filter($column.le($value)),
        }
    };
}
pub(crate) use cmp_filter;

/// A user by id, whatever its organization or state.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_in_org(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<User>, DbError> {
    Ok(live_in_org(by_ids(conn, &[id.to_string()])?, org_id).next())
}

/// Rows by primary key alone. Lookups by id never name the organization in SQL: PostgreSQL's
/// generic plan for `organization_id = $1 AND id = ANY($2)` chose the organization's index and
/// scanned it (13 ms at 20k users); the organization is checked on the rows instead.
fn by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<User>, DbError> {
    Ok(load_by_ids!(
        users::table.select(User::as_select()),
        users::id,
        ids,
        conn
    )?)
}

fn live_in_org(rows: Vec<User>, org_id: &str) -> impl Iterator<Item = User> + '_ {
    rows.into_iter()
        .filter(move |u| u.organization_id == org_id && u.deprovisioned_at.is_none())
}

/// The organization's live users a key finds, oldest first. No ORDER BY in SQL: it would
/// tempt SQLite's planner into the (organization, created) index and a scan of the whole
/// organization instead of the key's own index.
pub fn lookup(conn: &mut DbConnection, org_id: &str, key: &UserKey) -> Result<Vec<User>, DbError> {
    let query = in_org(org_id).select(User::as_select());
    let query = match key.clone() {
        UserKey::Id(id) => return Ok(live_in_org(by_ids(conn, &[id])?, org_id).collect()),
        UserKey::UserNameLower(v) => {
            // Entra's lookup before every write, `userName eq`: a statement of its own on the
            // backend's own connection (see `on_backend`), not the boxed query the other keys
            // share, whose SQL diesel renders again on every call (the profile of the bench's
            // lookups put a ninth of the server's time there).
            let rows: Vec<User> = on_backend!(conn, |c| users::table
                .filter(users::organization_id.eq(org_id))
                .filter(users::deprovisioned_at.is_null())
                .filter(users::username_lower.eq(&v))
                .select(User::as_select())
                .load(c))?;
            return Ok(oldest_first(rows));
        }
        UserKey::ExternalId(v) => query.filter(users::external_id.eq(v)),
        UserKey::DisplayNameLower(v) => query.filter(users::display_name_lower.eq(v)),
        UserKey::Active(v) => query.filter(users::enabled.eq(v)),
        UserKey::UpdatedAt(cmp, v) => cmp_filter!(query, users::updated_at, cmp, v),
        UserKey::CreatedAt(cmp, v) => cmp_filter!(query, users::created_at, cmp, v),
        UserKey::EmailLower(v) => {
            // Two steps, each on its own index: emails -> ids, then ids -> rows by primary key.
            let ids: Vec<String> = user_emails::table
                .filter(user_emails::organization_id.eq(org_id))
                .filter(user_emails::value_lower.eq(v))
                .select(user_emails::user_id)
                .load(conn)?;
            return Ok(oldest_first(
                live_in_org(by_ids(conn, &ids)?, org_id).collect(),
            ));
        }
    };
    Ok(oldest_first(query.load(conn)?))
}

/// A lookup's rows in the order SCIM lists them: oldest first, then by id.
fn oldest_first(mut rows: Vec<User>) -> Vec<User> {
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    rows
}

pub fn count_in_org(conn: &mut DbConnection, org_id: &str) -> Result<i64, DbError> {
    Ok(in_org(org_id).count().get_result(conn)?)
}

/// One page of the organization's users in index order.
pub fn page_in_org(
    conn: &mut DbConnection,
    org_id: &str,
    order: UserOrder,
    descending: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<User>, DbError> {
    let query = in_org(org_id).select(User::as_select());
    let query = match (order, descending) {
        (UserOrder::Created, false) => query.order((users::created_at.asc(), users::id.asc())),
        (UserOrder::Created, true) => query.order((users::created_at.desc(), users::id.desc())),
        (UserOrder::UserName, false) => query.order((users::username_lower.asc(), users::id.asc())),
        (UserOrder::UserName, true) => {
            query.order((users::username_lower.desc(), users::id.desc()))
        }
    };
    Ok(query.offset(offset).limit(limit).load(conn)?)
}

pub fn all_in_org(conn: &mut DbConnection, org_id: &str) -> Result<Vec<User>, DbError> {
    Ok(in_org(org_id)
        .select(User::as_select())
        .order((users::created_at, users::id))
        .load(conn)?)
}

/// Which of `ids` are live users of the organization.
pub fn existing_ids_in_org(
    conn: &mut DbConnection,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<String>, DbError> {
    Ok(live_in_org(by_ids(conn, ids)?, org_id)
        .map(|u| u.id)
        .collect())
}

pub fn insert(conn: &mut DbConnection, user: &User) -> Result<(), DbError> {
    let insert = diesel::insert_into(users::table).values(user);
    on_backend!(conn, |c| insert.execute(c))?;
    Ok(())
}

pub fn update(conn: &mut DbConnection, id: &str, changes: &UserChanges) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(users::table.find(id)).execute(conn)?;
    Ok(())
}

/// The "disable" outcome of a SCIM DELETE: the row stays, disabled, out of SCIM's sight.
pub fn deprovision(conn: &mut DbConnection, id: &str, now: Micros) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::enabled.eq(false),
            users::deprovisioned_at.eq(Some(now)),
            users::updated_at.eq(now),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes the indexed email values of a user exactly `values_lower`.
pub fn set_emails(
    conn: &mut DbConnection,
    user_id: &str,
    org_id: &str,
    values_lower: &[String],
) -> Result<(), DbError> {
    diesel::delete(user_emails::table.filter(user_emails::user_id.eq(user_id))).execute(conn)?;
    insert_emails(conn, user_id, org_id, values_lower)
}

/// Indexes the email values of a user that has none indexed yet.
pub fn insert_emails(
    conn: &mut DbConnection,
    user_id: &str,
    org_id: &str,
    values_lower: &[String],
) -> Result<(), DbError> {
    for value in values_lower {
        let insert = diesel::insert_into(user_emails::table).values((
            user_emails::user_id.eq(user_id),
            user_emails::organization_id.eq(org_id),
            user_emails::value_lower.eq(value),
        ));
        on_backend!(&mut *conn, |c| insert.execute(c))?;
    }
    Ok(())
}

/// A user's attributes as (name, value) pairs.
pub fn attributes(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(user_attributes::table
        .filter(user_attributes::user_id.eq(user_id))
        .order((user_attributes::name, user_attributes::value))
        .select((user_attributes::name, user_attributes::value))
        .load(conn)?)
}

/// Makes a user's attributes exactly `wanted`.
pub fn set_attributes(
    conn: &mut DbConnection,
    user_id: &str,
    wanted: &[(String, String)],
) -> Result<(), DbError> {
    diesel::delete(user_attributes::table.filter(user_attributes::user_id.eq(user_id)))
        .execute(conn)?;
    for (name, value) in wanted {
        diesel::insert_into(user_attributes::table)
            .values((
                user_attributes::user_id.eq(user_id),
                user_attributes::name.eq(name),
                user_attributes::value.eq(value),
            ))
            .execute(conn)?;
    }
    Ok(())
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// The realm's live users whose user name or email is `login`, case-insensitively (both
/// lookups on an index: `users_realm_username`, `users_realm_email`). Emails are compared by
/// the database's own `lower()` on both sides, which the index is built on.
pub fn find_login(
    conn: &mut DbConnection,
    realm_id: &str,
    login: &str,
) -> Result<Vec<User>, DbError> {
    let mut found: Vec<User> = users::table
        .filter(users::realm_id.eq(realm_id))
        .filter(users::username_lower.eq(login.to_lowercase()))
        .filter(users::deprovisioned_at.is_null())
        .select(User::as_select())
        .load(conn)?;
    let by_email: Vec<User> = users::table
        .filter(users::realm_id.eq(realm_id))
        .filter(lower(users::email).eq(lower(Some(login.to_string()))))
        .filter(users::deprovisioned_at.is_null())
        .select(User::as_select())
        .load(conn)?;
    for user in by_email {
        if !found.iter().any(|u| u.id == user.id) {
            found.push(user);
        }
    }
    Ok(found)
}

pub fn set_email_verified(
    conn: &mut DbConnection,
    id: &str,
    verified: bool,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::email_verified.eq(verified))
        .execute(conn)?;
    Ok(())
}

/// Whether a realm-level user (owned by no directory) already has this user name.
pub fn realm_username_taken(
    conn: &mut DbConnection,
    realm_id: &str,
    username_lower: &str,
) -> Result<bool, DbError> {
    Ok(users::table
        .filter(users::realm_id.eq(realm_id))
        .filter(users::organization_id.eq(""))
        .filter(users::username_lower.eq(username_lower))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}
