//! Groups and their members. Member changes touch only the rows that change, so adding one
//! member to a group of 50,000 costs the same as adding one to a group of five.

use diesel::prelude::*;

use crate::db::models::user::{cmp_filter, Cmp};
use crate::db::schema::{group_members, groups, users};
use crate::db::{load_by_ids, on_backend, DbBackend, DbConnection, DbError, Micros};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: String,
    pub realm_id: String,
    pub organization_id: String,
    pub directory_id: Option<String>,
    pub parent_id: String,
    pub name: String,
    pub name_lower: String,
    pub path: String,
    pub external_id: Option<String>,
    pub scim_json: Option<String>,
    pub version: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = groups, treat_none_as_null = true)]
pub struct GroupChanges {
    pub name: String,
    pub name_lower: String,
    pub path: String,
    pub external_id: Option<String>,
    pub scim_json: Option<String>,
    pub version: i64,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    Id(String),
    NameLower(String),
    ExternalId(String),
    /// Groups that have this user as a direct member.
    Member(String),
    UpdatedAt(Cmp, Micros),
    CreatedAt(Cmp, Micros),
}

/// A member as a SCIM group shows it.
#[derive(Debug, Clone, Queryable)]
pub struct MemberRow {
    pub group_id: String,
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    /// What the directory sent as the member's `display`, if anything.
    pub member_display: Option<String>,
}

impl MemberRow {
    /// The member's `display`: as sent, else the user's display name, else the user name.
    pub fn display(&self) -> &str {
        self.member_display
            .as_deref()
            .or(self.display_name.as_deref())
            .unwrap_or(&self.username)
    }
}

fn in_org(org_id: &str) -> groups::BoxedQuery<'static, DbBackend> {
    groups::table
        .filter(groups::organization_id.eq(org_id.to_string()))
        .into_boxed()
}

pub fn find_in_org(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<Group>, DbError> {
    Ok(of_org(by_ids(conn, vec![id.to_string()])?, org_id).next())
}

/// Rows by primary key alone, the organization checked on the rows (see `user::by_ids`).
fn by_ids(conn: &mut DbConnection, ids: Vec<String>) -> Result<Vec<Group>, DbError> {
    Ok(load_by_ids!(
        groups::table.select(Group::as_select()),
        groups::id,
        ids.as_slice(),
        conn
    )?)
}

fn of_org(rows: Vec<Group>, org_id: &str) -> impl Iterator<Item = Group> + '_ {
    rows.into_iter()
        .filter(move |g| g.organization_id == org_id)
}

/// The organization's groups a key finds, oldest first (sorted here; see `user::lookup`).
pub fn lookup(
    conn: &mut DbConnection,
    org_id: &str,
    key: &GroupKey,
) -> Result<Vec<Group>, DbError> {
    let query = in_org(org_id).select(Group::as_select());
    let query = match key.clone() {
        GroupKey::Id(id) => return Ok(of_org(by_ids(conn, vec![id])?, org_id).collect()),
        GroupKey::NameLower(v) => query.filter(groups::name_lower.eq(v)),
        GroupKey::ExternalId(v) => query.filter(groups::external_id.eq(v)),
        GroupKey::UpdatedAt(cmp, v) => cmp_filter!(query, groups::updated_at, cmp, v),
        GroupKey::CreatedAt(cmp, v) => cmp_filter!(query, groups::created_at, cmp, v),
        GroupKey::Member(user_id) => {
            let ids: Vec<String> = group_members::table
                .filter(group_members::user_id.eq(user_id))
                .select(group_members::group_id)
                .load(conn)?;
            let mut rows: Vec<Group> = of_org(by_ids(conn, ids)?, org_id).collect();
            rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            return Ok(rows);
        }
    };
    let mut rows: Vec<Group> = query.load(conn)?;
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

pub fn count_in_org(conn: &mut DbConnection, org_id: &str) -> Result<i64, DbError> {
    Ok(in_org(org_id).count().get_result(conn)?)
}

pub fn page_in_org(
    conn: &mut DbConnection,
    org_id: &str,
    by_name: bool,
    descending: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<Group>, DbError> {
    let query = in_org(org_id).select(Group::as_select());
    let query = match (by_name, descending) {
        (false, false) => query.order((groups::created_at.asc(), groups::id.asc())),
        (false, true) => query.order((groups::created_at.desc(), groups::id.desc())),
        (true, false) => query.order((groups::name_lower.asc(), groups::id.asc())),
        (true, true) => query.order((groups::name_lower.desc(), groups::id.desc())),
    };
    Ok(query.offset(offset).limit(limit).load(conn)?)
}

pub fn all_in_org(conn: &mut DbConnection, org_id: &str) -> Result<Vec<Group>, DbError> {
    Ok(in_org(org_id)
        .select(Group::as_select())
        .order((groups::created_at, groups::id))
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, group: &Group) -> Result<(), DbError> {
    diesel::insert_into(groups::table)
        .values(group)
        .execute(conn)?;
    Ok(())
}

pub fn update(conn: &mut DbConnection, id: &str, changes: &GroupChanges) -> Result<(), DbError> {
    diesel::update(groups::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// Moves the group's `version` and `updated_at` and nothing else: what a change of its members
/// does to it.
pub fn touch(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    updated_at: Micros,
) -> Result<(), DbError> {
    let touch = Touch {
        id,
        version,
        updated_at,
    };
    on_backend!(conn, |c| touch.execute(c))?;
    Ok(())
}

/// `UPDATE groups SET version = ?, updated_at = ? WHERE id = ?`, written out because diesel
/// prepares every `update(...).set(...)` anew (a changeset may skip columns, so its SQL may
/// differ between calls), and this statement runs on every member PATCH: the profile of the
/// SCIM bench's single-member PATCH put 8% of the server's time in preparing it. With a type of
/// its own it is prepared once per connection.
struct Touch<'a> {
    id: &'a str,
    version: i64,
    updated_at: Micros,
}

impl diesel::query_builder::QueryId for Touch<'_> {
    type QueryId = Touch<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Touch<'_>
where
    DB: diesel::backend::Backend,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        out.push_sql("UPDATE groups SET version = ");
        out.push_bind_param::<BigInt, _>(&self.version)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<BigInt, _>(&self.updated_at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for Touch<'_> {}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(groups::table.find(id)).execute(conn)?;
    Ok(())
}

/// Members of the given groups, in the order they joined.
pub fn members_of(
    conn: &mut DbConnection,
    group_ids: &[String],
) -> Result<Vec<MemberRow>, DbError> {
    let query = group_members::table
        .inner_join(users::table)
        .order((group_members::created_at, group_members::user_id))
        .select((
            group_members::group_id,
            group_members::user_id,
            users::username,
            users::display_name,
            group_members::display,
        ));
    // Mostly one: a GET of a group.
    Ok(load_by_ids!(
        query,
        group_members::group_id,
        group_ids,
        conn
    )?)
}

/// The (user, group id, group name) triples for these users' direct groups.
pub fn groups_of_users(
    conn: &mut DbConnection,
    user_ids: &[String],
) -> Result<Vec<(String, String, String)>, DbError> {
    let query = group_members::table
        .inner_join(groups::table)
        .order((groups::name_lower, groups::id))
        .select((group_members::user_id, groups::id, groups::name));
    // One user: a GET, a filter's one match.
    Ok(load_by_ids!(query, group_members::user_id, user_ids, conn)?)
}

/// Which of `user_ids` are already members of the group.
pub fn members_among(
    conn: &mut DbConnection,
    group_id: &str,
    user_ids: &[String],
) -> Result<Vec<String>, DbError> {
    let query = group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id);
    // Mostly one: Entra's PATCH adds members one at a time.
    Ok(load_by_ids!(query, group_members::user_id, user_ids, conn)?)
}

pub fn member_ids(conn: &mut DbConnection, group_id: &str) -> Result<Vec<String>, DbError> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id)
        .load(conn)?)
}

