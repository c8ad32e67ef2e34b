//! The OpenID Provider over HTTP, in Keycloak's layout under `/realms/{realm}`: discovery,
//! certs, auth (and its login pages), token, userinfo, introspection, revocation, logout.
//! OAuth errors are rendered here once (RFC 6749 §5.2), person-facing ones as HTML pages.
//! Handlers extract, call `issuer`, and render; the protocol decisions live in `issuer`.

mod authorize;
mod discovery;
mod login;
mod logout;
mod token;
mod userinfo;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use minijinja::context;
use serde_json::json;

use crate::issuer::runtime::RealmRow;
use crate::issuer::{issuer_url, OAuthError};
use crate::state::AppState;
use crate::web as pages;

/// An OAuth error for a machine client: JSON body, and `WWW-Authenticate` where due.
pub struct OAuthResponseError(OAuthError);

impl From<OAuthError> for OAuthResponseError {
    fn from(e: OAuthError) -> Self {
        OAuthResponseError(e)
    }
}

impl std::fmt::Debug for OAuthResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for OAuthResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for OAuthResponseError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let description = match &self.0 {
            OAuthError::Protocol { description, .. } => description.clone(),
            other => {
                tracing::error!(error = %other, "OIDC request failed");
                "internal error".to_string()
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.0.status() == 401 {
            let scheme = if self.0.code() == "invalid_token" {
                "Bearer"
            } else {
                "Basic"
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                format!("{scheme} realm=\"vestibule\", error=\"{}\"", self.0.code()),
            ));
        }
        response.json(json!({"error": self.0.code(), "error_description": description}))
    }
}

pub(super) type OAuthResult = Result<HttpResponse, OAuthResponseError>;

/// The realm a request names, or the error to answer with (unknown realm, or the database).
pub(super) async fn realm_row(state: &AppState, name: &str) -> Result<RealmRow, OAuthError> {
    state.issuer.realm(name).await
}

pub(super) fn issuer_of(state: &AppState, realm: &str) -> String {
    issuer_url(&state.base_url(), realm)
}

pub(super) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", "frame-ancestors 'none'"))
        .body(body)
}

/// A rendered page, built where HTTP types cannot go (inside database jobs).
pub(super) struct Page(StatusCode, String);

impl Page {
    pub(super) fn respond(self) -> HttpResponse {
        html(self.0, self.1)
    }
}

pub(super) fn error_page(realm: &str, status: StatusCode, message: impl Into<String>) -> Page {
    Page(
        status,
        pages::render(
            "error.html",
            context! { realm => realm, message => message.into() },
        ),
    )
}

/// The issuer's routes, under `/realms/{realm}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let oidc = "/protocol/openid-connect";
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::discovery),
    )
    .service(
        web::resource(format!("{oidc}/certs"))
            .route(web::get().to(discovery::certs))
            .route(web::method(actix_web::http::Method::OPTIONS).to(token::preflight)),
    )
    .service(
        web::resource(format!("{oidc}/auth"))
            .route(web::get().to(authorize::authorize))
            .route(web::post().to(authorize::authorize)),
    )
    .service(
        web::resource(format!("{oidc}/token"))
            .route(web::post().to(token::token))
            .route(web::method(actix_web::http::Method::OPTIONS).to(token::preflight)),
    )
    .service(
        web::resource(format!("{oidc}/userinfo"))
            .route(web::get().to(userinfo::userinfo))
            .route(web::post().to(userinfo::userinfo))
            .route(web::method(actix_web::http::Method::OPTIONS).to(token::preflight)),
    )
    .service(
        web::resource(format!("{oidc}/token/introspect")).route(web::post().to(token::introspect)),
    )
    .service(web::resource(format!("{oidc}/revoke")).route(web::post().to(token::revoke)))
    .service(
        web::resource(format!("{oidc}/logout"))
            .route(web::get().to(logout::logout))
            .route(web::post().to(logout::logout)),
    )
    .route(
        "/login-actions/authenticate",
        web::post().to(login::login_action),
    )
    .route(
        "/login-actions/organization",
        web::post().to(login::organization_action),
    )
    .route("/account", web::get().to(logout::account));
}
