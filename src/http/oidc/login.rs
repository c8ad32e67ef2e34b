//! The login form's actions: `login-actions/authenticate` (local password) and
//! `login-actions/organization` (the slug page). The issuer decides (`issuer::login`); this
//! extracts the form, the browser's login cookie and the client address, and renders.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::authorize::{
    back_to_client, login_cookie, login_page, organization_page, sso_cookie, to_identity_provider,
};
use super::{error_page, realm_row};
use crate::issuer::finish::SignedIn;
use crate::issuer::login::{self, LoginForm, LoginStep, OrganizationForm};
use crate::issuer::OAuthError;
use crate::state::AppState;

/// The address brute-force counters are kept for: the client's, as trusted proxies name it.
fn client_address(state: &AppState, req: &HttpRequest) -> String {
    crate::http::client_address(req, &state.config.server.trusted_proxies).to_string()
}

fn field(form: &HashMap<String, String>, name: &str) -> String {
    form.get(name).cloned().unwrap_or_default()
}

/// Renders what a login action decided.
fn respond(state: &AppState, realm: &str, step: Result<LoginStep, OAuthError>) -> HttpResponse {
    match step {
        Ok(LoginStep::SignedIn(signed_in)) => {
            let SignedIn {
                params,
                code,
                sso_cookie: value,
                ..
            } = *signed_in;
            let mut response = back_to_client(state, realm, &params, vec![("code".into(), code)]);
            let _ = response.add_cookie(&sso_cookie(state, realm, value));
            response
        }
        Ok(LoginStep::Form(form)) => login_page(realm, &form).respond(),
        Ok(LoginStep::Upstream { request_id, alias }) => {
            to_identity_provider(realm, &alias, &request_id)
        }
        Ok(LoginStep::OrganizationForm {
            request_id,
            csrf,
            slug,
            error,
            status,
        }) => organization_page(
            realm,
            &request_id,
            &csrf,
            &slug,
            Some(error),
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        )
        .respond(),
        Ok(LoginStep::Refused { status, message }) => error_page(
            realm,
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message,
        )
        .respond(),
        Err(e) => {
            tracing::error!(error = %e, "login action failed");
            error_page(
                realm,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond()
        }
    }
}

pub(super) async fn login_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let form = form.into_inner();
    let login = LoginForm {
        request: field(&form, "request"),
        csrf: field(&form, "csrf"),
        username: field(&form, "username"),
        password: field(&form, "password"),
        browser: login_cookie(&req),
        address: client_address(&state, &req),
    };
    let step = login::authenticate(&state.issuer, &realm, login).await;
    respond(&state, &realm_name, step)
}

pub(super) async fn organization_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let form = form.into_inner();
    let chosen = OrganizationForm {
        request: field(&form, "request"),
        csrf: field(&form, "csrf"),
        slug: field(&form, "organization"),
        browser: login_cookie(&req),
    };
    let step = login::choose_organization(&state.issuer, &realm, chosen).await;
    respond(&state, &realm_name, step)
}
