//! `/Users`: create, read, list, replace, patch, delete (RFC 7644 §3.3–§3.6), and what each does
//! to the model: a pushed user is a managed member of the directory's organization; `active`
//! is the user's `enabled`; DELETE ends the membership and disables or deletes per policy.

use std::collections::HashMap;

use scim::patch::PatchRequest;
use scim::project::Projection;
use scim::{ScimError, ScimType};
use serde_json::Value;

use crate::db::models::group as group_rows;
use crate::db::models::user::{self as rows, User, UserChanges, UserOrder};
use crate::db::{DbConnection, DbError};
use crate::membership::{self, Source};
use crate::provisioning::query::{paginate, ListQuery, Page};
use crate::provisioning::render::{self, UserGroups};
use crate::provisioning::{
    audited_write, check_if_match, json_body, nothing, plan, read, union_of, uniqueness, Caller,
    ProvisioningError, RawProjection, Resource, Result, Runtime, ScimContext, Shown, WriteOp,
};
use crate::users as user_writer;

fn schema() -> &'static scim::schema::ResourceSchema {
    scim::schema::user()
}

/// The columns a user row keeps beside its JSON, for indexes and for the rest of Vestibule.
struct Fields {
    username: String,
    email: Option<String>,
    emails_lower: Vec<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    external_id: Option<String>,
    enabled: bool,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn fields(json: &Value) -> Result<Fields> {
    let username = text(json.get("userName"))
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::bad_request(ScimType::InvalidValue, "userName is required"))?;
    let emails: Vec<&Value> = json
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let email_of = |e: &&Value| e.get("value").and_then(Value::as_str).map(str::to_string);
    // The login email: the primary one, else the work one, else the first.
    let email = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            emails
                .iter()
                .find(|e| e.get("type").and_then(Value::as_str) == Some("work"))
        })
        .or(emails.first())
        .and_then(email_of);
    let mut emails_lower: Vec<String> = emails
        .iter()
        .filter_map(email_of)
        .map(|e| e.to_lowercase())
        .collect();
    emails_lower.sort();
    emails_lower.dedup();
    let name = json.get("name");
    Ok(Fields {
        username,
        email,
        emails_lower,
        first_name: text(name.and_then(|n| n.get("givenName"))),
        last_name: text(name.and_then(|n| n.get("familyName"))),
        display_name: text(json.get("displayName")),
        external_id: text(json.get("externalId")),
        enabled: json.get("active").and_then(Value::as_bool).unwrap_or(true),
    })
}

fn changes(f: &Fields, json: &Value, version: i64, now: i64) -> UserChanges {
    UserChanges {
        username: f.username.clone(),
        username_lower: f.username.to_lowercase(),
        email: f.email.clone(),
        first_name: f.first_name.clone(),
        last_name: f.last_name.clone(),
        display_name: f.display_name.clone(),
        display_name_lower: f.display_name.as_ref().map(|d| d.to_lowercase()),
        external_id: f.external_id.clone(),
        enabled: f.enabled,
        scim_json: Some(render::to_stored(json.clone())),
        version,
        updated_at: now,
    }
}

fn taken(username: &str) -> impl FnOnce() -> String + '_ {
    move || format!("userName {username:?} is already taken in this organization")
}

fn not_found(id: &str) -> ProvisioningError {
    ScimError::not_found(format!("User {id} not found")).into()
}

fn groups_of(conn: &mut DbConnection, ids: &[String]) -> std::result::Result<UserGroups, DbError> {
    let mut map: UserGroups = HashMap::new();
    for (user_id, group_id, name) in group_rows::groups_of_users(conn, ids)? {
        map.entry(user_id).or_default().push((group_id, name));
    }
    Ok(map)
}

fn load(conn: &mut DbConnection, ctx: &ScimContext, id: &str) -> Result<User> {
    rows::find_in_org(conn, &ctx.organization_id, id)?.ok_or_else(|| not_found(id))
}

fn rendered(conn: &mut DbConnection, ctx: &ScimContext, row: &User) -> Result<Resource> {
    let groups = groups_of(conn, std::slice::from_ref(&row.id))?;
    Ok(Resource {
        id: row.id.clone(),
        json: render::user(row, groups.get(&row.id).map(Vec::as_slice), &ctx.base_url),
        version: row.version,
    })
}

