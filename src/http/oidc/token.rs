//! `POST /protocol/openid-connect/token` (RFC 6749 §3.2), `token/introspect` (RFC 7662) and
//! `revoke` (RFC 7009): client authentication from the request (§2.3.1), CORS for the client's
//! registered web origins (and preflights for the realm's), and the JSON answers.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::{realm_row, OAuthResult};
use crate::issuer::clients::{Client, ClientCredentials};
use crate::issuer::grants::TokenForm;
use crate::issuer::runtime::RealmRow;
use crate::issuer::{api, OAuthError};
use crate::state::AppState;

/// The address a client's request comes from (as trusted proxies name it), for the
/// failed-authentication throttle.
fn client_address(state: &AppState, req: &HttpRequest) -> Option<String> {
    Some(crate::http::client_address(req, &state.config.server.trusted_proxies).to_string())
}

/// The client's credentials: HTTP Basic (client_secret_basic) or the form (client_secret_post,
/// or a public client's bare `client_id`).
fn client_credentials(
    state: &AppState,
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = B64
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if form.contains_key("client_secret") {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        return Ok(ClientCredentials {
            client_id: Some(unescape(id)),
            secret: Some(unescape(secret)),
            basic: true,
            address: client_address(state, req),
        });
    }
    Ok(ClientCredentials {
        client_id: form.get("client_id").cloned(),
        secret: form.get("client_secret").cloned(),
        basic: false,
        address: client_address(state, req),
    })
}

pub(super) fn with_cors(
    mut response: HttpResponse,
    req: &HttpRequest,
    client: Option<&Client>,
) -> HttpResponse {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if let (Some(origin), Some(client)) = (origin, client) {
        if client.allows_origin(origin) {
            if let Ok(v) = header::HeaderValue::from_str(origin) {
                response
                    .headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                response
                    .headers_mut()
                    .insert(header::VARY, header::HeaderValue::from_static("Origin"));
            }
        }
    }
    response
}

/// The CORS preflight of the token, userinfo and certs endpoints (Fetch standard, "CORS
/// protocol"). It names no client, so the origin is allowed when some enabled client of the
/// realm registered it; any other origin gets no CORS headers and the browser stops there.
pub(super) async fn preflight(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::VARY, "Origin"));
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return response.finish();
    };
    let registered = match (origin.to_str(), realm_row(&state, &path).await) {
        (Ok(asked), Ok(realm)) => api::allows_origin(&state.issuer, &realm, asked.to_string())
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "the realm's web origins could not be read");
                false
            }),
        _ => false,
    };
    if registered {
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"));
    }
    response.finish()
}

/// What a client's request to the token, introspection or revocation endpoint carries: its
/// realm, its credentials and its form.
struct ClientRequest {
    realm: RealmRow,
    creds: ClientCredentials,
    form: TokenForm,
}

impl ClientRequest {
    async fn read(
        state: &AppState,
        req: &HttpRequest,
        realm_name: &str,
        form: web::Form<TokenForm>,
    ) -> Result<ClientRequest, OAuthError> {
        let realm = realm_row(state, realm_name).await?;
        let form = form.into_inner();
        Ok(ClientRequest {
            realm,
            creds: client_credentials(state, req, &form)?,
            form,
        })
    }
}

pub(super) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> OAuthResult {
    let request = ClientRequest::read(&state, &req, &path, form).await?;
    crate::http::note_client_id(&req, request.creds.client_id.as_deref());
    let (client, body) =
        api::token(&state.issuer, &request.realm, request.creds, request.form).await?;
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body);
    Ok(with_cors(response, &req, Some(&client)))
}

pub(super) async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> OAuthResult {
    let request = ClientRequest::read(&state, &req, &path, form).await?;
    crate::http::note_client_id(&req, request.creds.client_id.as_deref());
    let body = api::introspect(&state.issuer, &request.realm, request.creds, request.form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

pub(super) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> OAuthResult {
    let request = ClientRequest::read(&state, &req, &path, form).await?;
    crate::http::note_client_id(&req, request.creds.client_id.as_deref());
    api::revoke(&state.issuer, &request.realm, request.creds, request.form).await?;
    Ok(HttpResponse::Ok().finish())
}
