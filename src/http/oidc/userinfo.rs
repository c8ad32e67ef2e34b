//! `GET|POST /protocol/openid-connect/userinfo` (OIDC Core §5.3).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::token::with_cors;
use super::{realm_row, OAuthResult};
use crate::issuer::{api, OAuthError};
use crate::state::AppState;

/// The bearer token of a request: the Authorization header (RFC 6750 §2.1), or the form's
/// `access_token` (§2.2).
fn bearer(req: &HttpRequest, form: Option<&HashMap<String, String>>) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .or_else(|| form.and_then(|f| f.get("access_token").cloned()))
}

pub(super) async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> OAuthResult {
    let realm_name = path.into_inner();
    let realm = realm_row(&state, &realm_name).await?;
    let token = bearer(&req, form.as_deref())
        .ok_or_else(|| OAuthError::new("invalid_token", "a bearer token is required"))?;
    let (client, body) = api::userinfo(&state.issuer, &realm, token).await?;
    crate::http::note_client_id(&req, Some(&client.row.client_id));
    Ok(with_cors(
        HttpResponse::Ok().json(body),
        &req,
        Some(&client),
    ))
}