/// POST (RFC 7644 §3.3).
pub async fn create(
    rt: Runtime<'_>,
    caller: &Caller,
    projection: RawProjection,
    body: Vec<u8>,
) -> Result<Shown> {
    let op = WriteOp {
        operation: "create",
        resource_type: "User",
        resource_id: None,
        success_status: 201,
    };
    let parse = move || {
        let projection = projection.parse()?;
        let json = scim::resource::normalize(json_body(&body)?, schema())?;
        let f = fields(&json)?;
        Ok((projection, json, f))
    };
    audited_write(rt, caller, op, parse, move |conn, ctx, input, now| {
        let (projection, json, f) = input;
        let c = changes(&f, &json, 1, now);
        let from = user_writer::Directory {
            realm_id: &ctx.realm_id,
            organization_id: &ctx.organization_id,
            directory_id: &ctx.directory_id,
        };
        let row = user_writer::create_provisioned(conn, &from, c, &f.emails_lower, now)
            .map_err(|e| uniqueness(e, taken(&f.username)))?;
        let source = Source::Scim {
            directory_id: ctx.directory_id.clone(),
        };
        membership::add_new_user(conn, &ctx.organization_id, &row.id, &source, now)?;
        let id = row.id.clone();
        // Rendered from the value in hand rather than re-parsed from the stored text.
        let json = render::user_from(json, &row, None, &ctx.base_url);
        let resource = Resource {
            id: row.id.clone(),
            json,
            version: row.version,
        };
        Ok((
            Shown {
                resource,
                projection,
            },
            Some(id),
        ))
    })
    .await
}

pub async fn get(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
) -> Result<Shown> {
    let id = id.to_string();
    read(rt, caller, move |conn, ctx| {
        let projection = projection.parse()?;
        let row = load(conn, ctx, &id)?;
        Ok(Shown {
            resource: rendered(conn, ctx, &row)?,
            projection,
        })
    })
    .await
}

pub(super) fn list_in(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    query: &ListQuery,
) -> Result<Page> {
    let org = &ctx.organization_id;
    let wants_groups = query
        .projection
        .includes(schema(), &scim::path::AttrPath::parse("groups")?);
    let render_all = |conn: &mut DbConnection, rows: &[User]| -> Result<Vec<Value>> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let groups = if wants_groups {
            groups_of(conn, &ids)?
        } else {
            UserGroups::new()
        };
        Ok(rows
            .iter()
            .map(|r| render::user(r, groups.get(&r.id).map(Vec::as_slice), &ctx.base_url))
            .collect())
    };

    let Some(filter) = &query.filter else {
        // No filter: the listing index pages in the database.
        let order = match &query.sort_by {
            None => Some(UserOrder::Created),
            Some(p)
                if p.urn.is_none()
                    && p.sub_attr.is_none()
                    && p.name.eq_ignore_ascii_case("userName") =>
            {
                Some(UserOrder::UserName)
            }
            Some(_) => None,
        };
        if let Some(order) = order {
            let total = rows::count_in_org(conn, org)? as usize;
            let page = rows::page_in_org(
                conn,
                org,
                order,
                query.descending,
                (query.start_index - 1) as i64,
                // PostgreSQL refuses a negative LIMIT: keep usize::MAX ("everything") in range.
                query.count.min(i64::MAX as usize) as i64,
            )?;
            return Ok(Page {
                total_results: total,
                start_index: query.start_index,
                resources: render_all(conn, &page)?,
            });
        }
        let all = rows::all_in_org(conn, org)?;
        let (total, page) = paginate(render_all(conn, &all)?, query, schema());
        return Ok(Page {
            total_results: total,
            start_index: query.start_index,
            resources: page,
        });
    };

    scim::filter::validate(filter, schema())?;
    let candidates = match plan::user_plan(filter) {
        Some(keys) => union_of(&keys, |k| rows::lookup(conn, org, k), |r| &r.id)?,
        None => rows::all_in_org(conn, org)?,
    };
    let matched: Vec<Value> = render_all(conn, &candidates)?
        .into_iter()
        .filter(|json| scim::filter::matches(filter, json, schema()))
        .collect();
    let (total, page) = paginate(matched, query, schema());
    Ok(Page {
        total_results: total,
        start_index: query.start_index,
        resources: page,
    })
}