pub fn add_member(
    conn: &mut DbConnection,
    group_id: &str,
    user_id: &str,
    display: Option<&str>,
    now: Micros,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(group_members::table).values((
        group_members::group_id.eq(group_id),
        group_members::user_id.eq(user_id),
        group_members::display.eq(display),
        group_members::created_at.eq(now),
    ));
    on_backend!(conn, |c| insert.execute(c))?;
    Ok(())
}

pub fn set_member_display(
    conn: &mut DbConnection,
    group_id: &str,
    user_id: &str,
    display: Option<&str>,
) -> Result<(), DbError> {
    diesel::update(group_members::table.find((group_id, user_id)))
        .set(group_members::display.eq(display))
        .execute(conn)?;
    Ok(())
}

pub fn remove_members(
    conn: &mut DbConnection,
    group_id: &str,
    user_ids: &[String],
) -> Result<usize, DbError> {
    let of_group = group_members::table.filter(group_members::group_id.eq(group_id));
    // One member as `=`, a statement prepared once (see `user::by_ids`).
    Ok(match user_ids {
        [id] => diesel::delete(of_group.filter(group_members::user_id.eq(id))).execute(conn)?,
        _ => diesel::delete(of_group.filter(group_members::user_id.eq_any(user_ids.to_vec())))
            .execute(conn)?,
    })
}

pub fn remove_all_members(conn: &mut DbConnection, group_id: &str) -> Result<usize, DbError> {
    Ok(
        diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id)))
            .execute(conn)?,
    )
}

/// Takes the user out of every group of the organization.
pub fn remove_user_from_org_groups(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        group_members::table
            .filter(group_members::user_id.eq(user_id))
            .filter(
                group_members::group_id.eq_any(
                    groups::table
                        .filter(groups::organization_id.eq(org_id))
                        .select(groups::id),
                ),
            ),
    )
    .execute(conn)?)
}

/// The group at `path` for a member of `org_id`: the organization's own, else the realm's.
pub fn find_by_path(
    conn: &mut DbConnection,
    realm_id: &str,
    org_id: Option<&str>,
    path: &str,
) -> Result<Option<Group>, DbError> {
    let owners: Vec<String> = org_id
        .into_iter()
        .map(str::to_string)
        .chain(std::iter::once(String::new()))
        .collect();
    let mut found: Vec<Group> = groups::table
        .filter(groups::realm_id.eq(realm_id))
        .filter(groups::path.eq(path))
        .filter(groups::organization_id.eq_any(owners))
        .select(Group::as_select())
        .load(conn)?;
    // The organization's group wins over a realm group of the same path.
    found.sort_by_key(|g| g.organization_id.is_empty());
    Ok(found.into_iter().next())
}

/// The organization's groups a directory pushed with these `externalId`s (Entra's group GUIDs).
pub fn by_external_ids(
    conn: &mut DbConnection,
    org_id: &str,
    external_ids: &[String],
) -> Result<Vec<Group>, DbError> {
    Ok(groups::table
        .filter(groups::organization_id.eq(org_id))
        .filter(groups::external_id.eq_any(external_ids.to_vec()))
        .select(Group::as_select())
        .load(conn)?)
}

/// Groups by id, whatever their organization.
pub fn with_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Group>, DbError> {
    by_ids(conn, ids.to_vec())
}
