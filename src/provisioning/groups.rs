//! `/Groups`: groups owned by the directory's organization, with their members. Member changes
//! are applied to the member table one row per changed member, never by rewriting the list.

use std::collections::{HashMap, HashSet};

use scim::filter::Filter;
use scim::patch::{MultiValuedChange, PatchRequest};
use scim::path::AttrPath;
use scim::project::Projection;
use scim::{ScimError, ScimType};
use serde_json::{json, Value};

use crate::db::models::group::{self as rows, Group, GroupChanges, MemberRow};
use crate::db::models::user as user_rows;
use crate::db::DbConnection;
use crate::provisioning::query::{paginate, ListQuery, Page};
use crate::provisioning::render;
use crate::provisioning::{
    audited_write, check_if_match, json_body, nothing, plan, read, union_of, uniqueness, Caller,
    ProvisioningError, RawProjection, Resource, Result, Runtime, ScimContext, Shown, WriteOp,
};

fn schema() -> &'static scim::schema::ResourceSchema {
    scim::schema::group()
}

fn not_found(id: &str) -> ProvisioningError {
    ScimError::not_found(format!("Group {id} not found")).into()
}

fn taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("displayName {name:?} is already taken in this organization")
}

fn display_name(json: &Value) -> Result<String> {
    json.get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ScimError::bad_request(ScimType::InvalidValue, "displayName is required").into()
        })
}

fn load(conn: &mut DbConnection, ctx: &ScimContext, id: &str) -> Result<Group> {
    rows::find_in_org(conn, &ctx.organization_id, id)?.ok_or_else(|| not_found(id))
}

/// A member as a request names it: the user id and, optionally, the `display` to show.
#[derive(Debug, Clone)]
struct MemberRef {
    id: String,
    display: Option<String>,
}

/// Takes `members` out of a body: the member table holds them.
fn take_members(json: &mut Value) -> Result<Option<Vec<MemberRef>>> {
    let Some(members) = json.as_object_mut().and_then(|m| m.remove("members")) else {
        return Ok(None);
    };
    let items = match members {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        _ => {
            return Err(
                ScimError::bad_request(ScimType::InvalidValue, "members must be an array").into(),
            )
        }
    };
    member_refs(&items).map(Some)
}

fn member_refs(items: &[Value]) -> Result<Vec<MemberRef>> {
    items.iter().map(member_ref).collect()
}

