//! The OpenID Provider over HTTP, in Keycloak's layout under `/realms/{realm}`: discovery,
//! certs, auth (and its login pages), token, userinfo, introspection, revocation, logout.
//! OAuth errors are rendered here once (RFC 6749 §5.2), person-facing ones as HTML pages.
//! Handlers extract, call `issuer`, and render; the protocol decisions live in `issuer`.

mod authorize;
mod broker;
mod discovery;
mod login;
mod logout;
mod token;
mod userinfo;

use actix_web::error::UrlencodedError;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
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

/// A page for a person, as an error actix can return from an extractor.
#[derive(Debug)]
struct PageError(StatusCode, String);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page {}", self.0)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0
    }
    fn error_response(&self) -> HttpResponse {
        html(self.0, self.1.clone())
    }
}

/// Who a route answers, and so the dialect its malformed requests are refused in.
#[derive(Clone, Copy)]
enum Audience {
    /// Machine clients: OAuth's JSON (RFC 6749 §5.2).
    Client,
    /// People in a browser: the HTML error page.
    Person,
}

/// The refusal of a form or query string that does not parse. Nothing of the input is quoted.
fn malformed(
    audience: Audience,
    req: &HttpRequest,
    what: &str,
    too_large: bool,
) -> actix_web::Error {
    let status = if too_large {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    let description = if too_large {
        format!("the {what} is too large")
    } else {
        format!("the {what} is not valid")
    };
    match audience {
        Audience::Client => OAuthResponseError(OAuthError::Protocol {
            code: "invalid_request",
            description,
            status: status.as_u16(),
        })
        .into(),
        Audience::Person => {
            let realm = req.match_info().get("realm").unwrap_or_default();
            let Page(status, body) = error_page(realm, status, description);
            PageError(status, body).into()
        }
    }
}

/// A method the resource does not serve, refused in `audience`'s dialect.
fn method_not_allowed(audience: Audience, req: &HttpRequest) -> actix_web::Error {
    let description = format!("{} is not allowed here", req.method());
    match audience {
        Audience::Client => OAuthResponseError(OAuthError::Protocol {
            code: "invalid_request",
            description,
            status: 405,
        })
        .into(),
        Audience::Person => {
            let realm = req.match_info().get("realm").unwrap_or_default();
            let Page(status, body) = error_page(realm, StatusCode::METHOD_NOT_ALLOWED, description);
            PageError(status, body).into()
        }
    }
}

/// actix's own default: the issuer's forms are a few fields.
const FORM_LIMIT: usize = 16 * 1024;

/// Forms of at most `limit` bytes, refused in `audience`'s dialect.
fn form_config(audience: Audience, limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(move |err, req| {
            let too_large = matches!(err, UrlencodedError::Overflow { .. });
            malformed(audience, req, "form", too_large)
        })
}

/// A resource whose form and query extractors, and other methods, refuse in `audience`'s
/// dialect.
fn resource(path: &str, audience: Audience) -> actix_web::Resource {
    web::resource(path)
        .default_service(web::route().to(move |req: HttpRequest| async move {
            Err::<HttpResponse, _>(method_not_allowed(audience, &req))
        }))
        .app_data(form_config(audience, FORM_LIMIT))
        .app_data(
            web::QueryConfig::default()
                .error_handler(move |_, req| malformed(audience, req, "query string", false)),
        )
}

/// The issuer's routes, under `/realms/{realm}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use Audience::{Client, Person};
    let oidc = |path: &str| format!("/protocol/openid-connect{path}");
    let options = || web::method(actix_web::http::Method::OPTIONS).to(token::preflight);
    cfg.service(
        resource("/.well-known/openid-configuration", Client)
            .route(web::get().to(discovery::discovery)),
    )
    .service(
        resource(&oidc("/certs"), Client)
            .route(web::get().to(discovery::certs))
            .route(options()),
    )
    .service(
        resource(&oidc("/auth"), Person)
            .route(web::get().to(authorize::authorize))
            .route(web::post().to(authorize::authorize)),
    )
    .service(
        resource(&oidc("/token"), Client)
            .route(web::post().to(token::token))
            .route(options()),
    )
    .service(
        resource(&oidc("/userinfo"), Client)
            .route(web::get().to(userinfo::userinfo))
            .route(web::post().to(userinfo::userinfo))
            .route(options()),
    )
    .service(resource(&oidc("/token/introspect"), Client).route(web::post().to(token::introspect)))
    .service(resource(&oidc("/revoke"), Client).route(web::post().to(token::revoke)))
    .service(
        resource(&oidc("/logout"), Person)
            .route(web::get().to(logout::logout))
            .route(web::post().to(logout::logout)),
    )
    .service(
        resource("/login-actions/authenticate", Person).route(web::post().to(login::login_action)),
    )
    .service(
        resource("/login-actions/organization", Person)
            .route(web::post().to(login::organization_action)),
    )
    .service(resource("/account", Person).route(web::get().to(logout::account)))
    .service(resource("/broker/{alias}/login", Person).route(web::get().to(broker::start)))
    .service(
        resource("/broker/{alias}/endpoint", Person)
            .route(web::get().to(broker::endpoint))
            // A SAML Response, base64 in a form field, plus RelayState.
            .route(web::post().to(broker::saml_acs))
            .app_data(form_config(
                Person,
                crate::federation::saml::MAX_RESPONSE_BYTES * 4 / 3 + 4096,
            )),
    )
    .service(
        resource("/broker/{alias}/endpoint/descriptor", Client)
            .route(web::get().to(broker::saml_descriptor)),
    )
    .service(
        resource("/broker/{alias}/backchannel-logout", Client)
            .route(web::post().to(broker::backchannel_logout)),
    );
}
