//! SCIM 2.0 over HTTP at `/realms/{realm}/scim/v2`: authentication, body and query parsing,
//! and every answer in SCIM's own dialect (`application/scim+json`, RFC 7644 §3.12 errors).

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use scim::project::Projection;
use scim::{ScimError, ScimType};
use serde_json::Value;

use crate::provisioning::query::{paginate, ListParams, ListQuery, Page};
use crate::provisioning::{
    self, discovery, groups, users, Caller, ProvisioningError, Resource, ScimContext,
};
use crate::state::AppState;

const SCIM_JSON: &str = "application/scim+json";

/// Every SCIM failure, rendered once, here.
pub struct ScimResponseError(ProvisioningError);

impl From<ProvisioningError> for ScimResponseError {
    fn from(e: ProvisioningError) -> Self {
        ScimResponseError(e)
    }
}

impl From<ScimError> for ScimResponseError {
    fn from(e: ScimError) -> Self {
        ScimResponseError(e.into())
    }
}

impl std::fmt::Debug for ScimResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for ScimResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for ScimResponseError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let error = match &self.0 {
            ProvisioningError::Scim(e) => e.clone(),
            ProvisioningError::Db(e) => {
                tracing::error!(error = %e, "SCIM request failed on the database");
                ScimError {
                    status: 500,
                    scim_type: None,
                    detail: "internal error; the change was not applied".into(),
                }
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(SCIM_JSON);
        if error.status == 401 {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
        }
        response.body(error.to_json().to_string())
    }
}

type ScimResult = Result<HttpResponse, ScimResponseError>;

fn scim_error(status: u16, detail: impl Into<String>) -> ScimResponseError {
    ScimError {
        status,
        scim_type: None,
        detail: detail.into(),
    }
    .into()
}

/// The caller a request claims to be: its realm and bearer token, checked later, in the same
/// database job as the work.
fn caller(state: &AppState, realm: &str, req: &HttpRequest) -> Result<Caller, ScimResponseError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| scim_error(401, "a directory bearer token is required"))?;
    Ok(Caller {
        realm: realm.to_string(),
        token,
        base_url: format!("{}/realms/{realm}/scim/v2", state.base_url()),
    })
}

/// Authenticates now, for endpoints that touch no resource (discovery, errors).
async fn context(
    state: &AppState,
    realm: &str,
    req: &HttpRequest,
) -> Result<ScimContext, ScimResponseError> {
    let caller = caller(state, realm, req)?;
    Ok(provisioning::read(state, &caller, |_, ctx| Ok(ctx.clone())).await?)
}

/// Reads a JSON body, whatever `+json` or `json` media type labels it (Entra sends
/// `application/scim+json; charset=utf-8`).
async fn json_body(
    state: &AppState,
    mut payload: web::Payload,
) -> Result<Value, ScimResponseError> {
    let limit = state.config.server.max_body_bytes;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| scim_error(400, format!("cannot read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(scim_error(
                413,
                format!("the request body exceeds {limit} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
        .into()
    })
}

type Query = web::Query<HashMap<String, String>>;

fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn projection(query: &HashMap<String, String>) -> Result<Projection, ScimError> {
    Projection::parse(
        param(query, "attributes"),
        param(query, "excludedAttributes"),
    )
}

fn list_query(query: &HashMap<String, String>) -> Result<ListQuery, ScimError> {
    ListQuery::parse(&ListParams {
        filter: param(query, "filter"),
        start_index: param(query, "startIndex"),
        count: param(query, "count"),
        sort_by: param(query, "sortBy"),
        sort_order: param(query, "sortOrder"),
        attributes: param(query, "attributes"),
        excluded_attributes: param(query, "excludedAttributes"),
    })
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_JSON)
        .body(body.to_string())
}

fn resource_response(status: StatusCode, resource: &Resource, body: Value) -> HttpResponse {
    let mut response = json_response(status, &body);
    if let Ok(tag) = HeaderValue::from_str(&resource.etag()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    if status == StatusCode::CREATED {
        if let Some(location) = resource
            .json
            .pointer("/meta/location")
            .and_then(Value::as_str)
        {
            if let Ok(v) = HeaderValue::from_str(location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
        }
    }
    response
}

/// Which resource type a path segment names.
#[derive(Clone, Copy)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn project(self, json: &Value, p: &Projection) -> Value {
        match self {
            Kind::Users => users::project(json, p),
            Kind::Groups => groups::project(json, p),
        }
    }
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<String>,
    query: Query,
    payload: web::Payload,
) -> ScimResult {
    let ctx = caller(&state, &path, &req)?;
    let p = projection(&query)?;
    let body = json_body(&state, payload).await?;
    let resource = match kind {
        Kind::Users => users::create(&state, &ctx, body).await?,
        Kind::Groups => groups::create(&state, &ctx, body).await?,
    };
    Ok(resource_response(
        StatusCode::CREATED,
        &resource,
        kind.project(&resource.json, &p),
    ))
}