fn member_ref(item: &Value) -> Result<MemberRef> {
    let id = match item {
        Value::String(s) => Some(s.clone()),
        _ => item
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let id = id.ok_or_else(|| {
        ScimError::bad_request(ScimType::InvalidValue, "each member needs a \"value\"")
    })?;
    let display = item
        .get("display")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(MemberRef { id, display })
}

/// Adds the members not yet in the group (and updates the `display` of those that are, when
/// one is sent); costs O(members named), whatever the group's size.
fn add_members(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    group_id: &str,
    refs: &[MemberRef],
    now: i64,
) -> Result<()> {
    let mut wanted: Vec<String> = Vec::with_capacity(refs.len());
    let mut displays: HashMap<&str, Option<&str>> = HashMap::new();
    for r in refs {
        if displays
            .insert(r.id.as_str(), r.display.as_deref())
            .is_none()
        {
            wanted.push(r.id.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let existing: HashSet<String> =
        user_rows::existing_ids_in_org(conn, &ctx.organization_id, &wanted)?
            .into_iter()
            .collect();
    if let Some(missing) = wanted.iter().find(|id| !existing.contains(*id)) {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("member {missing} is not a user of this organization"),
        )
        .into());
    }
    let already: HashSet<String> = rows::members_among(conn, group_id, &wanted)?
        .into_iter()
        .collect();
    for id in &wanted {
        let display = displays.get(id.as_str()).copied().flatten();
        if !already.contains(id) {
            rows::add_member(conn, group_id, id, display, now)?;
        } else if display.is_some() {
            rows::set_member_display(conn, group_id, id, display)?;
        }
    }
    Ok(())
}

fn set_members(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    group_id: &str,
    refs: &[MemberRef],
    now: i64,
) -> Result<()> {
    let wanted: HashSet<&str> = refs.iter().map(|r| r.id.as_str()).collect();
    let current = rows::member_ids(conn, group_id)?;
    let gone: Vec<String> = current
        .into_iter()
        .filter(|id| !wanted.contains(id.as_str()))
        .collect();
    rows::remove_members(conn, group_id, &gone)?;
    add_members(conn, ctx, group_id, refs, now)
}

fn member_json(m: &MemberRow) -> Value {
    json!({
        "value": m.user_id,
        "display": m.display(),
        "type": "User",
    })
}

/// Removes the members an arbitrary member filter selects (`members[display eq "x"]`).
fn remove_where(conn: &mut DbConnection, group_id: &str, filter: &Filter) -> Result<()> {
    let members = rows::members_of(conn, &[group_id.to_string()])?;
    let path = AttrPath {
        urn: None,
        name: "members".into(),
        sub_attr: None,
    };
    let selector = Filter::ValuePath(path, Box::new(filter.clone()));
    let gone: Vec<String> = members
        .iter()
        .filter(|m| {
            let probe = json!({ "members": [member_json(m)] });
            scim::filter::matches(&selector, &probe, schema())
        })
        .map(|m| m.user_id.clone())
        .collect();
    rows::remove_members(conn, group_id, &gone)?;
    Ok(())
}

fn apply_member_change(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    group_id: &str,
    change: &MultiValuedChange,
    now: i64,
) -> Result<()> {
    match change {
        MultiValuedChange::Add(items) => {
            add_members(conn, ctx, group_id, &member_refs(items)?, now)
        }
        MultiValuedChange::Remove(ids) => {
            rows::remove_members(conn, group_id, ids)?;
            Ok(())
        }
        MultiValuedChange::RemoveAll => {
            rows::remove_all_members(conn, group_id)?;
            Ok(())
        }
        MultiValuedChange::Replace(items) => {
            set_members(conn, ctx, group_id, &member_refs(items)?, now)
        }
        MultiValuedChange::RemoveWhere(filter) => remove_where(conn, group_id, filter),
    }
}

fn rendered(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    row: &Group,
    with_members: bool,
) -> Result<Resource> {
    let members = if with_members {
        Some(rows::members_of(conn, std::slice::from_ref(&row.id))?)
    } else {
        None
    };
    Ok(Resource {
        id: row.id.clone(),
        json: render::group(row, members.as_deref(), &ctx.base_url),
        version: row.version,
    })
}

fn wants_members(projection: &Projection) -> bool {
    AttrPath::parse("members").is_ok_and(|p| projection.includes(schema(), &p))
}

/// A POST or PUT body: the representation to store, its name, and the members it lists
/// (bounded, with every other value, by `scim::limits::MAX_WRITE_VALUES`).
struct Body {
    json: Value,
    name: String,
    members: Vec<MemberRef>,
}

impl Body {
    fn parse(body: &[u8]) -> Result<Body> {
        let mut json = scim::resource::normalize(json_body(body)?, schema())?;
        let members = take_members(&mut json)?.unwrap_or_default();
        let name = display_name(&json)?;
        Ok(Body {
            json,
            name,
            members,
        })
    }
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
        resource_type: "Group",
        resource_id: None,
        success_status: 201,
    };
    let parse = move || Ok((projection.parse()?, Body::parse(&body)?));
    audited_write(rt, caller, op, parse, move |conn, ctx, input, now| {
        let (projection, body) = input;
        let Body {
            json,
            name,
            members,
        } = body;
        let row = Group {
            id: crate::db::new_id(),
            realm_id: ctx.realm_id.clone(),
            organization_id: ctx.organization_id.clone(),
            directory_id: Some(ctx.directory_id.clone()),
            parent_id: String::new(),
            name_lower: name.to_lowercase(),
            path: format!("/{name}"),
            external_id: json
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_string),
            scim_json: Some(render::to_stored(json.clone())),
            name: name.clone(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        rows::insert(conn, &row).map_err(|e| uniqueness(e, taken(&name)))?;
        add_members(conn, ctx, &row.id, &members, now)?;
        let id = row.id.clone();
        let resource = rendered(conn, ctx, &row, true)?;
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
            resource: rendered(conn, ctx, &row, wants_members(&projection))?,
            projection,
        })
    })
    .await
}

