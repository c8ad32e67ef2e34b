//! `GET|POST /protocol/openid-connect/auth` and the pages of a login: the login form, the
//! organization slug form, and the way back to the client (query or form_post, with `iss`,
//! RFC 9207). The SSO cookie is set and read here.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;

use super::{error_page, html, issuer_of, realm_row, Page};
use crate::issuer::api;
use crate::issuer::authorize::{Authorization, BrowserCookies};
use crate::issuer::flows::AuthParams;
use crate::issuer::login::FormPage;
use crate::issuer::runtime::RealmRow;
use crate::state::AppState;
use crate::web as pages;

/// The SSO session's cookie (Keycloak's `KEYCLOAK_SESSION`).
const SESSION_COOKIE: &str = "VESTIBULE_SESSION";
/// The login cookie that binds login transactions to the browser (Keycloak's `AUTH_SESSION_ID`).
const LOGIN_COOKIE: &str = "VESTIBULE_LOGIN";

pub(super) fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

pub(super) fn login_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(LOGIN_COOKIE).map(|c| c.value().to_string())
}

/// A realm's cookie: only its own paths, never script-readable, `Secure` behind https.
fn realm_cookie(
    state: &AppState,
    realm: &str,
    name: &'static str,
    value: String,
) -> Cookie<'static> {
    let secure = state.base_url().starts_with("https://");
    Cookie::build(name, value)
        .path(format!("/realms/{realm}/"))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The login transaction's cookie. Behind https it is `SameSite=None` (as Keycloak's
/// `AUTH_SESSION_ID`): a SAML IdP on another site POSTs its answer to the ACS, and that
/// cross-site POST must still name the browser's transaction. The binding stands: a form or a
/// SAML request is accepted only with the cookie of the browser that started it. Plain http
/// keeps `Lax`, as browsers refuse `None` without `Secure`.
fn transaction_cookie(state: &AppState, realm: &str, value: String) -> Cookie<'static> {
    let mut cookie = realm_cookie(state, realm, LOGIN_COOKIE, value);
    if cookie.secure() == Some(true) {
        cookie.set_same_site(SameSite::None);
    }
    cookie
}

/// The SSO session cookie with `value`, living `max_age_secs` (0 removes it).
pub(super) fn cookie_for(
    state: &AppState,
    realm: &str,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    let mut cookie = realm_cookie(state, realm, SESSION_COOKIE, value);
    cookie.set_max_age(actix_web::cookie::time::Duration::seconds(max_age_secs));
    cookie
}

/// A new SSO session's cookie.
pub(super) fn sso_cookie(state: &AppState, realm: &str, value: String) -> Cookie<'static> {
    cookie_for(
        state,
        realm,
        value,
        state.issuer.settings.sso_session_max_secs,
    )
}

/// Sets the login cookie the issuer minted, when it did; it lives as long as the browser does.
fn with_login_cookie(
    mut response: HttpResponse,
    state: &AppState,
    realm: &str,
    minted: Option<String>,
) -> HttpResponse {
    if let Some(value) = minted {
        let _ = response.add_cookie(&transaction_cookie(state, realm, value));
    }
    response
}

/// Sends the browser back to the client with `params` (query or form_post), adding `iss`.
pub(super) fn back_to_client(
    state: &AppState,
    realm: &str,
    params: &AuthParams,
    mut fields: Vec<(String, String)>,
) -> HttpResponse {
    if let Some(s) = &params.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("iss".into(), issuer_of(state, realm)));
    if params.response_mode == "form_post" {
        return html(
            StatusCode::OK,
            pages::render(
                "form_post.html",
                context! { redirect_uri => params.redirect_uri, fields => fields },
            ),
        );
    }
    let mut url = match url::Url::parse(&params.redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                realm,
                StatusCode::BAD_REQUEST,
                "the redirect URI is not valid",
            )
            .respond()
        }
    };
    url.query_pairs_mut().extend_pairs(fields.iter());
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