async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
    query: Query,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req)?;
    let p = projection(&query)?;
    let resource = match kind {
        Kind::Users => users::get(&state, &ctx, &id).await?,
        Kind::Groups => groups::get(&state, &ctx, &id, &p).await?,
    };
    // RFC 7644 §3.14: a matching If-None-Match on GET is 304.
    let none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if none_match.is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim() == resource.etag() || t.trim() == "*")
    }) {
        return Ok(HttpResponse::NotModified().finish());
    }
    Ok(resource_response(
        StatusCode::OK,
        &resource,
        kind.project(&resource.json, &p),
    ))
}

async fn list_page(
    state: &AppState,
    ctx: &Caller,
    kind: Kind,
    query: ListQuery,
) -> Result<Value, ScimResponseError> {
    let projection = query.projection.clone();
    let mut page = match kind {
        Kind::Users => users::list(state, ctx, query).await?,
        Kind::Groups => groups::list(state, ctx, query).await?,
    };
    page.resources = page
        .resources
        .iter()
        .map(|r| kind.project(r, &projection))
        .collect();
    Ok(page.to_json())
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<String>,
    query: Query,
) -> ScimResult {
    let ctx = caller(&state, &path, &req)?;
    let query = list_query(&query)?;
    Ok(json_response(
        StatusCode::OK,
        &list_page(&state, &ctx, kind, query).await?,
    ))
}

async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult {
    let ctx = caller(&state, &path, &req)?;
    let body = json_body(&state, payload).await?;
    let query = ListQuery::from_search_request(&body)?;
    Ok(json_response(
        StatusCode::OK,
        &list_page(&state, &ctx, kind, query).await?,
    ))
}

/// `POST /.search` at the root: users and groups that match, users first (RFC 7644 §3.4.3).
async fn search_root(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult {
    let ctx = caller(&state, &path, &req)?;
    let body = json_body(&state, payload).await?;
    let query = ListQuery::from_search_request(&body)?;
    let everything = ListQuery {
        start_index: 1,
        count: usize::MAX,
        sort_by: None,
        ..query.clone()
    };
    let mut all = users::list(&state, &ctx, everything.clone())
        .await?
        .resources;
    all.extend(groups::list(&state, &ctx, everything).await?.resources);
    let (total, resources) = paginate(all, &query, scim::schema::user());
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
    let page = Page {
        total_results: total,
        start_index: query.start_index,
        resources,
    };
    Ok(json_response(StatusCode::OK, &page.to_json()))
}

async fn replace(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
    query: Query,
    payload: web::Payload,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req)?;
    let p = projection(&query)?;
    let body = json_body(&state, payload).await?;
    let resource = match kind {
        Kind::Users => users::replace(&state, &ctx, &id, body, if_match(&req)).await?,
        Kind::Groups => groups::replace(&state, &ctx, &id, body, if_match(&req)).await?,
    };
    Ok(resource_response(
        StatusCode::OK,
        &resource,
        kind.project(&resource.json, &p),
    ))
}

async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
    query: Query,
    payload: web::Payload,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req)?;
    let p = projection(&query)?;
    let body = json_body(&state, payload).await?;
    match kind {
        Kind::Users => {
            let resource = users::patch(&state, &ctx, &id, body, if_match(&req)).await?;
            Ok(resource_response(
                StatusCode::OK,
                &resource,
                kind.project(&resource.json, &p),
            ))
        }
        Kind::Groups => {
            // Entra: group PATCH "should yield 204"; a body listing every member is not advisable.
            // A client that names attributes gets the resource back.
            let asked = param(&query, "attributes").is_some()
                || param(&query, "excludedAttributes").is_some();
            let resource = groups::patch(
                &state,
                &ctx,
                &id,
                body,
                if_match(&req),
                asked.then(|| p.clone()),
            )
            .await?;
            Ok(match resource {
                Some(resource) => {
                    resource_response(StatusCode::OK, &resource, kind.project(&resource.json, &p))
                }
                None => HttpResponse::NoContent().finish(),
            })
        }
    }
}

async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req)?;
    match kind {
        Kind::Users => users::delete(&state, &ctx, &id, if_match(&req)).await?,
        Kind::Groups => groups::delete(&state, &ctx, &id, if_match(&req)).await?,
    }
    Ok(HttpResponse::NoContent().finish())
}

/// RFC 7644 §4: discovery endpoints ignore paging, and SHOULD answer a filter with 403.
fn refuse_filter(query: &HashMap<String, String>) -> Result<(), ScimResponseError> {
    if param(query, "filter").is_some() {
        return Err(scim_error(
            403,
            "filtering is not supported on discovery endpoints",
        ));
    }
    Ok(())
}

/// The discovery collections (RFC 7644 §4).
#[derive(Clone, Copy)]
enum Discovery {
    ServiceProviderConfig,
    Schemas,
    ResourceTypes,
}