fn mentions_members(filter: &Filter) -> bool {
    let is_members = |p: &AttrPath| p.name.eq_ignore_ascii_case("members");
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => mentions_members(a) || mentions_members(b),
        Filter::Not(f) => mentions_members(f),
        Filter::Present(p) | Filter::Compare(p, _, _) | Filter::ValuePath(p, _) => is_members(p),
    }
}

pub(super) fn list_in(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    query: &ListQuery,
) -> Result<Page> {
    let org = &ctx.organization_id;
    let with_members = wants_members(&query.projection);
    let render_all =
        |conn: &mut DbConnection, groups: &[Group], with_members: bool| -> Result<Vec<Value>> {
            let members = if with_members {
                let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
                rows::members_of(conn, &ids)?
            } else {
                Vec::new()
            };
            Ok(groups
                .iter()
                .map(|g| {
                    let mine: Option<Vec<MemberRow>> = with_members.then(|| {
                        members
                            .iter()
                            .filter(|m| m.group_id == g.id)
                            .cloned()
                            .collect()
                    });
                    render::group(g, mine.as_deref(), &ctx.base_url)
                })
                .collect())
        };

    let Some(filter) = &query.filter else {
        let by_name = match &query.sort_by {
            None => Some(false),
            Some(p) if p.sub_attr.is_none() && p.name.eq_ignore_ascii_case("displayName") => {
                Some(true)
            }
            Some(_) => None,
        };
        if let Some(by_name) = by_name {
            let total = rows::count_in_org(conn, org)? as usize;
            let page = rows::page_in_org(
                conn,
                org,
                by_name,
                query.descending,
                (query.start_index - 1) as i64,
                // PostgreSQL refuses a negative LIMIT: keep usize::MAX ("everything") in range.
                query.count.min(i64::MAX as usize) as i64,
            )?;
            return Ok(Page {
                total_results: total,
                start_index: query.start_index,
                resources: render_all(conn, &page, with_members)?,
            });
        }
        let all = rows::all_in_org(conn, org)?;
        let (total, page) = paginate(render_all(conn, &all, with_members)?, query, schema());
        return Ok(Page {
            total_results: total,
            start_index: query.start_index,
            resources: page,
        });
    };

    scim::filter::validate(filter, schema())?;
    let candidates = match plan::group_plan(filter) {
        Some(keys) => union_of(&keys, |k| rows::lookup(conn, org, k), |r| &r.id)?,
        None => rows::all_in_org(conn, org)?,
    };
    let need_members = with_members || mentions_members(filter);
    let matched: Vec<Value> = render_all(conn, &candidates, need_members)?
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

/// PUT: replaces the representation and the member list (RFC 7644 §3.5.1).
pub async fn replace(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
    body: Vec<u8>,
    if_match: Option<String>,
) -> Result<Shown> {
    let id2 = id.to_string();
    let op = WriteOp {
        operation: "replace",
        resource_type: "Group",
        resource_id: Some(id),
        success_status: 200,
    };
    let parse = move || Ok((projection.parse()?, Body::parse(&body)?));
    audited_write(rt, caller, op, parse, move |conn, ctx, input, now| {
        let (projection, body) = input;
        let id = id2;
        let row = load(conn, ctx, &id)?;
        check_if_match(if_match.as_deref(), row.version)?;
        save(conn, &row, &body.name, &body.json, now)?;
        set_members(conn, ctx, &row.id, &body.members, now)?;
        let row = load(conn, ctx, &id)?;
        let resource = rendered(conn, ctx, &row, true)?;
        Ok((
            Shown {
                resource,
                projection,
            },
            None,
        ))
    })
    .await
}

fn save(conn: &mut DbConnection, row: &Group, name: &str, json: &Value, now: i64) -> Result<()> {
    let changes = GroupChanges {
        name: name.to_string(),
        name_lower: name.to_lowercase(),
        path: format!("/{name}"),
        external_id: json
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string),
        scim_json: Some(render::to_stored(json.clone())),
        version: row.version + 1,
        updated_at: now,
    };
    rows::update(conn, &row.id, &changes).map_err(|e| uniqueness(e, taken(name)))
}

