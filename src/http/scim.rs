//! SCIM 2.0 over HTTP at `/realms/{realm}/scim/v2`: the bearer token and the raw query and
//! body taken from the request, handed to `provisioning`, and every answer rendered in SCIM's
//! own dialect (`application/scim+json`, RFC 7644 §3.12 errors).
//!
//! Nothing the client sent is parsed here: the filter, `attributes`, `sortBy`, the body and
//! its PATCH operations are parsed by provisioning inside its database job, after the token
//! is checked there (one trip to the database per request, as before; Entra's own JWT is
//! checked just before, since its keys may have to be fetched). So an unauthenticated
//! request is answered 401 without parsing anything it carries.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use scim::{ScimError, ScimType};
use serde_json::Value;

use crate::provisioning::entra_token::{self, EntraKeys};
use crate::provisioning::lists::{self, Request};
use crate::provisioning::query::ListParams;
use crate::provisioning::{
    self, discovery, groups, users, Caller, Kind, ProvisioningError, RawProjection, Runtime,
    ScimContext, Shown,
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
            ProvisioningError::Db(_) => {
                tracing::error!(
                    failure = self.0.failure(),
                    "SCIM request failed on the database"
                );
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

fn runtime(state: &AppState) -> Runtime<'_> {
    Runtime {
        db: &state.db,
        clock: &*state.clock,
        issuer: &state.issuer,
        config: &state.config,
    }
}

fn scim_error(status: u16, detail: impl Into<String>) -> ScimResponseError {
    ScimError {
        status,
        scim_type: None,
        detail: detail.into(),
    }
    .into()
}

/// The caller a request claims to be: its realm and bearer token. The token is checked by
/// provisioning in the same database job as the work, before anything else the request carries
/// is parsed; only Entra's own JWT, whose keys may have to be fetched, is checked here first.
async fn caller(
    state: &AppState,
    realm: &str,
    req: &HttpRequest,
) -> Result<Caller, ScimResponseError> {
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
    let keys = EntraKeys {
        http: &state.federation.http,
        upstreams: &state.federation.upstreams,
    };
    let directories = &state.config.directories;
    let now = state.clock.now();
    let credential = entra_token::credential(keys, directories, realm, token, now).await?;
    Ok(Caller {
        realm: realm.to_string(),
        credential,
        base_url: format!("{}/realms/{realm}/scim/v2", state.base_url()),
    })
}

/// Authenticates now, for endpoints that touch no resource (discovery, errors).
async fn context(
    state: &AppState,
    realm: &str,
    req: &HttpRequest,
) -> Result<ScimContext, ScimResponseError> {
    authenticated(state, &caller(state, realm, req).await?).await
}

async fn authenticated(
    state: &AppState,
    caller: &Caller,
) -> Result<ScimContext, ScimResponseError> {
    Ok(provisioning::read(runtime(state), caller, |_, ctx| Ok(ctx.clone())).await?)
}

/// How much of a body is read: a write's body is parsed inside the database writer's job, so
/// it is held to `scim::limits::MAX_WRITE_BODY_BYTES`; a search's is parsed on a reader.
#[derive(Clone, Copy)]
enum BodyUse {
    Write,
    Search,
}

/// Reads a body's bytes, whatever `+json` or `json` media type labels it (Entra sends
/// `application/scim+json; charset=utf-8`); provisioning parses them once the caller is known.
async fn body_bytes(
    state: &AppState,
    caller: &Caller,
    mut payload: web::Payload,
    used: BodyUse,
) -> Result<Vec<u8>, ScimResponseError> {
    let configured = state.config.server.max_body_bytes;
    let limit = match used {
        BodyUse::Write => configured.min(scim::limits::MAX_WRITE_BODY_BYTES),
        BodyUse::Search => configured,
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| scim_error(400, format!("cannot read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            // Refused unread. A caller without a valid token still hears 401 first (one
            // extra lookup, on this path only).
            authenticated(state, caller).await?;
            return Err(scim_error(
                413,
                format!("the request body exceeds {limit} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

type Query = web::Query<HashMap<String, String>>;

fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn owned(query: &HashMap<String, String>, name: &str) -> Option<String> {
    param(query, name).map(str::to_string)
}

fn projection(query: &HashMap<String, String>) -> RawProjection {
    RawProjection {
        attributes: owned(query, "attributes"),
        excluded_attributes: owned(query, "excludedAttributes"),
    }
}

fn list_params(query: &HashMap<String, String>) -> ListParams {
    ListParams {
        filter: owned(query, "filter"),
        start_index: owned(query, "startIndex"),
        count: owned(query, "count"),
        sort_by: owned(query, "sortBy"),
        sort_order: owned(query, "sortOrder"),
        attributes: owned(query, "attributes"),
        excluded_attributes: owned(query, "excludedAttributes"),
    }
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

/// A resource answered with its `ETag` (and `Location` when created), projected as asked.
fn resource_response(status: StatusCode, kind: Kind, shown: &Shown) -> HttpResponse {
    let resource = &shown.resource;
    let mut response = json_response(status, &kind.project(&resource.json, &shown.projection));
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

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<String>,
    query: Query,
    payload: web::Payload,
) -> ScimResult {
    let ctx = caller(&state, &path, &req).await?;
    let body = body_bytes(&state, &ctx, payload, BodyUse::Write).await?;
    let (rt, p) = (runtime(&state), projection(&query));
    let shown = match kind {
        Kind::Users => users::create(rt, &ctx, p, body).await?,
        Kind::Groups => groups::create(rt, &ctx, p, body).await?,
    };
    Ok(resource_response(StatusCode::CREATED, kind, &shown))
}

async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
    query: Query,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req).await?;
    let (rt, p) = (runtime(&state), projection(&query));
    let shown = match kind {
        Kind::Users => users::get(rt, &ctx, &id, p).await?,
        Kind::Groups => groups::get(rt, &ctx, &id, p).await?,
    };
    // RFC 7644 §3.14: a matching If-None-Match on GET is 304. If-None-Match compares weakly
    // (RFC 9110 §13.1.2: `"3"` matches `W/"3"`), and a 304 carries the ETag a 200 would
    // (§15.4.5).
    let none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let tag = shown.resource.etag();
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if none_match.is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim() == "*" || opaque(t) == opaque(&tag))
    }) {
        let mut response = HttpResponse::NotModified().finish();
        if let Ok(value) = HeaderValue::from_str(&tag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    Ok(resource_response(StatusCode::OK, kind, &shown))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<String>,
    query: Query,
) -> ScimResult {
    let ctx = caller(&state, &path, &req).await?;
    let request = Request::Query(list_params(&query));
    let page = lists::list(runtime(&state), &ctx, Some(kind), request).await?;
    Ok(json_response(StatusCode::OK, &page))
}

/// `POST /{Resource}/.search`, or at the root (`kind` None): users and groups that match, users
/// first (RFC 7644 §3.4.3).
async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Option<Kind>,
    path: web::Path<String>,
    payload: web::Payload,
) -> ScimResult {
    let ctx = caller(&state, &path, &req).await?;
    let body = body_bytes(&state, &ctx, payload, BodyUse::Search).await?;
    let request = Request::Search(body);
    let page = lists::list(runtime(&state), &ctx, kind, request).await?;
    Ok(json_response(StatusCode::OK, &page))
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
    let ctx = caller(&state, &realm, &req).await?;
    let body = body_bytes(&state, &ctx, payload, BodyUse::Write).await?;
    let (rt, p, tag) = (runtime(&state), projection(&query), if_match(&req));
    let shown = match kind {
        Kind::Users => users::replace(rt, &ctx, &id, p, body, tag).await?,
        Kind::Groups => groups::replace(rt, &ctx, &id, p, body, tag).await?,
    };
    Ok(resource_response(StatusCode::OK, kind, &shown))
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
    let ctx = caller(&state, &realm, &req).await?;
    let body = body_bytes(&state, &ctx, payload, BodyUse::Write).await?;
    let (rt, p, tag) = (runtime(&state), projection(&query), if_match(&req));
    let shown = match kind {
        Kind::Users => Some(users::patch(rt, &ctx, &id, p, body, tag).await?),
        // Entra: group PATCH "should yield 204"; a client that names attributes gets the
        // resource back.
        Kind::Groups => groups::patch(rt, &ctx, &id, p, body, tag).await?,
    };
    Ok(match shown {
        Some(shown) => resource_response(StatusCode::OK, kind, &shown),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: Kind,
    path: web::Path<(String, String)>,
) -> ScimResult {
    let (realm, id) = path.into_inner();
    let ctx = caller(&state, &realm, &req).await?;
    let (rt, tag) = (runtime(&state), if_match(&req));
    match kind {
        Kind::Users => users::delete(rt, &ctx, &id, tag).await?,
        Kind::Groups => groups::delete(rt, &ctx, &id, tag).await?,
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
                    .route(web::post().to(|s, r, p, b| search(s, r, Some($kind), p, b)))
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
            .route(web::post().to(|s, r, p, b| search(s, r, None, p, b)))
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
