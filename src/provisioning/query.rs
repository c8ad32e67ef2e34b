//! A list request (RFC 7644 §3.4.2, §3.4.3): from the query string of a GET or the body of a
//! POST `.search`, into one typed value.

use scim::filter::{self, Filter};
use scim::path::AttrPath;
use scim::project::Projection;
use scim::{ScimError, ScimType};
use serde_json::Value;

/// The most resources one page returns, advertised as `filter.maxResults`.
pub const MAX_RESULTS: usize = 1000;
/// The page size when the client names none.
pub const DEFAULT_COUNT: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based (RFC 7644 §3.4.2.4); values below 1 are taken as 1.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub projection: Projection,
}

/// The raw parameters, named as the RFC names them: what the client sent, not yet parsed.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl ListQuery {
    /// Parses list parameters. The filter is bounded by `scim::limits` (length, depth,
    /// terms), so neither parsing it nor any later walk over it can exhaust a stack.
    pub fn parse(params: &ListParams) -> Result<ListQuery, ScimError> {
        let filter = match params.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(filter::parse(text)?),
        };
        let start_index = match params.start_index.as_deref() {
            None => 1,
            Some(s) => parse_int(s, "startIndex")?.max(1) as usize,
        };
        let count = match params.count.as_deref() {
            None => DEFAULT_COUNT,
            Some(s) => (parse_int(s, "count")?.max(0) as usize).min(MAX_RESULTS),
        };
        let sort_by = match params.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(path) => Some(AttrPath::parse(path)?),
        };
        let descending = match params.sort_order.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("sortOrder must be \"ascending\" or \"descending\", not {o:?}"),
                ))
            }
        };
        let projection = Projection::parse(
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        Ok(ListQuery {
            filter,
            start_index,
            count,
            sort_by,
            descending,
            projection,
        })
    }

    /// A SearchRequest body (RFC 7644 §3.4.3): the same parameters as JSON members.
    pub fn from_search_request(body: &Value) -> Result<ListQuery, ScimError> {
        let object = body.as_object().ok_or_else(|| {
            ScimError::bad_request(
                ScimType::InvalidSyntax,
                "a SearchRequest must be a JSON object",
            )
        })?;
        let get = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(_) => Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("SearchRequest member {name} has the wrong type"),
                )),
            }
        };
        ListQuery::parse(&ListParams {
            filter: text("filter")?,
            start_index: text("startIndex")?,
            count: text("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: text("attributes")?,
            excluded_attributes: text("excludedAttributes")?,
        })
    }
}

fn parse_int(s: &str, name: &str) -> Result<i64, ScimError> {
    s.trim().parse::<i64>().map_err(|_| {
        ScimError::bad_request(
            ScimType::InvalidValue,
            format!("{name} must be an integer, not {s:?}"),
        )
    })
}

/// One page of a list, before projection.
#[derive(Debug)]
pub struct Page {
    pub total_results: usize,
    pub start_index: usize,
    pub resources: Vec<Value>,
}

impl Page {
    /// The ListResponse body (RFC 7644 §3.4.2): `itemsPerPage` is what this page holds.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "schemas": [scim::LIST_RESPONSE_SCHEMA],
            "totalResults": self.total_results,
            "startIndex": self.start_index,
            "itemsPerPage": self.resources.len(),
            "Resources": self.resources,
        })
    }
}

/// Applies sort and paging to resources that already passed the filter.
pub fn paginate(
    mut matched: Vec<Value>,
    query: &ListQuery,
    schema: &scim::schema::ResourceSchema,
) -> (usize, Vec<Value>) {
    if let Some(by) = &query.sort_by {
        matched.sort_by(|a, b| {
            let order = scim::sort::compare(a, b, by, schema);
            if query.descending {
                order.reverse()
            } else {
                order
            }
        });
    }
    let total = matched.len();
    let page = matched
        .into_iter()
        .skip(query.start_index - 1)
        .take(query.count)
        .collect();
    (total, page)
}