/// PATCH: attribute operations on the JSON, member operations on the member table. Returns the
/// resource when the client names attributes (so the caller may answer 204 otherwise: Entra's
/// group PATCH "should yield 204", and a body listing every member is not advisable).
pub async fn patch(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    projection: RawProjection,
    body: Vec<u8>,
    if_match: Option<String>,
) -> Result<Option<Shown>> {
    let id2 = id.to_string();
    let asked = projection.named();
    let op = WriteOp {
        operation: "patch",
        resource_type: "Group",
        resource_id: Some(id),
        success_status: if asked { 200 } else { 204 },
    };
    let parse = move || {
        let projection = projection.parse()?;
        let request = PatchRequest::from_json(&json_body(&body)?)?;
        Ok((asked.then_some(projection), request))
    };
    audited_write(rt, caller, op, parse, move |conn, ctx, input, now| {
        let (projection, request) = input;
        let (request, member_changes) = request.extract_multi_valued("members");
        let id = id2;
        let row = load(conn, ctx, &id)?;
        check_if_match(if_match.as_deref(), row.version)?;
        if !request.operations.is_empty() {
            let mut json = render::group(&row, None, &ctx.base_url);
            scim::patch::apply(&mut json, &request, schema())?;
            // A `members[...].display` op left in the request may have written a members array
            // into the JSON; the member table is the only place members live.
            if let Some(map) = json.as_object_mut() {
                map.remove("members");
            }
            let name = display_name(&json)?;
            save(conn, &row, &name, &json, now)?;
        } else if !member_changes.is_empty() {
            // Members changed: the group's version and lastModified move too.
            rows::touch(conn, &row.id, row.version + 1, now)?;
        }
        for change in &member_changes {
            apply_member_change(conn, ctx, &row.id, change, now)?;
        }
        let shown = match projection {
            Some(projection) => {
                let row = load(conn, ctx, &id)?;
                let resource = rendered(conn, ctx, &row, wants_members(&projection))?;
                Some(Shown {
                    resource,
                    projection,
                })
            }
            None => None,
        };
        Ok((shown, None))
    })
    .await
}

pub async fn delete(
    rt: Runtime<'_>,
    caller: &Caller,
    id: &str,
    if_match: Option<String>,
) -> Result<()> {
    let id2 = id.to_string();
    let op = WriteOp {
        operation: "delete",
        resource_type: "Group",
        resource_id: Some(id),
        success_status: 204,
    };
    audited_write(rt, caller, op, nothing, move |conn, ctx, (), _now| {
        let id = id2;
        let row = load(conn, ctx, &id)?;
        check_if_match(if_match.as_deref(), row.version)?;
        rows::delete(conn, &row.id)?;
        Ok(((), None))
    })
    .await
}

pub fn project(resource: &Value, projection: &Projection) -> Value {
    scim::project::apply(resource, projection, schema())
}
