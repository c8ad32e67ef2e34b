//! Lists and searches (RFC 7644 §3.4.2, §3.4.3) of one resource type, or of users and groups
//! together at the root (`POST /.search`): the query is parsed once the caller is
//! authenticated, then the page is read, sorted, paged and projected in the same job.

use serde_json::Value;

use crate::db::DbConnection;
use crate::provisioning::query::{paginate, ListParams, ListQuery, Page};
use crate::provisioning::{
    groups, json_body, read, users, Caller, Kind, Result, Runtime, ScimContext,
};

/// Where a list's parameters come from, as the client sent them.
#[derive(Debug)]
pub enum Request {
    /// A GET's query parameters.
    Query(ListParams),
    /// The SearchRequest body of a `.search` POST.
    Search(Vec<u8>),
}

impl Request {
    fn parse(&self) -> Result<ListQuery> {
        Ok(match self {
            Request::Query(params) => ListQuery::parse(params)?,
            Request::Search(body) => ListQuery::from_search_request(&json_body(body)?)?,
        })
    }
}

/// The ListResponse for one kind, or for both when `kind` is `None` (users first).
pub async fn list(
    rt: Runtime<'_>,
    caller: &Caller,
    kind: Option<Kind>,
    request: Request,
) -> Result<Value> {
    read(rt, caller, move |conn, ctx| {
        let query = request.parse()?;
        let page = match kind {
            Some(kind) => {
                let mut page = list_in(conn, ctx, kind, &query)?;
                page.resources = page
                    .resources
                    .iter()
                    .map(|r| kind.project(r, &query.projection))
                    .collect();
                page
            }
            None => root(conn, ctx, &query)?,
        };
        Ok(page.to_json())
    })
    .await
}

fn list_in(
    conn: &mut DbConnection,
    ctx: &ScimContext,
    kind: Kind,
    query: &ListQuery,
) -> Result<Page> {
    match kind {
        Kind::Users => users::list_in(conn, ctx, query),
        Kind::Groups => groups::list_in(conn, ctx, query),
    }
}

/// Both kinds, each read whole, then sorted and paged together.
fn root(conn: &mut DbConnection, ctx: &ScimContext, query: &ListQuery) -> Result<Page> {
    let everything = ListQuery {
        start_index: 1,
        count: usize::MAX,
        sort_by: None,
        ..query.clone()
    };
    let mut all = list_in(conn, ctx, Kind::Users, &everything)?.resources;
    all.extend(list_in(conn, ctx, Kind::Groups, &everything)?.resources);
    let (total, resources) = paginate(all, query, scim::schema::user());
    let resources = resources
        .into_iter()
        .map(|r| {
            let kind = if r.pointer("/meta/resourceType") == Some(&Value::from("Group")) {
                Kind::Groups
            } else {
                Kind::Users
            };
            kind.project(&r, &query.projection)
        })
        .collect();
    Ok(Page {
        total_results: total,
        start_index: query.start_index,
        resources,
    })
}