async fn discovery(
    state: web::Data<AppState>,
    req: HttpRequest,
    what: Discovery,
    path: web::Path<String>,
    query: Query,
) -> ScimResult {
    let ctx = context(&state, &path, &req).await?;
    refuse_filter(&query)?;
    let body = match what {
        Discovery::ServiceProviderConfig => discovery::service_provider_config(&ctx.base_url),
        Discovery::Schemas => scim::schema::schemas_json(&ctx.base_url),
        Discovery::ResourceTypes => scim::schema::resource_types_json(&ctx.base_url),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// One schema or resource type, by its id.
async fn discovery_item(
    state: web::Data<AppState>,
    req: HttpRequest,
    what: Discovery,
    path: web::Path<(String, String)>,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = context(&state, &realm, &req).await?;
    let (found, noun) = match what {
        Discovery::Schemas => (scim::schema::schema_json(&id, &ctx.base_url), "Schema"),
        Discovery::ResourceTypes => (
            scim::schema::resource_type_json(&id, &ctx.base_url),
            "ResourceType",
        ),
        Discovery::ServiceProviderConfig => (None, "ServiceProviderConfig"),
    };
    let found = found.ok_or_else(|| scim_error(404, format!("{noun} {id} not found")))?;
    Ok(json_response(StatusCode::OK, &found))
}

async fn not_implemented(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ScimResult {
    context(&state, &path, &req).await?;
    Err(scim_error(
        501,
        "this endpoint is not implemented (see /ServiceProviderConfig)",
    ))
}

/// Any other path under the SCIM base: a SCIM 404, once the caller is known.
pub async fn unknown_endpoint(state: web::Data<AppState>, req: HttpRequest) -> ScimResult {
    let realm = req
        .match_info()
        .get("realm")
        .unwrap_or_default()
        .to_string();
    context(&state, &realm, &req).await?;
    Err(scim_error(
        404,
        format!("no SCIM endpoint at {}", req.path()),
    ))
}

async fn method_not_allowed(req: HttpRequest) -> ScimResult {
    Err(scim_error(
        405,
        format!("{} is not allowed on {}", req.method(), req.path()),
    ))
}

/// The SCIM routes, mounted under `/realms/{realm}/scim/v2`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let read_only = || web::route().to(method_not_allowed);
    macro_rules! kind_routes {
        ($cfg:expr, $segment:literal, $kind:expr) => {
            $cfg.service(
                web::resource(concat!("/", $segment))
                    .route(web::get().to(|s, r, p, q| list(s, r, $kind, p, q)))
                    .route(web::post().to(|s, r, p, q, b| create(s, r, $kind, p, q, b)))
                    .default_service(read_only()),
            )
            .service(
                web::resource(concat!("/", $segment, "/.search"))
                    .route(web::post().to(|s, r, p, b| search(s, r, $kind, p, b)))
                    .default_service(read_only()),
            )
            .service(
                web::resource(concat!("/", $segment, "/{id}"))
                    .route(web::get().to(|s, r, p, q| get(s, r, $kind, p, q)))
                    .route(web::put().to(|s, r, p, q, b| replace(s, r, $kind, p, q, b)))
                    .route(
                        web::method(Method::PATCH).to(|s, r, p, q, b| patch(s, r, $kind, p, q, b)),
                    )
                    .route(web::delete().to(|s, r, p| delete(s, r, $kind, p)))
                    .default_service(read_only()),
            )
        };
    }
    use Discovery::{ResourceTypes, Schemas, ServiceProviderConfig};
    cfg.service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(|s, r, p, q| discovery(s, r, ServiceProviderConfig, p, q)))
            .default_service(read_only()),
    )
    .service(
        web::resource("/Schemas")
            .route(web::get().to(|s, r, p, q| discovery(s, r, Schemas, p, q)))
            .default_service(read_only()),
    )
    .service(
        web::resource("/Schemas/{id}")
            .route(web::get().to(|s, r, p| discovery_item(s, r, Schemas, p)))
            .default_service(read_only()),
    )
    .service(
        web::resource("/ResourceTypes")
            .route(web::get().to(|s, r, p, q| discovery(s, r, ResourceTypes, p, q)))
            .default_service(read_only()),
    )
    .service(
        web::resource("/ResourceTypes/{id}")
            .route(web::get().to(|s, r, p| discovery_item(s, r, ResourceTypes, p)))
            .default_service(read_only()),
    )
    .service(
        web::resource("/.search")
            .route(web::post().to(search_root))
            .default_service(read_only()),
    )
    .service(web::resource("/Bulk").route(web::route().to(not_implemented)))
    .service(web::resource("/Me").route(web::route().to(not_implemented)));
    kind_routes!(cfg, "Users", Kind::Users);
    kind_routes!(cfg, "Groups", Kind::Groups);
}

/// A query string that does not decode, answered as SCIM would.
pub fn bad_query(detail: String) -> actix_web::Error {
    ScimResponseError::from(ScimError::bad_request(ScimType::InvalidValue, detail)).into()
}
