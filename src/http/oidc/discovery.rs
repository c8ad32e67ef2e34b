//! `/.well-known/openid-configuration` (OIDC Discovery 1.0 §3: only what is implemented) and
//! `/protocol/openid-connect/certs` (the JWKS, retired keys included until their tokens expire).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{issuer_of, realm_row, OAuthResult};
use crate::config::BUILTIN_SCOPES;
use crate::issuer::api;
use crate::state::AppState;

pub(super) async fn discovery(state: web::Data<AppState>, path: web::Path<String>) -> OAuthResult {
    let realm = path.into_inner();
    let row = realm_row(&state, &realm).await?;
    let declared = api::declared_scopes(&state.issuer, &row).await?;
    // The built-in scopes, then the realm's declared ones (Keycloak lists its client scopes).
    let mut scopes: Vec<&str> = vec!["openid"];
    scopes.extend(BUILTIN_SCOPES);
    for name in declared.names() {
        if !scopes.contains(&name) {
            scopes.push(name);
        }
    }
    let iss = issuer_of(&state, &realm);
    let oidc = format!("{iss}/protocol/openid-connect");
    Ok(HttpResponse::Ok().insert_header(("Access-Control-Allow-Origin", "*")).json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{oidc}/auth"),
        "token_endpoint": format!("{oidc}/token"),
        "userinfo_endpoint": format!("{oidc}/userinfo"),
        "jwks_uri": format!("{oidc}/certs"),
        "end_session_endpoint": format!("{oidc}/logout"),
        "introspection_endpoint": format!("{oidc}/token/introspect"),
        "revocation_endpoint": format!("{oidc}/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "acr", "azp", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "phone_number", "phone_number_verified", "address", "groups", "realm_access", "resource_access", "organization"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })))
}

pub(super) async fn certs(state: web::Data<AppState>, path: web::Path<String>) -> OAuthResult {
    let realm = realm_row(&state, &path).await?;
    let jwks = api::jwks(&state.issuer, &realm).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(jwks))
}