/// PUT: the body replaces the representation (RFC 7644 §3.5.1).
pub async fn replace(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
    body: Vec<u8>,
    if_match: Option<String>,
) -> Result<Shown> {
    let update = Update::Replace(body);
    update_one(rt, caller, id, projection, update, if_match).await
}

/// PATCH (RFC 7644 §3.5.2), in either Entra dialect; applied atomically.
pub async fn patch(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
    body: Vec<u8>,
    if_match: Option<String>,
) -> Result<Shown> {
    let update = Update::Patch(body);
    update_one(rt, caller, id, projection, update, if_match).await
}

/// A write to one user, as the client sent it.
enum Update {
    /// PUT: the body replaces the representation (RFC 7644 §3.5.1).
    Replace(Vec<u8>),
    /// PATCH (RFC 7644 §3.5.2), in either Entra dialect; applied atomically.
    Patch(Vec<u8>),
}

/// What an [`Update`] does to the current representation, once parsed.
enum Change {
    Replace(Value),
    Patch(PatchRequest),
}

impl Change {
    fn parse(update: &Update) -> Result<Change> {
        Ok(match update {
            Update::Replace(body) => {
                Change::Replace(scim::resource::normalize(json_body(body)?, schema())?)
            }
            Update::Patch(body) => Change::Patch(PatchRequest::from_json(&json_body(body)?)?),
        })
    }

    fn apply(self, mut current: Value) -> Result<Value> {
        match self {
            Change::Replace(json) => Ok(json),
            Change::Patch(request) => {
                scim::patch::apply(&mut current, &request, schema())?;
                Ok(current)
            }
        }
    }
}

async fn update_one(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
    update: Update,
    if_match: Option<String>,
) -> Result<Shown> {
    let id2 = id.to_string();
    let op = WriteOp {
        operation: match update {
            Update::Replace(_) => "replace",
            Update::Patch(_) => "patch",
        },
        resource_type: "User",
        resource_id: Some(id),
        success_status: 200,
    };
    let parse = move || Ok((projection.parse()?, Change::parse(&update)?));
    audited_write(rt, caller, op, parse, move |conn, ctx, input, now| {
        let (projection, change) = input;
        let id = id2;
        let shown = |resource| Shown {
            resource,
            projection,
        };
        let row = load(conn, ctx, &id)?;
        check_if_match(if_match.as_deref(), row.version)?;
        let current = render::user(&row, None, &ctx.base_url);
        let next = change.apply(current.clone())?;
        let f = fields(&next)?;
        if next == current {
            return Ok((shown(rendered(conn, ctx, &row)?), None));
        }
        let c = changes(&f, &next, row.version + 1, now);
        // Disabled by the directory (`active: false`): the writer signs the user out at once.
        let emails = (next.get("emails") != current.get("emails")).then_some(&f.emails_lower[..]);
        user_writer::update(conn, &row, &c, emails, now)
            .map_err(|e| uniqueness(e, taken(&f.username)))?;
        let row = load(conn, ctx, &id)?;
        Ok((shown(rendered(conn, ctx, &row)?), None))
    })
    .await
}

/// DELETE: the membership ends; the user is disabled or deleted per the directory's policy.
pub async fn delete(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    if_match: Option<String>,
) -> Result<()> {
    let id2 = id.to_string();
    let op = WriteOp {
        operation: "delete",
        resource_type: "User",
        resource_id: Some(id),
        success_status: 204,
    };
    audited_write(rt, caller, op, nothing, move |conn, ctx, (), now| {
        let id = id2;
        let row = load(conn, ctx, &id)?;
        check_if_match(if_match.as_deref(), row.version)?;
        membership::end(conn, &ctx.organization_id, &row.id)?;
        group_rows::remove_user_from_org_groups(conn, &ctx.organization_id, &row.id)?;
        user_writer::deprovision(conn, &row, ctx.deprovisioning, now)?;
        Ok(((), None))
    })
    .await
}

/// Projection applied to a resource, for callers that render.
pub fn project(resource: &Value, projection: &Projection) -> Value {
    scim::project::apply(resource, projection, schema())
}
