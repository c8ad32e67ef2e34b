//! `GET|POST /protocol/openid-connect/logout` (RP-initiated logout, with its confirmation page
//! whose form posts back here) and the account page of the built-in `account` client: who am I,
//! my organizations, my linked identities, and a sign-out form carrying the CSRF token.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;

use super::authorize::{browser_request, cookie_for, session_cookie};
use super::{error_page, html, issuer_of, realm_row};
use crate::federation;
use crate::issuer::api;
use crate::issuer::logout::{self as logouts, LoggedOut, CSRF_FIELD};
use crate::issuer::tokens;
use crate::state::AppState;
use crate::web as pages;

pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    // Only a posted form confirms, never a query: a link or an image must not sign anyone out.
    let confirmation = form.as_ref().and_then(|f| f.get(CSRF_FIELD).cloned());
    let (realm, raw) = match browser_request(&state, &realm_name, query, form).await {
        Ok(found) => found,
        Err(page) => return page.respond(),
    };
    let cookie = session_cookie(&req);
    let outcome =
        federation::logout::logout(&state.federation, &realm, raw, cookie, confirmation).await;
    let mut response = match outcome {
        Ok(LoggedOut::Redirect(url)) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish(),
        Ok(LoggedOut::Page) => html(
            StatusCode::OK,
            pages::render("logged_out.html", context! { realm => realm_name.clone() }),
        ),
        // Nothing ended, so the cookie stays: the form's POST needs it.
        Ok(LoggedOut::Confirm { csrf, fields }) => {
            return html(
                StatusCode::OK,
                pages::render(
                    "logout_confirm.html",
                    context! {
                        realm => realm_name.clone(), action => logout_path(&realm_name),
                        csrf_field => CSRF_FIELD, csrf => csrf, fields => fields,
                    },
                ),
            )
        }
        Ok(LoggedOut::Refused(message)) => {
            return error_page(&realm_name, StatusCode::BAD_REQUEST, message).respond()
        }
        Err(e) => {
            tracing::error!(error = %e, "logout failed");
            return error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong.",
            )
            .respond();
        }
    };
    let _ = response.add_removal_cookie(&cookie_for(&state, &realm_name, String::new(), 0));
    response
}

fn logout_path(realm: &str) -> String {
    format!("/realms/{realm}/protocol/openid-connect/logout")
}

pub(super) async fn account(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let cookie = session_cookie(&req);
    let csrf = cookie.as_deref().map(logouts::csrf_token);
    let shown = api::account(&state.issuer, &realm, cookie).await;
    let shown = match shown {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "the account page failed");
            return error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond();
        }
    };
    match shown {
        Some(me) => {
            let organizations: Vec<_> = me
                .organizations
                .iter()
                .map(|(name, alias)| context! { name => name, alias => alias })
                .collect();
            let identities: Vec<_> = me
                .identities
                .iter()
                .map(|(provider, username)| context! { provider => provider, username => username })
                .collect();
            html(
                StatusCode::OK,
                pages::render(
                    "account.html",
                    context! {
                        realm => realm.name, name => me.name, username => me.username,
                        email => me.email, organizations => organizations, identities => identities,
                        logout => logout_path(&realm.name), csrf_field => CSRF_FIELD, csrf => csrf,
                    },
                ),
            )
        }
        None => {
            // Not signed in: through the built-in `account` client's login, back here.
            let iss = issuer_of(&state, &realm_name);
            let mut url = match url::Url::parse(&format!("{iss}/protocol/openid-connect/auth")) {
                Ok(u) => u,
                Err(_) => {
                    return error_page(
                        &realm_name,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "bad issuer URL",
                    )
                    .respond()
                }
            };
            let challenge = tokens::opaque("");
            url.query_pairs_mut()
                .append_pair("client_id", "account")
                .append_pair("redirect_uri", &format!("{iss}/account"))
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair("code_challenge", &challenge[..43])
                .append_pair("code_challenge_method", "S256");
            HttpResponse::Found()
                .insert_header((header::LOCATION, url.to_string()))
                .finish()
        }
    }
}