pub(super) fn login_page(realm: &str, form: &FormPage) -> Page {
    let identity_providers: Vec<_> = form
        .identity_providers
        .iter()
        .map(|idp| {
            context! {
                display_name => idp.display_name,
                href => broker_login_path(realm, &idp.alias, &form.request_id),
            }
        })
        .collect();
    Page(
        StatusCode::from_u16(form.status).unwrap_or(StatusCode::BAD_REQUEST),
        pages::render(
            "login.html",
            context! {
                realm => realm, action => format!("/realms/{realm}/login-actions/authenticate"),
                request_id => form.request_id, csrf => form.csrf, organization => form.organization,
                username => form.username, error => form.error, identity_providers => identity_providers,
            },
        ),
    )
}

/// Where a login transaction is handed to an identity provider (Keycloak's
/// `/broker/{alias}/login`).
pub(super) fn broker_login_path(realm: &str, alias: &str, request_id: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("request", request_id);
    format!("/realms/{realm}/broker/{alias}/login?{}", query.finish())
}

/// Sends the browser on to an identity provider's login.
pub(super) fn to_identity_provider(realm: &str, alias: &str, request_id: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            broker_login_path(realm, alias, request_id),
        ))
        .finish()
}

pub(super) fn organization_page(
    realm: &str,
    request_id: &str,
    csrf: &str,
    slug: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    Page(
        status,
        pages::render(
            "organization.html",
            context! {
                realm => realm, action => format!("/realms/{realm}/login-actions/organization"),
                request_id => request_id, csrf => csrf, slug => slug, error => error,
            },
        ),
    )
}

/// A browser request's parameters (query and form together) and its realm, or the error page.
pub(super) async fn browser_request(
    state: &AppState,
    realm_name: &str,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> Result<(RealmRow, HashMap<String, String>), Page> {
    let mut raw = query.into_inner();
    if let Some(form) = form {
        raw.extend(form.into_inner());
    }
    match realm_row(state, realm_name).await {
        Ok(realm) => Ok((realm, raw)),
        Err(_) => Err(error_page(
            realm_name,
            StatusCode::NOT_FOUND,
            "unknown realm",
        )),
    }
}

pub(super) async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let (realm, raw) = match browser_request(&state, &realm_name, query, form).await {
        Ok(found) => found,
        Err(page) => return page.respond(),
    };
    let cookies = BrowserCookies {
        session: session_cookie(&req),
        login: login_cookie(&req),
    };
    let outcome = api::authorize(&state.issuer, &realm, raw, cookies).await;
    let name = realm_name.as_str();
    match outcome {
        Ok(Authorization::LoginForm { form, login_cookie }) => with_login_cookie(
            login_page(name, &form).respond(),
            &state,
            name,
            login_cookie,
        ),
        Ok(Authorization::Upstream {
            request_id,
            alias,
            login_cookie,
        }) => with_login_cookie(
            to_identity_provider(name, &alias, &request_id),
            &state,
            name,
            login_cookie,
        ),
        Ok(Authorization::OrganizationForm {
            request,
            login_cookie,
        }) => with_login_cookie(
            organization_page(
                name,
                &request.id,
                &request.csrf_token,
                "",
                None,
                StatusCode::OK,
            )
            .respond(),
            &state,
            name,
            login_cookie,
        ),
        Ok(Authorization::Code { params, code }) => {
            back_to_client(&state, name, &params, vec![("code".into(), code)])
        }
        Ok(Authorization::Redirect {
            params,
            error,
            description,
        }) => back_to_client(
            &state,
            name,
            &params,
            vec![
                ("error".into(), error.into()),
                ("error_description".into(), description),
            ],
        ),
        Ok(Authorization::Refused { status, message }) => error_page(
            name,
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message,
        )
        .respond(),
        Err(e) => {
            tracing::error!(error = %e, "authorization request failed");
            error_page(
                name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond()
        }
    }
}
